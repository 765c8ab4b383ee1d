"""The live monitor view's controller: what it reads from the store and when, the latest
alerts, and the drill-down from an alert to the records that raised it. No widget in it.

Every read goes through the public functions a user would call: ``wb.monitor_results``,
``workbench.monitor.monitor_records``, ``wb.alerts.history`` and ``wb.alerts.records``. A
refresh first reads what is cheap (the monitor's record counts by state, its alerts) and reads
the results again only when those changed, so a view refreshing every second over an idle
monitor costs two small queries a second.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import ConfigError, DataError, StoreError, cap_list, did_you_mean
from ..monitor import Monitor, alerts, monitor_records, monitor_results
from ..specs import JudgeTask, Suite
from ..store import Store, monitor_names, read_monitor

if TYPE_CHECKING:
    import altair as alt

__all__ = ["MonitorController", "MonitorSnapshot", "check_names"]

CELL_COLUMNS = ["task", "criterion", "status", "score", "label", "reason", "error", "latency_s", "cost_usd"]
"""The columns of a record's cells the drill-down shows."""

MOST_RECORDS = 50
"""The most records of one alert the drill-down lists (the latest of them)."""


def check_names(suite: Suite) -> list[str]:
    """The checks of a suite as alert rules and :func:`~workbench.charts.monitor_trend` name
    them: ``task`` for an assertion, ``task.criterion`` for each criterion of a judge.

    Example:
        >>> import workbench as wb
        >>> check_names(wb.Suite(name="s", tasks=[
        ...     wb.AssertionTask(id="cites", path="a", op="is_not_empty"),
        ...     wb.JudgeTask(id="quality", prompt="${a}",
        ...                  criteria=[wb.Criterion(name="tone", description="d")])]))
        ['cites', 'quality.tone']
    """
    out: list[str] = []
    for task in suite.tasks:
        if isinstance(task, JudgeTask):
            out += [f"{task.id}.{c.name}" for c in task.criteria] + (
                [f"{task.id}.overall"] if task.overall else []
            )
        else:
            out.append(task.id)
    return out


@dataclass(frozen=True, kw_only=True)
class MonitorSnapshot:
    """What one read of a monitor's store found.

    Example:
        >>> import pandas as pd
        >>> snap = MonitorSnapshot(name="support", read_at=pd.Timestamp("2026-03-02", tz="UTC"))
        >>> snap.records, snap.open_alerts.empty
        (0, True)
    """

    name: str | None
    """The monitor's name (None: the store holds no monitor yet)."""
    read_at: pd.Timestamp
    """When the store was read (UTC)."""
    counts: Mapping[str, int] = field(default_factory=dict)
    """The monitor's persisted records by state: ``queued``, ``claimed``, ``done``."""
    results: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    """``wb.monitor_results`` of the monitor."""
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    """``wb.alerts.history`` of the monitor, oldest first."""
    checks: tuple[str, ...] = ()
    """The monitor's checks (``task`` / ``task.criterion``), in the suite's order."""

    @property
    def records(self) -> int:
        """Records persisted, evaluated or not."""
        return sum(int(v) for v in self.counts.values())

    @property
    def evaluated(self) -> int:
        """Records whose cells are stored."""
        return int(self.counts.get("done", 0))

    @property
    def waiting(self) -> int:
        """Records persisted and not evaluated yet (queued or claimed by a worker)."""
        return self.records - self.evaluated

    @property
    def open_alerts(self) -> pd.DataFrame:
        """The firing alerts whose incident has not resolved, newest first."""
        a = self.alerts
        if a.empty:
            return a
        state = a["state"].astype(str)
        resolved = set(a.loc[(state == "resolved").to_numpy(), "incident"].astype(int))
        firing = a[((state == "firing") & ~a["id"].astype(int).isin(resolved)).to_numpy()]
        return firing.sort_values("id", ascending=False)


