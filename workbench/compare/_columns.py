"""The columns and names compare writes: nullable floats, (task, criterion) frames, check names.

A *check* is one (task, criterion) pair: a task's criterion for a judge, the task itself
(criterion ``""``) for an assertion. Every other step of compare works on checks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def nullable_float(values: np.ndarray) -> pd.arrays.FloatingArray:
    """A ``Float64`` column from a float array, NaN read as missing.

    Kept missing, not NaN: a mean over no pairs is unknown, and pandas shows it as ``<NA>``
    like every other missing value of the results.

    Example:
        >>> import numpy as np
        >>> nullable_float(np.array([0.5, np.nan])).tolist()
        [0.5, <NA>]
    """
    missing = np.isnan(values)
    return pd.arrays.FloatingArray(np.where(missing, 0.0, values), missing)


def strings(values: Sequence[object] | np.ndarray | pd.Index) -> pd.api.extensions.ExtensionArray:
    """A ``string`` column (``None`` is missing).

    Example:
        >>> strings(["a", None]).tolist()
        ['a', <NA>]
    """
    return pd.array(np.asarray(values, dtype=object), dtype="string")


def check_frame(checks: pd.MultiIndex) -> pd.DataFrame:
    """A frame of ``task, criterion`` string columns, one row per check.

    Example:
        >>> import pandas as pd
        >>> check_frame(pd.MultiIndex.from_tuples([("quality", "tone"), ("short", "")])).to_dict("list")
        {'task': ['quality', 'short'], 'criterion': ['tone', '']}
    """
    return pd.DataFrame(
        {
            "task": strings(checks.get_level_values(0)),
            "criterion": strings(checks.get_level_values(1)),
        }
    )


def check_name(task: str, criterion: str) -> str:
    """How messages and listings name a check: ``task.criterion``, or ``task`` for an assertion.

    Example:
        >>> check_name("quality", "tone"), check_name("short", "")
        ('quality.tone', 'short')
    """
    return f"{task}.{criterion}" if criterion else str(task)


def check_names(checks: pd.DataFrame, limit: int = 12) -> str:
    """The names of the checks of a ``task, criterion`` frame, the first ``limit`` of them.

    Example:
        >>> import pandas as pd
        >>> check_names(pd.DataFrame({"task": ["a", "b", "c"], "criterion": ["x", "", ""]}), limit=2)
        'a.x, b ... +1 more'
    """
    names = [check_name(t, c) for t, c in zip(checks["task"], checks["criterion"])]
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f" ... +{more} more" if more > 0 else "")
