"""wb.JudgeConfig: one configuration of judge calls, built from keywords or given whole, that
decides what is sent, what is keyed and what is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench.llm import LLM, cache_key
from workbench.testing import JudgeServer

C = wb.Criterion


def suite() -> wb.Suite:
    return wb.Suite(
        name="s",
        tasks=[
            wb.JudgeTask(
                id="q",
                prompt="Answer: ${answer}",
                threshold=3,
                criteria=[
                    C(name="accuracy", description="Correct."),
                    C(name="clarity", description="Clear."),
                ],
            )
        ],
    )


def frame(n: int = 20) -> pd.DataFrame:
    return pd.DataFrame({"answer": [f"It is {i}." for i in range(n)]})


def judged(server: JudgeServer, cache: Path, **kw: Any) -> wb.Run:
    kw = {"model": server.model, **server.litellm_kwargs, "cache_dir": cache, "progress": False, **kw}
    return wb.evaluate(frame(), suite(), save=False, **kw)


def test_keywords_build_the_same_config_as_given_whole() -> None:
    built = wb.JudgeConfig.build(
        model="openai/m", concurrency=4, temperature=0.2, seed=7, api_base="http://x"
    )
    whole = wb.JudgeConfig(
        model="openai/m",
        concurrency=4,
        params={"temperature": 0.2, "seed": 7},
        connection={"api_base": "http://x"},
    )
    assert built == whole
    assert wb.JudgeConfig.build(whole, concurrency=2).concurrency == 2  # keywords win over judge=


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"tranport": "litellm"}, "unknown judge option 'tranport'; did you mean 'transport'?"),
        ({"concurency": 3}, "unknown judge option 'concurency'; did you mean 'concurrency'?"),
        ({"top_k": 40}, "Provider-specific request parameters go in extra={...}"),
        ({"concurrency": 0}, "judge option concurrency=0 is not allowed"),
        ({"max_retries": -1}, "judge option max_retries=-1 is not allowed"),
        ({"timeout": 0}, "judge option timeout=0 is not allowed"),
        ({"max_field_chars": 0}, "judge option max_field_chars=0 is not allowed"),
        ({"transport": "grpc"}, "judge option transport='grpc' is not allowed"),
        ({"params": {"temperature": 0}, "temperature": 0.5}, "given twice with different values"),
        ({"extra": {"temperature": 1}}, "are sampling parameters"),
        ({"params": {"api_key": "sk-x"}}, "say where and how a request travels"),
        ({"params": {"messages": []}}, "are set by workbench"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_options_are_refused_before_any_work(options: dict[str, Any], expected: str) -> None:
    with pytest.raises(wb.ConfigError, match=None) as caught:
        wb.evaluate(frame(), suite(), model="openai/m", save=False, **options)
    assert expected in str(caught.value)


def test_a_typo_never_reaches_the_request_body(judge_server: JudgeServer, tmp_path: Path) -> None:
    with pytest.raises(wb.ConfigError):
        judged(judge_server, tmp_path, tranport="x")
    assert judge_server.count == 0


def test_a_credential_in_a_bad_option_is_not_echoed() -> None:
    with pytest.raises(wb.ConfigError) as caught:
        wb.JudgeConfig(connection={"api_key": "sk-canary-123456", "temperature": 1})
    assert "sk-canary-123456" not in str(caught.value) and "temperature" in str(caught.value)


def test_sampling_keywords_are_sent_and_keyed(judge_server: JudgeServer, tmp_path: Path) -> None:
    judged(judge_server, tmp_path, temperature=1.3, max_tokens=700, seed=5, extra={"top_k": 3})
    sent = judge_server.requests[0]
    assert (sent["temperature"], sent["max_tokens"], sent["seed"], sent["top_k"]) == (1.3, 700, 5, 3)
    assert judge_server.count == 20
    judged(judge_server, tmp_path, temperature=1.3, max_tokens=700, seed=5, extra={"top_k": 3})
    assert judge_server.count == 20  # the same request: all cached


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 1.3},
        {"max_tokens": 7},
        {"seed": 3},
        {"params": {"temperature": 0.5}},
        {"extra": {"top_k": 2}},
    ],
    ids=str,
)
def test_a_run_with_other_sampling_never_reuses_a_verdict(
    judge_server: JudgeServer, tmp_path: Path, change: dict[str, Any]
) -> None:
    judged(judge_server, tmp_path, **change)
    assert judge_server.count == 20
    default = judged(judge_server, tmp_path)
    assert judge_server.count == 40  # counted at the server: nothing made at another setting was reused
    assert not default.results["cached"].any()
    judged(judge_server, tmp_path, **change)
    assert judge_server.count == 40  # and each setting keeps its own verdicts


def test_the_saved_config_rebuilds_the_same_cache_keys(judge_server: JudgeServer, tmp_path: Path) -> None:
    store = tmp_path / "store"
    run = judged(
        judge_server,
        tmp_path / "cache",
        temperature=0.4,
        seed=9,
        extra={"top_k": 3},
        api_key="sk-never-stored",
    )
    run.save(store=store)
    loaded = wb.load_run(run.id, store=store)
    config = wb.JudgeConfig.from_params(loaded.params)
    assert config.params == {"temperature": 0.4, "seed": 9} and config.extra == {"top_k": 3}
    assert config.connection == {} and "sk-never-stored" not in str(loaded.params)
    messages = [{"role": "user", "content": "x"}]
    original = wb.JudgeConfig.build(model=judge_server.model, temperature=0.4, seed=9, extra={"top_k": 3})
    assert LLM(judge_server.model, config).key(messages, None) == LLM(judge_server.model, original).key(
        messages, None
    )
    again = wb.evaluate(
        frame(), suite(), judge=config, save=False, progress=False, **judge_server.litellm_kwargs
    )
    assert judge_server.count == 20 and again.results["cached"].all()  # warm through the rebuilt config


def test_cache_keys_are_those_of_earlier_versions() -> None:
    """A cache written before JudgeConfig stays warm: the key of a default request is unchanged
    (this value was computed by workbench at commit 76792e7, before the change)."""
    messages = [{"role": "system", "content": "Judge."}, {"role": "user", "content": "Answer: 4"}]
    rf = {"type": "json_object"}
    config = wb.JudgeConfig.build(model="openai/gpt-4o-mini", api_base="http://h", api_key="sk-x")
    key = LLM("openai/gpt-4o-mini", config, use_cache=False).key(messages, rf)
    assert key == cache_key("openai/gpt-4o-mini", messages, {"temperature": 0}, rf)
    assert key == "3606604f16c2fe19ec9222081e59097290865141d6ffd43ce2b4c6d92741f8b4"


def test_the_local_server_is_called_over_the_lean_path_unless_litellm_is_forced(
    judge_server: JudgeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WORKBENCH_TRANSPORT", raising=False)
    judged(judge_server, tmp_path / "a", use_cache=False)
    lean = judge_server.requests[-20:]
    assert all(h["User-Agent"].startswith("workbench/") for h in judge_server.request_headers[-20:])
    judged(judge_server, tmp_path / "b", use_cache=False, transport="litellm")
    through_litellm = judge_server.requests[-20:]
    assert not any(h["User-Agent"].startswith("workbench/") for h in judge_server.request_headers[-20:])
    # the same cells carry the same messages, response_format and parameters either way
    assert sorted(lean, key=str) == sorted(through_litellm, key=str)
    monkeypatch.setenv("WORKBENCH_TRANSPORT", "litellm")  # the default can be set for a whole session
    assert wb.JudgeConfig().transport == "litellm"


@pytest.mark.parametrize(("first", "second"), [("auto", "litellm"), ("litellm", "auto")])
def test_a_run_through_one_transport_is_a_warm_rerun_through_the_other(
    judge_server: JudgeServer, tmp_path: Path, first: str, second: str
) -> None:
    cold = judged(judge_server, tmp_path, transport=first)
    assert judge_server.count == 20 and not cold.results["cached"].any()
    warm = judged(judge_server, tmp_path, transport=second)
    assert judge_server.count == 20 and warm.results["cached"].all()  # no request through the other
    assert warm.results["score"].tolist() == cold.results["score"].tolist()


def test_a_cache_url_with_a_password_is_refused_without_showing_it() -> None:
    with pytest.raises(wb.ConfigError) as caught:
        wb.JudgeConfig(cache="redis://:hunter22secret@127.0.0.1:6379/0")
    assert "hunter22secret" not in str(caught.value) and "WORKBENCH_CACHE_PASSWORD" in str(caught.value)
