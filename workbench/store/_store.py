"""The run store: every run in one embedded SQLite file, safe for several writers."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import StoreError, StoreWarning, UnknownRunError, cap_list, did_you_mean
from ..run import Run
from ..specs import Suite
from . import _schema
from ._codec import decode_results
from ._record import Record, insert

__all__ = ["Store", "delete_run", "load_run", "runs", "save_or_warn", "save_run"]

_BUSY_S = 60.0
"""How long a writer waits for another one to finish its transaction."""
_RUN_COLUMNS = [
    "id",
    "label",
    "suite",
    "version",
    "suite_fingerprint",
    "data_fingerprint",
    "model",
    "started_at",
    "duration_s",
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
_STRINGS = ["id", "label", "suite", "version", "suite_fingerprint", "data_fingerprint", "model"]
_INTS = ["rows", "cells", "calls", "cache_hits", "errors", "passed", "failed"]


def default_path() -> Path:
    """``$WORKBENCH_HOME/runs.sqlite``, else ``.workbench/runs.sqlite`` in the working directory.

    Example:
        >>> import os
        >>> path = default_path()
        >>> path.name, path.parent == Path(os.environ.get("WORKBENCH_HOME") or ".workbench").absolute()
        ('runs.sqlite', True)
    """
    home = os.environ.get("WORKBENCH_HOME")
    return (Path(home).expanduser() if home else Path.cwd() / ".workbench").absolute() / "runs.sqlite"


def parse_time(text: str) -> datetime:
    t = datetime.fromisoformat(text)
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def _utc(t: datetime) -> datetime:
    return t.astimezone(timezone.utc) if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


class Store:
    """The run store: an embedded SQLite database holding every saved run.

    Args:
        path: ``None`` for the default (``$WORKBENCH_HOME/runs.sqlite`` when that variable
            is set, else ``.workbench/runs.sqlite`` in the working directory), a directory
            (``<dir>/runs.sqlite``), or a ``.sqlite``/``.db`` file. Nothing is created
            until the first run is saved.

    Several notebooks or processes can write at once: the file is in WAL mode, a writer
    waits for another's transaction, and each save is one transaction.

    Example:
        >>> import tempfile, pandas as pd, workbench as wb
        >>> tmp = tempfile.TemporaryDirectory()
        >>> store = wb.Store(tmp.name)
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
        >>> run = wb.evaluate(pd.DataFrame({"x": [1, -2]}), suite, save=False)
        >>> run_id = store.save(run, label="baseline")
        >>> store.runs()[["label", "suite", "cells", "passed", "failed"]]
              label suite  cells  passed  failed
        0  baseline  demo      2       1       1
        >>> store.load("baseline").results.equals(run.results)
        True
        >>> tmp.cleanup()
    """

    def __init__(self, path: Store | str | os.PathLike[str] | None = None) -> None:
        if isinstance(path, Store):
            self.path: Path = path.path
            return
        if path is None:
            self.path = default_path()
            return
        p = Path(path).expanduser().absolute()
        if p.is_dir():
            self.path = p / "runs.sqlite"
        elif p.suffix.lower() in (".sqlite", ".sqlite3", ".db") or p.is_file():
            self.path = p
        else:
            self.path = p / "runs.sqlite"  # a directory, made on the first save

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # --- connections ------------------------------------------------------------------

    @contextmanager
    def _connect(self, write: bool) -> Iterator[sqlite3.Connection | None]:
        """An open, current-schema connection; ``None`` when reading a store that does
        not exist yet (nothing is created by a read)."""
        if self.path.is_dir():
            raise StoreError(
                f"the run store path {self.path} is a directory, not a file: pass store= the "
                "directory that should hold runs.sqlite, or another .sqlite file path"
            )
        if not self.path.exists():
            if not write:
                yield None
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(str(self.path), timeout=_BUSY_S, isolation_level=None, check_same_thread=False)
        try:
            con.execute(f"PRAGMA busy_timeout = {int(_BUSY_S * 1000)}")
            version = _schema.check(con, self.path)
            if version is None and not write:
                yield None
                return
            if version != _schema.SCHEMA_VERSION:
                self._upgrade(con)
            con.execute(
                "PRAGMA synchronous = NORMAL"
            )  # in WAL mode: no fsync per commit, still never corrupt
            con.execute("PRAGMA foreign_keys = ON")
            yield con
        finally:
            con.close()

    def _upgrade(self, con: sqlite3.Connection) -> None:
        """Create the schema in an empty file, or migrate an older one, under the write lock
        (another process may be doing the same: the version is read again inside)."""
        if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            con.execute("PRAGMA journal_mode = WAL")
        with _transaction(con):
            version = _schema.check(con, self.path)
            if version is None:
                _schema.create(con)
            elif version < _schema.SCHEMA_VERSION:
                _schema.migrate(con, version, lambda c, run: insert(c, run.id, Record.of(run, run.label)))

    # --- writing ----------------------------------------------------------------------

    def save(self, run: Run, label: str | None = None) -> str:
        """Save ``run`` and return its id (also set on ``run.id``; ``run.label`` too).

        ``label`` (default: ``run.label``) names the run for :meth:`load`; several runs may
        share one. Saving a run that is already in this store only updates its label.
        API keys and other credentials in the environment are redacted from its text.

        Raises:
            StoreError: the file is not a workbench store, or was written by a newer one.
            OSError, sqlite3.Error: the disk is full or read-only; nothing was written.
        """
        if not isinstance(run, Run):
            raise TypeError(f"Store.save needs a wb.Run (what wb.evaluate returns), got {type(run).__name__}")
        if label is not None and not isinstance(label, str):
            raise TypeError(f"label must be a string or None, got {type(label).__name__}")
        label = label if label is not None else run.label
        record = None
        with self._connect(write=True) as con:
            assert con is not None
            if run.id is not None:
                with _transaction(con):
                    if con.execute("SELECT 1 FROM runs WHERE id = ?", (run.id,)).fetchone():
                        con.execute("UPDATE runs SET label = ? WHERE id = ?", (label, run.id))
                        run.label = label
                        return run.id
            record = Record.of(run, label)  # encode outside the write lock
            with _transaction(con):
                run_id = run.id or _new_id(con, run.started_at)
                insert(con, run_id, record)
        run.id, run.label = run_id, label
        return run_id

    def delete(self, ref: str | Run) -> str:
        """Delete one run (an id, or a label: the newest run with it) and return its id.

        Raises:
            UnknownRunError: no run matches; the message lists the closest.
        """
        with self._connect(write=self.path.exists()) as con:
            if con is None:
                raise self._no_store(ref)
            with _transaction(con):
                run_id = self._resolve(con, ref)
                for table, key in (("results", "run_id"), ("summaries", "run_id"), ("runs", "id")):
                    con.execute(f"DELETE FROM {table} WHERE {key} = ?", (run_id,))
        return run_id

    # --- reading ----------------------------------------------------------------------

    def runs(self) -> pd.DataFrame:
        """One row per saved run, newest first: id, label, suite, version, fingerprints,
        model, started_at (UTC), duration_s and the totals (rows, cells, judge calls, cache
        hits, error cells, tokens, dollars spent and saved by the cache, passed, failed)."""
        with self._connect(write=False) as con:
            rows = (
                []
                if con is None
                else con.execute(
                    f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs ORDER BY started_at DESC, rowid DESC"
                ).fetchall()
            )
        return _runs_frame(rows)

    def load(self, ref: str | Run) -> Run:
        """The run with this id, or the newest with this label (or a unique id prefix),
        its results with the dtypes they were saved with.

        Raises:
            UnknownRunError: no such run (the message lists the closest ids and labels), or
                no store exists at this path yet.
        """
        with self._connect(write=False) as con:
            if con is None:
                raise self._no_store(ref)
            run_id = self._resolve(con, ref)
            row = con.execute(
                "SELECT id, label, suite_yaml, model, started_at, duration_s, calls_json, data_fingerprint, params "
                "FROM runs WHERE id = ?",
                (run_id,),
            ).fetchone()
            parts = [
                p[0]
                for p in con.execute("SELECT data FROM results WHERE run_id = ? ORDER BY part", (run_id,))
            ]
        rid, label, suite_yaml, model, started_at, duration_s, calls, fingerprint, params = row
        return Run(
            suite=Suite.from_yaml(suite_yaml),
            results=decode_results(b"".join(parts)),
            model=model,
            started_at=parse_time(started_at),
            duration_s=float(duration_s),
            calls=json.loads(calls),
            id=rid,
            label=label,
            data_fingerprint=fingerprint,
            params=json.loads(params),
        )

    def summaries(self, refs: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Each run's summary stacked in one tidy frame, oldest run first, for trends: run,
        label, started_at, suite, version, model, then the columns of ``Run.summary()``
        (task, criterion, kind, n, mean, pass_rate with its interval, counts).

        Args:
            refs: ids or labels of the runs to include (default: all).
        """
        cols = ["run", "label", "started_at", "suite", "version", "model", *_schema.SUMMARY]
        with self._connect(write=False) as con:
            if con is None:
                if refs:
                    raise self._no_store(refs if isinstance(refs, str) else refs[0])
                fetched: list[tuple[Any, ...]] = []
            else:
                where, args = "", tuple[str, ...]()
                if refs is not None:
                    ids = [self._resolve(con, r) for r in ([refs] if isinstance(refs, str) else refs)]
                    where, args = f"WHERE r.id IN ({', '.join('?' * len(ids))})", tuple(ids)
                fetched = con.execute(
                    "SELECT r.id, r.label, r.started_at, r.suite, r.version, r.model, "
                    + ", ".join(f"s.{c}" for c in _schema.SUMMARY)
                    + f" FROM summaries s JOIN runs r ON r.id = s.run_id {where} "
                    "ORDER BY r.started_at, r.rowid, s.position",
                    args,
                ).fetchall()
        out = pd.DataFrame.from_records(fetched, columns=cols)
        for c in ("run", "label", "suite", "version", "model", "task", "criterion", "kind"):
            out[c] = out[c].astype("string")
        out["started_at"] = _times(out["started_at"])
        for c in ("mean", "pass_rate", "pass_rate_low", "pass_rate_high"):
            out[c] = pd.array(pd.to_numeric(out[c]).to_numpy(dtype=float, na_value=np.nan), dtype="Float64")
        for c in ("n", "passed", "failed", "errors", "skipped", "scored"):
            out[c] = out[c].astype("int64")
        return out

    # --- lookups ----------------------------------------------------------------------

    def _resolve(self, con: sqlite3.Connection, ref: str | Run) -> str:
        if isinstance(ref, Run):
            if ref.id is None:
                raise UnknownRunError("this run has not been saved (its id is None); save it with run.save()")
            ref = ref.id
        if not isinstance(ref, str):
            raise TypeError(f"a run reference is an id or a label (a string), got {type(ref).__name__}")
        if con.execute("SELECT 1 FROM runs WHERE id = ?", (ref,)).fetchone():
            return ref
        hit = con.execute(
            "SELECT id FROM runs WHERE label = ? ORDER BY started_at DESC, rowid DESC LIMIT 1", (ref,)
        ).fetchone()
        if hit:
            return str(hit[0])
        if len(ref) >= 4:
            escaped = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            hits = [
                r[0]
                for r in con.execute(
                    "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 6", (escaped + "%",)
                )
            ]
            if len(hits) == 1:
                return str(hits[0])
            if hits:
                raise UnknownRunError(
                    f"{ref!r} starts {len(hits)}+ run ids in {self.path}: {cap_list(hits, 5)}; "
                    "give more of the id"
                )
        known = con.execute("SELECT id, label FROM runs ORDER BY started_at DESC, rowid DESC").fetchall()
        if not known:
            raise UnknownRunError(
                f"no run {ref!r}: the run store at {self.path} holds no runs yet. Runs are saved "
                "by wb.evaluate (save=True is the default) or run.save()."
            )
        names = [r[0] for r in known] + list(dict.fromkeys(r[1] for r in known if r[1]))
        newest = [f"{i} ({lab})" if lab else i for i, lab in known[:5]]
        raise UnknownRunError(
            f"no run with id or label {ref!r} in the run store at {self.path}{did_you_mean(ref, names)}. "
            f"The newest runs are {cap_list(newest, 5)}; wb.runs() lists all {len(known)}."
        )

    def _no_store(self, ref: object) -> UnknownRunError:
        return UnknownRunError(
            f"no run {ref!r}: no run store exists at {self.path} yet. It is created when a run is saved: "
            "wb.evaluate(df, suite) saves by default (store= picks another place), or run.save(). "
            "To read a store elsewhere, pass store='path/to/dir' or set WORKBENCH_HOME."
        )


