"""Alert rules: the models ``wb.alerts.mean_below("quality.accuracy", 3.5)`` and its siblings
(:mod:`._factories`) build, checked when built, and how each judges a rolling window of
per-record tallies.

A rule looks at one **target**: ``"task"`` (every criterion of a task), ``"task.criterion"``
(a trailing ``.score`` is accepted, as paths write it), ``"*"`` (every cell: only for the error
rate) or a **metric** of the record: ``record_latency_s`` (the application's latency, when
the record carried one), ``latency_s`` (its slowest judge cell), ``cost_usd`` and ``tokens``
(summed over its cells). Each record is reduced to one tally per target (cells,
errors, passed, decided, scores and one value); windows are pooled over the tallies of the
last ``n`` records observed that have the target, or of those whose time lies within a span
before the newest time observed.

Pure: no I/O, no store; :mod:`workbench.monitor._alerts` keeps the state.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Discriminator, Field, field_validator

from ._tally import ALL, METRICS, Tallies, Verdict, Verdicts, span_text

__all__ = [
    "RULE_TYPES",
    "TIME_WINDOW_MIN_RECORDS",
    "ErrorRateAbove",
    "MeanBelow",
    "PassRateBelow",
    "Rule",
    "ZScore",
]

TIME_WINDOW_MIN_RECORDS = 10
"""The fewest records a time window must hold before its rule is judged, unless ``min_records``
says otherwise: at night two records in ten minutes, one failing, are no 50% pass rate."""

_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*"
_TARGET = re.compile(rf"^({_NAME})(?:\.({_NAME}))?$")


def _n(count: float, word: str) -> str:
    return f"{count:.0f} {word}" + ("" if count == 1 else "s")


def _micros(span: timedelta) -> int:
    return (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds


def _window(value: Any) -> Any:
    """A window from what a user writes: an int (records), a ``timedelta``, or a pandas
    offset string (``"10min"``, ``"2h"``)."""
    if isinstance(value, str):
        try:
            return pd.Timedelta(value).to_pytimedelta()
        except ValueError:
            raise ValueError(
                f"window={value!r} is neither a number of records nor a time span; write e.g. "
                "window=50 (the last 50 records) or window='10min' (the last 10 minutes)"
            ) from None
    if isinstance(value, pd.Timedelta):
        return value.to_pytimedelta()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _target(value: Any, *, metrics: bool, everything: bool = False) -> Any:
    if not isinstance(value, str):
        return value
    if value.endswith(".score") and value.count(".") == 2:
        value = value[: -len(".score")]
    if value == ALL and everything:
        return value
    if value in METRICS:
        if not metrics:
            raise ValueError(
                f"target {value!r} is a per-record metric; watch it with "
                f"wb.alerts.zscore({value!r}, k=2, n=100)"
            )
        return value
    if not _TARGET.match(value):
        kinds = "'task', 'task.criterion'" + (f" or a metric {sorted(METRICS)}" if metrics else "")
        raise ValueError(f"target {value!r} is not a task target: write {kinds}, e.g. 'quality.accuracy'")
    return value


# --- the rules --------------------------------------------------------------------------


class _RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    id: str | None = None
    """A name for the rule in alerts and in the store (default: its description, e.g.
    ``mean_below(quality.accuracy, 3.5, window=50)``). Its state is kept under this name, so
    two processes with the same rule share one incident."""
    min_records: int | None = Field(default=None, ge=1)
    """The fewest records a window must hold before the rule is judged (default: the whole
    window for a count, :data:`TIME_WINDOW_MIN_RECORDS` for a time span)."""

    @property
    def rule_id(self) -> str:
        """The rule's name in alerts and in the store."""
        return self.id or self.describe()

    @property
    def target_key(self) -> str:
        """What the rule's tallies are kept under."""
        target = getattr(self, "target", None)
        return target if isinstance(target, str) else ALL

    def describe(self) -> str:
        raise NotImplementedError

    def window_text(self) -> str:
        raise NotImplementedError

    def context(self) -> tuple[int, int | None, bool]:
        """What must be read before the first new record: ``(records, span in µs or None,
        only records with a value)``."""
        raise NotImplementedError

    def judge(self, t: Tallies, points: np.ndarray) -> Verdicts:
        raise NotImplementedError

    def offenders(self, t: Tallies, v: Verdict) -> list[str]:
        raise NotImplementedError

    def message(self, t: Tallies, v: Verdict, firing: bool) -> str:
        raise NotImplementedError


Offence = Literal["below", "failed", "errored"]
"""What makes a record one of those that raised a windowed rule: its score is below the bound,
a cell of it failed, or one errored."""


