"""``df.wb``: thin, stateless sugar over :mod:`workbench.frame`, for pandas DataFrames and for
Dask DataFrames (``ddf.wb.evaluate(suite)`` evaluates on the Dask cluster).

The Dask accessor is registered when ``dask.dataframe`` is imported, whether before or after
``workbench``: ``import workbench`` never imports Dask itself.

Example:
    >>> import pandas as pd, workbench as wb
    >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="gt", expected=0)])
    >>> pd.DataFrame({"x": [1, -1]}).wb.evaluate(suite).results["passed"].tolist()
    [True, False]
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
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


def _register_dask() -> None:
    """``ddf.wb``, the same accessor for Dask DataFrames (``wb.evaluate`` dispatches on the frame)."""
    from dask.dataframe.extensions import register_dataframe_accessor

    register: Any = register_dataframe_accessor  # untyped
    register("wb")(WorkbenchAccessor)


class _AfterDask(importlib.abc.MetaPathFinder):
    """Registers the Dask accessor right after ``dask.dataframe`` is first imported, so Dask
    costs nothing to a user who never imports it."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "dask.dataframe":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            _register_dask()

        # on purpose: this one loader instance runs the registration after dask.dataframe loads
        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if "dask.dataframe" in sys.modules:
    _register_dask()
elif not any(isinstance(f, _AfterDask) for f in sys.meta_path):
    sys.meta_path.insert(0, _AfterDask())