@contextmanager
def _transaction(con: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE``: take the write lock up front (waiting up to the busy timeout),
    so two writers never interleave or deadlock on an upgrade from a read lock."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _new_id(con: sqlite3.Connection, started_at: datetime) -> str:
    """``YYYYmmdd-HHMMSS-xxxx`` (UTC start time, random hex): short, unique, sorts by time."""
    stamp = _utc(started_at).strftime("%Y%m%d-%H%M%S")
    for width in (2, 2, 2, 3, 4, 8):
        candidate = f"{stamp}-{secrets.token_hex(width)}"
        if not con.execute("SELECT 1 FROM runs WHERE id = ?", (candidate,)).fetchone():
            return candidate
    raise StoreError("could not find a free run id")  # pragma: no cover - 2**64 candidates


def _times(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601").astype("datetime64[us, UTC]")


def _runs_frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    out = pd.DataFrame.from_records(rows, columns=_RUN_COLUMNS)
    for c in _STRINGS:
        out[c] = out[c].astype("string")
    out["started_at"] = _times(out["started_at"])
    out["duration_s"] = out["duration_s"].astype("float64")
    for c in _INTS:
        out[c] = out[c].astype("int64")
    out["tokens"] = pd.array(out["tokens"].tolist(), dtype="Int64")
    for c in ("cost_usd", "saved_usd"):
        out[c] = pd.array(
            [None if v is None or pd.isna(v) else float(v) for v in out[c].tolist()], dtype="Float64"
        )
    return out


# --- module-level API -----------------------------------------------------------------


def _store(store: Store | str | os.PathLike[str] | None) -> Store:
    return store if isinstance(store, Store) else Store(store)


def runs(store: Store | str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The saved runs, newest first (see :meth:`Store.runs`); ``store`` is a path or a Store.

    Example:
        >>> import tempfile, workbench as wb
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     print(len(wb.runs(store=tmp)), list(wb.runs(store=tmp).columns[:3]))
        0 ['id', 'label', 'suite']
    """
    return _store(store).runs()


def load_run(ref: str | Run, store: Store | str | os.PathLike[str] | None = None) -> Run:
    """Load a saved run by id, or the newest run with a label (see :meth:`Store.load`).

    Example:
        >>> import tempfile, pandas as pd, workbench as wb
        >>> tmp = tempfile.TemporaryDirectory()
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
        >>> run = wb.evaluate(pd.DataFrame({"x": [1, -2]}), suite, label="v1", store=tmp.name)
        >>> wb.load_run("v1", store=tmp.name).summary()[["task", "passed", "failed"]]
          task  passed  failed
        0  pos       1       1
        >>> tmp.cleanup()
    """
    return _store(store).load(ref)


def delete_run(ref: str | Run, store: Store | str | os.PathLike[str] | None = None) -> str:
    """Delete a saved run (an id, or the newest run with a label); returns its id.

    Example:
        >>> import tempfile, pandas as pd, workbench as wb
        >>> tmp = tempfile.TemporaryDirectory()
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
        >>> run = wb.evaluate(pd.DataFrame({"x": [1]}), suite, label="scratch", store=tmp.name)
        >>> wb.delete_run("scratch", store=tmp.name) == run.id, len(wb.runs(store=tmp.name))
        (True, 0)
        >>> tmp.cleanup()
    """
    return _store(store).delete(ref)


def save_run(run: Run, store: Store | str | os.PathLike[str] | None = None, label: str | None = None) -> str:
    """Save ``run`` in ``store`` (default: the default store); returns its id. Same as
    ``run.save(store, label)``.

    Example:
        >>> import tempfile, pandas as pd, workbench as wb
        >>> from workbench.store import save_run
        >>> tmp = tempfile.TemporaryDirectory()
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
        >>> run = wb.evaluate(pd.DataFrame({"x": [1]}), suite, save=False)
        >>> save_run(run, tmp.name, label="a") == wb.runs(store=tmp.name)["id"][0]
        True
        >>> tmp.cleanup()
    """
    return _store(store).save(run, label=label)


def save_or_warn(run: Run, store: Store | str | os.PathLike[str] | None, label: str | None) -> None:
    """Save ``run``; if that fails (disk full, read-only, a foreign file), warn and leave
    ``run.id`` unset: the run itself is never lost because its store failed.

    Example:
        >>> import tempfile, warnings, pandas as pd, workbench as wb
        >>> from workbench.store import save_or_warn
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
        >>> run = wb.evaluate(pd.DataFrame({"x": [1]}), suite, save=False)
        >>> with tempfile.NamedTemporaryFile(suffix=".db") as f, warnings.catch_warnings(record=True) as caught:
        ...     _ = f.write(b"not a database" * 100); f.flush()
        ...     warnings.simplefilter("always")
        ...     save_or_warn(run, f.name, None)
        >>> run.id is None, "not a workbench run store" in str(caught[0].message)
        (True, True)
    """
    target = None
    try:
        target = _store(store)
        target.save(run, label=label)
    except Exception as e:  # noqa: BLE001 - any failure to save must leave the run usable
        where = f" at {target.path}" if target is not None else ""
        warnings.warn(
            f"the run started {_utc(run.started_at):%Y-%m-%d %H:%M:%S} UTC was not saved to the run store{where}: "
            f"{type(e).__name__}: {e}. The returned Run is complete; "
            "save it later with run.save(store=...), or pass save=False to evaluate to skip saving.",
            StoreWarning,
            stacklevel=4,
        )
