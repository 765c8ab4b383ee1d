"""The span tree: its HTML (escaped, indented, statuses, attributes), the widget, and the Results
tab's row detail drawing a trace column (the browser test in ``browser/test_traces_browser.py``
looks at it in JupyterLab)."""

from __future__ import annotations

import re

import pandas as pd

import workbench as wb
from tests.test_traces import BAD, GOOD, span
from workbench.traces import otlp_attributes
from workbench.widgets import span_tree, trace_html


def test_one_line_per_span_in_tree_order_indented_by_depth() -> None:
    nested = [*GOOD, span("retrieve", "a000000000000007", 700, 900, "a000000000000003")]
    html_text = trace_html(nested)
    names = re.findall(r"class='wb-span-name'[^>]*>([^<]*)</span>", html_text)
    assert names == [
        "invoke_agent support",
        "chat gpt-4o-mini",
        "execute_tool search_docs",
        "retrieve",
        "chat gpt-4o-mini",
    ]
    assert re.findall(r"margin-left:(\d+)px", html_text) == ["0", "16", "16", "32", "16"]


def test_errors_are_marked_and_the_head_sums_up() -> None:
    html_text = trace_html(BAD)
    assert html_text.count("wb-span wb-span-error") == 1
    assert "execute_tool delete_account ✕" in html_text
    assert "4 spans · 1,800.0 ms · 1 error" in html_text


def test_the_waterfall_bar_is_placed_by_time() -> None:
    html_text = trace_html(GOOD)
    bars = re.findall(r"left:([\d.]+)%;width:([\d.]+)%", html_text)
    assert bars[0] == ("0.00", "100.00")
    assert bars[2] == (f"{100 * 610 / 1800:.2f}", f"{100 * 790 / 1800:.2f}")


def test_everything_from_a_span_is_escaped() -> None:
    evil = [
        span(
            "<script>alert(1)</script>",
            "e1",
            0,
            5,
            attrs={"<b>k</b>": "<img src=x onerror=alert(1)>"},
            status=2,
        )
    ]
    evil[0]["status"]["message"] = "<i>boom</i>"
    html_text = trace_html(evil)
    assert "<script>" not in html_text and "<img" not in html_text and "<i>boom" not in html_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_text
    assert "&lt;img src=x onerror=alert(1)&gt;" in html_text


def test_attributes_and_events_are_in_the_span_details() -> None:
    s = span("tool", "e1", 0, 5, attrs={"gen_ai.tool.name": "search", "args": {"q": "refund"}})
    s["events"] = [
        {
            "name": "exception",
            "timeUnixNano": str(int(s["startTimeUnixNano"]) + 2_000_000),
            "attributes": otlp_attributes({"exception.type": "TimeoutError"}),
        }
    ]
    html_text = trace_html([s])
    assert "<th>gen_ai.tool.name</th><td>search</td>" in html_text
    assert "<th>args</th><td>{&quot;q&quot;: &quot;refund&quot;}</td>" in html_text
    assert "<th>event at +2.0 ms</th><td>exception exception.type=TimeoutError</td>" in html_text


def test_a_value_that_is_no_trace_shows_why() -> None:
    assert (
        "needs a trace (a list of OpenTelemetry spans, or an OTLP JSON export), got number (5)"
        in trace_html(5)
    )
    assert "the trace has no spans" in trace_html([])


def test_long_traces_are_cut() -> None:
    many = [span(f"step {i}", f"{i:016x}", i, i + 1) for i in range(30)]
    html_text = trace_html(many, limit=10)
    assert html_text.count("class='wb-span ") == 10
    assert "… 20 more spans" in html_text


def test_span_tree_is_a_widget() -> None:
    tree = span_tree(BAD)
    assert tree.value == trace_html(BAD)
    assert "wb-span-tree-widget" in tree._dom_classes


def test_the_results_row_detail_draws_a_trace_column() -> None:
    df = pd.DataFrame({"question": ["Cancel my account", "Where is my order?"], "trace": [BAD, GOOD]})
    suite = wb.Suite(
        name="agent",
        tasks=[
            wb.AssertionTask(id="no_errors", path="trace", op="trace_error_count", expected={"equals": 0})
        ],
    )
    panel = wb.Workbench(df, suite, save=False)
    panel.runner.run_button.click()
    explorer = panel.explorer
    explorer.row.value = 0
    detail = explorer.detail.value
    assert "<summary>trace: trace</summary>" in detail
    assert "execute_tool delete_account ✕" in detail
    assert "(its span tree is below)" in detail
    assert '"traceId"' not in detail  # no OTLP JSON dumped in the input table
    assert "<th>question</th>" in detail and "Cancel my account" in detail


def test_a_json_string_trace_column_is_drawn_too() -> None:
    import json

    df = pd.DataFrame({"trace": [json.dumps(BAD)]})
    suite = wb.Suite(
        name="s",
        tasks=[wb.AssertionTask(id="n", path="trace", op="trace_span_count", expected={"equals": 4})],
    )
    panel = wb.Workbench(df, suite, save=False)
    panel.runner.run_button.click()
    panel.explorer.row.value = 0
    assert "wb-span-tree" in panel.explorer.detail.value
