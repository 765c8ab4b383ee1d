"""wb.Monitor in one process: sampling by record id, the queue and its policies, the hook,
retries of failed judge calls, and the results read back as the offline frame. Judge calls
go through the real client stack to workbench.testing.JudgeServer on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pydantic
import pytest

import workbench as wb
from workbench.monitor import MONITOR_COLUMNS, monitor_records, sample_point
from workbench.store import SCHEMA_VERSION
from workbench.testing import JudgeServer

C = wb.Criterion


def checks() -> wb.Suite:
    return wb.Suite(
        name="checks",
        version="1",
        tasks=[
            wb.AssertionTask(id="is_json", path="response", op="is_json", gate=True),
            wb.AssertionTask(
                id="short",
                path="response.answer",
                op="has_length_less_than",
                expected=20,
                depends_on=["is_json"],
            ),
            wb.AssertionTask(id="asked", path="question", op="is_not_empty"),
        ],
    )


def judged(**kw: Any) -> wb.Suite:
    return wb.Suite(
        name="judged",
        version="1",
        tasks=[
            wb.AssertionTask(id="answered", path="answer", op="is_not_empty", gate=True),
            wb.JudgeTask(
                id="quality",
                prompt="Question: ${question}\nAnswer: ${answer}",
                threshold=3,
                criteria=[C(name="accuracy", description="The answer is correct.")],
                depends_on=["answered"],
                **kw,
            ),
        ],
    )


def record(i: int) -> dict[str, Any]:
    return {
        "id": f"r{i:04d}",
        "question": f"What is {i} + {i}?",
        "response": f'{{"answer": "It is {2 * i}."}}',
    }


def stored_ids(path: Path, name: str, state: str = "done") -> list[str]:
    con = sqlite3.connect(path)
    try:
        return [
            r[0]
            for r in con.execute(
                "SELECT id FROM monitor_records WHERE monitor = ? AND state = ?", (name, state)
            )
        ]
    finally:
        con.close()


# --- sampling ---------------------------------------------------------------------------------


def test_a_stream_at_a_quarter_evaluates_exactly_the_deterministic_sample(tmp_path: Path) -> None:
    ids = [f"order-{i}" for i in range(2000)]
    expected = {i for i in ids if sample_point(i) < 0.25}
    sampled = []
    for replay in ("first", "second"):
        with wb.Monitor(checks(), store=tmp_path / replay, sample_ratio=0.25) as monitor:
            for i in ids:
                monitor.submit({"id": i, "question": "q", "response": '{"answer": "a"}'})
            assert monitor.flush(timeout=60)
            stats = monitor.stats()
        assert stats["submitted"] == 2000 and stats["sampled"] == stats["persisted"] == stats["evaluated"]
        sampled.append(set(monitor.results()["record"]))
    assert sampled[0] == sampled[1] == expected
    assert 400 < len(expected) < 600


def test_lower_task_rates_pick_subsets_and_dependencies_follow_their_dependents(tmp_path: Path) -> None:
    sample = {"short": 0.3, "asked": 0.1}  # is_json (1.0) is the gate of short
    with wb.Monitor(checks(), store=tmp_path, sample_ratio=1.0, sample=sample) as monitor:
        assert monitor.sampler.rates == {"is_json": 1.0, "short": 0.3, "asked": 0.1}
        for i in range(600):
            monitor.submit(record(i))
        assert monitor.flush(timeout=60)
    results = monitor.results()
    by_task = {t: set(results.loc[results["task"] == t, "record"]) for t in ("is_json", "short", "asked")}
    assert by_task["asked"] <= by_task["short"] <= by_task["is_json"]
    assert len(by_task["is_json"]) == 600
    assert by_task["short"] == {r for r in by_task["is_json"] if sample_point(r) < 0.3}
    assert (results["status"] != "skipped").all()  # tasks not sampled have no cells, not skipped ones


def test_a_gate_sampled_below_its_dependent_is_raised_to_its_rate() -> None:
    sampler = wb.monitor.Sampler(checks(), sample_ratio=0.05, sample={"short": 0.5})
    assert sampler.rates == {"is_json": 0.5, "short": 0.5, "asked": 0.05}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sample_ratio": 1.5}, r"sample_ratio=1.5 must be a share of records between 0 and 1"),
        (
            {"sample": {"shrot": 0.1}},
            r"sample= names \['shrot'\], which are not tasks of suite 'checks'; its tasks are",
        ),
        ({"sample": {"short": -1}}, r"sample\['short'\]=-1 must be a share"),
        (
            {"queue_sise": 5},
            r"'queue_sise' is not a judge option; as a monitor option, did you mean 'queue_size'",
        ),
        ({"when_full": "wait"}, r"monitor option when_full='wait' is not allowed"),
        ({"workers": -1}, r"workers=-1 must be a whole number >= 0"),
    ],
    ids=["ratio", "unknown-task", "task-ratio", "typo", "policy", "workers"],
)
def test_bad_options_say_what_is_wrong_and_what_exists(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(wb.ConfigError, match=message):
        wb.Monitor(checks(), store=tmp_path, **kwargs)


def test_judge_tasks_without_a_model_are_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(wb.WorkbenchError, match=r"judge tasks \['quality'\] need a model"):
        wb.Monitor(judged(), store=tmp_path)
    wb.Monitor(judged(), store=tmp_path, workers=0).close()  # persisting needs no model


# --- submit and what is stored -----------------------------------------------------------------


class Turn(pydantic.BaseModel):
    id: str
    question: str
    response: dict[str, str]
    tags: list[str]
    trace_id: str


def test_submit_takes_dicts_and_models_and_keeps_their_metadata(tmp_path: Path) -> None:
    at = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    with wb.Monitor(checks(), store=tmp_path, workers=0) as monitor:
        a = monitor.submit({"question": "no id?", "response": "{}", "latency_s": 0.8})
        b = monitor.submit(
            Turn(id="m1", question="q", response={"answer": "x"}, tags=["beta"], trace_id="t-9")
        )
        mutable = {"id": "d1", "time": at.isoformat(), "question": "before", "response": "{}"}
        c = monitor.submit(mutable)
        mutable["question"] = "after"  # the record was encoded at submit
    assert isinstance(a, str) and a and b == "m1" and c == "d1"
    records = monitor_records(store=tmp_path, name="checks")
    assert records.index.tolist() == [c, a, b]  # oldest first: d1 carried an older time
    assert records.loc["d1", "question"] == "before" and records.loc["d1", "time"] == at
    assert records.loc["m1", "tags"] == ["beta"] and records.loc["m1", "trace_id"] == "t-9"
    assert records.loc["m1", "response"] == {"answer": "x"}
    assert records.loc[a, "record_latency_s"] == 0.8 and (records["state"] == "queued").all()
    assert "id" not in records.columns and "tags" in records.columns


def test_submit_refuses_what_is_not_a_record(tmp_path: Path) -> None:
    with (
        wb.Monitor(checks(), store=tmp_path, workers=0) as monitor,
        pytest.raises(TypeError, match="dict or a pydantic"),
    ):
        monitor.submit("just text")


def test_a_record_submitted_twice_is_evaluated_once(tmp_path: Path) -> None:
    with wb.Monitor(checks(), store=tmp_path) as monitor:
        for _ in range(2):
            monitor.submit(record(1))
            assert monitor.flush(timeout=30)
        assert monitor.stats()["duplicates"] == 1
    assert monitor.results()["record"].tolist() == ["r0001"] * 3


def test_close_persists_what_is_queued(tmp_path: Path) -> None:
    monitor = wb.Monitor(checks(), store=tmp_path, workers=0, commit_interval_s=5)
    for i in range(50):
        monitor.submit(record(i))
    assert monitor.close(timeout=30)
    assert monitor.stats()["persisted"] == 50 and len(stored_ids(monitor.path, "checks", "queued")) == 50
    assert monitor.submit(record(99)) is None and monitor.stats()["dropped"] == 1


def test_records_persisted_by_one_process_are_evaluated_by_a_later_one(tmp_path: Path) -> None:
    with wb.Monitor(checks(), store=tmp_path, workers=0) as producer:
        for i in range(30):
            producer.submit(record(i))
    counts = wb.monitor.serve(tmp_path, name="checks", until_idle=True)  # the suite the producer registered
    assert counts["evaluated"] == 30
    assert len(wb.monitor_results(store=tmp_path)) == 90


# --- backpressure ------------------------------------------------------------------------------


@pytest.mark.parametrize(("policy", "kept"), [("drop_newest", range(10)), ("drop_oldest", range(90, 100))])
def test_a_full_queue_drops_by_its_policy_counts_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, policy: str, kept: range
) -> None:
    caplog.set_level(logging.WARNING, logger="workbench.monitor")
    monitor = wb.Monitor(
        checks(), store=tmp_path, workers=0, queue_size=10, when_full=policy, commit_interval_s=5
    )
    ids = [monitor.submit(record(i)) for i in range(100)]
    assert monitor.stats()["dropped"] == 90 and monitor.stats()["queued"] == 10
    monitor.close(timeout=30)
    assert sorted(stored_ids(monitor.path, "checks", "queued")) == [f"r{i:04d}" for i in kept]
    full = [r for r in caplog.records if "queue is full" in r.getMessage()]
    assert len(full) == 1 and "stats()['dropped']" in full[0].getMessage()
    assert ids.count(None) == (90 if policy == "drop_newest" else 0)


def test_block_waits_for_room_instead_of_dropping(tmp_path: Path) -> None:
    monitor = wb.Monitor(
        checks(),
        store=tmp_path,
        workers=0,
        queue_size=10,
        when_full="block",
        block_timeout_s=10,
        commit_interval_s=5,
    )
    for i in range(100):
        monitor.submit(record(i))
    monitor.close(timeout=30)
    assert monitor.stats()["dropped"] == 0 and len(stored_ids(monitor.path, "checks", "queued")) == 100


# --- reading back ------------------------------------------------------------------------------


def test_results_have_the_offline_columns_and_dtypes_plus_record_and_time(tmp_path: Path) -> None:
    rows = [record(i) for i in range(6)]
    rows[2]["response"] = "not json"
    with wb.Monitor(checks(), store=tmp_path) as monitor:
        for r in rows:
            monitor.submit(r)
        assert monitor.flush(timeout=30)
    got = monitor.results()
    df = pd.DataFrame(rows).set_index("id")
    offline = wb.evaluate(df, checks(), save=False).results
    assert list(got.columns) == list(MONITOR_COLUMNS)
    assert {c: str(t) for c, t in got.dtypes.items() if c in offline} == {
        c: str(t) for c, t in offline.dtypes.items()
    }
    assert str(got["time"].dtype) == "datetime64[us, UTC]" and str(got["record"].dtype) == "string"
    key = ["row", "task", "criterion"]
    mine = got[list(offline.columns)].sort_values(key).reset_index(drop=True)
    theirs = offline.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, theirs, check_categorical=False)
    assert (got["row"] == got["record"]).all()


def test_since_and_until_select_records_by_their_time(tmp_path: Path) -> None:
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with wb.Monitor(checks(), store=tmp_path) as monitor:
        for day in range(5):
            monitor.submit({**record(day), "time": base + timedelta(days=day)})
        assert monitor.flush(timeout=30)
    window = wb.monitor_results(
        store=tmp_path, name="checks", since="2026-01-02", until=base + timedelta(days=4)
    )
    assert sorted(set(window["record"])) == ["r0001", "r0002", "r0003"]
    assert len(monitor.results(since=timedelta(days=1))) == 0  # all older than a day ago
    with pytest.raises(ValueError, match=r"since='yesterday' is not a time"):
        monitor.results(since="yesterday")


def test_reading_names_the_monitors_a_store_holds(tmp_path: Path) -> None:
    for name in ("alpha", "beta"):
        with wb.Monitor(checks(), store=tmp_path, name=name, workers=0) as m:
            m.submit(record(1))
    with pytest.raises(wb.StoreError, match=r"several monitors, \['alpha', 'beta'\]: pass name="):
        wb.monitor_results(store=tmp_path)
    with pytest.raises(wb.StoreError, match=r"no monitor 'alpah' .*; did you mean 'alpha'\?"):
        wb.monitor_results(store=tmp_path, name="alpah")
    assert wb.monitor_results(store=tmp_path, name="beta").empty  # persisted, not evaluated yet


def test_the_store_is_readable_from_a_fresh_process(tmp_path: Path) -> None:
    with wb.Monitor(checks(), store=tmp_path) as monitor:
        for i in range(8):
            monitor.submit(record(i))
        assert monitor.flush(timeout=30)
    here = monitor.results()
    code = textwrap.dedent(
        f"""
        import workbench as wb
        r = wb.monitor_results(store={str(tmp_path)!r})
        print(len(r), r["record"].nunique(), dict(r["status"].value_counts()))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:2] == [str(len(here)), "8"]


