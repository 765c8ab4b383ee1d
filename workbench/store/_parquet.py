"""Runs whose results live in Parquet files beside the store: a run evaluated on a Dask
cluster writes one file per partition (from the workers, as each partition ends), and the
store keeps the run's row, its summary and the list of its files, so ``wb.runs`` lists it,
``wb.load_run`` loads it (results in the order a pandas run has) and ``compare`` and the
charts take it like any other.

The files are ``results/<run id>/part.NNNNNN.parquet`` in the store's folder, one per input
partition, each with the columns and dtypes of ``Run.results``. The store records each file's
row count, size and xxh3-128 digest, checked on every load (a file changed on disk is an
error, never different data). Its own table, created when the first such run is saved::

    CREATE TABLE IF NOT EXISTS parquet_results (
        run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        folder TEXT NOT NULL,   -- relative to the store's folder
        parts TEXT NOT NULL,    -- JSON: [[file name, rows, bytes, xxh3-128], ...] in partition order
        cells INTEGER NOT NULL
    )

The run's row in ``runs`` holds the empty results frame as its results blob: the dtypes and
categories every part is read back with.

Example:
    >>> import tempfile, pandas as pd, workbench as wb
    >>> from pathlib import Path
    >>> from workbench.store._parquet import read_part, write_part
    >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
    >>> results = wb.evaluate(pd.DataFrame({"x": [1, -2]}), suite, save=False).results
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     part = write_part(Path(tmp), 0, results)
    ...     read_part(Path(tmp) / part.name, results.iloc[:0]).equals(results), part.rows
    (True, 2)
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import StoreError
from ..run import Run
from . import _schema
from ._codec import encode_results
from ._open import connect, transaction
from ._record import Record, insert

__all__ = [
    "DDL",
    "RESULTS_FOLDER",
    "ParquetPart",
    "forget",
    "in_run_order",
    "new_run_id",
    "read_part",
    "read_parts",
    "register_parquet_run",
    "registered",
    "relabel",
    "remove_folder",
    "results_folder",
    "write_part",
]

RESULTS_FOLDER = "results"
"""The folder beside ``runs.sqlite`` that holds Parquet-backed runs, one sub-folder per run."""

DDL = """
CREATE TABLE IF NOT EXISTS parquet_results (
    run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    folder TEXT NOT NULL,
    parts TEXT NOT NULL,
    cells INTEGER NOT NULL
)
"""


@dataclass(frozen=True)
class ParquetPart:
    """One partition's results file, as the store records it."""

    name: str
    rows: int
    """Result rows (cells) in the file."""
    size: int
    """Bytes."""
    digest: str
    """xxh3-128 of the file's bytes."""


def new_run_id(started_at: datetime) -> str:
    """A run id in the store's form (``YYYYmmdd-HHMMSS-xxxxxxxx``: UTC start, random hex),
    chosen before the run is registered, since its workers write into its folder first.

    Example:
        >>> from datetime import datetime, timezone
        >>> new_run_id(datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc))[:16]
        '20261201-093000-'
    """
    t = started_at.astimezone(timezone.utc) if started_at.tzinfo else started_at.replace(tzinfo=timezone.utc)
    return f"{t:%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"


def results_folder(store_path: Path, run_id: str) -> Path:
    """Where the run ``run_id`` of the store file ``store_path`` keeps its Parquet files.

    Example:
        >>> from pathlib import Path
        >>> results_folder(Path("/data/.workbench/runs.sqlite"), "20261201-093000-ab12cd34").as_posix()
        '/data/.workbench/results/20261201-093000-ab12cd34'
    """
    return store_path.parent / RESULTS_FOLDER / run_id


