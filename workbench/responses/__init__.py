"""Provider responses as one shape: tool calls, content text, model, finish reason, tokens.

A cell may hold an OpenAI chat completion or responses API response, an Anthropic message, a
Gemini ``generateContent`` response (camelCase as the REST API writes it, or snake_case as
the Python SDK dumps it, Google ADK's events too), a conversation of their messages (the
tool results it holds are matched to the calls by id), or a ``{"request": ..., "response":
...}`` record; as a dict, a JSON string, or an SDK's pydantic object (anything with
``model_dump()``). :func:`normalize` turns any of them into one record with the
:data:`FIELDS`; paths reach those fields (``response.tool_calls``, ``response.finish_reason``)
and the agent operators read them. Pure Python, no I/O (pandas only in
:func:`tool_calls_frame`, imported when it is called).

Example:
    >>> from workbench.responses import normalize
    >>> record = normalize({
    ...     "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
    ...     "content": [
    ...         {"type": "text", "text": "Checking."},
    ...         {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
    ...     ],
    ...     "stop_reason": "tool_use", "usage": {"input_tokens": 40, "output_tokens": 12},
    ... })
    >>> record["tool_calls"]
    [{'name': 'get_weather', 'arguments': {'city': 'Oslo'}, 'id': 'toolu_1', 'result': None}]
    >>> record["content"], record["finish_reason"], record["total_tokens"]
    ('Checking.', 'tool_use', 52)
"""

from ._base import DERIVED, FIELDS, SHAPES, ResponseError, plain
from ._frame import tool_calls_frame
from ._normalize import complete, detect, normalize, normalize_column
from ._tools import offered_tools, openapi_schema

__all__ = [
    "DERIVED",
    "FIELDS",
    "SHAPES",
    "ResponseError",
    "complete",
    "detect",
    "normalize",
    "normalize_column",
    "offered_tools",
    "openapi_schema",
    "plain",
    "tool_calls_frame",
]
