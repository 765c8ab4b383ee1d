"""Spans read from the shapes OpenTelemetry writes, and a trace indexed once.

Three shapes are read, and may be mixed:

* OTLP JSON, as the collector's file exporter and OTLP/HTTP write it: an export request
  ``{"resourceSpans": [{"resource": ..., "scopeSpans": [{"scope": ..., "spans": [...]}]}]}``, or a
  list of its spans (``traceId``, ``spanId``, ``parentSpanId``, ``name``, ``kind``,
  ``startTimeUnixNano``, ``endTimeUnixNano``, ``attributes`` as a key/value list, ``status``);
* the dicts the Python SDK exports (``json.loads(span.to_json())``: ``context.span_id``,
  ``parent_id``, ISO ``start_time``, ``status.status_code``, ``attributes`` as a mapping);
* records with Scouter's field names (``span_name``, ``parent_span_id``, ``status_code``,
  ``service_name``, attributes as ``[{"key", "value"}]``).

Pure Python: no pandas.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import DataError, shorten
from ..paths import json_type, loads_json

__all__ = [
    "INPUT_KEYS",
    "OUTPUT_KEYS",
    "Span",
    "SpanEvent",
    "Trace",
    "attributes_of",
    "build_trace",
    "iter_raw_spans",
    "looks_like_trace",
    "otlp_attributes",
    "read_trace",
]

INPUT_KEYS = (
    "input.value",
    "gen_ai.input.messages",
    "gen_ai.prompt",
    "traceloop.entity.input",
    "langfuse.observation.input",
    "input",
)
"""Span attributes that hold a span's input, first found wins: OpenInference's ``input.value``,
OpenTelemetry's ``gen_ai.input.messages`` (and the older ``gen_ai.prompt``), Traceloop's and
Langfuse's names, and a plain ``input``."""

OUTPUT_KEYS = (
    "output.value",
    "gen_ai.output.messages",
    "gen_ai.completion",
    "traceloop.entity.output",
    "langfuse.observation.output",
    "output",
)
"""Span attributes that hold a span's output, as :data:`INPUT_KEYS`."""