class MonitorController:
    """The state of a :class:`~workbench.MonitorView` and the reads it makes, without widgets.

    Args:
        source: a :class:`~workbench.Monitor` (its store and name), or a store (a folder, a
            ``.sqlite`` file or a :class:`~workbench.Store`) that a monitor in this or any
            other process writes to (``workbench monitor serve`` workers included).
        name: the monitor's name in the store (default: the monitor's, or the only one the
            store holds; a store holding none yet is waited for).
        target: the check to chart, as alert rules name it (``"quality.accuracy"``, a task,
            or None for every check); see :func:`~workbench.charts.monitor_trend`.
        window: the rolling window of the chart: records (``50``) or a time span (``"10min"``).
        since: only records at or after this time: a datetime, ISO text, or a ``timedelta``
            meaning that long before each refresh (a sliding window).
        latest: how many alerts the list shows, newest first.

    Raises:
        ConfigError: an unknown source, a ``name`` the monitor does not have, a bad window
            or ``latest``.
        StoreError: no ``name`` and the store holds several monitors, or a ``name`` the
            store lacks while it holds others (both messages list them).
        DataError: a ``target`` that is not one of the monitor's checks (the message lists them).

    Example:
        >>> import tempfile, workbench as wb
        >>> from workbench.widgets import MonitorController
        >>> suite = wb.Suite(name="support", tasks=[wb.AssertionTask(id="polite", path="answer",
        ...                                                          op="contains", expected="please")])
        >>> tmp = tempfile.TemporaryDirectory()
        >>> with wb.Monitor(suite, store=tmp.name) as monitor:
        ...     ctl = MonitorController(monitor, target="polite", window=5)
        ...     _ = [monitor.submit({"id": f"r{i}", "answer": "please" if i % 3 else "no"}) for i in range(9)]
        ...     _ = monitor.flush(timeout=30)
        ...     ctl.poll(), ctl.snapshot.evaluated, ctl.poll()  # a second poll finds nothing new
        (True, 9, False)
        >>> tmp.cleanup()
    """

    def __init__(
        self,
        source: Monitor | Store | str | os.PathLike[str],
        name: str | None = None,
        *,
        target: str | None = None,
        window: int | timedelta | str = 50,
        since: Any = None,
        latest: int = 10,
    ) -> None:
        if isinstance(source, Monitor):
            if name is not None and name != source.name:
                raise ConfigError(
                    f"name={name!r} is not this monitor's name, {source.name!r}: leave name= out, or "
                    "pass the monitor's store to watch another monitor in it"
                )
            self.path: Path = source.path
            name = source.name
        elif isinstance(source, Store | str | os.PathLike):
            self.path = Store(source).path
        else:
            raise ConfigError(
                f"MonitorView watches a wb.Monitor or a store (a folder, a .sqlite file or a wb.Store), "
                f"not {type(source).__name__}"
            )
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigError(f"name={name!r} must be a monitor's name (a non-empty string)")
        if isinstance(latest, bool) or not isinstance(latest, int) or latest < 1:
            raise ConfigError(f"latest={latest!r} must be a whole number of alerts, 1 or more")
        self.window: int | timedelta = _window(window)
        self.since = since
        self.latest = latest
        self.target = target
        self._asked = name
        self.name: str | None = self._resolve(name)
        self.snapshot: MonitorSnapshot = MonitorSnapshot(name=self.name, read_at=_now())
        """The last read of the store (empty before the first :meth:`poll`)."""
        self.polls = 0
        """How many times the store was polled."""
        self.reads = 0
        """How many polls found something new and read the results again."""
        self._signature: tuple[Any, ...] | None = None
        self._lock = threading.Lock()
        self.poll()
        self.check_target(target)

    # --- reading ---------------------------------------------------------------------------

    def _resolve(self, name: str | None) -> str | None:
        names = monitor_names(self.path)
        if name is None:
            if len(names) > 1:
                raise StoreError(
                    f"the store at {self.path} holds several monitors, {cap_list(names)}: "
                    "pass name= one of them"
                )
            return names[0] if names else None
        if names and name not in names:
            raise StoreError(
                f"no monitor {name!r} in the store at {self.path}{did_you_mean(name, names)}; it holds "
                f"{cap_list(names)}"
            )
        return name

    def poll(self) -> bool:
        """Read the store again if the monitor's records or alerts changed since the last
        read (or ``since`` slides); True when :attr:`snapshot` changed. Safe to call from a
        worker thread: polls never overlap.

        Raises:
            StoreError: the store cannot be read (the message says why).
        """
        with self._lock:
            self.polls += 1
            if self.name is None:
                self.name = self._resolve(self._asked)
                if self.name is None:
                    self.snapshot = MonitorSnapshot(name=None, read_at=_now())
                    return False
            info = read_monitor(self.path, self.name)
            counts = dict(info["counts"]) if info else {}
            since = self._since()
            history = alerts.history(store=self.path, name=self.name, since=since)
            last = int(history["id"].max()) if len(history) else 0
            signature = (tuple(sorted(counts.items())), len(history), last)
            sliding = isinstance(self.since, timedelta)
            if signature == self._signature and not sliding:
                self.snapshot = _replace_time(self.snapshot)
                return False
            results = monitor_results(self.path, self.name, since=since)
            checks = self._checks(info, results)
            self.snapshot = MonitorSnapshot(
                name=self.name,
                read_at=_now(),
                counts=counts,
                results=results,
                alerts=history,
                checks=tuple(checks),
            )
            self._signature = signature
            self.reads += 1
            return True

    def _since(self) -> datetime | None:
        if self.since is None:
            return None
        if isinstance(self.since, timedelta):
            return datetime.now(timezone.utc) - self.since
        try:
            t = pd.Timestamp(self.since)
        except (ValueError, TypeError) as e:
            raise ConfigError(
                f"since={self.since!r} is not a time: give a datetime, ISO 8601 text or a timedelta ({e})"
            ) from None
        return (t.tz_convert("UTC") if t.tzinfo else t.tz_localize("UTC")).to_pydatetime()

    @staticmethod
    def _checks(info: Mapping[str, Any] | None, results: pd.DataFrame) -> list[str]:
        names: list[str] = []
        if info and info.get("suite_yaml"):
            names = check_names(Suite.from_yaml(info["suite_yaml"]))
        if len(results):
            task = results["task"].astype(str)
            crit = results["criterion"].astype("string").fillna("").astype(str)
            names += [k for k in dict.fromkeys(task.where(crit == "", task + "." + crit)) if k not in names]
        return names

    def check_target(self, target: str | None) -> None:
        """Raise :class:`DataError` when ``target`` names no check or task of the monitor (once
        its suite or results are known); None (every check) is always fine."""
        if target is None or not self.snapshot.checks:
            return
        checks = list(self.snapshot.checks)
        tasks = list(dict.fromkeys(c.split(".", 1)[0] for c in checks))
        name = target[: -len(".score")] if target.endswith(".score") and target.count(".") == 2 else target
        if name not in checks and name not in tasks:
            raise DataError(
                f"target {target!r} is not a check of monitor {self.name!r}"
                f"{did_you_mean(name, checks + tasks)}; its checks are {cap_list(checks)}"
            )

    def set_target(self, target: str | None) -> None:
        """Chart ``target`` from now on (checked as the constructor checks it)."""
        self.check_target(target)
        self.target = target

    # --- what the view shows ---------------------------------------------------------------

    def chart(self) -> alt.LayerChart | alt.VConcatChart | None:
        """The trend of :attr:`target` with the alerts marked (``None`` before any result).

        Raises:
            DataError: nothing to draw for the target (every cell errored, say).
        """
        snap = self.snapshot
        if snap.results.empty:
            return None
        from ..charts import monitor_trend  # altair on first use: the controller opens fast

        return monitor_trend(snap.results, self.target, alerts=snap.alerts, window=self.window)

    def latest_alerts(self) -> pd.DataFrame:
        """The :attr:`latest` most recently raised alerts, newest first, with ``open``
        (a firing alert whose incident has not resolved)."""
        a = self.snapshot.alerts
        if a.empty:
            return a.assign(open=pd.Series(dtype=bool))
        still = set(self.snapshot.open_alerts["id"].astype(int))
        newest = a.sort_values("id", ascending=False).head(self.latest)
        return newest.assign(open=newest["id"].astype(int).isin(still).to_numpy())

    def alert(self, alert_id: int) -> pd.Series:
        """One alert of the snapshot by id.

        Raises:
            DataError: no such alert (the message lists the latest ids).
        """
        a = self.snapshot.alerts
        found = a[a["id"].astype(int) == int(alert_id)] if len(a) else a
        if found.empty:
            ids = sorted(a["id"].astype(int).tolist(), reverse=True) if len(a) else []
            raise DataError(f"no alert {alert_id!r} in monitor {self.name!r}; its latest are {cap_list(ids)}")
        return found.iloc[0]

    def alert_records(self, alert_id: int) -> pd.DataFrame:
        """The records that raised alert ``alert_id`` (the latest :data:`MOST_RECORDS`), as
        ``monitor_records`` gives them, with the alert's check for each: ``status``,
        ``score`` and ``reason`` of its cell (the first, for a task of several criteria).

        Raises:
            DataError: no such alert.
        """
        row = self.alert(alert_id)
        raised = alerts.records(store=self.path, name=self.name)
        ids = raised.loc[(raised["alert"] == int(alert_id)).to_numpy(), "record"].astype(str).tolist()
        ids = ids[-MOST_RECORDS:]
        if not ids:
            return pd.DataFrame(index=pd.Index([], name="record"))
        found = monitor_records(self.path, self.name, ids=ids)
        cells = self._cells_of(ids, str(row["target"]))
        if cells is not None:
            found = found.join(cells, how="left")
        return found

    def _cells_of(self, ids: list[str], target: str) -> pd.DataFrame | None:
        r = self.snapshot.results
        if r.empty:
            return None
        task = r["task"].astype(str)
        crit = r["criterion"].astype("string").fillna("").astype(str)
        key = task.where(crit == "", task + "." + crit)
        mine = r[(r["record"].astype(str).isin(ids) & ((key == target) | (task == target))).to_numpy()]
        if mine.empty:
            return None
        first = mine.drop_duplicates("record").set_index("record")
        out = first[["status", "score", "reason"]].rename(columns=lambda c: f"{target}_{c}")
        out.index = out.index.astype(str)
        return out

    def record(self, record_id: str) -> tuple[pd.Series, pd.DataFrame]:
        """One record as persisted (its fields, time, tags, state) and its cells.

        Raises:
            DataError: the store has no such record.
        """
        found = monitor_records(self.path, self.name, ids=[str(record_id)])
        if found.empty:
            raise DataError(f"monitor {self.name!r} has no record {record_id!r} in the store at {self.path}")
        r = self.snapshot.results
        cells = r[(r["record"].astype(str) == str(record_id)).to_numpy()] if len(r) else r
        return found.iloc[0], cells[[c for c in CELL_COLUMNS if c in cells.columns]].reset_index(drop=True)

    def summary(self) -> str:
        """One line: records, evaluated, waiting, alerts, when read."""
        s = self.snapshot
        if s.name is None:
            return f"no monitor in the store at {self.path} yet"
        alerts_text = f"{len(s.alerts):,} alert{'s' if len(s.alerts) != 1 else ''}"
        if len(s.open_alerts):
            alerts_text += f", {len(s.open_alerts):,} open"
        return (
            f"{s.name}: {s.records:,} records, {s.evaluated:,} evaluated, {s.waiting:,} waiting · "
            f"{alerts_text} · read {s.read_at:%H:%M:%S} UTC"
        )


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _replace_time(snap: MonitorSnapshot) -> MonitorSnapshot:
    return replace(snap, read_at=_now())


def _window(window: Any) -> int | timedelta:
    """A chart window from what a user writes, checked now rather than at the first draw (the
    chart's own check, ``monitor_trend``'s, takes the same forms)."""
    span = window
    if isinstance(window, str):
        with contextlib.suppress(ValueError):
            span = pd.Timedelta(window).to_pytimedelta()
    if isinstance(span, timedelta) and span > timedelta(0):
        return pd.Timedelta(span).to_pytimedelta()
    if isinstance(window, int) and not isinstance(window, bool) and window >= 1:
        return window
    raise ConfigError(
        f"window={window!r} is neither a number of records (1 or more) nor a positive time span; write "
        "e.g. window=50 (the last 50 records) or window='10min'"
    )
