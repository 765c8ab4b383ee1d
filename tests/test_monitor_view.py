"""Monitored traffic you can see: ``charts.monitor_trend`` (a check over time, its rolling
mean, the alerts marked; checked through ``chart.to_dict()``), the ``MonitorController`` that
reads a monitor's store, and the ``wb.MonitorView`` widget that refreshes itself on a running
event loop. The records are evaluated by a real ``wb.Monitor`` whose judge calls go through
the client stack to ``workbench.testing.JudgeServer`` on 127.0.0.1 (scripted: an answer with
"drop" in it scores 1, any other 5)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench import charts
from workbench.monitor.alerts import Alert
from workbench.testing import JudgeServer
from workbench.widgets import MonitorController, MonitorView

T0 = pd.Timestamp("2026-03-02 09:00", tz="UTC")
C = wb.Criterion


def suite() -> wb.Suite:
    return wb.Suite(
        name="support",
        tasks=[
            wb.AssertionTask(id="cites", path="answer", op="contains", expected="[source]"),
            wb.JudgeTask(
                id="quality",
                prompt="Answer: ${answer}",
                threshold=4,
                criteria=[C(name="accuracy", description="Right."), C(name="tone", description="Kind.")],
            ),
        ],
    )


RULES = [
    wb.alerts.mean_below("quality.accuracy", 3.5, window=10),
    wb.alerts.pass_rate_below("cites", 0.8, window=20),
]


def judge(request: dict[str, Any]) -> Any:
    prompt = request["messages"][-1]["content"]
    score = 1 if "drop" in prompt else 5
    return {"accuracy": {"reason": "checked", "score": score}, "tone": {"reason": "kind", "score": 4}}


def record(i: int) -> dict[str, Any]:
    """Request ``i``, one a minute from T0: the judge's drop on 100-159, the citations gone from
    every other answer on 120-169."""
    kind = "drop" if 100 <= i < 160 else "fine"
    cites = "" if 120 <= i < 170 and i % 2 else " [source]"
    return {
        "id": f"r{i:04d}",
        "time": (T0 + pd.Timedelta(minutes=i)).to_pydatetime(),
        "answer": f"{kind} {i}{cites}",
    }


@dataclass
class Monitored:
    """A store a monitor wrote, with what it raised."""

    store: Path
    alerts: list[Alert]
    results: pd.DataFrame
    history: pd.DataFrame


@pytest.fixture(scope="module")
def server() -> Iterator[JudgeServer]:
    with JudgeServer(script=judge) as s:
        yield s


def monitor_for(server: JudgeServer, store: Path, got: list[Alert] | None = None, **kw: Any) -> wb.Monitor:
    return wb.Monitor(
        suite(),
        model=server.model,
        **server.litellm_kwargs,
        store=store,
        alerts=RULES,
        alert_to=[got.append] if got is not None else [],
        cooldown_s=60,
        sample={"quality": 0.5},
        **kw,
    )


def run_stream(server: JudgeServer, store: Path, ids: range) -> list[Alert]:
    got: list[Alert] = []
    with monitor_for(server, store, got) as monitor:
        for i in ids:
            monitor.submit(record(i))
        assert monitor.flush(timeout=120)
    return got


@pytest.fixture(scope="module")
def day(server: JudgeServer, tmp_path_factory: pytest.TempPathFactory) -> Monitored:
    store = tmp_path_factory.mktemp("day")
    got = run_stream(server, store, range(240))
    return Monitored(
        store=store,
        alerts=got,
        results=wb.monitor_results(store=store, name="support"),
        history=wb.alerts.history(store=store, name="support"),
    )


def layer_data(spec: dict[str, Any], layer: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(spec["datasets"][layer["data"]["name"]])


def shown_evaluated(view: MonitorView) -> int:
    found = re.search(r'wb-monitor-evaluated">([\d,]+)<', view.header.value)
    assert found, view.header.value
    return int(found.group(1).replace(",", ""))


def tooltip_fields(encoding: dict[str, Any]) -> list[str]:
    return [t["field"] for t in encoding["tooltip"]]


# --- the scenario itself --------------------------------------------------------------------


def test_the_scripted_drops_raise_one_alert_per_incident_and_one_recovery(day: Monitored) -> None:
    assert sorted((a.kind, a.state) for a in day.alerts) == [
        ("mean_below", "firing"),
        ("mean_below", "resolved"),
        ("pass_rate_below", "firing"),
        ("pass_rate_below", "resolved"),
    ]
    assert day.history["state"].tolist().count("firing") == 2


# --- charts.monitor_trend -----------------------------------------------------------------


def test_a_criterion_over_time_draws_dots_its_rolling_mean_and_the_alert_marks(day: Monitored) -> None:
    spec = charts.monitor_trend(day.results, "quality.accuracy", alerts=day.history, window=10).to_dict()
    dots, line, rule, head = spec["layer"]
    assert [x["mark"]["type"] for x in spec["layer"]] == ["circle", "line", "rule", "point"]
    assert dots["encoding"]["x"] == {
        "axis": {"format": "%H:%M", "labelOverlap": True},
        "field": "time",
        "scale": {"type": "utc"},
        "title": "Time (UTC)",
        "type": "temporal",
    }
    assert (dots["encoding"]["y"]["field"], line["encoding"]["y"]["field"]) == ("value", "rolling")
    assert {"record", "time", "value", "status", "reason"} <= set(tooltip_fields(dots["encoding"]))
    assert {"record", "time", "rolling", "n"} <= set(tooltip_fields(line["encoding"]))
    assert {"state", "record", "rule", "value", "message", "records"} <= set(tooltip_fields(rule["encoding"]))
    assert head["encoding"]["shape"]["scale"]["range"] == ["triangle-down", "circle"]
    assert spec["title"]["text"] == "quality · accuracy over time"
    assert "the mean score over the last 10 records" in spec["title"]["subtitle"][0]
    scored = day.results[(day.results["task"] == "quality") & (day.results["criterion"] == "accuracy")]
    assert len(layer_data(spec, dots)) == len(scored)  # one dot per judged record
    marks = layer_data(spec, rule)
    assert marks["state"].tolist() == ["firing", "resolved"]  # the citation alerts are on another check
    assert all("quality.accuracy" in r for r in marks["rule"])


def test_the_line_is_the_alert_rules_own_window(day: Monitored) -> None:
    """At the record an alert was judged at, the chart's rolling mean is the alert's value."""
    for target, window in (("quality.accuracy", 10), ("cites", 20)):
        data = charts.trend_data(day.results, target, window=window)
        for alert in (a for a in day.alerts if a.target == target):
            at = data[data["time"] == alert.time]
            assert len(at) == 1, (target, alert.state)
            assert float(at["rolling"].iloc[0]) == pytest.approx(alert.value), (target, alert.state)


def test_an_alert_mark_names_the_record_it_was_judged_at(day: Monitored) -> None:
    spec = charts.monitor_trend(day.results, "cites", alerts=day.history, window=20).to_dict()
    marks = layer_data(spec, spec["layer"][2])
    fired = next(a for a in day.alerts if a.target == "cites" and a.state == "firing")
    row = marks[marks["state"] == "firing"].iloc[0]
    at = day.results.loc[day.results["time"] == fired.time, "record"].unique()
    assert row["record"] == at[0] and row["value"] == pytest.approx(fired.value)
    assert row["message"] == fired.message and row["records"] == len(fired.records)
    assert spec["layer"][1]["encoding"]["y"]["field"] == "rolling"
    assert spec["layer"][0]["encoding"]["y"]["axis"]["format"] == "%"  # a pass rate, 0 to 100%


def test_alerts_a_callback_received_mark_the_same_places_as_the_history(day: Monitored) -> None:
    from_history = charts.monitor_trend(day.results, "cites", alerts=day.history).to_dict()
    from_callback = charts.monitor_trend(day.results, "cites", alerts=day.alerts).to_dict()
    cols = ["time", "state", "record", "rule", "value", "message", "records"]
    a = layer_data(from_history, from_history["layer"][2])[cols]
    b = layer_data(from_callback, from_callback["layer"][2])[cols]
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_alerts_on_every_cell_or_a_metric_are_marked_on_any_check_and_others_only_on_theirs(
    day: Monitored,
) -> None:
    when = day.results["time"].iloc[50]
    history = pd.DataFrame(
        {
            "time": [when] * 4,
            "state": "firing",
            "rule": ["error_rate", "latency", "cites rule", "tone rule"],
            "target": ["*", "record_latency_s", "cites", "quality.tone"],
            "value": 0.5,
            "message": "m",
        }
    )
    spec = charts.monitor_trend(day.results, "quality.accuracy", alerts=history).to_dict()
    assert layer_data(spec, spec["layer"][2])["rule"].tolist() == ["error_rate", "latency"]
    task = charts.monitor_trend(day.results, "quality", alerts=history).to_dict()
    assert sorted(layer_data(task, task["layer"][2])["rule"]) == ["error_rate", "latency", "tone rule"]
    later = history.assign(time=day.results["time"].max() + pd.Timedelta(hours=1))
    assert len(charts.monitor_trend(day.results, "cites", alerts=later).to_dict()["layer"]) == 2


def test_a_task_draws_a_line_per_criterion(day: Monitored) -> None:
    spec = charts.monitor_trend(day.results, "quality", window="30min").to_dict()
    assert spec["title"]["text"] == "quality over time"
    assert "over the last 30 minutes" in spec["title"]["subtitle"][0]
    line = layer_data(spec, spec["layer"][1])
    assert sorted(line["check"].unique()) == ["quality · accuracy", "quality · tone"]
    assert spec["layer"][0]["encoding"]["color"]["scale"]["domain"] == [
        "quality · accuracy",
        "quality · tone",
    ]


def test_a_time_window_pools_the_records_within_the_span() -> None:
    times = T0 + pd.to_timedelta([0, 1, 2, 3, 30, 31, 32, 33, 34, 35, 36, 37], unit="min")
    scores = [5.0, 5, 5, 5, 1, 1, 1, 1, 1, 1, 1, 1]
    cells = pd.DataFrame(
        {
            "record": [f"r{i}" for i in range(12)],
            "time": times,
            "task": "q",
            "criterion": "a",
            "status": "scored",
            "passed": None,
            "score": scores,
            "reason": "",
        }
    )
    data = charts.trend_data(cells, window="10min")
    # the first window with 10 records (MIN_WINDOW_RECORDS) is at 00:37: its last ten minutes
    # hold only the eight records from 00:30, too few; over a 40-minute span all twelve count
    assert data["rolling"].isna().all()
    wide = charts.trend_data(cells, window="40min")
    assert wide["rolling"].tolist()[-3:] == pytest.approx([26 / 10, 27 / 11, 28 / 12])
    assert wide["n"].tolist()[-1] == 12


def test_scores_and_rates_stack_a_panel_each_on_one_time_axis(day: Monitored) -> None:
    spec = charts.monitor_trend(day.results, alerts=day.history, window=20).to_dict()
    assert spec["resolve"]["scale"] == {"x": "shared", "color": "independent", "y": "independent"}
    rates, scores = spec["vconcat"]
    assert rates["layer"][0]["encoding"]["y"]["title"] == "Pass rate"
    assert scores["layer"][0]["encoding"]["y"]["title"] == "Score"
    rules = layer_data(spec, rates["layer"][2])["rule"].tolist()
    assert all(r.startswith("pass_rate_below(cites") for r in rules) and len(rules) == 2
    rules = layer_data(spec, scores["layer"][2])["rule"].tolist()
    assert all(r.startswith("mean_below(quality.accuracy") for r in rules) and len(rules) == 2


def test_more_records_than_max_points_are_thinned_for_drawing_not_for_the_mean(day: Monitored) -> None:
    whole = charts.monitor_trend(day.results, "cites", window=20).to_dict()
    thin = charts.monitor_trend(day.results, "cites", window=20, max_points=50).to_dict()
    dots = layer_data(thin, thin["layer"][0])
    assert len(dots) == 50 and len(layer_data(whole, whole["layer"][0])) == 240
    assert "thinned evenly to 50 per chart" in " ".join(thin["title"]["subtitle"])
    full = layer_data(whole, whole["layer"][1]).set_index("time")["rolling"]
    kept = layer_data(thin, thin["layer"][1]).set_index("time")["rolling"]
    assert kept.to_dict() == {t: full[t] for t in kept.index}


def test_a_flat_stretch_of_the_line_keeps_its_ends_only(day: Monitored) -> None:
    spec = charts.monitor_trend(day.results, "cites", window=20).to_dict()
    line = layer_data(spec, spec["layer"][1])
    every = charts.trend_data(day.results, "cites", window=20).dropna(subset=["rolling"])
    assert len(line) < len(every) / 2  # a pass rate of 100% for most of the day
    assert line["time"].iloc[0] == every["time"].dt.strftime("%Y-%m-%dT%H:%M:%S+00:00").iloc[0]


def test_error_rate_counts_errored_cells_among_evaluated_ones() -> None:
    cells = pd.DataFrame(
        {
            "record": ["a", "b", "c", "d"],
            "time": pd.date_range(T0, periods=4, freq="min"),
            "task": "q",
            "criterion": "a",
            "status": ["scored", "error", "skipped", "error"],
            "passed": None,
            "score": [4.0, None, None, None],
            "reason": "",
        }
    )
    data = charts.trend_data(cells, window=3, value="error_rate")
    assert data["value"].tolist()[:2] == [0.0, 1.0] and pd.isna(data["value"].iloc[2])
    assert data["rolling"].tolist()[-1] == pytest.approx(2 / 2)  # b and d among the last 3, c decides nothing


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"target": "quality.acuracy"},
            wb.DataError,
            r"no check 'quality.acuracy'.*did you mean 'quality.accuracy'",
        ),
        (
            {"target": "nope"},
            wb.DataError,
            r"Checks in the results: \['cites', 'quality.accuracy', 'quality.tone'\]",
        ),
        (
            {"window": "soon"},
            wb.DataError,
            r"window='soon' is neither a number of records \(1 or more\) nor a positive time span",
        ),
        ({"window": 0}, wb.DataError, r"window=0"),
        ({"value": "mean"}, wb.DataError, r"value='mean' is not one of"),
        ({"max_points": 1}, wb.DataError, r"max_points=1 must be a whole number, 2 or more"),
        ({"alerts": "firing"}, wb.WorkbenchError, r"alerts= takes wb.alerts.history"),
        ({"alerts": pd.DataFrame({"time": []})}, wb.ColumnsError, r"needs the columns \['state'"),
    ],
    ids=[
        "typo",
        "unknown",
        "window-text",
        "window-zero",
        "value",
        "max-points",
        "alerts-type",
        "alerts-columns",
    ],
)
def test_bad_arguments_say_what_exists(
    day: Monitored, kwargs: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        charts.monitor_trend(day.results, **kwargs)


def test_results_without_record_times_are_refused_with_the_fix() -> None:
    run = wb.evaluate(
        pd.DataFrame({"answer": ["x [source]"]}), suite().model_copy(update={"tasks": suite().tasks[:1]})
    )
    with pytest.raises(
        wb.ColumnsError, match=r"needs the columns \['record', 'time'\][\s\S]*wb.monitor_results"
    ):
        charts.monitor_trend(run)
    with pytest.raises(wb.DataError, match="found no scores to draw"):
        charts.monitor_trend(
            wb.monitor_results(store=Path("/nonexistent/store"), name="x").assign(), value="score"
        )


def test_trend_hands_monitored_results_and_the_monitor_itself_to_monitor_trend(
    day: Monitored, server: JudgeServer
) -> None:
    spec = charts.trend(day.results).to_dict()
    assert spec["title"]["text"] == "Monitored checks over time" and len(spec["vconcat"]) == 2
    monitor = monitor_for(server, day.store, workers=1)
    try:
        assert charts.trend(monitor).to_dict()["vconcat"][0]["layer"][0]["mark"]["type"] == "circle"
    finally:
        monitor.close()


def test_monitor_trend_draws_the_same_in_vegalite_5_and_6(day: Monitored) -> None:
    import vl_convert as vlc

    for chart in (
        charts.monitor_trend(day.results, "cites", alerts=day.history, window=20),
        charts.monitor_trend(day.results, alerts=day.history, window="30min"),
    ):
        spec = chart.to_dict()
        as_six = vlc.vegalite_to_svg(spec, vl_version="6.4")
        assert vlc.vegalite_to_svg(charts.as_vegalite5(spec), vl_version="5.8") == as_six
        assert len(re.findall(r"<path", as_six)) > 100  # the dots, the line and the marks


# --- MonitorController -----------------------------------------------------------------------


def test_the_controller_reads_the_results_again_only_when_something_changed(
    server: JudgeServer, tmp_path: Path
) -> None:
    with monitor_for(server, tmp_path) as monitor:
        ctl = MonitorController(monitor, target="cites", window=20)
        assert ctl.snapshot.evaluated == 0 and ctl.chart() is None
        for i in range(30):
            monitor.submit(record(i))
        assert monitor.flush(timeout=60)
        assert ctl.poll() is True and ctl.snapshot.evaluated == 30
        reads = ctl.reads
        assert ctl.poll() is False and ctl.poll() is False
        assert ctl.reads == reads and ctl.polls >= 3  # two small queries, no results read
        monitor.submit(record(30))
        assert monitor.flush(timeout=60)
        assert ctl.poll() is True and len(ctl.snapshot.results) > 0
        assert ctl.snapshot.checks == ("cites", "quality.accuracy", "quality.tone")


def test_a_view_of_a_store_waits_for_its_first_monitor(server: JudgeServer, tmp_path: Path) -> None:
    ctl = MonitorController(tmp_path)
    assert ctl.name is None and ctl.snapshot.name is None
    assert ctl.summary() == f"no monitor in the store at {tmp_path / 'runs.sqlite'} yet"
    run_stream(server, tmp_path, range(5))
    assert ctl.poll() is True and ctl.name == "support" and ctl.snapshot.evaluated == 5


def test_an_open_incident_is_listed_first_and_flagged(server: JudgeServer, tmp_path: Path) -> None:
    run_stream(server, tmp_path, range(130))  # stops while both drops go on
    ctl = MonitorController(tmp_path, latest=5)
    latest = ctl.latest_alerts()
    assert latest["state"].tolist() == ["firing", "firing"] and latest["open"].all()
    assert latest["id"].tolist() == sorted(latest["id"], reverse=True)
    assert "2 open" in ctl.summary()
    run_stream(server, tmp_path, range(130, 240))
    ctl.poll()
    assert not ctl.latest_alerts()["open"].any() and len(ctl.snapshot.open_alerts) == 0


def test_the_drill_down_goes_from_an_alert_to_its_records_and_their_cells(day: Monitored) -> None:
    ctl = MonitorController(day.store, "support")
    fired = next(a for a in day.alerts if a.target == "cites" and a.state == "firing")
    found = ctl.alert_records(fired.id)
    assert list(found.index) == list(fired.records)
    assert (found["cites_status"] == "failed").all()
    assert found["answer"].str.startswith("drop").all() and "time" in found.columns
    fields, cells = ctl.record(fired.records[0])
    assert fields["answer"] == record(int(fired.records[0][1:]))["answer"]
    assert cells["task"].astype(str).tolist()[0] == "cites" and cells["status"].iloc[0] == "failed"
    with pytest.raises(wb.DataError, match=r"no alert 999 .* its latest are \[4, 3, 2, 1\]"):
        ctl.alert_records(999)
    with pytest.raises(wb.DataError, match="has no record 'nope'"):
        ctl.record("nope")


def test_the_controller_refuses_what_it_cannot_watch(
    day: Monitored, server: JudgeServer, tmp_path: Path
) -> None:
    with pytest.raises(wb.ConfigError, match=r"watches a wb\.Monitor or a store"):
        MonitorController(42)  # type: ignore[arg-type]
    with pytest.raises(wb.ConfigError, match=r"window='soon' is neither"):
        MonitorController(day.store, window="soon")
    with pytest.raises(wb.ConfigError, match=r"latest=0 must be"):
        MonitorController(day.store, latest=0)
    with pytest.raises(wb.StoreError, match=r"no monitor 'suport' .*did you mean 'support'"):
        MonitorController(day.store, "suport")
    with pytest.raises(wb.DataError, match=r"target 'quality.acc' is not a check .*its checks are \['cites'"):
        MonitorController(day.store, target="quality.acc")
    monitor = monitor_for(server, day.store)
    try:
        with pytest.raises(wb.ConfigError, match="is not this monitor's name, 'support'"):
            MonitorController(monitor, "other")
    finally:
        monitor.close()
    run_stream(server, tmp_path, range(3))
    other = wb.Monitor(suite().model_copy(update={"tasks": suite().tasks[:1]}), store=tmp_path, name="second")
    other.submit({"answer": "x"})
    other.close()
    with pytest.raises(wb.StoreError, match=r"holds several monitors, \['second', 'support'\]"):
        MonitorController(tmp_path)


# --- MonitorView -----------------------------------------------------------------------------


def test_the_view_draws_the_trend_the_alerts_and_the_drill_down(day: Monitored) -> None:
    view = MonitorView(day.store, target="cites", window=20, refresh_s=0)
    try:
        assert not view.running and "paused" in view.header.value
        assert re.search(r'wb-monitor-evaluated">240<', view.header.value)
        assert re.search(r'wb-monitor-alert-count">4<', view.header.value)
        assert view.chart is not None and view.chart.to_dict()["title"]["text"] == "cites over time"
        assert view.trend.outputs[0]["data"][charts.VEGALITE_MIMETYPE]["title"]["text"] == "cites over time"
        assert view.alerts.value.count("wb-monitor-alert'") == 4
        assert list(view.target.options) == [
            "every check",
            "cites",
            "quality.accuracy",
            "quality.tone",
            "quality",
        ]
        newest_fired = max(a.id for a in day.alerts if a.state == "firing")
        assert view.alert_pick.value == newest_fired  # nothing is open: the newest that fired
        fired = next(a for a in day.alerts if a.id == newest_fired)
        assert list(view.record_pick.options) == list(fired.records)
        assert f"wb-monitor-record-id'>{fired.records[-1]}<" in view.record_detail.value
        view.record_pick.value = fired.records[0]
        assert f"wb-monitor-record-id'>{fired.records[0]}<" in view.record_detail.value
        view.target.value = "quality.accuracy"
        assert view.chart.to_dict()["title"]["text"] == "quality · accuracy over time"
        assert view.controller.target == "quality.accuracy"
    finally:
        view.close()


def test_a_refresh_that_finds_nothing_new_draws_nothing(day: Monitored) -> None:
    view = MonitorView(day.store, refresh_s=None)
    try:
        drawn, outputs = view.redraws, view.trend.outputs
        assert view.refresh() is False and view.refresh() is False
        assert view.redraws == drawn and view.trend.outputs is outputs
        assert "read " in view.header.value  # the time it read is still shown
    finally:
        view.close()


def test_outside_an_event_loop_the_view_does_not_start_and_refreshes_on_demand(
    server: JudgeServer, tmp_path: Path
) -> None:
    with monitor_for(server, tmp_path) as monitor:
        view = wb.MonitorView(monitor, refresh_s=1)
        assert view.start() is False and not view.running and not view.live.value
        for i in range(10):
            monitor.submit(record(i))
        assert monitor.flush(timeout=60)
        view.refresh_button.click()
        assert re.search(r'wb-monitor-evaluated">10<', view.header.value)
        assert "No alerts." in view.alerts.value
        view.close()


def test_on_a_running_loop_the_view_refreshes_by_itself_and_never_blocks_the_loop(
    server: JudgeServer, tmp_path: Path
) -> None:
    """As in a notebook: the view is made inside the running loop; records arrive from another
    thread while the loop only runs its own tasks (the kernel is idle)."""
    monitor = monitor_for(server, tmp_path)
    seen: list[int] = []

    async def scenario() -> None:
        view = MonitorView(monitor, target="cites", window=20, refresh_s=0.05)
        assert view.running and view.live.value and "live, every 0.05 s" in view.header.value
        ticks = 0

        def feed() -> None:
            for i in range(200):
                monitor.submit(record(i))

        feeder = threading.Thread(target=feed)
        feeder.start()
        for _ in range(600):  # up to 30 s
            await asyncio.sleep(0.05)
            ticks += 1
            seen.append(shown_evaluated(view))  # what is drawn, not what the worker thread read
            if seen[-1] == 200 and view.alerts.value.count("wb-monitor-alert'") >= 2:
                break
        feeder.join()
        assert seen[-1] == 200, seen[-5:]
        assert ticks >= 2 and view.controller.polls > 2
        assert re.search(r'wb-monitor-evaluated">200<', view.header.value)
        assert view.alerts.value.count("wb-monitor-alert'") >= 2
        view.live.value = False  # the Live button
        await asyncio.sleep(0.1)
        assert not view.running and view.task is None and "paused" in view.header.value
        polls = view.controller.polls
        await asyncio.sleep(0.2)
        assert view.controller.polls == polls
        view.live.value = True
        assert view.running
        view.close()
        assert not view.running

    try:
        asyncio.run(scenario())
    finally:
        monitor.close()
    assert len(set(seen)) > 1  # it followed the stream, not only its end


def test_a_store_that_breaks_is_shown_in_the_view_not_raised(server: JudgeServer, tmp_path: Path) -> None:
    run_stream(server, tmp_path, range(5))
    view = MonitorView(tmp_path, refresh_s=0)
    try:
        (tmp_path / "runs.sqlite").write_bytes(b"this is not a database" * 100)
        for extra in ("-wal", "-shm"):
            (tmp_path / f"runs.sqlite{extra}").unlink(missing_ok=True)
        assert view.refresh() is False
        assert "wb-error" in view.message.value
        assert re.search(r'wb-monitor-evaluated">5<', view.header.value)  # the last good read stays
    finally:
        view.close()


def test_a_bad_refresh_interval_is_refused(day: Monitored) -> None:
    for bad in (-1, float("inf"), "5", True):
        with pytest.raises(wb.ConfigError, match=r"refresh_s=.* must be a number of seconds"):
            MonitorView(day.store, refresh_s=bad)  # type: ignore[arg-type]


def test_stop_all_stops_the_views_a_cell_run_again_left_refreshing(day: Monitored) -> None:
    async def scenario() -> tuple[int, bool, bool]:
        old = MonitorView(day.store, refresh_s=0.05)  # the cell's first run, now out of sight
        new = MonitorView(day.store, refresh_s=0.05)
        await asyncio.sleep(0.1)
        stopped = MonitorView.stop_all()
        result = (stopped, old.running, new.running)
        old.close()
        new.close()
        return result

    assert asyncio.run(scenario()) == (2, False, False)
