"""notebooks/02_tune_judge.ipynb in JupyterLab, driven through Chromium: Run All, then edit a
criterion in the Workbench panel, apply it as a new version, rerun the failing rows, and check
that the judge server saw exactly the calls the edit required and that the panel's chart shows
the new version beside the old one.

The kernel's judge calls go over HTTP to a :class:`~workbench.testing.JudgeServer` in this test
process (``WORKBENCH_MODEL`` + ``OPENAI_API_BASE``). The expected calls are computed here,
independently of the panel, with the public API (``wb.evaluate``) on a second server with the
same seed (so the same verdicts), with a cache of its own: the notebook's own runs (v1 on every
row, its edit v2 on v1's failing rows, then v2 on every row), then ours (v3 on the rows failing
under v2).
"""

from __future__ import annotations

import ast
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest

import workbench as wb
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
    from playwright.sync_api import Locator, Page

    from workbench.testing import JudgeServer

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = "notebooks/02_tune_judge.ipynb"
DATA, CHECKS = "datasets/support_answers.jsonl", "datasets/support_suite.yaml"
EDITED = "helpfulness"
"""The criterion this test edits in the browser (the notebook's code edits another one)."""
NEW_DESCRIPTION = "The user can act on the answer right away, with no follow-up question needed."
EDIT_IN_CODE = "panel.editor.description["
"""How the notebook's code edits a criterion (the expected calls follow that edit)."""
ESTIMATE = re.compile(r"([\d,]+) rows · ([\d,]+) judge calls: ([\d,]+) cached, ([\d,]+) new")
FINISHED = re.compile(
    r"finished v3: ([\d,]+) rows · done ([\d,]+) calls · cached ([\d,]+) · "
    r"errors ([\d,]+)"
)


# --- what the judge server saw --------------------------------------------------------------


def key(request: dict[str, Any]) -> str:
    """What a judge request asks: its messages and response schema (a cache key's content)."""
    return json.dumps([request["messages"], request.get("response_format")], sort_keys=True)


def criteria_of(request: dict[str, Any]) -> tuple[str, ...]:
    """The criteria a judge request asks about: the ``## name`` headings under ``# Criteria``."""
    system = next(m["content"] for m in request["messages"] if m["role"] == "system")
    section = system.split("# Criteria", 1)[1].split("\n# ", 1)[0]
    return tuple(re.findall(r"^## (\S+)\s*$", section, flags=re.MULTILINE))


# --- the expected calls, computed without the panel -----------------------------------------


def notebook_suite_and_edit(notebook: Path) -> tuple[wb.Suite, str, str]:
    """The notebook's suite (its defining cell run here) and the edit its code makes:
    ``(suite, criterion, new description)``."""
    nb = json.loads(notebook.read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    define = next(c for c in cells if "wb.Suite(" in c and "JudgeTask(" in c)
    assert '"../datasets/' in define, define
    namespace: dict[str, Any] = {"wb": wb}
    # the cell reads ../datasets/ relative to the notebook (the kernel's cwd), not to this process's cwd
    source = define.replace('"../datasets/', f'"{notebook.parent.parent}/datasets/')
    exec(compile(source, str(notebook), "exec"), namespace)
    for node in ast.walk(ast.parse("\n".join(cells))):
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]).startswith(EDIT_IN_CODE):
            target = node.targets[0]
            assert isinstance(target, ast.Attribute) and isinstance(target.value, ast.Subscript)
            return namespace["suite"], ast.literal_eval(target.value.slice), ast.literal_eval(node.value)
    raise AssertionError(f"{notebook.name} no longer edits a criterion's description from code")


def with_description(suite: wb.Suite, criterion: str, description: str) -> wb.Suite:
    """``suite`` with one criterion's description replaced (in the judge task that has it)."""
    tasks = []
    for t in suite.tasks:
        if isinstance(t, wb.JudgeTask) and any(c.name == criterion for c in t.criteria):
            criteria = [
                c.model_copy(update={"description": description}) if c.name == criterion else c
                for c in t.criteria
            ]
            t = t.model_copy(update={"criteria": criteria})
        tasks.append(t)
    return wb.Suite(name=suite.name, version=suite.version, tasks=tasks, description=suite.description)


def failing_rows(df: pd.DataFrame, *newest_first: pd.DataFrame) -> list[Any]:
    """Rows with a failed cell in their latest results (the newest frame that holds the row)."""
    seen: set[Any] = set()
    failed: set[Any] = set()
    for results in newest_first:
        latest = results[~results["row"].isin(seen)]
        failed |= set(latest.loc[latest["status"] == "failed", "row"])
        seen |= set(latest["row"])
    return [r for r in df.index if r in failed]


