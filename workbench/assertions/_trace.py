"""Trace operators: Scouter's trace assertions over a column of OpenTelemetry traces.

The checked value is a trace (a list of spans as OTLP JSON or as the SDK's dicts, an OTLP
export, or either as a JSON string; see :mod:`workbench.traces`), read once per cell and
shared by every trace task over the column. ``expected`` is a mapping that says what to
measure and one comparison with any operator of the registry::

    op: span_count
    expected: {filter: {name: retry_operation}, lte: 3}

    op: span_aggregation
    expected: {filter: {operation: chat}, attribute: input_tokens, aggregation: sum, lt: 10000}

    op: span_exists                      # not_span_exists: no such span
    expected: {filter: {status: error}}

Keys: ``filter`` (a span filter, see :mod:`workbench.traces`; without it every span counts),
``attribute`` (a span attribute; ``gen_ai`` short names such as ``model``, ``input_tokens`` and
``tool`` read the OpenTelemetry names), ``aggregation`` (count, sum, average, min, max, first,
last), ``path`` (into an attribute's value, JSON strings parsed), ``match`` (``any``/``all``:
compare each attribute value on its own), and the comparison: an operator name with its
expected value (``lte: 3``, ``equals: gpt-4``, ``in_range: [100, 500]``, ``not_contains: x``).
Unknown keys, a missing or second comparison and bad filters are spec errors.

A trace that cannot be read, a span the filter does not find where a value is needed, and a
comparison of the wrong type are error cells; a reason names the spans that were seen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import DataError, cap_list, did_you_mean, shorten
from ..paths import PathError, Segment, json_type, parse_path, resolve
from ..traces import (
    Span,
    SpanFilter,
    Trace,
    aggregate,
    attribute_values,
    count_spans,
    matching,
    parse_aggregation,
    parse_filter,
    trace_of,
)
from ._core import OPERATORS, Operator, OpError, ResolvedOp, apply, describe, lookup, register

__all__ = ["TRACE_OPERATORS", "TraceSpec", "show_trace", "trace_spec"]

_STRUCTURE = ("filter", "attribute", "aggregation", "path", "match")


@dataclass(frozen=True)
class TraceSpec:
    """A trace operator's ``expected``, checked: what to measure and the comparison."""

    op: str
    filter: SpanFilter | None = None
    attribute: str | None = None
    aggregation: str | None = None
    path: tuple[Segment, ...] | None = None
    path_text: str = ""
    match: str | None = None
    bound: ResolvedOp | None = None
    bound_expected: Any = None
    bound_prepared: Any = None
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Measure:
    keys: tuple[str, ...]
    """The structure keys ``expected`` may have (besides the comparison)."""
    needs: tuple[str, ...]
    compares: bool
    doc: str
    phrase: str