_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
_STATUSES = ("unset", "ok", "error")
_HEX = re.compile(r"[0-9a-fA-F]+")
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9})\d*)?\s*(Z|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MAX_VALUE_DEPTH = 64
"""How deep an OTLP attribute value (arrays and key/value lists) may nest."""


@dataclass(frozen=True, slots=True)
class SpanEvent:
    """An event recorded on a span (an exception, a log line, a retry)."""

    name: str
    time_ns: int | None
    attributes: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Span:
    """One span of a trace, with plain values whatever shape it was read from.

    Example:
        >>> t = read_trace([{"name": "root", "spanId": "01", "startTimeUnixNano": "0",
        ...                  "endTimeUnixNano": "2500000", "status": {"code": 2}}])
        >>> span = t.spans[0]
        >>> span.name, span.duration_ms, span.status, span.depth
        ('root', 2.5, 'error', 0)
    """

    name: str
    span_id: str
    """Lower-case hex (or the id as given when it is not hex)."""
    parent_id: str | None
    trace_id: str
    start_ns: int
    end_ns: int
    status: str
    """``"unset"``, ``"ok"`` or ``"error"``."""
    status_message: str
    kind: str
    """``"internal"``, ``"server"``, ``"client"``, ``"producer"``, ``"consumer"`` or ``"unspecified"``."""
    service: str | None
    """The resource's ``service.name`` (or the span's own ``service.name`` attribute)."""
    attributes: Mapping[str, Any]
    """Plain JSON-like values: OTLP's typed values are unwrapped, 64-bit integers are ints."""
    events: tuple[SpanEvent, ...] = ()
    resource: Mapping[str, Any] = field(default_factory=dict)
    scope: str = ""
    depth: int = 0
    """0 for a root (no parent, or a parent that is not in the trace)."""
    position: int = 0
    """Where the span was in the input; breaks ties between spans that start together."""
    input: Any = None
    """The span's input, from a Scouter record's ``input`` or the first of :data:`INPUT_KEYS`."""
    output: Any = None
    """The span's output, as :attr:`input`."""

    @property
    def duration_ms(self) -> float:
        """End minus start, in milliseconds (never negative)."""
        return max(self.end_ns - self.start_ns, 0) / 1e6

    def to_otlp(self) -> dict[str, Any]:
        """The span in OTLP JSON form, with a ``resource`` key carrying its resource attributes
        (which OTLP keeps beside the spans), so a list of them reads back as the same trace.

        Example:
            >>> read_trace([read_trace([{"name": "a", "start_time": 0, "end_time": 5}]).spans[0].to_otlp()]
            ...            ).spans[0].duration_ms
            5e-06
        """
        out: dict[str, Any] = {
            "traceId": self.trace_id,
            "spanId": self.span_id,
            "name": self.name,
            "kind": _KINDS.index(self.kind) if self.kind in _KINDS else 0,
            "startTimeUnixNano": str(self.start_ns),
            "endTimeUnixNano": str(self.end_ns),
            "attributes": otlp_attributes(self.attributes),
            "status": {"code": _STATUSES.index(self.status)},
        }
        if self.parent_id:
            out["parentSpanId"] = self.parent_id
        if self.status_message:
            out["status"]["message"] = self.status_message
        if self.events:
            out["events"] = [
                {
                    "name": e.name,
                    **({"timeUnixNano": str(e.time_ns)} if e.time_ns is not None else {}),
                    "attributes": otlp_attributes(e.attributes),
                }
                for e in self.events
            ]
        if self.resource:
            out["resource"] = {"attributes": otlp_attributes(self.resource)}
        if self.scope:
            out["scope"] = {"name": self.scope}
        return out


class Trace:
    """The spans of one trace, ordered by start time and indexed once: parents, children,
    depths, services and errors.

    Example:
        >>> t = read_trace([
        ...     {"name": "agent", "spanId": "a", "startTimeUnixNano": 0, "endTimeUnixNano": 9_000_000},
        ...     {"name": "tool", "spanId": "b", "parentSpanId": "a",
        ...      "startTimeUnixNano": 1_000_000, "endTimeUnixNano": 4_000_000},
        ... ])
        >>> t.names, t.duration_ms, t.max_depth, [s.name for s in t.children(t.roots[0])]
        (['agent', 'tool'], 9.0, 1, ['tool'])
    """

    __slots__ = ("_children", "by_id", "roots", "spans")

    def __init__(self, spans: Sequence[Span]) -> None:
        self.spans: tuple[Span, ...] = tuple(spans)
        self.by_id: dict[str, Span] = {s.span_id: s for s in self.spans}
        self.roots: tuple[Span, ...] = tuple(s for s in self.spans if s.depth == 0)
        children: dict[str, list[Span]] = {}
        for s in self.spans:
            if s.parent_id is not None and s.depth > 0:
                children.setdefault(s.parent_id, []).append(s)
        self._children = children

    def __len__(self) -> int:
        return len(self.spans)

    def __repr__(self) -> str:
        return f"<Trace {self.trace_id or '?'}: {len(self.spans)} spans>"

    def children(self, span: Span) -> tuple[Span, ...]:
        """The spans whose parent is ``span``, in start order."""
        return tuple(self._children.get(span.span_id, ()))

    def walk(self) -> Iterator[Span]:
        """Every span depth-first from the roots, children in start order (a tree's reading order)."""
        stack = list(reversed(self.roots))
        while stack:
            span = stack.pop()
            yield span
            stack.extend(reversed(self._children.get(span.span_id, ())))

    @property
    def trace_id(self) -> str:
        return self.spans[0].trace_id if self.spans else ""

    @property
    def root(self) -> Span | None:
        """The first root span in start order, or None for an empty trace."""
        return self.roots[0] if self.roots else None

    @property
    def names(self) -> list[str]:
        """Span names in start order."""
        return [s.name for s in self.spans]

    @property
    def duration_ms(self) -> float:
        """From the first start to the last end, in milliseconds (0 for an empty trace)."""
        if not self.spans:
            return 0.0
        start = min(s.start_ns for s in self.spans)
        end = max(s.end_ns for s in self.spans)
        return max(end - start, 0) / 1e6

    @property
    def error_count(self) -> int:
        return sum(1 for s in self.spans if s.status == "error")

    @property
    def services(self) -> list[str]:
        """The distinct service names, in order of first appearance."""
        return list(dict.fromkeys(s.service for s in self.spans if s.service is not None))

    @property
    def max_depth(self) -> int:
        return max((s.depth for s in self.spans), default=0)


# --- reading -----------------------------------------------------------------------------


def looks_like_trace(value: Any) -> bool:
    """Whether ``value`` has the shape of a trace (cheap: looks at the first span only), for
    code that must pick trace columns out of a row.

    Example:
        >>> looks_like_trace([{"name": "a", "spanId": "1"}]), looks_like_trace(["a"]), looks_like_trace("{}")
        (True, False, False)
    """
    if isinstance(value, str):
        head = value[:2000]
        return head.lstrip()[:1] in ("[", "{") and any(
            k in head for k in ('"resourceSpans"', '"resource_spans"', '"spanId"', '"span_id"')
        )
    if isinstance(value, Mapping):
        return any(k in value for k in ("resourceSpans", "resource_spans")) or (
            isinstance(value.get("spans"), list) and looks_like_trace(value["spans"])
        )
    if isinstance(value, (list, tuple)) and value:
        first = value[0]
        if not isinstance(first, Mapping):
            return False
        if "resourceSpans" in first or "resource_spans" in first:
            return True
        return ("name" in first or "span_name" in first) and any(
            k in first for k in ("spanId", "span_id", "context", "startTimeUnixNano", "start_time")
        )
    return False


def read_trace(value: Any) -> Trace:
    """Read one trace from a cell: a list of spans, an OTLP export (or a list of them), a
    ``{"spans": [...]}`` record, or any of those as a JSON string.

    Raises:
        DataError: the value is no trace, or a span lacks its name or its times; the message
            names the span and the field.

    Example:
        >>> read_trace('[{"name": "a", "start_time": "2025-01-01T00:00:00Z", '
        ...            '"end_time": "2025-01-01T00:00:01.5Z"}]').duration_ms
        1500.0
    """
    if isinstance(value, str):
        try:
            value = loads_json(value)
        except ValueError as e:
            raise DataError(
                f"needs a trace, got a string that is not JSON ({e}): {shorten(value, 60)!r}"
            ) from None
    return build_trace(list(iter_raw_spans(value)))


def build_trace(raw: Sequence[tuple[Mapping[str, Any], Mapping[str, Any], str]]) -> Trace:
    """A trace from ``(span dict, resource attributes, scope name)`` triples, as
    :func:`iter_raw_spans` yields them.

    Raises:
        DataError: a span lacks its name or its times.
    """
    return Trace(_index([_span(r, res, scope, i) for i, (r, res, scope) in enumerate(raw)]))


def iter_raw_spans(value: Any) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any], str]]:
    """``(span dict, resource attributes, scope name)`` for every span in ``value``, in order.

    Raises:
        DataError: ``value`` has no trace shape.
    """
    if isinstance(value, Mapping):
        groups = value.get("resourceSpans", value.get("resource_spans"))
        if groups is not None:
            yield from _resource_spans(groups)
            return
        spans = value.get("spans")
        if isinstance(spans, list):
            yield from iter_raw_spans(spans)
            return
        if _is_span(value):
            yield value, _resource_of(value), _scope_of(value)
            return
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if isinstance(item, Mapping) and ("resourceSpans" in item or "resource_spans" in item):
                yield from iter_raw_spans(item)
            elif isinstance(item, Mapping):
                yield item, _resource_of(item), _scope_of(item)
            else:
                raise DataError(
                    f"span {i} is {json_type(item)}, not an object; a trace is a list of span objects"
                )
        return
    raise DataError(
        f"needs a trace (a list of OpenTelemetry spans, or an OTLP JSON export), got {_got(value)}"
    )


