"""Exported reports opened from file:// in Chromium with every other request blocked: charts
and widgets render, no payload from the data runs (one of them, ``<!--<script>``, would
break an embedded JSON that escapes only ``/``, and no widget would render), and the
quickstart's report is light and complete without the widgets manager."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.harness import PLAYWRIGHT_MISSING, assert_clean, shot
from workbench.report import report

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "report_xss.ipynb"
PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=2">',
    "</script><script>window.__xss=3</script>",
    "<!--<script>window.__xss=4</script>",
]
QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "01_quickstart.ipynb"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, browser: object) -> tuple[Path, float]:
    """The fixture notebook's report (``browser`` first: without one, skip before executing)."""
    out = tmp_path_factory.mktemp("report") / "report_xss.html"
    t0 = time.perf_counter()
    report(FIXTURE, out, timeout=300)
    return out, time.perf_counter() - t0


def load(page: Page, path: Path) -> None:
    """Open the report and wait until the widgets manager has rendered every widget."""
    page.goto(path.as_uri())
    expect(page.locator(".widget-dropdown select")).to_be_visible()
    expect(page.locator(".widget-output .vega-embed svg.marks")).to_be_visible()
    page.wait_for_timeout(300)  # an injected onerror would have fired by now


def test_report_renders_offline_and_no_payload_runs(
    exported: tuple[Path, float], new_page: Callable[..., Page], artifacts: Path
) -> None:
    path, seconds = exported
    page = new_page(allow=["file:"])
    t0 = time.perf_counter()
    load(page, path)
    # three charts: workbench.charts.distributions, a plain altair chart, one inside an Output widget
    charts = page.locator(".vega-embed svg.marks")
    expect(charts).to_have_count(3)
    assert page.evaluate("typeof window.__xss") == "undefined"
    # the payloads are shown, as text: in widget labels, escaped HTML widgets, table cells, chart titles
    assert page.locator(".widget-label").all_inner_texts()[: len(PAYLOADS)] == PAYLOADS
    assert page.locator(".widget-html").all_inner_texts() == PAYLOADS
    expect(page.locator(".jp-OutputArea-output td", has_text=PAYLOADS[2]).first).to_be_visible()
    # the Output widget shows the table it held, index labels included (from the widget state)
    expect(page.locator(".widget-output th", has_text=PAYLOADS[3])).to_have_count(1)
    expect(charts.locator("text", has_text="window.__xss=3").first).to_be_attached()
    # the widgets manager's icon font is inlined: the button's check icon is drawn
    expect(page.locator(".widget-button i.fa-check")).to_be_visible()
    assert page.evaluate("document.fonts.check('900 16px \"Font Awesome 5 Free\"', '\\uf00c')")
    loaded = page.evaluate(
        "document.fonts.ready.then(() => [...document.fonts]"
        ".filter(f => f.status === 'loaded').map(f => f.family + ' ' + f.weight))"
    )
    assert "Font Awesome 5 Free 900" in loaded
    shot(page, artifacts, "report", full_page=True)
    assert_clean(page, blocked=page.wb_blocked)  # type: ignore[attr-defined]
    (artifacts / "timings.txt").write_text(
        f"report: {seconds:.1f} s\nrender: {time.perf_counter() - t0:.1f} s\n"
        f"size: {path.stat().st_size / 1e6:.2f} MB\n"
    )


def test_the_check_sees_an_injection_when_there_is_one(
    exported: tuple[Path, float], new_page: Callable[..., Page], tmp_path: Path
) -> None:
    """The same report with one payload put in unescaped: the checks above must notice it."""
    html = exported[0].read_text(encoding="utf-8")
    escaped = '&lt;img src=x onerror="window.__xss=2"&gt;'  # as pandas and pygments escape it
    assert escaped in html
    broken = tmp_path / "broken.html"
    broken.write_text(html.replace(escaped, PAYLOADS[1], 1), encoding="utf-8")
    page = new_page(allow=["file:"])
    load(page, broken)
    assert page.evaluate("window.__xss") == 2


def test_the_quickstart_report_renders_offline_without_the_widgets_manager(
    tmp_path: Path,
    browser: object,
    new_page: Callable[..., Page],
    artifacts: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WORKBENCH_MODEL", raising=False)
    t0 = time.perf_counter()
    path = report(QUICKSTART, tmp_path / "01_quickstart.html", timeout=600)
    seconds = time.perf_counter() - t0
    size = path.stat().st_size
    assert size < 1_500_000
    page = new_page(allow=["file:"], viewport=(1280, 1000))
    page.goto(path.as_uri())
    charts = page.locator(".vega-embed svg.marks")
    expect(charts).to_have_count(2)
    expect(charts.nth(0).locator("text", has_text="Pass rate per check")).to_have_count(1)
    expect(charts.nth(1).locator("text", has_text="Score distribution per criterion")).to_have_count(1)
    # the judging progress bar, as it ended: its texts and a full bar, no widget to load
    bar = page.locator(".wb-progress")
    expect(bar).to_contain_text("judging")
    expect(bar).to_contain_text("46/46")
    assert bar.locator("progress").evaluate("p => p.value === p.max && p.max > 0")
    assert page.evaluate("typeof window.require") == "undefined"  # no require.js, no manager
    shot(page, artifacts, "quickstart-report", full_page=True)
    assert_clean(page, blocked=page.wb_blocked)  # type: ignore[attr-defined]
    (artifacts / "sizes.txt").write_text(f"report: {size:,} B, made in {seconds:.1f} s\n")
