"""The lean transport: route decisions by litellm's resolution, requests equal to litellm's at
the server, replies and classified errors; over real HTTP to the local judge server."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported: no fetch

import litellm
import pytest

from workbench import _pytest_plugin, judge
from workbench.errors import LeanConnectionError, LeanHTTPError
from workbench.llm import LeanClient, LeanReply, LeanRoute, build_body, lean_route, resolve_route
from workbench.specs import Criterion, JudgeTask
from workbench.testing import JudgeServer, Reply

litellm.suppress_debug_info = True
judge_server = _pytest_plugin.judge_server
judge_server_factory = _pytest_plugin.judge_server_factory

TASK = JudgeTask(
    id="quality",
    prompt="Question: ${question}\nAnswer: ${answer}",
    threshold=3,
    criteria=[
        Criterion(name="accuracy", description="The answer is correct."),
        Criterion(name="clarity", description="The answer is clear."),
    ],
)
ROW = {"question": "What is 2 + 2?", "answer": "It is 4."}
MESSAGES = judge.build_messages(TASK, TASK.criteria, ROW.__getitem__)
FORMAT = judge.response_format(TASK, TASK.criteria)
PARAMS: dict[str, Any] = {
    "temperature": 0.2,
    "max_tokens": 300,
    "seed": 7,
    "top_p": 0.9,
    "extra_body": {"top_k": 5, "repetition_penalty": 1.05},
}
SECRET = "sk-lean-test-0123456789abcdef"

# headers the OpenAI SDK (litellm's openai path) or httpx add that the lean path does not send:
# client identification and content negotiation, none of which an OpenAI-compatible server reads
SDK_ONLY_HEADERS = {
    "user-agent",
    "x-stainless-lang",
    "x-stainless-package-version",
    "x-stainless-os",
    "x-stainless-arch",
    "x-stainless-runtime",
    "x-stainless-runtime-version",
    "x-stainless-async",
    "x-stainless-retry-count",
    "x-stainless-read-timeout",
    "x-stainless-raw-response",
    "connection",
    "accept-encoding",
    "accept",
}


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys and base URLs from the developer's environment must not change a decision."""
    for name in list(os.environ):
        if name.endswith(("_API_KEY", "_API_BASE", "_BASE_URL")) or name in (
            "OPENAI_ORGANIZATION",
            "OPENAI_PROJECT_ID",
        ):
            monkeypatch.delenv(name)


def run(coro_fn: Callable[[], Any]) -> Any:
    return asyncio.run(coro_fn())


async def via_litellm(model: str, connection: Mapping[str, Any], params: Mapping[str, Any]) -> Any:
    return await litellm.acompletion(
        model=model,
        messages=[dict(m) for m in MESSAGES],
        response_format=FORMAT,
        max_retries=0,
        num_retries=0,
        **dict(params),
        **dict(connection),
    )


def via_lean(route: LeanRoute, response_format: Mapping[str, Any] | None = FORMAT) -> LeanReply:
    async def go() -> LeanReply:
        async with LeanClient(concurrency=2) as client:
            body = build_body(route.model_name, MESSAGES, response_format, route.params)
            return await client.chat(route, body, timeout=10)

    result: LeanReply = run(go)
    return result


def server_route(server: JudgeServer, **params: Any) -> LeanRoute:
    route = lean_route(server.model, server.litellm_kwargs, params=params or {"temperature": 0})
    assert route is not None
    return route


# -- the same request on both transports -------------------------------------------------------

ROUTED_TO_SERVER = [
    "openai/workbench-judge",
    "hosted_vllm/workbench-judge",
    "together_ai/workbench-judge",
    "deepseek/workbench-judge",
    "xai/workbench-judge",
]


