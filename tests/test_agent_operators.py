"""Every agent operator through ``wb.evaluate``, for every provider's response shape: passing,
failing and wrong-type values, at a path into the normalised response and on the whole
response, with ``not_`` negating each; failure reasons lead with the verdict and name the
calls that were seen."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench import _vector
from workbench.assertions import OPERATORS, lookup

from .test_agent_shapes import CALLS, MALFORMED, PROVIDERS, anthropic, cell, evaluate, gemini, openai_chat

P, F, E = "passed", "failed", "error"
AGENT_OPS = [name for name, op in OPERATORS.items() if op.check.__module__.endswith("._agent")]

SCHEMA = {
    "type": "object",
    "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
    "required": ["query"],
}
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS = [
    {"type": "function", "function": {"name": "search_kb", "parameters": SCHEMA}},
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}},
]
STRICT_CITY = [
    TOOLS[0],
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {**WEATHER, "properties": {"city": {"type": "integer"}}},
        },
    },
]

# (operator, expected, status on a response whose calls are CALLS: search_kb then get_weather)
CASES: list[tuple[str, Any, str]] = [
    ("tool_called", "get_weather", P),
    ("tool_called", "send_email", F),
    ("tool_called", ["search_kb", "get_weather"], P),
    ("tool_called", ["search_kb", "send_email"], F),
    ("tool_not_called", "send_email", P),
    ("tool_not_called", "search_kb", F),
    ("tool_not_called", ["delete_user", "get_weather"], F),
    ("tool_called_with_args", {"name": "search_kb", "arguments": {"query": "refund policy"}}, P),
    (
        "tool_called_with_args",
        {"name": "search_kb", "arguments": {"query": "refund policy", "limit": 5.0}},
        P,
    ),
    ("tool_called_with_args", {"name": "search_kb", "arguments": {"query": "refunds"}}, F),
    ("tool_called_with_args", {"name": "search_kb", "arguments": {"limit": "5"}}, F),
    ("tool_called_with_args", {"name": "send_email", "arguments": {}}, F),
    ("tool_call_sequence", ["search_kb", "get_weather"], P),
    ("tool_call_sequence", ["get_weather", "search_kb"], F),
    ("tool_call_sequence", ["search_kb"], F),
    ("tool_call_subsequence", ["get_weather"], P),
    ("tool_call_subsequence", ["search_kb", "get_weather"], P),
    ("tool_call_subsequence", ["get_weather", "search_kb"], F),
    ("tool_call_count", 2, P),
    ("tool_call_count", 1, F),
    ("tool_call_count", {"name": "search_kb", "max": 1}, P),
    ("tool_call_count", {"name": "search_kb", "min": 2}, F),
    ("tool_call_count", {"min": 1, "max": 3}, P),
    ("tools_valid", TOOLS, P),
    ("tools_valid", STRICT_CITY, F),
    ("tools_valid", TOOLS[:1], F),
    ("trajectory_match", {"calls": ["search_kb", "get_weather"]}, P),
    ("trajectory_match", {"calls": ["get_weather", "search_kb"]}, F),
    ("trajectory_match", {"calls": ["get_weather", "search_kb"], "mode": "unordered"}, P),
    ("trajectory_match", {"calls": ["get_weather"], "mode": "superset"}, P),
    ("trajectory_match", {"calls": ["get_weather"], "mode": "subset"}, F),
    ("trajectory_match", {"calls": ["get_weather", "search_kb", "send_email"], "mode": "subset"}, P),
    (
        "trajectory_match",
        {"calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}], "mode": "superset"},
        P,
    ),
    (
        "trajectory_match",
        {"calls": [{"name": "get_weather", "arguments": {"city": "Rome"}}], "mode": "superset"},
        F,
    ),
    (
        "trajectory_match",
        {
            "calls": [{"name": "search_kb", "arguments": {"query": "refund policy"}}, "get_weather"],
            "args": "superset",
        },
        P,
    ),
    (
        "trajectory_match",
        {"calls": [{"name": "search_kb", "arguments": {"query": "refund policy"}}, "get_weather"]},
        F,
    ),
]

WRONG_TYPES: list[tuple[Any, str]] = [
    ("I can't help with that.", "got a string that is not JSON"),
    (42, "got number (42)"),
    ({"answer": "Paris"}, "got an object with keys ['answer']"),
]


def tasks(op_prefix: str, path: str) -> list[wb.AssertionTask]:
    return [
        wb.AssertionTask(id=f"t{i}", path=path, op=op_prefix + op, expected=expected)
        for i, (op, expected, _) in enumerate(CASES)
    ]


def statuses(results: pd.DataFrame, row: int = 0) -> list[str]:
    rows = results[results["row"] == row]
    return [rows[rows["task"] == f"t{i}"]["status"].iloc[0] for i in range(len(CASES))]


def mismatches(got: list[str], want: list[str]) -> list[tuple[str, Any, str, str]]:
    return [(op, exp, w, g) for (op, exp, _), w, g in zip(CASES, want, got) if g != w]


@pytest.mark.parametrize("path", ["response.tool_calls", "response"])
@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_passing_and_failing_values(provider: str, path: str) -> None:
    results = evaluate([PROVIDERS[provider](CALLS, "Done.")], *tasks("", path))
    assert mismatches(statuses(results), [s for _, _, s in CASES]) == []


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_not_prefix_negates_every_case(provider: str) -> None:
    results = evaluate([PROVIDERS[provider](CALLS)], *tasks("not_", "response.tool_calls"))
    assert mismatches(statuses(results), [{P: F, F: P}[s] for _, _, s in CASES]) == []


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_json_text_cells_agree(provider: str) -> None:
    """A column of JSON strings (as a JSONL file loads) gives the same outcomes."""
    df = pd.DataFrame({"response": [json.dumps(PROVIDERS[provider](CALLS))]})
    run = wb.evaluate(df, wb.Suite(name="j", tasks=tasks("", "response.tool_calls")), save=False)
    assert mismatches(statuses(run.results), [s for _, _, s in CASES]) == []


@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("op", AGENT_OPS)
def test_wrong_types_and_malformed_responses_are_error_cells(provider: str, op: str) -> None:
    expected = next(e for o, e, _ in CASES if o == op)
    bad, says = MALFORMED[provider]
    values = [bad, *(v for v, _ in WRONG_TYPES), PROVIDERS[provider](CALLS)]
    for prefix in ("", "not_"):
        results = evaluate(
            values, wb.AssertionTask(id="t", path="response", op=prefix + op, expected=expected)
        )
        assert results["status"].tolist()[:-1] == [E] * (len(values) - 1)
        assert results["status"].iloc[-1] in (P, F)  # the good row still gets its verdict
        errors = results["error"].tolist()
        assert errors[0].startswith(f"{prefix}{op} at path 'response': ") and says in errors[0]
        for message, (_, text) in zip(errors[1:], WRONG_TYPES):
            assert text in message and "needs tool calls" in message


@pytest.mark.parametrize("op", AGENT_OPS)
def test_every_agent_operator_is_in_the_case_table(op: str) -> None:
    assert {P, F} <= {s for o, _, s in CASES if o == op}


def test_failure_reasons_lead_with_the_verdict_and_name_the_calls_seen() -> None:
    results = evaluate([openai_chat(CALLS)], *tasks("", "response.tool_calls"))
    failed = results[results["status"] == F]
    assert len(failed) == sum(1 for *_, s in CASES if s == F)
    for reason in failed["reason"]:
        assert "search_kb" in reason and "get_weather" in reason, reason
    assert cell(results, "t1")["reason"].startswith(
        """does not call 'send_email' (calls: search_kb({"query":"refund policy","limit":5}), """
        """get_weather({"city":"Paris"})): """
    )


@pytest.mark.parametrize(
    ("op", "expected", "verdict"),
    [
        ("tool_called", "send_email", "does not call 'send_email' (calls: "),
        ("not_tool_called", "get_weather", "calls 'get_weather' (calls: "),
        ("tool_not_called", "search_kb", "calls 'search_kb' (calls: "),
        (
            "tool_called_with_args",
            {"name": "search_kb", "arguments": {"query": "refunds"}},
            """calls 'search_kb' only with other arguments than {"query":"refunds"} (calls: """,
        ),
        (
            "tool_call_sequence",
            ["get_weather"],
            """calls ["search_kb","get_weather"], not exactly ["get_weather"]""",
        ),
        (
            "tool_call_subsequence",
            ["get_weather", "search_kb"],
            """calls ["search_kb","get_weather"], which lacks 'search_kb' after 'get_weather'""",
        ),
        (
            "tool_call_count",
            {"name": "search_kb", "min": 2},
            "calls 'search_kb' 1 time, not at least 2 (calls: ",
        ),
        ("tool_call_count", 3, "makes 2 tool calls, not exactly 3 (calls: "),
        ("not_tool_call_count", 2, "makes 2 tool calls, exactly 2 (calls: "),
        (
            "tools_valid",
            STRICT_CITY,
            (
                """has call 1 get_weather({"city":"Paris"}) that does not match its schema """
                """('Paris' is not of type 'integer' at $.city)"""
            ),
        ),
        (
            "tools_valid",
            TOOLS[:1],
            (
                """has call 1 get_weather({"city":"Paris"}) to a tool that was not offered """
                """(offered: search_kb)"""
            ),
        ),
        (
            "trajectory_match",
            {"calls": ["get_weather", "search_kb"]},
            (
                """has call 0 search_kb({"query":"refund policy","limit":5}), the reference """
                """get_weather(...) (strict, arguments exact)"""
            ),
        ),
        (
            "trajectory_match",
            {"calls": ["get_weather"], "mode": "subset"},
            (
                """makes the call search_kb({"query":"refund policy","limit":5}), which the """
                """reference lacks (subset"""
            ),
        ),
        (
            "trajectory_match",
            {"calls": [{"name": "get_weather", "arguments": {"city": "Rome"}}], "mode": "superset"},
            (
                """lacks a call matching the reference's get_weather({"city":"Rome"}) """
                """(superset, arguments exact)"""
            ),
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and " " not in v else None,
)
def test_verdicts(op: str, expected: Any, verdict: str) -> None:
    results = evaluate(
        [openai_chat(CALLS)], wb.AssertionTask(id="t", path="response.tool_calls", op=op, expected=expected)
    )
    assert results["status"].iloc[0] == F
    assert results["reason"].iloc[0].startswith(verdict), results["reason"].iloc[0]


