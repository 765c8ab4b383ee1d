"""What every part of :mod:`workbench.responses` shares: the fields, the shapes, the error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import DataError, cap_list, shorten
from ..paths import json_type

__all__ = ["DERIVED", "FIELDS", "SHAPES", "ResponseError", "either_case", "got", "plain"]

FIELDS = (
    "tool_calls",
    "tool_names",
    "tool_args",
    "tool_results",
    "content",
    "model",
    "finish_reason",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "tools",
    "provider",
    "raw",
)
"""The fields of a normalised response, each reachable as a path (``response.<field>``):

- ``tool_calls``: every tool call in order, ``{"name", "arguments", "id", "result"}``, the
  arguments parsed from JSON (when they do not parse they stay the text, and the call gets
  ``"arguments_error"``), ``result`` what the conversation returned for it, else null;
- ``tool_names``: the names of those calls, in order;
- ``tool_args`` / ``tool_results``: per tool name, the arguments / result of its first call
  (as Scouter's ``ToolArgument`` and ``ToolResult`` read them);
- ``content``: the text of the last assistant turn (null when it has none);
- ``model``, ``finish_reason`` (the provider's own word: ``stop``, ``end_turn``, ``STOP``...),
  ``input_tokens``, ``output_tokens``, ``total_tokens``: of the last response, tokens summed over
  every response of a conversation; null when the provider did not say;
- ``tools``: the tools that were offered (``{"name", "description", "parameters"}``), when the
  record says (a request's ``tools``, a responses API response), else null;
- ``provider``: ``openai``, ``openai_responses``, ``anthropic`` or ``gemini``;
- ``raw``: the response as the provider wrote it (plain JSON).

A raw key of the same name (Anthropic's ``content`` blocks, the responses API's ``tools``) is
under ``raw``; every other raw key stays where it was (``response.choices.0.message``)."""

DERIVED = ("tool_names", "tool_args", "tool_results")
"""The fields computed from ``tool_calls`` when they are read (:func:`~workbench.responses.complete`)."""

SHAPES = (
    "a provider response (an OpenAI chat completion or responses API response, an Anthropic "
    "message, a Gemini generateContent response) or a conversation (a list) of their messages"
)
"""The shapes :func:`normalize` reads, as messages name them."""


class ResponseError(DataError):
    """A value that is not a provider response, or a malformed one; the message says what was
    found and where (``choices[0] has no 'message'``). A :class:`~workbench.DataError`, so a
    ``ValueError`` too.

    Example:
        >>> try:
        ...     from workbench.responses import normalize
        ...     normalize({"answer": "Paris"})
        ... except ResponseError as e:
        ...     print(str(e)[:42])
        needs a provider response (an OpenAI chat
    """


def plain(value: Any) -> Any:
    """``value`` as plain JSON-like data: an SDK's pydantic object dumped (``model_dump``), a
    tuple as a list; everything else as it is (not walked: nested objects stay).

    Example:
        >>> from pydantic import BaseModel
        >>> class Message(BaseModel):
        ...     role: str
        ...     content: str
        >>> plain(Message(role="assistant", content="hi")), plain((1, 2))
        ({'role': 'assistant', 'content': 'hi'}, [1, 2])
    """
    t = type(value)
    if t is dict or t is list or t is str or value is None:
        return value
    if t is tuple:
        return list(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json")
        except TypeError:  # a model_dump() that takes no mode
            return dump()
    if isinstance(value, Mapping):
        return dict(value)
    return value


def got(v: Any) -> str:
    """What a message says was found instead: ``an object with keys [...]``, ``null``, ``number (5)``.

    Example:
        >>> got({"answer": 1}), got(None)
        ("an object with keys ['answer']", 'null')
    """
    if type(v) is dict:
        return f"an object with keys {cap_list(list(v))}"
    if isinstance(v, list):
        return "an empty array"
    if v is None:
        return "null"
    return f"{json_type(v)} ({shorten(repr(v), 40)})"


def either_case(d: Mapping[str, Any], camel: str, snake: str) -> Any:
    """``d[camel]``, else ``d[snake]``, else None: Gemini's REST API writes camelCase, its
    Python SDK dumps snake_case.

    Example:
        >>> either_case({"finish_reason": "STOP"}, "finishReason", "finish_reason")
        'STOP'
    """
    v = d.get(camel)
    return d.get(snake) if v is None else v
