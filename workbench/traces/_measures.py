"""What a trace assertion measures: spans that match a filter, their count, durations and
attributes, aggregations, and trace-wide figures. Scouter's semantics, on workbench's spans."""

from __future__ import annotations

from typing import Any

from ..errors import did_you_mean
from ._filters import SpanFilter, attribute, has
from ._spans import Span, Trace

__all__ = [
    "AGGREGATIONS",
    "aggregate",
    "attribute_values",
    "count_spans",
    "matching",
    "parse_aggregation",
]

AGGREGATIONS = ("count", "sum", "average", "min", "max", "first", "last")
"""Scouter's ``AggregationType``s: ``count`` counts the spans that have the attribute, the
others take its numeric values (in start order for ``first`` and ``last``)."""

_AGGREGATION_ALIASES = {"mean": "average", "avg": "average", "total": "sum"}


def parse_aggregation(name: Any) -> str:
    """An aggregation name in canonical form (Scouter's ``Sum`` and ``mean`` are accepted).

    Raises:
        ValueError: an unknown name; the message lists the closest ones.

    Example:
        >>> parse_aggregation("Average"), parse_aggregation("mean")
        ('average', 'average')
    """
    if not isinstance(name, str):
        raise ValueError(f"'aggregation' needs one of {list(AGGREGATIONS)}, got {name!r}")
    word = name.strip().lower()
    word = _AGGREGATION_ALIASES.get(word, word)
    if word not in AGGREGATIONS:
        raise ValueError(
            f"unknown aggregation {name!r}{did_you_mean(word, AGGREGATIONS)}; use one of {list(AGGREGATIONS)}"
        )
    return word


def matching(trace: Trace, span_filter: SpanFilter | None) -> list[Span]:
    """The spans ``span_filter`` keeps (every span for None), in start order."""
    if span_filter is None:
        return list(trace.spans)
    test = span_filter.test
    return [s for s in trace.spans if test(s)]


def count_spans(trace: Trace, span_filter: SpanFilter | None) -> int:
    """How many spans match; for a ``sequence`` filter, how many times the names run in a row
    (overlapping runs count, as in Scouter).

    Example:
        >>> from workbench.traces import parse_filter, read_trace
        >>> t = read_trace([{"name": n, "start_time": i, "end_time": i + 1}
        ...                 for i, n in enumerate(["a", "b", "a", "b", "c"])])
        >>> count_spans(t, parse_filter({"sequence": ["a", "b"]}))
        2
    """
    if span_filter is not None and span_filter.sequence is not None:
        wanted = list(span_filter.sequence)
        names = trace.names
        k = len(wanted)
        return sum(1 for i in range(len(names) - k + 1) if names[i : i + k] == wanted)
    return len(matching(trace, span_filter))


def attribute_values(spans: list[Span], key: str) -> list[tuple[Span, Any]]:
    """``(span, value)`` for the spans that have attribute ``key`` (``gen_ai`` short names
    included), in order."""
    out = []
    for s in spans:
        v = attribute(s, key)
        if has(v):
            out.append((s, v))
    return out


def aggregate(values: list[Any], how: str) -> float | int | None:
    """Aggregate attribute values as Scouter does: ``count`` counts them, the others use the
    numbers among them (booleans and numeric strings are not numbers) and give None when
    there are none.

    Example:
        >>> aggregate([150, 300, "n/a"], "sum"), aggregate([150, 300, "n/a"], "count")
        (450, 3)
        >>> aggregate(["n/a"], "max") is None
        True
    """
    if how == "count":
        return len(values)
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not numbers:
        return None
    if how == "sum":
        return sum(numbers)
    if how == "average":
        return sum(numbers) / len(numbers)
    if how == "min":
        return min(numbers)
    if how == "max":
        return max(numbers)
    if how == "first":
        return numbers[0]
    return numbers[-1]
