"""The store side of online evaluation: records persisted in group commits, claimed by
workers under a lease, and their cells written once, in the transaction that marks them done.

Every write is one ``BEGIN IMMEDIATE`` transaction (:func:`~workbench.store._open.transaction`).
The claim is the shape a server database runs as one statement::

    UPDATE monitor_records SET state = 'claimed', owner = :me, lease_until = :until
    WHERE seq IN (SELECT seq FROM monitor_records WHERE <open or expired>
                  ORDER BY seq LIMIT :n FOR UPDATE SKIP LOCKED)
    RETURNING ...

On SQLite the write lock that ``BEGIN IMMEDIATE`` takes serialises claimers, so the same
select, update and read run as three statements inside that one transaction (no
``RETURNING``, which SQLite only has from 3.35). A record's results are inserted only for the
records the worker still owns when it commits; a worker whose lease ran out and was taken
by another stores nothing, so no record's cells are ever stored twice (the results table's
primary key says so too).

Example:
    >>> import tempfile, time
    >>> from pathlib import Path
    >>> tmp = tempfile.TemporaryDirectory()
    >>> queue = RecordStore(Path(tmp.name) / "runs.sqlite", "demo").open()
    >>> queue.append([NewRecord(id="r1", time=time.time(), data=b'{"x": 1}')])
    1
    >>> [c.id for c in queue.claim("worker-1", limit=10, lease_s=30)]
    ['r1']
    >>> queue.claim("worker-2", limit=10, lease_s=30)  # claimed: nobody else gets it
    []
    >>> queue.counts()["claimed"]
    1
    >>> queue.close(); tmp.cleanup()
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..results import RESULT_COLUMNS
from ._open import connect, transaction

__all__ = [
    "CELL_FIELDS",
    "Claimed",
    "NewRecord",
    "RecordStore",
    "monitor_names",
    "read_monitor",
    "read_records",
    "read_results",
]

MONITOR_VERSION = 3
"""The first schema version with the monitor tables (a read-only older store has none)."""

CELL_FIELDS = RESULT_COLUMNS[1:]
"""The stored columns of one cell, in the order :meth:`RecordStore.complete` takes them."""

_CHUNK = 500
"""Seqs per ``IN (...)`` list: below SQLite's oldest limit of 999 bound parameters."""

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class NewRecord:
    """A record as the writer persists it: its context already encoded as JSON bytes."""

    id: str
    time: float
    """Seconds since the epoch (UTC)."""
    data: bytes
    tags: str | None = None
    """The record's tags as JSON text."""
    trace_id: str | None = None
    latency_s: float | None = None
    """The application's own latency for this record, when the record carried one."""
    tasks: str | None = None
    """The ids of the tasks sampled for this record as a JSON list; None: every task."""


@dataclass(frozen=True, kw_only=True)
class Claimed:
    """A record a worker holds under a lease."""

    seq: int
    id: str
    time: float
    data: bytes
    latency_s: float | None
    tasks: str | None
    attempts: int
    """Evaluations of it that ended in a retry."""
    reclaimed: bool
    """Its previous claim's lease had run out (the worker that held it died or stalled)."""


