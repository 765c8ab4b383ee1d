"""Normalising one response or conversation, and a column of them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import cap_list, shorten
from ..paths import json_type, loads_json, to_plain
from ._base import SHAPES, ResponseError, either_case, got, plain
from ._tools import offered_list

__all__ = ["complete", "detect", "normalize", "normalize_column"]

_RECORD_KEYS = frozenset(("tool_calls", "provider", "raw"))
_ROLES = frozenset(("assistant", "user", "system", "developer", "tool", "function", "model", "ai"))
_RESPONSES_ITEMS = frozenset(
    (
        "message",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "mcp_call",
        "reasoning",
        "web_search_call",
        "file_search_call",
        "computer_call",
        "computer_call_output",
        "code_interpreter_call",
        "image_generation_call",
        "local_shell_call",
        "local_shell_call_output",
    )
)
_TEXT_PARTS = frozenset(("text", "output_text", "input_text"))
_RESPONSES_PARTS = frozenset(("output_text", "input_text", "refusal", "input_image", "input_file"))
_ANTHROPIC_CALLS = frozenset(("tool_use", "server_tool_use", "mcp_tool_use"))


# --- the record being built ----------------------------------------------------------------


class _Builder:
    """Collects one response or conversation, item by item."""

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
    """Add the fields computed from ``tool_calls`` to a record from :func:`normalize_column`
    (in place; a record that has them is returned as it is): ``tool_names``, and per name the
    ``tool_args`` and ``tool_results`` of its first call.

    Example:
        >>> records, _ = normalize_column([{"role": "assistant", "tool_calls": [
        ...     {"id": "c1", "function": {"name": "search", "arguments": '{"q": "refunds"}'}}]}])
        >>> complete(records[0])["tool_args"]
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


def _openai_message(b: _Builder, m: Mapping[str, Any]) -> None:
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


def _openai_chat(b: _Builder, r: Mapping[str, Any]) -> None:
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


def _responses_item(b: _Builder, item: Mapping[str, Any]) -> None:
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


def _openai_responses(b: _Builder, r: Mapping[str, Any]) -> None:
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


def _anthropic_blocks(b: _Builder, blocks: list[Any], *, assistant: bool) -> None:
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


def _anthropic(b: _Builder, m: Mapping[str, Any]) -> None:
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


def _gemini_content(b: _Builder, content: Mapping[str, Any]) -> None:
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


def _gemini(b: _Builder, r: Mapping[str, Any]) -> None:
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


def _openai_fast(r: dict[str, Any]) -> dict[str, Any] | None:
    """The record of a plain OpenAI chat completion, built without the general machinery (a
    column of 100,000 costs half as much), or None for anything unusual (legacy function
    calls, content parts, arguments orjson refuses...), which the general path then reads.
    A test holds the two paths to the same records."""
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


# --- shapes ---------------------------------------------------------------------------------


def _kind(v: Any) -> str | None:
    """What a plain dict is: a response of a provider, a message of a conversation, a wrapper."""
    if type(v) is not dict:
        return None
    if v.keys() >= _RECORD_KEYS:
        return "record"
    choices = v.get("choices")
    if isinstance(choices, list) or (
        choices is not None and ("model" in v or v.get("object") == "chat.completion")
    ):
        return "openai"
    if isinstance(v.get("candidates"), list):
        return "gemini"
    if isinstance(v.get("output"), list) and (v.get("object") == "response" or "status" in v):
        return "openai_responses"
    if v.get("type") == "message":
        if "stop_reason" in v or "usage" in v:
            return "anthropic"
        content = v.get("content")
        if isinstance(content, list) and any(
            type(c) is dict and c.get("type") in _RESPONSES_PARTS for c in content
        ):
            return "responses_item"
        if "role" in v and "content" in v:
            return "anthropic"
    role = v.get("role")
    if isinstance(role, str) and role in _ROLES:
        if isinstance(v.get("parts"), list):
            return "gemini_content"
        content = v.get("content")
        if isinstance(content, list) and any(
            type(c) is dict and c.get("type") in _BLOCK_TYPES for c in content
        ):
            return "anthropic"
        return "message"
    if type(v.get("content")) is dict and isinstance(v["content"].get("parts"), list):
        return "gemini"  # a Google ADK event
    if v.get("type") in _RESPONSES_ITEMS:
        return "responses_item"
    if "response" in v and ("request" in v or len(v) == 1):
        return "exchange"
    if isinstance(v.get("messages"), list):
        return "messages"
    return None


