"""Provider responses as columns: every shape normalised to the same fields, reached by paths
through ``wb.evaluate``; conversations give tool results; SDK objects and JSON strings too.

The builders here write each provider's response the way its API returns it; the operator
tests import them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from pydantic import BaseModel

import workbench as wb
from workbench.context import Context
from workbench.responses import (
    ResponseError,
    detect,
    normalize,
    normalize_column,
    offered_tools,
    tool_calls_frame,
)

Calls = list[tuple[str, Any]]

CALLS: Calls = [("search_kb", {"query": "refund policy", "limit": 5}), ("get_weather", {"city": "Paris"})]


def openai_chat(calls: Calls = (), text: str | None = None, *, model: str = "gpt-4o-mini") -> dict[str, Any]:  # type: ignore[assignment]
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": n, "arguments": a if isinstance(a, str) else json.dumps(a)},
            }
            for i, (n, a) in enumerate(calls)
        ]
    return {
        "id": "chatcmpl-AbC",
        "object": "chat.completion",
        "created": 1764590000,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    }


def openai_responses(calls: Calls = (), text: str | None = None, *, model: str = "gpt-4.1") -> dict[str, Any]:  # type: ignore[assignment]
    output: list[dict[str, Any]] = [{"type": "reasoning", "id": "rs_1", "summary": []}]
    output += [
        {
            "type": "function_call",
            "id": f"fc_{i}",
            "call_id": f"call_{i}",
            "name": n,
            "arguments": a if isinstance(a, str) else json.dumps(a),
            "status": "completed",
        }
        for i, (n, a) in enumerate(calls)
    ]
    if text:
        output.append(
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        )
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1764590000,
        "status": "completed",
        "model": model,
        "output": output,
        "usage": {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150},
    }


def anthropic(
    calls: Calls = (), text: str | None = None, *, model: str = "claude-sonnet-4-5"
) -> dict[str, Any]:  # type: ignore[assignment]
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [
        {"type": "tool_use", "id": f"toolu_{i}", "name": n, "input": a} for i, (n, a) in enumerate(calls)
    ]
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 120, "output_tokens": 30},
    }


def gemini(calls: Calls = (), text: str | None = None, *, model: str = "gemini-2.5-flash") -> dict[str, Any]:  # type: ignore[assignment]
    parts: list[dict[str, Any]] = [{"text": text}] if text else []
    parts += [{"functionCall": {"name": n, "args": a}} for n, a in calls]
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 120, "candidatesTokenCount": 30, "totalTokenCount": 150},
        "modelVersion": model,
        "responseId": "r-1",
    }


PROVIDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "openai": openai_chat,
    "openai_responses": openai_responses,
    "anthropic": anthropic,
    "gemini": gemini,
}
FINISH = {"openai": "tool_calls", "openai_responses": "completed", "anthropic": "tool_use", "gemini": "STOP"}
MALFORMED = {
    "openai": ({"model": "gpt-4o", "choices": "none"}, "'choices' is not a non-empty array"),
    "openai_responses": ({"object": "response", "status": "completed", "output": [7]}, "output[0] is number"),
    "anthropic": (
        {"type": "message", "role": "assistant", "content": 7, "usage": {}},
        "'content' is neither",
    ),
    "gemini": ({"candidates": [{"content": "text"}]}, "candidates[0].content is not an object"),
}


def evaluate(values: list[Any], *tasks: wb.AssertionTask) -> pd.DataFrame:
    """The results of ``tasks`` over a ``response`` column holding ``values`` (object cells)."""
    df = pd.DataFrame({"response": pd.Series(values, dtype=object)})
    return wb.evaluate(df, wb.Suite(name="agent", tasks=list(tasks)), save=False).results


def cell(results: pd.DataFrame, task: str, row: int = 0) -> pd.Series:
    return results[(results["task"] == task) & (results["row"] == row)].iloc[0]


# --- every provider, the same fields -------------------------------------------------------

FIELD_TASKS = [
    wb.AssertionTask(id="content", path="response.content", op="equals", expected="Paris is sunny."),
    wb.AssertionTask(id="model", path="response.model", op="starts_with", expected="g"),
    wb.AssertionTask(id="input", path="response.input_tokens", op="equals", expected=120),
    wb.AssertionTask(id="output", path="response.output_tokens", op="equals", expected=30),
    wb.AssertionTask(id="total", path="response.total_tokens", op="equals", expected=150),
    wb.AssertionTask(
        id="names", path="response.tool_names", op="sequence_matches", expected=["search_kb", "get_weather"]
    ),
    wb.AssertionTask(id="city", path="response.tool_args.get_weather.city", op="equals", expected="Paris"),
    wb.AssertionTask(id="limit", path="response.tool_calls.0.arguments.limit", op="equals", expected=5),
    wb.AssertionTask(id="count", path="response.tool_calls", op="has_length_equal", expected=2),
]


@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("form", ["dict", "json"])
def test_every_provider_gives_the_same_fields(provider: str, form: str) -> None:
    value = PROVIDERS[provider](CALLS, "Paris is sunny.", model="gx-1")
    results = evaluate([value if form == "dict" else json.dumps(value)], *FIELD_TASKS)
    assert dict(zip(results["task"], results["status"])) == {t.id: "passed" for t in FIELD_TASKS}, results[
        ["task", "reason", "error"]
    ]


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_finish_reason_is_the_providers_own_word(provider: str) -> None:
    results = evaluate(
        [PROVIDERS[provider](CALLS)],
        wb.AssertionTask(id="finish", path="response.finish_reason", op="equals", expected=FINISH[provider]),
        wb.AssertionTask(id="provider", path="response.provider", op="equals", expected=provider),
    )
    assert results["status"].tolist() == ["passed", "passed"]


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_no_text_is_null_content(provider: str) -> None:
    results = evaluate(
        [PROVIDERS[provider](CALLS)], wb.AssertionTask(id="c", path="response.content", op="is_null")
    )
    assert results["status"].tolist() == ["passed"]


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_a_malformed_response_is_an_error_cell_saying_what_is_wrong(provider: str) -> None:
    bad, says = MALFORMED[provider]
    good = PROVIDERS[provider](CALLS)
    results = evaluate(
        [bad, good],
        wb.AssertionTask(id="n", path="response.tool_names", op="contains", expected="get_weather"),
    )
    assert results["status"].tolist() == ["error", "passed"]  # one bad row never costs the others
    assert says in cell(results, "n")["error"]
    assert cell(results, "n")["error"].startswith(
        "contains at path 'response.tool_names': 'response' holds a malformed"
    )


def test_a_cell_without_a_response_says_what_it_holds() -> None:
    results = evaluate(
        [openai_chat(CALLS), {"answer": "Paris"}, None, '{"answer": "Paris"}'],
        wb.AssertionTask(id="c", path="response.tool_calls", op="tool_called", expected="get_weather"),
    )
    assert results["status"].tolist() == ["passed", "error", "error", "error"]
    errors = results["error"].tolist()
    assert errors[1] == (
        "tool_called at path 'response.tool_calls': 'response' holds no provider response; it holds an "
        "object with keys ['answer'], so it has no 'tool_calls'"
    )
    assert (
        errors[2]
        == "tool_called at path 'response.tool_calls': 'response' is null, so it has no 'tool_calls'"
    )
    assert "keys ['answer']" in errors[3]


def test_raw_keys_stay_where_the_provider_put_them() -> None:
    results = evaluate(
        [openai_chat(CALLS), anthropic(CALLS, "Hi")],
        wb.AssertionTask(id="raw", path="response.raw.content.0.text", op="equals", expected="Hi"),
        wb.AssertionTask(id="id", path="response.id", op="is_string"),
    )
    raw = results[results["task"] == "raw"]
    assert raw["status"].tolist() == ["error", "passed"]  # Anthropic's blocks are under raw
    assert results[results["task"] == "id"]["status"].tolist() == ["passed", "passed"]


def test_a_column_without_responses_keeps_its_own_keys_and_messages() -> None:
    """A field name such as ``model`` in an ordinary column is that column's key, as before."""
    df = pd.DataFrame({"meta": pd.Series([{"model": "v2"}, {"version": 3}], dtype=object)})
    run = wb.evaluate(
        df,
        wb.Suite(name="m", tasks=[wb.AssertionTask(id="m", path="meta.model", op="equals", expected="v2")]),
        save=False,
    )
    assert run.results["status"].tolist() == ["passed", "error"]
    assert (
        run.results["error"].iloc[1]
        == "equals at path 'meta.model': 'meta' has no key 'model'; its keys are ['version']"
    )


