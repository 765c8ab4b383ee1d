"""The span tree in the real JupyterLab, through Chromium: a trace drawn by
``wb.widgets.span_tree`` and in the Results tab's row detail of a panel whose suite has trace
assertions. One line per span, indented by depth, a failed span marked, a span's attributes
one click away, nothing wider than the output area; screenshots ``01-span-tree``,
``02-span-open`` and ``03-results-row`` to look at.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest

from tests.browser.harness import PLAYWRIGHT_MISSING, Lab, assert_clean, open_notebook, run_all, shot
from tests.browser.harness import wait_all_executed as wait_executed
from tests.test_traces import BAD, GOOD, span

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

LONG = [
    *BAD[:3],
    span("retrieve " + "chunk " * 40, "a000000000000007", 700, 1300, "a000000000000003"),
    BAD[3],
]
"""The bad run with a span nested under the tool, whose name is far too long for its column."""


def write_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import json, pandas as pd, workbench as wb\n"
            "from workbench.widgets import span_tree\n"
            f"bad = json.loads({json.dumps(json.dumps(LONG))})\n"
            f"good = json.loads({json.dumps(json.dumps(GOOD))})\n"
            "span_tree(bad)"
        ),
        nbformat.v4.new_code_cell(
            "df = pd.DataFrame({'question': ['Cancel my account', 'Where is my order?'],\n"
            "                   'trace': [bad, good]})\n"
            "suite = wb.Suite(name='agent', version='v1', tasks=[\n"
            "    wb.AssertionTask(id='no_errors', path='trace', op='trace_error_count',\n"
            "                     expected={'equals': 0}),\n"
            "    wb.AssertionTask(id='safe_tools', path='trace', op='not_span_exists',\n"
            "                     expected={'filter': {'tool': 'delete_account'}}),\n"
            "])\n"
            "panel = wb.Workbench(df, suite, save=False)\n"
            "panel.runner.run_button.click()\n"
            "await panel.wait()\n"
            "panel"
        ),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


GEOMETRY = """(tree) => {
  const area = tree.closest('.jp-OutputArea-output') || tree.parentElement;
  const lines = [...tree.querySelectorAll(':scope > details.wb-span')].map(d => {
    const name = d.querySelector('.wb-span-name');
    return {cls: d.className, indent: parseFloat(getComputedStyle(d).marginLeft),
            name: name.textContent, nameClipped: name.scrollWidth > name.clientWidth,
            right: d.getBoundingClientRect().right};
  });
  return {lines, areaRight: area.getBoundingClientRect().right,
          scroll: tree.scrollWidth, width: tree.clientWidth};
}"""


def check_tree(tree) -> dict:  # type: ignore[no-untyped-def]
    g = tree.evaluate(GEOMETRY)
    names = [line["name"] for line in g["lines"]]
    assert names[:3] == ["invoke_agent support", "chat gpt-4o-mini", "execute_tool delete_account ✕"], names
    assert len(names) == 5
    indents = [line["indent"] for line in g["lines"]]
    assert indents == [0, 16, 16, 32, 16], indents  # the retrieval is under the tool
    assert ["wb-span-error" in line["cls"] for line in g["lines"]] == [False, False, True, False, False]
    assert g["lines"][3]["nameClipped"], "the long name is cut with an ellipsis, not wrapped"
    assert g["scroll"] <= g["width"] + 1, g
    assert all(line["right"] <= g["areaRight"] + 1 for line in g["lines"]), g
    return g


def test_span_tree_in_the_lab(
    lab_factory: Callable[..., Lab], new_page: Callable[..., Page], artifacts: Path, tmp_path: Path
) -> None:
    notebook = write_notebook(tmp_path / "traces.ipynb")
    lab = lab_factory([notebook], log=artifacts / "jupyterlab.log")
    page = new_page(allow=[lab.url], viewport=(1100, 1000))
    open_notebook(page, lab, notebook.name)
    run_all(page)
    wait_executed(page, timeout_s=150)

    # 1. the helper's widget
    tree = page.locator(".wb-span-tree-widget .wb-span-tree").first
    expect(tree).to_be_visible()
    expect(tree.locator(".wb-trace-head")).to_contain_text("5 spans · 1,800.0 ms · 1 error")
    check_tree(tree)
    tree.scroll_into_view_if_needed()
    shot(page, artifacts, "01-span-tree")

    # 2. a span opens to its attributes
    tool = tree.locator("details.wb-span-error")
    tool.locator("summary").click()
    attrs = tool.locator(".wb-span-attrs")
    expect(attrs).to_be_visible()
    expect(attrs).to_contain_text("gen_ai.tool.name")
    expect(attrs).to_contain_text("delete_account")
    shot(page, artifacts, "02-span-open")

    # 3. the Results tab's row detail draws the row's trace
    panel = page.locator(".wb-workbench")
    panel.locator(".wb-tabs .lm-TabBar-tab", has_text="Results").click()
    detail = panel.locator(".wb-detail")
    expect(detail.locator(".wb-row-trace > summary")).to_have_text("trace: trace")
    expect(detail.locator(".wb-input")).to_contain_text("(its span tree is below)")
    check_tree(detail.locator(".wb-span-tree"))
    expect(panel.locator(".wb-table")).to_contain_text("the trace's error count, 1, is not equal to 0")
    detail.scroll_into_view_if_needed()
    shot(page, artifacts, "03-results-row", full_page=True)
    assert_clean(page, blocked=page.wb_blocked)  # type: ignore[attr-defined]
