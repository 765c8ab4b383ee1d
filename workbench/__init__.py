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
from .errors import ColumnsError, DataError, EvaluationError, JudgeParseError, MissingDependencyError, SpecError, WorkbenchError
from .frame import estimate, evaluate, evaluate_async
from .io import load_dataset
from .results import RESULT_COLUMNS
from .run import Run
from .specs import AssertionTask, Criterion, JudgeTask, Suite

__version__ = "0.1.0"

__all__ = [
    "RESULT_COLUMNS",
    "AssertionTask",
    "ColumnsError",
    "Criterion",
    "DataError",
    "EvaluationError",
    "JudgeParseError",
    "JudgeTask",
    "MissingDependencyError",
    "Run",
    "SpecError",
    "Suite",
    "WorkbenchError",
    "__version__",
    "estimate",
    "evaluate",
    "evaluate_async",
    "load_dataset",
]