def _got(value: Any) -> str:
    return "null" if value is None else f"{json_type(value)} ({shorten(repr(value), 60)})"


def _is_span(d: Mapping[str, Any]) -> bool:
    return ("name" in d or "span_name" in d) and any(
        k in d for k in ("spanId", "span_id", "context", "startTimeUnixNano", "start_time", "startTime")
    )


def _resource_spans(groups: Any) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any], str]]:
    if not isinstance(groups, list):
        raise DataError(f"resourceSpans is {json_type(groups)}, not an array")
    for group in groups:
        if not isinstance(group, Mapping):
            raise DataError(f"an item of resourceSpans is {json_type(group)}, not an object")
        resource = group.get("resource") or {}
        res_attrs = attributes_of(resource.get("attributes")) if isinstance(resource, Mapping) else {}
        scopes = group.get("scopeSpans", group.get("scope_spans", group.get("instrumentationLibrarySpans")))
        for scoped in scopes or []:
            if not isinstance(scoped, Mapping):
                raise DataError(f"an item of scopeSpans is {json_type(scoped)}, not an object")
            scope = scoped.get("scope") or scoped.get("instrumentationLibrary") or {}
            name = scope.get("name", "") if isinstance(scope, Mapping) else ""
            for span in scoped.get("spans") or []:
                if not isinstance(span, Mapping):
                    raise DataError(f"a span in scopeSpans is {json_type(span)}, not an object")
                yield span, res_attrs, str(name)