def test_a_response_without_calls() -> None:
    results = evaluate(
        [anthropic([], "Nothing to do.")],
        wb.AssertionTask(id="called", path="response", op="tool_called", expected="search_kb"),
        wb.AssertionTask(id="none", path="response", op="tool_call_count", expected=0),
        wb.AssertionTask(id="valid", path="response", op="tools_valid", expected=TOOLS),
        wb.AssertionTask(id="seq", path="response", op="tool_call_sequence", expected=[]),
    )
    assert results["status"].tolist() == [F, P, P, P]
    assert cell(results, "called")["reason"].startswith("does not call 'search_kb' (calls: none): ")


# --- tools_valid: arguments that do not parse, tools the record carries ----------------------


def test_tools_valid_fails_arguments_that_are_not_json() -> None:
    results = evaluate(
        [openai_chat([("get_weather", '{"city": Paris}')])],
        wb.AssertionTask(id="v", path="response.tool_calls", op="tools_valid", expected=TOOLS),
        wb.AssertionTask(
            id="w",
            path="response.tool_calls",
            op="tool_called_with_args",
            expected={"name": "get_weather", "arguments": {}},
        ),
    )
    assert results["status"].tolist() == [F, F]
    assert cell(results, "v")["reason"].startswith(
        "has call 0 'get_weather' with arguments that are not JSON (Expecting value"
    )


