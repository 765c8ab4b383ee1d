"""Batch mode's records in the run store: the jobs (what a batch-mode run was given, so any
process can resume it), the provider batches they submitted, and the cells each batch covers.

The tables are created with ``CREATE TABLE IF NOT EXISTS`` on first use (:data:`BATCH_DDL`),
through the store's own connection helpers: WAL mode, the write lock taken up front, disk
errors as :class:`~workbench.StoreError` messages. A batch is written in one transaction with
every cell it covers, right after the provider accepted it, so a process killed a moment later
leaves a record another process picks up instead of submitting again.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = Path(tmp.name) / "runs.sqlite"
    >>> record_batch(path, BatchRow(id="batch_1", job="j1", provider="openai", model="openai/m",
    ...              input_file="file-1", requests=2), [("wb-a", "a"), ("wb-b", "b")])
    >>> sorted(covering(path, ["a", "b", "c"]))
    ['a', 'b']
    >>> covering(path, ["a"])["a"].batch.status
    'submitted'
    >>> tmp.cleanup()
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._open import connect, transaction

__all__ = [
    "BATCH_DDL",
    "FINISHED",
    "BatchRow",
    "CellCover",
    "JobRow",
    "adopt_claim",
    "batch_row",
    "batch_rows",
    "claim_batch",
    "covering",
    "drop_claim",
    "find_job",
    "finish_job",
    "job_batches",
    "load_job",
    "mark_lines",
    "pending_jobs",
    "record_batch",
    "record_job",
    "stamp",
    "update_batch",
]

BATCH_DDL = """
CREATE TABLE IF NOT EXISTS batch_jobs (
    id TEXT PRIMARY KEY,
    identity TEXT NOT NULL,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL,
    suite_yaml TEXT NOT NULL,
    model TEXT,
    params TEXT NOT NULL,
    inputs BLOB NOT NULL,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS batch_jobs_by_identity ON batch_jobs (identity, state);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    job TEXT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input_file TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT,
    requests INTEGER NOT NULL,
    completed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    output_file TEXT,
    error_file TEXT,
    message TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_by_job ON batches (job);
CREATE TABLE IF NOT EXISTS batch_cells (
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE ON UPDATE CASCADE,
    custom_id TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    outcome TEXT,
    error TEXT,
    PRIMARY KEY (batch_id, custom_id)
);
CREATE INDEX IF NOT EXISTS batch_cells_by_key ON batch_cells (cache_key);
"""
"""The batch tables, created on first use in any store (a schema migration may fold them in:
every statement is idempotent)."""

FINISHED = frozenset({"completed", "failed", "expired", "cancelled"})
"""Provider batch statuses after which nothing more happens to a batch."""


@dataclass(frozen=True, kw_only=True)
class BatchRow:
    """One provider batch as the store keeps it."""

    id: str
    """The provider's batch id."""
    job: str | None
    """The batch-mode run (job) that submitted it."""
    provider: str
    model: str
    input_file: str
    requests: int
    status: str = "submitted"
    """``submitted`` until first polled, then the provider's status (``validating``,
    ``in_progress``, ``finalizing``, ``completed``, ``failed``, ``expired``, ``cancelling``,
    ``cancelled``)."""
    completed: int = 0
    failed: int = 0
    output_file: str | None = None
    error_file: str | None = None
    message: str | None = None
    """The provider's reason when the whole batch failed."""
    created_at: str = ""
    updated_at: str = ""
    owner: str | None = None
    """For a claim (status ``submitting``): ``host:pid`` of the process submitting it."""


@dataclass(frozen=True, kw_only=True)
class CellCover:
    """The newest batch that covers one cache key, and what became of that key's line."""

    batch: BatchRow
    custom_id: str
    outcome: str | None
    """``ok`` (its reply was read and cached), ``failed`` (the provider failed or expired the
    line), or None (not read yet)."""
    error: str | None


@dataclass(frozen=True, kw_only=True)
class JobRow:
    """A batch-mode run: what it was given, so that any process can run it again."""

    id: str
    identity: str
    state: str
    """``pending`` until its run has every cell, then ``done``."""
    suite_yaml: str
    model: str | None
    params: dict[str, Any]
    inputs: bytes
    created_at: str


_PENDING_JOB = (
    "SELECT id FROM batch_jobs WHERE identity = ? AND state = 'pending' ORDER BY created_at DESC LIMIT 1"
)


def stamp() -> str:
    """Now, as the store writes times (ISO 8601, UTC, microseconds: they sort as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


_now = stamp


def _ensure(con: sqlite3.Connection) -> None:
    for statement in BATCH_DDL.split(";"):
        if statement.strip():
            con.execute(statement)


def _has_tables(con: sqlite3.Connection) -> bool:
    return (
        con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'batches'").fetchone()
        is not None
    )


_BATCH_COLUMNS = (
    "id, job, provider, model, input_file, status, requests, completed, failed, output_file, error_file, "
    "message, created_at, updated_at, owner"
)


def _batch(row: Sequence[Any]) -> BatchRow:
    names = [c.strip() for c in _BATCH_COLUMNS.split(",")]
    return BatchRow(**dict(zip(names, row)))


# --- jobs -----------------------------------------------------------------------------------


def record_job(path: Path, job_id: str, identity: str, suite_yaml: str, model: str | None,
               params: dict[str, Any], inputs: bytes) -> str:  # fmt: skip
    """Record a job, or return the id of the pending job with the same ``identity`` (the same
    suite, rows and judge options: a second ``evaluate`` of the same run resumes the first)."""
    with connect(path, write=True) as con:
        assert con is not None
        _ensure(con)
        with transaction(con):
            hit = con.execute(
                _PENDING_JOB,
                (identity,),
            ).fetchone()
            if hit:
                return str(hit[0])
            con.execute(
                "INSERT INTO batch_jobs (id, identity, created_at, state, suite_yaml, model, params, inputs) "
                "VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)",
                (job_id, identity, _now(), suite_yaml, model, json.dumps(params, default=str), inputs),
            )
    return job_id


def find_job(path: Path, identity: str) -> str | None:
    """The pending job with this identity, if any."""
    with connect(path, write=False) as con:
        if con is None or not _has_tables(con):
            return None
        hit = con.execute(
            _PENDING_JOB,
            (identity,),
        ).fetchone()
    return None if hit is None else str(hit[0])


def load_job(path: Path, job_id: str) -> JobRow | None:
    """The job with this id (or a unique prefix of it), or None."""
    with connect(path, write=False) as con:
        if con is None or not _has_tables(con):
            return None
        cols = "id, identity, state, suite_yaml, model, params, inputs, created_at"
        row = con.execute(f"SELECT {cols} FROM batch_jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None and len(job_id) >= 4:
            hits = con.execute(
                f"SELECT {cols} FROM batch_jobs WHERE id LIKE ? LIMIT 2", (job_id + "%",)
            ).fetchall()
            row = hits[0] if len(hits) == 1 else None
    if row is None:
        return None
    jid, identity, state, suite_yaml, model, params, inputs, created = row
    return JobRow(
        id=jid,
        identity=identity,
        state=state,
        suite_yaml=suite_yaml,
        model=model,
        params=json.loads(params),
        inputs=bytes(inputs),
        created_at=created,
    )


def finish_job(path: Path, job_id: str) -> bool:
    """Mark a job done: its run has every cell (a later identical ``evaluate`` is a new job).
    True for the one caller that finished it (two runs of the same job at once: the other
    gets False, and its run an id of its own)."""
    with connect(path, write=True) as con:
        assert con is not None
        _ensure(con)
        with transaction(con):
            done = con.execute(
                "UPDATE batch_jobs SET state = 'done', finished_at = ? WHERE id = ? AND state = 'pending'",
                (_now(), job_id),
            )
            return done.rowcount == 1


def pending_jobs(path: Path) -> list[str]:
    """Ids of the jobs still pending, newest first."""
    with connect(path, write=False) as con:
        if con is None or not _has_tables(con):
            return []
        rows = con.execute(
            "SELECT id FROM batch_jobs WHERE state = 'pending' ORDER BY created_at DESC"
        ).fetchall()
    return [str(r[0]) for r in rows]


# --- batches and their cells ----------------------------------------------------------------


def record_batch(path: Path, batch: BatchRow, cells: Iterable[tuple[str, str]]) -> None:
    """Write a submitted batch and every ``(custom_id, cache_key)`` it covers, in one transaction."""
    now = _now()
    with connect(path, write=True) as con:
        assert con is not None
        _ensure(con)
        with transaction(con):
            con.execute(
                f"INSERT INTO batches ({_BATCH_COLUMNS}) VALUES ({', '.join('?' * 15)})",
                (
                    batch.id,
                    batch.job,
                    batch.provider,
                    batch.model,
                    batch.input_file,
                    batch.status,
                    batch.requests,
                    batch.completed,
                    batch.failed,
                    batch.output_file,
                    batch.error_file,
                    batch.message,
                    batch.created_at or now,
                    now,
                    batch.owner,
                ),
            )
            con.executemany(
                "INSERT INTO batch_cells (batch_id, custom_id, cache_key) VALUES (?, ?, ?)",
                [(batch.id, custom_id, key) for custom_id, key in cells],
            )


def claim_batch(
    path: Path, claim: BatchRow, cells: Sequence[tuple[str, str]], since: str
) -> dict[str, BatchRow]:
    """Claim ``cells`` for a batch about to be submitted: one transaction writes the claim (a
    batch row with status ``submitting``) with every cell no other process covered after
    ``since`` (the time the caller read the covers); those others are returned, by cache key,
    with the batch that took them. Two processes submitting the same run at once so submit
    each call once."""
    taken: dict[str, BatchRow] = {}
    with connect(path, write=True) as con:
        assert con is not None
        _ensure(con)
        with transaction(con):
            keys = [k for _, k in cells]
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows = con.execute(
                    f"SELECT c.cache_key, {', '.join('b.' + c.strip() for c in _BATCH_COLUMNS.split(','))} "
                    "FROM batch_cells c JOIN batches b ON b.id = c.batch_id "
                    f"WHERE c.cache_key IN ({', '.join('?' * len(chunk))}) AND b.created_at > ? "
                    "AND (c.outcome IS NULL OR c.outcome = 'ok') ORDER BY b.created_at, b.rowid",
                    (*chunk, since),
                ).fetchall()
                for key, *batch in rows:
                    taken[key] = _batch(batch)
            mine = [(custom_id, key) for custom_id, key in cells if key not in taken]
            if mine:
                now = _now()
                con.execute(
                    f"INSERT INTO batches ({_BATCH_COLUMNS}) VALUES ({', '.join('?' * 15)})",
                    (claim.id, claim.job, claim.provider, claim.model, claim.input_file, "submitting",
                     len(mine), 0, 0, None, None, None, now, now, claim.owner),
                )  # fmt: skip
                con.executemany(
                    "INSERT INTO batch_cells (batch_id, custom_id, cache_key) VALUES (?, ?, ?)",
                    [(claim.id, custom_id, key) for custom_id, key in mine],
                )
    return taken


def adopt_claim(path: Path, claim_id: str, batch_id: str, input_file: str, status: str) -> None:
    """The provider accepted a claimed batch: the claim becomes that batch (its cells follow)."""
    with connect(path, write=True) as con:
        assert con is not None
        _ensure(con)
        with transaction(con):
            con.execute(
                "UPDATE batches SET id = ?, input_file = ?, status = ?, owner = NULL, updated_at = ? "
                "WHERE id = ?",
                (batch_id, input_file, status, _now(), claim_id),
            )


def drop_claim(path: Path, claim_id: str) -> None:
    """Forget a claim whose batch was never created (its cells are free again)."""
    with connect(path, write=True) as con:
        assert con is not None
        _ensure(con)
        with transaction(con):
            con.execute("DELETE FROM batch_cells WHERE batch_id = ?", (claim_id,))
            con.execute("DELETE FROM batches WHERE id = ?", (claim_id,))


def batch_row(path: Path, batch_id: str) -> BatchRow | None:
    """One batch (or claim) as the store has it now, or None."""
    with connect(path, write=False) as con:
        if con is None or not _has_tables(con):
            return None
        row = con.execute(f"SELECT {_BATCH_COLUMNS} FROM batches WHERE id = ?", (batch_id,)).fetchone()
    return None if row is None else _batch(row)


def update_batch(
    path: Path,
    batch_id: str,
    *,
    status: str,
    completed: int,
    failed: int,
    output_file: str | None,
    error_file: str | None,
    message: str | None = None,
) -> None:
    """Keep a batch's latest status and counts as the provider reported them."""
    with connect(path, write=True) as con:
        assert con is not None
        _ensure(con)
        with transaction(con):
            con.execute(
                "UPDATE batches SET status = ?, completed = ?, failed = ?, output_file = ?, error_file = ?, "
                "message = COALESCE(?, message), updated_at = ? WHERE id = ?",
                (status, completed, failed, output_file, error_file, message, _now(), batch_id),
            )


def mark_lines(path: Path, batch_id: str, outcomes: Sequence[tuple[str, str, str | None]]) -> None:
    """Record what became of lines: ``(custom_id, "ok" | "failed", error message or None)``."""
    if not outcomes:
        return
    with connect(path, write=True) as con:
        assert con is not None
        _ensure(con)
        with transaction(con):
            con.executemany(
                "UPDATE batch_cells SET outcome = ?, error = ? WHERE batch_id = ? AND custom_id = ?",
                [(outcome, error, batch_id, custom_id) for custom_id, outcome, error in outcomes],
            )


def covering(path: Path, keys: Sequence[str]) -> dict[str, CellCover]:
    """For each of ``keys`` that some batch covers: the newest such batch and its line's outcome."""
    if not keys:
        return {}
    with connect(path, write=False) as con:
        if con is None or not _has_tables(con):
            return {}
        out: dict[str, CellCover] = {}
        batches: dict[str, BatchRow] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            rows = con.execute(
                "SELECT c.cache_key, c.custom_id, c.outcome, c.error, b.id, b.created_at FROM batch_cells c "
                f"JOIN batches b ON b.id = c.batch_id WHERE c.cache_key IN ({', '.join('?' * len(chunk))}) "
                "ORDER BY b.created_at, b.rowid",
                chunk,
            ).fetchall()
            for key, custom_id, outcome, error, batch_id, _ in rows:
                if batch_id not in batches:
                    found = con.execute(
                        f"SELECT {_BATCH_COLUMNS} FROM batches WHERE id = ?", (batch_id,)
                    ).fetchone()
                    batches[batch_id] = _batch(found)
                # the newest batch wins: rows come oldest first
                out[key] = CellCover(
                    batch=batches[batch_id], custom_id=custom_id, outcome=outcome, error=error
                )
    return out


def job_batches(path: Path, job_id: str) -> list[BatchRow]:
    """The batches a job submitted, oldest first."""
    with connect(path, write=False) as con:
        if con is None or not _has_tables(con):
            return []
        rows = con.execute(
            f"SELECT {_BATCH_COLUMNS} FROM batches WHERE job = ? ORDER BY created_at, rowid", (job_id,)
        ).fetchall()
    return [_batch(r) for r in rows]


def batch_rows(path: Path, *, open_only: bool = False) -> list[BatchRow]:
    """Every batch in the store (or only those not finished), newest first."""
    with connect(path, write=False) as con:
        if con is None or not _has_tables(con):
            return []
        where = f"WHERE status NOT IN ({', '.join('?' * len(FINISHED))})" if open_only else ""
        rows = con.execute(
            f"SELECT {_BATCH_COLUMNS} FROM batches {where} ORDER BY created_at DESC, rowid DESC",
            tuple(sorted(FINISHED)) if open_only else (),
        ).fetchall()
    return [_batch(r) for r in rows]
