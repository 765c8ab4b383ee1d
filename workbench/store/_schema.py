"""The store's SQLite schema, how a file is recognised, and migrations from older layouts.

A store is marked by ``PRAGMA application_id`` and versioned by ``PRAGMA user_version``.

* Version 0 (the first layout): one ``runs`` table ``(id, label, suite_yaml, model,
  started_at, duration_s, results)`` with the results as an uncompressed Arrow IPC stream
  of ``pa.Table.from_pandas(results)``, no application id.
* Version 1: suite name/version/fingerprints, parameters, totals and call counts as columns;
  results in their own table (compressed, split in parts below SQLite's blob limit); each
  run's summary in ``summaries`` so trends need no results read.
* Version 2: ``runs.checksum``, the :func:`~workbench.store._codec.checksum` of the results
  and of the :data:`CHECKED` fields, verified on every load. Migrating a version 1 store
  computes it for the runs already there (one read of every blob, once): from then on a
  change on disk is caught, though one made before the migration cannot be.
* Version 3: the tables of online evaluation (:mod:`workbench.monitor`): ``monitors`` (one
  row per monitor name: its suite and sampling), ``monitor_records`` (every persisted record:
  its context, its claim by a worker and its lease) and ``monitor_results`` (the cells of
  each evaluated record, one row per cell). Migrating a version 2 store adds them empty.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..files import disk_problem
from ..results import SUMMARY_COLUMNS
from ._codec import checksum

__all__ = [
    "ALERTS_DDL",
    "APPLICATION_ID",
    "CHECKED",
    "LABELS_DDL",
    "MONITOR_DDL",
    "SCHEMA_VERSION",
    "check",
    "create",
    "migrate",
]

APPLICATION_ID = 0x77627273  # b"wbrs"
SCHEMA_VERSION = 3

CHECKED = ["suite_yaml", "model", "started_at", "duration_s", "calls_json", "data_fingerprint", "params"]
"""The columns of ``runs`` that a load returns besides the results, covered by the checksum
(the label is not: saving a run again may change it)."""

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
SUMMARY = list(SUMMARY_COLUMNS)

_RUNS_DDL = """
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
    workbench_version TEXT NOT NULL,
    checksum TEXT
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

MONITOR_DDL = """
CREATE TABLE IF NOT EXISTS monitors (
    name TEXT PRIMARY KEY,
    suite TEXT NOT NULL,
    version TEXT NOT NULL,
    suite_fingerprint TEXT NOT NULL,
    suite_yaml TEXT NOT NULL,
    sample TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_records (
    seq INTEGER PRIMARY KEY,
    monitor TEXT NOT NULL,
    id TEXT NOT NULL,
    time REAL NOT NULL,
    data BLOB NOT NULL,
    tags TEXT,
    trace_id TEXT,
    latency_s REAL,
    tasks TEXT,
    state TEXT NOT NULL DEFAULT 'queued',
    owner TEXT,
    lease_until REAL,
    not_before REAL NOT NULL DEFAULT 0,
    claims INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    persisted_at REAL NOT NULL,
    done_at REAL,
    UNIQUE (monitor, id)
);
CREATE INDEX IF NOT EXISTS monitor_records_open ON monitor_records (monitor, seq) WHERE state != 'done';
CREATE INDEX IF NOT EXISTS monitor_records_by_time ON monitor_records (monitor, time);
CREATE TABLE IF NOT EXISTS monitor_results (
    monitor TEXT NOT NULL,
    record TEXT NOT NULL,
    seq INTEGER NOT NULL,
    position INTEGER NOT NULL,
    time REAL NOT NULL,
    task TEXT NOT NULL,
    criterion TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    passed INTEGER,
    score REAL,
    label TEXT,
    reason TEXT,
    error TEXT,
    cached INTEGER NOT NULL,
    tokens INTEGER,
    cost_usd REAL,
    latency_s REAL,
    PRIMARY KEY (monitor, record, task, criterion)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS monitor_results_by_time ON monitor_results (monitor, time, seq, position);
"""
"""The tables of online evaluation (version 3). A record is ``queued`` until a worker claims
it (``claimed``, ``owner``, ``lease_until``), then ``done`` once its cells are committed in
the same transaction that marks it; a claim whose lease ran out is taken again. One results
row per (monitor, record, task, criterion): a record's cells can never be stored twice."""

ALERTS_DDL = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    rule TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    incident INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    value REAL,
    bound REAL NOT NULL,
    window TEXT NOT NULL,
    time TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (name, time);
CREATE TABLE IF NOT EXISTS alert_records (
    alert_id INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (alert_id, position)
);
CREATE INDEX IF NOT EXISTS alert_records_by_record ON alert_records (record);
CREATE TABLE IF NOT EXISTS alert_rules (
    name TEXT NOT NULL,
    rule TEXT NOT NULL,
    incident INTEGER,
    clear_since INTEGER,
    PRIMARY KEY (name, rule)
);
CREATE TABLE IF NOT EXISTS alert_tallies (
    name TEXT NOT NULL,
    target TEXT NOT NULL,
    record TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time INTEGER NOT NULL,
    cells INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    decided INTEGER NOT NULL,
    scored INTEGER NOT NULL,
    score_sum REAL NOT NULL,
    value REAL,
    PRIMARY KEY (name, target, record)
);
CREATE INDEX IF NOT EXISTS alert_tallies_by_seq ON alert_tallies (name, target, seq);
CREATE INDEX IF NOT EXISTS alert_tallies_by_time ON alert_tallies (name, target, time);
"""
"""The alert tables. ``alert_tallies.seq`` numbers the records of one name in the order they
were observed (one transaction at a time, so every process sees one order); ``alert_rules``
and ``alert_tallies`` hold times as integer microseconds since the epoch (UTC), compared in
every window query; ``alerts.time`` is ISO 8601 text like the runs' times."""