def test_tools_valid_reads_the_tools_a_record_carries() -> None:
    records = [
        {"request": {"messages": [], "tools": TOOLS}, "response": openai_chat(CALLS)},
        {"request": {"messages": [], "tools": STRICT_CITY}, "response": openai_chat(CALLS)},
        {"request": {"messages": []}, "response": openai_chat(CALLS)},
    ]
    results = evaluate(records, wb.AssertionTask(id="v", path="response", op="tools_valid"))
    assert results["status"].tolist() == [P, F, E]
    assert "has no offered tools to check the calls against" in results["error"].iloc[2]


def test_tools_valid_with_the_request_tools_from_another_column() -> None:
    df = pd.DataFrame(
        {
            "response": pd.Series([gemini(CALLS), gemini(CALLS)], dtype=object),
            "tools": pd.Series(
                [
                    [
                        {
                            "functionDeclarations": [
                                {"name": "search_kb", "parameters": {"type": "OBJECT"}},
                                {
                                    "name": "get_weather",
                                    "parameters": {
                                        "type": "OBJECT",
                                        "properties": {"city": {"type": "STRING"}},
                                    },
                                },
                            ]
                        }
                    ],
                    [{"name": "search_kb", "input_schema": SCHEMA}],
                ],
                dtype=object,
            ),
        }
    )
    task = wb.AssertionTask(id="v", path="response.tool_calls", op="tools_valid", expected="${tools}")
    run = wb.evaluate(df, wb.Suite(name="v", tasks=[task]), save=False)
    assert run.results["status"].tolist() == [P, F]