def _resource_of(span: Mapping[str, Any]) -> Mapping[str, Any]:
    resource = span.get("resource")
    if isinstance(resource, Mapping):
        return attributes_of(resource.get("attributes", resource))
    return {}


def _scope_of(span: Mapping[str, Any]) -> str:
    scope = span.get("scope", span.get("instrumentation_scope"))
    if isinstance(scope, Mapping):
        return str(scope.get("name", ""))
    return scope if isinstance(scope, str) else ""


def _first(d: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        v = d.get(k)
        if v is not None:
            return v
    return None


def _label(d: Mapping[str, Any], i: int) -> str:
    name = d.get("name", d.get("span_name"))
    return f"span {i} ({name!r})" if isinstance(name, str) else f"span {i}"


def _span(d: Mapping[str, Any], resource: Mapping[str, Any], scope: str, i: int) -> dict[str, Any]:
    """The fields of one span, before its depth is known."""
    name = d.get("name", d.get("span_name"))
    if not isinstance(name, str):
        raise DataError(f"span {i} has no name (a string in 'name'); it has {sorted(map(str, d))[:12]}")
    raw_context = d.get("context")
    context: Mapping[str, Any] = raw_context if isinstance(raw_context, Mapping) else {}
    span_id = _id(_first(d, "spanId", "span_id") or context.get("span_id"), 16)
    parent = _id(_first(d, "parentSpanId", "parent_span_id", "parent_id", "parentId"), 16)
    trace_id = _id(_first(d, "traceId", "trace_id") or context.get("trace_id"), 32)
    where = _label(d, i)
    start = _time(
        _first(d, "startTimeUnixNano", "start_time_unix_nano", "start_time", "startTime"), where, "start"
    )
    end = _time(_first(d, "endTimeUnixNano", "end_time_unix_nano", "end_time", "endTime"), where, "end")
    status, message = _status(d)
    attrs = attributes_of(d.get("attributes"), where)
    service = resource.get("service.name", attrs.get("service.name", d.get("service_name")))
    return {
        "name": name,
        "span_id": span_id or f"#{i}",
        "parent_id": parent or None,
        "trace_id": trace_id or "",
        "start_ns": start,
        "end_ns": end,
        "status": status,
        "status_message": message,
        "kind": _kind(d.get("kind", d.get("span_kind"))),
        "service": service if isinstance(service, str) else None,
        "attributes": attrs,
        "events": _events(d.get("events"), where),
        "resource": resource,
        "scope": scope,
        "position": i,
        "input": d["input"] if d.get("input") is not None else _first(attrs, *INPUT_KEYS),
        "output": d["output"] if d.get("output") is not None else _first(attrs, *OUTPUT_KEYS),
    }


def _index(fields: list[dict[str, Any]]) -> list[Span]:
    """Spans in start order with their depths: a span whose parent is not in the trace (or
    whose parents form a loop) is a root."""
    parent_of = {f["span_id"]: f["parent_id"] for f in fields}
    depth: dict[str, int] = {}
    for f in fields:
        chain: list[str] = []
        on_chain: set[str] = set()
        node = f["span_id"]
        base = -1
        while node not in depth:
            chain.append(node)
            on_chain.add(node)
            parent = parent_of[node]
            if parent is None or parent not in parent_of or parent in on_chain:
                break  # the top of the chain is a root
            node = parent
        else:
            base = depth[node]
        for k, sid in enumerate(reversed(chain)):
            depth[sid] = base + 1 + k
    fields.sort(key=lambda f: (f["start_ns"], f["position"]))
    return [Span(**f, depth=depth[f["span_id"]]) for f in fields]


def _id(value: Any, width: int) -> str:
    """Lower-case hex: OTLP JSON writes hex, the SDK ``0x``-prefixed hex, protobuf's JSON
    mapping base64; other strings (Scouter's test ids) are kept as they are."""
    if value is None or value == "":
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return format(value, f"0{width}x")
    text = str(value)
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    if _HEX.fullmatch(text):
        return text.lower()
    if len(text) in (12, 24):  # 8 or 16 bytes in base64
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return text
        if len(raw) * 2 == width:
            return raw.hex()
    return text


def _time(value: Any, where: str, which: str) -> int:
    """Nanoseconds since the epoch: OTLP's ``*UnixNano`` (numbers or strings of digits), ISO 8601
    text (the SDK's ``start_time``), or a datetime."""
    if value is None:
        raise DataError(f"{where} has no {which} time ({which}TimeUnixNano or {which}_time)")
    if isinstance(value, bool):
        raise DataError(f"{where}: its {which} time is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        m = _ISO.fullmatch(text)
        if m:
            y, mo, d, hh, mm, ss, frac, tz = m.groups()
            try:
                moment = datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss), tzinfo=timezone.utc)
            except ValueError:
                m = None
            else:
                ns = int((moment - _EPOCH).total_seconds()) * 1_000_000_000 + int((frac or "").ljust(9, "0"))
                if tz and tz.upper() != "Z":
                    sign = -1 if tz[0] == "+" else 1
                    digits = tz[1:].replace(":", "")
                    ns += sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60) * 1_000_000_000
                return ns
        raise DataError(
            f"{where}: its {which} time {shorten(text, 40)!r} is neither nanoseconds nor an ISO 8601 time"
        )
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        delta = moment - _EPOCH
        return (
            (delta.days * 86_400 + delta.seconds) * 1_000_000_000
            + delta.microseconds * 1000
            + int(getattr(value, "nanosecond", 0))
        )
    raise DataError(f"{where}: its {which} time is {json_type(value)}, not a number or a time")


