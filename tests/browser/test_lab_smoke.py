"""JupyterLab smoke test: run a notebook with a workbench run, a chart and widgets through the
real UI, then change the Dropdown and press the Button, and see the chart redrawn."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.harness import (
    PLAYWRIGHT_MISSING,
    Lab,
    assert_clean,
    open_notebook,
    run_all,
    shot,
    wait_all_executed,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

NOTEBOOK = Path(__file__).resolve().parents[1] / "fixtures" / "ui_smoke.ipynb"


def test_run_all_then_redraw_the_chart_from_the_widgets(
    lab_factory: Callable[..., Lab], new_page: Callable[..., Page], artifacts: Path
) -> None:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    lab = lab_factory([NOTEBOOK], log=artifacts / "jupyterlab.log")
    page = new_page(allow=[lab.url])
    open_notebook(page, lab, NOTEBOOK.name)
    timings["open"] = time.perf_counter() - t0
    shot(page, artifacts, "01-opened")

    t1 = time.perf_counter()
    run_all(page)
    out = page.locator(".jp-NotebookPanel .jp-OutputArea-output")
    dropdown = out.locator(".widget-dropdown select")
    expect(dropdown).to_be_visible(timeout=120_000)
    in_widget = out.locator(".widget-output .vega-embed svg.marks")
    expect(in_widget).to_be_visible()
    expect(out.locator(".widget-label", has_text="rows: 10 (group=All)")).to_be_visible()
    expect(in_widget.locator("text", has_text="Group: All")).to_have_count(1)
    prompts = wait_all_executed(page)
    timings["run_all"] = time.perf_counter() - t1
    assert prompts == ["[1]:", "[2]:", "[3]:"]
    run_line = "Run(suite 'smoke' version 'v1', 10 rows"
    expect(out.filter(has_text=run_line)).to_have_count(1)  # the run's HTML repr
    charts = page.locator(".jp-OutputArea-output .vega-embed svg.marks")
    expect(charts).to_have_count(2)  # the top-level chart and the one in the Output widget
    expect(charts.first.locator("text", has_text="All rows")).to_have_count(1)
    out.locator(".jupyter-widgets").first.scroll_into_view_if_needed()
    shot(page, artifacts, "02-after-run-all")

    t2 = time.perf_counter()
    dropdown.select_option("B")
    out.locator("button.widget-button", has_text="Redraw").click()
    expect(out.locator(".widget-label", has_text="rows: 4 (group=B)")).to_be_visible()
    expect(in_widget.locator("text", has_text="Group: B")).to_have_count(1)
    expect(in_widget.locator("text", has_text="Group: All")).to_have_count(0)
    timings["redraw"] = time.perf_counter() - t2
    shot(page, artifacts, "03-after-redraw")

    assert_clean(page, blocked=page.wb_blocked)  # type: ignore[attr-defined]
    sessions = lab.api("sessions")
    assert [s["path"] for s in sessions] == [NOTEBOOK.name]
    (artifacts / "timings.txt").write_text("".join(f"{k}: {v:.1f} s\n" for k, v in timings.items()))
