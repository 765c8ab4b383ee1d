"""The Workbench panel, driven as a user would (set values, click), against the local judge
server through litellm over real HTTP. No browser: the widgets' state is asserted."""

from __future__ import annotations

import ast
import asyncio
import html
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench.prompts import render_messages
from workbench.testing import JudgeServer

C = wb.Criterion
SECRET = "sk-do-not-show-7f3a9c"


def verdicts(body: dict[str, Any]) -> dict[str, Any]:
    """Every criterion asked about: score 1 when the answer says 'wrong', else 5."""
    names = body["response_format"]["json_schema"]["schema"]["properties"]
    score = 1 if "wrong" in body["messages"][-1]["content"] else 5
    return {n: {"reason": f"{n}: <img src=x onerror=alert(1)> judged {score}", "score": score} for n in names}


def data(n: int = 6) -> pd.DataFrame:
    answers = [f"It is {2 * i}." if i % 3 else f"It is wrong, {i}." for i in range(n)]
    return pd.DataFrame(
        {"question": [f"What is {i} + {i}?" for i in range(n)], "answer": answers},
        index=[f"r{i}" for i in range(n)],
    )


def tone_suite(mode: str = "per_criterion") -> wb.Suite:
    return wb.Suite(
        name="qa",
        version="v1",
        tasks=[
            wb.AssertionTask(id="has_answer", path="answer", op="is_not_empty"),
            wb.JudgeTask(
                id="tone",
                prompt="Question: ${question}\nAnswer: ${answer}",
                mode=mode,
                threshold=3,
                depends_on=["has_answer"],
                criteria=[
                    C(name="accurate", description="The answer is correct."),
                    C(name="polite", description="The answer is polite."),
                ],
            ),
        ],
    )


def make_panel(
    server: JudgeServer,
    tmp_path: Path,
    df: pd.DataFrame | None = None,
    suite: wb.Suite | None = None,
    **kw: Any,
) -> Any:
    options: dict[str, Any] = {
        "cache_dir": tmp_path / "cache",
        "store": tmp_path / "store",
        "api_base": server.url,
        "api_key": SECRET,
        "backoff_s": 0.0,
        **kw,
    }
    return wb.Workbench(data() if df is None else df, suite or tone_suite(), model=server.model, **options)


def text(widget: Any) -> str:
    """What an HTML widget shows, as text."""
    return html.unescape(widget.value)


def statuses(panel: Any) -> pd.DataFrame:
    return panel.explorer.cells()