def test_a_version_2_store_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    asked = wb.Suite(name="asked", tasks=checks().tasks[2:])
    run = wb.evaluate(pd.DataFrame({"question": ["a"]}), asked, store=path, label="old")
    con = sqlite3.connect(path)  # back to the layout of version 2: no monitor tables
    for table in ("monitor_results", "monitor_records", "monitors"):
        con.execute(f"DROP TABLE {table}")
    con.execute("PRAGMA user_version = 2")
    con.commit()
    con.close()
    with wb.Monitor(checks(), store=path) as monitor:
        monitor.submit(record(3))
        assert monitor.flush(timeout=30)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    con.close()
    assert len(monitor.results()) == 3
    pd.testing.assert_frame_equal(wb.load_run("old", store=path).results, run.results)


# --- the hook ----------------------------------------------------------------------------------


class Bot:
    def __init__(self) -> None:
        self.calls = 0

    def answer(self, question: str, style: str = "plain") -> dict[str, str]:
        self.calls += 1
        if question == "boom":
            raise KeyError("no answer for that")
        return {"answer": f"{style}: {question}"}


def test_watch_submits_arguments_and_result_and_changes_nothing(tmp_path: Path) -> None:
    bot = Bot()
    with wb.Monitor(checks(), store=tmp_path, workers=0) as monitor:
        answer = monitor.watch(input="question", output="response")(bot.answer)
        everything = monitor.watch(output="response", tags=["all"])(Bot.answer)
        picked = monitor.watch(input={"question": "q", "style": "s"}, output="response")(bot.answer)
        assert answer("hi") == {"answer": "plain: hi"}
        assert everything(bot, "yo", style="loud") == {"answer": "loud: yo"}
        assert picked("ok", "terse") == {"answer": "terse: ok"}
        with pytest.raises(KeyError, match="no answer for that") as caught:
            answer("boom")
        assert caught.type is KeyError and answer.__name__ == "answer"
    rec = monitor_records(store=tmp_path, name="checks").drop(columns=["time", "claims", "attempts", "state"])
    rows = rec.to_dict("records")
    assert rows[0]["question"] == "hi" and rows[0]["response"] == {"answer": "plain: hi"}
    assert rows[1]["question"] == "yo" and rows[1]["style"] == "loud" and rows[1]["tags"] == ["all"]
    assert rows[2]["q"] == "ok" and rows[2]["s"] == "terse"
    assert rows[3]["question"] == "boom" and rows[3]["error"] == "KeyError: 'no answer for that'"
    assert pd.isna(rows[3]["response"]) and all(r["record_latency_s"] >= 0 for r in rows)
    assert bot.calls == 4