@dataclass
class Expected:
    notebook: list[dict[str, Any]]
    """Requests of the notebook's own runs: v1 on every row, v2 on v1's failing rows, v2 on
    every row (the rows just rerun come from the cache)."""
    rerun: list[dict[str, Any]]
    """Requests of v3 (our edit) on the rows failing under v2."""
    rerun_rows: int


def expected_requests(notebook: Path, oracle: JudgeServer, cache: Path) -> Expected:
    """What a correct panel sends, made with ``wb.evaluate`` on ``oracle`` (same seed as the
    kernel's server, so the same verdicts).

    Called in a thread of its own, where ``evaluate`` owns its event loop (``asyncio.run``). On
    the test's thread Playwright's loop is running, and then ``evaluate`` runs on a worker loop
    that ``workbench.frame._run_in_thread`` closes with litellm's logging task still pending:
    "Event loop is closed" when that task is collected.
    """
    v1, criterion, description = notebook_suite_and_edit(notebook)
    v2 = with_description(v1, criterion, description)
    v3 = with_description(v2, EDITED, NEW_DESCRIPTION)
    df = wb.load_dataset(notebook.parent.parent / DATA)
    opts: dict[str, Any] = {
        "model": oracle.model,
        **oracle.litellm_kwargs,
        "cache_dir": cache,
        "progress": False,
        "save": False,
    }
    first = wb.evaluate(df, v1, **opts)
    wb.evaluate(df, v2, rows=failing_rows(df, first.results), **opts)
    second = wb.evaluate(df, v2, **opts)
    n = oracle.count
    rows = failing_rows(df, second.results)
    wb.evaluate(df, v3, rows=rows, **opts)
    log = oracle.requests
    assert len(log) == oracle.count
    return Expected(notebook=log[:n], rerun=log[n:], rerun_rows=len(rows))


# --- the page -------------------------------------------------------------------------------


def open_tab(panel: Locator, title: str) -> None:
    tab = panel.locator(".wb-tabs .lm-TabBar-tab", has_text=title)
    tab.click()
    expect(tab).to_have_class(re.compile(r"\blm-mod-current\b"))


def numbers(pattern: re.Pattern[str], text: str) -> tuple[int, ...]:
    m = pattern.search(text)
    assert m, f"{pattern.pattern!r} not in {text!r}"
    return tuple(int(g.replace(",", "")) for g in m.groups())


def legend_labels(chart: Locator) -> list[str]:
    """The entries of a vega chart's legend (SVG renderer: real ``<text>``)."""
    return [t.strip() for t in chart.locator(".role-legend-label text").all_text_contents()]


