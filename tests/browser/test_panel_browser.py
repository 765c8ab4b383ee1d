"""The Workbench panel in the real JupyterLab and in an exported report, through Chromium:

* the rendered-prompt preview keeps its ``pre`` formatting (indentation, line breaks) and
  wraps long lines at spaces, with no horizontal overflow, in the lab and in a report;
* the Charts tab's "Compare with a saved run" dropdown is filled when the panel opens,
  preselects the newest run that is not the current version's own, and its labels are short
  (label, version, time to the minute) and fit the box;
* a screenshot of each of the four tabs (``01-criteria-*`` ... ``04-charts``) to look at.

The notebook is written here; its judge is ``notebook_judge()``'s local server inside the
kernel (simulated verdicts), and runs go to the lab's own ``WORKBENCH_HOME``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import pytest

from tests.browser.harness import PLAYWRIGHT_MISSING, Lab, assert_clean, open_notebook, run_all, shot
from tests.browser.harness import wait_all_executed as wait_executed

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

WORDS = " ".join(f"word{i:02d}" for i in range(60))
"""One long line of short words: it must wrap between words, never inside one."""
TOKEN = "https://docs.acmecloud.example/" + "x" * 160
"""A token with no break opportunity: it may break inside (nothing else fits), never overflow."""
INDENTED = "    indented line keeps its four spaces"

CELLS = [
    (
        "import pandas as pd, workbench as wb\n"
        "from workbench.testing import notebook_judge\n"
        "judge = notebook_judge()\n"
        f"df = pd.DataFrame({{'question': [{WORDS!r}], 'answer': [{TOKEN!r}]}}, index=['r1'])\n"
        "suite = wb.Suite(name='qa', version='v1', tasks=[wb.JudgeTask(\n"
        f"    id='quality', threshold=4,\n"
        f"    prompt='Question: ${{question}}\\nAnswer: ${{answer}}\\n{INDENTED}',\n"
        "    criteria=[wb.Criterion(name='accuracy', description='Every fact is right.')])])"
    ),
    # two runs saved before the panel opens: the newest of them is the one to preselect
    (
        "for label in ('older run', 'baseline'):\n"
        "    wb.evaluate(df, suite, **judge, label=label, progress=False)"
    ),
    "panel = wb.Workbench(df, suite, **judge)\npanel.runner.run_button.click()\nawait panel.wait()\npanel",
]

LINE_BREAKS = """(pre) => {
  // every place a line box ends inside the text: [char before, char after], hard newlines excepted
  const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  const breaks = [];
  let top = null, before = null, node;
  while ((node = walker.nextNode())) {
    const t = node.textContent;
    for (let i = 0; i < t.length; i++) {
      range.setStart(node, i); range.setEnd(node, i + 1);
      const r = range.getClientRects();
      if (r.length && t[i] !== "\\n") {
        if (top !== null && r[0].top > top + 2 && before !== "\\n") breaks.push([before, t[i]]);
        top = r[0].top;
      }
      before = t[i];
    }
  }
  const box = pre.getBoundingClientRect();
  const s = getComputedStyle(pre);
  return {breaks, whiteSpace: s.whiteSpace, overflowWrap: s.overflowWrap, wordBreak: s.wordBreak,
          fontFamily: s.fontFamily, fontSize: parseFloat(s.fontSize), lineHeight: parseFloat(s.lineHeight),
          scrollWidth: pre.scrollWidth, clientWidth: pre.clientWidth, right: box.right,
          text: pre.textContent};
}"""

FITS = """(select) => {
  // the selected option's text, and whether it fits the select box in the select's own font
  const s = getComputedStyle(select);
  const ctx = document.createElement("canvas").getContext("2d");
  ctx.font = `${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
  const text = select.options[select.selectedIndex]?.text ?? "";
  return {text, width: ctx.measureText(text).width, box: select.clientWidth};
}"""


def write_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def check_preview(page: Page, container: Locator) -> list[dict[str, Any]]:
    """The preview's ``pre`` blocks keep their formatting and wrap at spaces, inside the panel."""
    pres = container.locator(".wb-preview pre")
    expect(pres.first).to_be_visible()
    assert pres.count() == 2  # system and user message
    panel_right = container.evaluate("e => e.getBoundingClientRect().right")
    measured = [pre.evaluate(LINE_BREAKS) for pre in pres.all()]
    for m in measured:
        assert m["whiteSpace"] == "pre-wrap", m["whiteSpace"]
        assert "mono" in m["fontFamily"].lower(), m["fontFamily"]  # still reads as code
        assert m["lineHeight"] <= 1.6 * m["fontSize"], (m["lineHeight"], m["fontSize"])
        assert m["scrollWidth"] <= m["clientWidth"] + 1, (
            "horizontal overflow",
            m["scrollWidth"],
            m["clientWidth"],
        )
        assert m["right"] <= panel_right + 1, ("wider than the panel", m["right"], panel_right)
        assert m["breaks"], "the long lines did not wrap"
        # a line ends after a space, or inside TOKEN's run of x (which fits no line whole)
        mid_word = [b for b in m["breaks"] if not (b[0].isspace() or set(b[0] + b[1]) <= set("x/"))]
        assert not mid_word, (mid_word, m["breaks"])
    user = measured[1]
    assert f"\n{INDENTED}" in user["text"]  # indentation and the hard line break survive
    assert WORDS in user["text"] and TOKEN in user["text"]
    words_wrapped = [b for b in user["breaks"] if b[1] == "w"]
    assert words_wrapped, user["breaks"]  # the line of words wrapped, at spaces (checked above)
    return measured


def open_tab(panel: Locator, title: str) -> None:
    tab = panel.locator(".wb-tabs .lm-TabBar-tab", has_text=title)
    tab.click()
    expect(tab).to_have_class(re.compile(r"\blm-mod-current\b"))


def test_panel_in_the_lab(
    lab_factory: Callable[..., Lab], new_page: Callable[..., Page], artifacts: Path, tmp_path: Path
) -> None:
    notebook = write_notebook(tmp_path / "panel.ipynb")
    lab = lab_factory([notebook], log=artifacts / "jupyterlab.log")
    page = new_page(allow=[lab.url], viewport=(1100, 1000))
    open_notebook(page, lab, notebook.name)
    run_all(page)
    wait_executed(page, timeout_s=150)
    panel = page.locator(".wb-workbench")
    expect(panel).to_have_count(1)
    expect(panel.locator(".wb-current-version")).to_have_text("v1")

    # 1. Criteria: the editor, and the rendered prompt below it
    check_preview(page, panel)
    panel.locator(".wb-header").scroll_into_view_if_needed()
    shot(page, artifacts, "01-criteria-editor")
    panel.locator(".wb-preview").scroll_into_view_if_needed()
    shot(page, artifacts, "01-criteria-prompt")

    # 2. Run: the estimate after the run (everything cached)
    open_tab(panel, "Run")
    expect(panel.locator(".wb-estimate-text")).to_contain_text("1 rows · 1 judge calls: 1 cached, 0 new")
    expect(panel.locator(".wb-run-status")).to_contain_text("finished v1")
    panel.scroll_into_view_if_needed()
    shot(page, artifacts, "02-run")

    # 3. Results: the row's verdicts and the prompt sent
    open_tab(panel, "Results")
    expect(panel.locator(".wb-count-text")).to_have_text("1 cells")
    panel.locator(".wb-detail summary", has_text="prompt sent: quality").click()
    sent = panel.locator(".wb-detail .wb-sent-prompt pre")
    expect(sent.first).to_be_visible()
    for pre in sent.all():
        m = pre.evaluate(LINE_BREAKS)
        assert m["scrollWidth"] <= m["clientWidth"] + 1 and m["whiteSpace"] == "pre-wrap", m
    shot(page, artifacts, "03-results")

    # 4. Charts: the saved runs are listed, the newest other run is preselected
    open_tab(panel, "Charts")
    select = panel.locator(".wb-saved-runs select")
    # ipywidgets writes option labels with non-breaking spaces
    texts = [t.replace("\xa0", " ").strip() for t in select.locator("option").all_inner_texts()]
    minute = r"\d{4}-\d\d-\d\d \d\d:\d\d"
    assert len(texts) == 3, texts
    assert re.fullmatch(rf"qa v1 · {minute}", texts[0]), texts  # the panel's own run, newest
    assert re.fullmatch(rf"baseline · v1 · {minute}", texts[1]), texts
    assert re.fullmatch(rf"older run · v1 · {minute}", texts[2]), texts
    chosen = select.evaluate(FITS)
    assert chosen["text"].replace("\xa0", " ") == texts[1], chosen  # not the current version's own run
    assert chosen["width"] <= chosen["box"], chosen  # the label is not cut off
    panel.locator("button.wb-compare").click()
    expect(panel.locator(".wb-compare-message")).to_contain_text("A = saved run baseline · v1 ·")
    expect(panel.locator(".wb-comparison .vega-embed svg.marks")).to_be_visible()
    expect(panel.locator(".wb-distributions .vega-embed svg.marks")).to_be_visible()
    panel.scroll_into_view_if_needed()
    shot(page, artifacts, "04-charts", full_page=True)
    assert_clean(page, blocked=page.wb_blocked)  # type: ignore[attr-defined]


def test_preview_wraps_in_a_report(
    new_page: Callable[..., Page],
    artifacts: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    browser: object,
) -> None:
    from workbench.report import report

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_MODEL", raising=False)
    out = report(write_notebook(tmp_path / "panel.ipynb"), tmp_path / "panel.html", timeout=300)
    page = new_page(allow=["file:"], viewport=(1100, 1000))
    page.goto(out.as_uri())
    panel = page.locator(".wb-workbench")
    expect(panel).to_be_visible()
    check_preview(page, panel)
    panel.locator(".wb-preview").scroll_into_view_if_needed()
    shot(page, artifacts, "report-criteria")
    assert_clean(page, blocked=page.wb_blocked)  # type: ignore[attr-defined]
