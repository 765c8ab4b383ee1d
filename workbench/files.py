"""Where workbench keeps its files, and what to say when a disk refuses them.

The run store and the judge cache live in one folder, found the way git finds a repository:

1. ``$WORKBENCH_HOME``, when it is set (and not empty), wins.
2. Else the nearest folder named ``.workbench`` in the working directory or above it: a
   notebook in ``project/notebooks/`` and a terminal in ``project/`` then share
   ``project/.workbench/``.
3. Else ``.workbench`` in the working directory, created on the first write.

This module sits at the bottom of the layers (the cache in ``llm`` and the run store both
ask it), so it imports nothing of workbench.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

__all__ = [
    "HOME_NAME",
    "DiskProblem",
    "disk_problem",
    "free_space",
    "home",
    "homes_above",
    "homes_below",
    "nearly_full",
    "read_only",
]

HOME_NAME = ".workbench"
"""The name of the folder that holds a project's runs (``runs.sqlite``) and cache (``cache/``)."""

_SKIPPED = frozenset({"node_modules", "__pycache__", "site-packages", "venv", "env", "build", "dist"})
"""Folders never searched for a store below the working directory (besides hidden ones)."""
_MAX_LISTED = 400
"""How many folders a search below the working directory opens at most: an error message
must stay instant in a home directory with thousands of folders."""


def home(start: str | os.PathLike[str] | None = None) -> Path:
    """The folder that holds the run store and the judge cache (an absolute path; it may
    not exist yet).

    Args:
        start: where to start looking (default: the working directory).

    Example:
        >>> import os, tempfile
        >>> from pathlib import Path
        >>> from workbench.store import home
        >>> project = Path(tempfile.mkdtemp()).resolve()
        >>> (project / ".workbench").mkdir(); (project / "notebooks").mkdir()
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, {"WORKBENCH_HOME": ""}):  # empty counts as unset
        ...     home(project / "notebooks") == project / ".workbench"  # found above
        True
        >>> with mock.patch.dict(os.environ, {"WORKBENCH_HOME": str(project / "elsewhere")}):
        ...     home(project / "notebooks") == project / "elsewhere"  # the variable wins
        True
    """
    variable = os.environ.get("WORKBENCH_HOME")
    if variable:
        return Path(variable).expanduser().absolute()
    here = _start(start)
    return next(homes_above(here), here / HOME_NAME)


