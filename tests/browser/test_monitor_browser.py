"""The live monitor view and notebook 05 in the real JupyterLab, through Chromium:

* ``wb.MonitorView`` refreshes while the kernel is idle: every cell has finished and the
  kernel reports ``idle`` while records submitted from a thread of the kernel are evaluated,
  and the view's counts, chart and alerts follow them (an alert fires and resolves); the
  drill-down from an alert to a record works by clicking;
* ``notebooks/05_monitoring.ipynb`` runs top to bottom: its two trends and the view's are
  drawn, the view ends at 480 evaluated requests with the incident's two alerts;
* screenshots to look at: ``01-view-filling``, ``02-view-done``, ``03-drill-down``,
  ``05-view``, ``05-trend``, ``05-anomalies``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest

from tests.browser.harness import PLAYWRIGHT_MISSING, Lab, assert_clean, open_notebook, run_all, shot
from tests.browser.harness import wait_all_executed as wait_executed

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK_05 = REPO / "notebooks" / "05_monitoring.ipynb"
DATASET = "datasets/support_answers.jsonl"
RECORDS = 300

CELLS = [
    (
        "import tempfile, threading, time\n"
        "import pandas as pd, workbench as wb\n"
        "suite = wb.Suite(name='live', tasks=[\n"
        "    wb.AssertionTask(id='cites', path='answer', op='contains', expected='[source]')])\n"
        "monitor = wb.Monitor(suite, store=tempfile.mkdtemp(), cooldown_s=60,\n"
        "                     alerts=[wb.alerts.pass_rate_below('cites', 0.8, window=20)])"
    ),
    "view = wb.MonitorView(monitor, target='cites', window=20, refresh_s=0.5)\nview",
    # the cell returns at once: the records arrive while the kernel is idle
    (
        "T0 = pd.Timestamp('2026-03-02 09:00', tz='UTC')\n"
        "def feed():\n"
        f"    for i in range({RECORDS}):\n"
        "        cites = '' if 120 <= i < 170 and i % 2 else ' [source]'\n"
        "        monitor.submit({'id': f'r{i:04d}', 'time': T0 + pd.Timedelta(minutes=i),\n"
        "                        'answer': f'answer {i}{cites}'})\n"
        "        time.sleep(0.02)\n"
        "feeder = threading.Thread(target=feed)\n"
        "feeder.start()"
    ),
]


def write_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def evaluated(view: Locator) -> int:
    return int(view.locator(".wb-monitor-evaluated").inner_text().replace(",", ""))


def kernel_states(lab: Lab) -> list[str]:
    return [k["execution_state"] for k in lab.api("kernels")]


def test_the_view_refreshes_while_the_kernel_is_idle(
    lab_factory: Callable[..., Lab], new_page: Callable[..., Page], artifacts: Path, tmp_path: Path
) -> None:
    notebook = write_notebook(tmp_path / "live.ipynb")
    lab = lab_factory([notebook], log=artifacts / "jupyterlab.log")
    page = new_page(allow=[lab.url], viewport=(1200, 1100))
    open_notebook(page, lab, notebook.name)
    run_all(page)
    wait_executed(page, timeout_s=150)
    view = page.locator(".wb-monitor-view")
    expect(view).to_have_count(1)
    expect(view.locator(".wb-monitor-state")).to_have_text("live, every 0.5 s")

    # every cell has run; the records keep arriving and the view follows them by itself
    seen: list[int] = []
    idle_while_filling = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        seen.append(evaluated(view))
        if seen[-1] and seen[-1] < RECORDS:
            idle_while_filling.append(kernel_states(lab))
            if len(idle_while_filling) == 3:
                view.scroll_into_view_if_needed()
                shot(page, artifacts, "01-view-filling")
        if seen[-1] == RECORDS:
            break
        page.wait_for_timeout(250)
    assert seen[-1] == RECORDS, seen[-10:]
    steps = sorted(set(seen))
    assert len(steps) >= 4, steps  # it refreshed several times on its way, not once at the end
    assert idle_while_filling and all(s == ["idle"] for s in idle_while_filling), idle_while_filling

    # the alert fired and resolved, the chart marks both
    expect(view.locator(".wb-monitor-alert-count")).to_have_text("2", timeout=30_000)
    rows = view.locator("tr.wb-monitor-alert")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("resolved")
    expect(rows.nth(1)).to_contain_text("firing")
    chart = view.locator(".wb-monitor-trend svg.marks")
    expect(chart).to_be_visible()
    expect(chart.locator("text", has_text="cites over time")).to_have_count(1)
    expect(chart.locator("text", has_text="firing")).to_have_count(1)  # the alert legend
    view.scroll_into_view_if_needed()
    shot(page, artifacts, "02-view-done", full_page=True)

    # the drill-down: the view opened on the alert that fired; pick a record of it
    picked = view.locator(".wb-monitor-alert-pick select")
    assert "firing" in picked.evaluate("s => s.options[s.selectedIndex].text")
    table = view.locator(".wb-monitor-alert-records table")
    expect(table).to_be_visible()
    records = view.locator(".wb-monitor-record-pick select")
    first = records.locator("option").first.inner_text().strip()
    records.select_option(first)
    expect(view.locator(".wb-monitor-record-id")).to_have_text(first)
    expect(view.locator(".wb-monitor-record")).to_contain_text("failed")
    view.locator(".wb-monitor-record").scroll_into_view_if_needed()
    shot(page, artifacts, "03-drill-down")

    # Live off: no more refreshes
    view.locator(".wb-monitor-live").click()
    expect(view.locator(".wb-monitor-state")).to_have_text("paused")
    assert_clean(page, blocked=page.wb_blocked)  # type: ignore[attr-defined]
    (artifacts / "refreshes.txt").write_text(
        f"evaluated counts the page showed, in order: {steps}\n"
        f"kernel states meanwhile: {idle_while_filling}\n"
    )


def test_notebook_05_runs_in_the_lab_and_its_view_ends_with_the_incident(
    lab_factory: Callable[..., Lab], new_page: Callable[..., Page], artifacts: Path
) -> None:
    files = {f"notebooks/{NOTEBOOK_05.name}": NOTEBOOK_05, DATASET: REPO / DATASET}
    lab = lab_factory([], env={"WORKBENCH_MODEL": ""}, files=files, log=artifacts / "jupyterlab.log")
    page = new_page(allow=[lab.url], viewport=(1200, 1100))
    t0 = time.perf_counter()
    open_notebook(page, lab, f"notebooks/{NOTEBOOK_05.name}")
    run_all(page)
    wait_executed(page, timeout_s=240)
    seconds = time.perf_counter() - t0
    view = page.locator(".wb-monitor-view")
    expect(view.locator(".wb-monitor-evaluated")).to_have_text("480", timeout=30_000)
    expect(view.locator(".wb-monitor-alert-count")).to_have_text("2")
    expect(view.locator("tr.wb-monitor-alert")).to_have_count(2)
    drawn = page.locator(".jp-NotebookPanel .jp-RenderedVegaLite svg.marks")
    expect(drawn).to_have_count(3, timeout=30_000)  # the view's trend, then the notebook's two
    expect(drawn.nth(1).locator("text", has_text="cites_sources over time")).to_have_count(1)
    expect(drawn.nth(2).locator("text", has_text="quality over time")).to_have_count(1)
    view.locator(".wb-monitor-header").scroll_into_view_if_needed()
    page.mouse.wheel(0, -40)  # the header just below the toolbar
    shot(page, artifacts, "05-view")
    drawn.nth(1).scroll_into_view_if_needed()
    shot(page, artifacts, "05-trend")
    anomalies = page.locator(".jp-OutputArea-output", has_text="records raised it")
    anomalies.last.scroll_into_view_if_needed()
    shot(page, artifacts, "05-anomalies")
    assert_clean(page, blocked=page.wb_blocked)  # type: ignore[attr-defined]
    (artifacts / "timings.txt").write_text(f"open and run all of 05_monitoring: {seconds:.1f} s\n")