# --- conversations: every call, its result, the last turn's text -------------------------------


def test_an_openai_conversation_gives_calls_with_their_results() -> None:
    first = openai_chat(CALLS)
    conversation = [
        {"role": "system", "content": "You are a travel assistant."},
        {"role": "user", "content": "Refunds? And the weather in Paris?"},
        first,  # an agent loop records each model response whole
        {"role": "tool", "tool_call_id": "call_0", "content": "Refunds within 30 days."},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"sky": "sunny", "c": 21}'},
        {"role": "assistant", "content": "Refunds take 30 days; Paris is sunny."},
    ]
    record = normalize(conversation)
    assert [c["result"] for c in record["tool_calls"]] == [
        "Refunds within 30 days.",
        '{"sky": "sunny", "c": 21}',
    ]
    assert record["content"] == "Refunds take 30 days; Paris is sunny."
    assert record["total_tokens"] == 150 and record["finish_reason"] == "tool_calls"
    results = evaluate(
        [conversation],
        wb.AssertionTask(
            id="sky", path="response.tool_results.get_weather.sky", op="equals", expected="sunny"
        ),
    )
    assert results["status"].tolist() == ["passed"]  # a JSON result is walked into like any JSON string


def test_an_anthropic_conversation_matches_results_by_tool_use_id() -> None:
    conversation = [
        {"role": "user", "content": "Weather in Oslo?"},
        anthropic([("get_weather", {"city": "Oslo"})]),
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_0",
                    "content": [{"type": "text", "text": "rain"}],
                }
            ],
        },
        anthropic([], "It rains in Oslo."),
    ]
    record = normalize(conversation)
    assert record["tool_calls"] == [
        {"name": "get_weather", "arguments": {"city": "Oslo"}, "id": "toolu_0", "result": "rain"}
    ]
    assert (record["content"], record["input_tokens"], record["provider"]) == (
        "It rains in Oslo.",
        240,
        "anthropic",
    )