_MEASURES: dict[str, _Measure] = {
    "span_exists": _Measure(
        ("filter",),
        (),
        False,
        "Some span matches the filter: ``expected={'filter': {'status': 'error'}}``; "
        "``not_span_exists`` passes a trace without one.",
        "a trace with a matching span",
    ),
    "span_count": _Measure(
        ("filter",),
        (),
        True,
        "How many spans match, compared: ``expected={'filter': {'name': 'retry'}, 'lte': 3}``; "
        "a ``sequence`` filter counts runs of names.",
        "a trace whose span count compares",
    ),
    "span_duration": _Measure(
        ("filter",),
        (),
        True,
        "Duration (ms) of the matching span, or each of several: "
        "``expected={'filter': {'name': 'db_query'}, 'lt': 500}``.",
        "a trace whose span duration compares",
    ),
    "span_attribute": _Measure(
        ("filter", "attribute", "path", "match"),
        ("attribute",),
        True,
        "An attribute of the matching span (a list for several): "
        "``expected={'filter': {'name': 'llm'}, 'attribute': 'model', 'equals': 'gpt-4'}``.",
        "a trace whose span attribute compares",
    ),
    "span_aggregation": _Measure(
        ("filter", "attribute", "aggregation"),
        ("attribute", "aggregation"),
        True,
        "count/sum/average/min/max/first/last of an attribute over the matching spans: "
        "``expected={'attribute': 'input_tokens', 'aggregation': 'sum', 'lt': 10000}``.",
        "a trace whose aggregated attribute compares",
    ),
    "trace_duration": _Measure(
        (),
        (),
        True,
        "First start to last end, in ms: ``expected={'lt': 5000}``.",
        "a trace whose duration compares",
    ),
    "trace_span_count": _Measure(
        (), (), True, "Number of spans: ``expected={'lte': 20}``.", "a trace whose span count compares"
    ),
    "trace_error_count": _Measure(
        (),
        (),
        True,
        "Spans with status error: ``expected={'equals': 0}``.",
        "a trace whose error count compares",
    ),
    "trace_service_count": _Measure(
        (),
        (),
        True,
        "Distinct service names: ``expected={'lte': 3}``.",
        "a trace whose service count compares",
    ),
    "trace_max_depth": _Measure(
        (),
        (),
        True,
        "Depth of the span tree, a root is 0: ``expected={'lte': 5}``.",
        "a trace whose depth compares",
    ),
    "trace_attribute": _Measure(
        ("attribute", "path"),
        ("attribute",),
        True,
        "An attribute of the root span: ``expected={'attribute': 'user.id', 'is_not_empty': True}``.",
        "a trace whose root attribute compares",
    ),
}

TRACE_OPERATORS = (*_MEASURES, "span_sequence", "span_set")
"""The names of the trace operators, in the order they are registered."""

_EXAMPLE = "{filter: {name: retry_operation}, lte: 3}"


def trace_spec(op: str, expected: Any) -> TraceSpec:
    """Check a trace operator's ``expected`` and compile it (the operators' ``prepare``).

    Raises:
        OpError: what is wrong with ``expected``, with the closest names for an unknown key.

    Example:
        >>> trace_spec("span_count", {"filter": {"name": "retry"}, "lte": 3}).bound.name
        'less_than_or_equal'
        >>> trace_spec("span_count", {"filtr": {"name": "retry"}, "lte": 3})
        Traceback (most recent call last):
        ...
        workbench.assertions._core.OpError: expected has an unknown key 'filtr'; did you mean 'filter'?
    """
    if op in ("span_sequence", "span_set"):
        if not isinstance(expected, list) or not expected or not all(isinstance(n, str) for n in expected):
            raise OpError(f"needs a non-empty list of span names as expected, {_got(expected)}")
        return TraceSpec(op=op, names=tuple(expected))
    measure = _MEASURES[op]
    if not isinstance(expected, Mapping):
        example = _EXAMPLE if measure.keys else "{lte: 3}"
        raise OpError(f"needs a mapping as expected, such as {example}, {_got(expected)}")
    fields: dict[str, Any] = {}
    bounds: list[tuple[str, ResolvedOp, Any]] = []
    for key, value in expected.items():
        if not isinstance(key, str):
            raise OpError(f"expected has a key that is not a string: {key!r}")
        if key in _STRUCTURE:
            if key not in measure.keys:
                takes = ", ".join(repr(k) for k in measure.keys) or "no structure keys"
                raise OpError(f"takes no {key!r} in expected (it takes {takes} and a comparison)")
            fields[key] = value
            continue
        try:
            rop = lookup(key)
        except KeyError:
            names = list(measure.keys) + sorted(n for n in OPERATORS if n not in TRACE_OPERATORS)
            raise OpError(f"expected has an unknown key {key!r}{did_you_mean(key, names)}") from None
        if rop.op.name in TRACE_OPERATORS:
            raise OpError(f"cannot compare with the trace operator {key!r}; compare with equals, lte, ...")
        bounds.append((key, rop, value))
    for need in measure.needs:
        if need not in fields:
            raise OpError(f"needs {need!r} in expected")
    if not measure.compares and bounds:
        raise OpError(f"takes no comparison ({bounds[0][0]!r}); use not_{op} for the opposite")
    if measure.compares and not bounds:
        raise OpError(
            "needs a comparison in expected: an operator and its value, such as lte: 3, equals: 'gpt-4' "
            "or in_range: [100, 500]"
        )
    if len(bounds) > 1:
        raise OpError(
            f"takes one comparison, got {[b[0] for b in bounds]}; use in_range: [min, max], or one task each"
        )
    spec: dict[str, Any] = {"op": op}
    if "filter" in fields:
        try:
            spec["filter"] = parse_filter(fields["filter"])
        except DataError as e:
            raise OpError(str(e)) from None
        if spec["filter"].sequence is not None and op != "span_count":
            raise OpError("a 'sequence' filter counts runs of spans, so it only works with span_count")
    if "attribute" in fields:
        if not isinstance(fields["attribute"], str) or not fields["attribute"]:
            raise OpError(f"'attribute' needs an attribute name, {_got(fields['attribute'])}")
        spec["attribute"] = fields["attribute"]
    if "aggregation" in fields:
        try:
            spec["aggregation"] = parse_aggregation(fields["aggregation"])
        except ValueError as e:
            raise OpError(str(e)) from None
    if "path" in fields:
        try:
            spec["path"] = parse_path(fields["path"])
        except PathError as e:
            raise OpError(f"'path': {e}") from None
        spec["path_text"] = fields["path"]
    if "match" in fields:
        if fields["match"] not in ("any", "all"):
            raise OpError(f"'match' is 'any' or 'all', got {fields['match']!r}")
        spec["match"] = fields["match"]
    if bounds:
        key, rop, value = bounds[0]
        spec["bound"], spec["bound_expected"], spec["bound_prepared"] = rop, *_prepare_bound(key, rop, value)
    return TraceSpec(**spec)


