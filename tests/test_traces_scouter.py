"""Scouter's trace-assertion tests, reproduced on the same spans through ``wb.evaluate``.

The spans are Scouter's mock traces written as OTLP JSON (``fixtures/traces/scouter_mocks.json``);
each case is one of Scouter's assertions (its Rust unit tests in
``crates/scouter_evaluate/src/evaluate/trace.rs`` and its Python tests in
``py-scouter/tests/test_eval/test_trace_evaluator.py``) written with workbench's operators,
with the outcome Scouter's test asserts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench as wb

MOCKS = json.loads((Path(__file__).parent / "fixtures" / "traces" / "scouter_mocks.json").read_text())[
    "traces"
]

CASES: list[tuple[str, str, str, Any, str]] = [
    # (case id, mock trace, operator, expected, status Scouter's test implies)
    # --- Rust: crates/scouter_evaluate/src/evaluate/trace.rs
    ("nested_depth", "nested", "trace_max_depth", {"equals": 2}, "passed"),
    ("error_counting", "errors", "trace_error_count", {"equals": 1}, "passed"),
    ("attribute_filtering", "attributes", "span_exists", {"filter": {"attribute": "model"}}, "passed"),
    (
        "sequence_pattern_detection",
        "sequence_pattern",
        "span_count",
        {"filter": {"sequence": ["call_tool", "run_agent"]}, "equals": 2},
        "passed",
    ),
    ("multi_service", "multi_service", "trace_service_count", {"equals": 3}, "passed"),
    (
        "aggregation_numeric",
        "attributes",
        "span_aggregation",
        {
            "filter": {"attribute": "tokens.input"},
            "attribute": "tokens.input",
            "aggregation": "Sum",
            "equals": 150,
        },
        "passed",
    ),
    ("span_sequence", "simple", "span_sequence", ["root", "child_1", "child_2"], "passed"),
    ("span_set", "simple", "span_set", ["root", "child_1", "child_2"], "passed"),
    ("count_by_name", "simple", "span_count", {"filter": {"name": "child_1"}, "equals": 1}, "passed"),
    (
        "count_by_pattern",
        "simple",
        "span_count",
        {"filter": {"name_pattern": "^child_.*"}, "equals": 2},
        "passed",
    ),
    (
        "count_with_attribute",
        "attributes",
        "span_count",
        {"filter": {"attribute": "model"}, "equals": 1},
        "passed",
    ),
    (
        "count_with_attribute_value",
        "attributes",
        "span_count",
        {"filter": {"attribute": "http.method", "value": "POST"}, "equals": 1},
        "passed",
    ),
    ("count_with_status", "attributes", "span_count", {"filter": {"status": "ok"}, "equals": 2}, "passed"),
    (
        "count_with_duration",
        "attributes",
        "span_count",
        {"filter": {"min_duration_ms": 80.0, "max_duration_ms": 120.0}, "equals": 1},
        "passed",
    ),
    (
        "count_and",
        "attributes",
        "span_count",
        {"filter": {"and": [{"attribute": "http.method"}, {"status": "ok"}]}, "equals": 1},
        "passed",
    ),
    (
        "count_or",
        "attributes",
        "span_count",
        {
            "filter": {
                "or": [{"attribute": "http.method", "value": "GET"}, {"attribute": "model", "value": "gpt-4"}]
            },
            "equals": 1,
        },
        "passed",
    ),
    ("span_exists", "simple", "span_exists", {"filter": {"name": "child_1"}}, "passed"),
    (
        "span_attribute_model",
        "attributes",
        "span_attribute",
        {"filter": {"name": "api_call"}, "attribute": "model", "equals": "gpt-4"},
        "passed",
    ),
    (
        "span_attribute_response",
        "attributes",
        "span_attribute",
        {
            "filter": {"name": "api_call"},
            "attribute": "response",
            "equals": {"success": True, "data": {"id": 12345}},
        },
        "passed",
    ),
    (
        "span_attribute_aggregation",
        "attributes",
        "span_aggregation",
        {"filter": {"name": "api_call"}, "attribute": "tokens.output", "aggregation": "sum", "equals": 300.0},
        "passed",
    ),
    (
        "sequence_pattern_counting",
        "sequence_pattern",
        "span_count",
        {"filter": {"sequence": ["call_tool", "run_agent"]}, "equals": 2},
        "passed",
    ),
    (
        "call_tool_count",
        "sequence_pattern",
        "span_count",
        {"filter": {"name": "call_tool"}, "equals": 2},
        "passed",
    ),
    # AttributeFilter with an inner Assertion: span_attribute with path and match
    (
        "attribute_filter_raw_value",
        "gemini_agent",
        "span_attribute",
        {
            "filter": {"attribute": "gen_ai.response"},
            "attribute": "gen_ai.response",
            "path": "candidates[0].finishReason",
            "match": "all",
            "equals": "STOP",
        },
        "passed",
    ),
    (
        "attribute_filter_no_matching_spans",
        "gemini_agent",
        "span_attribute",
        {"attribute": "nonexistent", "match": "any", "equals": True},
        "failed",
    ),
    # AttributeFilter with ToolCalled, read at the path Gemini puts a function call
    (
        "attribute_filter_tool_any",
        "gemini_agent",
        "span_attribute",
        {
            "attribute": "gen_ai.response",
            "path": "candidates[0].content.parts[0].functionCall.name",
            "match": "any",
            "equals": "transfer_to_agent",
        },
        "passed",
    ),
    (
        "attribute_filter_all_mode_fails_when_one_fails",
        "gemini_agent",
        "span_attribute",
        {
            "attribute": "gen_ai.response",
            "path": "candidates[0].content.parts[0].functionCall.name",
            "match": "all",
            "equals": "transfer_to_agent",
        },
        "failed",
    ),
    (
        "adk_attribute_filter_tool_any",
        "adk_agent",
        "span_attribute",
        {
            "attribute": "gen_ai.response",
            "path": "content.parts[0].function_call.name",
            "match": "any",
            "equals": "transfer_to_agent",
        },
        "passed",
    ),
    (
        "adk_attribute_filter_raw_value",
        "adk_agent",
        "span_attribute",
        {"attribute": "gen_ai.response", "path": "finish_reason", "match": "all", "equals": "STOP"},
        "passed",
    ),
    (
        "adk_attribute_filter_model_all",
        "adk_agent",
        "span_attribute",
        {"attribute": "gen_ai.response", "path": "model_version", "match": "all", "contains": "gemini"},
        "passed",
    ),
    (
        "trace_attribute_key_not_found",
        "simple",
        "trace_attribute",
        {"attribute": "nonexistent_key_xyz", "equals": "x"},
        "error",
    ),
    (
        "aggregate_null_when_no_numeric_values",
        "simple",
        "span_aggregation",
        {"filter": {"name": "root"}, "attribute": "nonexistent_numeric", "aggregation": "sum", "equals": 0},
        "error",
    ),
    (
        "multi_span_attribute_returns_array",
        "gemini_agent",
        "span_attribute",
        {"filter": {"attribute": "gen_ai.response"}, "attribute": "gen_ai.response", "is_array": True},
        "passed",
    ),
    # --- Python: py-scouter/tests/test_eval/test_trace_evaluator.py
    ("check_id", "simple", "span_exists", {"filter": {"name": "child_1"}}, "passed"),
    ("check_id_pattern_exists", "simple", "span_exists", {"filter": {"name_pattern": "^child_.*"}}, "passed"),
    (
        "check_id_pattern_count",
        "simple",
        "span_count",
        {"filter": {"name_pattern": "^child_.*"}, "equals": 2},
        "passed",
    ),
    (
        "check_post_method_count",
        "attributes",
        "span_count",
        {"filter": {"attribute": "http.method", "value": "POST"}, "Equals": 1},
        "passed",
    ),
    ("check_duration_less_than", "attributes", "trace_duration", {"LessThanOrEqual": 300}, "passed"),
    ("check_max_depth", "attributes", "trace_max_depth", {"lte": 5}, "passed"),
    ("check_span_count", "attributes", "trace_span_count", {"lte": 2}, "passed"),
    (
        "check_attribute",
        "attributes",
        "trace_attribute",
        {"attribute": "http.method", "equals": "POST"},
        "passed",
    ),
]


def suite_of(op: str, expected: Any) -> wb.Suite:
    return wb.Suite(name="scouter", tasks=[wb.AssertionTask(id="t", path="trace", op=op, expected=expected)])


def run_one(trace: str, op: str, expected: Any) -> pd.Series:
    df = pd.DataFrame({"trace": [MOCKS[trace]]})
    return wb.evaluate(df, suite_of(op, expected), save=False).results.iloc[0]


@pytest.mark.parametrize(
    ("trace", "op", "expected", "status"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_scouter_case(trace: str, op: str, expected: Any, status: str) -> None:
    cell = run_one(trace, op, expected)
    assert cell["status"] == status, (cell["reason"], cell["error"])


@pytest.mark.parametrize(
    ("trace", "op", "expected", "status"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_scouter_case_negated(trace: str, op: str, expected: Any, status: str) -> None:
    """``not_`` flips a pass into a fail and back; an error stays an error."""
    cell = run_one(trace, "not_" + op, expected)
    flipped = {"passed": "failed", "failed": "passed", "error": "error"}[status]
    assert cell["status"] == flipped, (cell["reason"], cell["error"])
    if flipped == "failed":  # the verdict says what held
        assert cell["reason"]


def test_the_trace_duration_is_wall_clock_as_in_scouter() -> None:
    """Scouter: root 0-150 ms, api_call 150-250 ms, so the trace took 250 ms."""
    cell = run_one("attributes", "trace_duration", {"equals": 250})
    assert cell["status"] == "passed"
    failed = run_one("attributes", "trace_duration", {"lt": 250})
    assert failed["reason"].startswith(
        "the trace's duration in ms, 250.0, is not less than 250: trace 74726163"
    )


def test_an_invalid_regex_is_a_spec_error() -> None:
    """Scouter: test_invalid_regex_returns_error; here it is refused before any row runs."""
    with pytest.raises(wb.SpecError, match=r"invalid regex '\[invalid' in 'name_pattern'"):
        suite_of("span_count", {"filter": {"name_pattern": "[invalid"}, "equals": 1})


def test_a_sequence_filter_outside_span_count_is_a_spec_error() -> None:
    """Scouter: test_sequence_filter_in_span_exists_returns_invalid_filter_error."""
    with pytest.raises(wb.SpecError, match="only works with span_count"):
        suite_of("span_exists", {"filter": {"sequence": ["root"]}})


def test_a_trace_without_a_root_span_is_an_error_cell() -> None:
    """Scouter: test_extract_trace_attribute_no_root_span. Depth comes from parent links here, so a
    trace without a root is an empty one."""
    suite = wb.Suite(
        name="s",
        tasks=[
            wb.AssertionTask(
                id="t", path="trace", op="trace_attribute", expected={"attribute": "model", "equals": 1}
            )
        ],
    )
    cell = wb.evaluate(pd.DataFrame({"trace": [[]]}), suite, save=False).results.iloc[0]
    assert cell["status"] == "error"
    assert cell["error"] == "trace_attribute at path 'trace': the trace has no root span"


# --- Scouter's tasks file: its TraceAssertion tasks translated and run ----------------------

SCOUTER_TASKS = """
# the TraceAssertion tasks of py-scouter/tests/test_eval/assets/eval_tasks_example.yaml
- task_type: TraceAssertion
  id: verify_agent_workflow
  operator: SequenceMatches
  expected_value: true
  assertion:
    SpanSequence:
      span_names: [call_tool, run_agent, double_check]
