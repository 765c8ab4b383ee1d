"""Batch mode end to end, through litellm's file and batch functions against the local judge
server over real HTTP: the same verdicts as a direct run, splitting under limits, failed and
expired lines as error cells with the provider's message, retry_failed, wait=False and
wb.resume, an interrupted download, batch prices in estimate and Run.cost, and refusals."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported: no fetch

import pandas as pd
import pytest

import workbench as wb
from workbench import _pytest_plugin
from workbench.batch import PendingRun, batches
from workbench.llm.batches import batch_price
from workbench.testing import JudgeServer, Reply

judge_server_factory = _pytest_plugin.judge_server_factory

PRICED = "openai/gpt-4o-mini"
"""A model litellm prices (batch prices included); the local server answers any model name."""

SUITE = wb.Suite(
    name="support",
    version="1",
    tasks=[
        wb.AssertionTask(id="has_answer", path="answer", op="is_not_empty", gate=True),
        wb.JudgeTask(
            id="quality",
            prompt="Question: ${question}\n\nAnswer: ${answer}",
            criteria=[
                wb.Criterion(name="accuracy", description="Facts are correct."),
                wb.Criterion(name="clarity", description="Easy to follow."),
            ],
            scale=(1, 5),
            threshold=3,
            mode="joint",
            depends_on=["has_answer"],
        ),
    ],
)


def data(n: int, tag: str = "") -> pd.DataFrame:
    return pd.DataFrame(
        {"question": [f"Question {i}{tag}?" for i in range(n)], "answer": [f"Answer {i}." for i in range(n)]},
        index=pd.Index([f"r{i:03d}" for i in range(n)], name="id"),
    )


def fast(**kw: Any) -> wb.BatchOptions:
    return wb.BatchOptions(poll_s=0.05, max_poll_s=0.2, **kw)


def judge(server: JudgeServer, tmp: Path, name: str = "cache", **extra: Any) -> dict[str, Any]:
    return {
        "model": PRICED,
        **server.litellm_kwargs,
        "cache_dir": tmp / name,
        "store": tmp / "store",
        "progress": False,
        **extra,
    }


def judged(run: wb.Run) -> pd.DataFrame:
    r = run.results
    return r[r["task"] == "quality"].set_index(["row", "criterion"]).sort_index()


def test_a_batch_run_gives_the_verdicts_of_a_direct_run_and_makes_no_chat_call(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    server = judge_server_factory(seed=7, batch_delay_s=0.2)
    df = data(40)
    batched = wb.evaluate(df, SUITE, batch=fast(), **judge(server, tmp_path))
    assert server.count == 0 and server.batch_stats()["batches_created"] == 1
    direct = wb.evaluate(df, SUITE, **judge(server, tmp_path, "direct"))
    assert server.count == 40
    a, b = judged(batched), judged(direct)
    assert (
        (a["status"] == b["status"]).all()
        and a["score"].equals(b["score"])
        and a["reason"].equals(b["reason"])
    )
    assert not a["cached"].any() and (a["latency_s"] == 0).all()
    assert batched.calls["batched"] == 40 and batched.calls["batch_submitted"] == 40


def test_a_second_batch_run_is_served_from_the_cache_and_submits_nothing(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    server = judge_server_factory()
    first = wb.evaluate(data(12), SUITE, batch=fast(), **judge(server, tmp_path))
    again = wb.evaluate(data(12), SUITE, batch=fast(), **judge(server, tmp_path))
    assert server.batch_stats()["batches_created"] == 1
    assert judged(again)["cached"].all() and judged(again)["score"].equals(judged(first)["score"])


def test_large_runs_are_split_under_the_request_limit(judge_server_factory: Any, tmp_path: Path) -> None:
    server = judge_server_factory()
    run = wb.evaluate(data(20), SUITE, batch=fast(max_requests=7), **judge(server, tmp_path))
    sizes = [len(b["custom_ids"]) for b in server.batches]
    assert sizes == [7, 7, 6]
    assert (judged(run)["status"] != "error").all()


def test_large_runs_are_split_under_the_byte_limit(judge_server_factory: Any, tmp_path: Path) -> None:
    server = judge_server_factory()
    wb.evaluate(data(10), SUITE, batch=fast(max_bytes=6000), **judge(server, tmp_path))
    assert len(server.batches) > 1 and sum(len(b["custom_ids"]) for b in server.batches) == 10


def test_failed_lines_are_error_cells_with_the_providers_message_and_retry_failed_resubmits_exactly_those(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    df = data(10)
    failing = {df.index[2], df.index[7]}
    seen: set[str] = set()

    def fail_once(line: dict[str, Any]) -> str | None:
        text = line["body"]["messages"][-1]["content"]
        row = next((r for r in failing if f"Question {int(r[1:])}?" in text), None)
        if row is None or row in seen:
            return None
        seen.add(row)
        return f"simulated overload for {row}"

    server = judge_server_factory(batch_line_error=fail_once)
    first = wb.evaluate(df, SUITE, batch=fast(), **judge(server, tmp_path))
    cells = judged(first)
    bad = cells[cells["status"] == "error"]
    assert set(bad.index.get_level_values("row")) == failing
    for (row, _), error in bad["error"].items():
        assert f"failed this request: HTTP 500: simulated overload for {row}" in error
    assert (cells.drop(index=list(failing), level="row")["status"] != "error").all()

    again = wb.evaluate(df, SUITE, batch=fast(), **judge(server, tmp_path))
    assert len(server.batches) == 1, "without retry_failed, failed lines are not resubmitted"
    assert judged(again).loc[list(failing), "error"].str.contains("retry_failed=True resubmits it").all()

    retried = wb.evaluate(df, SUITE, batch=fast(), retry_failed=True, **judge(server, tmp_path))
    assert len(server.batches) == 2
    resubmitted = server.batches[1]["custom_ids"]
    assert len(resubmitted) == 2 and server.count == 0
    assert (judged(retried)["status"] != "error").all()


def test_retry_failed_without_batch_calls_the_failed_lines_directly(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    df = data(6)
    server = judge_server_factory(
        batch_line_error=lambda line: (
            "nope" if "Question 4?" in line["body"]["messages"][-1]["content"] else None
        )
    )
    wb.evaluate(df, SUITE, batch=fast(), **judge(server, tmp_path))
    retried = wb.evaluate(df, SUITE, retry_failed=True, **judge(server, tmp_path))
    assert server.count == 1 and len(server.batches) == 1
    assert (judged(retried)["status"] != "error").all()


def test_lines_of_an_expired_batch_are_error_cells_saying_so(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    server = judge_server_factory(batch_expire_after=4)
    run = wb.evaluate(data(6), SUITE, batch=fast(), **judge(server, tmp_path))
    cells = judged(run)
    errors = cells[cells["status"] == "error"]["error"]
    assert len(errors) == 2 * 2  # two calls, two criteria each
    assert errors.str.contains("could not be executed before the completion window expired").all()


def test_a_whole_batch_that_fails_validation_fails_its_cells_with_the_reason(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    server = judge_server_factory(batch_max_requests=3)
    run = wb.evaluate(data(5), SUITE, batch=fast(), **judge(server, tmp_path))
    errors = judged(run)["error"]
    assert (
        errors.notna().all() and errors.str.contains("the whole batch failed: The batch has 5 requests").all()
    )


def test_wait_false_returns_a_pending_run_that_resume_finishes_under_its_id(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    server = judge_server_factory(batch_delay_s=2.5)
    df = data(8)
    pending = wb.evaluate(df, SUITE, batch=fast(), wait=False, label="nightly", **judge(server, tmp_path))
    assert isinstance(pending, PendingRun) and pending.waiting == 8 and len(pending.batches) == 1
    assert "pending: 8 judge calls in 1 batch" in repr(pending)
    assert judged(pending)["error"].str.contains(f"wb.resume\\('{pending.id}'\\)").all()
    assert len(wb.runs(store=tmp_path / "store")) == 0, "a pending run is not saved"
    status = pending.status()
    assert status["status"].tolist() == ["in_progress"] and status["requests"].tolist() == [8]

    done = wb.resume(pending)
    assert not isinstance(done, PendingRun) and done.id == pending.id and done.label == "nightly"
    assert (judged(done)["status"] != "error").all()
    assert server.batch_stats()["batches_created"] == 1 and server.count == 0
    assert wb.load_run(pending.id, store=tmp_path / "store").results.equals(done.results)
    assert wb.resume(pending.id, store=tmp_path / "store").results.equals(done.results)


def test_the_same_evaluate_again_picks_up_the_pending_batch(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    server = judge_server_factory(batch_delay_s=2)
    pending = wb.evaluate(data(5), SUITE, batch=fast(), wait=False, **judge(server, tmp_path))
    finished = wb.evaluate(data(5), SUITE, batch=fast(), **judge(server, tmp_path, "another-cache"))
    assert server.batch_stats()["batches_created"] == 1
    assert finished.id == pending.id and (judged(finished)["status"] != "error").all()
    assert batches(tmp_path / "store")["status"].tolist() == ["completed"]


def test_a_timeout_returns_a_pending_run(judge_server_factory: Any, tmp_path: Path) -> None:
    server = judge_server_factory(batch_delay_s=5)
    run = wb.evaluate(data(3), SUITE, batch=fast(timeout_s=0.3), **judge(server, tmp_path))
    assert isinstance(run, PendingRun) and run.waiting == 3


def test_an_interrupted_download_is_read_again_and_the_run_completes(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    server = judge_server_factory(batch_cut_download_bytes=3000)
    run = wb.evaluate(data(10), SUITE, batch=fast(), **judge(server, tmp_path))
    assert server.batch_stats()["downloads"] == 2
    assert (judged(run)["status"] != "error").all()


def test_an_unusable_batch_reply_gets_one_direct_repair_call(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    def script(body: dict[str, Any]) -> Any:
        first = "Question 1?" in body["messages"][1]["content"] and len(body["messages"]) == 2
        return Reply(content="not a verdict") if first else None

    server = judge_server_factory(script=script)
    run = wb.evaluate(data(3), SUITE, batch=fast(), **judge(server, tmp_path))
    assert server.count == 1  # the repair, made directly
    assert len(server.requests[0]["messages"]) == 4  # the original turn, the reply and the repair turn
    assert (judged(run)["status"] != "error").all()


def test_estimate_and_cost_show_the_batch_price(judge_server_factory: Any, tmp_path: Path) -> None:
    server = judge_server_factory()
    df = data(10)
    est = wb.estimate(
        df,
        SUITE,
        batch=True,
        **{k: v for k, v in judge(server, tmp_path).items() if k not in ("store", "progress")},
    )
    total = est[est["task"] == "total"].iloc[0]
    # litellm's table has gpt-4o-mini's batch prices: exactly half of the direct ones
    assert total["cost_usd_batch_est"] == pytest.approx(total["cost_usd_est"] / 2)

    run = wb.evaluate(df, SUITE, batch=fast(), **judge(server, tmp_path))
    cells = judged(run)
    tokens = run.results.groupby("row")["tokens"].sum()  # a joint call's tokens, split over its criteria
    assert tokens.notna().all()
    spent = run.cost()
    assert float(spent.loc[spent["task"] == "total", "cost_usd"].iloc[0]) == pytest.approx(
        run.calls["batch_cost_usd"]
    )
    assert run.calls["direct_cost_usd"] == pytest.approx(2 * run.calls["batch_cost_usd"])
    assert float(spent["direct_usd"].iloc[-1]) == pytest.approx(run.calls["direct_cost_usd"])
    assert cells["cost_usd"].sum() == pytest.approx(run.calls["batch_cost_usd"])


def test_batch_price_falls_back_to_half_the_direct_price(monkeypatch: pytest.MonkeyPatch) -> None:
    import litellm

    model = "openai/workbench-priced-without-batches"
    monkeypatch.setitem(
        litellm.model_cost,
        model,
        {
            "input_cost_per_token": 1e-6,
            "output_cost_per_token": 3e-6,
            "litellm_provider": "openai",
            "mode": "chat",
        },
    )
    assert batch_price(model, 1000, 100) == pytest.approx((1000 * 1e-6 + 100 * 3e-6) / 2)


def test_a_provider_batch_mode_does_not_cover_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(wb.ConfigError) as e:
        wb.evaluate(
            data(2),
            SUITE,
            model="anthropic/claude-3-5-haiku-20241022",
            api_key="sk-ant-test",
            batch=True,
            store=tmp_path,
            cache_dir=tmp_path / "c",
            progress=False,
        )
    assert "its provider is 'anthropic', and batch mode covers ['openai', 'litellm_proxy']" in str(e.value)
    assert "batch=False" in str(e.value)
    assert not (tmp_path / "runs.sqlite").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"wait": False}, "wait=False returns a pending run of batch mode at once, so it needs batch=True"),
        ({"batch": "yes"}, "batch= takes True, False or a wb.BatchOptions(...), not str"),
        ({"batch": True, "wait": False, "strict": True}, "use wait=True with strict=True"),
    ],
    ids=["wait-without-batch", "batch-not-a-bool", "strict-without-waiting"],
)
def test_bad_batch_arguments_are_refused_with_the_fix(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(wb.ConfigError, match=re.escape(message)):
        wb.evaluate(data(1), SUITE, model=PRICED, **kwargs)


def test_resume_of_an_unknown_id_names_what_exists(tmp_path: Path) -> None:
    with pytest.raises(
        wb.UnknownRunError, match=r"no batch-mode run .nope. in the run store at .*no run there waits"
    ):
        wb.resume("nope", store=tmp_path)


def test_the_inputs_kept_for_resumption_come_back_equal() -> None:
    from workbench.batch._inputs import decode_inputs, encode_inputs
    from workbench.store import data_fingerprint

    df = pd.DataFrame(
        {
            "q": ["a", None, "c"],
            "n": [1, 2, 3],
            "x": [1.5, float("nan"), 2.0],
            "meta": [{"k": [1, 2]}, None, "text"],
            "flag": pd.array([True, None, False], dtype="boolean"),
        },
        index=pd.MultiIndex.from_tuples([("d1", 1), ("d1", 2), ("d2", 1)], names=["doc", "turn"]),
    )
    back = decode_inputs(encode_inputs(df))
    assert back.equals(df) and data_fingerprint(back) == data_fingerprint(df)


def test_the_cli_submits_with_batch_and_a_second_run_collects(
    judge_server_factory: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from workbench.cli import main

    server = judge_server_factory(batch_delay_s=2)
    monkeypatch.setenv("OPENAI_API_BASE", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", server.litellm_kwargs["api_key"])
    suite_file = tmp_path / "suite.yaml"
    suite_file.write_text(SUITE.to_yaml())
    data_file = tmp_path / "data.csv"
    data(6).reset_index().to_csv(data_file, index=False)
    argv = [
        "run",
        str(suite_file),
        str(data_file),
        "--model",
        PRICED,
        "--store",
        str(tmp_path / "store"),
        "--batch",
    ]

    assert main([*argv, "--no-wait"]) == 0
    out = capsys.readouterr().out
    assert "6 judge calls wait in 1 provider batch: batch_" in out and "Run the same command again" in out
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "6 of them from provider batches, at the batch price (direct: $" in out
    assert server.batch_stats()["batches_created"] == 1 and server.count == 0
    assert main(["run", str(suite_file), str(data_file), "--no-wait"]) == 2
    assert "--no-wait returns before batches finish, so it needs --batch too" in capsys.readouterr().err


def test_the_readme_batch_example_runs_against_the_local_server(
    judge_server_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    batch_block = next(b for b in blocks if "batch=True" in b and "wb.resume(" in b)
    section = readme[readme.index("### Batch mode") : readme.index("## Runs, comparisons and charts")]
    assert "Providers covered" in section and "24-hour completion window" in section
    server = judge_server_factory(batch_delay_s=1.5)  # real batches take minutes: wait=False finds it pending
    monkeypatch.chdir(root)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    namespace: dict[str, Any] = {"server": server}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    exec(
        compile(
            blocks[1].replace('model="openai/gpt-4o-mini"', "model=server.model, **server.litellm_kwargs"),
            "README.md",
            "exec",
        ),
        namespace,
    )
    code = batch_block.replace(
        'model="openai/gpt-4o-mini"', 'model="openai/gpt-4o-mini", **server.litellm_kwargs'
    )
    exec(compile(code, "README.md", "exec"), namespace)
    pending = namespace["pending"]
    assert isinstance(pending, PendingRun) and server.batch_stats()["batches_created"] == 1
    resumed = wb.load_run(pending.id, store=tmp_path)  # saved under the pending run's id
    assert (resumed.results["status"].astype(str) != "error").sum() > (
        pending.results["status"].astype(str) != "error"
    ).sum()
    assert namespace["run"].calls["batch_submitted"] == 0 and server.batch_stats()["batches_created"] == 1
    assert server.count == 47  # the judge example's own run, made directly before the batch block


def test_refresh_submits_again_instead_of_reusing_a_finished_batch(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    server = judge_server_factory()
    wb.evaluate(data(4), SUITE, batch=fast(), **judge(server, tmp_path))
    again = wb.evaluate(data(4), SUITE, batch=fast(), refresh=True, **judge(server, tmp_path))
    assert server.batch_stats()["batches_created"] == 2 and not judged(again)["cached"].any()


def test_two_runs_of_the_same_calls_at_once_submit_them_once(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    import threading

    server = judge_server_factory(batch_create_delay_s=0.5)
    runs: list[wb.Run] = []

    def go(cache: str) -> None:
        runs.append(wb.evaluate(data(10), SUITE, batch=fast(), **judge(server, tmp_path, cache)))

    threads = [threading.Thread(target=go, args=(f"cache-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(runs) == 2 and server.batch_stats()["batches_created"] == 1
    assert all((judged(r)["status"] != "error").all() for r in runs)
    assert judged(runs[0])["score"].equals(judged(runs[1])["score"])
    assert len(wb.runs(store=tmp_path / "store")) == 2  # both saved, under ids of their own
