"""Alerts on monitored traffic: rules over rolling windows, one alert per incident, recovery
reported once, the cooldown, several observers of one store, dispatch to callbacks, the log
and a webhook receiver on 127.0.0.1, and no credentials in anything a webhook receives.

Result frames are scripted with the columns and dtypes of ``Run.results`` plus ``record`` and
``time``; the webhook receiver is a real HTTP server on 127.0.0.1 that each test starts and stops.
"""

from __future__ import annotations

import itertools
import json
import logging
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench.monitor._alerts import Alert, Alerts, RecordFailure
from workbench.results import RESULT_COLUMNS, RESULT_DTYPES
from workbench.secrets import secret_values
from workbench.testing import JudgeServer, Reply

A = wb.alerts
T0 = pd.Timestamp("2026-03-02 09:00", tz="UTC")
ROOT = Path(__file__).resolve().parent.parent

# --- scripted results -------------------------------------------------------------------


def cell(record: str, t: float, **values: Any) -> dict[str, Any]:
    """One cell of record ``record`` at ``t`` seconds after T0 (a judge cell of
    quality.accuracy unless told otherwise)."""
    out = {"record": record, "time": T0 + pd.Timedelta(seconds=t), "task": "quality", "criterion": "accuracy"}
    out["kind"] = values.pop("kind", "judge")
    score = values.get("score")
    if "status" not in values:
        values["status"] = "scored" if score is None else "passed" if score >= 4 else "failed"
    return out | values