def write_part(folder: Path, index: int, results: pd.DataFrame) -> ParquetPart:
    """Write one partition's results as ``part.NNNNNN.parquet`` in ``folder``, atomically (a
    partition rerun after a lost worker replaces the file, never half-writes it).

    Raises:
        StoreError: the results cannot be written as Parquet (a row label Arrow cannot hold).
        OSError: the folder cannot be written (the caller decides what that means).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    import xxhash

    folder.mkdir(parents=True, exist_ok=True)
    name = f"part.{index:06d}.parquet"
    try:
        table = pa.Table.from_pandas(results, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
        raise StoreError(
            f"partition {index}'s results cannot be written as Parquet ({type(e).__name__}: {e}); row labels "
            "must be numbers, strings or dates: give the Dask DataFrame such an index."
        ) from None
    tmp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
    try:
        pq.write_table(table, tmp, compression="zstd")
        data = tmp.read_bytes()
        os.replace(tmp, folder / name)
    finally:
        tmp.unlink(missing_ok=True)
    return ParquetPart(name=name, rows=len(results), size=len(data), digest=xxhash.xxh3_128_hexdigest(data))


def read_part(path: Path, like: pd.DataFrame) -> pd.DataFrame:
    """One results file, with the dtypes (and categories) of ``like``, the empty results frame.

    Example:
        >>> import tempfile, pandas as pd, workbench as wb
        >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="t", path="x", op="is_positive")])
        >>> r = wb.evaluate(pd.DataFrame({"x": [3]}), suite, save=False).results
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     p = write_part(Path(tmp), 7, r)
        ...     str(read_part(Path(tmp) / p.name, r.iloc[:0])["status"].dtype)
        'category'
    """
    import pyarrow.parquet as pq

    frame = pq.read_table(path).to_pandas()
    if list(frame.columns) != list(like.columns):
        raise StoreError(
            f"{path} holds columns {list(frame.columns)}, not a run's results {list(like.columns)}"
        )
    return _like(frame, like)


def _like(frame: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each column cast to ``meta``'s dtype (categories in meta's order)."""
    out = {}
    for name in meta.columns:
        col, want = frame[name], meta[name].dtype
        if col.dtype != want:
            col = col.astype(want)
        elif isinstance(want, pd.CategoricalDtype) and list(col.cat.categories) != list(want.categories):
            col = col.astype(want)  # pragma: no cover - equal dtypes have equal categories
        out[name] = col.reset_index(drop=True)
    like_meta: pd.DataFrame = pd.DataFrame(out, copy=False)
    return like_meta


def in_run_order(results: pd.DataFrame) -> pd.DataFrame:
    """Results gathered partition by partition, put in the order one pandas run gives them:
    task by task and criterion by criterion (in the order they ran), rows in input order.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="a", path="x", op="is_positive"),
        ...                                   wb.AssertionTask(id="b", path="x", op="lt", expected=2)])
        >>> df = pd.DataFrame({"x": [1, -2, 3]})
        >>> parts = [wb.evaluate(df.iloc[:2], suite, save=False).results,
        ...          wb.evaluate(df.iloc[2:], suite, save=False).results]
        >>> in_run_order(pd.concat(parts)).equals(wb.evaluate(df, suite, save=False).results)
        True
    """
    if results.empty:
        empty: pd.DataFrame = results.reset_index(drop=True)
        return empty
    tasks = results["task"].cat.codes.to_numpy(dtype=np.int64)
    criteria = results["criterion"].cat.codes.to_numpy(dtype=np.int64)
    # blocks are contiguous in every part and come in the same order in each: their first
    # appearance is the order they ran in
    blocks, _ = pd.factorize(tasks * (len(results["criterion"].cat.categories) + 1) + criteria)
    order = np.argsort(blocks, kind="stable")
    ordered: pd.DataFrame = results.take(order).reset_index(drop=True)
    return ordered


def read_parts(
    folder: Path, parts: list[ParquetPart], meta: pd.DataFrame, *, run_id: str = ""
) -> pd.DataFrame:
    """Every part of a run, checked against the store's record, as one frame in run order.

    Raises:
        StoreError: a file is missing, or its size or digest differs from what was saved.
    """
    import xxhash

    frames = []
    for part in parts:
        path = folder / part.name
        try:
            data = path.read_bytes()
        except OSError as e:
            raise _damaged(run_id, folder, f"{part.name} cannot be read ({type(e).__name__}: {e})") from None
        if len(data) != part.size or xxhash.xxh3_128_hexdigest(data) != part.digest:
            raise _damaged(run_id, folder, f"{part.name} differs from the file saved ({len(data):,} bytes)")
        frames.append(read_part(path, meta))
    if not frames:
        none: pd.DataFrame = meta.iloc[:0].reset_index(drop=True)
        return none
    return in_run_order(pd.concat(frames, ignore_index=True))


def _damaged(run_id: str, folder: Path, what: str) -> StoreError:
    return StoreError(
        f"run {run_id!r} keeps its results in Parquet files in {folder}, and {what}: the files were moved or "
        "changed on disk after the run was saved. Restore the folder, or delete the run "
        f"(wb.delete_run({run_id!r})) and evaluate again."
    )


