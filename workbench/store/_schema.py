"""The store's SQLite schema, how a file is recognised, and migrations from older layouts.

A store is marked by ``PRAGMA application_id`` and versioned by ``PRAGMA user_version``.

* Version 0 (the first layout): one ``runs`` table ``(id, label, suite_yaml, model,
  started_at, duration_s, results)`` with the results as an uncompressed Arrow IPC stream
  of ``pa.Table.from_pandas(results)``, no application id.
* Version 1: suite name/version/fingerprints, parameters, totals and call counts as columns;
  results in their own table (compressed, split in parts below SQLite's blob limit); each
  run's summary in ``summaries`` so trends need no results read.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from ..errors import StoreError

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "check", "create", "migrate"]

APPLICATION_ID = 0x77627273  # b"wbrs"
SCHEMA_VERSION = 1

V0_COLUMNS = ["id", "label", "suite_yaml", "model", "started_at", "duration_s", "results"]

TOTALS = [
    "rows",
    "cells",
    "calls",
    "cache_hits",
    "errors",
    "tokens",
    "cost_usd",
    "saved_usd",
    "passed",
    "failed",
]
SUMMARY = [
    "task",
    "criterion",
    "kind",
    "n",
    "mean",
    "pass_rate",
    "pass_rate_low",
    "pass_rate_high",
    "passed",
    "failed",
    "errors",
    "skipped",
    "scored",
]

_DDL = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    label TEXT,
    suite TEXT NOT NULL,
    version TEXT NOT NULL,
    suite_fingerprint TEXT NOT NULL,
    suite_yaml TEXT NOT NULL,
    data_fingerprint TEXT,
    model TEXT,
    params TEXT NOT NULL DEFAULT '{}',
    calls_json TEXT NOT NULL DEFAULT '{}',
    started_at TEXT NOT NULL,
    duration_s REAL NOT NULL,
    rows INTEGER NOT NULL,
    cells INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    cache_hits INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    tokens INTEGER,
    cost_usd REAL,
    saved_usd REAL,
    passed INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    saved_at TEXT NOT NULL,
    workbench_version TEXT NOT NULL
);
CREATE INDEX runs_by_time ON runs (started_at);
CREATE INDEX runs_by_label ON runs (label, started_at);
CREATE TABLE results (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    part INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, part)
);
CREATE TABLE summaries (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    task TEXT NOT NULL,
    criterion TEXT NOT NULL,
    kind TEXT NOT NULL,
    n INTEGER NOT NULL,
    mean REAL,
    pass_rate REAL,
    pass_rate_low REAL,
    pass_rate_high REAL,
    passed INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    skipped INTEGER NOT NULL,
    scored INTEGER NOT NULL,
    PRIMARY KEY (run_id, position)
);
"""


def check(con: sqlite3.Connection, path: Path) -> int | None:
    """The schema version of the open file: ``None`` for an empty file (no store yet), the
    version for a workbench store, or a :class:`StoreError` for anything else."""
    try:
        app = con.execute("PRAGMA application_id").fetchone()[0]
        version = con.execute("PRAGMA user_version").fetchone()[0]
        tables = sorted(
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        )
    except sqlite3.DatabaseError as e:
        raise StoreError(
            f"{path} is not a workbench run store: SQLite cannot read it ({e}). Pass store= another path "
            "(a directory or a .sqlite file), or move this file away."
        ) from None
    if app == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the run store at {path} has schema version {version}, written by a newer workbench; this "
                f"workbench knows versions up to {SCHEMA_VERSION}. Upgrade workbench (pip install -U "
                "workbench) to read it, or pass store= another path to start a separate store."
            )
        return version
    if app == 0 and not tables:
        return None
    if app == 0 and tables == ["runs"]:
        columns = [r[1] for r in con.execute("PRAGMA table_info(runs)")]
        if columns == V0_COLUMNS:
            return 0
    raise StoreError(
        f"{path} is an SQLite file but not a workbench run store (application id {app:#x}, tables "
        f"{tables[:10]}); workbench will not write into it. Pass store= another path (a directory or a "
        ".sqlite file of its own)."
    )


def create(con: sqlite3.Connection) -> None:
    """Create the current schema (inside the caller's transaction)."""
    for statement in _DDL.split(";"):
        if statement.strip():
            con.execute(statement)
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def migrate(con: sqlite3.Connection, version: int, insert: Any) -> None:
    """Bring a store from ``version`` to :data:`SCHEMA_VERSION` inside the caller's
    transaction. ``insert(con, run)`` writes one run in the current layout."""
    if version == 0:
        _from_v0(con, insert)
        version = 1
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _from_v0(con: sqlite3.Connection, insert: Any) -> None:
    import pyarrow as pa

    from ..run import Run
    from ..specs import Suite
    from ._store import parse_time

    old = con.execute(f"SELECT {', '.join(V0_COLUMNS)} FROM runs ORDER BY started_at, rowid").fetchall()
    con.execute("ALTER TABLE runs RENAME TO runs_v0")
    create(con)
    for run_id, label, suite_yaml, model, started_at, duration_s, blob in old:
        results = pa.ipc.open_stream(pa.py_buffer(blob)).read_all().to_pandas()
        run = Run(
            suite=Suite.from_yaml(suite_yaml),
            results=results,
            model=model,
            started_at=parse_time(started_at),
            duration_s=float(duration_s),
            id=run_id,
            label=label,
        )
        insert(con, run)
    con.execute("DROP TABLE runs_v0")
