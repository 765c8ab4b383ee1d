"""A kernel that reads the run store but does not add to it: how reports execute notebooks.

A report executes its notebook top to bottom every time; each ``wb.evaluate`` in it would
save one more run into the user's store (``evaluate`` saves by default). So the kernel gets
a temporary ``WORKBENCH_HOME`` that mirrors the real one:

* the judge cache is the real one (a link), so the report's calls are cached calls and the
  calls it makes are kept for the next run;
* the run store is a snapshot (SQLite's backup), so a notebook that loads or compares saved
  runs sees them, and what the report saves is dropped with the folder;
* anything else in the home folder is linked.

``WORKBENCH_SAVE_RUNS=0`` is set too: once ``evaluate`` reads it (``save`` then defaults to
false), the mirror is no longer needed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["SAVE_RUNS_ENV", "isolated_runs", "workbench_home"]

SAVE_RUNS_ENV = "WORKBENCH_SAVE_RUNS"
"""``0`` in a kernel's environment: its ``wb.evaluate`` calls do not save runs by default."""


def workbench_home(workdir: Path, environ: Mapping[str, str]) -> Path:
    """The folder a kernel working in ``workdir`` keeps its run store and cache in:
    ``$WORKBENCH_HOME`` (relative to ``workdir`` when relative), else ``workdir/.workbench``,
    as :func:`workbench.store.default_path` and :func:`workbench.llm.default_cache_dir` find it.

    Example:
        >>> from pathlib import Path
        >>> workbench_home(Path("/data/nb"), {}), workbench_home(Path("/data/nb"), {"WORKBENCH_HOME": "../h"})
        (PosixPath('/data/nb/.workbench'), PosixPath('/data/nb/../h'))
    """
    home = environ.get("WORKBENCH_HOME")
    base = Path(home).expanduser() if home else Path(".workbench")
    return base if base.is_absolute() else workdir.absolute() / base


@contextlib.contextmanager
def isolated_runs(workdir: Path) -> Iterator[dict[str, str]]:
    """The environment of a kernel working in ``workdir`` whose saved runs are dropped
    afterwards (see the module's notes); the temporary home is removed on exit.

    Example:
        >>> import os, tempfile
        >>> from pathlib import Path
        >>> with tempfile.TemporaryDirectory() as d, isolated_runs(Path(d)) as env:
        ...     kernel_home, real_home = Path(env["WORKBENCH_HOME"]), workbench_home(Path(d), os.environ)
        ...     kernel_home != real_home, (kernel_home / "cache").resolve() == (real_home / "cache").resolve()
        (True, True)
    """
    from ..llm import default_cache_dir
    from ..store import default_path

    real = workbench_home(workdir, os.environ)
    store, cache = default_path().name, default_cache_dir().name  # "runs.sqlite", "cache"
    with tempfile.TemporaryDirectory(prefix="wb-report-home-") as tmp:
        home = Path(tmp)
        with contextlib.suppress(OSError):  # an unwritable home: the report's calls are not kept
            (real / cache).mkdir(parents=True, exist_ok=True)
        for entry in sorted(real.iterdir()) if real.is_dir() else []:
            if entry.name.startswith(store):  # the store and its -wal, -shm, -journal files
                continue
            try:
                (home / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
            except OSError as e:  # no symlinks (Windows without the privilege): a fresh cache
                warnings.warn(
                    f"the report's kernel cannot use {entry} ({e}); judge calls are made again",
                    stacklevel=3,
                )
        if (real / store).is_file():
            _snapshot(real / store, home / store)
        yield {**os.environ, "WORKBENCH_HOME": str(home), SAVE_RUNS_ENV: "0"}


def _snapshot(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite file, also while another process writes to it (WAL)."""
    try:
        with (
            contextlib.closing(sqlite3.connect(source)) as src,
            contextlib.closing(sqlite3.connect(target)) as dst,
        ):
            src.backup(dst)
    except sqlite3.Error as e:
        warnings.warn(
            f"the run store {source} could not be copied for the report ({e}); the notebook sees "
            "no saved runs",
            stacklevel=4,
        )