def _prepare_bound(key: str, rop: ResolvedOp, value: Any) -> tuple[Any, Any]:
    try:
        return value, rop.op.prepare(value)
    except OpError as e:
        if value is True:  # Scouter's habit: `is_string: true` for an operator that takes nothing
            try:
                return None, rop.op.prepare(None)
            except OpError:
                pass
        raise OpError(f"comparison {key!r} {e}") from None


def _got(v: Any) -> str:
    return "got null" if v is None else f"got {json_type(v)} ({describe(v)})"


# --- checks ---------------------------------------------------------------------------


def _read(actual: Any) -> Trace:
    try:
        return trace_of(actual)
    except DataError as e:
        raise OpError(str(e)) from None


def _where(spec: TraceSpec) -> str:
    return f" where {spec.filter.text}" if spec.filter is not None else ""


def _names(spans: Sequence[Span] | Trace) -> list[str]:
    """Span names for a reason, each cut to a readable length."""
    return [shorten(s.name, 40) for s in (spans.spans if isinstance(spans, Trace) else spans)]


def _seen(trace: Trace) -> str:
    return f"spans: {cap_list(_names(trace))}" if trace.spans else "the trace has no spans"


def _compare(subject: str, value: Any, spec: TraceSpec) -> tuple[bool, str]:
    """Apply the comparison; the verdict says what was measured, the value, and how it compares
    (true to the outcome either way, so ``not_`` reads right)."""
    rop = spec.bound
    assert rop is not None
    try:
        ok, why = apply(rop, value, spec.bound_prepared, spec.bound_expected)
        if ok:  # the statement that holds: the opposite comparison's failure reason
            why = apply(ResolvedOp(rop.op, not rop.negated), value, spec.bound_prepared, spec.bound_expected)[
                1
            ]
    except OpError as e:
        raise OpError(f"{subject} is {describe(value)}, which {rop.name} cannot take: {e}") from None
    shown = describe(value)
    tail = ": " + shown
    if why and why.endswith(tail):
        return ok, f"{subject}, {shown}, {why[: -len(tail)]}"
    return ok, f"{subject}, {shown}" + (f": {why}" if why else "")


