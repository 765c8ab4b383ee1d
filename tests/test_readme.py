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
    exec(compile(block.group(1), "README.md", "exec"), namespace)  # noqa: S102 - our own README
    run = namespace["run"]
    assert set(run.results["task"].unique()) == {"is_json", "short", "cited", "urls", "close"}
    assert run.summary()["failed"].sum() > 0  # the bundled data has flaws to find


def test_readme_lists_every_operator() -> None:
    from workbench.assertions import OPERATORS

    missing = [name for name in OPERATORS if f"| `{name}` |" not in README]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install --quiet -e '.[dev]'" in ci and "pytest" in ci
    assert "pip install -e '.[dev]' && .venv/bin/pytest" in README
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
