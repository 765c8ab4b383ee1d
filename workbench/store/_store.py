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
from ..files import home
from ..run import Run
from ..specs import Suite
from . import _parquet, _schema
from ._codec import checksum, decode_results
from ._labels import read_labels, write_labels
from ._nearby import nearby_hint
from ._open import connect, transaction
from ._record import Record, insert
from ._time import parse_time

__all__ = ["Store", "default_path", "delete_run", "load_run", "runs", "save_or_warn", "save_run"]
_STRINGS = ["id", "label", "suite", "version", "suite_fingerprint", "data_fingerprint", "model"]
_RUN_COLUMNS = [*_STRINGS, "started_at", "duration_s", *_schema.TOTALS]
_INTS = ["rows", "cells", "calls", "cache_hits", "errors", "passed", "failed"]


def default_path() -> Path:
    """The default run store: ``runs.sqlite`` in :func:`~workbench.store.home` (``$WORKBENCH_HOME``,
    else the nearest ``.workbench/`` in the working directory or above, else
    ``.workbench/`` in the working directory).

    Example:
        >>> from workbench.store import home
        >>> default_path() == home() / "runs.sqlite"
        True
    """
    return home() / "runs.sqlite"


def _utc(t: datetime) -> datetime:
    return t.astimezone(timezone.utc) if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


