"""Per-record tallies: each record of a results batch reduced, per rule target, to the counts
and the one value a rolling window is pooled from; and the verdict of a rule at one record.

A target is ``"task"``, ``"task.criterion"``, ``"*"`` (every cell) or a metric of
:data:`METRICS`. Pure: numpy and pandas only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["ALL", "METRICS", "SUMMED", "Tallies", "Verdict", "Verdicts", "span_text", "split_target", "tally"]

ALL = "*"
"""The target of every cell of a record (the error rate of everything)."""

METRICS: dict[str, Literal["max", "sum"]] = {
    "record_latency_s": "max",
    "latency_s": "max",
    "cost_usd": "sum",
    "tokens": "sum",
}
"""Per-record metrics a rule can watch, and how a record's cells make its one value: the
record's own latency (the same on each of its cells), its slowest cell for the judge's latency
(a record's judge calls run concurrently), the sum for cost and tokens."""

# --- per-record tallies -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, eq=False)
class Tallies:
    """The tallies of one target a rule's windows over one batch can reach, one entry per
    record, in the order the records were observed: those observed before, then the batch's.

    ``new`` marks the batch's records: the points a rule judges.
    """

    record: np.ndarray
    """object array of record ids."""
    time: np.ndarray
    """int64 microseconds since the epoch, UTC."""
    cells: np.ndarray
    """Cells that were evaluated (not skipped)."""
    errors: np.ndarray
    passed: np.ndarray
    decided: np.ndarray
    """Cells that passed or failed (errors, skips and threshold-less scores decide nothing)."""
    scored: np.ndarray
    score_sum: np.ndarray
    value: np.ndarray
    """The record's one number: its mean score for a task target, its metric for a metric; NaN if none."""
    new: np.ndarray
    weight: np.ndarray
    """How many records an entry stands for: 1, or the count of a :data:`SUMMED` entry."""
    watermark: np.ndarray
    """The newest record time observed when the entry was (µs): where time windows end and the
    cooldown's clock stands at that point."""
    batch_seq: int = 0
    """The observation number of the batch's first record."""

    ROW = ("record", "time", "cells", "errors", "passed", "decided", "scored", "score_sum", "value")
    """The fields of one stored tally, in the store's column order."""

    @classmethod
    def of_rows(
        cls,
        rows: Sequence[Sequence[Any]],
        new: Sequence[bool],
        *,
        watermark: Sequence[int],
        weight: Sequence[int] | None = None,
        batch_seq: int = 0,
    ) -> Tallies:
        """From stored rows (in :attr:`ROW` order), in observation order."""
        cols = list(zip(*rows)) if rows else [()] * len(cls.ROW)
        ints = [np.asarray(c, dtype=np.int64) for c in cols[1:7]]
        return cls(
            record=np.asarray(cols[0], dtype=object),
            time=ints[0],
            cells=ints[1],
            errors=ints[2],
            passed=ints[3],
            decided=ints[4],
            scored=ints[5],
            score_sum=np.asarray(cols[7], dtype=np.float64),
            value=np.asarray([np.nan if v is None else v for v in cols[8]], dtype=np.float64),
            new=np.asarray(new, dtype=bool),
            weight=np.asarray([1] * len(rows) if weight is None else weight, dtype=np.int64),
            watermark=np.asarray(watermark, dtype=np.int64),
            batch_seq=batch_seq,
        )

    @property
    def real(self) -> np.ndarray:
        """The entries that are one record each (not :data:`SUMMED`)."""
        return np.asarray(self.record != SUMMED, dtype=bool)


SUMMED = ""
"""The record id of an entry that sums the records of a long time window that no window of
the batch leaves, read as one sum from the store instead of one tally each (record ids are
never empty)."""


def tally(
    record: np.ndarray, time: np.ndarray, results: pd.DataFrame, targets: Sequence[str]
) -> dict[str, list[tuple[Any, ...]]]:
    """Each target's per-record tallies (rows in :attr:`Tallies.ROW` order) for a results frame
    whose ``record`` and ``time`` (int64 µs) are given as arrays, one per cell.

    ``"*"`` gets a row for every record (it also tells which records are new); a task target
    only for records with an evaluated cell of it (a record the judge did not sample is not in
    its window); a metric only for records with a value.
    """
    codes, uniques = pd.factorize(record)
    first = np.full(len(uniques), len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes)))
    times = time[first]
    status = results["status"].astype("string").to_numpy(dtype=object, na_value="")
    evaluated = status != "skipped"
    task = results["task"].astype("string").to_numpy(dtype=object, na_value="")
    criterion = results["criterion"].astype("string").to_numpy(dtype=object, na_value="")
    score = results["score"].to_numpy(dtype=np.float64, na_value=np.nan)
    out: dict[str, list[tuple[Any, ...]]] = {}
    for target in dict.fromkeys(targets):
        if target in METRICS:
            if target not in results.columns:
                out[target] = []  # a monitor whose records carry no latency of their own
                continue
            column = pd.Series(pd.to_numeric(results[target]).to_numpy(dtype=np.float64, na_value=np.nan))
            grouped = column.groupby(codes)
            values = (grouped.max() if METRICS[target] == "max" else grouped.sum(min_count=1)).reindex(
                range(len(uniques))
            )
            out[target] = [
                (uniques[i], int(times[i]), 0, 0, 0, 0, 0, 0.0, float(v))
                for i, v in enumerate(values.to_numpy())
                if not math.isnan(v)
            ]
            continue
        mask = evaluated.copy()
        if target != ALL:
            t, c = split_target(target)
            mask &= task == t
            if c is not None:
                mask &= criterion == c
        n = len(uniques)

        def count(m: np.ndarray, weights: np.ndarray | None = None, n: int = n) -> np.ndarray:
            return np.bincount(codes[m], weights=None if weights is None else weights[m], minlength=n)

        cells = count(mask)
        errors = count(mask & (status == "error"))
        passed = count(mask & (status == "passed"))
        decided = count(mask & ((status == "passed") | (status == "failed")))
        has_score = mask & ~np.isnan(score)
        scored = count(has_score)
        score_sum = count(has_score, np.nan_to_num(score))
        mean = np.divide(score_sum, scored, out=np.full(n, np.nan), where=scored > 0)
        rows = zip(
            uniques.tolist(),
            times.tolist(),
            cells.tolist(),
            errors.tolist(),
            passed.tolist(),
            decided.tolist(),
            scored.tolist(),
            score_sum.tolist(),
            [None if math.isnan(v) else v for v in mean.tolist()],
        )
        out[target] = [row for row in rows if row[2] or target == ALL]
    return out


