"""Collect an application's finished traces in-process, for evaluation or monitoring.

:class:`SpanCollector` is an OpenTelemetry ``SpanProcessor``: add it to the tracer provider
and every trace, once its root span ends, becomes one record with :func:`wb.load_traces`'s
columns, kept for :meth:`SpanCollector.to_frame` or handed to a target's ``submit(record)``
(a ``wb.Monitor``, or any object with that method). Needs the SDK:
``pip install "workbench[otel]"``.

Example:
    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> from workbench.otel import SpanCollector
    >>> collector = SpanCollector()
    >>> provider = TracerProvider()
    >>> provider.add_span_processor(collector)
    >>> tracer = provider.get_tracer("support-bot")
    >>> with tracer.start_as_current_span("answer", attributes={"input.value": "Where is my order?"}):
    ...     with tracer.start_as_current_span("search_orders"):
    ...         pass
    >>> collector.to_frame()[["name", "span_count", "input"]]
         name  span_count               input
    0  answer           2  Where is my order?
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import TYPE_CHECKING, Any, Protocol

from .errors import MissingDependencyError, shorten
from .traces import Trace, trace_records

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SpanCollector", "Submitter", "span_from_sdk"]

_MISSING = 'workbench.otel needs the OpenTelemetry SDK: pip install "workbench[otel]" (opentelemetry-sdk)'

try:
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
except ImportError:  # the SDK is an optional extra: a stand-in that says how to get it
    # (the ignores: mypy checks against the SDK's classes, which these stand-ins replace)
    ReadableSpan = Any  # type: ignore[misc,assignment]

    class SpanProcessor:  # type: ignore[no-redef]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise MissingDependencyError(_MISSING)


class Submitter(Protocol):
    """Where finished traces go: ``wb.Monitor``, or any object with this one method."""

    def submit(self, record: dict[str, Any]) -> Any:
        """Take one trace's record (the columns of :func:`wb.load_traces`, ``trace`` as OTLP dicts)."""
        ...


def span_from_sdk(span: ReadableSpan) -> dict[str, Any]:
    """An SDK ``ReadableSpan`` as an OTLP JSON span dict (with its resource), without going
    through ``to_json``'s ISO times (which keep microseconds only).

    Example:
        >>> from opentelemetry.sdk.trace import TracerProvider
        >>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        >>> exporter = InMemorySpanExporter()
        >>> p = TracerProvider(); p.add_span_processor(SimpleSpanProcessor(exporter))
        >>> with p.get_tracer("t").start_as_current_span("step", attributes={"tokens": 3}):
        ...     pass
        >>> d = span_from_sdk(exporter.get_finished_spans()[0])
        >>> d["name"], d["kind"], d["attributes"]
        ('step', 1, [{'key': 'tokens', 'value': {'intValue': '3'}}])
    """
    from .traces import otlp_attributes

    ctx = span.context
    out: dict[str, Any] = {
        "traceId": format(ctx.trace_id, "032x") if ctx else "",
        "spanId": format(ctx.span_id, "016x") if ctx else "",
        "name": span.name,
        "kind": span.kind.value + 1,  # the SDK counts kinds from INTERNAL = 0, OTLP from 1
        "startTimeUnixNano": str(span.start_time or 0),
        "endTimeUnixNano": str(span.end_time or span.start_time or 0),
        "attributes": otlp_attributes(dict(span.attributes or {})),
        "status": {"code": span.status.status_code.value},  # UNSET 0, OK 1, ERROR 2 in both
    }
    if span.status.description:
        out["status"]["message"] = span.status.description
    if span.parent is not None:
        out["parentSpanId"] = format(span.parent.span_id, "016x")
    if span.events:
        out["events"] = [
            {
                "name": e.name,
                "timeUnixNano": str(e.timestamp),
                "attributes": otlp_attributes(dict(e.attributes or {})),
            }
            for e in span.events
        ]
    if span.resource is not None and span.resource.attributes:
        out["resource"] = {"attributes": otlp_attributes(dict(span.resource.attributes))}
    if span.instrumentation_scope is not None:
        out["scope"] = {"name": span.instrumentation_scope.name}
    return out