LABELS_DDL = """
CREATE TABLE IF NOT EXISTS labels (
    suite TEXT NOT NULL,
    task TEXT NOT NULL,
    criterion TEXT NOT NULL,
    row TEXT NOT NULL,
    annotator TEXT NOT NULL,
    criterion_fingerprint TEXT NOT NULL,
    criterion_text TEXT NOT NULL,
    score REAL,
    label TEXT,
    passed INTEGER,
    note TEXT,
    labelled_at TEXT NOT NULL,
    PRIMARY KEY (suite, task, criterion, row, annotator, criterion_fingerprint)
);
CREATE INDEX IF NOT EXISTS labels_by_time ON labels (suite, labelled_at);
"""
"""The labels table (fold into the schema's migration as is: every statement is idempotent)."""

_DDL = _RUNS_DDL + MONITOR_DDL + ALERTS_DDL + LABELS_DDL


def check(con: sqlite3.Connection, path: Path) -> int | None:
    """The schema version of the open file: ``None`` for an empty file (no store yet), the
    version for a workbench store, or a :class:`StoreError` for anything else.

    The id, the version and the tables are read in one snapshot: read one by one, a
    store another process is creating at that moment looks like a foreign file (no
    application id yet, tables already there).
    """
    own = not con.in_transaction
    try:
        if own:
            con.execute("BEGIN")
        app = con.execute("PRAGMA application_id").fetchone()[0]
        version = con.execute("PRAGMA user_version").fetchone()[0]
        tables = sorted(
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        )
        columns = [r[1] for r in con.execute("PRAGMA table_info(runs)")] if tables == ["runs"] else []
        if own:
            con.execute("COMMIT")
    except sqlite3.DatabaseError as e:
        if own and con.in_transaction:
            con.execute("ROLLBACK")
        if disk_problem(e) not in (None, "damaged"):
            raise  # full, read-only, locked, failing: the caller says which, for this file
        raise unreadable(path, e) from None
    if app == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the run store at {path} has schema version {version}, written by a newer workbench; this "
                f"workbench knows versions up to {SCHEMA_VERSION}. Upgrade workbench (pip install -U "
                "workbench) to read it, or pass store= another path to start a separate store."
            )
        return int(version)
    if app == 0 and not tables:
        return None
    if app == 0 and columns == V0_COLUMNS:
        return 0
    raise StoreError(
        f"{path} is an SQLite file but not a workbench run store (application id {app:#x}, tables "
        f"{tables[:10]}); workbench will not write into it. Pass store= another path (a directory or a "
        ".sqlite file of its own)."
    )


def unreadable(path: Path, e: sqlite3.DatabaseError) -> StoreError:
    """The message for a file SQLite cannot read: not a database at all, a damaged one, or
    a disk that fails; never advice to move a good store away."""
    text = str(e)
    if "not a database" in text:
        return StoreError(
            f"{path} is not a workbench run store: SQLite cannot read it as a database ({text}). Pass "
            "store= another path (a directory or a .sqlite file); this file was left as it is."
        )
    if disk_problem(e) == "damaged":
        return StoreError(
            f"the run store at {path} is damaged: SQLite reports {text!r}. Keep the file (the sqlite3 "
            f"tool's .recover command may save its runs: sqlite3 {path} .recover > recovered.sql) and "
            "pass store= another path to go on saving runs."
        )
    return StoreError(
        f"the run store at {path} cannot be read: SQLite reports {text!r} (the disk or the file "
        "system failed). Check the disk, or pass store= another path."
    )


def create(con: sqlite3.Connection) -> None:
    """Create the current schema (inside the caller's transaction)."""
    _execute_all(con, _DDL)
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def migrate(con: sqlite3.Connection, version: int, insert: Any) -> None:
    """Bring a store from ``version`` to :data:`SCHEMA_VERSION` inside the caller's
    transaction. ``insert(con, run)`` writes one run in the current layout."""
    if version == 0:
        _from_v0(con, insert)  # rebuilt in the current layout: nothing else to do
    else:
        if version == 1:
            _from_v1(con)
        if version <= 2:
            _from_v2(con)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _from_v2(con: sqlite3.Connection) -> None:
    """Add the (empty) tables of online evaluation, alerts and labels; the runs are untouched."""
    _execute_all(con, MONITOR_DDL + ALERTS_DDL + LABELS_DDL)


def _execute_all(con: sqlite3.Connection, ddl: str) -> None:
    for statement in ddl.split(";"):
        if statement.strip():
            con.execute(statement)


def _from_v1(con: sqlite3.Connection) -> None:
    """Add ``runs.checksum`` and compute it for every run already stored, one run at a time
    (a store can hold gigabytes of results: never all in memory at once)."""
    con.execute("ALTER TABLE runs ADD COLUMN checksum TEXT")
    for (run_id,) in con.execute("SELECT id FROM runs").fetchall():
        fields = con.execute(f"SELECT {', '.join(CHECKED)} FROM runs WHERE id = ?", (run_id,)).fetchone()
        blob = b"".join(
            p[0] for p in con.execute("SELECT data FROM results WHERE run_id = ? ORDER BY part", (run_id,))
        )
        con.execute("UPDATE runs SET checksum = ? WHERE id = ?", (checksum(blob, fields), run_id))


def _from_v0(con: sqlite3.Connection, insert: Any) -> None:
    import pyarrow as pa

    from ..run import Run
    from ..specs import Suite
    from ._time import parse_time

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
