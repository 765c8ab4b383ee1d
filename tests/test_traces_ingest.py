"""Ingest: ``wb.load_traces`` over files, folders and frames, and ``workbench.otel.SpanCollector``
collecting traces in-process into a frame or a ``submit`` target."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from tests.test_traces import BAD, GOOD, agent_trace, export_request, sdk_dict, span
from workbench.traces import otlp_attributes


def second_trace() -> list[dict[str, Any]]:
    return [{**s, "traceId": "0af7651916cd43dd8448eb211c80319c"} for s in agent_trace(tool="lookup")]


def test_a_collector_file_of_export_requests_gives_one_row_per_trace(tmp_path: Path) -> None:
    # the collector's file exporter: one ExportTraceServiceRequest per line; a trace may span lines
    lines = [export_request(GOOD[:2]), export_request(GOOD[2:]), export_request(second_trace())]
    path = tmp_path / "traces.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    df = wb.load_traces(path)
    assert df.columns.tolist() == [
        "trace_id",
        "name",
        "service",
        "start",
        "duration_ms",
        "span_count",
        "error_count",
        "input",
        "trace",
    ]
    assert df["trace_id"].tolist() == ["4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"]
    assert df["span_count"].tolist() == [4, 4]
    assert df["service"].tolist() == ["support-bot", "support-bot"]
    assert df["input"].tolist() == ["Where is my order?"] * 2
    assert str(df["start"].dtype) == "datetime64[ns, UTC]"
    assert df["start"][0] == pd.Timestamp("2026-01-01T00:00:00Z")
    assert (df["span_count"].dtype, df["duration_ms"].dtype) == ("int64", "float64")


def test_loaded_traces_evaluate_with_trace_operators(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    other = [{**s, "traceId": "0af7651916cd43dd8448eb211c80319c"} for s in BAD]
    path.write_text(json.dumps([export_request(GOOD), export_request(other)]))
    df = wb.load_traces(path)
    suite = wb.Suite(
        name="s",
        tasks=[
            wb.AssertionTask(id="no_errors", path="trace", op="trace_error_count", expected={"equals": 0}),
            wb.AssertionTask(
                id="one_service", path="trace", op="trace_service_count", expected={"equals": 1}
            ),
            wb.AssertionTask(id="asks", path="input", op="contains", expected="order"),
        ],
    )
    r = wb.evaluate(df, suite, save=False).results
    assert r.pivot(index="row", columns="task", values="status").to_dict("index") == {
        0: {"asks": "passed", "no_errors": "passed", "one_service": "passed"},
        1: {"asks": "passed", "no_errors": "failed", "one_service": "passed"},
    }


def test_a_folder_reads_every_trace_file_below_it(tmp_path: Path) -> None:
    (tmp_path / "day1").mkdir()
    (tmp_path / "day1" / "a.json").write_text(json.dumps(export_request(GOOD)))
    (tmp_path / "b.ndjson").write_text(json.dumps(export_request(second_trace())) + "\n")
    (tmp_path / "notes.txt").write_text("not read")
    df = wb.load_traces(tmp_path)
    assert len(df) == 2
    assert set(df["trace_id"]) == {"4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"}


def test_console_exporter_output_reads_too(tmp_path: Path) -> None:
    """ConsoleSpanExporter prints each span's to_json() one after another, pretty-printed."""
    path = tmp_path / "console.json"
    path.write_text("".join(json.dumps(sdk_dict(s), indent=4) + "\n" for s in BAD))
    df = wb.load_traces(path)
    assert df["span_count"].tolist() == [4]
    assert df["error_count"].tolist() == [1]
    assert df["service"].tolist() == ["support-bot"]


def test_root_output_becomes_a_column(tmp_path: Path) -> None:
    root = {**GOOD[0], "attributes": otlp_attributes({"input.value": "Hi", "output.value": "Hello!"})}
    df = wb.load_traces([root, *GOOD[1:]])
    assert df[["input", "output"]].to_dict("records") == [{"input": "Hi", "output": "Hello!"}]


def test_traces_without_input_have_no_input_column() -> None:
    df = wb.load_traces([span("solo", "f1", 0, 5)])
    assert "input" not in df and "output" not in df


def test_the_trace_column_reads_back_as_the_same_trace() -> None:
    from workbench.traces import read_trace

    df = wb.load_traces(BAD)
    again = read_trace(df["trace"][0])
    original = read_trace(BAD)
    assert [
        (s.name, s.span_id, s.parent_id, s.start_ns, s.end_ns, s.status, s.kind) for s in again.spans
    ] == [(s.name, s.span_id, s.parent_id, s.start_ns, s.end_ns, s.status, s.kind) for s in original.spans]
    assert [dict(s.attributes) for s in again.spans] == [dict(s.attributes) for s in original.spans]