def test_watch_wraps_async_functions(tmp_path: Path) -> None:
    with wb.Monitor(checks(), store=tmp_path, workers=0) as monitor:

        @monitor.watch(input="question", output="response")
        async def answer(question: str) -> str:
            await asyncio.sleep(0)
            if not question:
                raise ValueError("empty question")
            return '{"answer": "yes"}'

        assert asyncio.iscoroutinefunction(answer)
        assert asyncio.run(answer("is it?")) == '{"answer": "yes"}'
        with pytest.raises(ValueError, match="empty question"):
            asyncio.run(answer(""))
    assert monitor.stats()["persisted"] == 2


def test_watch_refuses_inputs_the_function_does_not_take(tmp_path: Path) -> None:
    with (
        wb.Monitor(checks(), store=tmp_path, workers=0) as monitor,
        pytest.raises(
            wb.ConfigError,
            match=r"input= names \['questoin'\], which are not parameters of 'answer'.*did you mean",
        ),
    ):
        monitor.watch(input=["questoin"])(Bot().answer)


# --- judges: retries, a judge that is down ------------------------------------------------------


def test_a_judge_that_is_down_makes_error_cells_after_the_retries_and_the_app_is_unaffected(
    tmp_path: Path,
) -> None:
    with JudgeServer(rate_500=1.0) as server:
        monitor = wb.Monitor(
            judged(),
            store=tmp_path,
            model=server.model,
            judge=wb.JudgeConfig(max_retries=1, backoff_s=0.01),
            api_base=server.url,
            api_key="sk-test-key-0000",
            max_retries=2,
            retry_backoff_s=0.01,
        )

        @monitor.watch(input="question", output="answer")
        def app(question: str) -> str:
            return f"answer to {question}"

        answers = [app(f"q{i}") for i in range(10)]
        assert monitor.flush(timeout=60)
        monitor.close()
        assert server.count == 10 * 3 * 2  # 3 evaluations (2 retries) x 2 attempts per call
    assert answers == [f"answer to q{i}" for i in range(10)]
    stats = monitor.stats()
    assert stats["evaluated"] == 10 and stats["errors"] == 10 and stats["retried"] == 20
    results = monitor.results()
    judge = results[results["task"] == "quality"]
    assert len(judge) == 10 and (judge["status"] == "error").all() and judge["score"].isna().all()
    assert judge["error"].str.startswith("judge call failed after 2 attempt(s)").all()
    assert (results.loc[results["task"] == "answered", "status"] == "passed").all()
    assert "sk-test-key-0000" not in "".join(judge["error"])
    assert (monitor_records(store=tmp_path, name="judged")["attempts"] == 2).all()


