"""Trace operators through ``wb.evaluate``: each passes, fails, errors on a value that is no
trace, and negates; the span shapes OpenTelemetry writes; filters, ``gen_ai`` names, spec errors,
and a column indexed once."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench.traces import TRACE_INDEX, otlp_attributes, read_trace

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z in ns
MS = 1_000_000


def span(
    name: str, sid: str, start_ms: float, end_ms: float, parent: str | None = None, **extra: Any
) -> dict[str, Any]:
    """An OTLP JSON span; ``attrs`` become its key/value list, ``status`` its code."""
    out: dict[str, Any] = {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": sid,
        "name": name,
        "kind": extra.pop("kind", 1),
        "startTimeUnixNano": str(T0 + int(start_ms * MS)),
        "endTimeUnixNano": str(T0 + int(end_ms * MS)),
        "attributes": otlp_attributes(extra.pop("attrs", {})),
        "status": {"code": extra.pop("status", 0)},
    }
    if parent:
        out["parentSpanId"] = parent
    out.update(extra)
    return out


def agent_trace(
    tool: str = "search_docs", tokens: tuple[int, int] = (120, 80), error: bool = False
) -> list[dict[str, Any]]:
    """An agent run with OpenTelemetry's gen_ai attributes: a chat call, a tool, a second chat."""
    return [
        span(
            "invoke_agent support",
            "a000000000000001",
            0,
            1800,
            attrs={"gen_ai.agent.name": "support", "input.value": "Where is my order?"},
        ),
        span(
            "chat gpt-4o-mini",
            "a000000000000002",
            10,
            600,
            "a000000000000001",
            kind=3,
            attrs={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": tokens[0],
                "gen_ai.usage.output_tokens": tokens[1],
            },
        ),
        span(
            f"execute_tool {tool}",
            "a000000000000003",
            610,
            1400,
            "a000000000000001",
            attrs={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool},
            status=2 if error else 1,
        ),
        span(
            "chat gpt-4o-mini",
            "a000000000000004",
            1410,
            1790,
            "a000000000000001",
            kind=3,
            attrs={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 300,
                "gen_ai.usage.output_tokens": 40,
            },
        ),
    ]


GOOD = agent_trace()
BAD = agent_trace(tool="delete_account", tokens=(9000, 500), error=True)


def evaluate(op: str, expected: Any, cells: list[Any]) -> pd.DataFrame:
    suite = wb.Suite(name="t", tasks=[wb.AssertionTask(id="t", path="trace", op=op, expected=expected)])
    return wb.evaluate(pd.DataFrame({"trace": cells}), suite, save=False).results


# Every operator: the good trace passes, the bad one fails, a number and a non-trace string error.
OPERATORS: list[tuple[str, Any]] = [
    ("span_exists", {"filter": {"tool": "search_docs"}}),
    ("span_count", {"filter": {"status": "error"}, "equals": 0}),
    ("span_duration", {"filter": {"operation": "execute_tool"}, "lt": 790.5}),
    (
        "span_attribute",
        {"filter": {"operation": "execute_tool"}, "attribute": "tool", "equals": "search_docs"},
    ),
    ("span_aggregation", {"attribute": "input_tokens", "aggregation": "sum", "lte": 1000}),
    ("trace_duration", {"lt": 1900}),
    ("trace_span_count", {"equals": 4}),
    ("trace_error_count", {"equals": 0}),
    ("trace_service_count", {"equals": 0}),
    ("trace_max_depth", {"equals": 1}),
    ("trace_attribute", {"attribute": "input.value", "contains": "order"}),
    (
        "span_sequence",
        ["invoke_agent support", "chat gpt-4o-mini", "execute_tool search_docs", "chat gpt-4o-mini"],
    ),
    ("span_set", ["execute_tool search_docs", "chat gpt-4o-mini"]),
]


def bad_for(op: str) -> list[dict[str, Any]]:
    """A trace each operator fails on (the generic BAD one where it already fails)."""
    if op == "span_duration":
        return [*BAD[:2], {**BAD[2], "endTimeUnixNano": str(T0 + 1500 * MS)}, BAD[3]]
    if op == "trace_duration":
        return [*BAD, span("late", "a000000000000009", 1900, 2500, "a000000000000001")]
    if op == "trace_span_count":
        return BAD[:3]
    if op == "trace_service_count":
        return [{**s, "resource": {"attributes": otlp_attributes({"service.name": "bot"})}} for s in BAD]
    if op == "trace_max_depth":
        return [*BAD, span("deeper", "a000000000000009", 700, 800, "a000000000000003")]
    if op == "trace_attribute":
        return [{**BAD[0], "attributes": otlp_attributes({"input.value": "Cancel my account"})}, *BAD[1:]]
    return BAD


