"""Other run stores near the working directory, named when a run is not found where it was
looked for: the runs a notebook saved in ``notebooks/.workbench`` are then one ``store=``
away from a terminal in the project's root, not lost."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from ..files import HOME_NAME, home, homes_above, homes_below
from ._schema import APPLICATION_ID

__all__ = ["nearby_hint", "nearby_stores"]

_SHOWN = 5
"""How many other stores a message names at most."""


def nearby_stores(
    current: Path, ref: str | None = None, start: str | os.PathLike[str] | None = None
) -> list[tuple[Path, int, bool]]:
    """``(store file, runs, whether a run has id or label ref)`` for every workbench run
    store with runs, other than ``current``: in ``.workbench`` folders in ``start`` (default:
    the working directory) and above it, in its sub-folders (two levels down, and below the
    project that holds ``current``), and in ``$WORKBENCH_HOME``. Nothing is written to them.

    Example:
        >>> import tempfile, pandas as pd, workbench as wb
        >>> from pathlib import Path
        >>> from workbench.store import nearby_stores
        >>> project = Path(tempfile.mkdtemp()).resolve()
        >>> pos = wb.Suite(name="s", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
        >>> below = project / "notebooks" / ".workbench"
        >>> _ = wb.evaluate(pd.DataFrame({"x": [1]}), pos, label="m0", store=below)
        >>> [(p.relative_to(project).as_posix(), n, has) for p, n, has in
        ...  nearby_stores(project / ".workbench" / "runs.sqlite", "m0", start=project)]
        [('notebooks/.workbench/runs.sqlite', 1, True)]
    """
    here = Path.cwd() if start is None else Path(start).absolute()
    folders = [*homes_above(here), *homes_below(here)]
    if current.parent.name == HOME_NAME:
        folders += homes_below(current.parent.parent)
    folders.append(home())
    seen = {_identity(current)}
    found: list[tuple[Path, int, bool]] = []
    for folder in folders:
        path = folder / "runs.sqlite"
        key = _identity(path)
        if key in seen or not path.is_file():
            continue
        seen.add(key)
        counted = _count(path, ref)
        if counted is not None and counted[0] > 0:
            found.append((path, *counted))
    return found


def nearby_hint(current: Path, ref: str | None) -> str:
    """A sentence naming the other stores of :func:`nearby_stores` (the one holding ``ref``
    first) and how to read one, or ``""`` when there are none. Never raises: it only
    decorates another error."""
    try:
        found = nearby_stores(current, ref)
    except Exception:  # noqa: BLE001 - a hint must never hide the error it decorates
        return ""
    if not found:
        return ""
    found.sort(key=lambda f: not f[2])  # the store that has the run first
    shown = []
    for path, n, has in found[:_SHOWN]:
        among = f", {ref!r} among them" if has else ""
        shown.append(f"{_show(path)!r} ({n:,} run{'s' if n != 1 else ''}{among})")
    more = f" and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
    if found[0][2]:
        where = _show(found[0][0])
        how = f"pass store={where!r} to read it (CLI: --store {where}), or work from that folder"
    else:
        how = "pass store= one of them to read it (CLI: --store PATH)"
    return f" Other run stores nearby: {', '.join(shown)}{more}; {how}."


def _count(path: Path, ref: str | None) -> tuple[int, bool] | None:
    """Runs in the store at ``path`` and whether ``ref`` is one of them; ``None`` for a file
    that is not a current workbench store or cannot be read. Opened read-only."""
    uri = "file:" + quote(str(path))
    for mode in ("mode=ro", "immutable=1"):  # immutable: a read-only folder without the -shm file
        try:
            con = sqlite3.connect(f"{uri}?{mode}", uri=True, timeout=1.0)
        except sqlite3.Error:
            continue
        try:
            if con.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                return None
            n = int(con.execute("SELECT count(*) FROM runs").fetchone()[0])
            has = bool(
                ref
                and con.execute("SELECT 1 FROM runs WHERE id = ? OR label = ? LIMIT 1", (ref, ref)).fetchone()
            )
            return n, has
        except sqlite3.Error:
            continue
        finally:
            con.close()
    return None


def _show(path: Path) -> str:
    """The store as a user types it: its folder when the file is the default name, relative
    to the working directory when that is short."""
    target = path.parent if path.name == "runs.sqlite" else path
    try:
        rel = os.path.relpath(target)
    except ValueError:  # another drive (Windows)
        return str(target)
    return rel if rel.count("..") <= 2 else str(target)


def _identity(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path.absolute())
