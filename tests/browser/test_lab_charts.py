"""Charts in JupyterLab without running anything: the quickstart executed elsewhere (by
``workbench.report.execute_notebook``, nbclient as ``workbench report`` and nbconvert run
it) and opened later, untrusted, shows its charts, drawn by JupyterLab's own vega
(Vega-Lite 5.6.1) the same as Vega-Lite 6 draws them; and the quickstart after Run All and
Save in JupyterLab stays under 100 KB.

A chart output of the old HTML form (vega's JavaScript in a script) is put in the same
notebook as a control: JupyterLab must leave it blank, which shows the notebook really is
untrusted when the Vega-Lite outputs render.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import altair as alt
import nbformat
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
from workbench import charts
from workbench.charts._placeholder import PLACEHOLDER_PNG
from workbench.report import execute_notebook

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "notebooks" / "01_quickstart.ipynb"
DATASETS = ["datasets/support_answers.jsonl", "datasets/support_suite.yaml"]
CHARTS = ".jp-NotebookPanel .jp-RenderedVegaLite"
SVG = "http://www.w3.org/2000/svg"
FINGERPRINT_JS = """
svg => [
  [...svg.querySelectorAll('text')].map(t => t.textContent),
  [...svg.querySelectorAll('g[class^="mark-"]')]
    .map(g => [g.getAttribute('class').split(' ')[0], g.children.length]),
]
"""


def fingerprint(svg: str) -> list[Any]:
    """The texts and the marks (``mark-*`` groups and their item counts) of a vega SVG, as
    :data:`FINGERPRINT_JS` reads them in the page."""
    root = ET.fromstring(svg)
    texts = [t.text or "" for t in root.iter(f"{{{SVG}}}text")]
    marks = [
        [g.get("class", "").split(" ")[0], len(list(g))]
        for g in root.iter(f"{{{SVG}}}g")
        if g.get("class", "").startswith("mark-")
    ]
    return [texts, marks]


def saved_pictures(page: Page, path: Path) -> list[str | None]:
    """Save the open notebook (Ctrl+S, then wait for the file to change) and return the
    ``image/png`` of each of its chart outputs as saved."""
    before = path.stat().st_mtime_ns
    page.locator(".jp-NotebookPanel .jp-Cell").first.click()
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while path.stat().st_mtime_ns == before:
        assert time.monotonic() < deadline, f"{path.name} was not saved"
        page.wait_for_timeout(200)
    page.wait_for_timeout(300)  # the server writes the file in one go; let it finish
    saved = json.loads(path.read_text(encoding="utf-8"))
    outputs = [o for c in saved["cells"] for o in c.get("outputs", [])]
    return [o["data"].get("image/png") for o in outputs if charts.VEGALITE_MIMETYPE in o.get("data", {})]


def chart_specs(nb: Any) -> list[dict[str, Any]]:
    """The Vega-Lite specs of a notebook's chart outputs, in order."""
    return [
        o["data"][charts.VEGALITE_MIMETYPE]
        for c in nb.cells
        for o in c.get("outputs", [])
        if charts.VEGALITE_MIMETYPE in o.get("data", {})
    ]


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory, browser: object) -> Path:
    """The quickstart executed by nbclient, with a control cell holding the old HTML form
    (``browser`` first: without one, skip before executing)."""
    nb = execute_notebook(QUICKSTART, timeout=600)
    spec = chart_specs(nb)[0]
    control = nbformat.v4.new_code_cell(
        "# the same chart as HTML carrying vega's JavaScript: blank while the notebook is untrusted\n"
        "charts.offline_html(chart_spec)",
        outputs=[
            nbformat.v4.new_output("execute_result", data=charts.offline_html(spec), execution_count=99)
        ],
        execution_count=99,
    )
    nb.cells.append(control)
    path = tmp_path_factory.mktemp("executed") / "executed.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def lab(lab_factory: Callable[..., Lab], executed: Path) -> Lab:
    files = {f"notebooks/{QUICKSTART.name}": QUICKSTART, "notebooks/executed.ipynb": executed}
    return lab_factory([], env={"WORKBENCH_MODEL": ""}, files={**files, **{d: REPO / d for d in DATASETS}})


