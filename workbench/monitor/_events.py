"""What alerts hand out: :class:`Alert` (a rule's incident opening or closing) and
:class:`RecordFailure` (a record whose cells failed, for ``on_fail``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import pandas as pd

__all__ = ["Alert", "RecordFailure"]


@dataclass(frozen=True, kw_only=True)
class Alert:
    """One alert: a rule's incident opening (``firing``) or closing (``resolved``).

    Example:
        >>> import pandas as pd
        >>> a = Alert(id=1, incident=1, name="support", rule="mean_below(quality.accuracy, 3.5, window=50)",
        ...           kind="mean_below", target="quality.accuracy", state="firing", value=2.9, bound=3.5,
        ...           window="the last 50 records", time=pd.Timestamp("2026-01-05 12:00", tz="UTC"),
        ...           records=("r7", "r9"), message="mean score ... is 2.9, below 3.5")
        >>> a.to_json()["state"], a.to_json()["time"]
        ('firing', '2026-01-05T12:00:00+00:00')
    """

    id: int
    """The alert's id in the store (in memory: in this process)."""
    incident: int
    """The id of the ``firing`` alert that opened the incident (its own id when firing)."""
    name: str
    """The name of the :class:`Alerts` (the monitor) that raised it."""
    rule: str
    """The rule's id (see :attr:`~workbench.monitor.alerts.MeanBelow.rule_id`)."""
    kind: str
    """``mean_below``, ``pass_rate_below``, ``error_rate_above`` or ``zscore``."""
    target: str
    """What the rule watches: ``task``, ``task.criterion``, ``*`` or a metric such as ``latency_s``."""
    state: Literal["firing", "resolved"]
    value: float
    """The window's mean, pass rate or error rate, or the record's z-score."""
    bound: float
    """The rule's bound (``k`` for a z-score)."""
    window: str
    """The window in words: ``the last 50 records``, ``the last 10min``."""
    time: pd.Timestamp
    """The time of the record at which the rule was judged (UTC)."""
    records: tuple[str, ...]
    """The records that raised it (for a resolution: the record at which it cleared)."""
    message: str
    """What happened, in one sentence, credentials redacted."""
    raised_at: datetime | None = None
    """When it was raised (UTC wall clock)."""

    def to_json(self) -> dict[str, Any]:
        """The alert as JSON data (what a webhook receives; ``text`` repeats the message for
        chat webhooks that show only that field)."""
        value = None if math.isnan(self.value) or math.isinf(self.value) else self.value
        return {
            "source": "workbench",
            "id": self.id,
            "incident": self.incident,
            "name": self.name,
            "rule": self.rule,
            "kind": self.kind,
            "target": self.target,
            "state": self.state,
            "value": value
            if value is not None
            else (str(self.value) if not math.isnan(self.value) else None),
            "bound": self.bound,
            "window": self.window,
            "time": self.time.isoformat(),
            "raised_at": self.raised_at.isoformat() if self.raised_at else None,
            "records": list(self.records),
            "message": self.message,
            "text": f"[{self.state}] {self.name}: {self.message}",
        }


@dataclass(frozen=True, kw_only=True, eq=False)
class RecordFailure:
    """A record some of whose cells failed or errored: what ``on_fail`` receives.

    Example:
        >>> import pandas as pd
        >>> cells = pd.DataFrame({"task": ["is_json"], "criterion": [""], "status": ["failed"],
        ...                       "reason": ["'x' is not valid JSON"], "error": [None]})
        >>> f = RecordFailure(record="r2", time=pd.Timestamp("2026-01-05", tz="UTC"), cells=cells)
        >>> f.failed, f.errored
        (['is_json'], [])
    """

    record: str
    time: pd.Timestamp
    cells: pd.DataFrame = field(repr=False)
    """The record's failed and errored cells: the columns of the results frame."""

    @property
    def failed(self) -> list[str]:
        """The ``task`` or ``task.criterion`` of every failed cell."""
        return self._where("failed")

    @property
    def errored(self) -> list[str]:
        """The ``task`` or ``task.criterion`` of every errored cell."""
        return self._where("error")

    def _where(self, status: str) -> list[str]:
        cells = self.cells[self.cells["status"].astype("string") == status]
        return [f"{t}.{c}" if c else str(t) for t, c in zip(cells["task"], cells["criterion"].fillna(""))]

    def __repr__(self) -> str:
        return f"RecordFailure(record={self.record!r}, failed={self.failed}, errored={self.errored})"
