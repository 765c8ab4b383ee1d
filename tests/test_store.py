"""The run store: save, list, load, delete, summaries; dtypes; concurrency; schema versions;
credentials; and the save hook of evaluate."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import workbench as wb
from workbench.secrets import safe_params
from workbench.store import (
    SCHEMA_VERSION,
    StoreError,
    StoreWarning,
    UnknownRunError,
    data_fingerprint,
)
from workbench.testing import JudgeServer, Reply

ROOT = Path(__file__).resolve().parent.parent
C = wb.Criterion


def assertions_suite(name: str = "s", version: str = "v1") -> wb.Suite:
    return wb.Suite(
        name=name,
        version=version,
        tasks=[
            wb.AssertionTask(id="pos", path="x", op="is_positive", gate=True),
            wb.AssertionTask(id="small", path="x", op="lt", expected=10, depends_on=["pos"]),
        ],
    )


def judge_suite() -> wb.Suite:
    return wb.Suite(
        name="j",
        version="v2",
        tasks=[
            wb.AssertionTask(id="has_answer", path="answer", op="is_not_empty", gate=True),
            wb.JudgeTask(
                id="quality",
                prompt="Q: ${question}\nA: ${answer}",
                threshold=3,
                depends_on=["has_answer"],
                criteria=[
                    C(name="accuracy", description="Correct."),
                    C(name="clarity", description="Clear."),
                ],
            ),
            wb.JudgeTask(
                id="tone",
                prompt="A: ${answer}",
                scale="binary",
                mode="per_criterion",
                criteria=[C(name="polite", description="Polite.")],
            ),
        ],
    )


def qa(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "question": [f"What is {i}+{i}?" for i in range(n)],
            "answer": [f"It is {2 * i}." if i % 7 else "" for i in range(n)],
        },
        index=pd.Index([f"q{i}" for i in range(n)], name="id"),
    )


def judged(server: JudgeServer, tmp_path: Path, **kw: Any) -> wb.Run:
    return wb.evaluate(
        qa(30),
        judge_suite(),
        model=server.model,
        **server.litellm_kwargs,
        cache_dir=tmp_path / "cache",
        progress=False,
        **kw,
    )


def assert_same_run(loaded: wb.Run, original: wb.Run) -> None:
    pd.testing.assert_frame_equal(loaded.results, original.results)
    assert loaded.suite == original.suite
    assert (loaded.id, loaded.label, loaded.model) == (original.id, original.label, original.model)
    assert loaded.started_at == original.started_at and loaded.started_at.tzinfo is not None
    assert loaded.duration_s == original.duration_s
    assert loaded.calls == original.calls
    assert loaded.data_fingerprint == original.data_fingerprint and loaded.params == original.params


# --- round trips ---------------------------------------------------------------------------


def refuse_some(request: dict[str, Any]) -> Reply | None:
    """A 400 for the rows about 3 and 5: those cells become errors."""
    text = json.dumps(request)
    return Reply(status=400, content="prompt rejected") if "3+3" in text or "5+5" in text else None


def test_a_judged_run_round_trips_with_its_dtypes(judge_server_factory: Any, tmp_path: Path) -> None:
    store = wb.Store(tmp_path / "store")
    server = judge_server_factory(script=refuse_some)
    run = judged(server, tmp_path, store=store, label="baseline", concurrency=4, max_retries=0, backoff_s=0.0)
    assert run.id is not None and run.label == "baseline"
    r = run.results
    assert {"error", "skipped", "passed", "failed"} <= set(r["status"].astype(str))  # a varied frame
    loaded = store.load(run.id)
    assert_same_run(loaded, run)
    for c in ("task", "criterion", "kind", "status"):
        assert list(loaded.results[c].cat.categories) == list(r[c].cat.categories)
    assert loaded.results["label"].dtype == r["label"].dtype == pd.StringDtype("pyarrow")
    pd.testing.assert_frame_equal(loaded.summary(), run.summary())
    pd.testing.assert_frame_equal(loaded.cost(), run.cost())
    assert wb.load_run("baseline", store=store).id == run.id


ROW_INDEXES = {
    "range": pd.RangeIndex(4),
    "str": pd.Index(["a", "b", "c", "d"], dtype="str"),
    "object str": pd.Index(["a", "b", "c", "d"], dtype=object),
    "multiindex": pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1), ("b", 10)]),
    "mixed": pd.Index([1, "1", 2.5, None], dtype=object),
    "datetime tz": pd.date_range("2024-03-01", periods=4, freq="h", tz="Europe/Paris"),
    "float": pd.Index([0.5, 1.5, 2.5, np.nan]),
    "categorical": pd.CategoricalIndex(["x", "y", "z", "w"]),
    "uint8": pd.Index(np.array([1, 2, 3, 4], dtype=np.uint8)),
}


@pytest.mark.parametrize("kind", list(ROW_INDEXES))
def test_row_labels_keep_their_dtype_and_values(kind: str, tmp_path: Path) -> None:
    df = pd.DataFrame({"x": [1, -2, 30, 4]}, index=ROW_INDEXES[kind])
    run = wb.evaluate(df, assertions_suite(), store=tmp_path)
    loaded = wb.load_run(run, store=tmp_path)  # a saved Run is a reference too
    pd.testing.assert_frame_equal(loaded.results, run.results)
    assert [type(v) for v in loaded.results["row"]] == [
        type(v) for v in run.results["row"]
    ] or kind == "multiindex"
    if kind == "multiindex":
        assert loaded.results["row"].tolist()[:2] == [("a", 1), ("a", 2)]
    assert loaded.wide().index.equals(run.wide().index)


def test_a_run_over_no_rows_round_trips(tmp_path: Path) -> None:
    run = wb.evaluate(pd.DataFrame({"x": pd.Series([], dtype="int64")}), assertions_suite(), store=tmp_path)
    assert len(run.results) == 0 and list(run.results["task"].cat.categories) == ["pos", "small"]
    pd.testing.assert_frame_equal(wb.load_run(run, store=tmp_path).results, run.results)
    assert wb.runs(store=tmp_path)[["rows", "cells", "passed"]].iloc[0].tolist() == [0, 0, 0]


def test_a_row_label_that_cannot_be_stored_warns_and_keeps_the_run(tmp_path: Path) -> None:
    df = pd.DataFrame({"x": [1, 2]}, index=pd.Index([frozenset({1}), frozenset({2})], dtype=object))
    with pytest.warns(StoreWarning, match=r"row label frozenset\(\{1\}\).*cannot be stored.*reset_index"):
        run = wb.evaluate(df, assertions_suite(), store=tmp_path)
    assert run.id is None and len(run.results) == 4
    assert len(wb.runs(store=tmp_path)) == 0  # nothing half-written


def test_three_runs_list_and_load_in_a_fresh_process(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    originals = [
        wb.evaluate(
            pd.DataFrame({"x": [1, -2, 3 * k]}), assertions_suite(version=f"v{k}"), store=store, label=f"r{k}"
        )
        for k in range(3)
    ]
    (tmp_path / "originals.pkl").write_bytes(
        pickle.dumps([(r.id, r.results, r.suite.to_yaml()) for r in originals])
    )
    script = textwrap.dedent(f"""
        import pickle, sys, pandas as pd, workbench as wb
        listed = wb.runs(store={str(store)!r})
        originals = pickle.loads(open({str(tmp_path / "originals.pkl")!r}, "rb").read())
        assert listed["id"].tolist() == [i for i, _, _ in originals][::-1], listed
        for run_id, results, suite_yaml in originals:
            loaded = wb.load_run(run_id, store={str(store)!r})
            pd.testing.assert_frame_equal(loaded.results, results)
            assert loaded.suite == wb.Suite.from_yaml(suite_yaml)
        print("ok", len(listed))
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ok", "3"]


