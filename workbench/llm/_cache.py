"""The judge cache: verdict replies on disk (diskcache), keyed by :func:`~workbench.llm.cache_key`,
with an in-process layer so a rerun in the same kernel costs a dict lookup per call.

Only reply text, token counts, the call's cost, the model name and a time are stored: never
a credential, a base URL or a header.

A cache that cannot be written never costs a run: on a full disk or a read-only folder the
first write that fails warns once (:class:`~workbench.errors.CacheWarning`, naming the
folder), later writes are skipped, and reads go on, so a read-only cache that holds every
verdict serves them all. A ``cache.db`` that is not a database raises
:class:`~workbench.errors.CacheError` before anything is spent.

Example:
    >>> import tempfile
    >>> from workbench.llm import DiskCache
    >>> cache = DiskCache(tempfile.mkdtemp())
    >>> cache.set("k", {"text": "{}", "prompt_tokens": 3, "completion_tokens": 1, "cost_usd": None})
    >>> cache.get("k")["text"]
    '{}'
    >>> cache.close()
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import CacheError, CacheWarning
from ..files import DiskProblem, disk_problem, free_space, home, nearly_full, read_only

__all__ = ["DiskCache", "default_cache_dir"]

_HOT: dict[str, dict[str, dict[str, Any]]] = {}
"""Entries read or written in this process, by cache directory and key: rerunning an
unchanged notebook cell then costs a dict lookup per call, not a disk read."""
_HOT_LIMIT = 500_000
"""Entries kept per cache directory; the directory's layer is emptied when it is full."""
_PICKLED = 4
"""diskcache's ``MODE_PICKLE``: the value column holds the pickled entry."""
_DB = "cache.db"
"""diskcache's database file in the cache directory."""
_READ = (
    "SELECT key, mode, filename, value FROM Cache WHERE raw = 1 AND key IN ({marks})"
    " AND (expire_time IS NULL OR expire_time > ?)"
)
"""The query diskcache's own ``get`` runs, for many keys at once (str keys are stored raw)."""
_SCAN = (
    "SELECT key, mode, filename, value FROM Cache WHERE raw = 1 AND (expire_time IS NULL OR expire_time > ?)"
)
"""The same, for every entry."""


def default_cache_dir() -> Path:
    """``cache`` in :func:`workbench.store.home`, the folder the run store uses too:
    ``$WORKBENCH_HOME``, else the nearest ``.workbench/`` in the working directory or above,
    else ``.workbench/`` in the working directory.

    Example:
        >>> from workbench.store import home
        >>> default_cache_dir() == home() / "cache"
        True
    """
    return home() / "cache"