def test_a_gemini_conversation_matches_results_by_name() -> None:
    contents = [
        {"role": "user", "parts": [{"text": "Weather in Rome?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}]},
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"sky": "clear"}}}],
        },
        {"role": "model", "parts": [{"text": "Clear skies."}]},
    ]
    record = normalize(contents)
    assert record["tool_calls"][0]["result"] == {"sky": "clear"}
    assert (record["content"], record["provider"]) == ("Clear skies.", "gemini")


def test_a_responses_api_input_gives_function_call_outputs() -> None:
    items = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Order 7?"}]},
        {"type": "function_call", "call_id": "c7", "name": "lookup_order", "arguments": '{"id": 7}'},
        {"type": "function_call_output", "call_id": "c7", "output": "shipped"},
    ]
    assert normalize(items)["tool_calls"] == [
        {"name": "lookup_order", "arguments": {"id": 7}, "id": "c7", "result": "shipped"}
    ]


def test_gemini_as_its_python_sdk_dumps_it_and_google_adk_events() -> None:
    snake = {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"function_call": {"name": "f", "args": {"a": 1}}}]},
                "finish_reason": "STOP",
            }
        ],
        "usage_metadata": {"prompt_token_count": 5, "candidates_token_count": 2},
        "model_version": "gemini-2.5-pro",
    }
    adk = {
        "model_version": "gemini-3-flash-preview",
        "content": {
            "role": "model",
            "parts": [{"function_call": {"name": "transfer_to_agent", "args": {"agent_name": "Chef"}}}],
        },
        "finish_reason": "STOP",
    }
    assert (normalize(snake)["tool_names"], normalize(snake)["total_tokens"]) == (["f"], 7)
    assert (normalize(adk)["tool_names"], normalize(adk)["finish_reason"]) == (["transfer_to_agent"], "STOP")