def test_an_invalid_schema_among_the_offered_tools_is_a_spec_error() -> None:
    with pytest.raises(wb.SpecError, match="tool 'f' has an invalid JSON Schema as parameters"):
        wb.Suite(
            name="s",
            tasks=[
                wb.AssertionTask(
                    id="v", path="r", op="tools_valid", expected=[{"name": "f", "input_schema": {"type": 5}}]
                )
            ],
        )


# --- trajectory_match: references from a column, an exact one-to-one matching ---------------


def test_trajectory_reference_from_a_column_of_conversations() -> None:
    df = pd.DataFrame(
        {
            "response": pd.Series([openai_chat(CALLS), openai_chat(CALLS[:1])], dtype=object),
            "reference": pd.Series([[openai_chat(CALLS[::-1])], [openai_chat(CALLS[::-1])]], dtype=object),
        }
    )
    task = wb.AssertionTask(
        id="t",
        path="response.tool_calls",
        op="trajectory_match",
        expected={"calls": "${reference}", "mode": "unordered"},
    )
    run = wb.evaluate(df, wb.Suite(name="t", tasks=[task]), save=False)
    assert run.results["status"].tolist() == [P, F]


def test_trajectory_matching_is_one_to_one_and_exact() -> None:
    """A greedy pass would give the first search to the name-only reference and then miss
    the one with arguments; the matching finds the assignment that fits both."""
    calls = [("search", {"q": "a"}), ("search", {"q": "b"})]
    expected = {"calls": ["search", {"name": "search", "arguments": {"q": "a"}}], "mode": "unordered"}
    results = evaluate(
        [openai_chat(calls)],
        wb.AssertionTask(id="t", path="response", op="trajectory_match", expected=expected),
    )
    assert results["status"].tolist() == [P]
    twice = {"calls": [{"name": "search", "arguments": {"q": "a"}}] * 2, "mode": "superset"}
    results = evaluate(
        [openai_chat(calls)], wb.AssertionTask(id="t", path="response", op="trajectory_match", expected=twice)
    )
    assert results["status"].tolist() == [F]  # one call cannot stand for two reference calls


# --- expected values checked when the suite is built ------------------------------------------


