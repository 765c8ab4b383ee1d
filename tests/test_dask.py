"""Dask DataFrames on a Dask cluster: a ``distributed.LocalCluster`` of 2 worker processes on
127.0.0.1 (one per module), judge calls over real HTTP to the local judge server, the shared
cache in Debian's redis-server (started and stopped by its PID). Results are checked against
the pandas path cell for cell."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench.testing import JudgeServer

dd = pytest.importorskip(
    "dask.dataframe", reason="dask[dataframe] is not installed (pip install 'workbench[dask]')"
)
distributed = pytest.importorskip(
    "distributed", reason="distributed is not installed (pip install 'workbench[dask]')"
)

from tests.test_redis_cache import RedisServer, redis_available  # noqa: E402
from workbench.distributed import ClusterProgress, DaskRun  # noqa: E402
from workbench.llm import forget_in_process, forget_redis_in_process  # noqa: E402

C = wb.Criterion
needs_redis = pytest.mark.skipif(redis_available() is not None, reason=str(redis_available()))
SAME = [c for c in wb.RESULT_COLUMNS if c != "latency_s"]
"""Every column but the time a call took."""


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    import dask

    # a lost worker's semaphore leases are given back after 3 s, not 30 (the killed-worker test)
    with dask.config.set(
        {
            "distributed.scheduler.locks.lease-timeout": "3s",
            "distributed.scheduler.locks.lease-validation-interval": "0.5s",
        }
    ):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            worker_dashboard_address=None,
            timeout=60,
        )
        with cluster, distributed.Client(cluster, timeout=60) as c:
            yield c


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    if redis_available() is not None:
        pytest.skip(str(redis_available()))
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer, client: Any) -> str:
    """The module's Redis, emptied, and forgotten by the workers' memory too."""
    redis_server.client().flushall()
    client.run(forget_redis_in_process)
    return redis_server.url


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    forget_in_process()
    forget_redis_in_process()
    yield


def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "question": [f"What is {i} + {i}?" for i in range(n)],
            "response": [
                json.dumps({"answer": f"It is {2 * i}.", "n": i}) if i % 7 else "oops" for i in range(n)
            ],
            "n": range(n),
        },
        index=pd.Index([f"r{i:04d}" for i in range(n)], name="id"),
    )


def suite() -> wb.Suite:
    return wb.Suite(
        name="cluster",
        version="v1",
        tasks=[
            wb.AssertionTask(id="is_json", path="response", op="is_json", gate=True),
            wb.AssertionTask(id="small", path="response.n", op="lt", expected=50),
            wb.JudgeTask(
                id="quality",
                prompt="Question: ${question}\nAnswer: ${response.answer}",
                threshold=3,
                depends_on=["is_json"],
                criteria=[
                    C(name="accuracy", description="Correct."),
                    C(name="clarity", description="Clear."),
                ],
            ),
            wb.JudgeTask(
                id="tone",
                prompt="Answer: ${response.answer}",
                mode="per_criterion",
                scale="binary",
                criteria=[C(name="polite", description="Polite."), C(name="short", description="Short.")],
            ),
            wb.AssertionTask(
                id="accurate", path="quality.accuracy.score", op="gte", expected=3, depends_on=["quality"]
            ),
        ],
    )


def opts(server: JudgeServer, **kw: Any) -> dict[str, Any]:
    return {"model": server.model, "progress": False, "backoff_s": 0.0, **server.litellm_kwargs, **kw}


def test_the_same_suite_gives_identical_results_through_pandas_and_dask(
    client: Any, judge_server: JudgeServer, tmp_path: Path
) -> None:
    ddf = dd.from_pandas(frame(60), npartitions=5)
    df = ddf.compute()  # the same data: Dask holds strings (and the index) as Arrow strings
    pandas_run = wb.evaluate(df, suite(), save=False, **opts(judge_server, use_cache=False))
    run = ddf.wb.evaluate(suite(), save=False, **opts(judge_server, cache_dir=tmp_path / "cache"))
    assert isinstance(run, DaskRun) and isinstance(run, wb.Run)
    assert isinstance(run.results, dd.DataFrame) and run.partitions == 5 and run.rows == 60
    gathered = run.compute()
    pd.testing.assert_frame_equal(gathered.results[SAME], pandas_run.results[SAME])
    pd.testing.assert_frame_equal(run.summary(), pandas_run.summary())
    assert run.calls["calls"] == pandas_run.calls["calls"] and run.calls["errors"] == 0
    assert set(run.results.compute()["status"]) == {"passed", "failed", "skipped", "error"}
    # the same run again is served from the disk cache the workers share
    judge_server.reset()
    again = wb.evaluate(ddf, suite(), save=False, **opts(judge_server, cache_dir=tmp_path / "cache"))
    assert judge_server.count == 0 and again.calls["cache_hits"] == again.calls["calls"] > 0
    pd.testing.assert_frame_equal(
        again.compute().results[["row", "task", "criterion", "status", "score", "reason"]],
        pandas_run.results[["row", "task", "criterion", "status", "score", "reason"]],
    )


def test_spec_and_reference_errors_are_raised_before_any_task(client: Any, judge_server: JudgeServer) -> None:
    df = frame(10)
    bad = wb.Suite(
        name="bad", tasks=[*suite().tasks, wb.AssertionTask(id="x", path="nowhere.deep", op="is_json")]
    )
    with pytest.raises(wb.ColumnsError) as from_pandas:
        wb.evaluate(df, bad, **opts(judge_server))
    # a partition read on a worker logs an event: none may be read when the inputs are wrong
    ddf = dd.from_pandas(df, npartitions=2).map_partitions(_read_here, meta=df.iloc[:0])
    with pytest.raises(wb.ColumnsError) as from_dask:
        wb.evaluate(ddf, bad, **opts(judge_server))
    assert str(from_dask.value) == str(from_pandas.value)
    with pytest.raises(wb.WorkbenchError, match="need a model"):
        wb.evaluate(ddf, suite(), progress=False)
    with pytest.raises(wb.ConfigError, match="temprature"):
        wb.evaluate(ddf, suite(), temprature=0.1, **opts(judge_server))
    with pytest.raises(wb.ColumnsError, match="boolean Dask Series"):
        wb.evaluate(ddf, suite(), rows=["r0001"], **opts(judge_server))
    assert client.get_events("workbench-test-read") == () and judge_server.count == 0
    wb.evaluate(ddf, wb.Suite(name="s", tasks=[suite().tasks[0]]), save=False, progress=False)
    assert len(client.get_events("workbench-test-read")) == 2  # the probe sees partitions that are read


def _read_here(part: pd.DataFrame) -> pd.DataFrame:
    if len(part):
        distributed.get_worker().log_event("workbench-test-read", len(part))
    return part


def test_rows_takes_a_dask_mask_and_strict_raises_the_first_error_cell(
    client: Any, judge_server: JudgeServer
) -> None:
    ddf = dd.from_pandas(frame(30), npartitions=3)
    df = ddf.compute()
    checks = wb.Suite(name="s", tasks=[wb.AssertionTask(id="json", path="response", op="is_json")])
    run = wb.evaluate(ddf, checks, rows=ddf["n"] >= 10, save=False, progress=False)
    assert run.rows == 20
    expected = wb.evaluate(df, checks, rows=df["n"] >= 10, save=False)
    pd.testing.assert_frame_equal(run.compute().results, expected.results)
    deep = wb.Suite(name="s", tasks=[wb.AssertionTask(id="deep", path="response.answer", op="is_string")])
    with pytest.raises(wb.EvaluationError, match="deep"):
        wb.evaluate(ddf, deep, strict=True, save=False, progress=False)


@needs_redis
def test_the_cluster_cap_holds_and_a_warm_rerun_from_redis_makes_no_request(
    client: Any, judge_server_factory: Any, redis_url: str
) -> None:
    server = judge_server_factory(latency_ms=40)
    ddf = dd.from_pandas(frame(60), npartitions=6)
    run = wb.evaluate(
        ddf, suite(), save=False, cluster_concurrency=3, cache=redis_url, **opts(server, concurrency=8)
    )
    stats = server.stats()
    assert stats["max_in_flight"] == 3, stats  # 2 workers x 8 allowed each, 3 across the cluster
    assert run.params["cluster_concurrency"] == 3 and run.params["cache"] == redis_url
    server.reset()
    forget_redis_in_process()
    warm = wb.evaluate(ddf, suite(), save=False, cache=redis_url, **opts(server))
    assert server.count == 0 and warm.calls["cache_hits"] == warm.calls["calls"] == run.calls["calls"]
    pd.testing.assert_frame_equal(warm.summary(), run.summary())


def test_progress_reaches_the_notebook_from_the_workers(
    client: Any, judge_server_factory: Any, tmp_path: Path
) -> None:
    server = judge_server_factory(latency_ms=20)
    seen: list[tuple[int, int, int, int, int]] = []
    threads = set()

    def hook(p: ClusterProgress) -> None:
        threads.add(threading.get_ident())
        seen.append((p.done, p.total, p.cached, p.partitions_done, p.partitions))

    ddf = dd.from_pandas(frame(40), npartitions=4)
    run = wb.evaluate(
        ddf, suite(), save=False, **{**opts(server, cache_dir=tmp_path / "c"), "progress": hook}
    )
    done, total, cached, parts_done, parts = seen[-1]
    assert (done, total, parts_done, parts) == (run.calls["calls"], run.calls["calls"], 4, 4) and cached == 0
    assert any(0 < d < run.calls["calls"] for d, *_ in seen)  # counts arrived while the run went on
    assert threads == {threading.get_ident()}  # the hook runs on the caller's thread


def test_a_run_saved_from_the_cluster_is_listed_loaded_and_compared_from_a_fresh_process(
    client: Any, judge_server: JudgeServer, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    df = dd.from_pandas(frame(40), npartitions=1).compute()
    baseline = wb.evaluate(df, suite(), label="pandas", store=store, **opts(judge_server, use_cache=False))
    run = wb.evaluate(
        dd.from_pandas(df, npartitions=4), suite(), label="cluster", store=store, **opts(judge_server)
    )
    assert run.id is not None and run.label == "cluster"
    files = sorted(p.name for p in (store / "results" / run.id).iterdir())
    assert files == [f"part.{i:06d}.parquet" for i in range(4)]
    assert dd.read_parquet(store / "results" / run.id).shape[0].compute() == 40 * 7
    script = textwrap.dedent(
        f"""
        import json, workbench as wb
        store = {str(store)!r}
        listed = wb.runs(store=store)
        run = wb.load_run("cluster", store=store)
        comparison = wb.compare("pandas", "cluster", store=store)
        chart = wb.charts.pass_rates({{"pandas": wb.load_run("pandas", store=store), "cluster": run}})
        print(json.dumps({{
            "labels": sorted(listed["label"].dropna().tolist()),
            "cells": int(listed.set_index("label").loc["cluster", "cells"]),
            "type": type(run).__name__,
            "rows": len(run.results),
            "deltas": [float(x) for x in comparison.table["delta"].fillna(0)],
            "chart": "layer" in chart.to_dict(),
        }}))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["labels"] == ["cluster", "pandas"] and seen["cells"] == 40 * 7 and seen["type"] == "Run"
    assert seen["rows"] == 40 * 7 and seen["chart"] and all(d == 0 for d in seen["deltas"])
    loaded = wb.load_run("cluster", store=store)
    pd.testing.assert_frame_equal(loaded.results[SAME], baseline.results[SAME])
    pd.testing.assert_frame_equal(loaded.summary(), baseline.summary())
    wb.delete_run("cluster", store=store)
    assert not (store / "results" / run.id).exists() and wb.runs(store=store)["label"].tolist() == ["pandas"]


