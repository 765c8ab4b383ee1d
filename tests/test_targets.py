"""Pass-rate targets (``min_pass_rate``): the spec rules, the check, and the CLI's exit code."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import workbench as wb
from workbench.cli import main
from workbench.targets import check_targets
from workbench.testing import JudgeServer


def test_a_target_counts_errors_as_not_passing_and_leaves_skips_out() -> None:
    df = pd.DataFrame({"x": [5, 6, -1, "text", None]})
    suite = wb.Suite(
        name="s",
        tasks=[
            wb.AssertionTask(id="present", path="x", op="not_is_null", gate=True),
            wb.AssertionTask(id="pos", path="x", op="is_positive", depends_on=["present"], min_pass_rate=0.5),
        ],
    )
    run = wb.evaluate(df, suite)
    t = check_targets(run.results, suite).set_index("task")
    # rows: 2 passed, 1 failed, 1 error ('text' is not a number), 1 skipped by the gate
    assert (t.loc["pos", "passed"], t.loc["pos", "checked"]) == (2, 4)
    assert t.loc["pos", "pass_rate"] == 0.5 and bool(t.loc["pos", "met"])
    stricter = wb.Suite(
        name="s", tasks=[suite.tasks[0], suite.tasks[1].model_copy(update={"min_pass_rate": 0.6})]
    )
    assert not check_targets(run.results, stricter)["met"].any()


def test_no_targets_gives_an_empty_frame() -> None:
    suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
    run = wb.evaluate(pd.DataFrame({"x": [1]}), suite)
    assert check_targets(run.results, suite).empty


def test_judge_targets_per_criterion(judge_server_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server: JudgeServer = judge_server_factory(
        script=lambda req: {"accuracy": {"score": 5, "reason": "ok"}, "tone": {"score": 2, "reason": "curt"}}
    )
    task = wb.JudgeTask(
        id="q",
        prompt="${a}",
        threshold=4,
        min_pass_rate=0.8,
        criteria=[
            wb.Criterion(name="accuracy", description="Right."),
            wb.Criterion(name="tone", description="Kind.", min_pass_rate=0.0),
        ],
    )
    suite = wb.Suite(name="s", tasks=[task])
    run = wb.evaluate(
        pd.DataFrame({"a": ["x", "y"]}),
        suite,
        model=server.model,
        cache_dir=tmp_path,
        progress=False,
        **server.litellm_kwargs,
    )
    t = check_targets(run.results, suite).set_index("criterion")
    assert t.loc["accuracy", "pass_rate"] == 1.0 and bool(t.loc["accuracy", "met"])
    assert t.loc["tone", "pass_rate"] == 0.0 and bool(t.loc["tone", "met"])  # its own target, 0


def test_a_target_without_a_threshold_is_a_spec_error() -> None:
    judge = wb.JudgeTask(
        id="q", prompt="${a}", min_pass_rate=0.5, criteria=[wb.Criterion(name="c", description="C.")]
    )
    with pytest.raises(wb.SpecError, match="min_pass_rate but no threshold"):  # raised by its suite
        wb.Suite(name="s", tasks=[judge])
    with pytest.raises(wb.SpecError, match="min_pass_rate"):
        wb.Suite(name="s", tasks=[wb.AssertionTask(id="a", path="x", op="is_positive", min_pass_rate=1.5)])


def test_cli_exits_1_when_a_target_is_missed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "a", "x": 1}\n{"id": "b", "x": -1}\n', encoding="utf-8")
    for target, code in ((0.5, 0), (0.9, 1)):
        suite = wb.Suite(
            name="s", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive", min_pass_rate=target)]
        )
        path = tmp_path / "s.yaml"
        path.write_text(suite.to_yaml(), encoding="utf-8")
        assert main(["run", str(path), str(data)]) == code
        out = capsys.readouterr().out
        assert "Targets" in out and ("MISSED" in out) == (code == 1)