def _value(pairs: list[tuple[Span, Any]], spec: TraceSpec) -> list[tuple[Span, Any]]:
    if spec.path is None:
        return pairs
    out = []
    for span, v in pairs:
        try:
            out.append((span, resolve(v, spec.path)))
        except PathError as e:
            raise OpError(f"attribute {spec.attribute!r} of span {span.name!r}: {e}") from None
    return out


def _match(subject: str, pairs: list[tuple[Span, Any]], spec: TraceSpec, where: str) -> tuple[bool, str]:
    """``match: any`` / ``all``: the comparison on each value by itself, as Scouter's
    AttributeFilter: a value without the ``path`` fails, and no value at all fails too."""
    rop = spec.bound
    assert rop is not None
    if not pairs:
        return False, f"{subject}: no span{where} has attribute {spec.attribute!r}"
    results: list[tuple[Span, Any, bool, str | None]] = []
    for span, raw in pairs:
        if spec.path is not None:
            try:
                v = resolve(raw, spec.path)
            except PathError as e:
                results.append((span, raw, False, f"has no {spec.path_text!r} ({e})"))
                continue
        else:
            v = raw
        try:
            ok, why = apply(rop, v, spec.bound_prepared, spec.bound_expected)
        except OpError as e:
            raise OpError(
                f"{subject}: span {span.name!r} holds {describe(v)}, which {rop.name} cannot take: {e}"
            ) from None
        results.append((span, v, ok, why))
    failing = [r for r in results if not r[2]]
    passing = [r for r in results if r[2]]
    n = len(results)
    if spec.match == "all":
        if failing:
            span, _, _, why = failing[0]
            return False, f"{subject}: {len(failing)} of {n} fail, first span {span.name!r}, which {why}"
        return True, f"{subject}: all {n} pass ({describe([r[1] for r in results])})"
    if passing:
        span, v, _, _ = passing[0]
        return True, f"{subject}: span {span.name!r} passes ({describe(v)})"
    span, _, _, why = failing[0]
    return False, f"{subject}: none of {n} passes, first span {span.name!r}, which {why}"