class SpanCollector(SpanProcessor):
    """Gathers spans by trace and emits a trace when its local root span ends (a span with no
    parent, or whose parent is in another process).

    Args:
        target: an object with ``submit(record)`` (a ``wb.Monitor``); without one, finished
            traces are kept for :meth:`to_frame`.
        max_traces: how many finished traces are kept without a target (the oldest go
            first), and how many unfinished ones are held at once (the oldest unfinished
            trace is emitted as it is when a new one would pass the bound).

    A span that ends after its trace was emitted is counted in :attr:`late_spans`, never an
    error in the application. A failing ``submit`` is counted in :attr:`failed_submits` with
    its message in :attr:`last_error`: tracing never raises into the traced code.

    Example:
        >>> class Inbox:
        ...     def __init__(self): self.records = []
        ...     def submit(self, record): self.records.append(record)
        >>> from opentelemetry.sdk.trace import TracerProvider
        >>> inbox = Inbox()
        >>> provider = TracerProvider()
        >>> provider.add_span_processor(SpanCollector(inbox))
        >>> with provider.get_tracer("bot").start_as_current_span("answer"):
        ...     pass
        >>> [r["name"] for r in inbox.records]
        ['answer']
    """

    def __init__(self, target: Submitter | None = None, *, max_traces: int = 10_000) -> None:
        super().__init__()
        if target is not None and not callable(getattr(target, "submit", None)):
            raise TypeError(
                f"SpanCollector's target needs a submit(record) method (a wb.Monitor has one); "
                f"got {type(target).__name__}"
            )
        self.target = target
        self.max_traces = max_traces
        self.late_spans = 0
        self.failed_submits = 0
        self.last_error: str | None = None
        self._pending: OrderedDict[int, list[ReadableSpan]] = OrderedDict()
        self._done: deque[dict[str, Any]] = deque(maxlen=max_traces)
        self._emitted: deque[int] = deque(maxlen=max_traces)
        self._emitted_set: set[int] = set()
        self._lock = threading.Lock()

    # --- SpanProcessor ---------------------------------------------------------------

    def on_end(self, span: ReadableSpan) -> None:
        """Called by the SDK for every span that ends."""
        ctx = span.context
        if ctx is None:
            return
        finished: list[ReadableSpan] | None = None
        with self._lock:
            if ctx.trace_id in self._emitted_set:
                self.late_spans += 1
                return
            self._pending.setdefault(ctx.trace_id, []).append(span)
            if span.parent is None or span.parent.is_remote:
                finished = self._pending.pop(ctx.trace_id)
                self._mark(ctx.trace_id)
            elif len(self._pending) > self.max_traces:
                tid, finished = self._pending.popitem(last=False)
                self._mark(tid)
        if finished is not None:
            self._emit(finished)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Emit the traces whose root has not ended yet, as they are."""
        with self._lock:
            pending = list(self._pending.items())
            self._pending.clear()
            for tid, _ in pending:
                self._mark(tid)
        for _, spans in pending:
            self._emit(spans)
        return True

    def shutdown(self) -> None:
        """Emit what is pending (the SDK calls this when the provider shuts down)."""
        self.force_flush()

    # --- results -----------------------------------------------------------------------

    @property
    def records(self) -> list[dict[str, Any]]:
        """The finished traces kept (without a target), oldest first."""
        with self._lock:
            return list(self._done)

    def to_frame(self) -> pd.DataFrame:
        """The finished traces as :func:`wb.load_traces` returns them: one row per trace."""
        from .traces import load_traces

        return load_traces([span for record in self.records for span in record["trace"]])

    def clear(self) -> None:
        """Forget the finished traces kept."""
        with self._lock:
            self._done.clear()

    # --- internals ---------------------------------------------------------------------

    def _mark(self, trace_id: int) -> None:
        if len(self._emitted) == self._emitted.maxlen:
            self._emitted_set.discard(self._emitted[0])
        self._emitted.append(trace_id)
        self._emitted_set.add(trace_id)

    def _emit(self, spans: list[ReadableSpan]) -> None:
        from .traces import read_trace

        try:
            trace: Trace = read_trace([span_from_sdk(s) for s in spans])
            record = trace_records([trace])[0]
        except Exception as e:  # noqa: BLE001  (a span the SDK let through must not break the app)
            self.failed_submits += 1
            self.last_error = f"could not read a trace: {type(e).__name__}: {shorten(str(e), 200)}"
            return
        if self.target is None:
            with self._lock:
                self._done.append(record)
            return
        try:
            self.target.submit(record)
        except Exception as e:  # noqa: BLE001  (the monitor's trouble is not the application's)
            self.failed_submits += 1
            self.last_error = f"{type(e).__name__}: {shorten(str(e), 200)}"