def test_a_record_whose_judge_failed_is_scored_once_the_judge_answers(tmp_path: Path) -> None:
    with (
        JudgeServer(rate_500=1.0) as server,
        wb.Monitor(
            judged(),
            store=tmp_path,
            model=server.model,
            judge=wb.JudgeConfig(max_retries=0),
            api_base=server.url,
            api_key="sk-test",
            max_retries=5,
            retry_backoff_s=0.3,
        ) as monitor,
    ):
        for i in range(5):
            monitor.submit({"id": f"a{i}", "question": f"q{i}", "answer": "yes"})
        deadline = time.monotonic() + 30
        while monitor.stats()["retried"] < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        server.set(rate_500=0.0)
        assert monitor.flush(timeout=60)
    results = monitor.results()
    judge = results[results["task"] == "quality"]
    assert len(judge) == 5 and judge["score"].notna().all() and (judge["status"] != "error").all()
    assert monitor.stats()["errors"] == 0 and monitor.stats()["retried"] >= 5


def test_the_judge_cache_makes_a_replay_free(tmp_path: Path) -> None:
    with JudgeServer() as server:
        for store in ("a", "b"):
            with wb.Monitor(judged(), store=tmp_path / store, model=server.model, api_base=server.url,
                            api_key="sk-test") as monitor:  # fmt: skip
                for i in range(12):
                    monitor.submit({"id": f"c{i}", "question": f"q{i}", "answer": "yes"})
                assert monitor.flush(timeout=60)
        assert server.count == 12
    assert monitor.results().loc[lambda r: r["task"] == "quality", "cached"].all()


