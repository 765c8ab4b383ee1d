"""The done-when of batch mode: a 1,000-row joint judge run in batch mode through the local
server, its process killed (SIGKILL, by PID) right after the store records the submission; a
fresh process calling the same ``evaluate`` submits nothing new (counted at the server), waits
for the batch and ends with every cell scored and the same verdicts as a direct run of the
same server script."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported: no fetch

import pandas as pd

import workbench as wb
from workbench import _pytest_plugin
from workbench.batch import batches

judge_server_factory = _pytest_plugin.judge_server_factory

N = 1000

SCRIPT = textwrap.dedent("""
    import json, sys, pandas as pd, workbench as wb
    url, store, cache, out, n = sys.argv[1:6]
    n = int(n)
    df = pd.DataFrame({"question": [f"Question {i}?" for i in range(n)],
                       "answer": [f"Answer {i}." for i in range(n)]})
    suite = wb.Suite(name="support", version="1", tasks=[wb.JudgeTask(
        id="quality", prompt="Question: ${question}\\n\\nAnswer: ${answer}",
        criteria=[wb.Criterion(name="accuracy", description="Facts are correct."),
                  wb.Criterion(name="clarity", description="Easy to follow.")],
        scale=(1, 5), threshold=3, mode="joint")])
    run = wb.evaluate(df, suite, model="openai/gpt-4o-mini", api_base=url, api_key="sk-workbench-test",
                      batch=wb.BatchOptions(poll_s=0.1, max_poll_s=0.5), store=store, cache_dir=cache,
                      progress=False)
    r = run.results
    json.dump({"id": run.id, "pending": type(run).__name__ == "PendingRun",
               "cells": r[["row", "criterion", "status", "score", "reason"]].astype(str).values.tolist()},
              open(out, "w"))
""")


def accepted(store: Path) -> bool:
    """The store holds a batch the provider accepted (not just a claim being submitted)."""
    table = batches(store)
    return bool((table["status"] != "submitting").any())


def suite() -> wb.Suite:
    return wb.Suite(
        name="support",
        version="1",
        tasks=[
            wb.JudgeTask(
                id="quality",
                prompt="Question: ${question}\n\nAnswer: ${answer}",
                criteria=[
                    wb.Criterion(name="accuracy", description="Facts are correct."),
                    wb.Criterion(name="clarity", description="Easy to follow."),
                ],
                scale=(1, 5),
                threshold=3,
                mode="joint",
            )
        ],
    )


def test_a_batch_run_killed_after_submission_is_finished_by_a_fresh_process_submitting_nothing(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    server = judge_server_factory(seed=5, batch_delay_s=6)
    script = tmp_path / "run_batch.py"
    script.write_text(SCRIPT)
    store, cache, out = tmp_path / "store", tmp_path / "cache", tmp_path / "out.json"
    command = [sys.executable, str(script), server.url, str(store), str(cache), str(out), str(N)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    first = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None and not accepted(store):
        time.sleep(0.01)
    os.kill(first.pid, signal.SIGKILL)  # right after the store recorded the submission
    first.wait()
    recorded = batches(store)
    assert len(recorded) == 1 and recorded["requests"].tolist() == [N]
    assert not out.exists(), "the first process was killed before it finished"
    submitted = server.batch_stats()
    assert (submitted["uploads"], submitted["batches_created"]) == (1, 1)
    assert server.batches[0]["status"] == "in_progress", "killed while the batch still ran"

    second = subprocess.run(command, env=env, timeout=300)
    assert second.returncode == 0
    stats = server.batch_stats()
    assert (stats["uploads"], stats["batches_created"]) == (1, 1), "the fresh process submitted nothing new"
    assert server.count == 0, "and made no direct call"
    result = json.loads(out.read_text())
    assert not result["pending"] and result["id"] is not None
    got = pd.DataFrame(result["cells"], columns=["row", "criterion", "status", "score", "reason"])
    assert len(got) == 2 * N and got["status"].isin(["passed", "failed"]).all(), "every cell scored"

    df = pd.DataFrame(
        {"question": [f"Question {i}?" for i in range(N)], "answer": [f"Answer {i}." for i in range(N)]}
    )
    direct = wb.evaluate(
        df,
        suite(),
        model="openai/gpt-4o-mini",
        **server.litellm_kwargs,
        cache_dir=tmp_path / "direct-cache",
        save=False,
        progress=False,
    )
    assert server.count == N
    want = direct.results[["row", "criterion", "status", "score", "reason"]].astype(str)
    assert (
        got.sort_values(["row", "criterion"]).values.tolist()
        == want.sort_values(["row", "criterion"]).values.tolist()
    )
    assert wb.load_run(result["id"], store=store).results["status"].isin(["passed", "failed"]).all()


def test_a_process_killed_before_it_recorded_the_batch_id_leaves_a_claim_the_next_one_adopts(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    # the provider creates the batch, then takes 5 s to answer: the process dies in between
    server = judge_server_factory(seed=5, batch_create_delay_s=5)
    script = tmp_path / "run_batch.py"
    script.write_text(SCRIPT)
    store, cache, out = tmp_path / "store", tmp_path / "cache", tmp_path / "out.json"
    command = [sys.executable, str(script), server.url, str(store), str(cache), str(out), "40"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    first = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 120
    while (
        time.monotonic() < deadline and first.poll() is None and server.batch_stats()["batches_created"] == 0
    ):
        time.sleep(0.01)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert batches(store)["status"].tolist() == ["submitting"], "only the claim was recorded"

    server.set(batch_create_delay_s=0)
    assert subprocess.run(command, env=env, timeout=300).returncode == 0
    stats = server.batch_stats()
    assert (stats["uploads"], stats["batches_created"]) == (1, 1), (
        "the batch was found by its claim, not resubmitted"
    )
    assert stats["lists"] >= 1 and server.count == 0
    result = json.loads(out.read_text())
    assert len(result["cells"]) == 80 and all(c[2] in ("passed", "failed") for c in result["cells"])
    assert batches(store)["status"].tolist() == ["completed"]
