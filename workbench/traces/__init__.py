"""OpenTelemetry traces as data: spans read from OTLP JSON or the SDK's dicts, indexed once
per cell, span filters, the figures trace assertions measure, and :func:`load_traces`.

Example:
    >>> from workbench.traces import read_trace, parse_filter, count_spans
    >>> trace = read_trace([
    ...     {"name": "agent", "spanId": "a1", "startTimeUnixNano": "0", "endTimeUnixNano": "900000000"},
    ...     {"name": "execute_tool search", "spanId": "b2", "parentSpanId": "a1",
    ...      "startTimeUnixNano": "100000000", "endTimeUnixNano": "400000000",
    ...      "attributes": [{"key": "gen_ai.tool.name", "value": {"stringValue": "search"}}]},
    ... ])
    >>> count_spans(trace, parse_filter({"tool": "search"})), trace.duration_ms, trace.max_depth
    (1, 900.0, 1)
"""

from ._filters import FILTER_KEYS, GEN_AI_ATTRIBUTES, SpanFilter, attribute, json_equal, parse_filter
from ._index import MAX_INDEXED_SPANS, TRACE_INDEX, TraceIndex, index_column, trace_of
from ._load import load_traces, trace_records
from ._measures import AGGREGATIONS, aggregate, attribute_values, count_spans, matching, parse_aggregation
from ._scouter import from_scouter
from ._spans import (
    INPUT_KEYS,
    OUTPUT_KEYS,
    Span,
    SpanEvent,
    Trace,
    attributes_of,
    iter_raw_spans,
    looks_like_trace,
    otlp_attributes,
    read_trace,
)

__all__ = [
    "AGGREGATIONS",
    "FILTER_KEYS",
    "GEN_AI_ATTRIBUTES",
    "INPUT_KEYS",
    "MAX_INDEXED_SPANS",
    "OUTPUT_KEYS",
    "TRACE_INDEX",
    "Span",
    "SpanEvent",
    "SpanFilter",
    "Trace",
    "TraceIndex",
    "aggregate",
    "attribute",
    "attribute_values",
    "attributes_of",
    "count_spans",
    "from_scouter",
    "index_column",
    "iter_raw_spans",
    "json_equal",
    "load_traces",
    "looks_like_trace",
    "matching",
    "otlp_attributes",
    "parse_aggregation",
    "parse_filter",
    "read_trace",
    "trace_of",
    "trace_records",
]
