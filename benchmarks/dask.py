"""Beyond one machine: the same suite through pandas in one process and through Dask on a
LocalCluster of 2 worker processes, plus judge calls through 2 workers under a cluster cap and
a warm rerun from Redis.

    .venv/bin/python benchmarks/dask.py                     # 10,000,000 rows, the issue's goals
    .venv/bin/python benchmarks/dask.py --rows 1000000      # a quicker look

Assertions: the 10 checks of ``benchmarks/assertions.py`` (its data generator, written once to
Parquet, ``--partitions`` files). The pandas path reads the Parquet files and evaluates them in
a fresh child process (``save=False``; running out of memory there is reported, not fatal);
the Dask path evaluates ``dd.read_parquet`` of the same files on the cluster and saves the run
(each worker writes its partitions' results as Parquet beside the store, so no worker holds
more than a partition's results). Both end with ``summary()``. The results are checked equal
(passed counts per check). Memory: the pandas process's peak RSS, and each worker's peak RSS
sampled every 0.2 s, against one partition's size in memory.

Judges: ``--judge-rows`` rows, one joint judge task, 2 workers with ``concurrency=16`` each
and ``cluster_concurrency=8``, against the local judge server (``--latency-ms``) in this
process; the server's max in-flight must not exceed the cap. Then a rerun with the cache in
Redis (Debian's redis-server, started here by PID and stopped) must make no request.

Exit status 1 when a goal is missed: the speed-up (``--goal``, 1.6x), the cap, the warm rerun.
Timings on the shared 2-core machine move with other work: the header prints the load.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# run as a script, this folder comes first on sys.path, where this file would shadow the dask package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]


def _assertions_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_assertions", HERE / "assertions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_data(folder: Path, rows: int, partitions: int) -> None:
    """The generator's rows as ``partitions`` Parquet files (made once per size)."""
    bench = _assertions_module()
    folder.mkdir(parents=True, exist_ok=True)
    step = -(-rows // partitions)
    for i, start in enumerate(range(0, rows, step)):
        n = min(step, rows - start)
        part = bench.generate(n, seed=bench.SEED + i)
        part.index = range(start, start + n)
        part.to_parquet(folder / f"part.{i:04d}.parquet")


def rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def passed_counts(summary: Any) -> dict[str, int]:
    return {str(t): int(p) for t, p in zip(summary["task"], summary["passed"])}


def run_pandas(data: Path, suite: Any) -> dict[str, Any]:
    import pandas as pd

    import workbench as wb

    t0 = time.perf_counter()
    df = pd.read_parquet(data)
    run = wb.evaluate(df, suite, save=False, progress=False)
    summary = run.summary()
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "passed": passed_counts(summary),
        "peak_rss_mb": rss_mb(),
        "cells": len(run.results),
    }


def run_pandas_child(data: Path) -> dict[str, Any] | str:
    """:func:`run_pandas` in a fresh interpreter, so that running out of memory ends the
    child, not the benchmark: its figures, or why there are none."""
    import json

    proc = subprocess.run(
        [sys.executable, __file__, "--pandas-child", str(data)], capture_output=True, text=True
    )
    if proc.returncode == -signal.SIGKILL:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        return f"killed (SIGKILL, the kernel's out-of-memory killer on a {memory:.0f} GiB machine)"
    if proc.returncode != 0:
        return f"failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}"
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


