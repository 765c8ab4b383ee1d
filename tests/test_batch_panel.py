"""The Workbench panel's batch offer: shown for runs over ``batch_above`` new calls with both
prices, submitting without blocking, pending batches listed, and collected when they finish;
through the real client stack against the local judge server."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported: no fetch

import pandas as pd
import pytest

import workbench as wb
from workbench import _pytest_plugin

judge_server_factory = _pytest_plugin.judge_server_factory

SUITE = wb.Suite(
    name="support",
    version="v1",
    tasks=[
        wb.JudgeTask(
            id="quality",
            prompt="Answer: ${answer}",
            criteria=[wb.Criterion(name="accuracy", description="Facts are correct.")],
            threshold=3,
        )
    ],
)


def panel(server: Any, tmp: Path, n: int, batch_above: int) -> wb.Workbench:
    df = pd.DataFrame({"answer": [f"Answer {i}." for i in range(n)]}, index=[f"r{i}" for i in range(n)])
    return wb.Workbench(
        df,
        SUITE,
        model="openai/gpt-4o-mini",
        **server.litellm_kwargs,
        cache_dir=tmp / "cache",
        store=tmp / "store",
        batch_above=batch_above,
    )


def test_small_runs_get_no_batch_offer(judge_server_factory: Any, tmp_path: Path) -> None:
    p = panel(judge_server_factory(), tmp_path, 4, batch_above=10)
    assert p.runner.offer is None and p.runner.batch_box.layout.display == "none"


def test_a_large_run_is_offered_batch_mode_submitted_and_collected(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    server = judge_server_factory(batch_delay_s=3.0)
    p = panel(server, tmp_path, 8, batch_above=5)
    offer = p.runner.offer
    assert offer is not None and offer.new_calls == 8
    assert offer.batch_usd is not None and offer.direct_usd is not None
    assert abs(offer.batch_usd - offer.direct_usd / 2) < 1e-12
    assert p.runner.batch_box.layout.display == ""
    assert f"${offer.batch_usd:.4f} in provider batches instead of ${offer.direct_usd:.4f} direct" in (
        p.runner.batch_text.value
    )

    p.runner.batch_mode.value = True
    p.runner.run_button.click()
    assert "Submitted 8 judge calls of v1 in provider batches" in p.runner.status.value
    assert server.count == 0 and server.batch_stats()["batches_created"] == 1
    assert "1 pending batch; 8 judge calls of this panel wait" in p.runner.pending.value
    assert p.current.results is None

    p.runner.collect_button.click()  # still running: nothing recorded, nothing resubmitted
    assert "still running" in p.runner.status.value and p.current.results is None
    time.sleep(3.1)
    p.runner.collect_button.click()
    assert "Collected 1 batch-mode run: v1" in p.runner.status.value
    assert p.current.results is not None and len(p.current.results) == 8
    assert (p.current.results["status"] != "error").all()
    assert server.batch_stats()["batches_created"] == 1 and server.count == 0
    assert p.runner.pending_box.layout.display == "none"


def test_the_panel_refuses_batch_arguments_it_sets_itself() -> None:
    with pytest.raises(wb.WorkbenchError, match=r"Workbench chooses \['batch'\] itself"):
        wb.Workbench(pd.DataFrame({"answer": ["a"]}), SUITE, model="openai/gpt-4o-mini", batch=True)
