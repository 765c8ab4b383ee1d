"""The result vocabulary: column names and dtypes of ``Run.results``. No pandas import.

Example:
    >>> from workbench.results import RESULT_COLUMNS
    >>> RESULT_COLUMNS[:4]
    ('row', 'task', 'criterion', 'kind')
"""

from __future__ import annotations

from typing import Literal

__all__ = ["KINDS", "RESULT_COLUMNS", "RESULT_DTYPES", "STATUSES", "Status"]

Status = Literal["passed", "failed", "error", "skipped", "scored"]
"""What happened to one cell: the check passed, failed, could not be computed, was skipped,
or (for a judge criterion with no threshold) was scored without a pass/fail."""

STATUSES: tuple[Status, ...] = ("passed", "failed", "error", "skipped", "scored")
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