def results(cells: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """A long results frame with the columns and dtypes ``Run.results`` has, plus record and time."""
    rows = []
    for c in cells:
        status = c["status"]
        rows.append(
            {
                "row": c["record"],
                "task": c["task"],
                "criterion": c["criterion"],
                "kind": c["kind"],
                "status": status,
                "passed": {"passed": True, "failed": False}.get(status),
                "score": c.get("score"),
                "label": None,
                "reason": c.get("reason"),
                "error": c.get("error"),
                "cached": False,
                "tokens": c.get("tokens"),
                "cost_usd": c.get("cost_usd"),
                "latency_s": c.get("latency_s"),
                "record": c["record"],
                "time": c["time"],
            }
        )
    own = any("record_latency_s" in c for c in cells)  # the monitor's column for the app's latency
    if own:
        for row, c in zip(rows, cells):
            row["record_latency_s"] = c.get("record_latency_s")
    frame = pd.DataFrame(
        rows, columns=[*RESULT_COLUMNS, "record", "time", *(["record_latency_s"] if own else [])]
    )
    for name, dtype in RESULT_DTYPES.items():
        frame[name] = frame[name].astype(dtype)
    frame["row"] = frame["row"].astype("string")
    frame["record"] = frame["record"].astype("string")
    frame["time"] = pd.to_datetime(frame["time"], utc=True).astype("datetime64[us, UTC]")
    if own:
        frame["record_latency_s"] = frame["record_latency_s"].astype("Float64")
    return frame


def scores(values: Sequence[float], start: int = 0, step_s: float = 1.0) -> list[dict[str, Any]]:
    """One quality.accuracy cell per record, records r{start}, r{start+1}... one second apart."""
    return [cell(f"r{start + i:04d}", (start + i) * step_s, score=float(v)) for i, v in enumerate(values)]


def batches(cells: list[dict[str, Any]], size: int) -> Iterator[pd.DataFrame]:
    for i in range(0, len(cells), size):
        yield results(cells[i : i + size])


DROP = [5.0] * 40 + [2.0] * 30 + [5.0] * 60
"""A scripted quality drop: 40 good records, 30 bad, then good again."""


# --- a webhook receiver on 127.0.0.1 ----------------------------------------------------


@dataclass
class Receiver:
    """What a webhook receiver got: every request's raw bytes (request line, headers, body)."""

    url: str
    raw: list[bytes] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    fail_first: int = 0
    """Answer the first ``fail_first`` requests with 500."""
    redirect: str | None = None
    """Answer every request with a 307 to this location."""
    hold: threading.Event | None = None
    """While set to an unset event, requests wait for it."""
    got: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self.got:
            self.got.wait_for(lambda: len(self.bodies) >= n, timeout)
        return list(self.bodies)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            r = state["r"]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if r.hold is not None:
                r.hold.wait(10)
            with r.got:
                r.raw.append(self.requestline.encode() + b"\n" + bytes(self.headers) + body)
                failing = len(r.raw) <= r.fail_first
                if not failing:
                    r.bodies.append(json.loads(body))
                r.got.notify_all()
            if r.redirect:
                self.send_response(307)
                self.send_header("Location", r.redirect)
            else:
                self.send_response(500 if failing else 204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["r"] = Receiver(url=f"http://127.0.0.1:{server.server_port}/hook")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["r"]
    finally:
        if state["r"].hold is not None:
            state["r"].hold.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def observe_all(alerts: Alerts, cells: list[dict[str, Any]], size: int = 10) -> list[Alert]:
    return [a for batch in batches(cells, size) for a in alerts.observe(batch)]


def states(alerts: Sequence[Alert]) -> list[tuple[str, str]]:
    return [(a.rule, a.state) for a in alerts]


# --- the done-when: a score drop, a latency spike, recovery once ------------------------


def test_a_score_drop_raises_one_alert_to_the_callback_and_the_webhook_and_recovery_once(
    receiver: Receiver, tmp_path: Path
) -> None:
    got: list[Alert] = []
    rule = A.mean_below("quality.accuracy", 3.5, window=10)
    with Alerts([rule], dispatch=[got.append, receiver.url], cooldown_s=20, store_path=tmp_path) as alerts:
        raised = observe_all(alerts, scores(DROP))
        assert alerts.flush(10)
    assert states(raised) == [(rule.rule_id, "firing"), (rule.rule_id, "resolved")]
    assert got == raised
    firing, resolved = raised
    assert firing.id == firing.incident == resolved.incident
    # the mean of the last 10 first drops below 3.5 at the 6th bad record (4 x 5 + 6 x 2 = 3.2)
    assert firing.time == T0 + pd.Timedelta(seconds=45)
    assert firing.value == pytest.approx(3.2)
    assert firing.records == tuple(f"r{i:04d}" for i in range(40, 46))
    assert firing.message == (
        "mean score of quality.accuracy over the last 10 records (10 records, 10 scores) is 3.2, below 3.5"
    )
    # clear from the record whose window holds 5 bad ones (r0074: 3.5); resolved 20 s later
    assert resolved.time == T0 + pd.Timedelta(seconds=74 + 20)
    assert resolved.records == ("r0094",)
    assert [(b["state"], b["id"], b["incident"]) for b in receiver.wait_for(2)] == [
        ("firing", firing.id, firing.id),
        ("resolved", resolved.id, firing.id),
    ]
    assert receiver.bodies[0]["records"] == list(firing.records)
    assert receiver.bodies[0]["message"] == firing.message
    assert receiver.bodies[0]["value"] == pytest.approx(3.2)


def test_alerts_are_stored_with_the_records_that_raised_them(tmp_path: Path) -> None:
    rule = A.mean_below("quality.accuracy", 3.5, window=10, id="accuracy-drop")
    with Alerts([rule], cooldown_s=20, store_path=tmp_path, name="support") as alerts:
        raised = observe_all(alerts, scores(DROP))
    history = A.history(store=tmp_path, name="support")
    assert history[["rule", "state", "records"]].values.tolist() == [
        ["accuracy-drop", "firing", 6],
        ["accuracy-drop", "resolved", 1],
    ]
    assert history["id"].tolist() == [a.id for a in raised]
    assert str(history["time"].dtype) == "datetime64[us, UTC]"
    assert history["value"].dtype == "Float64"
    assert history["message"].tolist() == [a.message for a in raised]
    by = A.records(store=tmp_path, name="support")
    assert by[by["state"] == "firing"]["record"].tolist() == [f"r{i:04d}" for i in range(40, 46)]
    assert A.history(store=tmp_path, name="other").empty
    assert len(A.history(store=tmp_path, since=raised[1].time)) == 1


@pytest.mark.parametrize("metric", ["record_latency_s", "latency_s"])
def test_a_latency_spike_raises_the_zscore_alert_and_its_recovery_once(
    receiver: Receiver, metric: str
) -> None:
    """``record_latency_s``: the application's latency, on every cell of the record (the
    monitor's column); ``latency_s``: the judge's, on its cells only."""
    latencies = [1.0 + 0.1 * (i % 5) for i in range(60)]
    latencies[45] = 9.0
    cells = []
    for i, lat in enumerate(latencies):
        own = {"record_latency_s": lat} if metric == "record_latency_s" else {}
        cells.append(cell(f"r{i:04d}", i, score=5.0, tokens=100, **({metric: lat} | own)))
        cells.append(
            cell(f"r{i:04d}", i, task="is_json", criterion="", kind="assertion", status="passed", **own)
        )
    got: list[Alert] = []
    rule = A.zscore(metric, k=2, n=30)
    with Alerts([rule], dispatch=[got.append, receiver.url], cooldown_s=5) as alerts:
        raised = observe_all(alerts, cells, size=16)
        assert alerts.flush(10)
    assert states(got) == [
        (f"zscore({metric}, k=2, n=30)", "firing"),
        (f"zscore({metric}, k=2, n=30)", "resolved"),
    ]
    firing, resolved = got
    assert firing.records == ("r0045",)
    assert firing.value > 2
    assert firing.message.startswith(f"{metric} of record 'r0045' is 9, z = +")
    assert "from the mean 1.2 ± " in firing.message
    assert firing.message.endswith("of the previous 30 records (|z| > 2)")
    assert resolved.time == T0 + pd.Timedelta(seconds=46 + 5)
    assert raised == got
    assert [b["state"] for b in receiver.wait_for(2)] == ["firing", "resolved"]


def test_records_without_their_own_latency_give_that_rule_nothing_to_judge() -> None:
    with Alerts([A.zscore("record_latency_s", n=5)], cooldown_s=0) as alerts:
        assert alerts.observe(results(scores([5.0] * 20))) == []


def test_a_flat_baseline_makes_any_other_value_infinitely_far() -> None:
    cells = [cell(f"r{i}", i, score=5.0, cost_usd=0.0) for i in range(10)] + [
        cell("r10", 10, score=5.0, cost_usd=0.01)
    ]
    with Alerts([A.zscore("cost_usd", n=5, side="high")], cooldown_s=0) as alerts:
        (alert,) = alerts.observe(results(cells))
    assert alert.value == float("inf")
    assert alert.to_json()["value"] == "inf"
    assert "z = inf" in alert.message


def test_the_zscore_of_a_score_drop_reads_side_low() -> None:
    values = [4.0, 5.0] * 15 + [1.0] + [4.0, 5.0] * 3
    with Alerts([A.zscore("quality.accuracy", k=3, n=20, side="low")], cooldown_s=0) as alerts:
        raised = alerts.observe(results(scores(values)))
    assert [(a.state, a.records) for a in raised] == [("firing", ("r0030",)), ("resolved", ("r0031",))]
    with Alerts([A.zscore("quality.accuracy", k=3, n=20, side="high")], cooldown_s=0) as alerts:
        assert alerts.observe(results(scores(values))) == []


# --- the cooldown ------------------------------------------------------------------------


def test_a_value_flapping_within_the_cooldown_raises_one_alert_and_one_recovery() -> None:
    # the pass rate of the last 4 records crosses 0.5 back and forth every few records
    flapping = [5.0] * 8 + [1.0, 1.0, 1.0, 5.0, 5.0, 5.0, 1.0, 1.0, 1.0, 5.0, 5.0, 5.0] * 3 + [5.0] * 30
    rule = A.pass_rate_below("quality", 0.5, window=4)
    with Alerts([rule], cooldown_s=10) as alerts:
        raised = observe_all(alerts, scores(flapping), size=7)
    assert [a.state for a in raised] == ["firing", "resolved"]
    assert raised[0].time == T0 + pd.Timedelta(seconds=10)  # 3 of the last 4 failed: 25%
    with Alerts([rule], cooldown_s=0) as alerts:
        every_crossing = observe_all(alerts, scores(flapping), size=7)
    assert [a.state for a in every_crossing] == ["firing", "resolved"] * 6


def test_a_second_incident_after_the_cooldown_raises_a_second_alert() -> None:
    twice = [5.0] * 20 + [1.0] * 10 + [5.0] * 40 + [1.0] * 10 + [5.0] * 40
    rule = A.mean_below("quality.accuracy", 3, window=5)
    with Alerts([rule], cooldown_s=15) as alerts:
        raised = observe_all(alerts, scores(twice))
    assert [a.state for a in raised] == ["firing", "resolved", "firing", "resolved"]
    assert raised[0].incident == raised[1].incident != raised[2].incident == raised[3].incident


def test_a_recovery_waits_for_records_cooldown_s_after_the_window_cleared() -> None:
    with Alerts([A.mean_below("quality.accuracy", 3, window=2)], cooldown_s=60) as alerts:
        assert [a.state for a in alerts.observe(results(scores([5, 5, 1, 1, 5, 5, 5])))] == ["firing"]
        # clear since the record at 4 s: still clear at 35, 40 and 45 s, less than 60 s later
        assert alerts.observe(results(scores([5] * 3, start=7, step_s=5))) == []
        later = alerts.observe(results([cell("r-later", 64, score=5.0)]))
    assert [(a.state, a.records) for a in later] == [("resolved", ("r-later",))]


# --- rules --------------------------------------------------------------------------------


def test_pass_rate_over_a_time_window_counts_decided_cells_only() -> None:
    cells = []
    for i in range(30):
        status = "failed" if 10 <= i < 20 and i % 2 else "passed"
        cells.append(cell(f"r{i}", i * 30, task="is_json", criterion="", kind="assertion", status=status))
        cells.append(cell(f"r{i}", i * 30, task="is_json", criterion="", kind="assertion", status="error"))
    rule = A.pass_rate_below("is_json", 0.8, window="3min", min_records=5)
    with Alerts([rule], cooldown_s=0) as alerts:
        raised = alerts.observe(results(cells))
    firing = raised[0]
    # 6 records in 3 minutes (30 s apart): 5 passed of 6 at r11, 4 of 6 at r13
    assert firing.time == T0 + pd.Timedelta(seconds=13 * 30)
    assert firing.message == (
        "pass rate of is_json over the last 3min (4 of 6 cells passed, 6 records) is 66.7%, below 80.0%"
    )
    assert firing.records == ("r11", "r13")
    assert firing.window == "the last 3min"
    assert [a.state for a in raised] == ["firing", "resolved"]


def test_error_rate_alert_names_the_latest_error_and_the_records() -> None:
    cells = [cell(f"r{i}", i, score=4.0) for i in range(20)]
    for i in (12, 14, 15):
        cells[i] = cell(f"r{i}", i, status="error", error=f"judge call failed: HTTP 500 at r{i}")
    with Alerts([A.error_rate_above(0.2, window=10)], cooldown_s=100) as alerts:
        (firing,) = alerts.observe(results(cells))
    assert firing.records == ("r12", "r14", "r15")
    assert firing.message == (
        "error rate of all tasks over the last 10 records (3 of 10 cells errored, 10 records) is 30.0%, "
        "above 20.0%; latest error: judge call failed: HTTP 500 at r15"
    )


def test_mean_of_a_whole_task_pools_its_criteria_and_skipped_cells_count_for_nothing() -> None:
    cells = []
    for i in range(6):
        cells.append(cell(f"r{i}", i, criterion="accuracy", score=4.0 if i < 3 else 2.0))
        cells.append(cell(f"r{i}", i, criterion="tone", score=4.0))
        cells.append(cell(f"r{i}", i, criterion="clarity", status="skipped"))
    with Alerts([A.mean_below("quality", 3.5, window=3)], cooldown_s=0) as alerts:
        (firing,) = alerts.observe(results(cells))
    assert firing.records == ("r3", "r4")
    assert firing.value == pytest.approx((4 + 4 + 2 + 4 + 2 + 4) / 6)
    assert "(3 records, 6 scores)" in firing.message


def test_records_a_task_did_not_evaluate_are_not_in_its_window() -> None:
    # the judge runs on a sample: records without its cells neither fill nor dilute its window
    cells = [
        cell(f"r{i}", i, task="is_json", criterion="", kind="assertion", status="passed") for i in range(40)
    ]
    cells += [cell(f"r{i}", i, score=1.0) for i in range(0, 40, 10)]
    with Alerts([A.mean_below("quality.accuracy", 3, window=4)], cooldown_s=0) as alerts:
        (firing,) = alerts.observe(results(sorted(cells, key=lambda c: c["time"])))
    assert firing.records == ("r0", "r10", "r20", "r30")


def test_rule_ids_and_targets_read_as_written() -> None:
    assert (
        A.mean_below("quality.accuracy.score", 3.5).rule_id == "mean_below(quality.accuracy, 3.5, window=50)"
    )
    assert A.error_rate_above(0.1, target="quality", window="1h").rule_id == (
        "error_rate_above(0.1, window=1h, target=quality)"
    )
    assert A.zscore("cost_usd").rule_id == "zscore(cost_usd, k=2, n=100)"
    rule = A.pass_rate_below("is_json", 0.9, window="90s")
    assert rule.window.total_seconds() == 90
    assert A.PassRateBelow.model_validate(rule.model_dump()) == rule


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: A.pass_rate_below("is_json", 90),
            "pass_rate_below('is_json', 90): bound: Input should be less than or equal to 1",
        ),
        (
            lambda: A.mean_below("quality accuracy", 3),
            (
                "mean_below('quality accuracy', 3): target 'quality accuracy' is not a task target: "
                "write 'task', 'task.criterion', e.g. 'quality.accuracy'"
            ),
        ),
        (
            lambda: A.mean_below("latency_s", 3),
            (
                "mean_below('latency_s', 3): target 'latency_s' is a per-record metric; watch it with "
                "wb.alerts.zscore('latency_s', k=2, n=100)"
            ),
        ),
        (
            lambda: A.error_rate_above(0.1, window="ten minutes"),
            (
                "error_rate_above(0.1): window='ten minutes' is neither a number of records nor a time "
                "span; write e.g. window=50 (the last 50 records) or window='10min' (the last 10 minutes)"
            ),
        ),
        (
            lambda: A.error_rate_above(0.1, window=0),
            "error_rate_above(0.1): window=0 must hold at least 1 record",
        ),
        (lambda: A.zscore("latency_s", k=0), "zscore('latency_s'): k: Input should be greater than 0"),
        (
            lambda: A.zscore("latency_s", side="up"),
            "zscore('latency_s'): side: Input should be 'both', 'high' or 'low'",
        ),
    ],
    ids=["rate-out-of-range", "bad-target", "metric-mean", "bad-window", "empty-window", "k", "side"],
)
def test_bad_rules_say_what_to_write(build: Any, message: str) -> None:
    with pytest.raises(wb.SpecError) as e:
        build()
    assert str(e.value) == message