def test_an_unsaved_run_stays_in_memory_and_saves_later(client: Any, tmp_path: Path) -> None:
    checks = wb.Suite(name="s", tasks=[wb.AssertionTask(id="json", path="response", op="is_json")])
    run = wb.evaluate(dd.from_pandas(frame(20), npartitions=2), checks, save=False, progress=False)
    assert run.id is None and not (tmp_path / "store").exists()
    run_id = run.save(store=tmp_path / "store", label="later")
    assert wb.load_run("later", store=tmp_path / "store").results.equals(run.compute().results)
    assert run.save(store=tmp_path / "store", label="renamed") == run_id
    assert wb.runs(store=tmp_path / "store")["label"].tolist() == ["renamed"]


def test_a_store_that_cannot_be_written_warns_and_the_run_is_complete(client: Any, tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    checks = wb.Suite(name="s", tasks=[wb.AssertionTask(id="json", path="response", op="is_json")])
    with pytest.warns(wb.StoreWarning, match="cannot be made"):
        run = wb.evaluate(
            dd.from_pandas(frame(10), npartitions=2), checks, store=blocked / "store", progress=False
        )
    assert run.id is None and len(run.compute().results) == 10


@needs_redis
def test_a_killed_worker_is_rescheduled_and_its_rerun_served_from_the_shared_cache(
    client: Any, judge_server_factory: Any, redis_url: str
) -> None:
    server = judge_server_factory(latency_ms=25, request_log_size=100_000)
    ddf = dd.from_pandas(
        frame(200), npartitions=2
    )  # one partition per worker: killing one loses half the run
    df = ddf.compute()
    pids = client.run(os.getpid)
    victim = next(iter(pids.values()))
    killed = threading.Event()

    def kill_midway() -> None:
        deadline = time.monotonic() + 60
        while server.count < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(victim, signal.SIGKILL)  # a worker process we started (the cluster's), by its PID
        killed.set()

    killer = threading.Thread(target=kill_midway)
    killer.start()
    run = wb.evaluate(ddf, suite(), save=False, cache=redis_url, **opts(server, concurrency=4))
    killer.join()
    assert killed.is_set()
    bodies = [json.dumps([b["messages"], b.get("response_format")], sort_keys=True) for b in server.requests]
    repeated = len(bodies) - len(set(bodies))
    # every call reached the server, and the only ones asked twice are those in flight on the killed
    # worker when it died (at most its concurrency): every verdict that had arrived came from Redis
    assert len(set(bodies)) == run.calls["calls"] and 0 <= repeated <= 4, repeated
    assert run.calls["cache_hits"] > 0
    expected = wb.evaluate(df, suite(), save=False, **opts(server, use_cache=False))
    cols = ["row", "task", "criterion", "status", "passed", "score", "label", "reason", "error"]
    pd.testing.assert_frame_equal(run.compute().results[cols], expected.results[cols])


def test_evaluate_async_takes_a_dask_frame_too(client: Any) -> None:
    import asyncio

    checks = wb.Suite(name="s", tasks=[wb.AssertionTask(id="json", path="response", op="is_json")])
    ddf = dd.from_pandas(frame(14), npartitions=2)
    run = asyncio.run(wb.evaluate_async(ddf, checks, save=False, progress=False))
    assert isinstance(run, DaskRun)
    assert run.summary()[["passed", "failed"]].to_dict("records") == [{"passed": 12, "failed": 2}]