# --- listing, lookups, deleting, summaries --------------------------------------------------


def test_runs_lists_newest_first_with_totals_and_dtypes(judge_server: JudgeServer, tmp_path: Path) -> None:
    store = wb.Store(tmp_path)
    first = wb.evaluate(pd.DataFrame({"x": [1, -2, 30]}), assertions_suite(), store=store)
    second = judged(judge_server, tmp_path, store=store, label="judged")
    table = wb.runs(store=store)
    assert table["id"].tolist() == [second.id, first.id]
    assert str(table["started_at"].dtype) == "datetime64[us, UTC]"
    expected = {
        "id": "string",
        "label": "string",
        "suite": "string",
        "version": "string",
        "model": "string",
        "duration_s": "float64",
        "rows": "int64",
        "cells": "int64",
        "calls": "int64",
        "cache_hits": "int64",
        "errors": "int64",
        "tokens": "Int64",
        "cost_usd": "Float64",
        "saved_usd": "Float64",
        "passed": "int64",
        "failed": "int64",
        "suite_fingerprint": "string",
        "data_fingerprint": "string",
    }
    assert {c: str(table[c].dtype) for c in expected} == expected
    newest = table.iloc[0]
    r = second.results
    assert newest["label"] == "judged" and newest["model"] == judge_server.model
    assert (newest["rows"], newest["cells"]) == (30, len(r))
    assert (
        newest["passed"] == (r["status"] == "passed").sum()
        and newest["failed"] == (r["status"] == "failed").sum()
    )
    assert newest["errors"] == (r["status"] == "error").sum()
    assert newest["calls"] == second.calls["calls"] and newest["cache_hits"] == second.calls["cache_hits"]
    assert newest["tokens"] == r["tokens"].sum() > 0
    assert newest["suite_fingerprint"] == second.suite.fingerprint()
    assert newest["data_fingerprint"] == data_fingerprint(qa(30))
    oldest = table.iloc[1]
    assert pd.isna(oldest["label"]) and pd.isna(oldest["model"])
    assert (oldest["rows"], oldest["cells"], oldest["passed"], oldest["failed"]) == (3, 6, 3, 2)
    assert oldest["calls"] == 0 and oldest["cost_usd"] == 0.0
    assert table["started_at"].iloc[0].to_pydatetime() == second.started_at


