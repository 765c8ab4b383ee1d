"""One side of a comparison: the results frame it names, and its cells as arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ColumnsError, CompareError, cap_list, did_you_mean
from ..results import STATUSES

REQUIRED_COLUMNS: tuple[str, ...] = ("row", "task", "criterion", "status", "passed", "score")
"""Columns a results frame needs for :func:`compare`; ``kind`` and ``reason`` are used when present."""

COUNTED_STATUSES: tuple[str, ...] = ("passed", "failed", "scored")
"""Statuses whose cells enter the statistics; an ``error`` or ``skipped`` cell is excluded."""


def resolve_side(value: Any, side: str, default_name: str, store: Any) -> tuple[pd.DataFrame, str]:
    """The results frame and the name of one side: a run, a results frame, or a run id or
    label loaded from ``store``.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
        >>> run = wb.evaluate(pd.DataFrame({"x": [1]}), suite, label="baseline")
        >>> results, name = resolve_side(run, "a", "A", None)
        >>> name, len(results), resolve_side(run.results, "b", "B", None)[1]
        ('baseline', 1, 'B')
    """
    if isinstance(value, str):
        from ..store import load_run

        value = load_run(value, store=store)
    results = getattr(value, "results", None)
    if isinstance(results, pd.DataFrame) and not isinstance(value, pd.DataFrame):
        name = getattr(value, "label", None) or getattr(value, "id", None) or default_name
        frame = results
    elif isinstance(value, pd.DataFrame):
        name, frame = default_name, value
    else:
        raise CompareError(
            f"compare() cannot use {side} of type {type(value).__name__}: pass a wb.Run, its .results "
            "DataFrame, or a run id or label saved in the store."
        )
    columns = [str(c) for c in frame.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        hints = "".join(did_you_mean(m, columns) for m in missing)
        raise ColumnsError(
            f"compare(): the results frame given as {side} lacks the columns {cap_list(missing)}{hints}. "
            f"It has {cap_list(columns)}; pass run.results (or a frame with "
            f"the columns of wb.RESULT_COLUMNS)."
        )
    return frame, str(name)


def label_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of a column's values and the labels they stand for, as text; a missing
    value gets the last code, whose label is ``""``. Categoricals keep their codes (no hashing).

    Example:
        >>> import pandas as pd
        >>> codes, labels = label_codes(pd.Series(["b", "a", None, "b"]))
        >>> codes.tolist(), labels.tolist()
        ([0, 1, 2, 0], ['b', 'a', ''])
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes, labels = column.cat.codes.to_numpy().astype(np.int64), column.cat.categories
    else:
        codes, labels = pd.factorize(column)
    text = np.append(np.asarray(pd.Index(labels).astype(str), dtype=object), "")
    return np.where(codes < 0, len(text) - 1, codes), text


def first_appearance(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct codes in order of first appearance, where each first appears, and for
    every element the position of its code in that order.

    Example:
        >>> import numpy as np
        >>> distinct, first_at, rank = first_appearance(np.array([7, 3, 7, 5]))
        >>> distinct.tolist(), first_at.tolist(), rank.tolist()
        ([7, 3, 5], [0, 1, 3], [0, 1, 0, 2])
    """
    distinct, first_at, inverse = np.unique(codes, return_index=True, return_inverse=True)
    order = np.argsort(first_at, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return distinct[order], first_at[order], rank[inverse.ravel()]


def as_floats(column: pd.Series, side: str) -> np.ndarray:
    """A numeric or boolean column as float64 (True is 1.0), missing as NaN."""
    try:
        return np.asarray(column.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan))
    except (TypeError, ValueError) as e:
        raise ColumnsError(
            f"compare(): column {column.name!r} of {side} must hold numbers or booleans: {e}"
        ) from None


@dataclass(frozen=True)
class SideCells:
    """One side's cells as arrays: one element per row of its results frame, except
    ``checks`` and ``check_kind``, which have one per check."""

    checks: pd.MultiIndex
    """The distinct (task, criterion) checks, in order of first appearance."""
    check_of_cell: np.ndarray
    """Position in ``checks`` of each cell's check."""
    check_kind: np.ndarray
    """The ``kind`` of each check (of its first cell), ``""`` without a ``kind`` column."""
    counted: np.ndarray
    """Whether each cell's status is one of :data:`COUNTED_STATUSES`."""
    passed: np.ndarray
    """Each cell's ``passed`` as 1.0 / 0.0, NaN when missing."""
    score: np.ndarray
    """Each cell's ``score``, NaN when missing."""


def read_cells(results: pd.DataFrame, side: str) -> SideCells:
    """The cells of a results frame as arrays, its statuses checked against the vocabulary.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
        >>> cells = read_cells(wb.evaluate(pd.DataFrame({"x": [1, -1]}), suite).results, "a")
        >>> list(cells.checks), cells.passed.tolist(), cells.counted.tolist()
        ([('pos', '')], [1.0, 0.0], [True, True])
    """
    status_codes, status_labels = label_codes(results["status"])
    unknown = sorted(set(status_labels[np.unique(status_codes)]) - set(STATUSES))
    if unknown:
        raise CompareError(
            f"compare(): the results frame given as {side} has unknown statuses {cap_list(unknown)}"
            f"{did_you_mean(unknown[0], STATUSES)}; allowed: {cap_list(list(STATUSES))}."
        )
    task_codes, task_labels = label_codes(results["task"])
    criterion_codes, criterion_labels = label_codes(results["criterion"])
    n_criteria = len(criterion_labels)
    check_codes, first_cell, check_of_cell = first_appearance(task_codes * n_criteria + criterion_codes)
    checks = pd.MultiIndex.from_arrays(
        [task_labels[check_codes // n_criteria], criterion_labels[check_codes % n_criteria]],
        names=["task", "criterion"],
    )
    if "kind" in results.columns:
        kind_codes, kind_labels = label_codes(results["kind"])
        check_kind = kind_labels[kind_codes[first_cell]]
    else:
        check_kind = np.full(len(check_codes), "", dtype=object)
    return SideCells(
        checks=checks,
        check_of_cell=check_of_cell,
        check_kind=check_kind,
        counted=np.isin(status_labels, COUNTED_STATUSES)[status_codes],
        passed=as_floats(results["passed"], side),
        score=as_floats(results["score"], side),
    )