def homes_above(start: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """Every ``.workbench`` folder in ``start`` (default: the working directory) and its
    parents, nearest first.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> root = Path(tempfile.mkdtemp()).resolve()
        >>> (root / ".workbench").mkdir(); (root / "a" / ".workbench").mkdir(parents=True)
        >>> [p.relative_to(root).as_posix() for p in homes_above(root / "a")][:2]
        ['a/.workbench', '.workbench']
    """
    here = _start(start)
    for folder in (here, *here.parents):
        candidate = folder / HOME_NAME
        if _is_dir(candidate):
            yield candidate


def homes_below(start: str | os.PathLike[str] | None = None, depth: int = 2) -> list[Path]:
    """The ``.workbench`` folders in the sub-folders of ``start`` (default: the working
    directory), at most ``depth`` levels down, hidden folders and virtualenvs skipped.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> root = Path(tempfile.mkdtemp()).resolve()
        >>> (root / "notebooks" / ".workbench").mkdir(parents=True)
        >>> [p.relative_to(root).as_posix() for p in homes_below(root)]
        ['notebooks/.workbench']
    """
    found: list[Path] = []
    level, listed = [_start(start)], 0
    for _ in range(depth):
        below: list[Path] = []
        for folder in level:
            if listed >= _MAX_LISTED:
                return found
            listed += 1
            try:
                with os.scandir(folder) as entries:
                    names = sorted(e.name for e in entries if _entry_is_dir(e))
            except OSError:  # unreadable folders are not ours to report
                continue
            for name in names:
                if name.startswith(".") or name in _SKIPPED:
                    continue
                child = folder / name
                if _is_dir(child / HOME_NAME):
                    found.append(child / HOME_NAME)
                below.append(child)
        level = below
    return found


def _start(start: str | os.PathLike[str] | None) -> Path:
    return (Path.cwd() if start is None else Path(start).expanduser()).absolute()


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a parent we may not read (EACCES) has no store we could use
        return False


def _entry_is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


# --- disks that refuse a write ---------------------------------------------------------

DiskProblem = Literal["full", "read-only", "damaged", "locked", "failing"]
"""Why a file could not be read or written: the disk is full, the file or its folder is
read-only, the file is not (or no longer) a valid SQLite database, another process held
its lock past the timeout, or the disk or file system reported an I/O error."""

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


def disk_problem(error: BaseException) -> DiskProblem | None:
    """What kind of disk problem ``error`` (an ``OSError`` or an ``sqlite3.Error``) reports,
    or ``None`` when it is not one.

    Example:
        >>> import errno, sqlite3
        >>> disk_problem(OSError(errno.ENOSPC, "No space left on device"))
        'full'
        >>> disk_problem(sqlite3.OperationalError("attempt to write a readonly database"))
        'read-only'
        >>> disk_problem(ValueError("no"))
    """
    if isinstance(error, OSError):
        if error.errno in _FULL:
            return "full"
        if error.errno in _READ_ONLY:
            return "read-only"
        return "failing"
    if not isinstance(error, sqlite3.Error):
        return None
    name = str(getattr(error, "sqlite_errorname", "") or "")  # Python 3.11+; the text otherwise
    text = str(error).lower()
    if name == "SQLITE_FULL" or "disk is full" in text:
        return "full"
    if name.startswith("SQLITE_READONLY") or "readonly database" in text:
        return "read-only"
    if (
        name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
        or "malformed" in text
        or "not a database" in text
    ):
        return "damaged"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "is locked" in text:
        return "locked"
    if (
        name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN"))
        or "disk i/o error" in text
        or "unable to open" in text
    ):
        return "failing"
    return None


def nearly_full(path: str | os.PathLike[str]) -> bool:
    """Whether the file system holding ``path`` has almost no room left (under 256 KB): an
    I/O error there is the full disk, whatever SQLite calls it (writing its ``-shm`` file on
    a full disk is a "disk I/O error").

    Example:
        >>> nearly_full("/") in (True, False)
        True
    """
    p = _existing(path)
    try:
        return shutil.disk_usage(p).free < 256 * 1024
    except OSError:
        return False


def free_space(path: str | os.PathLike[str]) -> str:
    """The free space on the file system holding ``path`` (or its nearest existing parent),
    for a message: ``"12 KB free"``; ``""`` when it cannot be known.

    Example:
        >>> free_space("/").endswith(" free")
        True
    """
    p = _existing(path)
    try:
        free = float(shutil.disk_usage(p).free)
    except OSError:
        return ""
    for unit in ("bytes", "KB", "MB", "GB"):
        if free < 1024 or unit == "GB":
            return f"{free:,.0f} {unit} free" if unit == "bytes" else f"{free:,.1f} {unit} free"
        free /= 1024
    return ""  # pragma: no cover - the loop always returns


def _existing(path: str | os.PathLike[str]) -> Path:
    """``path``, or its nearest parent that exists."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def read_only(path: str | os.PathLike[str]) -> str | None:
    """Why the existing file ``path`` cannot be written (``"it is on a read-only file
    system"``...), or ``None`` when it can. SQLite also needs its folder, to create the
    ``-wal`` and ``-shm`` files beside the database.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile() as f:
        ...     print(read_only(f.name))
        None
    """
    p = Path(path).absolute()
    folder = p.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"it is on a read-only file system ({folder})"
    except (OSError, AttributeError):  # no statvfs (Windows): the access checks below decide
        pass
    if p.exists() and not os.access(p, os.W_OK):
        return "the file is not writable for this user"
    if not os.access(folder, os.W_OK):
        sidecars = [p.with_name(p.name + suffix) for suffix in ("-wal", "-shm")]
        if not all(s.exists() and os.access(s, os.W_OK) for s in sidecars):
            return f"its folder {folder} is not writable for this user, and SQLite writes files beside it"
    return None
