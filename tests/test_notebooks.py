"""Every notebook in notebooks/ runs top to bottom in a fresh kernel, as CI and `workbench report` run it.

With ``WORKBENCH_MODEL`` unset the notebooks use workbench.testing's local judge server
themselves; runs and caches go to a temporary ``WORKBENCH_HOME``. The kernel's working
directory is the notebook's folder, as in JupyterLab. The committed files are not changed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from workbench.report import execute_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def printed(nb: object) -> str:
    """Everything the cells printed or displayed as text, in order."""
    parts = []
    for cell in nb.cells:  # type: ignore[attr-defined]
        for o in cell.get("outputs", []):
            parts.append(
                o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
            )
    return "\n".join(parts)


def tune_judge_claims(nb: object) -> None:
    """02 claims only what its data supports: the failing rows it reruns are a minority, the
    versions are compared on every row, and simulated verdicts are called noise."""
    text = printed(nb)
    failing, total = map(int, re.search(r"rows with a failing cell: (\d+) of (\d+)", text).groups())  # type: ignore[union-attr]
    assert 0 < failing < total / 2, (failing, total)
    assert f"Run(suite 'support-judge' version 'v2', {total} rows" in text  # v2 on every row, not the subset
    assert f"up to {total} paired rows" in text
    assert "Simulated verdicts: the differences below are noise" in text


def calibrate_judge_claims(nb: object) -> None:
    """04 saves the experts' labels, reports the edited criterion per version (the experts'
    labels flagged as given under the old text), labels six rows through the widget, and
    measures the judge's consistency."""
    text = printed(nb)
    assert "640 expert labels in the run store" in text
    assert "Simulated verdicts read nothing" in text
    assert "labelled=6/160" in text
    versions = re.findall(r"coherence\s+(\w{12})\s+(True|False)\s+(\d+)", text)
    assert ("False", "160") in {(c, n) for _, c, n in versions} and ("True", "6") in {
        (c, n) for _, c, n in versions
    }
    assert "Consistency of the judge over 5 repeats at temperature 1" in text


def monitoring_claims(nb: object) -> None:
    """05 evaluates every replayed request and loses none, raises one alert during the scripted
    incident (11:00-12:30) and reports its recovery once after it, and says that simulated
    verdicts cannot see the incident."""
    text = printed(nb)
    assert "'evaluated': 480" in text and "'dropped': 0" in text and "'errors': 0" in text
    fired = re.findall(r"(\d\d:\d\d)  firing\s+pass rate of cites_sources", text)
    resolved = re.findall(r"(\d\d:\d\d)  resolved\s+pass rate of cites_sources", text)
    assert len(fired) == 1 and len(resolved) == 1, (fired, resolved)
    assert "11:00" < fired[0] < "12:30" < resolved[0], (fired, resolved)
    assert "firing  mean score" not in text  # the simulated judge's lenient scores stay above 3
    assert "Simulated verdicts read nothing" in text


CLAIMS: dict[str, Callable[[object], None]] = {
    "02_tune_judge": tune_judge_claims,
    "04_calibrate_judge": calibrate_judge_claims,
    "05_monitoring": monitoring_claims,
}
"""Checks of what a notebook says, run on its executed outputs."""


@pytest.mark.parametrize(
    "path",
    NOTEBOOKS or [pytest.param(None, marks=pytest.mark.skip(reason="no notebooks in notebooks/ yet"))],
    ids=[p.stem for p in NOTEBOOKS] or ["none"],
)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_MODEL", raising=False)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    nb = execute_notebook(path, timeout=600)  # raises NotebookError naming the failing cell
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    CLAIMS.get(path.stem, lambda nb: None)(nb)