def test_a_frame_of_spans_with_flattened_columns() -> None:
    """A span export as a table: context.* and attributes.* columns, Timestamps for times."""
    rows = []
    for s in BAD:
        d = sdk_dict(s)
        rows.append(
            {
                "name": d["name"],
                "context.trace_id": d["context"]["trace_id"],
                "context.span_id": d["context"]["span_id"],
                "parent_id": d["parent_id"],
                "start_time": pd.Timestamp(d["start_time"]),
                "end_time": pd.Timestamp(d["end_time"]),
                "status_code": s["status"]["code"],
                "attributes.gen_ai.tool.name": d["attributes"].get("gen_ai.tool.name"),
                "attributes.input.value": d["attributes"].get("input.value"),
            }
        )
    df = wb.load_traces(pd.DataFrame(rows))
    assert df[["name", "span_count", "error_count", "input"]].to_dict("records") == [
        {"name": "invoke_agent support", "span_count": 4, "error_count": 1, "input": "Where is my order?"}
    ]
    assert df["duration_ms"][0] == 1800.0


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            lambda p: p / "missing.json",
            "missing.json does not exist; give a trace file (.json, .jsonl) or a folder",
        ),
        (lambda p: p, "holds no trace files (.json, .jsonl, .ndjson); it has ['x.csv']"),
        (lambda p: _write(p / "bad.jsonl", '{"resourceSpans": []}\n{oops\n'), "bad.jsonl, line 2: not JSON"),
        (lambda p: _write(p / "num.json", "[1, 2]"), "num.json, line 1: span 0 is number, not an object"),
        (
            lambda p: _write(
                p / "noname.json", json.dumps([{"spanId": "1", "start_time": 0, "end_time": 1}])
            ),
            "noname.json, line 1: span 0 has no name (a string in 'name'); it has ['end_time', 'spanId'",
        ),
        (
            lambda p: _write(p / "notime.json", json.dumps([{"name": "a", "spanId": "1"}])),
            "notime.json, line 1: span 0 ('a') has no start time",
        ),
    ],
    ids=["missing", "empty-folder", "not-json", "not-spans", "no-name", "no-time"],
)
def test_bad_sources_say_what_is_wrong(tmp_path: Path, setup: Any, message: str) -> None:
    (tmp_path / "x.csv").write_text("a\n")
    with pytest.raises(wb.DataError) as e:
        wb.load_traces(setup(tmp_path))
    assert message in str(e.value)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- the collector --------------------------------------------------------------------------


class Inbox:
    """A plain submit target, as a wb.Monitor is one."""

    def __init__(self, fail: bool = False) -> None:
        self.records: list[dict[str, Any]] = []
        self.fail = fail

    def submit(self, record: dict[str, Any]) -> None:
        if self.fail:
            raise ConnectionError("monitor is down")
        self.records.append(record)


@pytest.fixture
def sdk() -> Any:
    return pytest.importorskip("opentelemetry.sdk.trace", reason="the OpenTelemetry SDK is not installed")


def provider_with(sdk: Any, processor: Any) -> Any:
    from opentelemetry.sdk.resources import Resource

    provider = sdk.TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(processor)
    return provider


def run_agent(tracer: Any, tool: str = "search_docs", fail: bool = False) -> None:
    from opentelemetry.trace import Status, StatusCode

    with tracer.start_as_current_span(
        "invoke_agent", attributes={"input.value": "Where is my order?"}
    ) as root:
        with tracer.start_as_current_span("chat", attributes={"gen_ai.usage.input_tokens": 120}):
            pass
        with tracer.start_as_current_span(f"execute_tool {tool}", attributes={"gen_ai.tool.name": tool}) as t:
            t.add_event("retry", {"attempt": 1})
            if fail:
                t.set_status(Status(StatusCode.ERROR, "timeout"))
        root.set_attribute("output.value", "It ships tomorrow.")


