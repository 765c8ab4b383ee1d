"""workbench: evaluate LLM applications from a pandas DataFrame, in a notebook.

Example:
    >>> import pandas as pd, workbench as wb
    >>> df = pd.DataFrame({"answer": ["Paris is the capital of France.", ""]})
    >>> suite = wb.Suite(name="demo", version="v1", tasks=[
    ...     wb.AssertionTask(id="not_empty", path="answer", op="is_not_empty"),
    ... ])
    >>> wb.evaluate(df, suite).summary()[["task", "passed", "failed"]]
            task  passed  failed
    0  not_empty       1       1
"""

from __future__ import annotations

from . import accessor as _accessor  # noqa: F401  (registers df.wb)
from ._version import __version__
from .agreement import Agreement, agreement
from .batch import BatchOptions, resume
from .compare import Comparison, compare
from .config import JudgeConfig
from .errors import (
    AgreementError,
    ColumnsError,
    CompareError,
    ConfigError,
    DataError,
    EvaluationError,
    JudgeParseError,
    MissingDependencyError,
    NotebookError,
    ReportError,
    SpecError,
    SpecWarning,
    StoreError,
    StoreWarning,
    UnknownRunError,
    UnknownTaskError,
    WorkbenchError,
)
from .frame import estimate, evaluate, evaluate_async
from .io import load_dataset
from .results import RESULT_COLUMNS
from .run import Run
from .specs import AssertionTask, Criterion, JudgeTask, Suite
from .store import Store, delete_run, load_run, runs

__all__ = [
    "RESULT_COLUMNS",
    "Agreement",
    "AgreementError",
    "AssertionTask",
    "BatchOptions",
    "ColumnsError",
    "CompareError",
    "Comparison",
    "ConfigError",
    "Criterion",
    "DataError",
    "EvaluationError",
    "JudgeConfig",
    "JudgeParseError",
    "JudgeTask",
    "MissingDependencyError",
    "NotebookError",
    "ReportError",
    "Run",
    "SpecError",
    "SpecWarning",
    "Store",
    "StoreError",
    "StoreWarning",
    "Suite",
    "UnknownRunError",
    "UnknownTaskError",
    "Workbench",
    "WorkbenchError",
    "__version__",
    "agreement",
    "compare",
    "delete_run",
    "estimate",
    "evaluate",
    "evaluate_async",
    "load_dataset",
    "load_run",
    "resume",
    "runs",
]


def __getattr__(name: str) -> object:
    # Workbench is loaded on first use: `import workbench` must not import ipywidgets
    if name == "Workbench":
        from .widgets import Workbench

        return Workbench
    if name == "charts":  # altair too, on first use
        import importlib

        return importlib.import_module(".charts", __name__)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
