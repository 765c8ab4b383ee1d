"""A trace as a span tree: one line per span, indented under its parent, with a waterfall bar
of when it ran, its duration and status, and its attributes and events one click away.

Plain HTML (``<details>`` opens a span), so the tree renders in JupyterLab, in an exported
report and in the Results tab's row detail without any JavaScript. Everything taken from a
span is escaped.
"""

from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as w

from ..errors import DataError, shorten
from ..traces import Span, Trace, read_trace

__all__ = ["span_tree", "trace_html"]

_STATUS_COLOUR = {"error": "#b00020", "ok": "#1b5e20", "unset": "#555"}
_BAR_COLOUR = {"error": "#e57373", "ok": "#81c784", "unset": "#90a4ae"}
_STYLE = (
    # a long span name is cut, never widens the output area: the tree takes its width from its
    # container (contain: inline-size), not from its longest line, inside the widget's flex box
    "<style>.wb-span-tree{font-family:monospace;font-size:12px;line-height:1.5;max-width:100%;"
    "box-sizing:border-box;overflow:hidden;contain:inline-size}"
    ".wb-span-tree summary{cursor:pointer;list-style:none;display:flex;align-items:center;gap:8px}"
    ".wb-span-tree summary::-webkit-details-marker{display:none}"
    ".wb-span-tree .wb-span-name{flex:0 0 34%;min-width:0;overflow:hidden;text-overflow:ellipsis;"
    "white-space:nowrap}"
    ".wb-span-tree .wb-span-lane{flex:1 1 auto;min-width:40px;position:relative;height:10px;"
    "background:#f3f3f3}"
    ".wb-span-tree .wb-span-bar{position:absolute;top:0;height:10px;min-width:2px}"
    ".wb-span-tree .wb-span-ms{flex:0 0 7em;text-align:right}"
    ".wb-span-tree .wb-span-attrs{margin:2px 0 6px 0;border-collapse:collapse}"
    ".wb-span-tree .wb-span-attrs td,.wb-span-tree .wb-span-attrs th{padding:1px 8px;text-align:left;"
    "vertical-align:top;white-space:pre-wrap;word-break:break-word}</style>"
)
_VALUE_LIMIT = 600


def _value(v: Any) -> str:
    text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
    return html.escape(shorten(text, _VALUE_LIMIT))


def _details(span: Span) -> str:
    rows = [
        ("span id", span.span_id),
        ("kind", span.kind),
        ("status", span.status + (f": {span.status_message}" if span.status_message else "")),
    ]
    if span.service:
        rows.append(("service", span.service))
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{_value(v)}</td></tr>" for k, v in rows)
    cells += "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{_value(v)}</td></tr>" for k, v in span.attributes.items()
    )
    for e in span.events:
        attrs = ", ".join(f"{k}={shorten(str(v), 80)}" for k, v in e.attributes.items())
        when = f" at +{(e.time_ns - span.start_ns) / 1e6:.1f} ms" if e.time_ns is not None else ""
        cells += (
            f"<tr><th>event{html.escape(when)}</th><td>{html.escape(e.name)} {html.escape(attrs)}</td></tr>"
        )
    return f"<table class='wb-span-attrs'>{cells}</table>"


def trace_html(trace: Any, *, limit: int = 500) -> str:
    """The span tree of ``trace`` (anything :func:`workbench.traces.read_trace` reads) as HTML.

    At most ``limit`` spans are drawn (the rest are counted); a value that is no trace gives a
    message saying why.

    Example:
        >>> html_text = trace_html([
        ...     {"name": "agent", "spanId": "a", "startTimeUnixNano": 0, "endTimeUnixNano": 9_000_000},
        ...     {"name": "search <docs>", "spanId": "b", "parentSpanId": "a", "status": {"code": 2},
        ...      "startTimeUnixNano": 1_000_000, "endTimeUnixNano": 4_000_000},
        ... ])
        >>> "search &lt;docs&gt;" in html_text, html_text.count("class='wb-span ")
        (True, 2)
    """
    try:
        t = trace if isinstance(trace, Trace) else read_trace(trace)
    except DataError as e:
        return (
            f"<div class='wb-span-tree wb-message wb-error' style='color:#b00020'>{html.escape(str(e))}</div>"
        )
    if not t.spans:
        return "<div class='wb-span-tree'>the trace has no spans</div>"
    start = min(s.start_ns for s in t.spans)
    total = max(max(s.end_ns for s in t.spans) - start, 1)
    lines = []
    for i, span in enumerate(t.walk()):
        if i == limit:
            lines.append(f"<div class='wb-span-more'>… {len(t) - limit} more spans</div>")
            break
        left = 100 * (span.start_ns - start) / total
        width = max(100 * (span.end_ns - span.start_ns) / total, 0.2)
        colour = _STATUS_COLOUR.get(span.status, "#555")
        bar = _BAR_COLOUR.get(span.status, "#90a4ae")
        mark = " ✕" if span.status == "error" else ""
        lines.append(
            f"<details class='wb-span wb-span-{span.status}' style='margin-left:{span.depth * 16}px'>"
            f"<summary><span class='wb-span-name' style='color:{colour}' title='{html.escape(span.name)}'>"
            f"{html.escape(span.name)}{mark}</span>"
            f"<span class='wb-span-lane'><span class='wb-span-bar' "
            f"style='left:{left:.2f}%;width:{width:.2f}%;background:{bar}'></span></span>"
            f"<span class='wb-span-ms'>{span.duration_ms:,.1f} ms</span></summary>{_details(span)}</details>"
        )
    services = ", ".join(t.services)
    head = (
        f"<div class='wb-trace-head'><b>trace {html.escape(t.trace_id[:16] or '(no id)')}</b> · "
        f"{len(t)} span{'s' if len(t) != 1 else ''} · {t.duration_ms:,.1f} ms · "
        f"{t.error_count} error{'s' if t.error_count != 1 else ''}"
        + (f" · {html.escape(services)}" if services else "")
        + "</div>"
    )
    return f"{_STYLE}<div class='wb-span-tree'>{head}{''.join(lines)}</div>"


def span_tree(trace: Any, *, limit: int = 500) -> w.HTML:
    """A widget showing ``trace`` as a span tree (click a span for its attributes and events).

    Example:
        >>> tree = span_tree([{"name": "agent", "spanId": "a", "startTimeUnixNano": 0, "endTimeUnixNano": 5}])
        >>> "wb-span-tree" in tree.value
        True
    """
    widget = w.HTML(trace_html(trace, limit=limit))
    widget.add_class("wb-span-tree-widget")
    return widget
