"""Traces an application already writes, as one DataFrame row per trace."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import DataError, cap_list, shorten
from ..paths import decode_json_prefix, loads_json
from ._spans import Trace, build_trace, iter_raw_spans

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TRACE_COLUMNS", "TRACE_FILE_EXTENSIONS", "load_traces", "trace_records"]

TRACE_FILE_EXTENSIONS = (".json", ".jsonl", ".ndjson")
"""The files :func:`load_traces` reads in a folder."""

TRACE_COLUMNS = ("trace_id", "name", "service", "start", "duration_ms", "span_count", "error_count")
"""The columns of :func:`load_traces` before ``input``, ``output`` (when the root spans carry
them) and ``trace`` (the spans)."""

Raw = tuple[Mapping[str, Any], Mapping[str, Any], str]


def load_traces(source: str | Path | pd.DataFrame | Iterable[Any]) -> pd.DataFrame:
    """Read OpenTelemetry traces into one row per trace, ready for trace assertions.

    ``source`` is a file, a folder (its ``.json``, ``.jsonl`` and ``.ndjson`` files, sorted, in
    subfolders too), a DataFrame with one row per span (columns named as a span's fields;
    ``context.*`` and ``attributes.*`` columns, as span exports flatten them, are folded back),
    or a list of spans or exports. A file holds OTLP JSON export requests (``resourceSpans``),
    one per line as the collector's file exporter writes them or as one document, lists of
    spans, or the SDK's ``span.to_json()`` objects one after another (the console exporter's
    output). Spans are grouped by trace id.

    Columns: ``trace_id``, ``name`` and ``service`` of the root span, ``start`` (UTC),
    ``duration_ms``, ``span_count``, ``error_count``, then ``input`` and ``output`` of the root
    span when any root carries them (see :data:`~workbench.traces.INPUT_KEYS`), and ``trace``:
    the spans as OTLP JSON dicts (with their resource). Rows are in start order.

    Raises:
        DataError: the path does not exist, a folder holds no trace files, a file is not JSON
            (the message names the file and line), or a span lacks its name or times.

    Example:
        >>> import json, pathlib, tempfile, workbench as wb
        >>> export = {"resourceSpans": [{
        ...     "resource": {"attributes": [
        ...         {"key": "service.name", "value": {"stringValue": "support-bot"}}]},
        ...     "scopeSpans": [{"spans": [
        ...         {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
        ...          "name": "answer", "startTimeUnixNano": "1700000000000000000",
        ...          "endTimeUnixNano": "1700000001200000000",
        ...          "attributes": [{"key": "input.value", "value": {"stringValue": "Where is my order?"}}]},
        ...         {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175",
        ...          "parentSpanId": "eee19b7ec3c1b174", "name": "search_orders",
        ...          "startTimeUnixNano": "1700000000100000000", "endTimeUnixNano": "1700000000900000000",
        ...          "status": {"code": 2, "message": "timeout"}}]}]}]}
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "traces.jsonl"
        >>> _ = path.write_text(json.dumps(export) + "\\n")
        >>> df = wb.load_traces(path)
        >>> print(df[["name", "service", "duration_ms", "span_count", "error_count", "input"]].to_string())
             name      service  duration_ms  span_count  error_count               input
        0  answer  support-bot       1200.0           2            1  Where is my order?
    """
    import pandas as pd

    raw: list[tuple[Raw, str]]
    if isinstance(source, pd.DataFrame):
        raw = list(_frame_spans(source))
    elif isinstance(source, (str, Path)):
        raw = list(_path_spans(Path(source)))
    elif isinstance(source, Iterable) and not isinstance(source, (bytes, Mapping)):
        raw = [(r, "") for r in iter_raw_spans(list(source))]
    elif isinstance(source, Mapping):
        raw = [(r, "") for r in iter_raw_spans(source)]
    else:
        raise DataError(
            f"load_traces reads a file, a folder, a DataFrame of spans or a list of spans, "
            f"got {type(source).__name__}"
        )
    return _frame(trace_records(_group(raw)))


def _group(raw: list[tuple[Raw, str]]) -> list[Trace]:
    """One trace per trace id, in order of first appearance; spans without one form a trace.
    A span that cannot be read is reported with where it came from."""
    groups: dict[str, list[Raw]] = {}
    sources: dict[str, list[str]] = {}
    for item, where in raw:
        span = item[0]
        context = span.get("context")
        tid = span.get("traceId", span.get("trace_id"))
        if tid is None and isinstance(context, Mapping):
            tid = context.get("trace_id")
        key = str(tid).lower().removeprefix("0x") if tid is not None else ""
        groups.setdefault(key, []).append(item)
        sources.setdefault(key, []).append(where)
    traces = []
    for key, spans in groups.items():
        try:
            traces.append(build_trace(spans))
        except DataError as e:
            where = next((w for w in sources[key] if w), "")
            trace = f"trace {key!r}: " if key else ""
            raise DataError(f"{where + ': ' if where else ''}{trace}{e}") from None
    return traces


def trace_records(traces: Sequence[Trace]) -> list[dict[str, Any]]:
    """One plain record per trace, with :func:`load_traces`'s columns (``start`` in
    nanoseconds since the epoch); ``input``/``output`` only when the root span has them.

    Example:
        >>> from workbench.traces import read_trace
        >>> t = read_trace([{"name": "chat", "start_time": 0, "end_time": 5_000_000,
        ...                  "attributes": {"output.value": "Hi!"}}])
        >>> {k: v for k, v in trace_records([t])[0].items() if k != "trace"}  # doctest: +NORMALIZE_WHITESPACE
        {'trace_id': '', 'name': 'chat', 'service': None, 'start': 0, 'duration_ms': 5.0,
         'span_count': 1, 'error_count': 0, 'output': 'Hi!'}
    """
    records = []
    for t in traces:
        root = t.root
        record: dict[str, Any] = {
            "trace_id": t.trace_id,
            "name": root.name if root else None,
            "service": root.service if root else None,
            "start": min((s.start_ns for s in t.spans), default=None),
            "duration_ms": t.duration_ms,
            "span_count": len(t),
            "error_count": t.error_count,
        }
        if root is not None and root.input is not None:
            record["input"] = root.input
        if root is not None and root.output is not None:
            record["output"] = root.output
        record["trace"] = [s.to_otlp() for s in t.spans]
        records.append(record)
    return records


def _frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    columns = [*TRACE_COLUMNS]
    columns += [c for c in ("input", "output") if any(c in r for r in records)]
    columns.append("trace")
    df = pd.DataFrame(records, columns=columns)
    df["start"] = pd.to_datetime(df["start"], unit="ns", utc=True)
    for col in ("span_count", "error_count"):
        df[col] = df[col].astype("int64")
    df["duration_ms"] = df["duration_ms"].astype("float64")
    df = df.sort_values("start", kind="stable", na_position="last")
    return cast("pd.DataFrame", df.reset_index(drop=True))


# --- files ---------------------------------------------------------------------------


def _path_spans(path: Path) -> Iterator[tuple[Raw, str]]:
    if not path.exists():
        raise DataError(f"{path} does not exist; give a trace file (.json, .jsonl) or a folder of them")
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TRACE_FILE_EXTENSIONS
        )
        if not files:
            found = sorted(p.name for p in path.iterdir())
            raise DataError(
                f"folder {path} holds no trace files ({', '.join(TRACE_FILE_EXTENSIONS)}); "
                f"it has {cap_list(found)}"
            )
        for f in files:
            yield from _file_spans(f)
        return
    yield from _file_spans(path)


def _file_spans(path: Path) -> Iterator[tuple[Raw, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    for line, value in _json_values(text, path):
        try:
            spans = list(iter_raw_spans(value))
        except DataError as e:
            raise DataError(f"{path}, line {line}: {e}") from None
        for r in spans:
            yield r, f"{path}, line {line}"


def _json_values(text: str, path: Path) -> Iterator[tuple[int, Any]]:
    """``(line, value)`` for each JSON value in ``text``: one document, one per line, or
    several written one after another (pretty-printed objects, as the console exporter does)."""
    stripped = text.strip()
    if not stripped:
        return
    try:
        yield 1, loads_json(stripped)
        return
    except ValueError:
        pass
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return
        line = text.count("\n", 0, pos) + 1
        try:
            value, pos = decode_json_prefix(text, pos)
        except (json.JSONDecodeError, ValueError) as e:
            raise DataError(
                f"{path}, line {line}: not JSON ({e}): {shorten(text[pos : pos + 80], 60)!r}; "
                "a trace file holds OTLP JSON (resourceSpans) or span objects"
            ) from None
        yield line, value


# --- frames ----------------------------------------------------------------------------


def _frame_spans(df: pd.DataFrame) -> Iterator[tuple[Raw, str]]:
    """Rows as span dicts: ``context.span_id`` and ``attributes.model`` columns folded into
    nested ``context`` and ``attributes``; missing values left out."""
    import pandas as pd

    records = df.rename(columns=str).to_dict(orient="records")
    for i, row in enumerate(records):
        span: dict[str, Any] = {}
        attrs: dict[str, Any] = {}
        context: dict[str, Any] = {}
        for key, value in row.items():
            if value is None or (not isinstance(value, (list, dict, tuple)) and _missing(value)):
                continue
            if isinstance(value, pd.Timestamp):
                value = value.to_pydatetime() if value.nanosecond == 0 else int(value.value)
            if key.startswith("attributes.") and key != "attributes.":
                attrs[key.removeprefix("attributes.")] = value.item() if hasattr(value, "item") else value
            elif key.startswith("context."):
                context[key.removeprefix("context.")] = value
            else:
                span[key] = (
                    value.item() if hasattr(value, "item") and not isinstance(value, (list, dict)) else value
                )
        if context:
            span["context"] = {**span.get("context", {}), **context}
        if attrs:
            base = span.get("attributes")
            span["attributes"] = {**(base if isinstance(base, dict) else {}), **attrs}
        try:
            spans = list(iter_raw_spans(span))
        except DataError as e:
            raise DataError(f"row {df.index[i]!r}: {e}") from None
        for r in spans:
            yield r, f"row {df.index[i]!r}"


def _missing(value: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