- task_type: TraceAssertion
  id: verify_retry_count
  operator: LessThanOrEqual
  expected_value: 3
  assertion:
    SpanCount:
      filter:
        ByName:
          name: retry_operation
- task_type: TraceAssertion
  id: verify_performance
  operator: LessThan
  expected_value: 5000.0
  assertion:
    TraceDuration: {}
- task_type: TraceAssertion
  id: verify_model_used
  operator: Equals
  expected_value: gpt-4
  assertion:
    SpanAttribute:
      filter:
        ByName:
          name: llm.generate
      attribute_key: model
- task_type: TraceAssertion
  id: verify_error_handling
  operator: Equals
  expected_value: true
  assertion:
    SpanExists:
      filter:
        And:
          filters:
            - WithStatus:
                status: Error
            - WithAttribute:
                key: error.type
- task_type: TraceAssertion
  id: verify_span_duration
  operator: LessThan
  expected_value: 1000.0
  assertion:
    SpanDuration:
      filter:
        And:
          filters:
            - ByName:
                name: database_query
            - WithDuration:
                min_ms: 10.0
                max_ms: 1000.0
"""


def scouter_suite() -> wb.Suite:
    import yaml

    from workbench.traces import from_scouter

    tasks = []
    for t in yaml.safe_load(SCOUTER_TASKS):
        op, expected = from_scouter(t["assertion"], t["operator"], t["expected_value"])
        tasks.append(wb.AssertionTask(id=t["id"], path="trace", op=op, expected=expected))
    return wb.Suite(name="scouter-tasks", tasks=tasks)


def test_scouter_tasks_file_translates_and_runs() -> None:
    suite = scouter_suite()
    assert [(t.id, t.op) for t in suite.tasks] == [
        ("verify_agent_workflow", "span_sequence"),
        ("verify_retry_count", "span_count"),
        ("verify_performance", "trace_duration"),
        ("verify_model_used", "span_attribute"),
        ("verify_error_handling", "span_exists"),
        ("verify_span_duration", "span_duration"),
    ]
    agent = [
        {
            "name": n,
            "spanId": f"{i:016x}",
            "startTimeUnixNano": str(i * 10**8),
            "endTimeUnixNano": str((i + 1) * 10**8),
        }
        for i, n in enumerate(["call_tool", "run_agent", "double_check"])
    ]
    r = wb.evaluate(pd.DataFrame({"trace": [agent, MOCKS["attributes"]]}), suite, save=False).results
    got = r.pivot(index="row", columns="task", values="status").to_dict("index")
    assert got[0] == {
        "verify_agent_workflow": "passed",
        "verify_retry_count": "passed",  # no retries
        "verify_performance": "passed",
        "verify_model_used": "error",  # no llm.generate span to read a model from
        "verify_error_handling": "failed",
        "verify_span_duration": "error",  # no database_query span to time
    }
    assert got[1]["verify_agent_workflow"] == "failed"


@pytest.mark.parametrize(
    ("assertion", "operator", "expected", "message"),
    [
        (
            {"AttributeFilter": {"key": "gen_ai.response", "mode": "Any", "task": {"AgentAssertion": {}}}},
            "Equals",
            True,
            "AttributeFilter over an AgentAssertion has no workbench trace counterpart",
        ),
        (
            {"SpanExists": {"filter": {"ByName": {"name": "x"}}}},
            "GreaterThan",
            1,
            r"must be Equals \(or NotEqual\)",
        ),
        ({"SpanCount": {"filter": {"ByKind": {"kind": "x"}}}}, "Equals", 1, "span filter 'ByKind' has no"),
        ({"TraceBaggage": {}}, "Equals", 1, "trace assertion 'TraceBaggage' has no workbench counterpart"),
    ],
)
def test_untranslatable_scouter_constructs_say_so(
    assertion: Any, operator: str, expected: Any, message: str
) -> None:
    from workbench.traces import from_scouter

    with pytest.raises(wb.SpecError, match=message):
        from_scouter(assertion, operator, expected)


def test_scouter_attribute_filter_with_an_assertion_translates() -> None:
    from workbench.traces import from_scouter

    op, expected = from_scouter(
        {
            "AttributeFilter": {
                "key": "gen_ai.response",
                "mode": "All",
                "task": {
                    "Assertion": {
                        "context_path": "candidates[0].finishReason",
                        "operator": "Equals",
                        "expected_value": "STOP",
                    }
                },
            }
        },
        "Equals",
        True,
    )
    assert run_one("gemini_agent", op, expected)["status"] == "passed"
