"""Span filters written as data (YAML, JSON or dicts), checked when a task is built.

A filter is a mapping; several keys in one mapping must all hold::

    {name: llm.generate}                          # the span's name
    {name_pattern: "^llm\\\\."}                     # a regex searched in the name
    {attribute: model}                            # the span has the attribute
    {attribute: http.method, value: POST}         # ... with this value (JSON equality)
    {status: error}                               # ok, error or unset
    {min_duration_ms: 80, max_duration_ms: 120}   # inclusive
    {kind: client}                                # internal, server, client, producer, consumer
    {service: checkout}                           # the resource's service.name
    {tool: search_docs}                           # gen_ai.tool.name (also model, operation, agent, provider)
    {and: [{...}, {...}]}, {or: [...]}, {not: {...}}
    {sequence: [call_tool, run_agent]}            # span_count only: runs of consecutive names

Scouter's filters map one to one: ``ByName`` is ``name``, ``ByNamePattern`` ``name_pattern``,
``WithAttribute`` ``attribute``, ``WithAttributeValue`` ``attribute`` + ``value``,
``WithStatus`` ``status``, ``WithDuration`` ``min/max_duration_ms``, ``Sequence`` ``sequence``,
``And``/``Or`` ``and``/``or``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import DataError, did_you_mean, shorten
from ..paths import json_type
from ._spans import Span

__all__ = [
    "FILTER_KEYS",
    "GEN_AI_ATTRIBUTES",
    "SpanFilter",
    "attribute",
    "has",
    "json_equal",
    "parse_filter",
]

GEN_AI_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "model": ("gen_ai.response.model", "gen_ai.request.model"),
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
    "total_tokens": ("gen_ai.usage.total_tokens",),
    "tool": ("gen_ai.tool.name",),
    "tool_call_id": ("gen_ai.tool.call.id",),
    "tool_arguments": ("gen_ai.tool.call.arguments",),
    "tool_result": ("gen_ai.tool.call.result",),
    "operation": ("gen_ai.operation.name",),
    "agent": ("gen_ai.agent.name",),
    "provider": ("gen_ai.provider.name", "gen_ai.system"),
    "finish_reasons": ("gen_ai.response.finish_reasons",),
}
"""Short attribute names and the OpenTelemetry ``gen_ai.*`` attributes they read, first found
wins; a span's own attribute of the short name wins over them. ``total_tokens`` without
``gen_ai.usage.total_tokens`` is input plus output tokens when the span has both."""

_SHORT_FILTERS = ("tool", "model", "operation", "agent", "provider")

FILTER_KEYS = (
    "name",
    "name_pattern",
    "attribute",
    "value",
    "status",
    "min_duration_ms",
    "max_duration_ms",
    "kind",
    "service",
    *_SHORT_FILTERS,
    "and",
    "or",
    "not",
    "sequence",
)
"""Every key a filter mapping may have."""

_STATUS_WORDS = ("ok", "error", "unset")
_KIND_WORDS = ("internal", "server", "client", "producer", "consumer", "unspecified")
_MISSING = object()


def attribute(span: Span, key: str) -> Any:
    """The value of attribute ``key`` on ``span`` (its own name first, then the ``gen_ai.*``
    names of :data:`GEN_AI_ATTRIBUTES`), or the module's missing marker.

    Example:
        >>> from workbench.traces import read_trace
        >>> s = read_trace([{"name": "chat", "start_time": 0, "end_time": 1, "attributes": {
        ...     "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 30}}]).spans[0]
        >>> attribute(s, "input_tokens"), attribute(s, "total_tokens")
        (12, 42)
    """
    attrs = span.attributes
    if key in attrs:
        return attrs[key]
    for name in GEN_AI_ATTRIBUTES.get(key, ()):
        if name in attrs:
            return attrs[name]
    if key == "total_tokens":
        parts = [attribute(span, k) for k in ("input_tokens", "output_tokens")]
        if all(_is_number(p) for p in parts):
            return parts[0] + parts[1]
    return _MISSING


def has(value: Any) -> bool:
    """Whether :func:`attribute` found a value."""
    return value is not _MISSING


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value (``8 == 8.0``), otherwise types must match
    (``"1" != 1``, ``true != 1``), containers item by item.

    Example:
        >>> json_equal({"id": 12345}, {"id": 12345.0}), json_equal("1", 1)
        (True, False)
    """
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if isinstance(x, bool) or isinstance(y, bool):
            if not (isinstance(x, bool) and isinstance(y, bool) and x == y):
                return False
        elif _is_number(x) and _is_number(y):
            if x != y:
                return False
        elif isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y))
        elif isinstance(x, Mapping) and isinstance(y, Mapping):
            if x.keys() != y.keys():
                return False
            stack.extend((x[k], y[k]) for k in x)
        elif type(x) is not type(y) or x != y:
            return False
    return True


@dataclass(frozen=True)
class SpanFilter:
    """A checked filter: ``test(span)`` says whether a span matches; ``text`` describes it for
    reasons (``"name is 'retry'"``); ``sequence`` is set for a ``sequence`` filter, which
    matches runs of spans rather than single spans.

    Example:
        >>> f = parse_filter({"name_pattern": "^child_", "status": "ok"})
        >>> f.text
        "name matches '^child_' and status is ok"
    """

    text: str
    test: Callable[[Span], bool]
    sequence: tuple[str, ...] | None = None


def _bad(where: str, message: str) -> DataError:
    return DataError(f"{where}: {message}")


def _string(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str):
        raise _bad(where, f"'{key}' needs a string, got {json_type(value)} ({shorten(repr(value), 40)})")
    return value


def _duration(value: Any, where: str, key: str) -> float:
    if not _is_number(value) or math.isnan(value):
        raise _bad(where, f"'{key}' needs a number of milliseconds, got {json_type(value)} ({value!r})")
    return float(value)


def parse_filter(spec: Any, where: str = "filter") -> SpanFilter:
    """Check a filter written as data and compile it.

    Raises:
        DataError: an unknown key (the message names the closest ones), a value of the
            wrong type, an invalid regex, an empty ``and``/``or``, or ``value`` without
            ``attribute``.

    Example:
        >>> parse_filter({"stauts": "error"})
        Traceback (most recent call last):
        ...
        workbench.errors.DataError: filter: unknown key 'stauts'; did you mean 'status'?
    """
    if not isinstance(spec, Mapping):
        raise _bad(
            where,
            f"a filter is a mapping such as {{name: llm.generate}} or {{status: error}}, got "
            f"{json_type(spec)} ({shorten(repr(spec), 40)})",
        )
    if not spec:
        raise _bad(where, "the filter is empty; leave 'filter' out to take every span")
    parts: list[SpanFilter] = []
    for key in spec:
        if key not in FILTER_KEYS:
            raise _bad(where, f"unknown key {key!r}{did_you_mean(str(key), FILTER_KEYS)}")
    if "value" in spec and "attribute" not in spec:
        raise _bad(where, "'value' needs 'attribute' beside it: {attribute: http.method, value: POST}")
    if "sequence" in spec and len(spec) > 1:
        raise _bad(where, "'sequence' stands alone in its filter (it matches runs of spans, not one span)")
    for key, value in spec.items():
        if key == "value":
            continue
        parts.append(_part(str(key), value, spec, where))
    if len(parts) == 1:
        return parts[0]
    if any(p.sequence is not None for p in parts):  # pragma: no cover - refused above
        raise _bad(where, "'sequence' stands alone in its filter")
    tests = [p.test for p in parts]
    return SpanFilter(" and ".join(p.text for p in parts), lambda s: all(t(s) for t in tests))


def _part(key: str, value: Any, spec: Mapping[str, Any], where: str) -> SpanFilter:
    if key == "name":
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            names = frozenset(value)
            return SpanFilter(f"name is one of {sorted(names)!r}", lambda s: s.name in names)
        name = _string(value, where, key)
        return SpanFilter(f"name is {name!r}", lambda s: s.name == name)
    if key == "name_pattern":
        pattern = _string(value, where, key)
        try:
            regex = re.compile(pattern)
        except re.error as e:
            raise _bad(where, f"invalid regex {pattern!r} in 'name_pattern': {e}") from None
        return SpanFilter(f"name matches {pattern!r}", lambda s: regex.search(s.name) is not None)
    if key == "attribute":
        name = _string(value, where, key)
        if "value" in spec:
            wanted = spec["value"]
            return SpanFilter(
                f"attribute {name!r} is {shorten(repr(wanted), 40)}",
                lambda s: has(v := attribute(s, name)) and json_equal(v, wanted),
            )
        return SpanFilter(f"has attribute {name!r}", lambda s: has(attribute(s, name)))
    if key == "status":
        word = _string(value, where, key).lower()
        if word not in _STATUS_WORDS:
            raise _bad(where, f"status {value!r} is none of {list(_STATUS_WORDS)}")
        return SpanFilter(f"status is {word}", lambda s: s.status == word)
    if key == "kind":
        word = _string(value, where, key).lower()
        if word not in _KIND_WORDS:
            raise _bad(where, f"kind {value!r} is none of {list(_KIND_WORDS)}")
        return SpanFilter(f"kind is {word}", lambda s: s.kind == word)
    if key == "service":
        name = _string(value, where, key)
        return SpanFilter(f"service is {name!r}", lambda s: s.service == name)
    if key == "min_duration_ms":
        least = _duration(value, where, key)
        return SpanFilter(f"duration is at least {value} ms", lambda s: s.duration_ms >= least)
    if key == "max_duration_ms":
        most = _duration(value, where, key)
        return SpanFilter(f"duration is at most {value} ms", lambda s: s.duration_ms <= most)
    if key in _SHORT_FILTERS:
        if not isinstance(value, (str, int, float, bool)):
            raise _bad(where, f"'{key}' needs a string, got {json_type(value)}")
        return SpanFilter(
            f"{key} is {value!r}", lambda s: has(v := attribute(s, key)) and json_equal(v, value)
        )
    if key in ("and", "or"):
        if not isinstance(value, list) or not value:
            raise _bad(where, f"'{key}' needs a non-empty list of filters, got {json_type(value)}")
        inner = [parse_filter(f, f"{where}.{key}[{i}]") for i, f in enumerate(value)]
        if any(f.sequence is not None for f in inner):
            raise _bad(
                where, f"a 'sequence' cannot be inside '{key}': it matches runs of spans, not one span"
            )
        tests = [f.test for f in inner]
        text = f" {key} ".join(f.text for f in inner)
        text = f"({text})" if len(inner) > 1 else text
        if key == "and":
            return SpanFilter(text, lambda s: all(t(s) for t in tests))
        return SpanFilter(text, lambda s: any(t(s) for t in tests))
    if key == "not":
        inner_filter = parse_filter(value, f"{where}.not")
        if inner_filter.sequence is not None:
            raise _bad(where, "a 'sequence' cannot be inside 'not'")
        test = inner_filter.test
        return SpanFilter(f"not ({inner_filter.text})", lambda s: not test(s))
    if key == "sequence":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise _bad(
                where, f"'sequence' needs a non-empty list of span names, got {shorten(repr(value), 40)}"
            )
        run = tuple(value)
        return SpanFilter(f"the names run {list(run)!r}", lambda s: False, sequence=run)
    raise _bad(where, f"unknown key {key!r}")  # pragma: no cover - checked by the caller