class RecordStore:
    """The monitor tables of one store file, for one monitor ``name``, over one connection.

    Open it with :meth:`open` (or ``with``); one object serves one thread at a time. A
    disk problem raises :class:`~workbench.StoreError` (the message says which file and
    what to do) and closes the connection; :meth:`open` again to go on.
    """

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        self._stack: contextlib.ExitStack | None = None
        self._con: sqlite3.Connection | None = None
        # one statement at a time on the connection, whatever thread calls (a worker's lease
        # renewal runs in a thread of its own), and never a close during a statement
        self._lock = threading.RLock()

    def open(self) -> RecordStore:
        """Open the store for writing (creating or migrating it) and return ``self``."""
        with self._lock:
            if self._con is not None:
                return self
            stack = contextlib.ExitStack()
            con = stack.enter_context(connect(self.path, write=True))
            assert con is not None  # a write always opens (or raises)
            self._stack, self._con = stack, con
            return self

    def close(self) -> None:
        with self._lock:
            stack, self._stack, self._con = self._stack, None, None
            if stack is not None:
                stack.close()

    @property
    def is_open(self) -> bool:
        return self._con is not None

    def __enter__(self) -> RecordStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writes: one transaction each -----------------------------------------------------

    def register(self, suite: str, version: str, fingerprint: str, suite_yaml: str, sample: str) -> None:
        """Record (or update) this monitor's suite and sampling, for readers and workers."""
        now = time.time()
        self._write(
            lambda con: con.execute(
                "INSERT INTO monitors (name, suite, version, suite_fingerprint, suite_yaml, sample, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "suite = excluded.suite, version = excluded.version, "
                "suite_fingerprint = excluded.suite_fingerprint, suite_yaml = excluded.suite_yaml, "
                "sample = excluded.sample, updated_at = excluded.updated_at",
                (self.name, suite, version, fingerprint, suite_yaml, sample, now, now),
            )
        )

    def append(self, records: Sequence[NewRecord]) -> int:
        """Persist ``records`` in one transaction (a group commit); returns how many were new
        (a record whose id this monitor already holds is kept as it was: replays are idempotent)."""
        if not records:
            return 0
        now = time.time()
        rows = [
            (self.name, r.id, r.time, r.data, r.tags, r.trace_id, r.latency_s, r.tasks, now) for r in records
        ]

        def step(con: sqlite3.Connection) -> int:
            before = con.total_changes
            con.executemany(
                "INSERT OR IGNORE INTO monitor_records (monitor, id, time, data, tags, trace_id, latency_s, "
                "tasks, persisted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return con.total_changes - before

        return self._write(step)

    def claim(self, owner: str, limit: int, lease_s: float) -> list[Claimed]:
        """Take up to ``limit`` records, oldest first, that are queued (and past their retry
        backoff) or whose claim's lease ran out; they are ``owner``'s until ``lease_s`` from now."""
        now = time.time()
        where = (
            "monitor = ? AND state != 'done' AND ((state = 'queued' AND not_before <= ?) "
            "OR (state = 'claimed' AND lease_until < ?))"
        )
        args = (self.name, now, now)
        with self._lock:
            con = self._connection()
            # a read first, outside any transaction: an idle worker never takes the write lock
            if con.execute(f"SELECT 1 FROM monitor_records WHERE {where} LIMIT 1", args).fetchone() is None:
                return []

        def step(con: sqlite3.Connection) -> list[Claimed]:
            picked = con.execute(
                f"SELECT seq, state FROM monitor_records WHERE {where} ORDER BY seq LIMIT ?", (*args, limit)
            ).fetchall()
            seqs = [int(s) for s, _ in picked]
            was_claimed = {int(s) for s, state in picked if state == "claimed"}
            out = []
            for chunk in _chunks(seqs):
                marks = ", ".join("?" * len(chunk))
                con.execute(
                    "UPDATE monitor_records SET state = 'claimed', owner = ?, lease_until = ?, "
                    f"claims = claims + 1 WHERE seq IN ({marks})",
                    (owner, now + lease_s, *chunk),
                )
                out += con.execute(
                    "SELECT seq, id, time, data, latency_s, tasks, attempts FROM monitor_records "
                    f"WHERE seq IN ({marks}) ORDER BY seq",
                    chunk,
                ).fetchall()
            return [
                Claimed(
                    seq=int(seq),
                    id=str(rid),
                    time=float(t),
                    data=bytes(data),
                    latency_s=latency,
                    tasks=tasks,
                    attempts=int(attempts),
                    reclaimed=int(seq) in was_claimed,
                )
                for seq, rid, t, data, latency, tasks, attempts in out
            ]

        return self._write(step)

    def renew(self, owner: str, seqs: Sequence[int], lease_s: float) -> int:
        """Extend ``owner``'s leases on ``seqs``; returns how many it still held."""
        until = time.time() + lease_s
        return self._owned_update("lease_until = ?", (until,), owner, seqs)

    def release(self, owner: str, retry_at: Mapping[int, float]) -> int:
        """Put records back in the queue after a failed evaluation, each not to be claimed
        before its time (seconds since the epoch): an attempt is counted."""

        def step(con: sqlite3.Connection) -> int:
            before = con.total_changes
            con.executemany(
                "UPDATE monitor_records SET state = 'queued', owner = NULL, lease_until = NULL, "
                "attempts = attempts + 1, not_before = ? WHERE seq = ? AND owner = ? AND state = 'claimed'",
                [(at, seq, owner) for seq, at in retry_at.items()],
            )
            return con.total_changes - before

        return self._write(step) if retry_at else 0

    def abandon(self, owner: str, seqs: Sequence[int]) -> int:
        """Give claims back without counting an attempt (a worker that stops mid-batch), so
        another worker takes them at once instead of after the lease."""
        return self._owned_update("state = 'queued', owner = NULL, lease_until = NULL", (), owner, seqs)

    def complete(self, owner: str, cells: Mapping[int, Sequence[tuple[Any, ...]]]) -> list[int]:
        """Store the cells of the records ``owner`` still holds and mark them done, in one
        transaction; returns their seqs. ``cells`` maps a seq to ``(record id, time,
        *CELL_FIELDS)`` tuples. Records whose claim was lost (the lease ran out and another
        worker took them) are left alone: their cells are that worker's to store."""
        if not cells:
            return []
        now = time.time()

        def step(con: sqlite3.Connection) -> list[int]:
            mine: list[int] = []
            for chunk in _chunks(list(cells)):
                marks = ", ".join("?" * len(chunk))
                held = [
                    int(r[0])
                    for r in con.execute(
                        f"SELECT seq FROM monitor_records WHERE seq IN ({marks}) AND owner = ? "
                        "AND state = 'claimed'",
                        (*chunk, owner),
                    )
                ]
                if held:
                    con.execute(
                        "UPDATE monitor_records SET state = 'done', owner = NULL, lease_until = NULL, "
                        f"done_at = ? WHERE seq IN ({', '.join('?' * len(held))})",
                        (now, *held),
                    )
                mine += held
            rows = [
                (self.name, cell[0], seq, position, *cell[1:])
                for seq in mine
                for position, cell in enumerate(cells[seq])
            ]
            con.executemany(
                "INSERT INTO monitor_results (monitor, record, seq, position, time, "
                + ", ".join(CELL_FIELDS)
                + ") VALUES ("
                + ", ".join("?" * (5 + len(CELL_FIELDS)))
                + ")",
                rows,
            )
            return sorted(mine)

        return self._write(step)

    # --- reads ----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Records of this monitor by state: ``queued``, ``claimed``, ``done``, and ``open``
        (queued or claimed: not evaluated yet)."""
        with self._lock:
            found = dict(
                self._connection()
                .execute(
                    "SELECT state, count(*) FROM monitor_records WHERE monitor = ? GROUP BY state",
                    (self.name,),
                )
                .fetchall()
            )
        out = {s: int(found.get(s, 0)) for s in ("queued", "claimed", "done")}
        out["open"] = out["queued"] + out["claimed"]
        return out

    def open_count(self) -> int:
        """Records of this monitor not evaluated yet (queued or claimed), read from the
        index of open records alone."""
        with self._lock:
            row = (
                self._connection()
                .execute(
                    "SELECT count(*) FROM monitor_records WHERE monitor = ? AND state != 'done'", (self.name,)
                )
                .fetchone()
            )
        return int(row[0])

    # --- plumbing -------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._con is None:
            self.open()
        assert self._con is not None
        return self._con

    def _write(self, step: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            con = self._connection()
            try:
                with transaction(con):
                    return step(con)
            except sqlite3.Error as e:
                self._fail(e)
                raise

    def _fail(self, error: sqlite3.Error) -> None:
        """Close the connection through :func:`connect`, which turns an error the disk caused
        into a :class:`StoreError` saying what happened (and re-raises any other)."""
        stack, self._stack, self._con = self._stack, None, None
        if stack is not None:
            stack.__exit__(type(error), error, error.__traceback__)

    def _owned_update(
        self, assignments: str, values: tuple[Any, ...], owner: str, seqs: Sequence[int]
    ) -> int:
        if not seqs:
            return 0

        def step(con: sqlite3.Connection) -> int:
            before = con.total_changes
            for chunk in _chunks(list(seqs)):
                con.execute(
                    f"UPDATE monitor_records SET {assignments} WHERE seq IN ({', '.join('?' * len(chunk))}) "
                    "AND owner = ? AND state = 'claimed'",
                    (*values, *chunk, owner),
                )
            return con.total_changes - before

        return self._write(step)


def _chunks(items: list[int]) -> Iterator[list[int]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


# --- reading from any process ---------------------------------------------------------------


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A connection to read the monitor tables, or None when the store does not exist yet
    or predates them (a read-only older store is read as it is)."""
    with connect(path, write=False) as con:
        if con is None or con.execute("PRAGMA user_version").fetchone()[0] < MONITOR_VERSION:
            yield None
        else:
            yield con


def monitor_names(path: Path) -> list[str]:
    """The monitors a store holds records or a registration of, in name order.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     monitor_names(Path(tmp) / "runs.sqlite")  # no store yet: none, and nothing created
        []
    """
    with _reading(path) as con:
        if con is None:
            return []
        rows = con.execute(
            "SELECT name FROM monitors UNION SELECT DISTINCT monitor FROM monitor_records ORDER BY 1"
        ).fetchall()
    return [str(r[0]) for r in rows]


def read_monitor(path: Path, name: str) -> dict[str, Any] | None:
    """A monitor's registration (suite, version, fingerprint, suite_yaml, sample) and its
    record counts by state, or None when the store has neither for ``name``."""
    with _reading(path) as con:
        if con is None:
            return None
        row = con.execute(
            "SELECT suite, version, suite_fingerprint, suite_yaml, sample FROM monitors WHERE name = ?",
            (name,),
        ).fetchone()
        states = dict(
            con.execute(
                "SELECT state, count(*) FROM monitor_records WHERE monitor = ? GROUP BY state", (name,)
            ).fetchall()
        )
    if row is None and not states:
        return None
    out: dict[str, Any] = dict(
        zip(("suite", "version", "suite_fingerprint", "suite_yaml", "sample"), row or (None,) * 5)
    )
    out["counts"] = {s: int(states.get(s, 0)) for s in ("queued", "claimed", "done")}
    return out


def read_results(
    path: Path, name: str, since: float | None = None, until: float | None = None
) -> list[tuple[Any, ...]]:
    """The stored cells of monitor ``name``, in record time order: ``(record, time,
    *CELL_FIELDS, record latency_s)`` rows, records with ``since <= time < until``."""
    where, args = _time_filter("r.", name, since, until)
    with _reading(path) as con:
        if con is None:
            return []
        return con.execute(
            "SELECT r.record, r.time, "
            + ", ".join(f"r.{c}" for c in CELL_FIELDS)
            + ", m.latency_s FROM monitor_results r JOIN monitor_records m ON m.seq = r.seq "
            f"WHERE {where} ORDER BY r.time, r.seq, r.position",
            args,
        ).fetchall()


def read_records(
    path: Path,
    name: str,
    since: float | None = None,
    until: float | None = None,
    ids: Sequence[str] | None = None,
) -> list[tuple[Any, ...]]:
    """The persisted records of monitor ``name`` in time order: ``(id, time, data, tags,
    trace_id, latency_s, state, claims, attempts)`` rows."""
    where, args = _time_filter("", name, since, until)
    if ids is not None:
        ids = [str(i) for i in ids]
        if not ids:
            return []
    with _reading(path) as con:
        if con is None:
            return []
        columns = "id, time, data, tags, trace_id, latency_s, state, claims, attempts"
        if ids is None:
            return con.execute(
                f"SELECT {columns} FROM monitor_records WHERE {where} ORDER BY time, seq", args
            ).fetchall()
        rows: list[tuple[Any, ...]] = []
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            rows += con.execute(
                f"SELECT {columns}, seq FROM monitor_records WHERE {where} AND id IN "
                f"({', '.join('?' * len(chunk))})",
                (*args, *chunk),
            ).fetchall()
    return [r[:-1] for r in sorted(rows, key=lambda r: (r[1], r[-1]))]


def _time_filter(
    prefix: str, name: str, since: float | None, until: float | None
) -> tuple[str, tuple[Any, ...]]:
    where = [f"{prefix}monitor = ?"]
    args: list[str | float] = [name]
    if since is not None:
        where.append(f"{prefix}time >= ?")
        args.append(since)
    if until is not None:
        where.append(f"{prefix}time < ?")
        args.append(until)
    return " AND ".join(where), tuple(args)
