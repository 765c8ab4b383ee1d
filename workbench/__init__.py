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

from typing import TYPE_CHECKING

from . import accessor as _accessor  # noqa: F401  (registers df.wb)
from ._version import __version__
from .agreement import Agreement, agreement, load_labels, save_labels
from .batch import BatchOptions
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
from .monitor import Monitor, monitor_results
from .reliability import PairwiseTask, consistency
from .results import RESULT_COLUMNS
from .resume import resume
from .run import Run
from .specs import AssertionTask, Criterion, JudgeTask, Suite
from .store import Store, delete_run, load_run, runs
from .traces import load_traces

if TYPE_CHECKING:
    from .monitor import alerts as alerts  # loaded on first use (see __getattr__)

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
    "Labeler",
    "MissingDependencyError",
    "Monitor",
    "MonitorView",
    "NotebookError",
    "PairwiseTask",
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
    "consistency",
    "delete_run",
    "estimate",
    "evaluate",
    "evaluate_async",
    "load_dataset",
    "load_labels",
    "load_run",
    "load_traces",
    "monitor_results",
    "resume",
    "runs",
    "save_labels",
]


def __getattr__(name: str) -> object:
    # Workbench is loaded on first use: `import workbench` must not import ipywidgets
    if name == "Workbench":
        from .widgets import Workbench

        return Workbench
    if name == "Labeler":
        from .widgets import Labeler

        return Labeler
    if name == "MonitorView":
        from .widgets import MonitorView

        return MonitorView
    if name == "charts":  # altair too, on first use
        import importlib

        return importlib.import_module(".charts", __name__)
    if name == "alerts":  # wb.alerts.mean_below(...): the rules' pydantic models, on first use
        import importlib

        return importlib.import_module(".monitor.alerts", __name__)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