def _check(spec: TraceSpec, trace: Trace) -> tuple[bool, str]:
    op = spec.op
    where = _where(spec)
    if op == "span_sequence":
        wanted = list(spec.names)
        if trace.names == wanted:
            return True, f"has spans in the order {describe(wanted)}"
        return False, f"has spans {cap_list(_names(trace))} in order, not {describe(wanted)}"
    if op == "span_set":
        present = set(trace.names)
        missing = [n for n in spec.names if n not in present]
        if missing:
            return False, f"lacks spans named {describe(missing)} ({_seen(trace)})"
        return True, f"has spans named {describe(list(spec.names))}"
    if op == "span_exists":
        found = matching(trace, spec.filter)
        if found:
            plural = "s" if len(found) > 1 else ""
            return True, f"has {len(found)} span{plural}{where}: {cap_list(_names(found), 5)}"
        return False, f"has no span{where} ({_seen(trace)})"
    if op == "span_count":
        return _compare(f"the count of spans{where}", count_spans(trace, spec.filter), spec)
    if op == "trace_duration":
        return _compare("the trace's duration in ms", trace.duration_ms, spec)
    if op == "trace_span_count":
        return _compare("the trace's span count", len(trace), spec)
    if op == "trace_error_count":
        return _compare("the trace's error count", trace.error_count, spec)
    if op == "trace_service_count":
        return _compare(f"the trace's service count ({describe(trace.services)})", len(trace.services), spec)
    if op == "trace_max_depth":
        return _compare("the trace's depth", trace.max_depth, spec)
    if op == "trace_attribute":
        root = trace.root
        if root is None:
            raise OpError("the trace has no root span")
        pairs = _value(attribute_values([root], spec.attribute or ""), spec)
        if not pairs:
            raise OpError(
                f"the root span {root.name!r} has no attribute {spec.attribute!r}; "
                f"it has {cap_list(list(root.attributes))}"
            )
        return _compare(f"root span attribute {spec.attribute!r}", pairs[0][1], spec)
    spans = matching(trace, spec.filter)
    if op == "span_duration":
        if not spans:
            raise OpError(f"has no span{where} to time ({_seen(trace)})")
        durations = [s.duration_ms for s in spans]
        subject = (
            f"the duration in ms of the span{where}"
            if len(spans) == 1
            else f"the durations in ms of spans{where}"
        )
        return _compare(subject, durations[0] if len(durations) == 1 else durations, spec)
    key = spec.attribute or ""
    if op == "span_aggregation":
        how = spec.aggregation or "count"
        values = [v for _, v in attribute_values(spans, key)]
        result = aggregate(values, how)
        if result is None:
            if not spans:
                raise OpError(f"has no span{where} to aggregate ({_seen(trace)})")
            raise OpError(
                f"no span{where} has a numeric {key!r} to take the {how} of (values: {describe(values)})"
            )
        return _compare(f"the {how} of {key!r} over spans{where}", result, spec)
    # span_attribute
    subject = f"attribute {key!r}" + (f" at {spec.path_text!r}" if spec.path else "") + f" of spans{where}"
    if spec.match is not None:
        return _match(subject, attribute_values(spans, key), spec, where)
    if not spans:
        raise OpError(f"has no span{where} ({_seen(trace)})")
    pairs = _value(attribute_values(spans, key), spec)
    if not pairs:
        have = sorted({k for s in spans for k in s.attributes})
        raise OpError(f"no span{where} has attribute {key!r}; they have {cap_list(have)}")
    return _compare(subject, pairs[0][1] if len(pairs) == 1 else [v for _, v in pairs], spec)


def _checker(op: str) -> Callable[[Any, Any], tuple[bool, str]]:
    def check(actual: Any, spec: TraceSpec) -> tuple[bool, str]:
        return _check(spec, _read(actual))

    check.__name__ = f"check_{op}"
    return check


def show_trace(actual: Any) -> str:
    """How a reason shows a trace: its id and span names, not the opening of its JSON.

    Example:
        >>> show_trace([{"name": "root", "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "1",
        ...              "startTimeUnixNano": 0, "endTimeUnixNano": 1}])
        "trace 5b8efff7 (1 span: ['root'])"
    """
    try:
        trace = trace_of(actual)
    except DataError:
        return describe(actual)
    n = len(trace)
    tid = f" {trace.trace_id[:8]}" if trace.trace_id else ""
    return f"trace{tid} ({n} span{'' if n == 1 else 's'}: {cap_list(_names(trace), 5)})"


def _preparer(op: str) -> Callable[[Any], TraceSpec]:
    return lambda expected: trace_spec(op, expected)


for _name, _m in _MEASURES.items():
    register(
        Operator(
            name=_name,
            check=_checker(_name),
            prepare=_preparer(_name),
            phrase=_m.phrase,
            doc=_m.doc,
            expected="mapping",
            array_native=True,
            show=show_trace,
        )
    )
register(
    Operator(
        name="span_sequence",
        check=_checker("span_sequence"),
        prepare=_preparer("span_sequence"),
        phrase="a trace with spans in the order {expected}",
        doc="Span names in start order equal the list exactly: ``expected=['plan', 'search', 'answer']``.",
        expected="strings",
        array_native=True,
        show=show_trace,
    )
)
register(
    Operator(
        name="span_set",
        check=_checker("span_set"),
        prepare=_preparer("span_set"),
        phrase="a trace with spans named {expected}",
        doc="Every listed name is some span's, in any order: ``expected=['search', 'answer']``.",
        expected="strings",
        array_native=True,
        show=show_trace,
    )
)