# --- what sees each batch ----------------------------------------------------------------------


class Seen:
    """Stand-in for the alerts: keeps every frame it is given."""

    def __init__(self, fail_first: bool = False) -> None:
        self.frames: list[pd.DataFrame] = []
        self.fail_first = fail_first
        self.closed = False

    def observe(self, results: pd.DataFrame) -> list[Any]:
        self.frames.append(results)
        if self.fail_first and len(self.frames) == 1:
            raise RuntimeError("an alert rule broke")
        return []

    def close(self) -> None:
        self.closed = True


def test_each_committed_batch_is_handed_to_the_alerts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen = Seen(fail_first=True)
    with wb.Monitor(checks(), store=tmp_path, alerts=seen, batch_size=10) as monitor:
        for i in range(25):
            monitor.submit({**record(i), "latency_s": i / 10})
            if i in (9, 19):
                assert monitor.flush(timeout=30)
        assert monitor.flush(timeout=30)
    assert seen.closed and len(seen.frames) >= 3
    frame = pd.concat(seen.frames, ignore_index=True)
    assert list(frame.columns) == list(MONITOR_COLUMNS) and frame["record"].nunique() == 25
    assert frame.loc[frame["record"] == "r0007", "record_latency_s"].iloc[0] == pytest.approx(0.7)
    assert len(monitor.results()) == 75  # the rule that broke stopped nothing
    assert any("alerts failed" in r.getMessage() for r in caplog.records)


def test_alerts_need_a_process_that_evaluates(tmp_path: Path) -> None:
    with pytest.raises(wb.ConfigError, match="workers=0 evaluates none in this process"):
        wb.Monitor(checks(), store=tmp_path, workers=0, alerts=Seen())