class Store:
    """The run store: an embedded SQLite database holding every saved run.

    Args:
        path: ``None`` for the default (:func:`default_path`: ``runs.sqlite`` in
            ``$WORKBENCH_HOME``, else in the nearest ``.workbench/`` in the working directory
            or above it, else in ``.workbench/`` in the working directory), a directory
            (``<dir>/runs.sqlite``), or a ``.sqlite``/``.db`` file. Nothing is created
            until the first run is saved.

    Several notebooks or processes can write at once: the file is in WAL mode, a writer
    waits for another's transaction, and each save is one transaction. A store on a
    read-only disk (or in a read-only folder) is opened read-only: listing and loading
    work, saving raises a :class:`StoreError` that says so. Each run's results carry a
    checksum, verified on load.

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

    @contextmanager
    def _connect(self, write: bool) -> Iterator[sqlite3.Connection | None]:
        with connect(self.path, write) as con:
            yield con

    # --- writing ----------------------------------------------------------------------

    def save(self, run: Run, label: str | None = None) -> str:
        """Save ``run`` and return its id (also set on ``run.id``; ``run.label`` too).

        ``label`` (default: ``run.label``) names the run for :meth:`load`; several runs may
        share one. Saving a run that is already in this store only updates its label.
        API keys and other credentials in the environment are redacted from its text.

        Raises:
            StoreError: the file is not a workbench store, was written by a newer one, is
                read-only or damaged, or the disk is full; nothing was written.
        """
        if not isinstance(run, Run):
            raise TypeError(f"Store.save needs a wb.Run (what wb.evaluate returns), got {type(run).__name__}")
        if label is not None and not isinstance(label, str):
            raise TypeError(f"label must be a string or None, got {type(label).__name__}")
        label = label if label is not None else run.label
        if not isinstance(run.results, pd.DataFrame) and type(run).save is not Run.save:
            return run.save(self, label)  # a run on a cluster (a DaskRun) writes its own Parquet parts
        record = None
        with self._connect(write=True) as con:
            assert con is not None
            if run.id is not None:
                with transaction(con):
                    if con.execute("SELECT 1 FROM runs WHERE id = ?", (run.id,)).fetchone():
                        con.execute("UPDATE runs SET label = ? WHERE id = ?", (label, run.id))
                        run.label = label
                        return run.id
            record = Record.of(run, label)  # encode outside the write lock
            with transaction(con):
                run_id = run.id or _new_id(con, run.started_at)
                insert(con, run_id, record)
        run.id, run.label = run_id, label
        return run_id

    def delete(self, ref: str | Run) -> str:
        """Delete one run (an id, or a label: the newest run with it) and return its id.

        Raises:
            UnknownRunError: no run matches; the message lists the closest.
            StoreError: the store is read-only.
        """
        with self._connect(write=self.path.exists()) as con:
            if con is None:
                raise self._no_store(ref)
            with transaction(con):
                run_id = self._resolve(con, ref)
                parquet = _parquet.forget(con, self.path, run_id)
                for table, key in (("results", "run_id"), ("summaries", "run_id"), ("runs", "id")):
                    con.execute(f"DELETE FROM {table} WHERE {key} = ?", (run_id,))
        _parquet.remove_folder(parquet)  # after the commit: a failed delete keeps the files
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
            UnknownRunError: no such run (the message lists the closest ids and labels, and
                other stores nearby that have runs), or no store exists at this path yet.
            StoreError: the run's stored results do not match their checksum (the file was
                changed on disk), or cannot be decoded.
        """
        with self._connect(write=False) as con:
            if con is None:
                raise self._no_store(ref)
            run_id = self._resolve(con, ref)
            checked = con.execute("PRAGMA user_version").fetchone()[0] >= 2  # a read-only v1 store: none
            row = con.execute(
                f"SELECT id, label, {', '.join(_schema.CHECKED)}, {'checksum' if checked else 'NULL'} "
                "FROM runs WHERE id = ?",
                (run_id,),
            ).fetchone()
            parts = [
                p[0]
                for p in con.execute("SELECT data FROM results WHERE run_id = ? ORDER BY part", (run_id,))
            ]
            parquet = _parquet.registered(con, self.path, run_id)
        rid, label, *fields, expected = row
        blob = b"".join(parts)
        if expected is not None and checksum(blob, fields) != expected:
            raise self._damaged(
                rid, label, "its stored results or fields do not match the checksum written when it was saved"
            )
        suite_yaml, model, started_at, duration_s, calls, fingerprint, params = fields
        try:
            results = decode_results(blob)
            suite = Suite.from_yaml(suite_yaml)
            calls_, params_ = json.loads(calls), json.loads(params)
        except Exception as e:
            if expected is not None:
                raise  # the bytes are the ones saved: this is a bug to see, not a damaged file
            raise self._damaged(rid, label, f"it cannot be decoded ({type(e).__name__}: {e})") from None
        if parquet is not None:  # a run from a cluster: its blob is the empty frame, its cells are in files
            results = _parquet.read_parts(*parquet, results, run_id=rid)
        return Run(
            suite=suite,
            results=results,
            model=model,
            started_at=parse_time(started_at),
            duration_s=float(duration_s),
            calls=calls_,
            id=rid,
            label=label,
            data_fingerprint=fingerprint,
            params=params_,
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

    # --- labels -----------------------------------------------------------------------

    def save_labels(self, labels: pd.DataFrame, suite: Suite, annotator: str | None = None) -> int:
        """Save human labels of ``suite``'s tasks and return how many were written, in one
        transaction. ``labels`` is the canonical long frame (``workbench.agreement.LABEL_COLUMNS``,
        optionally ``note`` and ``labelled_at``; ``wb.save_labels`` converts wide frames).

        A label is kept per (suite, task, criterion, row, annotator, criterion fingerprint):
        saving it again replaces it. A label without a fingerprint is saved under the suite's
        current criterion text (its fingerprint and the text itself are stored); ``annotator``
        names the person of labels whose ``annotator`` is missing.

        Raises:
            AgreementError: a label names a task or criterion the suite lacks, or a value
                outside the criterion's scale (every problem in one message).
            ColumnsError: the frame lacks a canonical column.
            StoreError: the store cannot be written.
        """
        if not isinstance(suite, Suite):
            raise TypeError(
                f"save_labels needs the wb.Suite the labels belong to, got {type(suite).__name__}"
            )
        with self._connect(write=True) as con:
            assert con is not None
            with transaction(con):
                return write_labels(con, labels, suite, annotator)

    def labels(
        self,
        suite: Suite | str | None = None,
        *,
        task: str | Sequence[str] | None = None,
        criterion: str | Sequence[str] | None = None,
        annotator: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The saved labels, oldest first, optionally of one suite (a Suite or its name), tasks,
        criteria or annotators: the canonical columns, then ``suite``, ``criterion_text``,
        ``note`` and ``labelled_at`` (UTC). Empty when the store or its labels do not exist."""
        name = suite.name if isinstance(suite, Suite) else suite
        filters = {"suite": name, "task": task, "criterion": criterion, "annotator": annotator}
        with self._connect(write=False) as con:
            return read_labels(con, filters)

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
                f"by wb.evaluate (save=True is the default) or run.save().{nearby_hint(self.path, ref)}"
            )
        names = [r[0] for r in known] + list(dict.fromkeys(r[1] for r in known if r[1]))
        newest = [f"{i} ({lab})" if lab else i for i, lab in known[:5]]
        raise UnknownRunError(
            f"no run with id or label {ref!r} in the run store at {self.path}{did_you_mean(ref, names)}. "
            f"The newest runs are {cap_list(newest, 5)}; wb.runs() lists all {len(known)}."
            f"{nearby_hint(self.path, ref)}"
        )

    def _no_store(self, ref: object) -> UnknownRunError:
        return UnknownRunError(
            f"no run {ref!r}: no run store exists at {self.path} yet. It is created when a run is saved: "
            "wb.evaluate(df, suite) saves by default (store= picks another place), or run.save(). "
            "To read a store elsewhere, pass store='path/to/dir' or set WORKBENCH_HOME."
            f"{nearby_hint(self.path, ref if isinstance(ref, str) else None)}"
        )

    def _damaged(self, run_id: str, label: str | None, what: str) -> StoreError:
        named = f"run {run_id!r}" + (f" (label {label!r})" if label else "")
        return StoreError(
            f"{named} in the run store at {self.path} is damaged: {what}, so the file was changed on "
            "disk (a failing disk, a copy cut short, or a program writing into it). The other runs are "
            f"not affected. Delete this one with wb.delete_run({run_id!r}, store={str(self.path)!r}) and run "
            "it again, or restore the store file from a backup."
        )


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
        >>> with tempfile.NamedTemporaryFile(suffix=".db") as f, warnings.catch_warnings(record=True) as w:
        ...     _ = f.write(b"not a database" * 100); f.flush()
        ...     warnings.simplefilter("always")
        ...     save_or_warn(run, f.name, None)
        >>> run.id is None, "not a workbench run store" in str(w[0].message)
        (True, True)
    """
    target = None
    try:
        target = _store(store)
        target.save(run, label=label)
    except Exception as e:  # noqa: BLE001 - any failure to save must leave the run usable
        where = f" at {target.path}" if target is not None else ""
        warnings.warn(
            f"the run started {_utc(run.started_at):%Y-%m-%d %H:%M:%S} UTC was not saved to the run "
            f"store{where}: {type(e).__name__}: {e}. The returned Run is complete; "
            "save it later with run.save(store=...), or pass save=False to evaluate to skip saving.",
            StoreWarning,
            stacklevel=4,
        )
