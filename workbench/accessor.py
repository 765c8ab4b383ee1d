"""``df.wb``: thin, stateless sugar over :mod:`workbench.frame`.

Example:
    >>> import pandas as pd, workbench as wb
    >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="gt", expected=0)])
    >>> pd.DataFrame({"x": [1, -1]}).wb.evaluate(suite).results["passed"].tolist()
    [True, False]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from . import frame
from .run import Run
from .specs import Suite


@pd.api.extensions.register_dataframe_accessor("wb")
class WorkbenchAccessor:
    """Evaluate a DataFrame in place of ``wb.evaluate(df, ...)``."""

    def __init__(self, df: pd.DataFrame) -> None:
        self._obj = df

    def evaluate(self, suite: Suite | str | Path, **kwargs: Any) -> Run:
        """Same as :func:`workbench.evaluate` with this DataFrame first."""
        return frame.evaluate(self._obj, suite, **kwargs)
