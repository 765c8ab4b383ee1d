"""The labeling widget in the real JupyterLab, through Chromium, typed at with the keyboard:

* keys typed in the key box label the row shown (the box empties after each key), a note typed
  beside it is saved with the next label, and each label is in the run store at once;
* the judge's verdict is hidden until the row is labelled, then shown for the row just labelled;
* after a kernel restart (Kernel > Restart Kernel and Run All Cells) the labeler resumes at the
  first unlabelled row, and the labels are reported by ``wb.agreement`` under the current
  criterion text;
* screenshots ``01-opened``, ``02-labelled``, ``03-after-restart`` to look at.

The notebook is written here; its judge is ``notebook_judge()``'s local server inside the
kernel (simulated verdicts); runs and labels go to the lab's own ``WORKBENCH_HOME``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest

import workbench as wb
from tests.browser.harness import PLAYWRIGHT_MISSING, Lab, assert_clean, open_notebook, run_all, shot
from tests.browser.harness import wait_all_executed as wait_executed

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

CELLS = [
    (
        "import pandas as pd, workbench as wb\n"
        "from workbench.testing import notebook_judge\n"
        "judge = notebook_judge()\n"
        "df = pd.DataFrame({'answer': ['Paris is the capital of France.', 'Lyon is the capital.',\n"
        "                              'Marseille, a port.']}, index=['a1', 'a2', 'a3'])\n"
        "suite = wb.Suite(name='qa', version='v1', tasks=[wb.JudgeTask(id='quality', threshold=4,\n"
        "    prompt='Answer: ${answer}',\n"
        "    criteria=[wb.Criterion(name='accuracy', description='Every fact is right.')])])\n"
        "run = wb.evaluate(df, suite, **judge, label='judge', progress=False)"
    ),
    "labeler = wb.Labeler(df, suite, task='quality', run=run, annotator='browser')\nlabeler",
]


def write_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def restart_and_run_all(page: Page) -> None:
    page.locator(".lm-MenuBar-item", has_text="Kernel").click()
    page.locator(".lm-Menu-item", has_text="Restart Kernel and Run All Cells").click()
    page.locator(".jp-Dialog .jp-mod-accept").click()


def test_labels_typed_in_the_lab_are_saved_and_resume_after_a_restart(
    lab_factory: Callable[..., Lab], new_page: Callable[..., Page], artifacts: Path, tmp_path: Path
) -> None:
    notebook = write_notebook(tmp_path / "labeler.ipynb")
    lab = lab_factory([notebook], log=artifacts / "jupyterlab.log")
    home = lab.env["WORKBENCH_HOME"]
    page = new_page(allow=[lab.url], viewport=(1100, 1000))
    open_notebook(page, lab, notebook.name)
    run_all(page)
    wait_executed(page, timeout_s=150)
    labeler = page.locator(".wb-labeler")
    expect(labeler).to_have_count(1)
    count = labeler.locator(".wb-labeler-count")
    expect(count).to_have_text("0 of 3")
    expect(labeler.locator(".wb-labeler-criterion")).to_contain_text("Every fact is right.")
    expect(labeler.locator(".wb-labeler-fields")).to_contain_text("Paris is the capital of France.")
    expect(labeler.locator(".wb-labeler-verdict")).to_have_text("")  # no anchoring
    labeler.scroll_into_view_if_needed()
    shot(page, artifacts, "01-opened")

    keys = labeler.locator(".wb-labeler-keys input")
    keys.click()
    page.keyboard.type("4")
    expect(count).to_have_text("1 of 3")
    expect(keys).to_have_value("")
    verdict = labeler.locator(".wb-labeler-verdict")
    expect(verdict).to_contain_text("you said 4, the judge said")
    expect(labeler.locator(".wb-labeler-fields")).to_contain_text("Lyon is the capital.")
    labeler.locator(".wb-labeler-note input").fill("Lyon is not the capital")
    keys.click()
    page.keyboard.type("1")
    expect(count).to_have_text("2 of 3")
    expect(labeler.locator(".wb-labeler-note input")).to_have_value("")
    expect(labeler.locator(".wb-labeler-message")).to_contain_text("Row 'a2' (accuracy): labelled 1 (saved).")
    labeler.scroll_into_view_if_needed()
    shot(page, artifacts, "02-labelled")

    saved = wb.load_labels("qa", store=home)  # read by this process, straight from the store
    assert saved[["row", "score", "annotator"]].values.tolist() == [
        ["a1", 4.0, "browser"],
        ["a2", 1.0, "browser"],
    ]
    assert saved["note"].tolist()[1] == "Lyon is not the capital"

    restart_and_run_all(page)
    status = page.locator("#jp-main-statusbar")
    expect(status).to_contain_text("Restarting", timeout=30_000)
    expect(status).to_contain_text("Idle", timeout=150_000)
    wait_executed(page, timeout_s=150)
    labeler = page.locator(".wb-labeler")
    # a new widget from the new kernel: no message yet (the old one said what was saved)
    expect(labeler.locator(".wb-labeler-message")).to_have_text("", timeout=60_000)
    expect(labeler).to_have_count(1)
    expect(labeler.locator(".wb-labeler-count")).to_have_text("2 of 3")
    expect(labeler.locator(".wb-labeler-fields")).to_contain_text("Marseille, a port.")
    labeler.scroll_into_view_if_needed()
    shot(page, artifacts, "03-after-restart")

    ag = wb.agreement("judge", store=home)
    assert ag.table[["n", "current_text"]].values.tolist() == [[2, True]]
    assert_clean(page, blocked=page.wb_blocked)  # type: ignore[attr-defined]


REPO = Path(__file__).resolve().parents[2]
NOTEBOOK_04 = "notebooks/04_calibrate_judge.ipynb"


def test_notebook_04_in_the_lab(
    lab_factory: Callable[..., Lab], new_page: Callable[..., Page], artifacts: Path
) -> None:
    """Notebook 04 runs in the lab (simulated judge): its charts and the labeler render, the
    labeler takes a key, and the page is clean."""
    rel = ("datasets/summeval_sample.jsonl", NOTEBOOK_04)
    lab = lab_factory([], log=artifacts / "jupyterlab.log", files={r: REPO / r for r in rel})
    page = new_page(allow=[lab.url], viewport=(1200, 1100))
    open_notebook(page, lab, NOTEBOOK_04)
    run_all(page)
    wait_executed(page, timeout_s=300)
    expect(page.locator(".jp-OutputArea-output", has_text="Judge: SIMULATED verdicts")).to_have_count(1)
    charts = page.locator(".vega-embed svg.marks")
    expect(charts).to_have_count(2)
    labeler = page.locator(".wb-labeler")
    expect(labeler).to_have_count(1)
    expect(labeler.locator(".wb-labeler-count")).to_have_text("6 of 160")
    expect(labeler.locator(".wb-labeler-criterion")).to_contain_text("reads as one organised whole")
    charts.first.scroll_into_view_if_needed()
    shot(page, artifacts, "04-agreement-chart")
    labeler.scroll_into_view_if_needed()
    shot(page, artifacts, "04-labeler")
    labeler.locator(".wb-labeler-key-3").click()
    expect(labeler.locator(".wb-labeler-count")).to_have_text("7 of 160")
    expect(labeler.locator(".wb-labeler-verdict")).to_contain_text("the judge said")
    shot(page, artifacts, "04-labeler-after-a-label")
    page.locator(".jp-OutputArea-output", has_text="Consistency of the judge").scroll_into_view_if_needed()
    shot(page, artifacts, "04-consistency")
    assert_clean(page, blocked=page.wb_blocked)  # type: ignore[attr-defined]
