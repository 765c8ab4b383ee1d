"""Which rows people should label first: where the judge is least sure, or where two judge
versions disagree most."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import WorkbenchError, cap_list, did_you_mean
from ..specs import JudgeTask, Suite
from ._consistency import Consistency

__all__ = ["PICKS", "Pick", "rows_to_label"]

Pick = Literal["uncertainty", "disagreement"]
"""How :func:`rows_to_label` orders rows."""

PICKS: tuple[str, ...] = ("uncertainty", "disagreement")
"""The orders :func:`rows_to_label` knows."""

_USABLE = ("passed", "failed", "scored")


def _cells(source: Any, task: str, criterion: str | None, what: str) -> tuple[pd.DataFrame, Suite | None]:
    results = getattr(source, "results", None)
    suite = getattr(source, "suite", None)
    if not isinstance(results, pd.DataFrame):
        if not isinstance(source, pd.DataFrame):
            raise WorkbenchError(
                f"rows_to_label() needs {what} as a wb.Run or its results frame, not {type(source).__name__}"
            )
        results, suite = source, None
    mine = results[results["task"].astype(str) == task]
    if not len(mine):
        have = sorted(set(results["task"].astype(str)))
        raise WorkbenchError(
            f"{what} has no cells of task {task!r}{did_you_mean(task, have)}; its tasks: {cap_list(have)}"
        )
    if criterion is not None:
        mine = mine[mine["criterion"].astype(str) == criterion]
    return mine, suite if isinstance(suite, Suite) else None


def _threshold(suite: Suite | None, task: str, criterion: str) -> float | None:
    if suite is None:
        return None
    t = next((t for t in suite.tasks if t.id == task), None)
    if not isinstance(t, JudgeTask):
        return None
    c = next((c for c in t.criteria if c.name == criterion), None)
    value = c.threshold if c is not None and c.threshold is not None else t.threshold
    return float(value) if isinstance(value, (int, float)) else None


def rows_to_label(
    source: Any,
    task: str,
    criterion: str | None = None,
    *,
    by: Pick = "uncertainty",
    other: Any = None,
) -> list[Any]:
    """The rows of ``source`` ordered for labelling, the most telling first.

    * ``by="uncertainty"``: from a :class:`Consistency` (``wb.consistency``), rows whose
      verdict flipped first, then by the spread of their scores; from a run, rows whose
      score lies closest to the pass threshold first (without a threshold, closest to the
      middle of the scores given). Rows where the judge errored come last.
    * ``by="disagreement"``: ``source`` and ``other`` are two judge versions (runs or their
      results); rows where their pass/fail differs first, then by how far their scores are
      apart. Rows only one of them judged come last.

    Ties keep the run's row order. ``criterion=None`` ranks a row by its most telling criterion.

    Raises:
        WorkbenchError: an unknown ``by``, a missing ``other`` for disagreement, or a source
            without cells of ``task``.

    Example:
        >>> import pandas as pd
        >>> v1 = pd.DataFrame({"row": ["a", "b", "c"], "task": "q", "criterion": "tone",
        ...                    "status": "scored", "passed": None, "score": [1.0, 4.0, 5.0]})
        >>> v2 = v1.assign(score=[1.0, 2.0, 4.0])
        >>> rows_to_label(v1, "q", by="disagreement", other=v2)
        ['b', 'c', 'a']
    """
    if by not in PICKS:
        raise WorkbenchError(
            f"by={by!r} is not an order of rows_to_label(){did_you_mean(by, PICKS)}; use {PICKS}"
        )
    if by == "uncertainty" and isinstance(source, Consistency):
        rows = source.rows[source.rows["task"] == task]
        if criterion is not None:
            rows = rows[rows["criterion"] == criterion]
        flipped = rows["flipped"].fillna(False).to_numpy(dtype=bool)
        sd = rows["sd"].to_numpy(dtype=np.float64, na_value=np.nan)
        key = pd.DataFrame({"row": rows["row"].to_numpy(dtype=object), "k": np.where(flipped, np.inf, sd)})
        return _ranked(key, descending=True)
    cells, suite = _cells(source, task, criterion, "source")
    usable = cells["status"].astype(str).isin(_USABLE).to_numpy()
    score = cells["score"].to_numpy(dtype=np.float64, na_value=np.nan)
    if by == "uncertainty":
        centre = np.array(
            [_threshold(suite, task, str(c)) for c in cells["criterion"].astype(str)], dtype=float
        )
        middle = np.nanmedian(score[usable]) if usable.any() and not np.isnan(score[usable]).all() else np.nan
        centre = np.where(np.isnan(centre), middle, centre)
        distance = np.where(usable, np.abs(score - centre), np.nan)
        key = pd.DataFrame({"row": cells["row"].to_numpy(dtype=object), "k": -distance})
        return _ranked(key, descending=True)
    if other is None:
        raise WorkbenchError("by='disagreement' compares two judge versions: pass other=<the other run>")
    theirs, _ = _cells(other, task, criterion, "other")
    keys = ["row", "criterion"]
    mine = cells.assign(criterion=cells["criterion"].astype(str))[[*keys, "status", "passed", "score"]]
    them = theirs.assign(criterion=theirs["criterion"].astype(str))[[*keys, "status", "passed", "score"]]
    both = mine.merge(them, on=keys, how="left", suffixes=("_a", "_b"), sort=False)
    ok = both["status_a"].astype(str).isin(_USABLE) & both["status_b"].astype(str).isin(_USABLE)
    pa = both["passed_a"].astype("boolean").to_numpy(dtype=np.float64, na_value=np.nan)
    pb = both["passed_b"].astype("boolean").to_numpy(dtype=np.float64, na_value=np.nan)
    gap = np.abs(
        both["score_a"].to_numpy(dtype=np.float64, na_value=np.nan)
        - both["score_b"].to_numpy(dtype=np.float64, na_value=np.nan)
    )
    flip = (pa != pb) & ~np.isnan(pa) & ~np.isnan(pb)
    k = np.where(flip, np.inf, np.nan_to_num(gap, nan=0.0))
    key = pd.DataFrame({"row": both["row"].to_numpy(dtype=object), "k": np.where(ok.to_numpy(), k, np.nan)})
    return _ranked(key, descending=True)


def _ranked(key: pd.DataFrame, descending: bool) -> list[Any]:
    """Rows by their best key (missing keys last), ties in first-appearance order."""
    order = list(dict.fromkeys(key["row"].tolist()))
    best = key.groupby("row", sort=False)["k"].max().reindex(order)
    values = best.to_numpy(dtype=np.float64)
    position = np.arange(len(order))
    missing = np.isnan(values)
    ranked = np.lexsort((position, -np.nan_to_num(values, nan=0.0) if descending else values, missing))
    return [order[i] for i in ranked]
