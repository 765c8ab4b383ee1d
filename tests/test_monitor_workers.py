"""Worker processes: `workbench monitor serve` started as real subprocesses, killed with
SIGKILL by PID, restarted, run side by side on one store; judge calls go to
workbench.testing.JudgeServer on 127.0.0.1, which counts them. The tests count rows in the
store and requests at the server."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench.cli import main
from workbench.monitor import sample_point
from workbench.testing import JudgeServer

CONCURRENCY = 8


def suite() -> wb.Suite:
    return wb.Suite(
        name="live",
        version="1",
        tasks=[
            wb.AssertionTask(id="answered", path="answer", op="is_not_empty", gate=True),
            wb.JudgeTask(
                id="quality",
                prompt="Question: ${question}\nAnswer: ${answer}",
                threshold=3,
                criteria=[wb.Criterion(name="accuracy", description="The answer is correct.")],
                depends_on=["answered"],
            ),
        ],
    )


class Worker:
    """One `workbench monitor serve` process, its output in files (a full pipe would block it)."""

    def __init__(self, tmp: Path, tag: str, store: Path, server: JudgeServer, *extra: str) -> None:
        suite_file = tmp / "suite.yaml"
        if not suite_file.exists():
            suite_file.write_text(suite().to_yaml(), encoding="utf-8")
        self.out = tmp / f"{tag}.out"
        self.err = tmp / f"{tag}.err"
        env = {
            **os.environ,
            "OPENAI_API_BASE": server.url,
            "OPENAI_API_KEY": server.litellm_kwargs["api_key"],
        }
        cmd = [sys.executable, "-m", "workbench.cli", "monitor", "serve", "--store", str(store), "--suite",
               str(suite_file), "--model", server.model, "--concurrency", str(CONCURRENCY), "--report-every",
               "0.5", *extra]  # fmt: skip
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)

    def output(self) -> str:
        return self.out.read_text(encoding="utf-8") if self.out.exists() else ""

    def wait_for(self, text: str, timeout: float = 60) -> None:
        wait_until(lambda: text in self.output() or self.proc.poll() is not None, timeout)
        assert text in self.output(), f"no {text!r} from the worker: {self.err.read_text()[-2000:]}"

    def evaluated(self) -> int:
        final = [line for line in self.output().splitlines() if line.startswith("done: ")]
        assert final, (
            f"the worker printed no final line: {self.output()[-500:]} {self.err.read_text()[-2000:]}"
        )
        return int(final[-1].split()[1].replace(",", ""))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:  # stopped by PID, whatever the test did
        w.stop()


def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s")
        time.sleep(0.05)


def query(store: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    # read-only: a query must never create the file before the monitor does
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def done_ids(store: Path) -> list[str]:
    """The records evaluated so far (none while the store or its tables are still being made)."""
    try:
        return [r[0] for r in query(store, "SELECT id FROM monitor_records WHERE state = 'done'")]
    except sqlite3.OperationalError:
        return []


def record(i: int) -> dict[str, Any]:
    return {"id": f"s{i:05d}", "question": f"What is {i} + {i}?", "answer": f"It is {2 * i}."}


def test_a_worker_killed_mid_stream_loses_nothing_and_stores_nothing_twice(
    tmp_path: Path, workers: list[Worker]
) -> None:
    store = tmp_path / "runs.sqlite"
    expected = {record(i)["id"] for i in range(2000) if sample_point(record(i)["id"]) < 0.25}
    with JudgeServer(latency_ms=40) as server:
        first = Worker(tmp_path, "first", store, server, "--lease", "1", "--batch-size", "16")
        workers.append(first)
        first.wait_for("Serving monitor 'live'")
        producer = wb.Monitor(suite(), store=store, workers=0, sample_ratio=0.25)
        for i in range(1000):
            producer.submit(record(i))
        wait_until(lambda: len(done_ids(store)) >= 40, timeout=60)
        first.proc.send_signal(signal.SIGKILL)  # by PID, mid-batch
        first.proc.wait(timeout=30)
        killed_at = len(done_ids(store))
        for i in range(1000, 2000):  # the stream goes on while no worker runs
            producer.submit(record(i))
        assert producer.close(timeout=30)
        second = Worker(
            tmp_path, "second", store, server, "--lease", "1", "--batch-size", "16", "--until-idle"
        )
        workers.append(second)
        assert second.proc.wait(timeout=120) == 0, second.err.read_text()[-2000:]
        bodies = [json.dumps(r["messages"], sort_keys=True) for r in server.requests]
    assert killed_at < len(expected)  # the kill did land mid-stream
    assert set(done_ids(store)) == expected and producer.stats()["sampled"] == len(expected)
    cells = query(
        store,
        "SELECT count(*), count(DISTINCT record || '/' || task || '/' || criterion) FROM monitor_results",
    )
    assert cells == [(2 * len(expected), 2 * len(expected))]  # one gate and one judge cell each, none twice
    assert len(set(bodies)) == len(expected)  # every sampled record judged
    assert len(bodies) - len(set(bodies)) <= CONCURRENCY  # at most the calls in flight at the kill repeated
    assert second.evaluated() == len(expected) - killed_at
    results = wb.monitor_results(store=store, name="live")
    assert set(results["record"]) == expected and results["score"].notna().sum() == len(expected)


def test_two_worker_processes_split_the_work_and_judge_each_record_once(
    tmp_path: Path, workers: list[Worker]
) -> None:
    store = tmp_path / "runs.sqlite"
    n = 400
    with JudgeServer(latency_ms=30) as server:
        pair = [Worker(tmp_path, f"w{k}", store, server, "--batch-size", "8") for k in (1, 2)]
        workers.extend(pair)
        for w in pair:
            w.wait_for("Serving monitor 'live'")
        with wb.Monitor(suite(), store=store, workers=0) as producer:
            for i in range(n):
                producer.submit(record(i))
        wait_until(lambda: len(done_ids(store)) == n, timeout=90)
        for w in pair:
            w.proc.send_signal(signal.SIGTERM)  # a graceful stop: claims given back, final counts printed
        assert [w.proc.wait(timeout=30) for w in pair] == [0, 0]
        assert server.count == n
    shares = [w.evaluated() for w in pair]
    assert sum(shares) == n and min(shares) > 0, shares
    assert query(store, "SELECT count(*) FROM monitor_results") == [(2 * n,)]
    assert query(store, "SELECT max(claims) FROM monitor_records") == [(1,)]  # no record was taken twice


def test_a_sigkill_of_the_application_loses_nothing_already_committed(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    code = textwrap.dedent(
        f"""
        import sys, time, workbench as wb
        suite = wb.Suite.from_yaml({suite().to_yaml()!r})
        monitor = wb.Monitor(suite, store={str(store)!r}, workers=0)
        for i in range(500):
            monitor.submit({{"id": f"k{{i}}", "question": "q", "answer": "a"}})
        print("submitted", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "submitted"
        time.sleep(0.3)  # many commit windows (5 ms each)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert query(store, "SELECT count(*) FROM monitor_records") == [(500,)]


def test_serve_without_a_suite_or_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["monitor", "serve"]) == 2
    assert "monitor serve needs --suite SUITE, or --name NAME" in capsys.readouterr().err


def test_serve_with_a_name_the_store_does_not_know_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["monitor", "serve", "--store", str(tmp_path), "--name", "nope", "--until-idle"]) == 2
    assert "the store at" in capsys.readouterr().err


def test_status_lists_the_monitors_and_their_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with wb.Monitor(suite(), store=tmp_path, workers=0) as producer:
        for i in range(3):
            producer.submit(record(i))
    assert main(["monitor", "status", "--store", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["monitor", "suite", "queued", "claimed", "done"]
    assert lines[2].split() == ["live", "live", "1", "3", "0", "0"]