@pytest.mark.parametrize(("op", "expected"), OPERATORS, ids=[o[0] for o in OPERATORS])
def test_operator_passes_fails_and_errors(op: str, expected: Any) -> None:
    r = evaluate(op, expected, [GOOD, bad_for(op), 42, "not a trace"])
    assert r["status"].tolist() == ["passed", "failed", "error", "error"], r[["reason", "error"]].to_dict(
        "records"
    )
    assert r["reason"][1].endswith(")"), "a reason ends with the trace's id and span names"
    assert ": trace 4bf92f35 (" in r["reason"][1]
    assert r["error"][2] == (
        f"{op} at path 'trace': needs a trace (a list of OpenTelemetry spans, or an OTLP JSON export), "
        "got number (42)"
    )
    assert r["error"][3].startswith(f"{op} at path 'trace': needs a trace, got a string that is not JSON")


@pytest.mark.parametrize(("op", "expected"), OPERATORS, ids=[o[0] for o in OPERATORS])
def test_negation_flips_pass_and_fail(op: str, expected: Any) -> None:
    r = evaluate("not_" + op, expected, [GOOD, bad_for(op), 42])
    assert r["status"].tolist() == ["failed", "passed", "error"]
    assert r["reason"][0]  # the verdict says what held


def test_reasons_lead_with_the_verdict_and_name_what_was_seen() -> None:
    cases = {
        "span_count": (
            {"filter": {"status": "error"}, "equals": 0},
            (
                "the count of spans where status is error, 1, is not equal to 0: trace 4bf92f35 (4 spans: "
                "['invoke_agent support', 'chat gpt-4o-mini', 'execute_tool delete_account', "
                "'chat gpt-4o-mini'])"
            ),
        ),
        "span_exists": (
            {"filter": {"tool": "search_docs"}},
            (
                "has no span where tool is 'search_docs' (spans: ['invoke_agent support', "
                "'chat gpt-4o-mini', 'execute_tool delete_account', 'chat gpt-4o-mini']): trace 4bf92f35"
            ),
        ),
        "span_aggregation": (
            {"attribute": "input_tokens", "aggregation": "sum", "lte": 1000},
            "the sum of 'input_tokens' over spans, 9300, is not at most 1000: trace 4bf92f35",
        ),
        "span_set": (
            ["execute_tool search_docs"],
            """lacks spans named ["execute_tool search_docs"] (spans: [""",
        ),
    }
    for op, (expected, reason) in cases.items():
        got = evaluate(op, expected, [BAD])["reason"][0]
        assert got.startswith(reason), got


def test_negated_reason_states_what_held() -> None:
    got = evaluate("not_span_count", {"filter": {"status": "error"}, "equals": 0}, [GOOD])["reason"][0]
    assert got.startswith("the count of spans where status is error, 0, is equal to 0: trace 4bf92f35")


# --- shapes ---------------------------------------------------------------------------


def sdk_dict(s: dict[str, Any]) -> dict[str, Any]:
    """The span as the Python SDK's ``json.loads(span.to_json())`` writes it."""
    from datetime import datetime, timezone

    def iso(ns: str) -> str:
        return datetime.fromtimestamp(int(ns) / 1e9, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    from workbench.traces import attributes_of

    return {
        "name": s["name"],
        "context": {"trace_id": "0x" + s["traceId"], "span_id": "0x" + s["spanId"], "trace_state": "[]"},
        "kind": "SpanKind.CLIENT" if s["kind"] == 3 else "SpanKind.INTERNAL",
        "parent_id": "0x" + s["parentSpanId"] if "parentSpanId" in s else None,
        "start_time": iso(s["startTimeUnixNano"]),
        "end_time": iso(s["endTimeUnixNano"]),
        "status": {"status_code": ["UNSET", "OK", "ERROR"][s["status"]["code"]]},
        "attributes": attributes_of(s["attributes"]),
        "events": [],
        "links": [],
        "resource": {"attributes": {"service.name": "support-bot"}, "schema_url": ""},
    }


def export_request(spans: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": otlp_attributes({"service.name": "support-bot"})},
                "scopeSpans": [{"scope": {"name": "app"}, "spans": spans}],
            }
        ]
    }