_BLOCK_TYPES = frozenset(
    ("tool_use", "tool_result", "server_tool_use", "mcp_tool_use", "web_search_tool_result", "thinking")
)


def _add(b: _Builder, v: Any, kind: str, where: str) -> None:
    if kind == "openai":
        _openai_chat(b, v)
    elif kind == "gemini":
        _gemini(b, v)
    elif kind == "openai_responses":
        _openai_responses(b, v)
    elif kind == "anthropic":
        _anthropic(b, v)
    elif kind == "gemini_content":
        b.saw("gemini")
        _gemini_content(b, v)
    elif kind == "responses_item":
        b.saw("openai_responses")
        _responses_item(b, v)
    elif kind == "message":
        if v.get("tool_calls") or v.get("role") == "tool":
            b.saw("openai")
        _openai_message(b, v)
    elif kind == "exchange":
        request = v.get("request")
        if type(request) is dict:
            history = request.get("messages") or request.get("input") or request.get("contents")
            if isinstance(history, list):
                _conversation(b, history, _at(where, "request"))
            if isinstance(request.get("tools"), list):
                b.tools = offered_list(request["tools"])
        response = v["response"]
        if isinstance(response, str):  # a log that keeps the response as the provider's JSON text
            try:
                response = loads_json(response)
            except ValueError as e:
                raise ResponseError(
                    f"has at {_at(where, 'response')} a string that is not JSON ({e})"
                ) from None
        _one(b, plain(response), _at(where, "response"))
    elif kind == "messages":
        _conversation(b, v["messages"], _at(where, "messages"))
        if isinstance(v.get("tools"), list):
            b.tools = offered_list(v["tools"])
    elif kind == "record":  # already normalised: take its calls and figures as they are
        for c in v.get("tool_calls") or ():
            b.calls.append(c)
            if isinstance(c, dict) and isinstance(c.get("id"), str):
                b.by_id[c["id"]] = c
        b.text = v.get("content")
        b.model, b.finish, b.provider = (
            v.get("model"),
            v.get("finish_reason"),
            b.provider or v.get("provider"),
        )
        b.usage(v.get("input_tokens"), v.get("output_tokens"), v.get("total_tokens"))
        b.tools = v.get("tools") or b.tools


def _at(where: str, key: str) -> str:
    """Where a nested part is, for messages: ``response``, ``[2].response``."""
    return f"{where}.{key}" if where else key


def _one(b: _Builder, v: Any, where: str) -> None:
    if isinstance(v, list):
        _conversation(b, v, where)
        return
    kind = _kind(v)
    if kind is None:
        raise ResponseError(
            f"has at {where} a value that is not {SHAPES}{_found(v)}"
            if where
            else f"is not {SHAPES}{_found(v)}"
        )
    _add(b, v, kind, where)


def _conversation(b: _Builder, items: list[Any], where: str) -> None:
    for i, item in enumerate(items):
        item = plain(item)
        kind = _kind(item)
        if kind is None:
            raise ResponseError(
                f"item {i} of the conversation{f' at {where}' if where else ''} is not a message or a "
                f"response{_found(item)}"
            )
        _add(b, item, kind, f"{where}[{i}]")


def _found(v: Any) -> str:
    if type(v) is dict:
        return f": an object with keys {cap_list(list(v))}"
    return (
        f": {json_type(v)}"
        if v is None or isinstance(v, (bool, int, float, str, list))
        else f": {type(v).__name__}"
    )


def detect(value: Any) -> str | None:
    """The provider whose shape ``value`` has, or None when it is no provider response.

    Cheap (it reads a few keys): a JSON string is not parsed, so it is None too.

    Example:
        >>> detect({"candidates": [{"content": {"parts": [{"text": "hi"}]}}]}), detect({"answer": 1})
        ('gemini', None)
    """
    value = plain(value)
    if isinstance(value, list):
        return _list_provider(value)
    kind = _kind(value)
    if kind is None:
        return None
    if kind in ("gemini_content",):
        return "gemini"
    if kind == "responses_item":
        return "openai_responses"
    if kind in ("message", "exchange", "messages", "record"):
        return _kind_provider(value, kind)
    return kind


def _list_provider(items: list[Any]) -> str | None:
    if not items:
        return None
    found = None
    for item in items:
        item = plain(item)
        kind = _kind(item)
        if kind is None:
            return None
        found = found or _kind_provider(item, kind)
    return found or "openai"


