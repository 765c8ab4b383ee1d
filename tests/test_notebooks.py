"""Every notebook in notebooks/ runs top to bottom in a fresh kernel, as CI and `workbench report` run it.

With ``WORKBENCH_MODEL`` unset the notebooks use workbench.testing's local judge server
themselves; runs and caches go to a temporary ``WORKBENCH_HOME``. The kernel's working
directory is the notebook's folder, as in JupyterLab. The committed files are not changed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from workbench.report import execute_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


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