@pytest.mark.parametrize(
    "shape",
    ["otlp_spans", "otlp_export", "otlp_json_string", "sdk_dicts", "sdk_json_string", "scouter_records"],
)
def test_every_shape_reads_as_the_same_trace(shape: str) -> None:
    scouter = [
        {
            "span_name": s["name"],
            "span_id": s["spanId"],
            "parent_span_id": s.get("parentSpanId"),
            "trace_id": s["traceId"],
            "start_time": sdk_dict(s)["start_time"],
            "end_time": sdk_dict(s)["end_time"],
            "status_code": s["status"]["code"],
            "service_name": "support-bot",
            "attributes": [{"key": k, "value": v} for k, v in read_trace([s]).spans[0].attributes.items()],
        }
        for s in BAD
    ]
    cell = {
        "otlp_spans": BAD,
        "otlp_export": export_request(BAD),
        "otlp_json_string": json.dumps(export_request(BAD)),
        "sdk_dicts": [sdk_dict(s) for s in BAD],
        "sdk_json_string": json.dumps([sdk_dict(s) for s in BAD]),
        "scouter_records": scouter,
    }[shape]
    t = read_trace(cell)
    assert t.names == read_trace(BAD).names
    assert t.duration_ms == 1800.0
    assert t.error_count == 1
    assert t.max_depth == 1
    assert t.spans[2].attributes["gen_ai.tool.name"] == "delete_account"
    assert t.roots[0].span_id == "a000000000000001"
    if shape != "otlp_spans":
        assert t.services == ["support-bot"]
    r = evaluate("span_exists", {"filter": {"status": "error", "tool": "delete_account"}}, [cell])
    assert r["status"][0] == "passed"


def test_ids_in_base64_read_as_hex() -> None:
    """protobuf's JSON mapping writes bytes fields in base64."""
    import base64

    s = span("a", base64.b64encode(bytes.fromhex("a000000000000001")).decode(), 0, 1)
    s["traceId"] = base64.b64encode(bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")).decode()
    t = read_trace([s])
    assert (t.spans[0].span_id, t.trace_id) == ("a000000000000001", "4bf92f3577b34da6a3ce929d0e0e4736")


def test_a_span_without_times_is_an_error_cell_naming_the_span() -> None:
    broken = [GOOD[0], {k: v for k, v in GOOD[1].items() if k != "startTimeUnixNano"}]
    r = evaluate("trace_span_count", {"equals": 2}, [broken, GOOD])
    assert r["status"].tolist() == ["error", "failed"]
    assert r["error"][0] == (
        "trace_span_count at path 'trace': span 1 ('chat gpt-4o-mini') has no start time "
        "(startTimeUnixNano or start_time)"
    )


def test_parents_outside_the_trace_make_roots_and_loops_end() -> None:
    orphan = span("orphan", "b1", 5, 6, "ffffffffffffffff")
    loop = [span("x", "c1", 0, 1, "c2"), span("y", "c2", 0, 1, "c1")]
    t = read_trace([*GOOD, orphan, *loop])
    assert {s.name for s in t.roots} - {"x", "y"} == {"invoke_agent support", "orphan"}
    assert len(t.roots) == 3  # one span of the loop stands as its root
    assert len(list(t.walk())) == len(t)


# --- filters and gen_ai names ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("span_filter", "count"),
    [
        ({"name": "chat gpt-4o-mini"}, 2),
        ({"name": ["chat gpt-4o-mini", "invoke_agent support"]}, 3),
        ({"name_pattern": "^execute_tool "}, 1),
        ({"kind": "client"}, 2),
        ({"model": "gpt-4o-mini"}, 2),
        ({"operation": "chat", "min_duration_ms": 500}, 1),
        ({"agent": "support"}, 1),
        ({"not": {"operation": "chat"}}, 2),
        ({"or": [{"tool": "search_docs"}, {"agent": "support"}]}, 2),
        ({"and": [{"operation": "chat"}, {"max_duration_ms": 400}]}, 1),
        ({"attribute": "gen_ai.usage.input_tokens", "value": 300.0}, 1),
        ({"attribute": "input_tokens"}, 2),
        ({"status": "ERROR"}, 0),
    ],
)
def test_filters_count_the_spans_they_match(span_filter: dict[str, Any], count: int) -> None:
    r = evaluate("span_count", {"filter": span_filter, "equals": count}, [GOOD])
    assert r["status"][0] == "passed", r["reason"][0]