@pytest.mark.parametrize("model", ROUTED_TO_SERVER)
def test_litellm_and_the_lean_path_send_the_same_request(judge_server: JudgeServer, model: str) -> None:
    connection = {"api_base": judge_server.url, "api_key": SECRET, "extra_headers": {"X-Team": "evals"}}
    route = lean_route(model, connection, params=PARAMS)
    assert route is not None, resolve_route(model, connection, params=PARAMS).reason

    answer = run(lambda: via_litellm(model, connection, PARAMS))
    reply = via_lean(route)

    sent_by_litellm, sent_lean = judge_server.requests
    # the whole body is equal: messages, response_format, every parameter (extra_body merged
    # into the top level by both); litellm sends no "stream": false either
    assert sent_lean == sent_by_litellm
    assert sent_lean["messages"] == MESSAGES and sent_lean["response_format"] == FORMAT
    assert {k: sent_lean[k] for k in ("temperature", "max_tokens", "seed", "top_p", "top_k")} == {
        "temperature": 0.2,
        "max_tokens": 300,
        "seed": 7,
        "top_p": 0.9,
        "top_k": 5,
    }
    litellm_headers, lean_headers = (
        {k.lower(): v for k, v in h.items()} for h in judge_server.request_headers
    )
    for name in ("authorization", "content-type", "x-team"):
        assert lean_headers[name] == litellm_headers[name], name
    assert lean_headers["authorization"] == f"Bearer {SECRET}"
    differing = {
        k for k in set(litellm_headers) | set(lean_headers) if litellm_headers.get(k) != lean_headers.get(k)
    }
    assert differing - {"content-length", "host"} <= SDK_ONLY_HEADERS
    # the same reply, read the same way
    assert reply.text == answer.choices[0].message.content
    assert (reply.prompt_tokens, reply.completion_tokens) == (
        answer.usage.prompt_tokens,
        answer.usage.completion_tokens,
    )
    assert reply.finish_reason == "stop" and reply.model == "workbench-judge"


def test_openai_organization_and_headers_kwarg_travel_like_litellms(judge_server: JudgeServer) -> None:
    connection = {
        "api_base": judge_server.url,
        "api_key": SECRET,
        "organization": "org-evals",
        "headers": {"X-Trace": "t-1"},
    }
    route = lean_route("openai/workbench-judge", connection, params={"temperature": 0})
    assert route is not None
    run(lambda: via_litellm("openai/workbench-judge", connection, {"temperature": 0}))
    via_lean(route)
    litellm_headers, lean_headers = (
        {k.lower(): v for k, v in h.items()} for h in judge_server.request_headers
    )
    assert lean_headers["openai-organization"] == litellm_headers["openai-organization"] == "org-evals"
    assert lean_headers["x-trace"] == litellm_headers["x-trace"] == "t-1"