def test_rules_are_checked_against_the_suite_all_at_once() -> None:
    suite = wb.Suite(
        name="support",
        tasks=[
            wb.AssertionTask(id="is_json", path="r", op="is_json"),
            wb.JudgeTask(
                id="quality", prompt="${r}", criteria=[wb.Criterion(name="accuracy", description="Right.")]
            ),
        ],
    )
    rules = [A.mean_below("quality.acuracy", 3), A.pass_rate_below("is_jsn", 0.9), A.zscore("is_json")]
    with pytest.raises(wb.SpecError) as e:
        Alerts(rules, suite=suite)
    assert str(e.value) == (
        "3 problems in the alert rules:\n"
        "  - mean_below(quality.acuracy, 3, window=50): task 'quality' has no criterion 'acuracy'; did you "
        "mean 'accuracy'?; its criteria are ['accuracy']. Write 'quality' for the whole task.\n"
        "  - pass_rate_below(is_jsn, 0.9, window=50): no task 'is_jsn' in suite 'support'; did you mean "
        "'is_json'? Its tasks are ['is_json', 'quality'].\n"
        "  - zscore(is_json, k=2, n=100): task 'is_json' is an assertion and gives no scores; watch it with "
        "wb.alerts.pass_rate_below('is_json', 0.9)"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"dispatch": ["slack"]},
            (
                "dispatch target 'slack' is not one workbench knows: give a function of one Alert, "
                "'log' (the logging module, logger 'workbench.monitor'), or a webhook URL starting with "
                "http:// or https://"
            ),
        ),
        (
            {"dispatch": ["http://bot:hunter22@127.0.0.1:9/hook"]},
            (
                "webhook 'http://127.0.0.1:9/hook' holds a user name or password: workbench never sends "
                "credentials to a webhook. Use a URL whose path carries the receiver's token, as "
                "incoming-webhook URLs do."
            ),
        ),
        ({"cooldown_s": -1}, "cooldown_s=-1 must be a number of seconds, 0 or more"),
        ({"name": ""}, "name='' must be a non-empty string: the alerts are kept under it"),
    ],
    ids=["unknown-target", "credentials-in-url", "cooldown", "name"],
)
def test_bad_options_say_what_exists(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(wb.ConfigError) as e:
        Alerts([], **kwargs)
    assert str(e.value) == message


def test_two_rules_with_one_id_and_a_non_rule_are_refused() -> None:
    with pytest.raises(wb.SpecError) as e:
        Alerts([A.zscore("latency_s"), A.zscore("latency_s"), "mean < 3"])  # type: ignore[list-item]
    assert e.value.problems == [
        (
            "rule 2: 'mean < 3' is not an alert rule; build one with wb.alerts.mean_below, pass_rate_below, "
            "error_rate_above or zscore"
        ),
        "two rules are named 'zscore(latency_s, k=2, n=100)': give one another id=...",
    ]


def test_a_frame_without_record_or_time_is_refused_with_the_columns_it_has() -> None:
    frame = results(scores([5.0])).drop(columns=["record", "time"])
    with Alerts([]) as alerts, pytest.raises(wb.ColumnsError) as e:
        alerts.observe(frame)
    assert str(e.value).startswith(
        "the results to observe lack the columns ['record', 'time']; they have ['row', "
    )


def test_rows_without_a_record_id_or_a_time_are_left_out_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    frame = results(scores([1.0, 1.0, 1.0]))
    frame.loc[1, "record"] = pd.NA
    frame.loc[2, "time"] = pd.NaT
    with Alerts([A.mean_below("quality.accuracy", 3, window=1)], cooldown_s=0) as alerts:
        raised = alerts.observe(frame)
    assert [a.records for a in raised] == [("r0000",)]
    assert "2 result rows have no record id or no time" in caplog.text


# --- several observers of one store -------------------------------------------------------


def test_two_alerts_objects_over_one_store_raise_one_alert_per_incident(tmp_path: Path) -> None:
    rule = A.mean_below("quality.accuracy", 3.5, window=10)
    got: list[list[Alert]] = [[], []]
    first = Alerts([rule], dispatch=[got[0].append], cooldown_s=20, store_path=tmp_path)
    second = Alerts([rule], dispatch=[got[1].append], cooldown_s=20, store_path=tmp_path)
    for i, batch in enumerate(batches(scores(DROP), 7)):
        (first, second)[i % 2].observe(batch)
    first.close()
    second.close()
    assert sorted(a.state for a in got[0] + got[1]) == ["firing", "resolved"]
    assert A.history(store=tmp_path)["state"].tolist() == ["firing", "resolved"]


def test_a_record_observed_twice_is_judged_once_and_fails_once(tmp_path: Path) -> None:
    failures: list[RecordFailure] = []
    rule = A.mean_below("quality.accuracy", 3.5, window=10)
    one = Alerts([rule], on_fail=failures.append, cooldown_s=20, store_path=tmp_path)
    other = Alerts([rule], on_fail=failures.append, cooldown_s=20, store_path=tmp_path)
    raised = []
    for batch in batches(scores(DROP), 10):
        raised += one.observe(batch) + other.observe(batch)  # both workers got the same records
    one.close()
    other.close()
    assert [a.state for a in raised] == ["firing", "resolved"]
    assert [f.record for f in failures] == [f"r{i:04d}" for i in range(40, 70)]


def test_two_processes_observing_one_store_at_once_raise_one_alert_per_incident(tmp_path: Path) -> None:
    """Each process takes every other batch of one stream and observes it as soon as it can,
    a batch or two ahead of or behind the other at most (as workers claiming in arrival order
    are): the transaction decides which of them raises the alert."""
    script = textwrap.dedent(
        f"""
        import json, pathlib, sys, time
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from test_alerts import A, Alerts, batches, scores, DROP
        me = int(sys.argv[1])
        pathlib.Path({str(tmp_path)!r}, f"ready-{{me}}").touch()
        while not pathlib.Path({str(tmp_path)!r}, f"ready-{{1 - me}}").exists():
            time.sleep(0.005)  # both start observing together, after their imports
        raised = []
        rule = A.mean_below("quality.accuracy", 3.5, window=10)
        with Alerts([rule], dispatch=[raised.append], cooldown_s=30, store_path={str(tmp_path)!r}) as alerts:
            for i, batch in enumerate(batches(scores(DROP * 2), 5)):
                if i % 2 == me:
                    while i >= 3 and not pathlib.Path({str(tmp_path)!r}, f"done-{{i - 3}}").exists():
                        time.sleep(0.001)
                    alerts.observe(batch)
                    pathlib.Path({str(tmp_path)!r}, f"done-{{i}}").touch()
        print(json.dumps([a.state for a in raised]))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(me)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for me in (0, 1)
    ]
    outs = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        outs += json.loads(out)
    # DROP twice: two incidents, each raised once between the two processes
    assert sorted(outs) == ["firing", "firing", "resolved", "resolved"]
    history = A.history(store=tmp_path)
    assert history["state"].tolist() == ["firing", "resolved", "firing", "resolved"]
    assert history["incident"].nunique() == 2


def test_the_alert_tables_live_beside_the_runs(tmp_path: Path) -> None:
    suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
    run = wb.evaluate(pd.DataFrame({"x": [1, -1]}), suite, store=tmp_path, label="baseline")
    with Alerts(
        [A.mean_below("quality.accuracy", 3.5, window=10)], cooldown_s=20, store_path=tmp_path
    ) as alerts:
        observe_all(alerts, scores(DROP))
    assert wb.load_run("baseline", store=tmp_path).results.equals(run.results)
    assert len(A.history(store=tmp_path)) == 2
    code = f"import workbench as wb; print(wb.alerts.history(store={str(tmp_path)!r})['state'].tolist())"
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert fresh.stdout.strip() == "['firing', 'resolved']"


# --- on_fail, dispatch ------------------------------------------------------------------


def test_on_fail_is_called_once_per_record_with_what_failed() -> None:
    cells = [
        cell("ok", 0, score=5.0),
        cell("bad", 1, score=2.0),
        cell(
            "bad",
            1,
            task="is_json",
            criterion="",
            kind="assertion",
            status="failed",
            reason="'x' is not JSON",
        ),
        cell("broken", 2, status="error", error="judge call failed after 3 retries"),
        cell("gated", 3, status="skipped", reason="skipped: gate 'is_json' failed"),
    ]
    failures: list[RecordFailure] = []
    with Alerts([], on_fail=failures.append) as alerts:
        alerts.observe(results(cells))
        alerts.observe(results(cells))  # seen before: not again
    assert [(f.record, f.failed, f.errored) for f in failures] == [
        ("bad", ["quality.accuracy", "is_json"], []),
        ("broken", [], ["quality.accuracy"]),
    ]
    assert failures[1].cells["error"].tolist() == ["judge call failed after 3 retries"]
    assert failures[0].time == T0 + pd.Timedelta(seconds=1)


def test_a_callback_that_raises_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    got: list[Alert] = []

    def broken(alert: Alert) -> None:
        raise RuntimeError("pager is down")

    def broken_on_fail(failure: RecordFailure) -> None:
        raise RuntimeError("ticket system is down")

    with Alerts(
        [A.mean_below("quality.accuracy", 3, window=1)], dispatch=[broken, got.append], on_fail=broken_on_fail
    ) as alerts:
        raised = alerts.observe(results(scores([1.0, 1.0])))
        assert alerts.stats()["callback_errors"] == 3
    assert got == raised and len(raised) == 1
    assert "pager is down" in caplog.text and "ticket system is down" in caplog.text


def test_log_dispatch_warns_when_firing_and_informs_when_resolved(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="workbench.monitor")
    with Alerts(
        [A.mean_below("quality.accuracy", 3, window=1, id="acc")], dispatch=["log"], cooldown_s=0
    ) as alerts:
        alerts.observe(results(scores([1.0, 5.0])))
    logged = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert logged == [
        (
            "workbench.monitor",
            "WARNING",
            (
                "alert firing (default): mean score of quality.accuracy over the last record "
                "(1 record, 1 score) is 1, below 3 [acc]"
            ),
        ),
        (
            "workbench.monitor",
            "INFO",
            (
                "alert resolved (default): mean score of quality.accuracy over the last record "
                "(1 record, 1 score) is back to 5, not below 3 [acc]"
            ),
        ),
    ]


def test_a_slow_webhook_never_holds_up_observe(receiver: Receiver) -> None:
    receiver.hold = threading.Event()
    with Alerts(
        [A.mean_below("quality.accuracy", 3, window=1)], dispatch=[receiver.url], cooldown_s=0
    ) as alerts:
        raised = alerts.observe(results(scores([1.0, 5.0, 1.0])))
        # observe returned while the receiver still holds the first request
        assert len(raised) == 3 and receiver.bodies == []
        assert alerts.stats()["webhook_queued"] == 3
        receiver.hold.set()
        assert alerts.flush(10)
    assert [b["state"] for b in receiver.bodies] == ["firing", "resolved", "firing"]


def test_a_failing_webhook_is_retried(receiver: Receiver) -> None:
    receiver.fail_first = 2
    with Alerts([A.mean_below("quality.accuracy", 3, window=1)], dispatch=[receiver.url]) as alerts:
        alerts.observe(results(scores([1.0])))
        assert alerts.flush(10)
        stats = alerts.stats()
    assert len(receiver.raw) == 3 and len(receiver.bodies) == 1
    assert (stats["webhook_sent"], stats["webhook_retried"], stats["webhook_failed"]) == (1, 2, 0)


def test_a_redirect_is_not_followed(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    receiver.redirect = receiver.url.replace("/hook", "/elsewhere")
    with Alerts([A.mean_below("quality.accuracy", 3, window=1)], dispatch=[receiver.url]) as alerts:
        alerts.observe(results(scores([1.0])))
        assert alerts.flush(10)
        stats = alerts.stats()
    assert [r.split(b"\n")[0] for r in receiver.raw] == [b"POST /hook HTTP/1.1"]
    assert (stats["webhook_sent"], stats["webhook_failed"]) == (0, 1)
    assert (
        "did not take alert 1 (mean_below(quality.accuracy, 3, window=1)) after 1 attempt: HTTP 307"
        in caplog.text
    )


def test_observe_raises_for_a_store_it_cannot_write_and_sends_nothing(tmp_path: Path) -> None:
    foreign = tmp_path / "notes.db"
    foreign.write_bytes(b"these are not alerts" * 100)
    got: list[Alert] = []
    with (
        Alerts(
            [A.mean_below("quality.accuracy", 3, window=1)], dispatch=[got.append], store_path=foreign
        ) as alerts,
        pytest.raises(wb.StoreError, match="is not a workbench run store"),
    ):
        alerts.observe(results(scores([1.0])))
    assert got == []
    assert foreign.read_bytes() == b"these are not alerts" * 100


def test_a_closed_alerts_refuses_to_observe() -> None:
    alerts = Alerts([])
    alerts.close()
    with pytest.raises(wb.ConfigError, match="is closed; make a new Alerts"):
        alerts.observe(results(scores([1.0])))


# --- no credentials reach a webhook ------------------------------------------------------


ENV_KEY = "sk-env-4f9a8b7c6d5e4f3a2b1c"
JUDGE_KEY = "sk-judge-0a1b2c3d4e5f6a7b8c9d"


def test_webhooks_never_receive_credentials(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key in the environment and one in the judge's options: the judge echoes the key it
    was sent in its error (as providers do), the errors become error cells, the error-rate
    alert quotes the latest error; the receiver sees neither key, in body or headers."""
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    options = {"api_key": JUDGE_KEY, "extra_headers": {"X-Org-Token": ENV_KEY}}
    echo = Reply(status=401, content=f"Incorrect API key provided: {JUDGE_KEY} (org token {ENV_KEY})")
    suite = wb.Suite(
        name="s",
        tasks=[
            wb.JudgeTask(
                id="quality", prompt="${q}", criteria=[wb.Criterion(name="accuracy", description="Right.")]
            )
        ],
    )
    df = pd.DataFrame({"q": [f"question {i}" for i in range(6)]}, index=[f"r{i}" for i in range(6)])
    with JudgeServer(script=lambda request: echo) as server:
        api_base = server.litellm_kwargs["api_base"]
        run = wb.evaluate(df, suite, model=server.model, api_base=api_base, save=False, **options)
    evaluated = run.results.assign(record=run.results["row"], time=T0 + pd.to_timedelta(range(6), unit="s"))
    assert (evaluated["status"] == "error").all()
    # and a cell whose error kept the raw keys, as a path that forgot to redact would leave it
    raw = results([cell("r9", 9, status="error", error=f"401: key {JUDGE_KEY} / {ENV_KEY} refused")])
    got: list[Alert] = []
    for name, frame in (("judged", evaluated), ("raw", raw)):
        rules = [A.error_rate_above(0.5, window=1)]
        dispatch = [receiver.url, got.append]
        with Alerts(rules, dispatch=dispatch, secrets=secret_values(options), name=name) as alerts:
            alerts.observe(frame)
            assert alerts.flush(10)
    assert len(receiver.raw) == 2
    assert got[1].message.endswith("latest error: 401: key [redacted] / [redacted] refused")
    sent = b"\n".join(receiver.raw)
    assert JUDGE_KEY.encode() not in sent and ENV_KEY.encode() not in sent
    assert b"[redacted]" in sent
    assert b"authorization" not in sent.lower()
    assert all(JUDGE_KEY not in a.message and ENV_KEY not in a.message for a in got)


# --- batching never changes what is raised -----------------------------------------------


def noisy_stream(n: int = 500) -> list[dict[str, Any]]:
    """Records 3 s apart with a quality drop, a burst of judge errors and a latency spike,
    two cells each (an assertion and a judge criterion), deterministic."""
    cells = []
    for i in range(n):
        t = 3.0 * i
        record = f"r{i:04d}"
        score = 2.0 if 150 <= i < 190 else 4.0 + (i * 7919 % 11) / 10
        fails_json = (i * 31 % 17 == 0) or 260 <= i < 280
        cells.append(
            cell(
                record,
                t,
                task="is_json",
                criterion="",
                kind="assertion",
                status="failed" if fails_json else "passed",
            )
        )
        if 300 <= i < 330:
            cells.append(cell(record, t, status="error", error=f"judge timed out at {record}"))
        else:
            latency = 12.0 if i == 350 else 0.5 + (i * 13 % 7) / 20
            cells.append(cell(record, t, score=score, latency_s=latency))
    return cells


STREAM_RULES = [
    A.mean_below("quality.accuracy", 3.5, window=20),
    A.mean_below("quality", 3.5, window="2min"),
    A.pass_rate_below("is_json", 0.8, window="90s", min_records=10),
    A.error_rate_above(0.1, window="5min"),
    A.zscore("latency_s", k=3, n=40, side="high"),
]


def raised_by(batch_sizes: Sequence[int], store: Path | None) -> list[tuple[Any, ...]]:
    """What the stream raises when observed in batches of these sizes (repeated), two cells a record."""
    cells, out, i = noisy_stream(), [], 0
    with Alerts(STREAM_RULES, cooldown_s=60, store_path=store) as alerts:
        for size in itertools.cycle(batch_sizes):
            if i >= len(cells):
                break
            raised = alerts.observe(results(cells[i : i + 2 * size]))
            out += [(a.rule, a.state, a.time, a.value, a.records) for a in raised]
            i += 2 * size
    return out


def test_batching_never_changes_the_alerts(tmp_path: Path) -> None:
    """One batch, batches of 1, of 7 and of mixed sizes raise the same alerts with the
    same values and records; the long time windows read their middles as sums."""
    whole = raised_by([500], None)
    kinds = sorted({(rule.split("(")[0], state) for rule, state, *_ in whole})
    assert kinds == [
        ("error_rate_above", "firing"),
        ("error_rate_above", "resolved"),
        ("mean_below", "firing"),
        ("mean_below", "resolved"),
        ("pass_rate_below", "firing"),
        ("pass_rate_below", "resolved"),
        ("zscore", "firing"),
        ("zscore", "resolved"),
    ]
    for i, sizes in enumerate([[1], [7], [3, 50, 1, 17]]):
        again = raised_by(sizes, tmp_path / f"store-{i}")
        assert [a[:3] + a[4:5] for a in again] == [a[:3] + a[4:5] for a in whole], sizes
        assert [a[3] for a in again] == pytest.approx([a[3] for a in whole]), sizes


# --- through wb.Monitor (runs once the monitor is merged in) ------------------------------


def test_a_monitored_score_drop_raises_one_alert_per_incident_and_no_key_reaches_the_webhook(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Records submitted to a monitor, judged by the local server (low scores for the drop,
    a 401 that echoes the key for a few), evaluated by its worker and observed batch by batch."""
    Monitor = getattr(wb, "Monitor", None)
    if Monitor is None:
        pytest.skip("wb.Monitor is not in this tree yet: the monitor and the alerts merge together")
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)

    def judge(request: dict[str, Any]) -> Any:
        prompt = request["messages"][-1]["content"]
        if "broken" in prompt:
            return Reply(status=401, content=f"Incorrect API key provided: {JUDGE_KEY}")
        return {"accuracy": {"reason": "checked", "score": 1 if "drop" in prompt else 5}}

    suite = wb.Suite(
        name="support",
        tasks=[
            wb.JudgeTask(
                id="quality",
                prompt="Answer: ${answer}",
                threshold=4,
                criteria=[wb.Criterion(name="accuracy", description="Right.")],
            )
        ],
    )
    got: list[Alert] = []
    rules = [A.mean_below("quality.accuracy", 3.5, window=10), A.error_rate_above(0.2, window=10)]
    with (
        JudgeServer(script=judge) as server,
        Monitor(
            suite,
            model=server.model,
            api_base=server.litellm_kwargs["api_base"],
            api_key=JUDGE_KEY,
            store=tmp_path,
            alerts=rules,
            alert_to=[got.append, receiver.url],
            cooldown_s=20,
            retry_backoff_s=0.05,
        ) as monitor,
    ):
        stream = ["fine"] * 40 + ["drop"] * 30 + ["fine"] * 40 + ["broken"] * 5 + ["fine"] * 40
        for i, kind in enumerate(stream):
            monitor.submit(
                {
                    "id": f"r{i:04d}",
                    "time": (T0 + pd.Timedelta(seconds=i)).to_pydatetime(),
                    "answer": f"{kind} answer {i}",
                }
            )
        # the broken records' error cells come last, after the monitor's retries: their
        # error rate is judged when they arrive, and clears on the traffic after them
        assert monitor.flush(timeout=120)
        for i in range(len(stream), len(stream) + 40):
            monitor.submit(
                {
                    "id": f"r{i:04d}",
                    "time": (T0 + pd.Timedelta(seconds=i)).to_pydatetime(),
                    "answer": "fine",
                }
            )
        assert monitor.flush(timeout=120)
    assert sorted((a.kind, a.state) for a in got) == [
        ("error_rate_above", "firing"),
        ("error_rate_above", "resolved"),
        ("mean_below", "firing"),
        ("mean_below", "resolved"),
    ]
    drop = next(a for a in got if a.kind == "mean_below" and a.state == "firing")
    assert drop.time == T0 + pd.Timedelta(seconds=43)  # (6 x 5 + 4 x 1) / 10 = 3.4
    errors = next(a for a in got if a.kind == "error_rate_above" and a.state == "firing")
    # it fires at the third error among the last 10 records (30% > 20%), in whatever order
    # the retries finished
    assert len(errors.records) == 3 and set(errors.records) <= {f"r{i:04d}" for i in range(110, 115)}
    bodies = receiver.wait_for(4)
    assert sorted(b["id"] for b in bodies) == sorted(a.id for a in got)
    sent = b"\n".join(receiver.raw)
    assert JUDGE_KEY.encode() not in sent and ENV_KEY.encode() not in sent
    assert A.history(store=tmp_path, name="support")["state"].tolist().count("firing") == 2


def test_records_whose_results_arrive_late_still_count() -> None:
    """A monitor retries a record whose judge failed, so its error cells come after newer
    records: they are judged when they arrive, in the window of what was observed by then."""
    on_time = [cell(f"r{i:04d}", i, score=5.0) for i in range(40) if not 20 <= i < 24]
    retried = [
        cell(f"r{i:04d}", i, status="error", error="judge call failed after 3 retries") for i in range(20, 24)
    ]
    rules = [A.error_rate_above(0.3, window=10), A.error_rate_above(0.3, window="10s", min_records=5)]
    with Alerts(rules, cooldown_s=5) as alerts:
        assert alerts.observe(results(on_time[:30])) == []
        late = alerts.observe(results(retried))
        later = alerts.observe(
            results(on_time[30:] + [cell(f"r{i:04d}", i, score=5.0) for i in range(40, 60)])
        )
    # the last 10 observed hold 4 errors at the 4th retried record; the last 10 s before the
    # newest time seen (33 s) hold none of them (20-23 s is older): no time-window alert
    assert [(a.rule, a.state, a.records) for a in late] == [
        ("error_rate_above(0.3, window=10)", "firing", ("r0020", "r0021", "r0022", "r0023"))
    ]
    assert [(a.rule, a.state) for a in later] == [("error_rate_above(0.3, window=10)", "resolved")]