def test_edit_a_criterion_and_rerun_the_failing_rows(
    lab_factory: Callable[..., Lab],
    new_page: Callable[..., Page],
    artifacts: Path,
    judge_server_factory: Callable[..., JudgeServer],
    tmp_path: Path,
) -> None:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    server = judge_server_factory()
    lab = lab_factory(  # WORKBENCH_HOME (so the kernel's cache) is the lab's own temp folder
        [],
        log=artifacts / "jupyterlab.log",
        files={rel: REPO / rel for rel in (NOTEBOOK, DATA, CHECKS)},
        env={"WORKBENCH_MODEL": server.model, "OPENAI_API_BASE": server.url, "OPENAI_API_KEY": "sk-dummy"},
    )
    # the expected calls are computed meanwhile, in a thread (see expected_requests)
    pool = ThreadPoolExecutor(1, thread_name_prefix="expected-calls")
    expected = pool.submit(expected_requests, lab.root / NOTEBOOK, judge_server_factory(), tmp_path / "cache")
    pool.shutdown(wait=False)
    page = new_page(allow=[lab.url], viewport=(1400, 1100))
    open_notebook(page, lab, NOTEBOOK)
    timings["open"] = time.perf_counter() - t0

    # 1. Run All: the notebook runs every row, edits `accuracy` from code (v2), reruns the
    # failing rows, then every row under v2
    t1 = time.perf_counter()
    run_all(page)
    prompts = wait_all_executed(page, timeout_s=150)
    timings["run_all"] = time.perf_counter() - t1
    n_code = sum(c["cell_type"] == "code" for c in json.loads((REPO / NOTEBOOK).read_text())["cells"])
    assert prompts == [f"[{i}]:" for i in range(1, n_code + 1)], prompts
    out = page.locator(".jp-NotebookPanel .jp-OutputArea-output")
    expect(out.filter(has_text="Traceback")).to_have_count(0)
    expect(out.filter(has_text=f"Judge: {server.model}")).to_have_count(1)  # not the simulated fallback
    panel = page.locator(".wb-workbench")
    expect(panel).to_have_count(1)
    expect(panel.locator(".wb-current-version")).to_have_text("v2")
    # the notebook's chart of v1 beside v2, and the panel's own (in its Charts tab, not shown yet)
    cell = page.locator(".jp-CodeCell").filter(has=page.locator(".jp-InputArea", has_text="charts.combine("))
    notebook_chart = cell.locator(".jp-OutputArea-output .vega-embed svg.marks")
    expect(notebook_chart).to_be_visible()
    assert legend_labels(notebook_chart) == ["v1", "v2"]
    expect(panel.locator(".wb-distributions .vega-embed svg.marks")).to_be_attached()
    after_notebook = server.count
    assert after_notebook > 0, "the kernel's judge calls did not reach the test's server"
    panel.scroll_into_view_if_needed()
    shot(page, artifacts, "01-after-run-all")

    # 2. Criteria tab: type a new description for `helpfulness`, apply: version v3
    t2 = time.perf_counter()
    open_tab(panel, "Criteria")
    rows = panel.locator(".wb-editor .wb-criterion")
    names = [r.locator(".wb-criterion-name input").input_value() for r in rows.all()]
    assert EDITED in names, names
    description = rows.nth(names.index(EDITED)).locator(".wb-criterion-description textarea")
    description.click()
    description.press("Control+a")
    description.press_sequentially(NEW_DESCRIPTION)
    expect(description).to_have_value(NEW_DESCRIPTION)
    shot(page, artifacts, "02-criterion-edited")
    panel.locator("button.wb-apply").click()
    expect(panel.locator(".wb-current-version")).to_have_text("v3")
    expect(panel.locator(".wb-version select")).to_have_value("v3")
    expect(panel.locator(".wb-editor-error")).to_have_text("")
    shot(page, artifacts, "03-applied-v3")

    # 3. Run tab: all rows, then the failing rows; the estimate says how many calls are new
    open_tab(panel, "Run")
    subset = panel.locator(".wb-subset select")
    estimate = panel.locator(".wb-estimate-text")
    subset.select_option("all rows")
    expect(estimate).to_contain_text("55 rows ·")
    subset.select_option("failing rows")
    expect(estimate).not_to_contain_text("55 rows ·")
    n_rows, n_calls, n_cached, n_new = numbers(ESTIMATE, estimate.inner_text())
    shot(page, artifacts, "04-failing-rows-estimate")
    assert server.count == after_notebook, "editing or estimating called the judge"
    panel.locator("button.wb-run").click()
    status = panel.locator(".wb-run-status")
    expect(status).to_contain_text("finished v3", timeout=60_000)
    timings["edit_and_rerun"] = time.perf_counter() - t2
    shot(page, artifacts, "05-rerun-finished")

    # 4. the judge server saw exactly the calls the edit needs
    new = server.requests[after_notebook:]
    assert server.count == after_notebook + len(new)
    assert len(new) == n_new > 0, (len(new), estimate.inner_text())
    assert {criteria_of(r) for r in new} == {(EDITED,)}, "a criterion that was not edited was re-called"
    assert all(NEW_DESCRIPTION in r["messages"][0]["content"] for r in new)
    assert not {key(r) for r in server.requests[:after_notebook]} & {key(r) for r in new}, (
        "a prompt judged before was sent again"
    )
    assert len({key(r) for r in new}) == len(new), "a cell was judged twice"
    # per_criterion: each judged row has one call new (ours) and one cached (accuracy, from v2)
    assert (n_calls, n_cached) == (2 * n_new, n_new), estimate.inner_text()
    assert numbers(FINISHED, status.inner_text()) == (n_rows, n_calls, n_cached, 0)
    expect(estimate).to_contain_text(", 0 new")  # redrawn after the run: nothing left to call

    want = expected.result(timeout=120)
    assert Counter(map(key, server.requests[:after_notebook])) == Counter(map(key, want.notebook)), (
        "the notebook's own runs made other calls than v1 on all rows and v2 on the failing ones"
    )
    assert want.rerun_rows == n_rows
    assert Counter(map(key, new)) == Counter(map(key, want.rerun))

    # 5. Charts tab: the distributions show v3 beside v2
    open_tab(panel, "Charts")
    chart = panel.locator(".wb-distributions .vega-embed svg.marks")
    expect(chart).to_be_visible()
    expect(chart.locator(".role-legend-label text")).to_have_text(["v2", "v3"])
    expect(panel.locator(".wb-charts-message")).to_contain_text("v2 beside v3")
    panel.scroll_into_view_if_needed()
    shot(page, artifacts, "06-charts-v2-beside-v3")

    assert_clean(page, blocked=page.wb_blocked)  # type: ignore[attr-defined]
    assert [s["path"] for s in lab.api("sessions")] == [NOTEBOOK]
    (artifacts / "timings.txt").write_text(
        "".join(f"{k}: {v:.1f} s\n" for k, v in timings.items())
        + f"total: {time.perf_counter() - t0:.1f} s\n"
    )
