"""The effective scale of a judge criterion: :class:`ResolvedCriterion` and :func:`effective`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from operator import is_
from typing import Literal, cast

from ..errors import SpecError
from ..specs import Criterion, JudgeTask, check_threshold

ScaleKind = Literal["range", "binary", "labels", "mapping"]
"""How a criterion is scored: an integer range, pass/fail, ordered labels, or labels with scores."""

_BINARY = ("fail", "pass")


def _num(x: float) -> str:
    """``4.0`` -> ``'4'``, ``0.5`` -> ``'0.5'``: numbers as a person writes them."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def labels_text(labels: Sequence[str]) -> str:
    return ", ".join(json.dumps(label, ensure_ascii=False) for label in labels)


# --- the effective scale of a criterion ------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ResolvedCriterion:
    """A criterion with the task's defaults applied: what the judge is asked, and how to score it.

    Semantics by ``kind``:

    * ``range`` (``scale=(lo, hi)``): the judge returns an integer ``score`` in ``[lo, hi]``;
      ``passed = score >= threshold`` when a threshold is set, else ``None``.
    * ``binary``: the judge returns the label ``"pass"`` or ``"fail"``; score ``1.0``/``0.0``;
      ``passed = label == "pass"``.
    * ``labels`` (a list, worst to best): the judge returns one label; there is no score (a
      label's position is not a measurement); ``passed`` compares ranks with a threshold label.
    * ``mapping`` (``{label: score}``): the judge returns a label; its score is the mapped
      value; ``passed = score >= threshold``, or ``>=`` the threshold label's score.

    Example:
        >>> rc = ResolvedCriterion(name="tone", description="Polite.", kind="labels",
        ...                        labels=("rude", "neutral", "warm"), threshold="neutral")
        >>> rc.passed(None, "warm"), rc.passed(None, "rude")
        (True, False)
    """

    name: str
    """The criterion's name: its key in the verdict."""
    description: str
    """What the judge looks for."""
    kind: ScaleKind
    """Which of the four scale kinds applies."""
    low: int | None = None
    """Lowest score of a ``range`` scale."""
    high: int | None = None
    """Highest score of a ``range`` scale."""
    labels: tuple[str, ...] = ()
    """The allowed labels (``binary``: ``("fail", "pass")``; ``mapping``: in declared order)."""
    scores: tuple[float, ...] = ()
    """For ``mapping``: the score of each label, parallel to ``labels``."""
    threshold: float | str | None = None
    """The pass threshold after the task's default applies, or ``None``."""
    examples: tuple[str, ...] = ()
    """Worked examples shown to the judge."""
    weight: float = 1.0
    """Weight in the task's ``overall`` score."""

    @property
    def field(self) -> Literal["score", "label"]:
        """The key the judge fills: ``score`` for ranges, ``label`` otherwise."""
        return "score" if self.kind == "range" else "label"

    def anchors(self) -> str:
        """The scale described for the judge.

        Example:
            >>> ResolvedCriterion(name="a", description="", kind="range", low=1, high=5).anchors()
            'integer scores, 1 = the worst, 5 = the best; use the whole range'
            >>> ResolvedCriterion(name="a", description="", kind="binary", labels=("fail", "pass")).anchors()
            'the label "pass" when the criterion is met, "fail" when it is not'
        """
        if self.kind == "range":
            return f"integer scores, {self.low} = the worst, {self.high} = the best; use the whole range"
        if self.kind == "binary":
            return 'the label "pass" when the criterion is met, "fail" when it is not'
        if self.kind == "labels":
            return f"one label, from worst to best: {labels_text(self.labels)}"
        ranked = sorted(zip(self.labels, self.scores), key=lambda p: p[1])
        shown = ", ".join(f"{json.dumps(lab, ensure_ascii=False)} (= {_num(s)})" for lab, s in ranked)
        return f"one label, from worst to best: {shown}"

    def pass_rule(self) -> str | None:
        """What passes, for the judge; ``None`` without a threshold (and for binary: "pass" does).

        Example:
            >>> rc = ResolvedCriterion(name="a", description="", kind="range", low=1, high=5, threshold=4)
            >>> rc.pass_rule()
            'a score of 4 or more'
        """
        t = self.threshold
        if t is None or self.kind == "binary":
            return None
        if isinstance(t, str):
            return f"{json.dumps(t, ensure_ascii=False)} or better"
        if self.kind == "mapping":
            return f"a label worth {_num(t)} or more"
        return f"a score of {_num(t)} or more"

    def score_of(self, value: int | float | str) -> float | None:
        """The numeric score of a validated score or label (``None`` for a ``labels`` scale).

        Raises:
            ValueError: ``value`` is not one of this criterion's labels.

        Example:
            >>> rc = ResolvedCriterion(name="a", description="", kind="mapping",
            ...                        labels=("bad", "good"), scores=(0.0, 1.0))
            >>> rc.score_of("good")
            1.0
        """
        if self.kind == "range":
            return float(value)
        if self.kind == "labels":
            return None
        if value not in self.labels:
            raise ValueError(f"{value!r} is not one of the labels {list(self.labels)}")
        if self.kind == "binary":
            return 1.0 if value == "pass" else 0.0
        return self.scores[self.labels.index(str(value))]

    def passed(self, score: float | None, label: str | None) -> bool | None:
        """Whether a validated verdict passes; ``None`` when no threshold makes it pass/fail.

        Example:
            >>> rc = ResolvedCriterion(name="a", description="", kind="range", low=1, high=5, threshold=4)
            >>> rc.passed(4.0, None), rc.passed(3.0, None)
            (True, False)
        """
        if self.kind == "binary":
            return None if label is None else label == "pass"
        t = self.threshold
        if t is None:
            return None
        if self.kind == "labels":
            if label is None:
                return None
            return self.labels.index(label) >= self.labels.index(str(t))
        if score is None:
            return None
        if isinstance(t, str):  # a mapping's threshold label: its score is the bar
            return score >= self.scores[self.labels.index(t)]
        return score >= float(t)