def test_key_and_base_url_from_the_environment(
    judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", judge_server.url)
    route = lean_route("openai/workbench-judge", {}, params={"temperature": 0})
    assert route is not None
    assert route.url == judge_server.url + "/chat/completions"
    assert route.headers["Authorization"] == f"Bearer {SECRET}"
    assert via_lean(route).text


def test_hosted_vllm_key_from_its_own_variable(
    judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOSTED_VLLM_API_KEY", SECRET)
    route = lean_route("hosted_vllm/workbench-judge", {"api_base": judge_server.url})
    assert route is not None and route.headers["Authorization"] == f"Bearer {SECRET}"


def test_litellms_parameter_renames_are_kept_on_the_route() -> None:
    # gpt-5 models take max_completion_tokens: litellm renames max_tokens, and so does the route
    route = lean_route("openai/gpt-5-mini", {"api_key": SECRET}, params={"max_tokens": 50})
    assert route is not None
    assert dict(route.params) == {"max_completion_tokens": 50}
    body = build_body(route.model_name, MESSAGES, FORMAT, route.params)
    assert "max_tokens" not in body and body["max_completion_tokens"] == 50


def test_response_format_none_sends_no_field(judge_server: JudgeServer) -> None:
    route = server_route(judge_server)
    via_lean(route, response_format=None)
    assert "response_format" not in judge_server.requests[-1]


# -- which calls take the lean path (resolution only, no network) -------------------------------


@pytest.mark.parametrize(
    ("model", "connection", "provider"),
    [
        ("openai/my-judge", {"api_base": "http://127.0.0.1:8000/v1", "api_key": SECRET}, "openai"),
        ("gpt-4o-mini", {"api_key": SECRET}, "openai"),
        (
            "hosted_vllm/meta-llama/Llama-3.1-8B-Instruct",
            {"api_base": "http://127.0.0.1:8000/v1"},
            "hosted_vllm",
        ),
        ("together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo", {"api_key": SECRET}, "together_ai"),
        ("deepseek/deepseek-chat", {"api_key": SECRET}, "deepseek"),
        ("fireworks_ai/llama-v3p1-8b-instruct", {"api_key": SECRET}, "fireworks_ai"),
    ],
    ids=["openai-base-url", "openai-bare-name", "hosted_vllm", "together_ai", "deepseek", "fireworks_ai"],
)
def test_openai_compatible_endpoints_take_the_lean_path(
    model: str, connection: dict[str, Any], provider: str
) -> None:
    decision = resolve_route(model, connection, params={"temperature": 0})
    assert decision.route is not None, decision.reason
    assert decision.route.provider == provider
    assert decision.route.url.endswith("/chat/completions")
    assert not decision.route.model_name.startswith(provider + "/")  # sent without the prefix


def test_fireworks_model_name_is_litellms() -> None:
    route = lean_route("fireworks_ai/llama-v3p1-8b-instruct", {"api_key": SECRET})
    assert route is not None and route.model_name == "accounts/fireworks/models/llama-v3p1-8b-instruct"


@pytest.mark.parametrize(
    ("model", "connection", "reason"),
    [
        ("anthropic/claude-3-5-sonnet-20241022", {"api_key": SECRET}, "through its own handler"),
        (
            "azure/my-deployment",
            {"api_base": "https://example.openai.azure.com", "api_version": "2024-06-01", "api_key": SECRET},
            "through its own handler",
        ),
        ("bedrock/anthropic.claude-3-sonnet-20240229-v1:0", {}, "through its own handler"),
        ("vertex_ai/gemini-1.5-flash", {}, "through its own handler"),
        ("gemini/gemini-1.5-flash", {"api_key": SECRET}, "through its own handler"),
        ("mistral/mistral-small-latest", {"api_key": SECRET}, "through its own handler"),
        # groq is OpenAI-compatible, but litellm turns response_format into a forced tool call
        ("groq/llama-3.1-8b-instant", {"api_key": SECRET}, "rewrites the request"),
        # o-series: litellm refuses temperature=0
        ("openai/o3-mini", {"api_key": SECRET}, "would not send this call"),
        ("not-a-provider/some-model", {}, "cannot resolve"),
        ("github_copilot/gpt-4o", {}, "signs in interactively"),
    ],
    ids=[
        "anthropic",
        "azure",
        "bedrock",
        "vertex",
        "gemini",
        "mistral",
        "groq",
        "o3-temperature",
        "unknown",
        "copilot",
    ],
)
def test_everything_else_stays_on_litellm(model: str, connection: dict[str, Any], reason: str) -> None:
    decision = resolve_route(model, connection, params={"temperature": 0})
    assert decision.route is None
    assert reason in decision.reason
    assert SECRET not in decision.reason


def test_o_series_system_prompt_rewrite_keeps_litellm() -> None:
    # without temperature litellm accepts o3-mini, but sends the system prompt as a user message
    decision = resolve_route("openai/o3-mini", {"api_key": SECRET}, params={"max_tokens": 50})
    assert decision.route is None and "changes 'messages'" in decision.reason


def test_openai_without_any_key_stays_on_litellm() -> None:
    decision = resolve_route("openai/gpt-4o-mini", {})
    assert decision.route is None and "OPENAI_API_KEY" in decision.reason


# -- replies and errors ----------------------------------------------------------------------------


def chat(route: LeanRoute, timeout: float = 10, concurrency: int = 2) -> LeanReply:
    async def go() -> LeanReply:
        async with LeanClient(concurrency=concurrency) as client:
            return await client.chat(
                route, build_body(route.model_name, MESSAGES, FORMAT, route.params), timeout
            )

    result: LeanReply = run(go)
    return result


def test_429_carries_retry_after(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(rate_429=1.0, retry_after_s=2)
    with pytest.raises(LeanHTTPError) as e:
        chat(server_route(server))
    assert e.value.status == 429 and e.value.retry_after == 2.0 and e.value.retryable
    assert "Rate limit reached" in e.value.message and "rate_limit_error" in e.value.message


def test_retry_after_ms_wins(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(
        script=[Reply(status=429, headers={"retry-after-ms": "1500", "Retry-After": "9"})]
    )
    with pytest.raises(LeanHTTPError) as e:
        chat(server_route(server))
    assert e.value.retry_after == 1.5


def test_500_is_retryable_with_the_providers_message(
    judge_server_factory: Callable[..., JudgeServer],
) -> None:
    server = judge_server_factory(rate_500=1.0)
    with pytest.raises(LeanHTTPError) as e:
        chat(server_route(server))
    assert e.value.status == 500 and e.value.retryable and e.value.retry_after is None
    assert str(e.value).startswith(f"HTTP 500 from {server.url}/chat/completions: The server had an error")


def test_malformed_200_is_a_retryable_error_quoting_the_body(
    judge_server_factory: Callable[..., JudgeServer],
) -> None:
    server = judge_server_factory(rate_malformed=1.0)
    with pytest.raises(LeanHTTPError) as e:
        chat(server_route(server))
    assert e.value.status == 200 and e.value.retryable
    assert "not a chat completion" in e.value.message and "chatcmpl-malformed" in e.value.message


@pytest.mark.parametrize(
    "body",
    [{"id": "x", "object": "chat.completion", "choices": []}, {"result": "ok"}, "null"],
    ids=["no-choices", "other-json", "json-null"],
)
def test_200_that_is_not_a_chat_completion(
    judge_server_factory: Callable[..., JudgeServer], body: Any
) -> None:
    server = judge_server_factory(script=[Reply(body=body)])
    with pytest.raises(LeanHTTPError, match="not a chat completion"):
        chat(server_route(server))


def test_200_with_an_error_object_gives_the_error(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(
        script=[Reply(body={"error": {"message": "upstream overloaded", "type": "server_error"}})]
    )
    with pytest.raises(LeanHTTPError, match="upstream overloaded"):
        chat(server_route(server))


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_not_retryable(
    judge_server_factory: Callable[..., JudgeServer], status: int
) -> None:
    server = judge_server_factory(script=[Reply(status=status, content=f"scripted {status}")])
    with pytest.raises(LeanHTTPError) as e:
        chat(server_route(server))
    assert e.value.status == status and not e.value.retryable and f"scripted {status}" in e.value.message


def test_401_echoing_the_key_is_scrubbed(judge_server_factory: Callable[..., JudgeServer]) -> None:
    message = f"Incorrect API key provided: {SECRET}. Find your key in your account settings."
    error = {"error": {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}}
    server = judge_server_factory(script=[Reply(status=401, body=error)])
    route = lean_route(server.model, {"api_base": server.url, "api_key": SECRET})
    assert route is not None
    with pytest.raises(LeanHTTPError) as e:
        chat(route)
    assert SECRET not in str(e.value) and "[redacted]" in e.value.message
    assert "invalid_api_key" in e.value.message and not e.value.retryable


def test_non_json_error_body_is_quoted(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(script=[Reply(status=502, body="<html>502 Bad Gateway</html>")])
    with pytest.raises(LeanHTTPError) as e:
        chat(server_route(server))
    assert e.value.status == 502 and e.value.retryable and "502 Bad Gateway" in e.value.message


def test_timeout_raises_asyncio_timeout_before_the_server_answers(
    judge_server_factory: Callable[..., JudgeServer],
) -> None:
    server = judge_server_factory(rate_timeout=1.0, timeout_s=3)
    start = time.perf_counter()
    with pytest.raises(asyncio.TimeoutError, match=r"within 0\.3 s"):
        chat(server_route(server), timeout=0.3)
    assert time.perf_counter() - start < 2
    deadline = time.time() + 3
    while server.stats()["cancelled"] < 1 and time.time() < deadline:  # the handler sees the disconnect
        time.sleep(0.02)
    assert server.stats()["cancelled"] == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_connection_refused_is_a_connection_error_without_the_key() -> None:
    base = f"http://127.0.0.1:{free_port()}/v1"
    route = lean_route("openai/workbench-judge", {"api_base": base, "api_key": SECRET})
    assert route is not None
    with pytest.raises(LeanConnectionError) as e:
        chat(route)
    assert isinstance(e.value, ConnectionError)
    assert f"connection to {base}/chat/completions failed" in str(e.value) and SECRET not in str(e.value)


def test_refusal_has_no_text(judge_server_factory: Callable[..., JudgeServer]) -> None:
    completion = {
        "id": "c",
        "object": "chat.completion",
        "model": "workbench-judge",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": None, "refusal": "No."},
            }
        ],
    }
    server = judge_server_factory(script=[Reply(body=completion)])
    reply = chat(server_route(server))
    assert reply.text is None and reply.refusal == "No." and reply.prompt_tokens is None


def test_length_finish_reason(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(script=[Reply(content='{"accuracy": {"sc', finish_reason="length")])
    reply = chat(server_route(server))
    assert reply.finish_reason == "length" and reply.text == '{"accuracy": {"sc'


# -- sessions, pool, secrets --------------------------------------------------------------------


def test_pool_holds_at_most_concurrency_requests(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(latency_ms=30)
    route = server_route(server)

    async def go() -> list[LeanReply]:
        async with LeanClient(concurrency=3) as client:
            body = build_body(route.model_name, MESSAGES, FORMAT, route.params)
            return await asyncio.gather(*(client.chat(route, body, 10) for _ in range(12)))

    replies = run(go)
    assert len(replies) == 12 and all(r.text for r in replies)
    assert server.stats()["max_in_flight"] == 3


def test_one_client_serves_two_loops_in_two_threads(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(latency_ms=20)
    route = server_route(server)
    client = LeanClient(concurrency=4)
    results: dict[str, Any] = {}

    async def calls(name: str) -> None:
        body = build_body(route.model_name, [{"role": "user", "content": name}], None, route.params)
        results[name] = await asyncio.gather(*(client.chat(route, body, 10) for _ in range(4)))

    def worker(name: str) -> None:
        try:
            asyncio.run(calls(name))
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            results[name] = e

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(isinstance(results[n], list) and len(results[n]) == 4 for n in ("a", "b")), results
    assert "open sessions=0" in repr(client)  # each loop closed its own session as it ended
    client.close()


def test_a_new_loop_after_an_ended_one_works_and_reports_no_unclosed_session(
    judge_server: JudgeServer, caplog: pytest.LogCaptureFixture
) -> None:
    route = server_route(judge_server)
    client = LeanClient(concurrency=2)
    body = build_body(route.model_name, MESSAGES, FORMAT, route.params)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.ERROR, logger="asyncio"):
        warnings.simplefilter("always")
        for _ in range(3):  # each evaluate of a notebook runs on a fresh loop
            assert asyncio.run(client.chat(route, body, 10)).text
        client.close()
        import gc

        gc.collect()
    ours = [
        w for w in caught if "unclosed" in str(w.message).lower() and str(judge_server.port) in str(w.message)
    ]
    assert not ours  # the sockets to this server were closed, none left for the garbage collector
    assert "Unclosed" not in caplog.text
    assert "open sessions=0" in repr(client)


def test_calls_on_one_loop_share_one_session(judge_server: JudgeServer) -> None:
    route = server_route(judge_server)
    client = LeanClient(concurrency=2)
    body = build_body(route.model_name, MESSAGES, FORMAT, route.params)

    async def go() -> tuple[str, str]:
        for _ in range(3):
            await client.chat(route, body, 10)
        during = repr(client)
        await client.aclose()
        return during, repr(client)

    assert asyncio.run(go()) == (
        "<LeanClient concurrency=2 open sessions=1>",
        "<LeanClient concurrency=2 open sessions=0>",
    )


def test_reprs_never_show_the_key() -> None:
    connection = {
        "api_base": "http://127.0.0.1:8000/v1",
        "api_key": SECRET,
        "extra_headers": {"X-Api-Token": "tok-0987654321"},
    }
    decision = resolve_route("openai/workbench-judge", connection)
    assert decision.route is not None
    assert decision.route.headers["Authorization"] == f"Bearer {SECRET}"
    for text in (repr(decision), repr(decision.route), str(decision.route)):
        assert SECRET not in text and "tok-0987654321" not in text
        assert "Authorization" in text  # the header names are shown, the values are not
    assert decision.route.scrub(f"echo {SECRET} tok-0987654321") == "echo [redacted] [redacted]"


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LeanClient(concurrency=0)


def test_build_body_drops_unset_params_and_merges_extra_body() -> None:
    body = build_body("m", MESSAGES, FORMAT, {"temperature": 0, "seed": None, "extra_body": {"top_k": 2}})
    assert body == {
        "model": "m",
        "messages": MESSAGES,
        "temperature": 0,
        "response_format": FORMAT,
        "top_k": 2,
    }


def test_close_from_sync_code_closes_an_idle_loops_session(judge_server: JudgeServer) -> None:
    route = server_route(judge_server)
    client = LeanClient(concurrency=2)
    body = build_body(route.model_name, MESSAGES, FORMAT, route.params)
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(client.chat(route, body, 10)).text
        assert "open sessions=1" in repr(client)
        client.close()  # the loop is idle and still open: the session is closed on it
        assert "open sessions=0" in repr(client)
        assert loop.run_until_complete(client.chat(route, body, 10)).text  # and reopens on demand
    finally:
        client.close()
        loop.close()


def test_proxy_from_the_environment_like_litellm(
    judge_server: JudgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the endpoint is a closed port; the judge server stands in for a forward proxy (it answers
    # the absolute-form request), so a reply proves the request went through the proxy
    connection = {"api_base": f"http://127.0.0.1:{free_port()}/v1", "api_key": SECRET}
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{judge_server.port}")
    route = lean_route("openai/workbench-judge", connection)
    assert route is not None
    assert via_lean(route).text
    run(lambda: via_litellm("openai/workbench-judge", connection, {"temperature": 0}))
    assert judge_server.count == 2  # litellm went through the proxy as well
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    bypassing = lean_route("openai/workbench-judge", connection)
    assert bypassing is not None
    with pytest.raises(LeanConnectionError):  # straight to the closed port
        chat(bypassing)


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_litellm_transport_does_not_retry_client_errors_either(
    judge_server_factory: Callable[..., JudgeServer], status: int
) -> None:
    from workbench.llm import LLM

    server = judge_server_factory(script=[Reply(status=status, content=f"scripted {status}")] * 3)
    llm = LLM(server.model, cache_dir=False, max_retries=2, backoff_s=0.01, **server.litellm_kwargs)
    completion = run(lambda: llm.complete([{"role": "user", "content": "hi"}]))
    assert server.count == 1 and completion.attempts == 1
    assert completion.error is not None and f"scripted {status}" in completion.error


def test_redirects_are_not_followed(judge_server_factory: Callable[..., JudgeServer]) -> None:
    elsewhere = f"http://127.0.0.1:{free_port()}/v1/chat/completions"
    server = judge_server_factory(
        script=[Reply(status=307, headers={"Location": elsewhere}, content="moved")]
    )
    with pytest.raises(LeanHTTPError) as e:
        chat(server_route(server))
    assert e.value.status == 307 and not e.value.retryable and server.count == 1


def test_routes_resolve_inside_a_running_loop(judge_server: JudgeServer) -> None:
    async def resolve() -> LeanRoute | None:  # evaluate_async resolves its route on the loop
        return lean_route(judge_server.model, judge_server.litellm_kwargs)

    route = asyncio.run(resolve())
    assert route is not None and route.url == judge_server.url + "/chat/completions"


def test_transport_settings_in_the_connection_do_not_change_the_decision() -> None:
    connection = {
        "api_base": "http://127.0.0.1:8000/v1",
        "api_key": SECRET,
        "timeout": 30,
        "max_retries": 3,
        "num_retries": 2,
    }
    route = lean_route("openai/workbench-judge", connection, params={"temperature": 0})
    assert route is not None and dict(route.params) == {"temperature": 0}


def test_a_reply_that_is_not_http_is_a_connection_error() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_garbage() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")

    thread = threading.Thread(target=answer_garbage, daemon=True)
    thread.start()
    try:
        route = lean_route(
            "openai/workbench-judge", {"api_base": f"http://127.0.0.1:{port}/v1", "api_key": SECRET}
        )
        assert route is not None
        with pytest.raises(LeanConnectionError, match="failed") as e:
            chat(route)
        assert SECRET not in str(e.value)
    finally:
        thread.join(5)
        listener.close()