def test_editing_one_criterion_then_running_the_changed_rows_calls_once_per_row(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    server = judge_server_factory(script=verdicts)
    panel = make_panel(server, tmp_path)
    assert "12 new" in panel.runner.summary.value  # 6 rows x 2 criteria, nothing cached yet
    panel.runner.run_button.click()
    assert server.count == 12 and "done 12" in panel.runner.status.value
    v1 = panel.current
    assert v1.results is not None and len(v1.results) == 6 * 3

    server.reset()
    panel.editor.description["accurate"].value = "The answer is arithmetically correct."
    panel.editor.apply_button.click()
    assert [v.label for v in panel.versions] == ["v1", "v2"] and panel.current.parent == "v1"
    assert panel.current.fingerprint != v1.fingerprint
    assert panel.current.fingerprint in panel.editor.fingerprint.value
    assert "v2" in panel.editor.versions_table.value and v1.fingerprint in panel.editor.versions_table.value
    assert set(statuses(panel)["status"]) == {"not run"}  # nothing ran under v2 yet
    panel.runner.subset.value = "changed"
    assert panel.runner.selected_rows() == list(panel.df.index)
    assert "6 cached, 6 new" in panel.runner.summary.value
    panel.runner.run_button.click()
    assert server.count == 6  # exactly the edited criterion, once per row
    assert all("arithmetically correct" in r["messages"][0]["content"] for r in server.requests)
    assert "not run" not in set(statuses(panel)["status"])
    assert (
        v1.suite.task("tone").criteria[0].description == "The answer is correct."
    )  # the old version is kept


def test_failing_subset_reruns_only_the_failing_rows_cells(judge_server_factory: Any, tmp_path: Path) -> None:
    server = judge_server_factory(script=verdicts)
    panel = make_panel(server, tmp_path)
    panel.runner.run_button.click()
    failing = ["r0", "r3"]  # the 'wrong' answers score 1 < threshold 3
    panel.runner.subset.value = "failing"
    assert panel.runner.selected_rows() == failing

    server.reset()
    panel.editor.description["polite"].value = "The answer is polite and friendly."
    panel.editor.apply_button.click()
    panel.runner.subset.value = "failing"  # still read from v1's results: v2 has none yet
    assert panel.runner.selected_rows() == failing
    panel.runner.run_button.click()
    assert server.count == len(failing)  # one call per failing row: the edited criterion only
    assert {r["messages"][-1]["content"].count("wrong") > 0 for r in server.requests} == {True}
    cells = statuses(panel)
    tone = cells[cells["task"] == "tone"]
    assert set(tone.loc[~tone["row"].isin(failing), "status"]) == {"not run"}  # not v1's verdicts
    assert set(tone.loc[tone["row"].isin(failing), "status"]) == {"failed"}

    panel.explorer.status.value = "failed"
    shown = panel.explorer.filtered()
    assert set(shown["row"]) == set(failing) and set(shown["status"]) == {"failed"}
    panel.explorer.criterion.value = "polite"
    assert set(panel.explorer.filtered()["criterion"]) == {"polite"}
    panel.explorer.status.value = "not run"
    panel.explorer.criterion.value = "(all)"
    assert len(panel.explorer.filtered()) == 4 * 3  # 4 rows x (has_answer, accurate, polite)


@pytest.mark.parametrize(
    ("field", "key", "value", "message"),
    [
        ("criterion_threshold", "accurate", "9", "threshold 9 is outside the scale 1..5"),
        ("name", "polite", "", "criterion name '' must start with a letter"),
        ("name", "polite", "accurate", "criterion names must be unique; repeated: ['accurate']"),
    ],
    ids=["threshold-outside-scale", "empty-name", "duplicate-name"],
)
def test_a_bad_edit_shows_the_error_and_keeps_the_old_version(
    judge_server: JudgeServer, tmp_path: Path, field: str, key: str, value: str, message: str
) -> None:
    panel = make_panel(judge_server, tmp_path)
    before = panel.current
    panel.editor.guidelines.value = "Be strict."
    getattr(panel.editor, field)[key].value = value
    panel.editor.apply_button.click()
    assert message in text(panel.editor.error) and "Traceback" not in text(panel.editor.error)
    assert panel.versions == [before] and panel.current is before
    assert getattr(panel.editor, field)[key].value == value and panel.editor.guidelines.value == "Be strict."
    assert "wb-error" in panel.editor.preview.value  # the preview renders the draft: same problem
    getattr(panel.editor, field)[key].value = {"name": key, "criterion_threshold": "4"}[field]
    panel.editor.apply_button.click()
    assert [v.label for v in panel.versions] == ["v1", "v2"] and panel.editor.error.value == ""
    assert panel.current.suite.task("tone").guidelines == "Be strict."


def test_added_and_removed_criteria_make_a_version(judge_server: JudgeServer, tmp_path: Path) -> None:
    panel = make_panel(judge_server, tmp_path)
    key = panel.editor.add_criterion()
    panel.editor.name[key].value = "concise"
    panel.editor.description[key].value = "Short."
    panel.editor.criterion_scale[key].value = "binary"
    panel.editor.remove["polite"].click()
    panel.editor.mode.value = "joint"
    panel.editor.apply_button.click()
    task = panel.current.suite.task("tone")
    assert [c.name for c in task.criteria] == ["accurate", "concise"] and task.mode == "joint"
    assert task.criteria[1].scale == "binary"
    assert list(panel.editor.name) == ["accurate", "concise"]  # reloaded from the new version
    panel.editor.version.value = "v1"  # old versions stay selectable
    assert panel.current.label == "v1" and list(panel.editor.name) == ["accurate", "polite"]


def test_rendered_prompt_is_what_the_server_received(judge_server: JudgeServer, tmp_path: Path) -> None:
    df = data()
    df.loc["r2", "answer"] = 'He said "<b>4</b>" & left.'
    panel = make_panel(judge_server, tmp_path, df=df)
    panel.runner.subset.value = "picked"
    panel.runner.picked.value = ("r2",)
    panel.runner.run_button.click()
    sent = {
        r["messages"][0]["content"].split("## ")[1].split("\n")[0]: r["messages"]
        for r in judge_server.requests
    }
    assert set(sent) == {"accurate", "polite"}
    for name, messages in sent.items():
        assert render_messages(df, panel.current.suite, "tone", "r2", name) == messages
    panel.editor.preview_row.value = "r2"
    panel.editor.preview_criterion.value = "polite"
    shown = text(panel.editor.preview)
    assert sent["polite"][0]["content"] in shown and sent["polite"][1]["content"] in shown
    assert (
        "&lt;b&gt;4&lt;/b&gt;" in panel.editor.preview.value and "<b>4</b>" not in panel.editor.preview.value
    )
    panel.explorer.row.value = "r2"
    assert panel.explorer.detail.value.count("prompt sent: tone") == 2
    cells = statuses(panel)
    assert set(cells.loc[cells["row"] != "r2", "status"]) == {"not run"}

    panel.runner.subset.value = "all"  # the other rows join r2's cells, in a run's order and dtypes
    panel.runner.run_button.click()
    whole = wb.evaluate(
        df,
        panel.current.suite,
        model=judge_server.model,
        cache_dir=tmp_path / "cache",
        progress=False,
        save=False,
        **judge_server.litellm_kwargs,
    ).results
    same = ["row", "task", "criterion", "kind", "status", "passed", "score", "label", "reason", "error"]
    pd.testing.assert_frame_equal(panel.current.results[same], whole[same])


def test_explorer_escapes_data_and_model_output(judge_server_factory: Any, tmp_path: Path) -> None:
    server = judge_server_factory(script=verdicts)
    df = data(3)
    df.loc["r1", "answer"] = "<script>window.pwned = 1</script>"
    panel = make_panel(server, tmp_path, df=df)
    panel.runner.run_button.click()
    panel.explorer.row.value = "r1"
    panel.editor.preview_row.value = "r1"
    detail, table = panel.explorer.detail.value, panel.explorer.table.value
    for shown in (detail, table, panel.editor.preview.value):
        assert "<script>" not in shown and "<img src=x" not in shown
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in detail
    assert "&lt;img src=x onerror=alert(1)&gt;" in detail and "&lt;img src=x" in table


# litellm creates a coroutine per call before awaiting it; one cancelled in between warns
@pytest.mark.filterwarnings("ignore:coroutine '.*acompletion' was never awaited:RuntimeWarning")
def test_cancel_stops_a_slow_run_and_leaves_the_panel_usable(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    server = judge_server_factory(latency_ms=400)
    panel = make_panel(server, tmp_path, df=data(12), concurrency=2)

    async def scenario() -> None:
        panel.runner.run_button.click()
        task = panel.runner.last_task
        assert task is not None and not task.done()  # the click returned: the kernel is not blocked
        assert panel.runner.run_button.disabled and not panel.runner.cancel_button.disabled
        for _ in range(100):
            await asyncio.sleep(0.05)
            if panel.runner.progress.value >= 2:
                break
        panel.runner.cancel_button.click()
        assert await panel.wait() is None
        assert "Cancelled after" in panel.runner.status.value
        assert not panel.runner.run_button.disabled and panel.runner.cancel_button.disabled
        assert panel.current.results is None  # a cancelled run records nothing
        await asyncio.sleep(0.2)
        asked = server.count
        assert 2 <= asked < 24

        server.set(latency_ms=0)
        panel.runner.run_button.click()
        run = await panel.wait()
        assert run is not None and len(run.results) == 12 * 3
        assert panel.current.results is not None and "finished v1" in panel.runner.status.value
        # the verdicts that finished before the cancel came from the cache, the rest were asked
        assert run.calls["cache_hits"] >= 2
        assert server.count - asked == run.calls["calls"] - run.calls["cache_hits"]

    asyncio.run(scenario())


def test_subsets_show_their_size_and_problems_inline(judge_server: JudgeServer, tmp_path: Path) -> None:
    panel = make_panel(judge_server, tmp_path, df=data(20))
    r = panel.runner
    r.subset.value = "query"
    r.query.value = "answer.str.contains('wrong')"
    assert r.selected_rows() == ["r0", "r3", "r6", "r9", "r12", "r15", "r18"]
    assert "7 rows" in r.summary.value
    r.query.value = "answr == 1"
    assert "query 'answr == 1' failed" in text(r.summary) and "'answer'" in text(r.summary)
    r.run_button.click()
    assert judge_server.count == 0 and "failed" in r.status.value
    r.subset.value = "failing"
    assert "no results yet" in r.summary.value


def test_charts_and_credentials(judge_server_factory: Any, tmp_path: Path) -> None:
    import ipywidgets.embed

    server = judge_server_factory(script=verdicts)
    panel = make_panel(server, tmp_path)
    panel.runner.run_button.click()
    spec = panel.charts.distribution_chart.to_dict()
    assert "application/vnd.vegalite.v5+json" in panel.charts.distributions_out.outputs[0]["data"]
    assert spec["facet"]["field"] == "check"
    panel.explorer.score.value = (4.0, 5.0)  # the explorer's score filter keeps the good answers
    kept = panel.explorer.filtered()
    assert len(kept) == 8 and set(kept["score"]) == {5.0} and not {"r0", "r3"} & set(kept["row"])
    panel.editor.description["accurate"].value = "Correct to the digit."
    panel.editor.apply_button.click()
    panel.runner.run_button.click()
    spec = panel.charts.distribution_chart.to_dict()
    assert {d["run"] for d in spec["datasets"][next(iter(spec["datasets"]))]} == {"v1", "v2"}
    # each run was saved, labelled with the suite and its version; the list was refilled after
    # the run, and the newest run that is not v2's own is preselected: v1's
    saved = wb.runs(store=tmp_path / "store")
    assert list(saved["label"]) == ["qa v2", "qa v1"]
    assert [t.split(" · ")[0] for t, _ in panel.charts.saved.options] == ["qa v2", "qa v1"]
    assert panel.charts.saved.value == saved["id"][1]
    panel.charts.compare_button.click()
    assert panel.charts.comparison_chart is not None, panel.charts.compare_message.value
    assert "application/vnd.vegalite.v5+json" in panel.charts.comparison_out.outputs[0]["data"]
    table = panel.charts.comparison.table.set_index("criterion")
    assert table.loc["accurate", "n"] == 6 and table.loc["accurate", "delta"] == 0  # same verdicts
    state = json.dumps(ipywidgets.embed.embed_data(views=[panel])["manager_state"], default=str)
    assert SECRET not in state and "accurate" in state
    written = b"".join(f.read_bytes() for f in tmp_path.rglob("*") if f.is_file())
    assert b"qa v1" in written and SECRET.encode() not in written  # neither in the store nor the cache


def test_render_messages_matches_a_joint_run_and_explains_bad_input(
    judge_server: JudgeServer, tmp_path: Path
) -> None:
    df = data(3)
    df.loc["r1", "answer"] = ""
    suite = wb.Suite(
        name="qa",
        tasks=[
            wb.AssertionTask(id="has_answer", path="answer", op="is_not_empty", gate=True),
            *tone_suite(mode="joint").tasks[1:],
        ],
    )
    wb.evaluate(
        df,
        suite,
        model=judge_server.model,
        cache_dir=tmp_path / "cache",
        progress=False,
        save=False,
        **judge_server.litellm_kwargs,
    )
    assert judge_server.count == 2  # r1 is gated out
    sent = {r["messages"][1]["content"]: r["messages"] for r in judge_server.requests}
    for row in ("r0", "r2"):
        messages = render_messages(df, suite, "tone", row)
        assert sent[messages[1]["content"]] == messages
    with pytest.raises(
        wb.WorkbenchError, match=r"row 'r1' is skipped by judge task 'tone' \(gate 'has_answer' failed\)"
    ):
        render_messages(df, suite, "tone", "r1")
    with pytest.raises(
        wb.WorkbenchError, match=r"'has_answer' is an assertion, not a judge task.*\['tone'\]"
    ):
        render_messages(df, suite, "has_answer", "r0")
    with pytest.raises(wb.WorkbenchError, match=r"no criterion 'acurate'; did you mean 'accurate'\?"):
        render_messages(df, suite, "tone", "r0", criterion="acurate")
    with pytest.raises(
        wb.ColumnsError, match=r"rows= names 1 label\(s\) not in the DataFrame's index: \['r9'\]"
    ):
        render_messages(df, suite, "tone", "r9")


# --- the controller alone: no widget ---------------------------------------------------------

WIDGETS = Path(wb.__file__).parent / "widgets"


def imported_modules(source: str, package: str) -> set[str]:
    """Every module ``source`` imports, anywhere in it (``TYPE_CHECKING`` blocks and function
    bodies included), relative imports resolved against ``package``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            mod = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}  # `from . import _panel`
    return found


def test_the_import_walk_sees_a_tab_importing_the_panel() -> None:
    sneaky = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ._panel import Workbench\n"
    assert "workbench.widgets._panel" in imported_modules(sneaky, "workbench.widgets")
    assert "workbench.widgets._panel" in imported_modules("from . import _panel", "workbench.widgets")
    assert "workbench.errors" in imported_modules("from ..errors import shorten", "workbench.widgets")


def test_no_tab_imports_the_panel_and_the_controller_imports_no_widgets() -> None:
    modules = {p.stem: imported_modules(p.read_text(), "workbench.widgets") for p in WIDGETS.glob("*.py")}
    assert {"_editor", "_runner", "_explorer", "_charts", "_controller", "_panel"} <= set(modules)
    importers = sorted(m for m, imports in modules.items() if "workbench.widgets._panel" in imports)
    assert importers == ["__init__"], f"only the package re-exports the panel; also: {importers}"
    # the controller and what it takes from this package are free of notebook libraries
    closure, todo = set(), ["_controller"]
    while todo:
        name = todo.pop()
        closure.add(name)
        todo += [
            m.split(".")[2]
            for m in modules[name]
            if m.startswith("workbench.widgets._") and m.split(".")[2] not in closure
        ]
    assert closure == {"_controller", "_common"}
    libraries = {m.split(".")[0] for name in closure for m in modules[name]}
    assert not libraries & {"ipywidgets", "altair", "IPython"}, libraries


def make_controller(server: JudgeServer, tmp_path: Path, df: pd.DataFrame | None = None, **kw: Any) -> Any:
    return wb.widgets.PanelController(
        data() if df is None else df,
        tone_suite(),
        model=server.model,
        cache_dir=tmp_path / "cache",
        store=tmp_path / "store",
        api_base=server.url,
        api_key=SECRET,
        **kw,
    )


def test_controller_versions_tell_subscribers_in_order(judge_server: JudgeServer, tmp_path: Path) -> None:
    ctl = make_controller(judge_server, tmp_path)
    seen: list[tuple[str, str]] = []
    ctl.subscribe(lambda e: seen.append((e.kind, e.version.label)))
    edited = ctl.current.suite.model_copy(update={"description": "edited"})
    v2 = ctl.add_version(edited)
    assert (v2.label, v2.parent, v2.suite.version, ctl.current) == ("v2", "v1", "v2", v2)
    ctl.select("v1")
    run = ctl.evaluate(["r0", "r1"], version=v2)
    assert judge_server.count == 4 and run.label == "qa v2"  # 2 rows x 2 criteria, v2's label
    ctl.record(v2, run)
    assert seen == [("selected", "v2"), ("selected", "v1"), ("recorded", "v2")]
    assert ctl.current.results is None and v2.results is not None
    with pytest.raises(wb.WorkbenchError, match=r"no version 'v9'; versions are \['v1', 'v2'\]"):
        ctl.select("v9")


def test_controller_known_results_fall_back_to_the_parent(judge_server_factory: Any, tmp_path: Path) -> None:
    server = judge_server_factory(script=verdicts)
    ctl = make_controller(server, tmp_path)
    with pytest.raises(wb.WorkbenchError, match="no results yet to find failing rows in: run all rows"):
        ctl.rows("failing")
    ctl.record(ctl.current, ctl.evaluate(ctl.rows("all")))
    assert ctl.rows("failing") == ["r0", "r3"] and ctl.rows("errored") == []
    ctl.add_version(ctl.current.suite.model_copy(update={"description": "v2"}))
    ctl.record(ctl.current, ctl.evaluate(["r0"]))  # r0 under v2, every other row still v1's
    known = ctl.known_results()
    assert known is not None and sorted(set(known["row"])) == sorted(ctl.df.index)
    assert len(known) == 6 * 3 and ctl.rows("failing") == ["r0", "r3"]


def test_controller_subsets(judge_server: JudgeServer, tmp_path: Path) -> None:
    ctl = make_controller(judge_server, tmp_path, df=data(20))
    first = ctl.rows("sample", n=5, seed=7)
    assert len(first) == 5 and ctl.rows("sample", n=5, seed=7) == first != ctl.rows("sample", n=5, seed=8)
    assert ctl.rows("sample", n=500) == list(ctl.df.index)  # N larger than the frame: every row
    assert ctl.rows("picked", picked=["r5", "r1", "nope"]) == ["r1", "r5"]  # the frame's order
    assert ctl.rows("query", query="answer.str.contains('wrong')") == [
        "r0",
        "r3",
        "r6",
        "r9",
        "r12",
        "r15",
        "r18",
    ]
    assert ctl.rows("changed") == list(ctl.df.index)  # nothing cached yet
    with pytest.raises(
        wb.WorkbenchError, match=r"query 'answr == 1' failed: .*Columns: \['question', 'answer'\]"
    ):
        ctl.rows("query", query="answr == 1")
    with pytest.raises(wb.WorkbenchError, match="write a pandas query first"):
        ctl.rows("query", query="  ")
    with pytest.raises(wb.WorkbenchError, match=r"no subset 'falling'; subsets are \['all', 'failing'"):
        ctl.rows("falling")
    assert judge_server.count == 0


@pytest.mark.parametrize(
    ("df", "options", "error", "message"),
    [
        ([1, 2], {}, wb.WorkbenchError, "Workbench needs a pandas DataFrame, got list"),
        (data(), {"rows": ["r1"]}, wb.WorkbenchError, "Workbench chooses ['rows'] itself"),
        (data().iloc[[0, 0]], {}, wb.ColumnsError, "'r0'"),
    ],
    ids=["not-a-frame", "rows-given", "repeated-index"],
)
def test_controller_refuses_bad_input(
    judge_server: JudgeServer, tmp_path: Path, df: Any, options: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error) as e:
        wb.widgets.PanelController(df, tone_suite(), model=judge_server.model, **options)
    assert message in str(e.value)


def test_saved_run_choices_are_short_and_preselect_the_newest_other_run(
    judge_server: JudgeServer, tmp_path: Path
) -> None:
    ctl = make_controller(judge_server, tmp_path)
    assert ctl.run_choices() == ([], None)  # no store yet: nothing listed, nothing created
    assert not (tmp_path / "store").exists()
    opts = {"model": judge_server.model, "cache_dir": tmp_path / "cache", "store": tmp_path / "store"}
    for label in ("baseline", "baseline", "nightly v1"):
        wb.evaluate(ctl.df, tone_suite(), label=label, progress=False, **opts, **judge_server.litellm_kwargs)
    mine = ctl.evaluate(ctl.rows("all"))
    ctl.record(ctl.current, mine)
    options, preselected = ctl.run_choices()
    saved = wb.runs(store=tmp_path / "store")
    assert [i for _, i in options] == list(saved["id"]) and mine.id == saved["id"][0]
    assert preselected == saved["id"][1]  # the newest run that is not this version's own
    minute = r"\d{4}-\d\d-\d\d \d\d:\d\d"
    texts = [t for t, _ in options]
    assert re.fullmatch(rf"qa v1 · {minute}", texts[0]), texts  # the label ends with the version
    assert re.fullmatch(rf"nightly v1 · {minute}", texts[1]), texts
    assert all(len(t) <= 40 for t in texts[:2]), texts
    # two runs with one label in one minute are told apart by the seconds (or else the ids)
    assert texts[2] != texts[3]
    for t, i in zip(texts[2:], saved["id"][2:], strict=True):
        assert re.fullmatch(rf"baseline · v1 · {minute}(:\d\d( · {i})?)?", t), t
    table = saved.assign(started_at=saved["started_at"].iloc[0])  # one start time for all
    texts = [t for t, _ in ctl.run_choices(table)[0]]
    assert texts[2:] == [f"baseline · v1 · {texts[2].split(' · ')[2]} · {i}" for i in saved["id"][2:]]
    assert re.fullmatch(rf"nightly v1 · {minute}", texts[1]), texts  # unique: no seconds
    v2 = ctl.add_version(ctl.current.suite.model_copy(update={"description": "v2"}))
    assert ctl.run_choices()[1] == mine.id  # for v2, v1's run is another run
    assert v2.runs == []