class _Windowed(_RuleBase):
    offends: ClassVar[Offence]
    bound: float
    """The bound the window's value is compared with."""
    window: int | timedelta = 50
    """The last ``n`` records observed (an int), or the records whose ``time`` lies within a
    span (a ``timedelta`` or a string such as ``"10min"``) before the newest time observed."""

    _check_window = field_validator("window", mode="before")(_window)

    @field_validator("window")
    @classmethod
    def _positive(cls, value: int | timedelta) -> int | timedelta:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"window={value} must hold at least 1 record")
        if isinstance(value, timedelta) and value <= timedelta(0):
            raise ValueError(f"window={span_text(value)} must be a positive time span")
        return value

    def _min(self) -> int:
        if self.min_records is not None:
            return (
                self.min_records if isinstance(self.window, timedelta) else min(self.min_records, self.window)
            )
        return self.window if isinstance(self.window, int) else TIME_WINDOW_MIN_RECORDS

    def window_text(self) -> str:
        if isinstance(self.window, int):
            return "the last record" if self.window == 1 else f"the last {self.window} records"
        return f"the last {span_text(self.window)}"

    def _args(self) -> str:
        w = self.window if isinstance(self.window, int) else span_text(self.window)
        return f"{self.bound:g}, window={w}"

    def context(self) -> tuple[int, int | None, bool]:
        if isinstance(self.window, int):
            return self.window, None, False
        return 0, _micros(self.window), False

    def _stay(self, t: Tallies) -> tuple[np.ndarray, np.ndarray]:
        """For a time window: the positions from which (``entry``) and until which, not
        included (``exit``), each entry is in the window of a point of the batch. A window
        ends at the newest time observed then, so an entry leaves at the first point whose
        window starts at or after its time; it enters at its own position (or the batch's)."""
        assert isinstance(self.window, timedelta)
        start = int(np.argmax(t.new)) if t.new.any() else len(t.new)
        lows = t.watermark[start:] - _micros(self.window)  # never decreasing: the batch goes by time
        entry = np.maximum(np.arange(len(t.time)), start)
        exit = start + np.searchsorted(lows, t.time, side="left")
        return entry, exit

    def _members(self, t: Tallies, position: int) -> np.ndarray:
        """The entries in the window of the point at ``position``."""
        if isinstance(self.window, int):
            inside = np.zeros(len(t.time), dtype=bool)
            inside[max(0, position - self.window + 1) : position + 1] = True
            return inside
        entry, exit = self._stay(t)
        return np.asarray((entry <= position) & (exit > position), dtype=bool)

    def _pooled(self, t: Tallies, points: np.ndarray, num: np.ndarray, den: np.ndarray) -> Verdicts:
        if isinstance(self.window, int):
            first = np.maximum(points - self.window + 1, 0)
            count = points - first + 1
            sums = [np.concatenate([[0.0], np.cumsum(a, dtype=np.float64)]) for a in (num, den)]
            n = sums[0][points + 1] - sums[0][first]
            d = sums[1][points + 1] - sums[1][first]
        else:
            entry, exit = self._stay(t)
            staying = exit > entry

            def window_sums(a: np.ndarray) -> np.ndarray:
                # each entry counts from its entry to its exit: a difference array, summed up
                diff = np.zeros(len(a) + 1)
                np.add.at(diff, entry[staying], a[staying])
                np.add.at(diff, exit[staying], -a[staying])
                return np.asarray(np.cumsum(diff)[points], dtype=np.float64)

            n, d, count = window_sums(num * 1.0), window_sums(den * 1.0), window_sums(t.weight * 1.0)
            first = np.full(len(points), -1)
        judged = (count >= self._min()) & (d > 0)
        value = np.divide(n, d, out=np.full(len(n), np.nan), where=judged)
        breached = self._breached(value)
        out = Verdicts(
            position=points, breached=breached, value=value, first=first, count=count, num=n, den=d
        )
        return out.kept(judged)

    def _breached(self, value: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _window_records(self, t: Tallies, v: Verdict, mask: np.ndarray) -> list[str]:
        return [str(r) for r in t.record[self._members(t, v.position) & mask & t.real]]


class MeanBelow(_Windowed):
    """The mean score of a judge task (or of one criterion) over a window falls below a bound.

    Build it with :func:`mean_below`.
    """

    kind: Literal["mean_below"] = "mean_below"
    target: str
    """``"task.criterion"``, or ``"task"`` for the scores of all its criteria pooled."""

    _check_target = field_validator("target", mode="before")(lambda v: _target(v, metrics=False))

    offends: ClassVar[Offence] = "below"

    def describe(self) -> str:
        return f"mean_below({self.target}, {self._args()})"

    def _breached(self, value: np.ndarray) -> np.ndarray:
        return value < self.bound

    def judge(self, t: Tallies, points: np.ndarray) -> Verdicts:
        return self._pooled(t, points, t.score_sum, t.scored)

    def offenders(self, t: Tallies, v: Verdict) -> list[str]:
        return self._window_records(t, v, t.value < self.bound)  # NaN (no score) is no offender

    def message(self, t: Tallies, v: Verdict, firing: bool) -> str:
        what = (
            f"mean score of {self.target} over {self.window_text()} "
            f"({_n(v.count, 'record')}, {_n(v.den, 'score')})"
        )
        if firing:
            return f"{what} is {v.value:.3g}, below {self.bound:g}"
        return f"{what} is back to {v.value:.3g}, not below {self.bound:g}"


class PassRateBelow(_Windowed):
    """The share of a task's decided cells that passed, over a window, falls below a bound.

    Errors, skips and scores without a threshold decide nothing (an unreachable judge is an
    error rate, never a pass rate of 0). Build it with :func:`pass_rate_below`.
    """

    kind: Literal["pass_rate_below"] = "pass_rate_below"
    target: str
    """``"task"`` or ``"task.criterion"``."""
    bound: float = Field(ge=0, le=1)
    """The pass rate (0 to 1) below which the rule fires."""

    _check_target = field_validator("target", mode="before")(lambda v: _target(v, metrics=False))

    offends: ClassVar[Offence] = "failed"

    def describe(self) -> str:
        return f"pass_rate_below({self.target}, {self._args()})"

    def _breached(self, value: np.ndarray) -> np.ndarray:
        return value < self.bound

    def judge(self, t: Tallies, points: np.ndarray) -> Verdicts:
        return self._pooled(t, points, t.passed, t.decided)

    def offenders(self, t: Tallies, v: Verdict) -> list[str]:
        return self._window_records(t, v, t.decided > t.passed)

    def message(self, t: Tallies, v: Verdict, firing: bool) -> str:
        what = (
            f"pass rate of {self.target} over {self.window_text()} ({v.num:.0f} of {_n(v.den, 'cell')} "
            f"passed, {_n(v.count, 'record')})"
        )
        if firing:
            return f"{what} is {v.value:.1%}, below {self.bound:.1%}"
        return f"{what} is back to {v.value:.1%}, not below {self.bound:.1%}"


class ErrorRateAbove(_Windowed):
    """The share of evaluated cells that errored (a failed judge call, a missing path), over a
    window, rises above a bound. Build it with :func:`error_rate_above`."""

    kind: Literal["error_rate_above"] = "error_rate_above"
    target: str = ALL
    """``"*"`` (every cell), ``"task"`` or ``"task.criterion"``."""
    bound: float = Field(ge=0, le=1)
    """The error rate (0 to 1) above which the rule fires."""
    window: int | timedelta = 100

    _check_target = field_validator("target", mode="before")(
        lambda v: _target(v, metrics=False, everything=True)
    )

    offends: ClassVar[Offence] = "errored"

    def describe(self) -> str:
        return (
            f"error_rate_above({self._args()}"
            + ("" if self.target == ALL else f", target={self.target}")
            + ")"
        )

    def _breached(self, value: np.ndarray) -> np.ndarray:
        return value > self.bound

    def judge(self, t: Tallies, points: np.ndarray) -> Verdicts:
        return self._pooled(t, points, t.errors, t.cells)

    def offenders(self, t: Tallies, v: Verdict) -> list[str]:
        return self._window_records(t, v, t.errors > 0)

    def message(self, t: Tallies, v: Verdict, firing: bool) -> str:
        of = "all tasks" if self.target == ALL else self.target
        what = (
            f"error rate of {of} over {self.window_text()} ({v.num:.0f} of {_n(v.den, 'cell')} errored, "
            f"{_n(v.count, 'record')})"
        )
        if firing:
            return f"{what} is {v.value:.1%}, above {self.bound:.1%}"
        return f"{what} is back to {v.value:.1%}, not above {self.bound:.1%}"


class ZScore(_RuleBase):
    """A record's value is more than ``k`` standard deviations from the mean of the ``n``
    records before it (the 2-sigma rule). Build it with :func:`zscore`.

    The baseline leaves the record itself out, so one spike cannot hide in its own spread. A
    baseline with no spread (every value equal) makes any other value infinitely far.
    """

    kind: Literal["zscore"] = "zscore"
    target: str
    """``"task.criterion"`` or ``"task"`` (the record's mean score), or a metric:
    ``record_latency_s`` (the application's latency for the record), ``latency_s`` (the
    record's slowest judge cell), ``cost_usd`` or ``tokens`` (summed)."""
    k: float = Field(default=2.0, gt=0)
    """How many standard deviations away a record must be: ``|z| > k``."""
    n: int = Field(default=100, ge=2)
    """The baseline: the last ``n`` records with a value before the judged one."""
    side: Literal["both", "high", "low"] = "both"
    """``both`` (``|z| > k``), ``high`` (``z > k``: slow, expensive) or ``low`` (``z < -k``: a score drop)."""
    min_records: int | None = Field(default=None, ge=2)
    """The fewest baseline records before the rule is judged (default: ``n``)."""

    _check_target = field_validator("target", mode="before")(lambda v: _target(v, metrics=True))

    def describe(self) -> str:
        side = "" if self.side == "both" else f", side={self.side}"
        return f"zscore({self.target}, k={self.k:g}, n={self.n}{side})"

    def window_text(self) -> str:
        return f"the previous {self.n} records"

    def context(self) -> tuple[int, int | None, bool]:
        return self.n, None, True

    def judge(self, t: Tallies, points: np.ndarray) -> Verdicts:
        valued = np.flatnonzero(~np.isnan(t.value))
        none = Verdicts(
            position=points[:0],
            breached=points[:0] > 0,
            value=points[:0] * 1.0,
            first=points[:0],
            count=points[:0],
        )
        if not len(valued) or not len(points):
            return none
        values = t.value[valued]
        j = np.searchsorted(valued, points)
        has = (j < len(valued)) & (valued[np.minimum(j, len(valued) - 1)] == points)
        j = j[has]  # a record without a value (an errored judge) has nothing to judge
        j = j[np.minimum(j, self.n) >= min(self.min_records or self.n, self.n)]
        rows = max(1, 1_000_000 // self.n)  # a million cells of baseline at a time
        parts = [self._scores(valued, values, j[c : c + rows]) for c in range(0, len(j), rows)]
        if not parts:
            return none
        fields = ("position", "breached", "value", "first", "count", "raw", "mean", "std")
        return Verdicts(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})

    def _scores(self, valued: np.ndarray, values: np.ndarray, j: np.ndarray) -> Verdicts:
        # each baseline as a row of an (m, n) matrix, missing places NaN: exact two-pass
        # statistics in one go (running sums of squares cancel badly on flat baselines)
        places = j[:, None] - self.n + np.arange(self.n)[None, :]
        base = np.where(places >= 0, values[np.maximum(places, 0)], np.nan)
        count = np.sum(places >= 0, axis=1)
        mean = np.nanmean(base, axis=1)
        std = np.sqrt(np.nansum((base - mean[:, None]) ** 2, axis=1) / (count - 1))
        raw = values[j]
        tolerance = _FLAT * np.maximum(1.0, np.abs(mean))
        flat = np.where(np.abs(raw - mean) <= tolerance, 0.0, np.copysign(np.inf, raw - mean))
        z = np.divide(raw - mean, std, out=flat, where=std > tolerance)
        breached = {"both": np.abs(z) > self.k, "high": z > self.k, "low": z < -self.k}[self.side]
        return Verdicts(
            position=valued[j],
            breached=breached,
            value=z,
            first=valued[np.maximum(0, j - self.n)],
            count=count,
            raw=raw,
            mean=mean,
            std=std,
        )

    def offenders(self, t: Tallies, v: Verdict) -> list[str]:
        return [str(t.record[v.position])]

    def message(self, t: Tallies, v: Verdict, firing: bool) -> str:
        what = self.target if self.target in METRICS else f"score of {self.target}"
        record = t.record[v.position]
        z = "inf" if math.isinf(v.value) else f"{v.value:+.2f}"
        base = f"the mean {v.mean:.4g} ± {v.std:.3g} of the previous {_n(v.count, 'record')}"
        if firing:
            return f"{what} of record {record!r} is {v.raw:.4g}, z = {z} from {base} (|z| > {self.k:g})"
        within = f"back within {self.k:g} standard deviations"
        return f"{what} is {within}: record {record!r} has {v.raw:.4g}, z = {z}"


_FLAT = 1e-9
"""A baseline whose spread is below this share of its mean (or of 1) has none: rounding alone
makes the spread of equal values a few units in the last place, not 0."""


Rule = Annotated[MeanBelow | PassRateBelow | ErrorRateAbove | ZScore, Discriminator("kind")]
"""An alert rule: :class:`MeanBelow`, :class:`PassRateBelow`, :class:`ErrorRateAbove` or :class:`ZScore`."""

RULE_TYPES = (MeanBelow, PassRateBelow, ErrorRateAbove, ZScore)