def effective(task: JudgeTask, criterion: Criterion) -> ResolvedCriterion:
    """Resolve a criterion's scale and threshold against its task's defaults.

    The criterion's own ``scale`` wins over the task's. Its own ``threshold`` wins too;
    otherwise the task's threshold applies, unless the criterion has a scale of its own that
    differs from the task's (a threshold only means something on the scale it was set for).

    Raises:
        SpecError: the resulting threshold does not fit the resulting scale (e.g. a
            criterion threshold of 7 under a task scale of 1..5).

    Example:
        >>> task = JudgeTask(id="q", prompt="${a}", scale=(1, 10), threshold=7, criteria=[
        ...     Criterion(name="x", description="X."),
        ...     Criterion(name="y", description="Y.", scale="binary")])
        >>> effective(task, task.criteria[0]).threshold, effective(task, task.criteria[1]).threshold
        (7.0, None)
    """
    own = criterion.scale is not None
    scale = criterion.scale if criterion.scale is not None else task.scale
    threshold: float | str | None
    if criterion.threshold is not None:
        threshold = criterion.threshold
    elif not own or criterion.scale == task.scale:
        threshold = task.threshold
    else:
        threshold = None
    try:
        check_threshold(threshold, scale)
    except ValueError as e:
        raise SpecError(f"criterion {criterion.name!r} of task {task.id!r}: {e}") from None
    name, description, examples, weight = (
        criterion.name,
        criterion.description,
        tuple(criterion.examples),
        criterion.weight,
    )
    if isinstance(scale, (tuple, list)) and len(scale) == 2 and all(type(v) is int for v in scale):
        low, high = scale
        assert isinstance(low, int) and isinstance(high, int)
        return ResolvedCriterion(
            name=name,
            description=description,
            threshold=threshold,
            examples=examples,
            weight=weight,
            kind="range",
            low=low,
            high=high,
        )
    if scale == "binary":
        labels: tuple[str, ...] = _BINARY
        kind: ScaleKind = "binary"
        scores: tuple[float, ...] = ()
    elif isinstance(scale, dict):
        labels, kind, scores = tuple(scale), "mapping", tuple(float(v) for v in scale.values())
    else:
        labels, kind, scores = tuple(cast("list[str]", scale)), "labels", ()
    return ResolvedCriterion(
        name=name,
        description=description,
        threshold=threshold,
        examples=examples,
        weight=weight,
        kind=kind,
        labels=labels,
        scores=scores,
    )


_RESOLVED: dict[tuple[int, ...], tuple[JudgeTask, tuple[Criterion, ...], tuple[ResolvedCriterion, ...]]] = {}


def resolve_criteria(task: JudgeTask, criteria: Sequence[Criterion]) -> tuple[ResolvedCriterion, ...]:
    # keyed by identity: specs are frozen, and a run resolves the same objects once per cell,
    # so this saves microseconds that add up over a cached rerun of many rows
    key = (id(task), *map(id, criteria))
    hit = _RESOLVED.get(key)
    if hit is not None and hit[0] is task and all(map(is_, hit[1], criteria)):
        return hit[2]
    if not criteria:
        raise ValueError(f"judge task {task.id!r}: a judge call needs at least one criterion")
    resolved = tuple(effective(task, c) for c in criteria)
    if len(_RESOLVED) >= 4096:
        _RESOLVED.clear()
    _RESOLVED[key] = (task, tuple(criteria), resolved)  # holding them keeps their ids unique
    return resolved
