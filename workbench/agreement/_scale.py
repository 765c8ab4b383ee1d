"""The scale a (task, criterion) is compared on, and the conversion of judge cells and human
labels to numbers on it.

Every value becomes a float ``x`` on the scale: a range score is itself, a mapped label its
score, a plain label its position in the list, ``pass``/``fail`` 1/0. Categories are the
scale's points in order; a human mean between two points belongs to the nearer one (halves
go up), so a mean of three experts' 1-5 ratings is compared on the 1-5 scale."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from ..specs import AssertionTask, Criterion, JudgeTask, Suite

__all__ = ["Scale", "ScaleLevel", "binary_scale", "scale_of"]

ScaleLevel = Literal["ordinal", "interval", "nominal", "binary"]
"""How a criterion's values compare: ordered points (range scores, mapped labels), numbers
without points (a weighted ``overall``, scores without a suite), unordered labels, pass/fail."""

_MAX_POINTS = 101
"""Integer scores found without a suite are an ordinal scale up to this many points."""


@dataclass(frozen=True, kw_only=True)
class Scale:
    """One (task, criterion)'s scale as agreement() uses it."""

    level: ScaleLevel
    names: tuple[str, ...] = ()
    """Category names in scale order (none for ``interval``)."""
    points: np.ndarray = field(default_factory=lambda: np.empty(0))
    """The value ``x`` of each category, ascending."""
    low: float | None = None
    high: float | None = None
    threshold: float | None = None
    """A human value ``x >= threshold`` passes; ``None``: a label's pass/fail is not derived."""
    label_values: dict[str, float] = field(default_factory=dict)
    """Label -> ``x``, for label scales."""
    judge_field: Literal["score", "label", "passed"] = "score"
    """The results column the judge's value is read from."""
    described: str = ""
    """The scale in words, for messages."""

    def category(self, x: np.ndarray) -> np.ndarray:
        """The category index of each value (nearest point, halves up); -1 where ``x`` is NaN."""
        if not len(self.points):
            return np.full(len(x), -1, dtype=np.int64)
        p = self.points
        if len(p) == 1:
            idx = np.zeros(len(x), dtype=np.int64)
        else:
            right = np.clip(np.searchsorted(p, x), 1, len(p) - 1)
            left = right - 1
            # nearer point; a value exactly between two points goes to the upper one
            idx = np.where(x - p[left] < p[right] - x, left, right)
        return np.where(np.isnan(x), -1, idx).astype(np.int64)

    @property
    def ordered(self) -> bool:
        return self.level in ("ordinal", "interval")


def scale_of(
    suite: Suite | None,
    task: str,
    criterion: str,
    kind: str,
    judge: pd.DataFrame,
    human_scores: np.ndarray,
    human_labels: np.ndarray,
) -> Scale:
    """The scale of ``task.criterion``: from the suite when the run has one, else inferred from
    the judge's cells (``score``/``label``/``passed`` of the non-error cells) and the labels."""
    spec = _spec_task(suite, task)
    if isinstance(spec, AssertionTask) or (spec is None and kind == "assertion"):
        return binary_scale("passed")
    if isinstance(spec, JudgeTask):
        match = [c for c in spec.criteria if c.name == criterion]
        if match:
            return _from_criterion(spec, match[0])
        # a weighted 'overall' has no scale of its own: numbers, compared by rank
        return Scale(level="interval", described="numbers")
    return _inferred(judge, human_scores, human_labels)


def _spec_task(suite: Suite | None, task: str) -> AssertionTask | JudgeTask | None:
    if suite is None:
        return None
    for t in suite.tasks:
        if t.id == task:
            return t
    return None


def binary_scale(judge_field: Literal["score", "label", "passed"]) -> Scale:
    """Pass/fail: categories ``fail`` (0) and ``pass`` (1), read from ``judge_field``."""
    return Scale(
        level="binary",
        names=("fail", "pass"),
        points=np.array([0.0, 1.0]),
        low=0.0,
        high=1.0,
        threshold=1.0,
        label_values={"fail": 0.0, "pass": 1.0},
        judge_field=judge_field,
        described="pass/fail",
    )


def _from_criterion(task: JudgeTask, criterion: Criterion) -> Scale:
    from ..judge import effective  # on first use: `import workbench` does not load the judge package

    rc = effective(task, criterion)
    t = rc.threshold
    if rc.kind == "range":
        lo, hi = int(rc.low or 0), int(rc.high or 0)
        return Scale(
            level="ordinal",
            names=tuple(str(v) for v in range(lo, hi + 1)),
            points=np.arange(lo, hi + 1, dtype=np.float64),
            low=float(lo),
            high=float(hi),
            threshold=None if t is None else float(t),
            judge_field="score",
            described=f"scores {lo}..{hi}",
        )
    if rc.kind == "binary":
        return binary_scale("label")
    if rc.kind == "labels":
        labels = rc.labels
        return Scale(
            level="nominal",
            names=labels,
            points=np.arange(len(labels), dtype=np.float64),
            threshold=None if t is None else float(labels.index(str(t))),
            label_values={lab: float(i) for i, lab in enumerate(labels)},
            judge_field="label",
            described=f"labels {list(labels)}",
        )
    # mapping: ordered by score; labels that share a score are one point
    by_score: dict[float, list[str]] = {}
    for lab, s in sorted(zip(rc.labels, rc.scores), key=lambda p: p[1]):
        by_score.setdefault(s, []).append(lab)
    points = np.array(sorted(by_score), dtype=np.float64)
    bar = None if t is None else (rc.scores[rc.labels.index(t)] if isinstance(t, str) else float(t))
    return Scale(
        level="ordinal",
        names=tuple("/".join(by_score[s]) for s in sorted(by_score)),
        points=points,
        low=float(points[0]),
        high=float(points[-1]),
        threshold=bar,
        label_values=dict(zip(rc.labels, rc.scores)),
        judge_field="score",
        described=f"labels {dict(zip(rc.labels, rc.scores))}",
    )


def _inferred(judge: pd.DataFrame, human_scores: np.ndarray, human_labels: np.ndarray) -> Scale:
    score = judge["score"].to_numpy(dtype=np.float64, na_value=np.nan)
    score = score[~np.isnan(score)]
    label = judge["label"].dropna().astype(str).unique() if "label" in judge.columns else np.array([])
    if len(score):
        both = np.concatenate([score, human_scores[~np.isnan(human_scores)]])
        lo, hi = float(np.floor(both.min())), float(np.ceil(both.max()))
        if np.all(score == np.round(score)) and hi - lo + 1 <= _MAX_POINTS:
            return Scale(
                level="ordinal",
                names=tuple(str(int(v)) for v in np.arange(lo, hi + 1)),
                points=np.arange(lo, hi + 1, dtype=np.float64),
                low=lo,
                high=hi,
                judge_field="score",
                described=f"integer scores (found {lo:g}..{hi:g})",
            )
        return Scale(level="interval", judge_field="score", described="numbers")
    if len(label):
        names = sorted(set(label) | {str(x) for x in human_labels if not pd.isna(x)})
        if set(names) <= {"fail", "pass"}:
            return binary_scale("label")
        return Scale(
            level="nominal",
            names=tuple(names),
            points=np.arange(len(names), dtype=np.float64),
            label_values={lab: float(i) for i, lab in enumerate(names)},
            judge_field="label",
            described=f"labels {names}",
        )
    return binary_scale("passed")
