"""Benchmark: online evaluation (``wb.Monitor``, ``workbench monitor serve``).

The judge server runs in its own process (``python -m workbench.testing --port P
--latency-ms L`` on 127.0.0.1) and worker processes are ``workbench monitor serve``; every
process this script starts is stopped by its PID at the end.

Parts (``--parts``, comma-separated; all by default):

* ``submit``: ``submit()`` latency (p50, p99, p99.9, max, from ``perf_counter_ns`` around each
  call) of ``--submit-n`` records offered at ``--rate`` records/s by a ``Monitor(workers=0)``
  while a ``monitor serve`` worker process evaluates them (assertions and a judge at 5%),
  and again with the worker in the application's process (``workers=1``: it shares the GIL).
* ``persist``: records/s persisted: ``--persist-n`` records submitted as fast as the caller
  can, timed until the writer has committed the last one (``flush``), ``workers=0``.
* ``assertions``: records/s evaluated with an assertion-only suite (5 checks): ``--eval-n``
  records persisted, then ``wb.monitor.serve(..., until_idle=True)`` timed in this process.
* ``judge``: ``--judge-n`` records with one judge task at ``--latency-ms`` (50) and
  concurrency 16: ``monitor serve`` in this process (``--judge-batches``, 256) vs
  ``wb.evaluate`` of the same records in one batch (caching off for both), interleaved over
  ``--reps`` (3); median records/s and the ratio (goal: within 1.5x).
* ``worker_kill``: a worker process is killed with SIGKILL mid-stream and another started:
  records re-claimed after the lease, judge requests repeated, seconds lost.
* ``app_kill``: the application (a child submitting at ``--rate``) is killed with SIGKILL at a
  random moment, ``--kills`` times: records it had accepted that never reached the store
  (it writes its accepted count to a shared page after every submit), as a count and as
  milliseconds of traffic.

Timings on the shared 2-core machine move by 20-50% between runs when other work is running.

Usage:
    .venv/bin/python benchmarks/monitor.py
    .venv/bin/python benchmarks/monitor.py --parts submit,persist --rate 2000
    .venv/bin/python benchmarks/monitor.py --json /tmp/monitor.json
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import random
import signal
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import workbench as wb  # noqa: E402
from workbench.monitor import sample_point  # noqa: E402

PARTS = ("submit", "persist", "assertions", "judge", "worker_kill", "app_kill")


def assertion_suite() -> wb.Suite:
    return wb.Suite(
        name="checks",
        tasks=[
            wb.AssertionTask(id="is_json", path="response", op="is_json", gate=True),
            wb.AssertionTask(
                id="short",
                path="response.answer",
                op="has_length_less_than",
                expected=400,
                depends_on=["is_json"],
            ),
            wb.AssertionTask(
                id="cited", path="response.citations", op="is_not_empty", depends_on=["is_json"]
            ),
            wb.AssertionTask(id="asked", path="question", op="is_not_empty"),
            wb.AssertionTask(id="fast", path="latency_s", op="less_than", expected=2.0),
        ],
    )


def judge_suite(with_checks: bool = False) -> wb.Suite:
    judge = wb.JudgeTask(
        id="quality",
        prompt="Question: ${question}\nAnswer: ${response}",
        threshold=3,
        criteria=[wb.Criterion(name="accuracy", description="The answer is correct.")],
    )
    tasks = [*assertion_suite().tasks, judge] if with_checks else [judge]
    return wb.Suite(name="judged", tasks=tasks)


def record(i: int, prefix: str = "r") -> dict[str, Any]:
    return {
        "id": f"{prefix}{i:07d}",
        # the prefix keeps the parts' cache keys apart
        "question": f"How do I reset my password, case {prefix}{i}?",
        "response": json.dumps(
            {"answer": f"Open settings, then security, then reset ({i}).", "citations": [f"https://docs/{i}"]}
        ),
        "latency_s": 0.2 + (i % 10) / 10,
    }


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The fake judge server in its own process, stopped by PID."""

    def __init__(self, latency_ms: float) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workbench.testing",
                "--port",
                str(self.port),
                "--latency-ms",
                str(latency_ms),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.model = "openai/workbench-judge"
        self.env = {**os.environ, "OPENAI_API_BASE": self.url, "OPENAI_API_KEY": "sk-workbench-test"}

    def requests(self) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats") as r:
            return int(json.load(r)["requests"])

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def serve_process(
    store: Path, suite_file: Path, server: Server, out: Path, *extra: str
) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "workbench.cli", "monitor", "serve", "--store", str(store), "--suite",
           str(suite_file), "--model", server.model, "--report-every", "0.5", *extra]  # fmt: skip
    with out.open("w") as f:
        return subprocess.Popen(
            cmd, stdout=f, stderr=subprocess.STDOUT, env={**server.env, "PYTHONPATH": str(ROOT)}
        )


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def count(store: Path, where: str = "1") -> int:
    if not store.exists():
        return 0
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=60)  # never creates the file
    try:
        return int(con.execute(f"SELECT count(*) FROM monitor_records WHERE {where}").fetchone()[0])
    except sqlite3.OperationalError:  # the tables are still being made
        return 0
    finally:
        con.close()