def _status(d: Mapping[str, Any]) -> tuple[str, str]:
    status = d.get("status")
    code: Any = None
    message: Any = None
    if isinstance(status, Mapping):
        code = _first(status, "code", "status_code", "statusCode")
        message = _first(status, "message", "description")
    elif status is not None:
        code = status
    if code is None:
        code = d.get("status_code")
        message = message or d.get("status_message")
    return _status_name(code), message if isinstance(message, str) else ""


def _status_name(code: Any) -> str:
    """OTLP's 0/1/2, ``STATUS_CODE_ERROR``, the SDK's ``ERROR`` / ``StatusCode.ERROR``, or
    ``error``; anything else is unset, as OTLP reads unknown codes."""
    if isinstance(code, int) and not isinstance(code, bool):
        return _STATUSES[code] if 0 <= code < 3 else "unset"
    if isinstance(code, str):
        word = code.rsplit(".", 1)[-1].lower().removeprefix("status_code_")
        return word if word in _STATUSES else "unset"
    return "unset"


def _kind(kind: Any) -> str:
    if isinstance(kind, int) and not isinstance(kind, bool):
        return _KINDS[kind] if 0 <= kind < len(_KINDS) else "unspecified"
    if isinstance(kind, str):
        word = kind.rsplit(".", 1)[-1].lower().removeprefix("span_kind_")
        return word if word in _KINDS else "unspecified"
    return "unspecified"


def _events(events: Any, where: str) -> tuple[SpanEvent, ...]:
    if not isinstance(events, list):
        return ()
    out = []
    for e in events:
        if not isinstance(e, Mapping):
            continue
        t = _first(e, "timeUnixNano", "time_unix_nano", "timestamp", "time")
        out.append(
            SpanEvent(
                name=str(e.get("name", "")),
                time_ns=None if t is None else _time(t, f"an event of {where}", "event"),
                attributes=attributes_of(e.get("attributes"), where),
            )
        )
    return tuple(out)


