"""Disks that refuse: a cache and a store on a disk that fills mid-run, read-only ones, a
damaged cache file. The disks are real: a small tmpfs, and read-only bind mounts (or, for a
user who is not root, read-only permissions); where the machine allows neither, the tests
skip and say why. Judge calls go over real HTTP to the local judge server."""

from __future__ import annotations

import gc
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench.errors import CacheError, CacheWarning
from workbench.llm import DiskCache, forget_in_process
from workbench.store import StoreError, StoreWarning
from workbench.testing import JudgeServer

C = wb.Criterion


def suite(*criteria: str) -> wb.Suite:
    return wb.Suite(
        name="d",
        tasks=[
            wb.AssertionTask(id="asked", path="question", op="is_not_empty"),
            wb.JudgeTask(
                id="quality",
                prompt="Q: ${question}",
                threshold=3,
                criteria=[C(name=c, description=f"The answer is {c}.") for c in criteria or ("accurate",)],
            ),
        ],
    )


def questions(n: int) -> pd.DataFrame:
    return pd.DataFrame({"question": [f"What is {i} + {i}?" for i in range(n)]})


def judged(server: JudgeServer, n: int, cache: Path, store: Any = None, **kw: Any) -> wb.Run:
    """A run of ``n`` joint judge calls, as a fresh process would make it (nothing in memory)."""
    forget_in_process()
    return wb.evaluate(
        questions(n),
        kw.pop("suite", None) or suite(),
        model=server.model,
        **server.litellm_kwargs,
        cache_dir=cache,
        store=store,
        save=store is not None,
        progress=False,
        backoff_s=0.0,
        **kw,
    )


def every_verdict_kept(run: wb.Run, n: int) -> None:
    judge = run.results[run.results["kind"] == "judge"]
    assert len(judge) == n and not (judge["status"] == "error").any(), judge["error"].dropna().head()
    assert judge["score"].notna().all()


def only(caught: list[warnings.WarningMessage], category: type[Warning]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, category)]


# --- real disks: a small tmpfs, a read-only view ---------------------------------------------


def _unmount(where: Path) -> None:
    gc.collect()  # connections nobody closed would keep the mount busy
    if subprocess.run(["umount", str(where)], capture_output=True, check=False).returncode:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


@contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` for the block, unmounted after it."""
    where.mkdir(parents=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command on this machine: a small disk cannot be made")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode:
        pytest.skip(f"this machine does not allow mounting a tmpfs (needs root): {made.stderr.strip()}")
    try:
        yield where
    finally:
        _unmount(where)


@contextmanager
def read_only_view(source: Path) -> Iterator[Path]:
    """``source`` seen read-only: a read-only bind mount for root (whom permissions do not
    stop), read-only permissions for anyone else (restored after the block)."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [source, *source.rglob("*")]}
        for p, mode in modes.items():
            p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        try:
            yield source
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    where = source.with_name(source.name + "-read-only")
    where.mkdir()
    bound = subprocess.run(["mount", "--bind", str(source), str(where)], capture_output=True, text=True)
    if bound.returncode:
        pytest.skip(f"this machine does not allow a bind mount: {bound.stderr.strip()}")
    try:
        frozen = subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(where)], capture_output=True, text=True, check=False
        )
        if frozen.returncode:
            pytest.skip(f"this machine does not allow a read-only remount: {frozen.stderr.strip()}")
        yield where
    finally:
        _unmount(where)


# --- a disk that fills ---------------------------------------------------------------------------


def test_a_disk_that_fills_while_the_cache_is_written_keeps_every_verdict(
    judge_server: JudgeServer, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk", "1m") as disk:
        cache = disk / "cache"
        DiskCache(cache).close()
        room = 160_000  # room for a few verdicts (each commit adds pages to the WAL), not 40
        (disk / "filler").write_bytes(b"\0" * (shutil.disk_usage(disk).free - room))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = judged(judge_server, 40, cache, store=disk / "store")
        every_verdict_kept(run, 40)
        assert judge_server.count == 40
        full = only(caught, CacheWarning)
        assert len(full) == 1, full  # one warning, not one per verdict
        assert full[0].startswith(
            f"the judge cache at {cache} cannot take more verdicts: the disk holding it is full"
        )
        assert "pass cache_dir= a folder on another disk" in full[0]
        # the verdicts written before the disk filled are served; the others are called again
        with warnings.catch_warnings(record=True) as again_caught:
            warnings.simplefilter("always")
            again = judged(judge_server, 40, cache)
        every_verdict_kept(again, 40)
        hits = int(again.results["cached"].sum())
        assert 0 < hits < 40 and judge_server.count == 40 + (40 - hits)
        assert len(only(again_caught, CacheWarning)) == 1


def test_a_store_on_a_full_disk_warns_with_the_path_and_keeps_the_run(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "512k") as disk:
        store = disk / "store"
        first = wb.evaluate(questions(3), wb.Suite(name="a", tasks=[suite().tasks[0]]), store=store)
        (disk / "filler").write_bytes(b"\0" * shutil.disk_usage(disk).free)
        big = pd.DataFrame({"question": [os.urandom(40).hex() for _ in range(5_000)]})
        with pytest.warns(StoreWarning) as caught:
            run = wb.evaluate(big, wb.Suite(name="a", tasks=[suite().tasks[0]]), store=store)
        message = str(caught[0].message)
        assert f"the disk holding the run store {store / 'runs.sqlite'} is full" in message, message
        assert "nothing was written and the store is as it was" in message
        assert run.id is None and len(run.results) == 5_000
        (disk / "filler").unlink()
        assert wb.runs(store=store)["id"].tolist() == [first.id]
        pd.testing.assert_frame_equal(wb.load_run(first.id, store=store).results, first.results)


# --- read-only ------------------------------------------------------------------------------------


def test_a_read_only_cache_with_every_verdict_serves_them_and_warns_once_for_new_ones(
    judge_server: JudgeServer, tmp_path: Path
) -> None:
    source = tmp_path / "project"
    judged(judge_server, 20, source / "cache")
    assert judge_server.count == 20
    with read_only_view(source) as view:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing is lost, so nothing to warn about
            served = judged(judge_server, 20, view / "cache")
        every_verdict_kept(served, 20)
        assert (
            judge_server.count == 20 and served.results.loc[served.results["kind"] == "judge", "cached"].all()
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            changed = judged(judge_server, 20, view / "cache", suite=suite("accurate", "clear"))
        every_verdict_kept(changed, 40)
        assert judge_server.count == 40  # only the changed calls were made
        said = only(caught, CacheWarning)
        assert len(said) == 1 and f"the judge cache at {view / 'cache'} is read-only" in said[0], said
        assert "verdicts already in it are served" in said[0]


def test_a_read_only_store_lists_and_loads_and_says_it_is_read_only_on_save(tmp_path: Path) -> None:
    source = tmp_path / "project"
    one = wb.evaluate(
        questions(3), suite().model_copy(update={"tasks": suite().tasks[:1]}), store=source, label="a"
    )
    two = wb.evaluate(
        questions(4), suite().model_copy(update={"tasks": suite().tasks[:1]}), store=source, label="b"
    )
    with read_only_view(source) as view:
        assert wb.runs(store=view)["id"].tolist() == [two.id, one.id]
        pd.testing.assert_frame_equal(wb.load_run("a", store=view).results, one.results)
        assert len(wb.Store(view).summaries()) == 2
        with pytest.warns(StoreWarning) as caught:
            kept = wb.evaluate(
                questions(2), suite().model_copy(update={"tasks": suite().tasks[:1]}), store=view
            )
        message = str(caught[0].message)
        assert f"the run store at {view / 'runs.sqlite'} is read-only (" in message, message
        assert "its runs can be listed and loaded" in message and "Pass store= a writable folder" in message
        assert "not a workbench run store" not in message and "move this file away" not in message
        assert kept.id is None and len(kept.results) == 2
        with pytest.raises(StoreError, match=r"is read-only .*nothing can be saved in it or deleted from it"):
            wb.delete_run("a", store=view)
        with pytest.warns(
            StoreWarning, match=rf"cannot create the run store at {re.escape(str(view / 'new'))}"
        ):
            wb.evaluate(questions(2), wb.Suite(name="a", tasks=[suite().tasks[0]]), store=view / "new")
    assert len(wb.runs(store=source)) == 2


def test_a_read_only_store_of_the_previous_layout_loads_as_it_is(tmp_path: Path) -> None:
    source = tmp_path / "project"
    run = wb.evaluate(questions(3), wb.Suite(name="a", tasks=[suite().tasks[0]]), store=source, label="old")
    con = sqlite3.connect(source / "runs.sqlite")  # back to schema version 1: no checksum column
    con.execute("ALTER TABLE runs DROP COLUMN checksum")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    with read_only_view(source) as view:
        pd.testing.assert_frame_equal(wb.load_run("old", store=view).results, run.results)
    con = sqlite3.connect(source / "runs.sqlite")
    assert con.execute("PRAGMA user_version").fetchone()[0] == 1  # nothing was migrated in place
    con.close()


# --- a damaged cache --------------------------------------------------------------------------------


def test_a_cache_file_that_is_not_a_database_is_an_error_naming_it_before_any_call(
    judge_server: JudgeServer, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "cache.db").write_bytes(b"these are not the verdicts you are looking for " * 200)
    db = re.escape(str(cache / "cache.db"))
    with pytest.raises(
        CacheError, match=rf"the judge cache file {db} is damaged or not a database .*Move it away"
    ):
        judged(judge_server, 5, cache)
    assert judge_server.count == 0
    assert isinstance(CacheError("x"), wb.WorkbenchError)


def test_a_cache_file_damaged_inside_is_dropped_for_the_run_with_one_warning(
    judge_server: JudgeServer, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    judged(judge_server, 30, cache)
    con = sqlite3.connect(cache / "cache.db")
    page = con.execute("PRAGMA page_size").fetchone()[0]
    roots = [
        r[0] for r in con.execute("SELECT rootpage FROM sqlite_master WHERE tbl_name = 'Cache' AND rootpage")
    ]
    con.close()
    data = bytearray((cache / "cache.db").read_bytes())
    for root in roots:  # the verdicts' table and indexes; the settings diskcache opens with stay whole
        data[(root - 1) * page : (root - 1) * page + 64] = b"\xff" * 64
    (cache / "cache.db").write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = judged(judge_server, 30, cache)
    every_verdict_kept(run, 30)
    assert judge_server.count == 60 and not run.results["cached"].any()
    said = only(caught, CacheWarning)
    assert len(said) == 1 and f"the judge cache file {cache / 'cache.db'} is damaged" in said[0], said
    assert "It is not used for the rest of this run" in said[0]
