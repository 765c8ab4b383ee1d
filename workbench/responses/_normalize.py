"""Normalising one response or conversation, and a column of them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import cap_list, shorten
from ..paths import json_type, loads_json, to_plain
from ._base import SHAPES, ResponseError, got, plain
from ._providers import READERS, Builder, complete, fast_record
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
_RESPONSES_PARTS = frozenset(("output_text", "input_text", "refusal", "input_image", "input_file"))


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


def _add(b: Builder, v: Any, kind: str, where: str) -> None:
    reader = READERS.get(kind)
    if reader is not None:
        reader(b, v)
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


def _one(b: Builder, v: Any, where: str) -> None:
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


def _conversation(b: Builder, items: list[Any], where: str) -> None:
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
    record = fast_record(raw) if type(raw) is dict and "choices" in raw else None
    if record is None:
        b = Builder()
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
                record = fast_record(cell)
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