def test_a_label_loads_its_newest_run_and_ids_resolve_by_prefix(tmp_path: Path) -> None:
    df = pd.DataFrame({"x": [1, 2]})
    old = wb.evaluate(df, assertions_suite(), store=tmp_path, label="nightly")
    new = wb.evaluate(df, assertions_suite(version="v2"), store=tmp_path, label="nightly")
    assert wb.load_run("nightly", store=tmp_path).id == new.id
    assert old.id is not None
    assert wb.load_run(old.id, store=tmp_path).suite.version == "v1"
    assert wb.load_run(old.id[:-1], store=tmp_path).id == old.id  # a unique prefix
    assert old.id[:8].isdigit() and old.id[8] == "-" and len(old.id.split("-")[2]) == 4


def test_an_unknown_reference_lists_the_closest_runs(tmp_path: Path) -> None:
    wb.evaluate(pd.DataFrame({"x": [1]}), assertions_suite(), store=tmp_path, label="baseline")
    with pytest.raises(
        UnknownRunError, match=r"no run with id or label 'baselin'.*did you mean 'baseline'\?"
    ) as e:
        wb.load_run("baselin", store=tmp_path)
    assert "The newest runs are" in str(e.value) and "wb.runs() lists all 1" in str(e.value)
    assert isinstance(e.value, LookupError) and isinstance(e.value, wb.WorkbenchError)


def test_reading_a_missing_store_creates_nothing_and_says_how_to_make_one(tmp_path: Path) -> None:
    where = tmp_path / "nowhere"
    table = wb.runs(store=where)
    assert table.empty and list(table.columns)[:3] == ["id", "label", "suite"]
    assert str(table["started_at"].dtype) == "datetime64[us, UTC]" and str(table["cells"].dtype) == "int64"
    assert wb.Store(where).summaries().empty
    with pytest.raises(
        UnknownRunError, match=r"no run store exists at .*nowhere.*runs\.sqlite.*saves by default"
    ):
        wb.load_run("x", store=where)
    with pytest.raises(UnknownRunError, match="no run store exists"):
        wb.delete_run("x", store=where)
    assert not where.exists()