@pytest.mark.parametrize(
    ("op", "expected", "message"),
    [
        (
            "tool_called",
            None,
            (
                "operator 'tool_called' needs a tool name (or a non-empty list of names) as expected, "
                "none was given"
            ),
        ),
        ("tool_called", 3, "needs a tool name"),
        (
            "tool_called_with_args",
            {"name": "f"},
            "needs {name: <tool>, arguments: {<name>: <value>, ...}} as expected",
        ),
        (
            "tool_called_with_args",
            {"name": "f", "args": {}},
            "unknown keys ['args'], the keys are ['name', 'arguments']",
        ),
        ("tool_call_count", {"name": "f"}, "give count, min or max"),
        ("tool_call_count", {"count": 1, "max": 2}, "takes count, or min and max, not both"),
        ("tool_call_count", {"min": 3, "max": 2}, "needs min <= max"),
        ("tool_call_count", -1, "needs a count"),
        ("tool_call_sequence", "search", "needs a list of tool names as expected"),
        ("tools_valid", "nope", "needs the offered tools as expected"),
        (
            "trajectory_match",
            {"calls": [], "mode": "loose"},
            "needs mode to be one of ['strict', 'unordered', 'subset', 'superset']",
        ),
        (
            "trajectory_match",
            {"calls": [], "args": "fuzzy"},
            "needs args to be one of ['exact', 'ignore', 'subset', 'superset']",
        ),
        ("trajectory_match", {"mode": "strict"}, "the reference 'calls' are missing"),
    ],
)
def test_bad_expected_is_a_spec_error(op: str, expected: Any, message: str) -> None:
    with pytest.raises(wb.SpecError) as caught:
        wb.Suite(name="s", tasks=[wb.AssertionTask(id="t", path="response", op=op, expected=expected)])
    assert message in str(caught.value)


def test_scouter_camel_case_names_resolve() -> None:
    for camel in ("ToolCalled", "ToolNotCalled", "ToolCalledWithArgs", "ToolCallSequence", "ToolCallCount"):
        assert lookup(camel).op.name in AGENT_OPS


# --- a realistic column: many rows, fast paths agree with the per-value path ----------------


def many_rows() -> list[Any]:
    shapes = [
        openai_chat(CALLS),
        openai_chat(CALLS[:1], "Here."),
        openai_chat([("get_weather", '{"city": Paris}')]),
        openai_chat([("search_kb", {"query": "x"})] * 4),
        anthropic(CALLS),
        gemini(CALLS[::-1]),
        {"answer": "not a response"},
        None,
        openai_chat(),
    ]
    return [shapes[i % len(shapes)] for i in range(90)]


def test_fast_paths_agree_with_the_per_value_path(monkeypatch: pytest.MonkeyPatch) -> None:
    values = many_rows()
    all_tasks = [*tasks("", "response.tool_calls"), *tasks("not_", "response.tool_calls")]
    for i, t in enumerate(all_tasks):
        all_tasks[i] = t.model_copy(update={"id": f"{t.id}{'n' if t.op.startswith('not_') else ''}"})
    fast = evaluate(values, *all_tasks)
    monkeypatch.setattr(_vector, "ENABLED", False)
    slow = evaluate(values, *all_tasks)
    columns = ["row", "task", "status", "reason", "error"]
    pd.testing.assert_frame_equal(fast[columns], slow[columns])


def test_a_list_of_responses_api_items_is_read_as_a_conversation() -> None:
    items = [
        {
            "type": "function_call",
            "call_id": "c1",
            "name": "search_kb",
            "arguments": '{"query": "refund policy"}',
        },
        {"type": "function_call_output", "call_id": "c1", "output": "30 days"},
    ]
    results = evaluate(
        [items],
        wb.AssertionTask(
            id="args",
            path="response",
            op="tool_called_with_args",
            expected={"name": "search_kb", "arguments": {"query": "refund policy"}},
        ),
        wb.AssertionTask(id="traj", path="response", op="trajectory_match", expected={"calls": items}),
    )
    assert results["status"].tolist() == [P, P]
