"""The alerts of monitored traffic in the store: the alerts raised, the records that raised
each, the state of every rule, and the per-record tallies its rolling windows are read from.

Every write is one ``BEGIN IMMEDIATE`` transaction (:meth:`AlertLog.writing`), so two
processes that observe the same incident at once take turns: the second reads the state the
first wrote and raises nothing new. The tables are created with ``CREATE TABLE IF NOT EXISTS``
on the first write (:data:`ALERTS_DDL`, part of schema version 3). Without
a path the log lives in memory, for one process.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._open import connect, transaction
from ._schema import ALERTS_DDL
from ._store import Store
from ._time import utc_iso

__all__ = ["ALERTS_DDL", "AlertLog", "AlertWriter", "NewAlert", "RuleState"]

_TALLY = "record, time, cells, errors, passed, decided, scored, score_sum, value"
_ALERT_COLUMNS = [
    "id",
    "incident",
    "name",
    "rule",
    "kind",
    "target",
    "state",
    "value",
    "bound",
    "window",
    "time",
    "raised_at",
    "message",
    "records",
]


@dataclass(frozen=True, kw_only=True)
class RuleState:
    """Where a rule stands: its open incident (the id of the alert that opened it), and since
    when (the newest record time then, µs) its window has been clear again."""

    incident: int | None = None
    clear_since: int | None = None


@dataclass(frozen=True, kw_only=True)
class NewAlert:
    """An alert to store: what :meth:`AlertWriter.add_alert` writes."""

    name: str
    rule: str
    kind: str
    target: str
    state: str
    value: float
    bound: float
    window: str
    time: datetime
    message: str
    records: Sequence[str]
    incident: int | None = None
    """The incident a resolution closes; ``None`` for a firing alert (it opens its own)."""


class AlertWriter:
    """The reads and writes of one observation, inside one transaction.

    Tallies come back in the order they were observed (``seq``), as rows of
    ``(record, time, cells, errors, passed, decided, scored, score_sum, value)``.
    """

    def __init__(self, con: sqlite3.Connection) -> None:
        self._con = con

    def seen(self, name: str, records: Sequence[str]) -> set[str]:
        """Which of ``records`` were observed before (they have a ``*`` tally)."""
        out: set[str] = set()
        for i in range(0, len(records), 500):
            chunk = list(records[i : i + 500])
            out.update(
                r[0]
                for r in self._con.execute(
                    f"SELECT record FROM alert_tallies WHERE name = ? AND target = '*' "
                    f"AND record IN ({', '.join('?' * len(chunk))})",
                    (name, *chunk),
                )
            )
        return out

    def position(self, name: str) -> tuple[int, int | None]:
        """``(the last seq observed, the newest record time observed in µs or None)``."""
        seq, newest = self._con.execute(
            "SELECT coalesce(max(seq), 0), max(time) FROM alert_tallies WHERE name = ? AND target = '*'",
            (name,),
        ).fetchone()
        return int(seq), None if newest is None else int(newest)

    def add_tallies(self, name: str, target: str, rows: Sequence[Sequence[Any]], seqs: Sequence[int]) -> None:
        """Store tallies under their observation numbers (a record seen before keeps its first)."""
        marks = ", ".join("?" * 12)
        self._con.executemany(
            f"INSERT OR IGNORE INTO alert_tallies (name, target, seq, {_TALLY}) VALUES ({marks})",
            [(name, target, seq, *row) for row, seq in zip(rows, seqs)],
        )

    def last(
        self, name: str, target: str, n: int, *, before: int, valued: bool = False
    ) -> list[tuple[Any, ...]]:
        """The last ``n`` tallies observed before ``seq`` ``before``; with ``valued`` only
        those with a value."""
        rows = self._con.execute(
            f"SELECT {_TALLY} FROM alert_tallies WHERE name = ? AND target = ? AND seq < ?"
            + (" AND value IS NOT NULL" if valued else "")
            + " ORDER BY seq DESC LIMIT ?",
            (name, target, before, n),
        ).fetchall()
        return rows[::-1]

    def between(
        self, name: str, target: str, since: int, until: int, *, before: int
    ) -> list[tuple[Any, ...]]:
        """The tallies observed before ``seq`` ``before`` with a time after ``since`` and at
        most ``until`` (µs), in observation order."""
        return self._con.execute(
            f"SELECT {_TALLY} FROM alert_tallies WHERE name = ? AND target = ? AND time > ? AND time <= ? "
            "AND seq < ? ORDER BY seq",
            (name, target, since, until, before),
        ).fetchall()

    def sums(
        self, name: str, target: str, since: int, *, before: int
    ) -> tuple[int, int, int, int, int, int, float]:
        """The tallies observed before ``seq`` ``before`` with a time after ``since``, summed
        in the store: ``(records, cells, errors, passed, decided, scored, score_sum)``."""
        row = self._con.execute(
            "SELECT count(*), total(cells), total(errors), total(passed), total(decided), total(scored), "
            "total(score_sum) FROM alert_tallies WHERE name = ? AND target = ? AND time > ? AND seq < ?",
            (name, target, since, before),
        ).fetchone()
        records, cells, errors, passed, decided, scored = (int(v) for v in row[:6])
        return records, cells, errors, passed, decided, scored, float(row[6])

    def records_where(
        self,
        name: str,
        target: str,
        which: Literal["failed", "errored", "below"],
        since: int,
        *,
        before: int,
        bound: float = 0.0,
        last: int = 1000,
    ) -> list[str]:
        """The records observed before ``seq`` ``before`` with a time after ``since`` whose
        tally failed, errored, or has a value below ``bound``: the last ``last``, oldest first."""
        condition = {"failed": "decided > passed", "errored": "errors > 0", "below": "value < ?"}[which]
        rows = self._con.execute(
            f"SELECT record FROM alert_tallies WHERE name = ? AND target = ? AND time > ? AND seq < ? "
            f"AND {condition} ORDER BY seq DESC LIMIT ?",
            (name, target, since, before, *([bound] if which == "below" else []), last),
        ).fetchall()
        return [r[0] for r in rows[::-1]]

    def rule_state(self, name: str, rule: str) -> RuleState:
        row = self._con.execute(
            "SELECT incident, clear_since FROM alert_rules WHERE name = ? AND rule = ?", (name, rule)
        ).fetchone()
        return RuleState() if row is None else RuleState(incident=row[0], clear_since=row[1])

    def set_rule_state(self, name: str, rule: str, state: RuleState) -> None:
        self._con.execute(
            "INSERT INTO alert_rules (name, rule, incident, clear_since) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name, rule) DO UPDATE SET incident = excluded.incident, "
            "clear_since = excluded.clear_since",
            (name, rule, state.incident, state.clear_since),
        )

    def add_alert(self, alert: NewAlert) -> tuple[int, int, datetime]:
        """Store an alert and its records; returns ``(id, incident, raised_at)``."""
        raised_at = datetime.now(timezone.utc)
        cur = self._con.execute(
            "INSERT INTO alerts (name, rule, kind, target, incident, state, value, bound, window, time, "
            "raised_at, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                alert.name,
                alert.rule,
                alert.kind,
                alert.target,
                alert.incident if alert.incident is not None else -1,
                alert.state,
                None if np.isnan(alert.value) else alert.value,
                alert.bound,
                alert.window,
                utc_iso(alert.time),
                utc_iso(raised_at),
                alert.message,
            ),
        )
        alert_id = int(cur.lastrowid or 0)
        incident = alert.incident if alert.incident is not None else alert_id
        if alert.incident is None:
            self._con.execute("UPDATE alerts SET incident = ? WHERE id = ?", (alert_id, alert_id))
        self._con.executemany(
            "INSERT INTO alert_records (alert_id, position, record) VALUES (?, ?, ?)",
            [(alert_id, i, r) for i, r in enumerate(alert.records)],
        )
        return alert_id, incident, raised_at

    def prune(self, name: str, target: str, *, keep: int, span: int | None) -> None:
        """Forget tallies no window can reach again: observed before the last ``keep`` and,
        with a ``span`` (µs), older than that span before the newest time."""
        row = self._con.execute(
            "SELECT seq FROM alert_tallies WHERE name = ? AND target = ? ORDER BY seq DESC LIMIT 1 OFFSET ?",
            (name, target, keep),
        ).fetchone()
        if row is None:
            return
        if span is None:
            self._con.execute(
                "DELETE FROM alert_tallies WHERE name = ? AND target = ? AND seq <= ?", (name, target, row[0])
            )
            return
        newest = self._con.execute(
            "SELECT max(time) FROM alert_tallies WHERE name = ? AND target = ?", (name, target)
        ).fetchone()[0]
        self._con.execute(
            "DELETE FROM alert_tallies WHERE name = ? AND target = ? AND seq <= ? AND time <= ?",
            (name, target, row[0], newest - span),
        )


class AlertLog:
    """The alerts of one store (or, without a path, of this process's memory).

    Args:
        path: a store (a :class:`~workbench.store.Store`, its folder or its ``.sqlite`` file,
            as ``store=`` takes them), or ``None`` for an in-memory log.

    Example:
        >>> from workbench.store import AlertLog
        >>> log = AlertLog(None)
        >>> log.alerts()[["rule", "state"]].shape
        (0, 2)
        >>> log.close()
    """

    def __init__(self, path: Store | str | os.PathLike[str] | None) -> None:
        self.path: Path | None = None if path is None else Store(path).path
        self._con: sqlite3.Connection | None = None
        self._open: ExitStack | None = None
        self._ready = False
        self._lock = threading.Lock()
        if self.path is None:
            self._con = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)

    def __repr__(self) -> str:
        return f"AlertLog({str(self.path) if self.path else ':memory:'!r})"

    @contextmanager
    def writing(self) -> Iterator[AlertWriter]:
        """One transaction holding the store's write lock: what :class:`AlertWriter` does in it
        is committed together, or not at all when the block raises."""
        with self._lock:
            con = self._writer()
            with transaction(con):
                if not self._ready:
                    for statement in ALERTS_DDL.split(";"):
                        if statement.strip():
                            con.execute(statement)
                yield AlertWriter(con)
            self._ready = True

    def _writer(self) -> sqlite3.Connection:
        """The connection writes go through, opened on the first write and kept: closing the
        last connection to a WAL file checkpoints it, which is too slow to do per batch."""
        if self._con is None:
            assert self.path is not None
            stack = ExitStack()
            con = stack.enter_context(connect(self.path, write=True))
            assert con is not None
            self._con, self._open = con, stack
        return self._con

    def alerts(
        self, name: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> pd.DataFrame:
        """One row per alert, oldest first: id, incident (the id of the alert that opened it),
        name, rule, kind, target, state, value, bound, window, time (of the record that raised
        it, UTC), raised_at (UTC), message and the number of records that raised it."""
        where, args = _filter(name, since, until)
        sql = (
            "SELECT a.id, a.incident, a.name, a.rule, a.kind, a.target, a.state, a.value, a.bound, a.window, "
            "a.time, a.raised_at, a.message, (SELECT count(*) FROM alert_records r WHERE r.alert_id = a.id) "
            f"FROM alerts a {where} ORDER BY a.time, a.id"
        )
        rows = self._read(sql, args)
        out: pd.DataFrame = pd.DataFrame.from_records(rows, columns=_ALERT_COLUMNS)
        for c in ("id", "incident", "records"):
            out[c] = out[c].astype("int64")
        for c in ("name", "rule", "kind", "target", "window", "message"):
            out[c] = out[c].astype("string")
        out["state"] = pd.Categorical(out["state"], categories=["firing", "resolved"])
        out["value"] = pd.array([None if v is None else float(v) for v in out["value"]], dtype="Float64")
        out["bound"] = out["bound"].astype("float64")
        for c in ("time", "raised_at"):
            out[c] = pd.to_datetime(out[c], utc=True, format="ISO8601").astype("datetime64[us, UTC]")
        return out

    def alert_records(
        self, name: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> pd.DataFrame:
        """One row per (alert, record that raised it): alert (its id), rule, state, record."""
        where, args = _filter(name, since, until)
        rows = self._read(
            "SELECT a.id, a.rule, a.state, r.record FROM alert_records r JOIN alerts a ON a.id = r.alert_id "
            f"{where} ORDER BY a.time, a.id, r.position",
            args,
        )
        out: pd.DataFrame = pd.DataFrame.from_records(rows, columns=["alert", "rule", "state", "record"])
        out["alert"] = out["alert"].astype("int64")
        for c in ("rule", "record"):
            out[c] = out[c].astype("string")
        out["state"] = pd.Categorical(out["state"], categories=["firing", "resolved"])
        return out

    def close(self) -> None:
        """Close the log's connection (a new write opens it again)."""
        with self._lock:
            if self._open is not None:
                self._open.close()
            elif self._con is not None:
                self._con.close()  # in memory: what it held is gone
            self._con, self._open, self._ready = None, None, False

    def _read(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock, ExitStack() as stack:
            con = self._con
            if con is None:
                if self.path is None:
                    return []  # a closed in-memory log
                con = stack.enter_context(connect(self.path, write=False))
                if con is None:
                    return []
            has = con.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alerts'"
            ).fetchone()
            return con.execute(sql, args).fetchall() if has else []


def _filter(name: str | None, since: datetime | None, until: datetime | None) -> tuple[str, tuple[Any, ...]]:
    clauses, args = [], []
    for clause, value in (("a.name = ?", name), ("a.time >= ?", since), ("a.time < ?", until)):
        if value is not None:
            clauses.append(clause)
            args.append(
                utc_iso(pd.Timestamp(value).to_pydatetime()) if isinstance(value, datetime) else value
            )
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", tuple(args)