class DiskCache:
    """One cache directory: ``get``/``set`` entries by key, ``prefetch`` many at once.

    Raises:
        CacheError: the directory's ``cache.db`` is damaged or not a database.
    """

    def __init__(self, directory: str | Path) -> None:
        import diskcache

        path = Path(os.path.expandvars(os.path.expanduser(str(directory)))).absolute()
        self.directory: str = str(path)
        self.writable: bool = True
        """Whether new entries still reach the disk (``False`` after a full disk or on a
        read-only folder; reads go on)."""
        self._cache: Any = None  # a diskcache.Cache, when the folder could be opened for writing
        self._reader: sqlite3.Connection | None = None  # read-only access otherwise
        self._disk: Any = None
        self._problem: tuple[DiskProblem, str] | None = None
        self._warned = False
        self._hot = _HOT.setdefault(self.directory, {})
        try:
            path.mkdir(parents=True, exist_ok=True)
            self._cache = diskcache.Cache(str(path), size_limit=2**34)
            self._disk = self._cache._disk
        except (OSError, sqlite3.Error, diskcache.Timeout) as e:
            kind = self._kind(e)
            if kind == "damaged":
                raise self._damaged(e) from None
            self._stop_writing(kind, e)
            self._open_read_only(path)

    # --- reading ----------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry for ``key``, from memory if this process has seen it, else from disk."""
        hit = self._hot.get(key)
        if hit is None:
            hit = self._read(key)
            if hit is None:
                return None
            self._remember(key, hit)
        return hit

    def known(self, key: str) -> bool:
        """Whether this process already holds ``key`` in memory."""
        return key in self._hot

    def prefetch(self, keys: Sequence[str]) -> None:
        """Read many keys from disk in a few queries (a warm rerun of 10,000 rows would
        otherwise make 10,000 separate reads); later :meth:`get` calls find them in memory.

        Uses diskcache's storage layout for the bulk read, the same query its ``get`` runs;
        if that layout ever changes, lookups fall back to one ``get`` per key. When the keys
        are a good part of the cache, one pass over the whole table is read instead of a
        lookup per key (a lookup costs about twice a row of the pass).
        """
        sql = self._sql()
        if sql is None:
            return
        hot = self._hot
        missing = [k for k in keys if k not in hot]
        if not missing:
            return
        try:
            if 2 * len(missing) >= self._count(sql):
                wanted = set(missing)
                self._keep(r for r in sql(_SCAN, (time.time(),)) if r[0] in wanted)  # streamed
                return
            for start in range(0, len(missing), 500):
                chunk = missing[start : start + 500]
                self._keep(
                    sql(_READ.format(marks=",".join("?" * len(chunk))), (*chunk, time.time())).fetchall()
                )
        except sqlite3.Error as e:
            self._read_failed(e)
        except (AttributeError, TypeError, ValueError):  # pragma: no cover - another diskcache layout
            return

    def _keep(self, rows: Iterable[tuple[str, int, str | None, Any]]) -> None:
        for key, mode, filename, value in rows:
            # what diskcache's fetch does for a pickled entry, without its file wrapper
            entry = (
                pickle.loads(value)
                if mode == _PICKLED and value is not None
                else self._fetch(mode, filename, value)
            )
            if isinstance(entry, dict) and "text" in entry:
                self._remember(key, entry)

    @staticmethod
    def _count(sql: Callable[..., sqlite3.Cursor]) -> float:
        """How many entries the cache holds, as diskcache counts them (infinite if unknown)."""
        row = sql("SELECT value FROM Settings WHERE key = 'count'").fetchone()
        return float(row[0]) if row and isinstance(row[0], int) else float("inf")

    # --- writing ----------------------------------------------------------------------

    def set(self, key: str, entry: dict[str, Any]) -> None:
        """Write ``entry`` to disk before anyone sees it (a killed kernel keeps it).

        When the disk refuses (full, read-only, locked too long), the entry is kept in
        memory for this process only, and the first refusal warns (:class:`CacheWarning`).
        """
        import diskcache

        if self.writable and self._cache is not None:
            try:
                self._cache.set(key, entry)
            except (OSError, sqlite3.Error, diskcache.Timeout) as e:
                kind = self._kind(e)
                if kind == "damaged":
                    self._read_failed(e)
                else:
                    self._stop_writing(kind, e)
        if not self.writable:
            self._warn_once()
        self._remember(key, entry)

    def close(self) -> None:
        """Close the cache's files."""
        if self._cache is not None:
            self._cache.close()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # --- internals --------------------------------------------------------------------

    def _remember(self, key: str, entry: dict[str, Any]) -> None:
        hot = self._hot
        if len(hot) >= _HOT_LIMIT:
            hot.clear()
        hot[key] = entry

    def _sql(self) -> Callable[..., sqlite3.Cursor] | None:
        if self._cache is not None:
            return self._cache._sql
        return self._reader.execute if self._reader is not None else None

    def _read(self, key: str) -> dict[str, Any] | None:
        try:
            if self._cache is not None:
                return self._cache.get(key)
            if self._reader is None:
                return None
            row = self._reader.execute(_READ.format(marks="?"), (key, time.time())).fetchone()
        except sqlite3.Error as e:
            self._read_failed(e)
            return None
        entry = None if row is None else self._fetch(*row[1:])
        return entry if isinstance(entry, dict) else None

    def _fetch(self, mode: int, filename: str | None, value: Any) -> Any:
        try:
            return self._disk.fetch(mode, filename, value, False)
        except OSError:  # a large entry's file evicted meanwhile: a miss
            return None

    def _kind(self, e: BaseException) -> DiskProblem:
        import diskcache

        db = Path(self.directory) / _DB
        kind = None if isinstance(e, diskcache.Timeout) else disk_problem(e)
        if kind in (None, "failing", "locked") and read_only(db if db.exists() else Path(self.directory)):
            return "read-only"  # SQLite says "unable to open" or "locked" for a read-only folder
        if kind in (None, "failing") and nearly_full(self.directory):
            return "full"  # SQLite says "disk I/O error" when the -shm file cannot grow
        return kind or ("locked" if isinstance(e, diskcache.Timeout) else "failing")

    def _stop_writing(self, kind: DiskProblem, e: BaseException) -> None:
        self.writable = False
        self._problem = (kind, f"{type(e).__name__}: {e}")
        con = getattr(getattr(self._cache, "_local", None), "con", None)
        if con is not None and con.in_transaction:  # SQLite may leave the failed write open
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")

    def _warn_once(self) -> None:
        if self._warned:
            return
        self._warned = True
        kind, error = self._problem or ("failing", "unknown error")
        here = self.directory
        kept = (
            "This run keeps every verdict (and this process remembers them), but the new ones are not "
            "cached on disk, so a later run calls the judge again for them."
        )
        if kind == "full":
            text = (
                f"the judge cache at {here} cannot take more verdicts: the disk holding it is full "
                f"({free_space(here)}). {kept} Free some space, or pass cache_dir= a folder on another disk."
            )
        elif kind == "read-only":
            why = read_only(Path(here) / _DB) or read_only(Path(here)) or "SQLite reports it as read-only"
            text = (
                f"the judge cache at {here} is read-only ({why}): verdicts already in it are served, "
                f"new ones are not written. {kept} Pass cache_dir= a writable folder to cache them."
            )
        elif kind == "locked":
            text = (
                f"the judge cache at {here} stayed locked by another process for 60 s, so new verdicts "
                f"are not written to it. {kept}"
            )
        else:
            text = f"writing the judge cache at {here} failed ({error}). {kept} Check the disk."
        warnings.warn(text, CacheWarning, stacklevel=3)

    def _read_failed(self, e: BaseException) -> None:
        """A damaged or failing cache file found during a run: stop using it (reads would
        miss or fail at random) and say how to get a working one back."""
        if self._cache is not None:
            self._cache.close()
        if self._reader is not None:
            self._reader.close()
        self._cache = self._reader = None
        self.writable = False
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"{self._damaged(e)} It is not used for the rest of this run: verdicts are called and "
                "kept in the run, not cached.",
                CacheWarning,
                stacklevel=3,
            )

    def _damaged(self, e: BaseException) -> CacheError:
        db = Path(self.directory) / _DB
        return CacheError(
            f"the judge cache file {db} is damaged or not a database (SQLite: {e}). Move it away (or "
            f"delete {self.directory}): it only holds cached verdicts, so the next run builds a new "
            "cache and calls the judge again for what it held. Or pass cache_dir= another folder, or "
            "use_cache=False."
        )

    def _open_read_only(self, path: Path) -> None:
        """Serve what a cache that cannot be written holds: ``mode=ro`` when its ``-shm``
        file exists (unfinished writes included), ``immutable=1`` when it does not and the
        ``-wal`` holds nothing (every write is in the main file)."""
        import diskcache

        db = path / _DB
        if not db.is_file():
            return
        uri = "file:" + quote(str(db))
        wal = db.with_name(_DB + "-wal")
        modes = ["mode=ro"] + ([] if wal.exists() and wal.stat().st_size else ["immutable=1"])
        for mode in modes:
            try:
                con = sqlite3.connect(f"{uri}?{mode}", uri=True, check_same_thread=False)
                con.execute("SELECT count(*) FROM Cache WHERE rowid < 2").fetchone()
            except sqlite3.Error as e:
                if disk_problem(e) == "damaged":
                    raise self._damaged(e) from None
                continue
            self._reader, self._disk = con, diskcache.Disk(str(path))
            return


def forget_in_process() -> None:
    """Drop the in-process layer, as a fresh process would start (for tests and benchmarks)."""
    for hot in _HOT.values():
        hot.clear()  # emptied, not dropped: open caches hold their directory's layer