def test_gen_ai_short_names_read_opentelemetry_attributes() -> None:
    r = evaluate(
        "span_aggregation",
        {"filter": {"operation": "chat"}, "attribute": "total_tokens", "aggregation": "max", "equals": 340},
        [GOOD],
    )
    assert r["status"][0] == "passed", r["reason"][0]
    r = evaluate(
        "span_attribute",
        {"filter": {"operation": "chat"}, "attribute": "model", "equals": ["gpt-4o-mini"] * 2},
        [GOOD],
    )
    assert r["status"][0] == "passed", r["reason"][0]


@pytest.mark.parametrize(
    ("how", "value"),
    [("count", 2), ("sum", 420), ("average", 210), ("min", 120), ("max", 300), ("first", 120), ("last", 300)],
)
def test_aggregations(how: str, value: float) -> None:
    r = evaluate(
        "span_aggregation", {"attribute": "input_tokens", "aggregation": how, "equals": value}, [GOOD]
    )
    assert r["status"][0] == "passed", r["reason"][0]


def test_span_duration_of_several_spans_checks_each() -> None:
    r = evaluate("span_duration", {"filter": {"operation": "chat"}, "lt": 500}, [GOOD])
    assert r["status"][0] == "failed"
    assert r["reason"][0].startswith(
        "the durations in ms of spans where operation is 'chat', [590.0,380.0]: item 0 is not less than 500"
    )


def test_a_missing_span_where_a_value_is_needed_is_an_error() -> None:
    r = evaluate("span_duration", {"filter": {"tool": "nope"}, "lt": 500}, [GOOD])
    assert r["status"][0] == "error"
    assert "has no span where tool is 'nope' to time (spans: ['invoke_agent support'" in r["error"][0]


def test_a_comparison_of_the_wrong_type_is_an_error() -> None:
    r = evaluate("span_attribute", {"filter": {"tool": "search_docs"}, "attribute": "tool", "gt": 3}, [GOOD])
    assert r["status"][0] == "error"
    assert "'search_docs', which greater_than cannot take: cannot compare non-numeric values" in r["error"][0]


def test_expected_takes_templates_per_row() -> None:
    df = pd.DataFrame({"trace": [GOOD, BAD], "budget": [1000, 1000]})
    suite = wb.Suite(
        name="t",
        tasks=[
            wb.AssertionTask(
                id="tokens",
                path="trace",
                op="span_aggregation",
                expected={"attribute": "input_tokens", "aggregation": "sum", "lte": "${budget}"},
            )
        ],
    )
    assert wb.evaluate(df, suite, save=False).results["status"].tolist() == ["passed", "failed"]


def test_match_any_and_all_with_a_path_into_json() -> None:
    trace = [
        span(
            "llm",
            "d1",
            0,
            5,
            attrs={"gen_ai.output.messages": json.dumps([{"role": "assistant", "finish_reason": "stop"}])},
        ),
        span(
            "llm",
            "d2",
            5,
            9,
            attrs={"gen_ai.output.messages": json.dumps([{"role": "assistant", "finish_reason": "length"}])},
        ),
    ]
    base = {"attribute": "gen_ai.output.messages", "path": "0.finish_reason", "equals": "stop"}
    assert evaluate("span_attribute", {**base, "match": "any"}, [trace])["status"][0] == "passed"
    r = evaluate("span_attribute", {**base, "match": "all"}, [trace])
    assert r["status"][0] == "failed"
    assert "1 of 2 fail, first span 'llm', which is not equal to 'stop': 'length'" in r["reason"][0]


