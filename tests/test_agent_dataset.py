"""The bundled agent runs: their suite finds exactly the flaws datasets/README.md lists, and
each run's trace is OTLP JSON with the GenAI conventions' names, consistent with its response."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench.responses import normalize

ROOT = Path(__file__).resolve().parents[1]
FAILURES = {
    "a019": {"right_calls", "no_extra_calls", "in_order"},
    "a020": {"no_extra_calls", "in_order"},
    "a021": {"valid_calls", "right_calls", "results_ok"},
    "a022": {"valid_calls", "right_calls", "results_ok"},
    "a023": {"valid_calls", "right_calls", "results_ok"},
    "a024": {"valid_calls", "results_ok"},
    "a025": {"few_calls", "no_extra_calls", "in_order", "token_budget"},
    "a026": {"few_calls", "no_extra_calls", "in_order"},
    "a027": {"results_ok"},
    "a030": {"valid_calls", "no_extra_calls", "in_order", "results_ok"},
    "a031": {"in_order"},
    "a032": {"finished"},
    "a033": {"answered", "finished"},
}
"""What ``agent_suite.yaml`` fails, per row: the table in datasets/README.md."""


@pytest.fixture(scope="module")
def runs() -> pd.DataFrame:
    return wb.load_dataset(ROOT / "datasets" / "agent_runs.jsonl")


def test_the_suite_finds_exactly_the_documented_flaws(runs: pd.DataFrame) -> None:
    run = wb.evaluate(runs, wb.Suite.from_yaml(ROOT / "datasets" / "agent_suite.yaml"), save=False)
    assert set(run.results["status"]) <= {"passed", "failed"}  # no row is malformed
    failed = run.results[run.results["status"] == "failed"]
    found = {row: set(group["task"].astype(str)) for row, group in failed.groupby("row", observed=True)}
    assert found == FAILURES
    assert len(runs) == 33 and all(f"a{i:03d}" not in found for i in range(1, 19))  # a001-a018 are good


def spans(runs: pd.DataFrame, row: str) -> list[dict[str, Any]]:
    return list(runs.loc[row, "trace"])


def attributes(span: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for a in span["attributes"]:
        ((kind, value),) = a["value"].items()
        out[a["key"]] = int(value) if kind == "intValue" else value
    return out


def test_every_trace_is_otlp_json(runs: pd.DataFrame) -> None:
    for row in runs.index:
        trace = spans(runs, row)
        roots = [s for s in trace if not s["parentSpanId"]]
        assert len(roots) == 1 and roots[0]["name"] == "invoke_agent acme-support"
        ids = {s["spanId"] for s in trace}
        for s in trace:
            assert {
                "traceId",
                "spanId",
                "parentSpanId",
                "name",
                "kind",
                "startTimeUnixNano",
                "endTimeUnixNano",
                "attributes",
                "status",
            } <= s.keys()
            assert len(s["traceId"]) == 32 and len(s["spanId"]) == 16 and s["traceId"] == roots[0]["traceId"]
            assert s["parentSpanId"] in ids | {""}
            assert int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"])
            assert s["status"]["code"] in (0, 2) and s["kind"] in (1, 2, 3)
            assert attributes(s)["gen_ai.operation.name"] in ("invoke_agent", "chat", "execute_tool")


def test_traces_agree_with_the_responses(runs: pd.DataFrame) -> None:
    for row in runs.index:
        record = normalize(runs.loc[row, "response"])
        trace = [attributes(s) for s in spans(runs, row)]
        tools = [a["gen_ai.tool.name"] for a in trace if a["gen_ai.operation.name"] == "execute_tool"]
        assert tools == record["tool_names"], row
        chats = [a for a in trace if a["gen_ai.operation.name"] == "chat"]
        assert (
            sum(a["gen_ai.usage.input_tokens"] + a["gen_ai.usage.output_tokens"] for a in chats)
            == record["total_tokens"]
        )
        ids = [a["gen_ai.tool.call.id"] for a in trace if "gen_ai.tool.call.id" in a]
        assert ids == [c["id"] for c in record["tool_calls"]]


def test_the_flaws_only_a_trace_shows(runs: pd.DataFrame) -> None:
    def slowest_search(row: str) -> float:
        return max(
            (int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"])) / 1e9
            for s in spans(runs, row)
            if s["name"] == "execute_tool search_docs"
        )

    assert slowest_search("a028") > 9 and slowest_search("a029") > 7
    assert all(slowest_search(r) < 1 for r in ("a003", "a004", "a008", "a013"))
    errors = {row for row in runs.index for s in spans(runs, row) if s["status"]["code"] == 2}
    assert errors == {"a021", "a022", "a023", "a024", "a027", "a030"}
    (failed,) = [s for s in spans(runs, "a027") if s["status"]["code"] == 2]
    assert (
        failed["name"] == "execute_tool get_invoice"
        and attributes(failed)["error.type"] == "upstream timeout"
    )


def test_the_readme_agent_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    (block,) = [b for b in blocks if "agent_runs.jsonl" in b]
    monkeypatch.chdir(ROOT)
    namespace: dict[str, Any] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    failed = namespace["checked"].results.query("status == 'failed'")
    assert set(failed["row"]) == {
        "a019",
        "a021",
        "a022",
        "a023",
        "a024",
        "a025",
        "a026",
        "a030",
        "a032",
        "a033",
    }