class WorkerMemory:
    """Each worker's peak RSS, sampled every 0.2 s while a run goes on."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        def rss() -> float:
            return psutil.Process().memory_info().rss / 2**20

        while not self._stop.is_set():
            try:
                for worker, mb in self._client.run(rss).items():
                    self.peak[worker] = max(self.peak.get(worker, 0.0), mb)
            except Exception:  # a worker restarting: sample again next time
                pass
            self._stop.wait(0.2)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_dask(client: Any, data: Path, suite: Any, store: Path) -> dict[str, Any]:
    import dask.dataframe as dd

    import workbench as wb

    with WorkerMemory(client) as memory:
        t0 = time.perf_counter()
        ddf = dd.read_parquet(data)
        run = wb.evaluate(ddf, suite, store=store, progress=False)
        summary = run.summary()
        seconds = time.perf_counter() - t0
    part = dd.read_parquet(data).partitions[0].compute()
    return {
        "seconds": seconds,
        "passed": passed_counts(summary),
        "partitions": run.partitions,
        "saved": run.id is not None,
        "worker_peak_rss_mb": dict(memory.peak),
        "partition_mb": float(part.memory_usage(deep=True).sum()) / 2**20,
        "partition_rows": len(part),
    }


class Redis:
    """Debian's redis-server on 127.0.0.1, in memory, stopped by PID."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.folder = tempfile.mkdtemp(prefix="bench-redis-")
        self.process = subprocess.Popen(
            [
                *(
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--dir",
                    self.folder,
                )
            ],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


def run_judges(client: Any, rows: int, latency_ms: int, cap: int) -> dict[str, Any]:
    import dask.dataframe as dd
    import pandas as pd

    import workbench as wb
    from workbench.testing import JudgeServer

    suite = wb.Suite(
        name="judged",
        tasks=[
            wb.JudgeTask(
                id="quality",
                prompt="Question: ${question}\nAnswer: ${answer}",
                threshold=3,
                criteria=[wb.Criterion(name="accuracy", description="Correct.")],
            )
        ],
    )
    df = pd.DataFrame({"question": [f"q{i}?" for i in range(rows)], "answer": [f"a{i}" for i in range(rows)]})
    ddf = dd.from_pandas(df, npartitions=8)
    redis = Redis()
    try:
        with JudgeServer(latency_ms=latency_ms) as server:
            common = {"model": server.model, **server.litellm_kwargs, "progress": False, "save": False}
            url = f"redis://127.0.0.1:{redis.port}/0"
            t0 = time.perf_counter()
            cold = wb.evaluate(ddf, suite, cache=url, concurrency=16, cluster_concurrency=cap, **common)
            cold_s = time.perf_counter() - t0
            max_in_flight = server.stats()["max_in_flight"]
            server.reset()
            client.run(_forget)  # the workers' memory too: the rerun must come from Redis
            t0 = time.perf_counter()
            warm = wb.evaluate(ddf, suite, cache=url, concurrency=16, **common)
            warm_s = time.perf_counter() - t0
            return {
                "calls": cold.calls["calls"],
                "cold_s": cold_s,
                "cap": cap,
                "server_max_in_flight": max_in_flight,
                "warm_s": warm_s,
                "warm_requests": server.count,
                "warm_cache_hits": warm.calls["cache_hits"],
            }
    finally:
        redis.stop()


def _forget() -> None:
    from workbench.llm import forget_redis_in_process

    forget_redis_in_process()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--partitions", type=int, default=20)
    parser.add_argument("--judge-rows", type=int, default=2_000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--cap", type=int, default=8)
    parser.add_argument("--goal", type=float, default=1.6)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "workbench-bench-dask")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--pandas-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pandas_child:
        import json

        print(json.dumps(run_pandas(args.pandas_child, _assertions_module().make_suite())))
        return

    from distributed import Client, LocalCluster

    bench = _assertions_module()
    data = args.data / f"{args.rows}-{args.partitions}"
    if not data.exists():
        print(f"writing {args.rows:,} rows as {args.partitions} Parquet files in {data} ...", flush=True)
        write_data(data, args.rows, args.partitions)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    suite = bench.make_suite()
    failures = []
    store = Path(tempfile.mkdtemp(prefix="bench-dask-store-"))
    try:
        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            dask_side = run_dask(client, data, suite, store)
            worker_rss = ", ".join(f"{v:.0f}" for v in dask_side["worker_peak_rss_mb"].values())
            print(
                f"dask:   {dask_side['seconds']:8.2f} s  {dask_side['partitions']} partitions of "
                f"{dask_side['partition_rows']:,} rows ({dask_side['partition_mb']:.0f} MiB in memory); "
                f"worker peak RSS {worker_rss} MiB",
                flush=True,
            )
            judges = run_judges(client, args.judge_rows, args.latency_ms, args.cap)
            print(
                f"judges: {judges['calls']:,} calls in {judges['cold_s']:.2f} s with cluster_concurrency="
                f"{judges['cap']}: the server's max in flight {judges['server_max_in_flight']}; "
                f"warm rerun from Redis {judges['warm_s']:.2f} s, {judges['warm_requests']} requests, "
                f"{judges['warm_cache_hits']:,} cache hits",
                flush=True,
            )
            if judges["server_max_in_flight"] > args.cap:
                failures.append("the cluster cap did not hold")
            if judges["warm_requests"]:
                failures.append("the warm rerun made requests")
        if not args.skip_pandas:
            pandas_side = run_pandas_child(data)
            if isinstance(pandas_side, str):
                print(f"pandas: {pandas_side}; no speed-up to report at {args.rows:,} rows", flush=True)
                failures.append(f"the pandas side was {pandas_side.split(' (')[0]}")
            else:
                ratio = pandas_side["seconds"] / dask_side["seconds"]
                print(
                    f"pandas: {pandas_side['seconds']:8.2f} s  one process, peak RSS "
                    f"{pandas_side['peak_rss_mb']:.0f} MiB; dask is {ratio:.2f}x faster (goal {args.goal}x)",
                    flush=True,
                )
                if pandas_side["passed"] != dask_side["passed"]:
                    failures.append(f"results differ: {pandas_side['passed']} vs {dask_side['passed']}")
                if ratio < args.goal:
                    failures.append(f"speed-up {ratio:.2f}x below {args.goal}x")
    finally:
        shutil.rmtree(store, ignore_errors=True)
    for f in failures:
        print("MISSED:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