def _kind_provider(v: Any, kind: str) -> str:
    if kind == "message":
        return "openai"
    if kind == "gemini_content":
        return "gemini"
    if kind == "responses_item":
        return "openai_responses"
    if kind == "exchange":
        return detect(v["response"]) or "openai"
    if kind == "messages":
        return _list_provider(v["messages"]) or "openai"
    if kind == "record":
        return str(v.get("provider") or "openai")
    return kind


def normalize(value: Any) -> dict[str, Any]:
    """The normalised record of a response, a conversation or a request/response pair (see
    :data:`FIELDS`). A JSON string is parsed first; an SDK object is dumped with ``model_dump``.

    A conversation (a list of messages, or of responses and tool results) gives every tool
    call in order with the result the conversation returned for it (matched by id; Gemini's
    by name when there is none), the text of its last assistant turn, the figures of its last
    response and its tokens summed.

    Raises:
        ResponseError: not one of the shapes (the message says what was found), or a
            malformed one (``'choices' is not a non-empty array``).

    Example:
        >>> r = normalize('{"model": "gpt-4o-mini", "choices": [{"finish_reason": "stop", '
        ...               '"message": {"role": "assistant", "content": "Paris."}}]}')
        >>> r["content"], r["model"], r["finish_reason"], r["tool_calls"]
        ('Paris.', 'gpt-4o-mini', 'stop', [])
    """
    raw = value
    if isinstance(value, str):
        try:
            raw = loads_json(value)
        except ValueError as e:
            raise ResponseError(
                f"needs {SHAPES}, got a string that is not JSON: {shorten(value, 60)!r}"
            ) from e
    try:
        raw = plain(to_plain(raw))
        if type(raw) is dict and raw.keys() >= _RECORD_KEYS:
            return complete(raw)
        if (
            not isinstance(raw, (dict, list))
            or (isinstance(raw, list) and not raw)
            or (type(raw) is dict and _kind(raw) is None)
        ):
            raise ResponseError(f"needs {SHAPES}, got {got(raw)}")
        return complete(_record(raw))
    except ResponseError:
        raise
    except Exception as e:  # an odd value (an SDK object that cannot dump) is that value's error
        raise ResponseError(
            f"could not be read as {SHAPES}: {type(e).__name__}: {shorten(str(e), 100)}"
        ) from e


def _record(raw: Any) -> dict[str, Any]:
    record = _openai_fast(raw) if type(raw) is dict and "choices" in raw else None
    if record is None:
        b = _Builder()
        _one(b, raw, "")
        if b.provider is None:
            b.provider = detect(raw) or "openai"
        record = b.record(raw)
    return record


def normalize_column(cells: Iterable[Any]) -> tuple[list[dict[str, Any] | None], list[str | None]]:
    """:func:`normalize` over a column, once: per cell its record, or None and why not.

    A cell that has no provider's shape gets None and the reason ``"holds no provider
    response..."``; one that has a shape but is malformed gets None and what is wrong. Cells
    are plain already (JSON strings parsed, as ``Context.parsed_column`` gives them); SDK
    objects are dumped here.

    Example:
        >>> records, why = normalize_column([{"role": "assistant", "content": "hi"}, {"answer": 1}])
        >>> records[0]["content"], records[1], why[1][:30]
        ('hi', None, 'holds no provider response; it')
    """
    records: list[dict[str, Any] | None] = []
    reasons: list[str | None] = []
    append_record, append_reason = records.append, reasons.append
    for cell in cells:
        try:
            if type(cell) is dict and "choices" in cell:  # the common case first: an OpenAI chat completion
                record = _openai_fast(cell)
                if record is not None:
                    append_record(record)
                    append_reason(None)
                    continue
            else:
                cell = plain(to_plain(cell))
            kind = ("list" if _list_provider(cell) else None) if type(cell) is list else _kind(cell)
            if kind is None:
                append_record(None)
                append_reason(
                    "is null" if cell is None else f"holds no provider response; it holds {got(cell)}"
                )
                continue
            append_record(cell if kind == "record" else _record(cell))
            append_reason(None)
        except ResponseError as e:
            append_record(None)
            append_reason(str(e))
        except Exception as e:  # noqa: BLE001  (one odd cell is that row's error, never the run's)
            append_record(None)
            append_reason(
                f"could not be read as a provider response: {type(e).__name__}: {shorten(str(e), 100)}"
            )
    return records, reasons