def test_a_request_response_record_gives_the_offered_tools() -> None:
    record = {
        "request": {
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [
                {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
            ],
        },
        "response": openai_chat([("get_weather", {"city": "Paris"})]),
    }
    assert normalize(record)["tools"] == [
        {"name": "get_weather", "description": None, "parameters": {"type": "object"}}
    ]
    assert detect(record) == "openai"


def test_arguments_that_are_not_json_stay_text_and_say_why() -> None:
    (call,) = normalize(openai_chat([("get_weather", '{"city": Paris}')]))["tool_calls"]
    assert call["arguments"] == '{"city": Paris}'
    assert call["arguments_error"].startswith("Expecting value")


# --- the forms a cell takes ---------------------------------------------------------------


class AnthropicMessage(BaseModel):
    """A stand-in for an SDK's pydantic response (the SDKs are no dependency of workbench)."""

    id: str
    type: str
    role: str
    model: str
    content: list[dict[str, Any]]
    stop_reason: str | None
    usage: dict[str, int]


def test_sdk_objects_are_normalised_and_walked() -> None:
    from openai.types.chat import ChatCompletion  # installed with litellm

    completion = ChatCompletion.model_validate(openai_chat(CALLS, model="gpt-4o"))
    message = AnthropicMessage(**{k: v for k, v in anthropic(CALLS).items() if k != "stop_sequence"})
    results = evaluate(
        [completion, message],
        wb.AssertionTask(id="called", path="response.tool_calls", op="tool_called", expected="get_weather"),
        wb.AssertionTask(id="whole", path="response", op="tool_called", expected="search_kb"),
        wb.AssertionTask(id="role", path="response.raw.id", op="is_string"),
    )
    assert set(results["status"]) == {"passed"}, results[["task", "row", "error"]]
    raw = evaluate(
        [completion],
        wb.AssertionTask(id="r", path="response.choices.0.message.role", op="equals", expected="assistant"),
    )
    assert raw["status"].tolist() == ["passed"]  # raw paths walk the SDK object's dump


def test_the_column_is_normalised_once_and_shared_by_every_task() -> None:
    df = pd.DataFrame({"response": [json.dumps(openai_chat(CALLS))] * 3})
    ctx = Context(df)
    calls, _ = ctx.extract("response.tool_calls")
    names, _ = ctx.extract("response.tool_names")
    content, _ = ctx.extract("response.content")
    records, _ = ctx.responses("response")
    assert ctx.responses("response")[0] is records
    assert all(calls[i] is records[i]["tool_calls"] for i in range(3))  # the same objects, not a copy
    assert records[0]["raw"] is ctx.parsed_column("response")[0][0]  # parsed once, with every path into it
    assert names.tolist() == [["search_kb", "get_weather"]] * 3 and content.isna().all()


def test_normalize_column_says_why_per_cell() -> None:
    records, why = normalize_column([openai_chat(), {"answer": 1}, gemini([("f", {})]), [], None])
    assert [r is not None for r in records] == [True, False, True, False, False]
    assert why == [
        None,
        "holds no provider response; it holds an object with keys ['answer']",
        None,
        "holds no provider response; it holds an empty array",
        "is null",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Sorry, no.", "got a string that is not JSON: 'Sorry, no.'"),
        (3, "got number (3)"),
        ({"answer": "x"}, "got an object with keys ['answer']"),
        ([{"x": 1}], "item 0 of the conversation is not a message or a response: an object with keys ['x']"),
        (
            {
                "choices": [
                    {"message": {"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}}
                ]
            },
            "holds a tool call without a name",
        ),
    ],
    ids=["text", "number", "object", "conversation-item", "nameless-call"],
)
def test_normalize_refuses_what_is_no_response(value: Any, message: str) -> None:
    with pytest.raises(ResponseError) as caught:
        normalize(value)
    assert message in str(caught.value)


def test_offered_tools_of_every_provider() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    forms = [
        [{"type": "function", "function": {"name": "get_weather", "parameters": schema}}],
        [{"type": "function", "name": "get_weather", "parameters": schema}],
        [{"name": "get_weather", "input_schema": schema}],
        [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {"city": {"type": "STRING"}},
                            "required": ["city"],
                        },
                    }
                ]
            }
        ],
        {"get_weather": schema},
    ]
    for tools in forms:
        assert offered_tools(tools)["get_weather"]["parameters"] == schema, tools