def test_delete_removes_a_run_and_its_results(tmp_path: Path) -> None:
    store = wb.Store(tmp_path)
    keep = wb.evaluate(pd.DataFrame({"x": [1]}), assertions_suite(), store=store, label="keep")
    gone = wb.evaluate(pd.DataFrame({"x": [2]}), assertions_suite(), store=store, label="gone")
    assert wb.delete_run("gone", store=store) == gone.id
    assert store.runs()["id"].tolist() == [keep.id]
    with pytest.raises(UnknownRunError):
        store.load(gone.id)
    con = sqlite3.connect(store.path)
    counts = [
        con.execute(f"SELECT count(*) FROM {t} WHERE {k} = ?", (gone.id,)).fetchone()[0]
        for t, k in (("results", "run_id"), ("summaries", "run_id"))
    ]
    con.close()
    assert counts == [0, 0]


def test_summaries_stack_each_runs_summary_for_trends(tmp_path: Path) -> None:
    store = wb.Store(tmp_path)
    runs = [
        wb.evaluate(pd.DataFrame({"x": [1, -2, 3, k]}), assertions_suite(), store=store, label=f"r{k}")
        for k in (4, 40)
    ]
    s = store.summaries()
    assert s["run"].tolist() == [runs[0].id] * 2 + [runs[1].id] * 2  # oldest first
    assert list(s.columns[:6]) == ["run", "label", "started_at", "suite", "version", "model"]
    for run in runs:
        part = s[s["run"] == run.id].drop(columns=["run", "label", "started_at", "suite", "version", "model"])
        expected = run.summary()
        for c in ("task", "criterion", "kind"):
            expected[c] = expected[c].astype("string")
        pd.testing.assert_frame_equal(part.reset_index(drop=True), expected)
    only = store.summaries(["r40"])
    assert set(only["run"]) == {runs[1].id} and only["label"].unique().tolist() == ["r40"]


def test_saving_again_keeps_the_id_and_updates_the_label(tmp_path: Path) -> None:
    run = wb.evaluate(pd.DataFrame({"x": [1]}), assertions_suite(), save=False)
    first = run.save(store=tmp_path, label="a")
    assert run.save(store=tmp_path, label="b") == first and run.label == "b"
    assert wb.runs(store=tmp_path)["label"].tolist() == ["b"]
    other = wb.Store(tmp_path / "other.db")
    assert other.save(run) == first  # copied to another store under the same id
    assert_same_run(other.load(first), run)


# --- evaluate's save hook ---------------------------------------------------------------------


def test_evaluate_saves_to_the_default_store_unless_told_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    df = pd.DataFrame({"x": [1, -2]})
    unsaved = wb.evaluate(df, assertions_suite(), save=False, label="draft")
    assert unsaved.id is None and unsaved.label == "draft" and not (tmp_path / "home").exists()
    assert unsaved.data_fingerprint == data_fingerprint(df) and unsaved.params == {"strict": False}
    saved = wb.evaluate(df, assertions_suite())
    assert (tmp_path / "home" / "runs.sqlite").is_file() and wb.runs()["id"].tolist() == [saved.id]
    unsaved.save()
    assert wb.load_run("draft").id == unsaved.id


@pytest.mark.parametrize("where", ["dir", "new dir", "file.sqlite", "store object"])
def test_store_accepts_a_directory_a_file_or_a_store(where: str, tmp_path: Path) -> None:
    target: Any = {
        "dir": tmp_path,
        "new dir": tmp_path / "a" / "b",
        "file.sqlite": tmp_path / "mine.sqlite",
        "store object": wb.Store(tmp_path / "x.db"),
    }[where]
    run = wb.evaluate(pd.DataFrame({"x": [1]}), assertions_suite(), store=target)
    expected = {
        "dir": tmp_path / "runs.sqlite",
        "new dir": tmp_path / "a" / "b" / "runs.sqlite",
        "file.sqlite": tmp_path / "mine.sqlite",
        "store object": tmp_path / "x.db",
    }[where]
    assert expected.is_file() and wb.Store(target).path == expected
    assert wb.load_run(run, store=target).id == run.id


