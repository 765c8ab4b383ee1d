"""Each provider's responses and messages, read into one record."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import shorten
from ..paths import json_type, loads_json
from ._base import ResponseError, either_case
from ._tools import offered_list

__all__ = ["READERS", "Builder", "complete", "fast_record"]

_TEXT_PARTS = frozenset(("text", "output_text", "input_text"))
_ANTHROPIC_CALLS = frozenset(("tool_use", "server_tool_use", "mcp_tool_use"))


# --- the record being built ----------------------------------------------------------------


class Builder:
    """Collects one response or conversation, item by item: its calls (results matched to
    them by id), the last turn's text, the figures of its responses.

    Example:
        >>> b = Builder()
        >>> b.call("search", '{"q": "refunds"}', "c1", parse=True)
        >>> b.result("c1", "30 days")
        >>> b.record(raw=None)["tool_calls"]
        [{'name': 'search', 'arguments': {'q': 'refunds'}, 'id': 'c1', 'result': '30 days'}]
    """

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        self.text: str | None = None
        self.model: str | None = None
        self.finish: str | None = None
        self.tokens: list[int | None] = [None, None, None]
        self.tools: list[dict[str, Any]] | None = None
        self.provider: str | None = None

    def saw(self, provider: str) -> None:
        if self.provider is None:
            self.provider = provider

    def call(self, name: Any, arguments: Any, call_id: Any, *, parse: bool, result: Any = None) -> None:
        if not isinstance(name, str) or not name:
            raise ResponseError(f"holds a tool call without a name (name: {shorten(repr(name), 30)})")
        call: dict[str, Any] = {"name": name, "arguments": arguments}
        call["id"] = call_id if isinstance(call_id, str) and call_id else None
        call["result"] = result
        if parse and isinstance(arguments, str):
            try:
                call["arguments"] = loads_json(arguments) if arguments.strip() else {}
            except ValueError as e:
                call["arguments_error"] = str(e.args[0]) if e.args else str(e)
        self.calls.append(call)
        if call["id"] is not None:
            self.by_id[call["id"]] = call

    def result(self, call_id: Any, value: Any, name: Any = None) -> None:
        """The result of the call with this id; without an id (Gemini), of the first call of
        that name that has none yet."""
        call = self.by_id.get(call_id) if isinstance(call_id, str) else None
        if call is None and isinstance(name, str):
            call = next((c for c in self.calls if c["name"] == name and c["result"] is None), None)
        if call is not None:
            call["result"] = value

    def usage(self, inp: Any, out: Any, total: Any = None) -> None:
        counts = [_int(inp), _int(out), _int(total)]
        if counts[2] is None and counts[0] is not None and counts[1] is not None:
            counts[2] = counts[0] + counts[1]
        for i, n in enumerate(counts):
            if n is not None:
                self.tokens[i] = n if self.tokens[i] is None else self.tokens[i] + n  # type: ignore[operator]

    def record(self, raw: Any) -> dict[str, Any]:
        """The core record; :func:`complete` adds the :data:`~workbench.responses.DERIVED` fields."""
        return {
            "tool_calls": self.calls,
            "content": self.text or None,
            "model": self.model,
            "finish_reason": self.finish,
            "input_tokens": self.tokens[0],
            "output_tokens": self.tokens[1],
            "total_tokens": self.tokens[2],
            "tools": self.tools,
            "provider": self.provider,
            "raw": raw,
        }


def complete(record: dict[str, Any]) -> dict[str, Any]:
    """Add the fields computed from ``tool_calls`` to a record (one of
    :func:`~workbench.responses.normalize_column`'s), in place; a record that has them is
    returned as it is: ``tool_names``, and per name the ``tool_args`` and ``tool_results`` of
    its first call.

    Example:
        >>> b = Builder()
        >>> b.call("search", '{"q": "refunds"}', "c1", parse=True)
        >>> complete(b.record(raw=None))["tool_args"]
        {'search': {'q': 'refunds'}}
    """
    if "tool_names" in record:
        return record
    calls = record["tool_calls"]
    args: dict[str, Any] = {}
    results: dict[str, Any] = {}
    for c in calls:
        if c["name"] not in args:
            args[c["name"]] = c["arguments"]
            results[c["name"]] = c["result"]
    record["tool_names"] = [c["name"] for c in calls]
    record["tool_args"] = args
    record["tool_results"] = results
    return record


def _int(v: Any) -> int | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return int(v)


def _text(parts: Any) -> str | None:
    """The text of a message's content: a string, or the text parts of a list."""
    if isinstance(parts, str):
        return parts
    if not isinstance(parts, list):
        return None
    texts = [p["text"] for p in parts if type(p) is dict and p.get("type") in _TEXT_PARTS and "text" in p]
    return "".join(t for t in texts if isinstance(t, str)) if texts else None


def _malformed(where: str, what: str) -> ResponseError:
    return ResponseError(f"holds a malformed {what}: {where}")


# --- one provider's items -------------------------------------------------------------------


def _openai_message(b: Builder, m: Mapping[str, Any]) -> None:
    role = m.get("role")
    if role in ("assistant", "ai"):
        b.text = _text(m.get("content"))
        for i, tc in enumerate(m.get("tool_calls") or ()):
            if type(tc) is not dict:
                raise _malformed(f"tool_calls[{i}] is {json_type(tc)}, not an object", "OpenAI message")
            fn = tc.get("function")
            if type(fn) is dict:
                b.call(fn.get("name"), fn.get("arguments"), tc.get("id"), parse=True)
            elif "name" in tc:  # already parsed, as LangChain and openevals write them
                b.call(tc["name"], tc.get("args", tc.get("arguments")), tc.get("id"), parse=True)
            else:
                raise _malformed(f"tool_calls[{i}] has no 'function'", "OpenAI message")
        legacy = m.get("function_call")
        if type(legacy) is dict:
            b.call(legacy.get("name"), legacy.get("arguments"), None, parse=True)
    elif role == "tool":
        b.result(m.get("tool_call_id"), m.get("content"))
    elif role == "function":
        b.result(None, m.get("content"), m.get("name"))
    if isinstance(m.get("content"), list) and role != "assistant":  # Anthropic tool results
        _anthropic_blocks(b, m["content"], assistant=False)


def _openai_chat(b: Builder, r: Mapping[str, Any]) -> None:
    b.saw("openai")
    choices = r.get("choices")
    if not isinstance(choices, list) or not choices:
        raise _malformed("'choices' is not a non-empty array", "OpenAI chat completion")
    first = choices[0]
    if type(first) is not dict or type(first.get("message")) is not dict:
        raise _malformed("choices[0] has no 'message' object", "OpenAI chat completion")
    _openai_message(b, first["message"])
    b.finish = first.get("finish_reason")
    b.model = r.get("model") or b.model
    u = r.get("usage")
    if type(u) is dict:
        b.usage(u.get("prompt_tokens"), u.get("completion_tokens"), u.get("total_tokens"))


def _responses_item(b: Builder, item: Mapping[str, Any]) -> None:
    kind = item.get("type")
    if kind == "message":
        if item.get("role") == "assistant":
            b.text = _text(item.get("content"))
        return
    if kind == "function_call":
        b.call(item.get("name"), item.get("arguments"), item.get("call_id"), parse=True)
    elif kind == "custom_tool_call":  # free-form text input, not JSON
        b.call(item.get("name"), item.get("input"), item.get("call_id"), parse=False)
    elif kind == "mcp_call":
        b.call(item.get("name"), item.get("arguments"), item.get("id"), parse=True, result=item.get("output"))
    elif kind in ("function_call_output", "custom_tool_call_output"):
        b.result(item.get("call_id"), item.get("output"))
    elif isinstance(kind, str) and kind.endswith("_call") and kind != "reasoning":
        # built-in tools (web_search_call, ...): the tool is named by the item's type
        b.call(
            kind[: -len("_call")],
            item.get("action") or {},
            item.get("call_id") or item.get("id"),
            parse=False,
        )
    elif isinstance(kind, str) and kind.endswith("_call_output"):
        b.result(item.get("call_id"), item.get("output"))


def _openai_responses(b: Builder, r: Mapping[str, Any]) -> None:
    b.saw("openai_responses")
    b.text = None
    for i, item in enumerate(r.get("output") or ()):
        if type(item) is not dict:
            raise _malformed(
                f"output[{i}] is {json_type(item)}, not an object", "OpenAI responses API response"
            )
        _responses_item(b, item)
    status = r.get("status")
    details = r.get("incomplete_details")
    b.finish = details.get("reason") if status == "incomplete" and type(details) is dict else status
    b.model = r.get("model") or b.model
    u = r.get("usage")
    if type(u) is dict:
        b.usage(u.get("input_tokens"), u.get("output_tokens"), u.get("total_tokens"))
    if isinstance(r.get("tools"), list):
        b.tools = offered_list(r["tools"])


def _anthropic_blocks(b: Builder, blocks: list[Any], *, assistant: bool) -> None:
    texts: list[str] = []
    for block in blocks:
        if type(block) is not dict:
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind in _ANTHROPIC_CALLS:
            b.call(block.get("name"), block.get("input"), block.get("id"), parse=False)
        elif isinstance(kind, str) and kind.endswith("tool_result"):
            b.result(block.get("tool_use_id"), _tool_result_content(block.get("content")))
    if assistant:
        b.text = "".join(texts) if texts else None


def _tool_result_content(content: Any) -> Any:
    """A tool result's content: its text when it is text blocks only, else as given."""
    if (
        isinstance(content, list)
        and content
        and all(type(c) is dict and c.get("type") == "text" for c in content)
    ):
        return "".join(str(c.get("text", "")) for c in content)
    return content


def _anthropic(b: Builder, m: Mapping[str, Any]) -> None:
    b.saw("anthropic")
    content = m.get("content")
    if m.get("role") == "assistant":
        if isinstance(content, str):
            b.text = content
        elif isinstance(content, list):
            _anthropic_blocks(b, content, assistant=True)
        else:
            raise _malformed("'content' is neither text nor an array of blocks", "Anthropic message")
    elif isinstance(content, list):
        _anthropic_blocks(b, content, assistant=False)
    if m.get("type") == "message":
        b.finish = m.get("stop_reason")
        b.model = m.get("model") or b.model
        u = m.get("usage")
        if type(u) is dict:
            b.usage(u.get("input_tokens"), u.get("output_tokens"))


def _gemini_content(b: Builder, content: Mapping[str, Any]) -> None:
    parts = content.get("parts") or []
    if not isinstance(parts, list):
        raise _malformed("'parts' is not an array", "Gemini content")
    texts: list[str] = []
    for part in parts:
        if type(part) is not dict:
            continue
        if isinstance(part.get("text"), str) and not part.get("thought"):  # thoughts are not the reply
            texts.append(part["text"])
        fc = either_case(part, "functionCall", "function_call")
        if type(fc) is dict:
            b.call(fc.get("name"), fc.get("args") or {}, fc.get("id"), parse=False)
        fr = either_case(part, "functionResponse", "function_response")
        if type(fr) is dict:
            b.result(fr.get("id"), fr.get("response"), fr.get("name"))
    if content.get("role") == "model":
        b.text = "".join(texts) if texts else None


def _gemini(b: Builder, r: Mapping[str, Any]) -> None:
    b.saw("gemini")
    candidates = r.get("candidates")
    if candidates is not None:
        if not isinstance(candidates, list) or not candidates or type(candidates[0]) is not dict:
            raise _malformed("'candidates' is not a non-empty array of objects", "Gemini response")
        first = candidates[0]
        content = first.get("content")
        if content is not None and type(content) is not dict:
            raise _malformed("candidates[0].content is not an object", "Gemini response")
        if content is not None:
            _gemini_content(b, {"role": "model", **content})
        b.finish = either_case(first, "finishReason", "finish_reason")
    else:  # a Google ADK event: the content at the top
        _gemini_content(b, r["content"])
        b.finish = either_case(r, "finishReason", "finish_reason") or b.finish
    b.model = either_case(r, "modelVersion", "model_version") or b.model
    u = either_case(r, "usageMetadata", "usage_metadata")
    if type(u) is dict:
        b.usage(
            either_case(u, "promptTokenCount", "prompt_token_count"),
            either_case(u, "candidatesTokenCount", "candidates_token_count"),
            either_case(u, "totalTokenCount", "total_token_count"),
        )


_fast_loads: Any
try:  # the fast path parses arguments with orjson; loads_json decides whatever it refuses
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency
    _fast_loads = loads_json


def fast_record(r: dict[str, Any]) -> dict[str, Any] | None:
    """The record of a plain OpenAI chat completion, built without the general machinery (a
    column of 100,000 costs half as much), or None for anything unusual (legacy function
    calls, content parts, arguments orjson refuses...), which the general path then reads.
    A test holds the two paths to the same records.

    Example:
        >>> message = {"role": "assistant", "content": "Paris."}
        >>> fast_record({"model": "m", "choices": [{"message": message, "finish_reason": "stop"}]})["content"]
        'Paris.'
        >>> parts = {"role": "assistant", "content": [{"type": "text", "text": "Paris."}]}
        >>> fast_record({"choices": [{"message": parts}]}) is None  # content parts: the general path
        True
    """
    choices = r["choices"]
    if type(choices) is not list or not choices:
        return None
    first = choices[0]
    if type(first) is not dict:
        return None
    m = first.get("message")
    if type(m) is not dict or m.get("role") != "assistant" or m.get("function_call") is not None:
        return None
    content = m.get("content")
    if content is not None and type(content) is not str:
        return None
    calls = []
    tcs = m.get("tool_calls")
    if tcs:
        if type(tcs) is not list:
            return None
        for tc in tcs:
            fn = tc.get("function") if type(tc) is dict else None
            if type(fn) is not dict:
                return None
            name, args, cid = fn.get("name"), fn.get("arguments"), tc.get("id")
            if type(name) is not str or not name or type(args) is not str:
                return None
            try:
                parsed = _fast_loads(args) if args else {}
            except ValueError:
                return None
            calls.append(
                {
                    "name": name,
                    "arguments": parsed,
                    "id": cid if type(cid) is str and cid else None,
                    "result": None,
                }
            )
    inp = out = total = None
    u = r.get("usage")
    if type(u) is dict:
        inp, out, total = (
            _int(u.get("prompt_tokens")),
            _int(u.get("completion_tokens")),
            _int(u.get("total_tokens")),
        )
        if total is None and inp is not None and out is not None:
            total = inp + out
    return {
        "tool_calls": calls,
        "content": content or None,
        "model": r.get("model") or None,
        "finish_reason": first.get("finish_reason"),
        "input_tokens": inp,
        "output_tokens": out,
        "total_tokens": total,
        "tools": None,
        "provider": "openai",
        "raw": r,
    }


def _gemini_part_list(b: Builder, v: Mapping[str, Any]) -> None:
    b.saw("gemini")
    _gemini_content(b, v)


def _responses_one(b: Builder, v: Mapping[str, Any]) -> None:
    b.saw("openai_responses")
    _responses_item(b, v)


def _message(b: Builder, v: Mapping[str, Any]) -> None:
    if v.get("tool_calls") or v.get("role") == "tool":
        b.saw("openai")
    _openai_message(b, v)


READERS: dict[str, Callable[[Builder, Mapping[str, Any]], None]] = {
    "openai": _openai_chat,
    "gemini": _gemini,
    "openai_responses": _openai_responses,
    "anthropic": _anthropic,
    "gemini_content": _gemini_part_list,
    "responses_item": _responses_one,
    "message": _message,
}
"""What reads one item of each kind (a provider's response, or a message of a conversation)
into a :class:`Builder`."""