def test_tool_calls_frame_is_one_row_per_call() -> None:
    s = pd.Series([openai_chat(CALLS), anthropic(), "oops"], index=["a", "b", "c"])
    frame = tool_calls_frame(s)
    assert frame[["row", "position", "name"]].fillna("-").values.tolist() == [
        ["a", 0, "search_kb"],
        ["a", 1, "get_weather"],
        ["c", 0, "-"],
    ]
    assert frame["error"].iloc[2].startswith("needs a provider response")
    assert str(frame["name"].dtype) == "string"


class Undumpable:
    """An object whose model_dump fails, as a half-built SDK object might."""

    def model_dump(self, **_: Any) -> dict[str, Any]:
        raise RuntimeError("not serialisable")


def test_odd_cells_are_their_rows_errors_and_never_the_runs() -> None:
    nan_usage = {**openai_chat(CALLS), "usage": {"prompt_tokens": float("nan"), "completion_tokens": 3}}
    values = [
        nan_usage,
        {"request": {"messages": []}, "response": '{"choices": [tru'},
        {"request": {"messages": []}, "response": {"response": 5}},
        Undumpable(),
        openai_chat(CALLS),
    ]
    results = evaluate(
        values,
        wb.AssertionTask(id="n", path="response.tool_names", op="contains", expected="get_weather"),
        wb.AssertionTask(id="t", path="response.input_tokens", op="is_null"),
    )
    assert results[results["task"] == "n"]["status"].tolist() == [
        "passed",
        "error",
        "error",
        "error",
        "passed",
    ]
    assert cell(results, "t", 0)["status"] == "passed"  # a count that is not a number is no count
    errors = results[results["task"] == "n"]["error"].tolist()
    assert "has at response a string that is not JSON" in errors[1]
    assert "has at response.response a value that is not a provider response" in errors[2]
    assert "could not be read as a provider response: RuntimeError: not serialisable" in errors[3]


@pytest.mark.parametrize(
    "response",
    [
        openai_chat(CALLS, "Both done."),
        openai_chat(),
        openai_chat([("get_weather", '{"city": Paris}')]),  # arguments that do not parse
        openai_chat([("get_weather", "")]),
        {**openai_chat(CALLS), "usage": None},
        {**openai_chat(CALLS), "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
        {**openai_chat(CALLS), "model": ""},
        {
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "function_call": {"name": "f", "arguments": "{}"},
                    }
                }
            ]
        },
        {"choices": [{"message": {"role": "assistant", "content": [{"type": "text", "text": "parts"}]}}]},
        {
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "tool_calls": [{"id": "", "function": {"name": "f", "arguments": "[1]"}}],
                    }
                }
            ]
        },
    ],
    ids=[
        "calls",
        "text",
        "bad-args",
        "empty-args",
        "no-usage",
        "no-total",
        "no-model",
        "legacy",
        "parts",
        "no-id",
    ],
)
def test_the_fast_openai_path_gives_the_general_paths_record(response: dict[str, Any]) -> None:
    from workbench.responses._providers import READERS, Builder, fast_record

    builder = Builder()
    READERS["openai"](builder, response)
    general = builder.record(response)
    fast = fast_record(response)
    assert fast is None or fast == general