def register_parquet_run(
    store_path: Path,
    run: Run,
    meta: pd.DataFrame,
    parts: list[ParquetPart],
    summary: pd.DataFrame,
    totals: dict[str, Any],
    label: str | None,
) -> str:
    """Register ``run`` (its id already chosen, its parts written in its results folder) in
    the store at ``store_path``, in one transaction: its row in ``runs`` (totals from the
    cluster's summary), its summary rows and its files. Returns the id.

    ``meta`` is the empty results frame (the dtypes); ``totals`` has ``rows`` and ``tokens``.
    """
    assert run.id is not None
    shell = Run(
        suite=run.suite,
        results=meta.iloc[:0],
        model=run.model,
        started_at=run.started_at,
        duration_s=run.duration_s,
        calls=run.calls,
        label=label,
        data_fingerprint=run.data_fingerprint,
        params=run.params,
    )
    record = Record.of(shell, label)
    judged = bool((summary["kind"] == "judge").any()) if len(summary) else False
    record.values.update(
        rows=int(totals["rows"]),
        cells=int(summary["n"].sum()) if len(summary) else 0,
        errors=int(summary["errors"].sum()) if len(summary) else 0,
        passed=int(summary["passed"].sum()) if len(summary) else 0,
        failed=int(summary["failed"].sum()) if len(summary) else 0,
        tokens=int(totals.get("tokens") or 0) if judged else 0,
    )
    record.summary = [
        tuple(_plain(x) for x in rec) for rec in summary[_schema.SUMMARY].itertuples(index=False)
    ]
    record.blob = encode_results(meta.iloc[:0])
    from ._codec import checksum

    record.values["checksum"] = checksum(record.blob, [record.values[c] for c in _schema.CHECKED])
    folder = results_folder(store_path, run.id)
    with connect(store_path, write=True) as con:
        assert con is not None
        with transaction(con):
            con.execute(DDL)
            if con.execute("SELECT 1 FROM runs WHERE id = ?", (run.id,)).fetchone():
                raise StoreError(f"a run with id {run.id!r} is already in the store at {store_path}")
            insert(con, run.id, record)
            con.execute(
                "INSERT INTO parquet_results (run_id, folder, parts, cells) VALUES (?, ?, ?, ?)",
                (
                    run.id,
                    os.path.relpath(folder, store_path.parent),
                    json.dumps([[p.name, p.rows, p.size, p.digest] for p in parts]),
                    int(sum(p.rows for p in parts)),
                ),
            )
    run.label = label
    return run.id


def relabel(store_path: Path, run_id: str, label: str | None) -> bool:
    """Give the saved run ``run_id`` a new label; False when the store does not hold it."""
    if not store_path.exists():
        return False
    with connect(store_path, write=True) as con:
        assert con is not None
        with transaction(con):
            return con.execute("UPDATE runs SET label = ? WHERE id = ?", (label, run_id)).rowcount > 0


def registered(
    con: sqlite3.Connection, store_path: Path, run_id: str
) -> tuple[Path, list[ParquetPart]] | None:
    """The folder and parts of a Parquet-backed run, or None for a run stored whole."""
    if not _has_table(con):
        return None
    row = con.execute("SELECT folder, parts FROM parquet_results WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        return None
    folder = Path(row[0])
    folder = folder if folder.is_absolute() else store_path.parent / folder
    return folder, [
        ParquetPart(name=n, rows=int(r), size=int(s), digest=d) for n, r, s, d in json.loads(row[1])
    ]


def forget(con: sqlite3.Connection, store_path: Path, run_id: str) -> Path | None:
    """Drop a run's file list (inside the caller's transaction); returns its folder, which the
    caller removes once the transaction is committed."""
    found = registered(con, store_path, run_id)
    if found is None:
        return None
    con.execute("DELETE FROM parquet_results WHERE run_id = ?", (run_id,))
    return found[0]


def remove_folder(folder: Path | None) -> None:
    """Remove a deleted run's results folder (a folder already gone is fine)."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _has_table(con: sqlite3.Connection) -> bool:
    return (
        con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'parquet_results'"
        ).fetchone()
        is not None
    )


def _plain(x: Any) -> Any:
    if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)):
        return None
    return x.item() if isinstance(x, np.generic) else x