def test_the_collector_gathers_finished_traces_into_a_frame(sdk: Any) -> None:
    from workbench.otel import SpanCollector

    collector = SpanCollector()
    tracer = provider_with(sdk, collector).get_tracer("bot")
    run_agent(tracer)
    run_agent(tracer, tool="delete_account", fail=True)
    df = collector.to_frame()
    assert df[["name", "service", "span_count", "error_count", "input", "output"]].to_dict("records") == [
        {
            "name": "invoke_agent",
            "service": "support-bot",
            "span_count": 3,
            "error_count": 0,
            "input": "Where is my order?",
            "output": "It ships tomorrow.",
        },
        {
            "name": "invoke_agent",
            "service": "support-bot",
            "span_count": 3,
            "error_count": 1,
            "input": "Where is my order?",
            "output": "It ships tomorrow.",
        },
    ]
    suite = wb.Suite(
        name="s",
        tasks=[
            wb.AssertionTask(
                id="safe_tool",
                path="trace",
                op="not_span_exists",
                expected={"filter": {"tool": "delete_account"}},
            ),
            wb.AssertionTask(
                id="sequence",
                path="trace",
                op="span_sequence",
                expected=["invoke_agent", "chat", "execute_tool search_docs"],
            ),
        ],
    )
    r = wb.evaluate(df, suite, save=False).results
    assert r["status"].tolist() == ["passed", "failed", "passed", "failed"]


def test_the_collector_keeps_nanoseconds_events_and_the_error_message(sdk: Any) -> None:
    from workbench.otel import SpanCollector
    from workbench.traces import read_trace

    collector = SpanCollector()
    run_agent(provider_with(sdk, collector).get_tracer("bot"), fail=True)
    trace = read_trace(collector.records[0]["trace"])
    tool = trace.spans[2]
    assert (tool.status, tool.status_message) == ("error", "timeout")
    assert [(e.name, dict(e.attributes)) for e in tool.events] == [("retry", {"attempt": 1})]
    assert tool.parent_id == trace.roots[0].span_id
    assert tool.scope == "bot"


def test_the_collector_submits_each_trace_to_a_target(sdk: Any) -> None:
    from workbench.otel import SpanCollector

    inbox = Inbox()
    tracer = provider_with(sdk, SpanCollector(inbox)).get_tracer("bot")
    run_agent(tracer)
    run_agent(tracer)
    assert [r["span_count"] for r in inbox.records] == [3, 3]
    assert {"trace_id", "name", "input", "output", "trace"} <= set(inbox.records[0])
    assert inbox.records[0]["trace_id"] != inbox.records[1]["trace_id"]


def test_a_failing_target_never_raises_into_the_application(sdk: Any) -> None:
    from workbench.otel import SpanCollector

    collector = SpanCollector(Inbox(fail=True))
    run_agent(provider_with(sdk, collector).get_tracer("bot"))  # does not raise
    assert collector.failed_submits == 1
    assert collector.last_error == "ConnectionError: monitor is down"


def test_a_target_without_submit_is_refused() -> None:
    pytest.importorskip("opentelemetry.sdk.trace", reason="the OpenTelemetry SDK is not installed")
    from workbench.otel import SpanCollector

    with pytest.raises(TypeError, match="needs a submit\\(record\\) method"):
        SpanCollector(object())  # type: ignore[arg-type]


def test_spans_of_threads_are_gathered_by_trace(sdk: Any) -> None:
    from workbench.otel import SpanCollector

    collector = SpanCollector()
    tracer = provider_with(sdk, collector).get_tracer("bot")
    threads = [threading.Thread(target=run_agent, args=(tracer,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    df = collector.to_frame()
    assert len(df) == 8
    assert df["span_count"].tolist() == [3] * 8


def test_a_span_ending_after_its_root_is_counted_late(sdk: Any) -> None:
    from workbench.otel import SpanCollector

    collector = SpanCollector()
    tracer = provider_with(sdk, collector).get_tracer("bot")
    root = tracer.start_span("root")
    from opentelemetry import trace

    child = tracer.start_span("background", context=trace.set_span_in_context(root))
    root.end()
    child.end()
    assert [r["span_count"] for r in collector.records] == [1]
    assert collector.late_spans == 1


def test_flush_emits_traces_whose_root_has_not_ended(sdk: Any) -> None:
    from opentelemetry import trace

    from workbench.otel import SpanCollector

    collector = SpanCollector()
    tracer = provider_with(sdk, collector).get_tracer("bot")
    root = tracer.start_span("root")
    tracer.start_span("step", context=trace.set_span_in_context(root)).end()
    assert collector.records == []
    collector.force_flush()
    assert [r["name"] for r in collector.records] == ["step"]


def test_without_the_sdk_the_collector_says_how_to_install_it() -> None:
    """Run in a fresh interpreter where the SDK cannot be imported."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['opentelemetry.sdk.trace'] = None\n"
        "from workbench.otel import SpanCollector\n"
        "try:\n    SpanCollector()\nexcept ImportError as e:\n    print(type(e).__name__, e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1]
    )
    assert out.stdout.strip() == (
        'MissingDependencyError workbench.otel needs the OpenTelemetry SDK: pip install "workbench[otel]" '
        "(opentelemetry-sdk)"
    ), out.stderr
