"""The result vocabulary: the status of a cell, the cell columns the engine and the judge
runner produce, and the column names and dtypes of ``Run.results``. No pandas import.

Example:
    >>> import numpy as np
    >>> from workbench.results import PASSED, FAILED, SKIPPED, RESULT_COLUMNS, passed_values
    >>> RESULT_COLUMNS[:4]
    ('row', 'task', 'criterion', 'kind')
    >>> values, unknown = passed_values(np.array([PASSED, FAILED, SKIPPED], dtype=np.int8))
    >>> values.tolist(), unknown.tolist()
    ([True, False, False], [False, False, True])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "ERROR",
    "FAILED",
    "KINDS",
    "PASSED",
    "RESULT_COLUMNS",
    "RESULT_DTYPES",
    "SCORED",
    "SKIPPED",
    "STATUSES",
    "SUMMARY_COLUMNS",
    "CellColumns",
    "Status",
    "passed_values",
]

Status = Literal["passed", "failed", "error", "skipped", "scored"]
"""What happened to one cell, as the ``status`` column says it."""

STATUSES: tuple[Status, ...] = ("passed", "failed", "error", "skipped", "scored")
"""Every status, in the order of the integer codes below (the code is the index)."""

PASSED = 0
"""``passed``: the assertion held, or the judge's score met the criterion's threshold."""
FAILED = 1
"""``failed``: the assertion did not hold, or the score fell below the threshold; ``reason`` says why."""
ERROR = 2
"""``error``: no verdict could be computed (a missing path, a wrong type, a failed or unusable
judge call); ``error`` says why, ``score`` stays missing, never 0."""
SKIPPED = 3
"""``skipped``: a gate this task depends on failed or errored at this row; ``reason`` names it."""
SCORED = 4
"""``scored``: a judge gave a valid score (or label) but no threshold applies, so there is
no pass or fail; ``passed`` is missing."""


def passed_values(status: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``passed`` column for status codes: ``(values, unknown)``, where ``unknown`` marks
    the cells whose ``passed`` is missing (errored, skipped or scored)."""
    return status == PASSED, (status == ERROR) | (status == SKIPPED) | (status == SCORED)


@dataclass(eq=False)
class CellColumns:
    """The cells of one (task, criterion) over all evaluated rows, one array per column.

    What the engine and the judge runner produce and :func:`workbench.run.results_frame`
    stacks into ``Run.results``.
    """

    task: str
    criterion: str
    """``""`` for an assertion."""
    kind: str
    """``assertion`` or ``judge``."""
    status: np.ndarray
    """int8 codes: :data:`PASSED`, :data:`FAILED`, :data:`ERROR`, :data:`SKIPPED`, :data:`SCORED`."""
    reason: np.ndarray
    """object array of ``str`` or ``None``."""
    error: np.ndarray
    """object array of ``str`` or ``None``."""
    score: np.ndarray | None = None
    label: np.ndarray | None = None
    cached: np.ndarray | None = None
    tokens: np.ndarray | None = None
    cost_usd: np.ndarray | None = None
    latency_s: np.ndarray | None = None


KINDS: tuple[str, ...] = ("assertion", "judge")

RESULT_COLUMNS: tuple[str, ...] = (
    "row",
    "task",
    "criterion",
    "kind",
    "status",
    "passed",
    "score",
    "label",
    "reason",
    "error",
    "cached",
    "tokens",
    "cost_usd",
    "latency_s",
)
"""Public columns of ``Run.results``, in order: one row per (input row, task, criterion)."""

SUMMARY_COLUMNS: tuple[str, ...] = (
    "task",
    "criterion",
    "kind",
    "n",
    "mean",
    "pass_rate",
    "pass_rate_low",
    "pass_rate_high",
    "passed",
    "failed",
    "errors",
    "skipped",
    "scored",
)
"""Columns of ``Run.summary()``, in order: one row per (task, criterion)."""

RESULT_DTYPES: dict[str, str] = {
    # "row" keeps the dtype of the input's index
    "task": "category",
    "criterion": "category",
    "kind": "category",
    "status": "category",
    "passed": "boolean",
    "score": "Float64",
    "label": "string",
    "reason": "string",
    "error": "string",
    "cached": "bool",
    "tokens": "Int64",
    "cost_usd": "Float64",
    "latency_s": "Float64",
}
"""The pandas dtype of each column (``string`` columns are Arrow-backed where pyarrow is installed)."""
