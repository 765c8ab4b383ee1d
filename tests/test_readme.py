"""The README's promises: its Python example runs, and it documents every operator."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"```python\n(.*?)```", README, re.S)
    assert block is not None
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)
    run = namespace["run"]
    assert set(run.results["task"].unique()) == {"is_json", "short", "cited", "urls", "close"}
    assert run.summary()["failed"].sum() > 0  # the bundled data has flaws to find


def test_readme_judge_examples_run_against_the_local_judge(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from workbench.testing import JudgeServer

    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert len(blocks) >= 3
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    with JudgeServer() as server:
        namespace: dict = {"server": server}
        exec(compile(blocks[0], "README.md", "exec"), namespace)
        # the judge example, pointed at the local judge instead of a paid model
        judge_block = blocks[1].replace(
            'model="openai/gpt-4o-mini"', "model=server.model, **server.litellm_kwargs"
        )
        exec(compile(judge_block, "README.md", "exec"), namespace)
        run = namespace["run"]
        assert {"quality"} <= set(run.results["task"].astype(str))
        assert (
            run.results.loc[run.results["task"] == "quality", "status"]
            .isin(["passed", "failed", "skipped"])
            .all()
        )
        assert "total" in run.cost()["task"].tolist()
        exec(compile(blocks[2], "README.md", "exec"), namespace)
    assert server.count > 0


def test_readme_lists_every_operator() -> None:
    from workbench.assertions import OPERATORS

    missing = [name for name in OPERATORS if f"| `{name}` |" not in README]
    assert missing == []


def test_readme_operator_table_is_the_registrys() -> None:
    """The table (expected shapes, how arrays are taken, docs) is written from the registry:
    after a change, paste ``workbench.assertions.operator_table()`` over it."""
    from workbench.assertions import operator_table

    assert operator_table() in README


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install --quiet -e '.[dev]'" in ci and "pytest" in ci
    assert "pip install -e '.[dev]' && .venv/bin/pytest" in README
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def test_readme_runs_compare_and_panel_examples(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from workbench.testing import JudgeServer

    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    compare_block = next(b for b in blocks if "wb.compare(v1, v2)" in b)
    panel_block = next(b for b in blocks if "wb.Workbench(" in b)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    exec(compile(compare_block, "README.md", "exec"), namespace)
    result = namespace["result"]
    table = result.table.set_index("task")
    assert table.loc["close", "mean_b"] < table.loc["close", "mean_a"] and bool(
        table.loc["close", "significant"]
    )
    assert not table.drop(index="close")["significant"].any()  # the unchanged checks are not flagged
    assert set(result.flips["direction"]) == {"pass_to_fail"} and set(result.flips["task"]) == {"close"}
    assert {"baseline", "stricter"} <= set(namespace["wb"].runs()["label"].dropna())
    with JudgeServer() as server:
        namespace["server"] = server
        block = panel_block.replace(
            'model="openai/gpt-4o-mini"', "model=server.model, **server.litellm_kwargs"
        )
        exec(compile(block, "README.md", "exec"), namespace)
        assert namespace["panel"].current.label == "v1"