# --- attribute values --------------------------------------------------------------------

_ANY_VALUE = {
    "stringValue",
    "boolValue",
    "intValue",
    "doubleValue",
    "arrayValue",
    "kvlistValue",
    "bytesValue",
    "string_value",
    "bool_value",
    "int_value",
    "double_value",
    "array_value",
    "kvlist_value",
    "bytes_value",
}


def attributes_of(value: Any, where: str = "a span") -> dict[str, Any]:
    """Attributes as a plain mapping: OTLP's ``[{"key", "value": {"stringValue": ...}}]``,
    Scouter's ``[{"key", "value"}]`` or a mapping as the SDK writes it.

    Example:
        >>> attributes_of([{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "42"}},
        ...                {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}]}}}])
        {'gen_ai.usage.input_tokens': 42, 'tags': ['a']}
    """
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, list):
        raise DataError(
            f"the attributes of {where} are {json_type(value)}, not a key/value list or an object"
        )
    out: dict[str, Any] = {}
    for item in value:
        if not isinstance(item, Mapping) or "key" not in item:
            raise DataError(
                f"an attribute of {where} is {shorten(repr(item), 60)}, not {{'key': ..., 'value': ...}}"
            )
        out[str(item["key"])] = _plain(item.get("value"), 0)
    return out


def _plain(value: Any, depth: int) -> Any:
    """An OTLP ``AnyValue`` unwrapped (a plain value is kept as it is)."""
    if depth > _MAX_VALUE_DEPTH:
        raise DataError(f"an attribute value is nested more than {_MAX_VALUE_DEPTH} levels deep")
    if not isinstance(value, Mapping):
        return value
    if not value:
        return None
    if len(value) != 1 or next(iter(value)) not in _ANY_VALUE:
        return dict(value)
    kind, inner = next(iter(value.items()))
    kind = kind.replace("_value", "Value")
    if kind == "intValue":
        try:
            return int(inner)  # int64 travels as a string in OTLP JSON
        except (TypeError, ValueError):
            return inner
    if kind == "doubleValue":
        try:
            return float(inner)
        except (TypeError, ValueError):
            return inner
    if kind == "arrayValue":
        items = inner.get("values", []) if isinstance(inner, Mapping) else []
        return [_plain(v, depth + 1) for v in items or []]
    if kind == "kvlistValue":
        items = inner.get("values", []) if isinstance(inner, Mapping) else []
        return {
            str(kv.get("key")): _plain(kv.get("value"), depth + 1)
            for kv in items or []
            if isinstance(kv, Mapping)
        }
    return inner


def otlp_attributes(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Plain attributes as OTLP's key/value list (the inverse of :func:`attributes_of`).

    Example:
        >>> otlp_attributes({"n": 3, "ok": True, "tags": ["a"]})  # doctest: +NORMALIZE_WHITESPACE
        [{'key': 'n', 'value': {'intValue': '3'}}, {'key': 'ok', 'value': {'boolValue': True}},
         {'key': 'tags', 'value': {'arrayValue': {'values': [{'stringValue': 'a'}]}}}]
    """
    return [{"key": k, "value": _any_value(v, 0)} for k, v in attributes.items()]


def _any_value(v: Any, depth: int) -> dict[str, Any]:
    if depth > _MAX_VALUE_DEPTH:
        raise DataError(f"an attribute value is nested more than {_MAX_VALUE_DEPTH} levels deep")
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, str):
        return {"stringValue": v}
    if isinstance(v, (bytes, bytearray)):
        return {"bytesValue": base64.b64encode(bytes(v)).decode("ascii")}
    if isinstance(v, Mapping):
        return {
            "kvlistValue": {
                "values": [{"key": str(k), "value": _any_value(x, depth + 1)} for k, x in v.items()]
            }
        }
    if isinstance(v, (list, tuple)):
        return {"arrayValue": {"values": [_any_value(x, depth + 1) for x in v]}}
    if v is None:
        return {}
    return {"stringValue": str(v)}