def test_async_evaluate_saves_too(tmp_path: Path) -> None:
    import asyncio

    run = asyncio.run(
        wb.evaluate_async(pd.DataFrame({"x": [1]}), assertions_suite(), store=tmp_path, label="a")
    )
    assert wb.load_run("a", store=tmp_path).id == run.id


def test_a_store_that_cannot_be_written_warns_and_returns_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.warns(
        StoreWarning, match=r"was not saved to the run store at .*file.*run\.save\(store=\.\.\.\)"
    ):
        run = wb.evaluate(pd.DataFrame({"x": [1, -2]}), assertions_suite(), store=blocker / "runs")
    assert run.id is None and run.results["status"].tolist() == ["passed", "failed", "passed", "skipped"]


def test_a_full_disk_leaves_the_run_unsaved_and_the_store_intact(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    before = wb.evaluate(pd.DataFrame({"x": [1]}), assertions_suite(), store=store)
    size = store.stat().st_size + sum(p.stat().st_size for p in tmp_path.glob("runs.sqlite-*"))
    script = textwrap.dedent(f"""
        import resource, signal, warnings, numpy as np, pandas as pd, workbench as wb
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, ({size + 8192}, {size + 8192}))
        suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="t", path="x", op="equals", expected="a")])
        # one generator: every row differs, so the results do not compress away
        rng = np.random.default_rng(0)
        df = pd.DataFrame({{"x": [rng.bytes(64).hex() for _ in range(20_000)]}})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = wb.evaluate(df, suite, store={str(store)!r})
        print(run.id, len(run.results), [str(w.message)[:60] for w in caught])
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("None 20000 ['the run started"), out.stdout
    assert "was not saved" in out.stdout
    assert wb.runs(store=store)["id"].tolist() == [before.id]
    pd.testing.assert_frame_equal(wb.load_run(before, store=store).results, before.results)


# --- several writers -------------------------------------------------------------------------


def test_two_processes_saving_at_once_do_not_corrupt_the_store(tmp_path: Path) -> None:
    store = tmp_path / "shared"
    # both wait at a barrier, so they create the store at the same moment: that is where
    # SQLite answers "locked" without waiting, and where a half-made store looked foreign
    script = textwrap.dedent(f"""
        import pathlib, sys, time, pandas as pd, workbench as wb
        suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="t", path="x", op="is_positive")])
        ready = pathlib.Path({str(tmp_path)!r}) / ("ready-" + sys.argv[1])
        ready.touch()
        while len(list(ready.parent.glob("ready-*"))) < 2:
            time.sleep(0.001)
        for i in range(20):
            wb.evaluate(pd.DataFrame({{"x": list(range(-50, 50 + i))}}), suite, store={str(store)!r},
                        label=sys.argv[1])
    """)
    procs = [
        subprocess.Popen([sys.executable, "-c", script, name], stderr=subprocess.PIPE, text=True)
        for name in ("left", "right")
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert not any("not saved" in e for e in errors), errors
    table = wb.runs(store=store)
    assert len(table) == 40 and table["id"].is_unique
    assert table["label"].value_counts().to_dict() == {"left": 20, "right": 20}
    assert sorted(table["cells"]) == sorted(2 * list(range(100, 120)))
    for run_id, cells in zip(table["id"], table["cells"]):
        assert len(wb.load_run(run_id, store=store).results) == cells
    con = sqlite3.connect(wb.Store(store).path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


# --- schema versions ---------------------------------------------------------------------------


def write_v0_store(path: Path, runs: list[wb.Run]) -> None:
    """A store in the first layout (schema version 0), written the way that version did."""
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE runs (id TEXT PRIMARY KEY, label TEXT, suite_yaml TEXT NOT NULL, model TEXT, "
        "started_at TEXT NOT NULL, duration_s REAL NOT NULL, results BLOB NOT NULL)"
    )
    for i, run in enumerate(runs):
        table = pa.Table.from_pandas(run.results)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                f"old-{i}",
                run.label,
                run.suite.to_yaml(),
                run.model,
                run.started_at.isoformat(),
                run.duration_s,
                sink.getvalue().to_pybytes(),
            ),
        )
    con.commit()
    con.close()


def test_an_older_store_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    runs = [
        wb.evaluate(
            pd.DataFrame({"x": [1, -2, k]}), assertions_suite(version=f"v{k}"), save=False, label=f"l{k}"
        )
        for k in (3, 30)
    ]
    write_v0_store(path, runs)
    table = wb.runs(store=path)
    assert table["id"].tolist() == ["old-1", "old-0"] and table["label"].tolist() == ["l30", "l3"]
    assert table["passed"].tolist() == [3, 4] and table["version"].tolist() == ["v30", "v3"]
    for i, run in enumerate(runs):
        loaded = wb.load_run(f"old-{i}", store=path)
        pd.testing.assert_frame_equal(loaded.results, run.results)
        assert loaded.suite == run.suite and loaded.started_at == run.started_at
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.close()
    assert len(wb.Store(path).summaries()) == 4
    wb.evaluate(pd.DataFrame({"x": [5]}), assertions_suite(), store=path)  # and it takes new runs
    assert len(wb.runs(store=path)) == 3


def test_a_newer_store_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    wb.evaluate(pd.DataFrame({"x": [1]}), assertions_suite(), store=path)
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    message = (
        rf"schema version {SCHEMA_VERSION + 1}, written by a newer workbench; this workbench knows versions "
        rf"up to {SCHEMA_VERSION}\. Upgrade workbench"
    )
    with pytest.raises(StoreError, match=message):
        wb.runs(store=path)
    with pytest.warns(StoreWarning, match="newer workbench"):
        run = wb.evaluate(pd.DataFrame({"x": [1]}), assertions_suite(), store=path)
    assert run.id is None


@pytest.mark.parametrize("content", ["sqlite", "text"])
def test_a_foreign_file_is_refused_and_left_alone(content: str, tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    if content == "sqlite":
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE customers (id INTEGER)")
        con.commit()
        con.close()
    else:
        path.write_text("just some notes, not a database " * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"not a workbench run store.*Pass store= another path"):
        wb.runs(store=path)
    with pytest.warns(StoreWarning, match="not a workbench run store"):
        wb.evaluate(pd.DataFrame({"x": [1]}), assertions_suite(), store=path)
    assert path.read_bytes() == before


# --- integrity ---------------------------------------------------------------------------------


def test_a_blob_damaged_on_disk_is_an_error_naming_the_run_never_other_data(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    victim = wb.evaluate(
        pd.DataFrame({"x": range(-700, 700)}), assertions_suite(), store=store, label="victim"
    )
    bystander = wb.evaluate(pd.DataFrame({"x": [1]}), assertions_suite(), store=store, label="bystander")
    con = sqlite3.connect(store)
    con.execute(
        "PRAGMA wal_checkpoint(TRUNCATE)"
    )  # every page in the main file, where a disk would damage it
    blob = b"".join(r[0] for r in con.execute("SELECT data FROM results WHERE run_id = ?", (victim.id,)))
    other = b"".join(r[0] for r in con.execute("SELECT data FROM results WHERE run_id != ?", (victim.id,)))
    con.close()
    original = store.read_bytes()
    rng = np.random.default_rng(7)
    outcomes: list[str] = []
    for pos in rng.permutation(len(blob) - 16):
        window = blob[pos : pos + 16]
        if original.count(window) != 1 or window in other:  # not only the victim's: not a clean target
            continue
        damaged = bytearray(original)
        damaged[original.index(window)] ^= int(rng.integers(1, 256))
        store.write_bytes(bytes(damaged))
        try:
            loaded = wb.load_run(victim.id, store=store)
        except StoreError as e:
            named = f"run {victim.id!r} (label 'victim') in the run store at {store} is damaged" in str(e)
            outcomes.append("error naming the run" if named else str(e))
        else:
            outcomes.append("same data" if loaded.results.equals(victim.results) else "different data")
        assert wb.load_run("bystander", store=store).id == bystander.id  # the other runs still load
        if len(outcomes) == 40:
            break
    store.write_bytes(original)
    assert outcomes == ["error naming the run"] * 40
    pd.testing.assert_frame_equal(wb.load_run(victim.id, store=store).results, victim.results)


def test_a_store_saved_before_checksums_is_migrated_and_checked_from_then_on(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    run = wb.evaluate(pd.DataFrame({"x": [1, -2, 3]}), assertions_suite(), store=store, label="old")
    con = sqlite3.connect(store)  # the layout of schema version 1: no checksum column
    con.execute("ALTER TABLE runs DROP COLUMN checksum")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    assert_same_run(wb.load_run("old", store=store), run)  # migrated on this first read
    con = sqlite3.connect(store)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("SELECT checksum FROM runs").fetchone()[0] is not None
    (data,) = con.execute("SELECT data FROM results").fetchone()
    con.execute("UPDATE results SET data = ?", (data[:-9] + bytes([data[-9] ^ 1]) + data[-8:],))
    con.commit()
    con.close()
    with pytest.raises(StoreError, match=r"run '.*' \(label 'old'\) .* is damaged: its stored results"):
        wb.load_run("old", store=store)


def test_a_changed_suite_or_parameter_on_disk_is_caught_too(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    run = wb.evaluate(pd.DataFrame({"x": [1, 20]}), assertions_suite(), store=store, label="r")
    con = sqlite3.connect(store)
    con.execute("UPDATE runs SET suite_yaml = replace(suite_yaml, 'expected: 10', 'expected: 90')")
    assert con.total_changes == 1
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="is damaged"):
        wb.load_run(run.id, store=store)


# --- credentials ----------------------------------------------------------------------------------


def test_no_api_key_reaches_the_store_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_key, passed_key = "sk-env-9f8e7d6c5b4a39281706", "sk-passed-0a1b2c3d4e5f60718293"
    monkeypatch.setenv("OPENAI_API_KEY", env_key)
    store = tmp_path / "keys.sqlite"
    wb.evaluate(pd.DataFrame({"x": [1]}), assertions_suite(), store=store)
    holder = sqlite3.connect(store)  # an open reader keeps the -wal file: both files are checked
    holder.execute("SELECT count(*) FROM runs").fetchone()
    with JudgeServer() as server:
        url = server.url
        suite = wb.Suite(
            name="k",
            tasks=[
                wb.JudgeTask(id="q", prompt="${answer}", criteria=[C(name="ok", description="Fine.")]),
                # the env key in the data: an assertion reason then quotes it
                wb.AssertionTask(id="echo", path="note", op="equals", expected="nothing"),
            ],
        )
        df = pd.DataFrame({"answer": ["a", "b"], "note": [f"leaked {env_key}", "x"]})
        run = wb.evaluate(
            df,
            suite,
            model=server.model,
            api_base=server.url,
            api_key=passed_key,
            extra_headers={"Authorization": f"Bearer {passed_key}"},
            params={"max_tokens": 50},
            cache_dir=tmp_path / "cache",
            progress=False,
            store=store,
        )
    assert run.id is not None
    assert run.params == {  # what the judge calls were made with, the connection left out
        "strict": False,
        "model": server.model,
        "concurrency": 16,
        "timeout": 60.0,
        "max_retries": 4,
        "backoff_s": 0.5,
        "cache_dir": str(tmp_path / "cache"),
        "use_cache": True,
        "refresh": False,
        "params": {"max_tokens": 50},
        "extra": {},
        "max_field_chars": 8000,
        "transport": "auto",
        "breaker_after": 20,
    }
    stored = sorted(p.name for p in tmp_path.glob("keys.sqlite*"))
    assert stored == ["keys.sqlite", "keys.sqlite-shm", "keys.sqlite-wal"]
    assert (tmp_path / "keys.sqlite-wal").stat().st_size > 0
    blob = b"".join((tmp_path / name).read_bytes() for name in stored)
    for (data,) in holder.execute("SELECT data FROM results"):  # result blobs are compressed: open them up
        table = pa.ipc.open_stream(data).read_all()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        blob += sink.getvalue().to_pybytes()
    holder.close()
    assert b"leaked [redacted]" in blob
    for key in (env_key, passed_key):
        assert key.encode() not in blob and key[-12:].encode() not in blob
    assert url.encode() not in blob
    loaded = wb.load_run(run.id, store=store)
    assert "[redacted]" in loaded.results["reason"].str.cat() and "api_base" not in loaded.params


def test_safe_params_drops_credentials_at_any_depth() -> None:
    cleaned = safe_params(
        {
            "api_key": "k",
            "apiKey": "k2",
            "x-api-key": "key-three",
            "aws_secret_access_key": "s",
            "azure_ad_token": "t",
            "api_base": "http://user:pw@host",
            "timeout": 30,
            "max_retries": 2,
            "params": {"temperature": 0, "max_tokens": 100, "max_completion_tokens": 50, "seed": np.int64(3)},
            "extra_body": {"nested": {"client_secret": "s2", "keep": "ok"}, "Password": "p"},
            "columns": {"response": "answer"},
            "client": object(),
            "note": "uses key-three",
        }
    )
    assert cleaned == {
        "timeout": 30,
        "max_retries": 2,
        "params": {"temperature": 0, "max_tokens": 100, "max_completion_tokens": 50, "seed": 3},
        "extra_body": {"nested": {"keep": "ok"}},
        "columns": {"response": "answer"},
        "note": "uses [redacted]",
    }


# --- data fingerprints --------------------------------------------------------------------------


def test_the_data_fingerprint_sees_values_labels_and_types_not_dict_order() -> None:
    base = pd.DataFrame(
        {
            "q": pd.array(["hi", None, "yo"], dtype="str"),
            "n": [1.0, np.nan, 3.0],
            "meta": [{"a": 1, "b": [1, 2]}, None, {"c": {"d": np.nan}}],
            "mixed": [1, "1", None],
            "cat": pd.Categorical(["x", "y", "x"]),
            "i": pd.array([1, None, 3], dtype="Int64"),
            "t": pd.to_datetime(["2024-01-01", None, "2024-01-03"], utc=True),
        },
        index=pd.Index(["r1", "r2", "r3"]),
    )
    fp = data_fingerprint(base)
    same = base.copy()
    same["meta"] = [{"b": [1, 2], "a": 1}, float("nan"), {"c": {"d": None}}]
    assert data_fingerprint(same) == fp
    assert data_fingerprint(pd.concat([base.iloc[:1], base.iloc[1:]])) == fp  # chunking does not matter
    changes = {
        "value": base.assign(n=[1.0, np.nan, 3.5]),
        "text": base.assign(q=pd.array(["hi", None, "yo!"], dtype="str")),
        "int vs str": base.assign(mixed=["1", "1", None]),
        "nested": base.assign(meta=[{"a": 1, "b": [2, 1]}, None, {"c": {"d": np.nan}}]),
        "label": base.rename(index={"r3": "r4"}),
        "order": base.iloc[[1, 0, 2]],
        "column name": base.rename(columns={"n": "m"}),
        "dtype": base.assign(i=base["i"].astype("Float64")),
        "missing vs empty": base.assign(q=pd.array(["hi", "", "yo"], dtype="str")),
    }
    for what, df in changes.items():
        assert data_fingerprint(df) != fp, what


def test_the_data_fingerprint_is_the_same_in_another_process(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {"a": [{"x": 1}, [1, 2]], "b": ["u", "v"]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)])
    )
    df.to_pickle(tmp_path / "df.pkl")
    code = (
        "import pandas as pd; from workbench.store import data_fingerprint as f; "
        f"print(f(pd.read_pickle({str(tmp_path / 'df.pkl')!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": "7"},
    )
    assert out.stdout.strip() == data_fingerprint(df)


def test_tests_run_with_a_temporary_workbench_home() -> None:
    home = Path(os.environ["WORKBENCH_HOME"])
    assert wb.Store().path == home / "runs.sqlite"
    assert ROOT not in home.parents
