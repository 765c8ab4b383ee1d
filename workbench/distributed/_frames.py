"""Telling a Dask DataFrame apart without importing Dask.

Example:
    >>> import pandas as pd
    >>> is_dask_frame(pd.DataFrame({"x": [1]}))
    False
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["import_dask", "is_dask_frame"]


def is_dask_frame(obj: Any) -> bool:
    """Whether ``obj`` is a ``dask.dataframe.DataFrame`` (Dask is never imported to tell).

    Example:
        >>> is_dask_frame([1, 2])
        False
    """
    if "dask.dataframe" not in sys.modules:
        return False  # no Dask DataFrame can exist before dask.dataframe is imported
    import dask.dataframe as dd

    return isinstance(obj, dd.DataFrame)


def import_dask() -> tuple[Any, Any]:
    """``(dask.dataframe, distributed)``, or an error naming the install.

    Raises:
        MissingDependencyError: Dask or distributed is not installed.

    Example:
        >>> dd, distributed = import_dask()
        >>> hasattr(dd, "from_pandas"), hasattr(distributed, "Client")
        (True, True)
    """
    from ..errors import MissingDependencyError

    try:
        import dask.dataframe as dd
        import distributed
    except ImportError as e:
        raise MissingDependencyError(
            f"evaluating a Dask DataFrame needs dask[dataframe] and distributed ({e}): "
            "pip install 'workbench[dask]'"
        ) from e
    return dd, distributed