def test_an_executed_notebook_opened_untrusted_shows_its_charts_as_vega_lite_6_draws_them(
    lab: Lab, executed: Path, new_page: Callable[..., Page], artifacts: Path
) -> None:
    import vl_convert as vlc

    contents = lab.api("contents/notebooks/executed.ipynb")["content"]
    assert {c["metadata"].get("trusted") for c in contents["cells"] if c["cell_type"] == "code"} == {False}
    page = new_page(allow=[lab.url], viewport=(1280, 1100))
    t0 = time.perf_counter()
    open_notebook(page, lab, "notebooks/executed.ipynb")
    drawn = page.locator(f"{CHARTS} svg.marks")
    expect(drawn).to_have_count(2, timeout=30_000)
    seconds = time.perf_counter() - t0
    expect(drawn.nth(0).locator("text", has_text="Pass rate per check")).to_have_count(1)
    expect(drawn.nth(1).locator("text", has_text="Score distribution per criterion")).to_have_count(1)
    # JupyterLab's Vega-Lite 5.6.1 draws the relabelled specs as Vega-Lite 6.4 does: same texts,
    # same marks, same number of items in each
    for i, spec in enumerate(chart_specs(nbformat.read(executed, as_version=4))):
        in_lab = drawn.nth(i).evaluate(FINGERPRINT_JS)
        as_six = fingerprint(vlc.vegalite_to_svg({**spec, "$schema": alt.SCHEMA_URL}, vl_version="6.4"))
        assert in_lab == as_six, i
    # the control, the old HTML form in the same untrusted notebook, stays blank
    control = page.locator(".jp-NotebookPanel .jp-Cell").last.locator(".jp-OutputArea-output")
    expect(control).to_have_count(1)
    assert control.locator("svg").count() == 0 and control.inner_text().strip() == ""
    control.scroll_into_view_if_needed()
    shot(page, artifacts, "untrusted-control-html-form-is-blank")
    drawn.nth(1).scroll_into_view_if_needed()
    shot(page, artifacts, "untrusted-executed-quickstart")
    # the placeholder picture keeps JupyterLab from putting a PNG of its own into the outputs
    assert saved_pictures(page, lab.root / "notebooks" / "executed.ipynb") == [PLACEHOLDER_PNG] * 2
    assert_clean(page, blocked=page.wb_blocked)  # type: ignore[attr-defined]
    (artifacts / "timings.txt").write_text(f"open until both charts are drawn: {seconds:.1f} s\n")


def test_the_quickstart_after_run_all_and_save_is_under_100_kb(
    lab: Lab, new_page: Callable[..., Page], artifacts: Path
) -> None:
    path = lab.root / "notebooks" / QUICKSTART.name
    before = path.stat().st_size
    page = new_page(allow=[lab.url], viewport=(1280, 1100))
    open_notebook(page, lab, f"notebooks/{QUICKSTART.name}")
    run_all(page)
    wait_all_executed(page, timeout_s=180)
    expect(page.locator(f"{CHARTS} svg.marks")).to_have_count(2, timeout=30_000)
    assert saved_pictures(page, path) == [PLACEHOLDER_PNG] * 2  # JupyterLab added no PNG of its own
    size = path.stat().st_size
    assert "vegaEmbed" not in path.read_text(encoding="utf-8")
    assert size < 100_000, size
    page.locator(f"{CHARTS} svg.marks").nth(1).scroll_into_view_if_needed()
    shot(page, artifacts, "quickstart-after-run-all")
    assert_clean(page, blocked=page.wb_blocked)  # type: ignore[attr-defined]
    (artifacts / "sizes.txt").write_text(
        f"quickstart: {before:,} B before, {size:,} B after Run All + Save\n"
    )