def split_target(target: str) -> tuple[str, str | None]:
    """``"quality.accuracy"`` -> ``("quality", "accuracy")``; ``"is_json"`` -> ``("is_json", None)``."""
    task, _, criterion = target.partition(".")
    return task, criterion or None


# --- verdicts ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """A rule judged at one record: whether it is breached, its value and what made it."""

    position: int
    """The record's position in the :class:`Tallies`."""
    breached: bool
    value: float
    """The window's mean, pass rate or error rate; the record's z-score."""
    first: int
    """Position of the first record of a count window (of a z-score's baseline); -1 for a time window."""
    count: int
    """Records in the window (in the baseline for a z-score)."""
    num: float = math.nan
    """Scores summed, cells passed or errored (for the message)."""
    den: float = math.nan
    """Scores, cells decided or evaluated (for the message)."""
    raw: float = math.nan
    """The record's own value (z-score)."""
    mean: float = math.nan
    std: float = math.nan


@dataclass(frozen=True, kw_only=True, eq=False)
class Verdicts:
    """A rule judged at many records: one :class:`Verdict` per entry, kept as arrays (a batch
    judges hundreds of points; only the few where an incident opens or closes become objects)."""

    position: np.ndarray
    breached: np.ndarray
    value: np.ndarray
    first: np.ndarray
    count: np.ndarray
    num: np.ndarray | None = None
    den: np.ndarray | None = None
    raw: np.ndarray | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.position)

    def __getitem__(self, i: int) -> Verdict:
        extra = {
            name: float(column[i])
            for name in ("num", "den", "raw", "mean", "std")
            if (column := getattr(self, name)) is not None
        }
        return Verdict(
            position=int(self.position[i]),
            breached=bool(self.breached[i]),
            value=float(self.value[i]),
            first=int(self.first[i]),
            count=int(self.count[i]),
            **extra,
        )

    def kept(self, mask: np.ndarray) -> Verdicts:
        """The verdicts where ``mask`` holds."""

        def keep(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[mask]

        return Verdicts(
            position=self.position[mask],
            breached=self.breached[mask],
            value=self.value[mask],
            first=self.first[mask],
            count=self.count[mask],
            num=keep(self.num),
            den=keep(self.den),
            raw=keep(self.raw),
            mean=keep(self.mean),
            std=keep(self.std),
        )

    @classmethod
    def none(cls) -> Verdicts:
        """No verdict at all."""
        empty = np.zeros(0, dtype=np.int64)
        return cls(position=empty, breached=empty > 0, value=empty * 1.0, first=empty, count=empty)


def span_text(span: timedelta) -> str:
    """A time span as a user writes it: ``10min``, ``90s``, ``2h``, ``1d``, ``1.5s``.

    Example:
        >>> from datetime import timedelta
        >>> [span_text(timedelta(minutes=m)) for m in (10, 90, 120, 1440)]
        ['10min', '90min', '2h', '1d']
    """
    seconds = span.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