def wait_until(cond: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def percentiles(ns: list[int]) -> dict[str, float]:
    s = sorted(ns)

    def q(p: float) -> float:
        return s[min(len(s) - 1, int(p * len(s)))] / 1000

    return {"p50_us": q(0.5), "p99_us": q(0.99), "p999_us": q(0.999), "max_us": s[-1] / 1000, "n": len(s)}


# --- parts --------------------------------------------------------------------------------------


def offer(monitor: wb.Monitor, n: int, rate: float, prefix: str) -> list[int]:
    """Submit ``n`` records at ``rate`` per second; each call's duration in ns."""
    timings = []
    start = time.perf_counter()
    for i in range(n):
        due = start + i / rate
        while True:  # sleep most of the gap, spin the rest: the caller's own pacing
            left = due - time.perf_counter()
            if left <= 0:
                break
            if left > 0.002:
                time.sleep(left - 0.001)
        rec = record(i, prefix)
        t0 = time.perf_counter_ns()
        monitor.submit(rec)
        timings.append(time.perf_counter_ns() - t0)
    return timings


def part_submit(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    server = Server(latency_ms=args.latency_ms)
    out: dict[str, Any] = {}
    try:
        store = tmp / "submit.sqlite"
        suite = judge_suite(with_checks=True)
        suite_file = tmp / "judged.yaml"
        suite_file.write_text(suite.to_yaml())
        worker = serve_process(store, suite_file, server, tmp / "submit-worker.out")
        try:
            sample = {"quality": 0.05}
            with wb.Monitor(suite, store=store, workers=0, sample=sample) as monitor:
                monitor.submit(record(0, "warm"))  # the store created, imports done
                monitor.flush()
                timings = offer(monitor, args.submit_n, args.rate, "s")
                monitor.flush()
            wait_until(lambda: count(store, "state != 'done'") == 0, 120)
            out["worker_process"] = {**percentiles(timings), "evaluated": count(store, "state = 'done'")}
        finally:
            stop(worker)
        store2 = tmp / "submit-inproc.sqlite"
        with wb.Monitor(
            suite, store=store2, workers=1, sample=sample, model=server.model, api_base=server.url,
            api_key="sk-workbench-test",
        ) as monitor:  # fmt: skip
            monitor.submit(record(0, "warm"))
            monitor.flush()
            timings = offer(monitor, args.submit_n, args.rate, "t")
            monitor.flush(timeout=120)
            out["worker_in_process"] = {**percentiles(timings), "evaluated": monitor.stats()["evaluated"]}
    finally:
        server.stop()
    out["rate"] = args.rate
    return out


def part_persist(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    store = tmp / "persist.sqlite"
    recs = [record(i, "p") for i in range(args.persist_n)]
    with wb.Monitor(assertion_suite(), store=store, workers=0, queue_size=args.persist_n + 1) as monitor:
        monitor.submit(record(0, "warm"))
        monitor.flush()
        t0 = time.perf_counter()
        for r in recs:
            monitor.submit(r)
        submitted = time.perf_counter() - t0
        monitor.flush()
        wall = time.perf_counter() - t0
    return {
        "n": args.persist_n,
        "submit_s": submitted,
        "persisted_per_s": args.persist_n / wall,
        "submit_mean_us": submitted / args.persist_n * 1e6,
    }


def part_assertions(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    store = tmp / "assertions.sqlite"
    with wb.Monitor(assertion_suite(), store=store, workers=0, queue_size=args.eval_n + 1) as monitor:
        for i in range(args.eval_n):
            monitor.submit(record(i, "a"))
    out = {}
    for batch in (256, 1024):
        if batch != 256:  # the same records again, from a clean state
            con = sqlite3.connect(store)
            con.execute("DELETE FROM monitor_results")
            con.execute("UPDATE monitor_records SET state = 'queued', claims = 0")
            con.commit()
            con.close()
        t0 = time.perf_counter()
        counts = wb.monitor.serve(store, assertion_suite(), name="checks", until_idle=True, batch_size=batch)
        wall = time.perf_counter() - t0
        out[f"batch_{batch}"] = {
            "evaluated": counts["evaluated"],
            "records_per_s": counts["evaluated"] / wall,
        }
    return out


def part_judge(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Interleaved: ``wb.evaluate`` of all records in one batch, then the same records through
    ``monitor serve`` at each batch size, ``--reps`` times; medians."""
    import pandas as pd

    server = Server(latency_ms=args.latency_ms)
    out: dict[str, Any] = {
        "n": args.judge_n,
        "latency_ms": args.latency_ms,
        "concurrency": 16,
        "reps": args.reps,
    }
    try:
        suite = judge_suite()
        kw = {
            "model": server.model,
            "api_base": server.url,
            "api_key": "sk-workbench-test",
            "use_cache": False,
        }
        rows = [record(i, "j") for i in range(args.judge_n)]
        df = pd.DataFrame(rows).set_index("id")
        wb.evaluate(df.head(16), suite, save=False, progress=False, concurrency=16, **kw)  # imports, warm
        store = tmp / "judge.sqlite"
        with wb.Monitor(suite, store=store, workers=0, queue_size=args.judge_n + 1) as monitor:
            for r in rows:
                monitor.submit(r)
        batches = [int(b) for b in args.judge_batches.split(",")]
        offline: list[float] = []
        online: dict[int, list[float]] = {b: [] for b in batches}
        for _ in range(args.reps):
            t0 = time.perf_counter()
            wb.evaluate(df, suite, save=False, progress=False, concurrency=16, **kw)
            offline.append(time.perf_counter() - t0)
            for batch in batches:
                con = sqlite3.connect(store)  # the same records again, from a clean state
                con.execute("DELETE FROM monitor_results")
                con.execute("UPDATE monitor_records SET state = 'queued', claims = 0")
                con.commit()
                con.close()
                t0 = time.perf_counter()
                counts = wb.monitor.serve(
                    store, suite, until_idle=True, batch_size=batch, concurrency=16, **kw
                )
                online[batch].append(time.perf_counter() - t0)
                assert counts["evaluated"] == args.judge_n, counts
        base = statistics.median(offline)
        out["evaluate_records_per_s"] = args.judge_n / base
        for batch, walls in online.items():
            out[f"monitor_batch_{batch}"] = {
                "records_per_s": args.judge_n / statistics.median(walls),
                "ratio_to_evaluate": statistics.median(walls) / base,
            }
        out["ideal_records_per_s"] = 16 / (args.latency_ms / 1000)
    finally:
        server.stop()
    return out


def part_worker_kill(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    server = Server(latency_ms=args.latency_ms)
    try:
        store = tmp / "kill.sqlite"
        suite = judge_suite()
        suite_file = tmp / "kill.yaml"
        suite_file.write_text(suite.to_yaml())
        lease = 2.0
        extra = ("--lease", str(lease), "--batch-size", "64", "--concurrency", "16")
        first = serve_process(store, suite_file, server, tmp / "kill-1.out", *extra)
        with wb.Monitor(suite, store=store, workers=0, sample_ratio=0.25) as monitor:
            ids = [record(i, "k") for i in range(args.kill_n)]
            for r in ids[: args.kill_n // 2]:
                monitor.submit(r)
            monitor.flush()
            wait_until(lambda: count(store, "state = 'done'") >= 100, 120)
            first.kill()  # SIGKILL, by PID
            first.wait(30)
            done_at_kill = count(store, "state = 'done'")
            claimed_at_kill = count(store, "state = 'claimed'")
            requests_at_kill = server.requests()
            killed = time.perf_counter()
            for r in ids[args.kill_n // 2 :]:
                monitor.submit(r)
        second = serve_process(store, suite_file, server, tmp / "kill-2.out", *extra, "--until-idle")
        second.wait(300)
        recovered = time.perf_counter() - killed
        sampled = sum(sample_point(r["id"]) < 0.25 for r in ids)
        con = sqlite3.connect(store)
        reclaimed = con.execute("SELECT count(*) FROM monitor_records WHERE claims > 1").fetchone()[0]
        stored = con.execute("SELECT count(*) FROM monitor_results").fetchone()[0]
        con.close()
        return {
            "records": args.kill_n,
            "sampled": sampled,
            "done": count(store, "state = 'done'"),
            "cells_stored": stored,
            "done_at_kill": done_at_kill,
            "claimed_at_kill": claimed_at_kill,
            "reclaimed": reclaimed,
            "requests": server.requests(),
            "requests_repeated": server.requests() - sampled,
            "requests_at_kill": requests_at_kill,
            "lease_s": lease,
            "seconds_from_kill_to_all_done": recovered,
        }
    finally:
        server.stop()


def child_app(store: str, rate: float, counter: str) -> None:
    """The application: submit at ``rate`` until killed, writing the accepted count to a page."""
    fd = os.open(counter, os.O_RDWR)
    page = mmap.mmap(fd, 8)
    monitor = wb.Monitor(assertion_suite(), store=store, workers=0)
    monitor.submit(record(0, "warm"))
    monitor.flush()
    print("ready", flush=True)
    start = time.perf_counter()
    i = 0
    while True:
        due = start + i / rate
        left = due - time.perf_counter()
        if left > 0:
            time.sleep(left)
        if monitor.submit(record(i, "x")) is not None:
            struct.pack_into("q", page, 0, i + 1)
        i += 1


def part_app_kill(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    losses = []
    for k in range(args.kills):
        store = tmp / f"app-{k}.sqlite"
        counter = tmp / f"counter-{k}"
        counter.write_bytes(b"\0" * 8)
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child-app", str(store), str(args.rate), str(counter)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        proc.stdout.readline()
        time.sleep(random.uniform(0.5, 1.5))
        proc.kill()  # SIGKILL, by PID
        proc.wait(30)
        accepted = struct.unpack("q", counter.read_bytes()[:8])[0]
        persisted = count(store, "id LIKE 'x%'")
        losses.append(accepted - persisted)
    return {
        "rate": args.rate,
        "kills": args.kills,
        "lost_records": losses,
        "lost_max": max(losses),
        "lost_ms_max": max(losses) / args.rate * 1000,
        "lost_ms_mean": statistics.mean(losses) / args.rate * 1000,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default=",".join(PARTS))
    p.add_argument("--rate", type=float, default=2000.0, help="records/s the application offers (2000)")
    p.add_argument("--submit-n", type=int, default=20_000)
    p.add_argument("--persist-n", type=int, default=50_000)
    p.add_argument("--eval-n", type=int, default=50_000)
    p.add_argument("--judge-n", type=int, default=2_000)
    p.add_argument("--kill-n", type=int, default=4_000)
    p.add_argument("--kills", type=int, default=5)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--reps", type=int, default=3, help="interleaved repetitions of the judge part (3)")
    p.add_argument("--judge-batches", default="256", help="monitor batch sizes in the judge part (256)")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--child-app", nargs=3, metavar=("STORE", "RATE", "COUNTER"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child_app:
        child_app(args.child_app[0], float(args.child_app[1]), args.child_app[2])
        return
    parts = [x for x in args.parts.split(",") if x]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        p.error(f"unknown parts {unknown}; parts are {list(PARTS)}")
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    print(
        f"workbench {head.stdout.strip()}, load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs",
        flush=True,
    )
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="wb-monitor-bench-") as tmp:
        os.environ["WORKBENCH_HOME"] = str(Path(tmp) / "home")  # a fresh judge cache
        for part in parts:
            t0 = time.perf_counter()
            results[part] = globals()[f"part_{part}"](args, Path(tmp))
            print(
                f"{part} ({time.perf_counter() - t0:.1f}s): {json.dumps(results[part], default=str)}",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
