"""Opening the store's SQLite file: read-only when the file or its disk is, waiting for
other writers (also where SQLite does not wait by itself), and SQLite's disk errors as
messages that say which file, what happened and what to do.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from ..errors import StoreError
from ..files import disk_problem, free_space, nearly_full, read_only
from . import _schema
from ._record import Record, insert

__all__ = ["BUSY_S", "connect", "read_only_error", "transaction"]

BUSY_S = 60.0
"""How long a writer waits for another one to finish its transaction."""

T = TypeVar("T")


@contextmanager
def connect(path: Path, write: bool) -> Iterator[sqlite3.Connection | None]:
    """An open connection to a store in the current schema; ``None`` when reading a store
    that does not exist yet (a read creates nothing).

    A store that cannot be written (a read-only disk, folder or file) is opened read-only:
    reading works (a version 1 store is read as it is, without checksums), writing raises
    a :class:`StoreError` that says it is read-only. SQLite errors that a disk causes
    (full, read-only, damaged, locked too long, failing) become a :class:`StoreError`.
    """
    if path.is_dir():
        raise StoreError(
            f"the run store path {path} is a directory, not a file: pass store= the "
            "directory that should hold runs.sqlite, or another .sqlite file path"
        )
    if not path.exists():
        if not write:
            yield None
            return
        _make_folder(path)
    why = read_only(path)
    if why and write:
        if path.exists():
            raise read_only_error(path, why)
        raise StoreError(
            f"cannot create the run store at {path}: {why}. Pass store= a writable folder (or set "
            "WORKBENCH_HOME)."
        )
    try:
        con = _open_read_only(path, why) if why else _open(path)
    except sqlite3.Error as e:
        raise _disk_error(path, e) from None
    try:
        version = _schema.check(con, path)
        if version is None and not write:
            yield None
            return
        if why and version is not None and version < _schema.SCHEMA_VERSION:
            if version == 0:
                raise StoreError(
                    f"the run store at {path} is in the first layout (schema version 0) and read-only "
                    f"({why}), so it cannot be brought up to date where it is. Copy the file somewhere "
                    "writable and pass store= the copy: it is migrated on the first read."
                )
        elif version != _schema.SCHEMA_VERSION:
            _retry_locked(lambda: _upgrade(con, path))
        if not why:
            # in WAL mode: no fsync per commit, and still never corrupt
            con.execute("PRAGMA synchronous = NORMAL")
            con.execute("PRAGMA foreign_keys = ON")
        yield con
    except sqlite3.Error as e:
        if disk_problem(e) is None:
            raise
        raise _disk_error(path, e) from None
    finally:
        con.close()


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE``: take the write lock up front, so two writers never interleave or
    deadlock on an upgrade from a read lock. SQLite waits for the lock up to the busy
    timeout; where it answers "locked" at once instead (it does when waiting could
    deadlock), the BEGIN is retried until the same deadline."""
    _retry_locked(lambda: con.execute("BEGIN IMMEDIATE"))
    try:
        yield
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def read_only_error(path: Path, why: str) -> StoreError:
    """The message for a save or a delete in a store that cannot be written."""
    return StoreError(
        f"the run store at {path} is read-only ({why}): its runs can be listed and loaded, but "
        "nothing can be saved in it or deleted from it. Pass store= a writable folder (or set "
        "WORKBENCH_HOME) to save runs elsewhere."
    )


def _open(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(str(path), timeout=BUSY_S, isolation_level=None, check_same_thread=False)
    con.execute(f"PRAGMA busy_timeout = {int(BUSY_S * 1000)}")
    return con


def _open_read_only(path: Path, why: str) -> sqlite3.Connection:
    """``mode=ro`` reads a WAL store, its unfinished writes included, when its ``-shm``
    file exists; when it does not (the store was closed cleanly, so every write is in the
    main file) and cannot be created, ``immutable=1`` reads the main file alone."""
    uri = "file:" + quote(str(path))
    con = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_S, isolation_level=None)
    try:
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return con
    except sqlite3.OperationalError:
        con.close()
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise StoreError(
            f"the run store at {path} is read-only ({why}) and its last writes are still in {wal.name}, "
            "which SQLite can only read with write access to the folder. Copy the folder somewhere "
            "writable and pass store= the copy."
        )
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)


def _make_folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        kind = disk_problem(e)
        what = {
            "full": f"the disk is full ({free_space(path)})",
            "read-only": f"{e.strerror.lower() if e.strerror else 'not allowed'}: {e.filename}",
        }.get(kind or "", f"{e.strerror or e}: {e.filename}")
        raise StoreError(
            f"cannot create the run store at {path}: {what}. Pass store= a writable folder (or set "
            "WORKBENCH_HOME)."
        ) from None


def _upgrade(con: sqlite3.Connection, path: Path) -> None:
    """Create the schema in an empty file, or migrate an older one, under the write lock
    (another process may be doing the same: the version is read again inside)."""
    if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        con.execute("PRAGMA journal_mode = WAL").fetchone()
    with transaction(con):
        version = _schema.check(con, path)
        if version is None:
            _schema.create(con)
        elif version < _schema.SCHEMA_VERSION:
            _schema.migrate(con, version, lambda c, run: insert(c, run.id, Record.of(run, run.label)))


def _retry_locked(step: Callable[[], T]) -> T:
    """Run ``step`` again while SQLite answers "database is locked" without waiting, until
    :data:`BUSY_S` has passed. Two processes that create a store at once both ask for WAL
    mode, and SQLite refuses one of them at once (waiting could deadlock); the refused one
    finds WAL mode set on its next try."""
    deadline = time.monotonic() + BUSY_S
    pause = 0.002
    while True:
        try:
            return step()
        except sqlite3.OperationalError as e:
            if disk_problem(e) != "locked" or time.monotonic() > deadline:
                raise
        time.sleep(pause * random.uniform(0.5, 1.5))  # jitter: two retriers must not collide again
        pause = min(pause * 2, 0.1)


def _disk_error(path: Path, e: sqlite3.Error) -> StoreError:
    """A :class:`StoreError` for an SQLite error the disk caused."""
    kind = disk_problem(e)
    why = read_only(path)
    if why and kind in ("read-only", "failing", None):
        return read_only_error(path, why)
    if kind == "failing" and nearly_full(path):
        kind = "full"
    if kind == "full":
        return StoreError(
            f"the disk holding the run store {path} is full ({free_space(path)}): nothing was written "
            "and the store is as it was. Free some space, or pass store= a folder on another disk."
        )
    if kind == "read-only":
        return read_only_error(path, "SQLite reports it as read-only")
    if kind == "locked":
        return StoreError(
            f"the run store at {path} stayed locked by another process for {BUSY_S:.0f} s (SQLite: {e}): "
            "another notebook or process is in the middle of a long write. Try again when it ends."
        )
    if kind == "damaged" and isinstance(e, sqlite3.DatabaseError):
        return _schema.unreadable(path, e)
    return StoreError(
        f"reading or writing the run store at {path} failed: SQLite reports {str(e)!r} (the disk or the "
        "file system failed). Check the disk, or pass store= another path."
    )