# --- spec errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "expected", "message"),
    [
        (
            "span_count",
            {"filtr": {"name": "x"}, "lte": 1},
            "expected has an unknown key 'filtr'; did you mean 'filter'?",
        ),
        ("span_count", {"filter": {"nme": "x"}, "lte": 1}, "filter: unknown key 'nme'; did you mean 'name'?"),
        ("span_count", {"filter": {"name": "x"}}, "needs a comparison in expected"),
        (
            "span_count",
            {"filter": {"name": "x"}, "lte": 1, "gte": 0},
            "takes one comparison, got ['lte', 'gte']",
        ),
        ("span_count", {"lte": "three"}, "comparison 'lte' needs a number as expected, got string ('three')"),
        (
            "span_count",
            {"attribute": "x", "lte": 1},
            "takes no 'attribute' in expected (it takes 'filter' and a comparison)",
        ),
        (
            "span_count",
            3,
            "needs a mapping as expected, such as {filter: {name: retry_operation}, lte: 3}, got number (3)",
        ),
        (
            "span_exists",
            {"filter": {"name": "x"}, "equals": True},
            "takes no comparison ('equals'); use not_span_exists",
        ),
        (
            "span_aggregation",
            {"attribute": "x", "aggregation": "median", "lt": 3},
            "unknown aggregation 'median'",
        ),
        ("span_aggregation", {"attribute": "x", "lt": 3}, "needs 'aggregation' in expected"),
        (
            "span_attribute",
            {"attribute": "x", "match": "some", "equals": 1},
            "'match' is 'any' or 'all', got 'some'",
        ),
        (
            "span_count",
            {"filter": {"status": "failed"}, "lte": 1},
            "status 'failed' is none of ['ok', 'error', 'unset']",
        ),
        ("span_count", {"filter": {"value": 3}, "lte": 1}, "'value' needs 'attribute' beside it"),
        ("span_count", {"filter": {"and": []}, "lte": 1}, "'and' needs a non-empty list of filters"),
        ("span_count", {"span_count": 3}, "cannot compare with the trace operator 'span_count'"),
        ("span_sequence", "root", "needs a non-empty list of span names as expected, got string ('root')"),
    ],
)
def test_bad_expected_is_a_spec_error(op: str, expected: Any, message: str) -> None:
    with pytest.raises(wb.SpecError) as e:
        wb.Suite(name="s", tasks=[wb.AssertionTask(id="t", path="trace", op=op, expected=expected)])
    assert message in str(e.value)


def test_suites_with_trace_operators_read_as_yaml() -> None:
    suite = wb.Suite.from_yaml(
        """
name: agent-traces
tasks:
  - id: few_retries
    path: trace
    op: span_count
    expected: {filter: {name: retry_operation}, lte: 3}
  - id: no_errors
    path: trace
    op: not_span_exists
    expected:
      filter: {status: error}
  - id: token_budget
    path: trace
    op: SpanAggregation
    expected: {attribute: input_tokens, aggregation: Sum, LessThan: 10000}
"""
    )
    r = wb.evaluate(pd.DataFrame({"trace": [GOOD, BAD]}), suite, save=False).results
    assert r.pivot(index="row", columns="task", values="status").to_dict("index") == {
        0: {"few_retries": "passed", "no_errors": "passed", "token_budget": "passed"},
        1: {"few_retries": "passed", "no_errors": "failed", "token_budget": "passed"},
    }
    assert wb.Suite.from_yaml(suite.to_yaml()) == suite


# --- indexed once ----------------------------------------------------------------------------


def test_a_column_is_read_once_for_every_trace_task() -> None:
    TRACE_INDEX.clear()
    cells = [agent_trace(tokens=(i, i)) for i in range(50)]
    suite = wb.Suite(
        name="s",
        tasks=[wb.AssertionTask(id=op, path="trace", op=op, expected=expected) for op, expected in OPERATORS],
    )
    before = TRACE_INDEX.reads
    wb.evaluate(pd.DataFrame({"trace": cells}), suite, save=False)
    assert TRACE_INDEX.reads - before == 50


def test_a_json_string_column_is_read_once_too() -> None:
    TRACE_INDEX.clear()
    cells = [json.dumps(agent_trace(tokens=(i, i))) for i in range(20)]
    suite = wb.Suite(
        name="s",
        tasks=[
            wb.AssertionTask(id=op, path="trace", op=op, expected=expected) for op, expected in OPERATORS[:5]
        ],
    )
    before = TRACE_INDEX.reads
    wb.evaluate(pd.DataFrame({"trace": cells}), suite, save=False)
    assert TRACE_INDEX.reads - before == 20


def test_a_cell_changed_in_place_is_read_again() -> None:
    cell = agent_trace()
    assert evaluate("trace_span_count", {"equals": 4}, [cell])["status"][0] == "passed"
    cell.append(span("extra", "e1", 1, 2, "a000000000000001"))
    assert evaluate("trace_span_count", {"equals": 5}, [cell])["status"][0] == "passed"


def test_the_index_lets_go_of_cells_nothing_else_holds() -> None:
    from workbench.traces import TraceIndex

    index = TraceIndex(max_spans=10)
    kept = agent_trace()
    index.trace(kept)
    index.trace(agent_trace())  # its cell is gone after this line
    assert len(index) == 2
    index.trace(agent_trace())  # over the bound: the orphan is dropped, the live cell stays
    assert len(index) == 2
    assert index.trace(kept) is index.trace(kept)
