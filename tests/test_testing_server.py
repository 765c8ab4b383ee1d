"""workbench.testing.JudgeServer: schema-following and scripted replies, faults, counters,
lifecycle; through real HTTP, with litellm for the main paths."""

from __future__ import annotations

import asyncio
import enum
import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported: no fetch

import aiohttp
import httpx
import jsonschema
import litellm
import pytest
from pydantic import BaseModel, Field, conint

from workbench import _pytest_plugin
from workbench.testing import JudgeServer, Reply, ServerOptions
from workbench.testing._schema import Rng, generator

litellm.suppress_debug_info = True
judge_server = _pytest_plugin.judge_server  # the plugin's fixtures, before its entry point is installed
judge_server_factory = _pytest_plugin.judge_server_factory

MESSAGES = [{"role": "system", "content": "You are a judge."}, {"role": "user", "content": "Rate: Paris."}]


# -- pydantic models whose schemas the server must follow ---------------------------


class Verdict(BaseModel):
    score: int = Field(ge=1, le=5)
    label: Literal["pass", "fail"]
    reason: str


class Criterion(BaseModel):
    name: str = Field(min_length=3, max_length=8)
    score: conint(ge=1, le=10)  # type: ignore[valid-type]
    confidence: float = Field(gt=0, lt=1)
    passed: bool


class Severity(str, enum.Enum):
    low = "low"
    high = "high"


class Rubric(BaseModel):
    criteria: list[Criterion] = Field(min_length=2)
    overall: float = Field(ge=0, le=1, description="weighted overall")
    severity: Severity
    note: str | None = None
    tags: list[Literal["a", "b", "c"]] = Field(default_factory=list, max_length=3)


class Tree(BaseModel):
    value: int = Field(multiple_of=3, gt=0, le=30)
    children: list[Tree] = []
    parent: Tree | None = Field(default=None, description="recursive and nullable")


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int = Field(ge=1, le=9)


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Pet(BaseModel):
    pet: Annotated[Cat | Dog, Field(discriminator="kind")]
    other: int | str | None
    extra: dict[str, int]


MODELS = [Verdict, Rubric, Tree, Pet]


def response_format(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {"type": "json_schema", "json_schema": {"name": model.__name__, "schema": schema, "strict": False}}


def ask(server: JudgeServer, **kwargs: Any) -> Any:
    """One litellm call to ``server`` (no SDK retries), run to completion."""
    kwargs.setdefault("messages", MESSAGES)
    return asyncio.run(
        litellm.acompletion(model=server.model, max_retries=0, **server.litellm_kwargs, **kwargs)
    )


HTTP = httpx.Client(timeout=10, trust_env=False)  # one client: a new one per call costs ~20 ms


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Any:
    yield
    HTTP.close()


def post(server: JudgeServer, body: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
    return HTTP.post(
        server.url + "/chat/completions", json=body or {"model": "m", "messages": MESSAGES}, **kwargs
    )


def content(response: httpx.Response) -> str:
    return response.json()["choices"][0]["message"]["content"]


# -- schema-following --------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
def test_generated_content_validates_against_pydantic_schemas(
    judge_server: JudgeServer, model: type[BaseModel]
) -> None:
    for i in range(5):
        r = ask(
            judge_server,
            messages=[{"role": "user", "content": f"row {i}"}],
            response_format=response_format(model),
        )
        value = json.loads(r.choices[0].message.content)
        jsonschema.validate(value, model.model_json_schema())
        model.model_validate(value)


def test_pydantic_class_as_response_format_through_litellm(judge_server: JudgeServer) -> None:
    # litellm turns the class into a strict json_schema (all properties required)
    r = ask(judge_server, response_format=Rubric)
    assert judge_server.requests[-1]["response_format"]["type"] == "json_schema"
    Rubric.model_validate_json(r.choices[0].message.content)
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_properties_keep_the_schema_order(judge_server: JudgeServer) -> None:
    value = json.loads(ask(judge_server, response_format=response_format(Verdict)).choices[0].message.content)
    assert list(value) == ["score", "label", "reason"]


def test_many_seeds_stay_valid_for_every_model() -> None:
    for model in MODELS:
        schema = model.model_json_schema()
        gen = generator(json.dumps(schema, sort_keys=True).encode(), schema)
        validator = jsonschema.Draft202012Validator(schema)
        for seed in range(200):
            validator.validate(gen(Rng(seed), 0))


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 3},
        {"type": "integer", "minimum": 1, "exclusiveMinimum": True, "maximum": 2},  # draft 4 flags
        {"type": "number", "exclusiveMinimum": 0.5, "maximum": 0.5000001},
        {"type": "number", "multipleOf": 0.25, "minimum": 1, "maximum": 2},
        {"type": "integer", "minimum": 100},
        {"type": "string", "minLength": 40},
        {"type": "string", "maxLength": 5},
        {"type": "string", "format": "date-time"},
        {"type": "array", "items": {"enum": [1, 2, 3]}, "minItems": 3, "uniqueItems": True},
        {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}], "items": False},
        {"type": ["string", "null"]},
        {"const": "fixed"},
        {
            "allOf": [{"$ref": "#/$defs/A"}, {"required": ["b"], "properties": {"b": {"type": "null"}}}],
            "$defs": {
                "A": {
                    "type": "object",
                    "properties": {"a": {"type": "integer", "maximum": -5}},
                    "required": ["a"],
                }
            },
        },
        {"type": "object", "required": ["x"], "additionalProperties": {"type": "boolean"}},
    ],
    ids=[
        "excl-int",
        "draft4-excl",
        "excl-num-narrow",
        "multipleOf",
        "min-only",
        "minLength",
        "maxLength",
        "date-time",
        "uniqueItems",
        "prefixItems",
        "type-list",
        "const",
        "allOf-ref",
        "additional",
    ],
)
def test_generated_values_respect_keywords(schema: dict[str, Any]) -> None:
    gen = generator(json.dumps(schema, sort_keys=True).encode(), schema)
    checker = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    if "exclusiveMinimum" in schema and schema["exclusiveMinimum"] is True:
        checker = jsonschema.Draft4Validator(schema)
    for seed in range(50):
        checker.validate(gen(Rng(seed), 0))


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"$ref": "other.json#/A"}, "only local $ref are supported, not 'other.json#/A'"),
        (
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/Nope"}}},
            "$ref '#/$defs/Nope' points to nothing",
        ),
        ({"type": "array", "items": [1]}, "expected a schema object, got 1"),
    ],
    ids=["remote-ref", "dangling-ref", "not-a-schema"],
)
def test_schemas_it_cannot_follow_answer_400(judge_server: JudgeServer, schema: Any, problem: str) -> None:
    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    r = post(judge_server, {"model": "m", "messages": MESSAGES, "response_format": rf})
    assert r.status_code == 400
    assert (
        r.json()["error"]["message"]
        == f"workbench.testing: Cannot generate a value for the response_format schema: {problem}"
    )
    assert judge_server.errors == [r.json()["error"]["message"].removeprefix("workbench.testing: ")]


def test_same_request_gives_the_same_content_and_messages_change_it(judge_server: JudgeServer) -> None:
    rf = response_format(Rubric)
    first = ask(judge_server, response_format=rf).choices[0].message.content
    assert ask(judge_server, response_format=rf).choices[0].message.content == first
    others = {
        ask(judge_server, messages=[{"role": "user", "content": f"row {i}"}], response_format=rf)
        .choices[0]
        .message.content
        for i in range(5)
    }
    assert len(others) == 5


def test_the_seed_changes_content(judge_server_factory: Callable[..., JudgeServer]) -> None:
    a, b = judge_server_factory(seed=1), judge_server_factory(seed=2)
    body = {"model": "m", "messages": MESSAGES, "response_format": response_format(Rubric)}
    assert content(post(a, body)) != content(post(b, body))
    assert content(post(a, body)) == content(post(judge_server_factory(seed=1), body))


class Scored(BaseModel):
    """One criterion's verdict as a judge's schema has it."""

    reason: str
    score: int = Field(ge=1, le=5)


def test_score_weights_shape_generated_scores_and_keep_them_deterministic(
    judge_server_factory: Callable[..., JudgeServer],
) -> None:
    lenient = judge_server_factory(score_weights={5: 6, 4: 3, 1: 1, 9: 100})  # 9 is outside 1..5
    uniform = judge_server_factory()
    scores: dict[str, list[int]] = {"lenient": [], "uniform": []}
    for i in range(400):
        body = {
            "model": "m",
            "messages": [{"role": "user", "content": f"row {i}"}],
            "response_format": response_format(Scored),
        }
        for name, server in (("lenient", lenient), ("uniform", uniform)):
            verdict = json.loads(content(post(server, body)))
            scores[name].append(verdict["score"])
            assert set(verdict) == {"reason", "score"}
    counts = {s: scores["lenient"].count(s) for s in range(1, 6)}
    assert counts[2] == counts[3] == 0 and set(scores["lenient"]) == {1, 4, 5}
    # 400 draws: each share within about 4 standard errors of its weight
    assert (
        abs(counts[5] / 400 - 0.6) < 0.1
        and abs(counts[4] / 400 - 0.3) < 0.1
        and abs(counts[1] / 400 - 0.1) < 0.06
    )
    assert set(scores["uniform"]) == {1, 2, 3, 4, 5}  # without weights: every score in the range
    again = [json.loads(content(post(lenient, body)))["score"] for _ in range(3)]
    assert again == [scores["lenient"][-1]] * 3  # still from the request's hash
    plain = judge_server_factory(score_weights={2: 1})
    assert {json.loads(content(post(plain, {"model": "m", "messages": MESSAGES})))["score"]} == {2}


@pytest.mark.parametrize("rf", [None, {"type": "json_object"}], ids=["none", "json_object"])
def test_without_a_schema_the_reply_is_a_small_json_verdict(judge_server: JudgeServer, rf: Any) -> None:
    value = json.loads(ask(judge_server, response_format=rf).choices[0].message.content)
    assert set(value) == {"score", "label", "reason"}
    assert 1 <= value["score"] <= 5 and value["label"] == ("pass" if value["score"] >= 3 else "fail")


# -- scripted --------------------------------------------------------------------


def test_script_function_gets_the_request_and_returns_str_dict_or_none(
    judge_server_factory: Callable[..., JudgeServer],
) -> None:
    def script(request: dict[str, Any]) -> Any:
        text = request["messages"][-1]["content"]
        return {"echo": text} if text == "dict" else None if text == "none" else f"seen {text}"

    server = judge_server_factory(script=script)
    say = lambda text: ask(server, messages=[{"role": "user", "content": text}]).choices[0].message.content
    assert say("hello") == "seen hello"
    assert json.loads(say("dict")) == {"echo": "dict"}
    assert set(json.loads(say("none"))) == {"score", "label", "reason"}


def test_script_list_is_consumed_in_order_then_answers_500(
    judge_server_factory: Callable[..., JudgeServer],
) -> None:
    server = judge_server_factory(script=["one", {"score": 2}, Reply(content="", finish_reason="length")])
    assert ask(server).choices[0].message.content == "one"
    assert json.loads(ask(server).choices[0].message.content) == {"score": 2}
    last = ask(server)
    assert last.choices[0].message.content in ("", None) and last.choices[0].finish_reason == "length"
    r = post(server)
    assert r.status_code == 500 and "exhausted: all 3 were used" in r.json()["error"]["message"]
    assert server.errors == [r.json()["error"]["message"].removeprefix("workbench.testing: ")]
    server.reset()
    assert content(post(server)) == "one" and server.errors == []


def test_script_cycle_repeats(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(script=itertools.cycle(["a", "b"]))
    assert [content(post(server)) for _ in range(5)] == ["a", "b", "a", "b", "a"]


def test_scripted_429_with_retry_after_reaches_litellm(
    judge_server_factory: Callable[..., JudgeServer],
) -> None:
    server = judge_server_factory(
        script=[Reply(status=429, headers={"Retry-After": "7"}, content="slow down")] * 2
    )
    r = post(server)
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert r.json()["error"]["message"] == "slow down"
    with pytest.raises(litellm.RateLimitError, match="slow down"):
        ask(server)


def test_scripted_raw_body_is_sent_verbatim(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(script=[Reply(body='{"choices": [tru'), Reply(status=503, body=b"down")])
    r = post(server)
    assert r.status_code == 200 and r.text == '{"choices": [tru'
    r = post(server)
    assert r.status_code == 503 and r.content == b"down"


def test_script_errors_answer_500_and_are_recorded(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(script=lambda request: 1 / 0)
    r = post(server)
    assert r.status_code == 500 and server.errors == ["The script raised ZeroDivisionError: division by zero"]
    server.set(script=lambda request: 42)
    assert post(server).status_code == 500
    assert server.errors[-1] == "The script gave a int; expected str, dict, Reply or None."


def test_reply_rejects_content_and_body_together() -> None:
    with pytest.raises(ValueError, match="content or body, not both"):
        Reply(content="x", body="y")


# -- faults ------------------------------------------------------------------------


def test_injected_429_has_retry_after_and_litellm_raises_rate_limit(
    judge_server_factory: Callable[..., JudgeServer],
) -> None:
    server = judge_server_factory(rate_429=1.0)
    r = post(server)
    assert r.status_code == 429 and r.headers["Retry-After"] == "0"
    assert r.json()["error"]["type"] == "rate_limit_error"
    with pytest.raises(litellm.RateLimitError):
        ask(server)
    server.set(retry_after_s=2.5)
    assert post(server).headers["Retry-After"] == "2.5"
    assert server.stats()["faults"]["429"] == 3


def test_injected_500_has_an_openai_error_body(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(rate_500=1.0)
    r = post(server)
    assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
    with pytest.raises(litellm.InternalServerError):
        ask(server)


def test_malformed_body_is_200_and_not_json(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(rate_malformed=1.0)
    r = post(server)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    with pytest.raises(litellm.InternalServerError, match="Unterminated string"):  # litellm's mapping
        ask(server)


def test_timeout_fault_makes_the_client_time_out(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(rate_timeout=1.0, timeout_s=2)
    start = time.perf_counter()
    with pytest.raises(litellm.Timeout):
        ask(server, timeout=0.5)
    assert time.perf_counter() - start < 1.9  # before the server's own answer at timeout_s
    deadline = time.time() + 2
    while server.stats()["cancelled"] < 1 and time.time() < deadline:  # the handler stops on disconnect
        time.sleep(0.02)
    assert server.stats()["cancelled"] == 1 and server.stats()["in_flight"] == 0


def test_timeout_fault_answers_504_after_timeout_s(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(rate_timeout=1.0, timeout_s=0.2)
    assert post(server).status_code == 504


def statuses(server: JudgeServer, n: int) -> list[int]:
    return [post(server).status_code for _ in range(n)]


def test_faults_are_reproducible_for_a_seed(judge_server_factory: Callable[..., JudgeServer]) -> None:
    options = {"rate_429": 0.3, "rate_500": 0.2, "rate_malformed": 0.1}
    a = statuses(judge_server_factory(seed=7, **options), 60)
    assert statuses(judge_server_factory(seed=7, **options), 60) == a
    assert statuses(judge_server_factory(seed=8, **options), 60) != a
    assert {429, 500, 200} <= set(a)


def test_faults_do_not_consume_scripted_replies(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(script=["a", "b", "c"], rate_500=0.5, seed=3)
    ok = [content(r) for r in (post(server) for _ in range(12)) if r.status_code == 200]
    assert ok[:3] == ["a", "b", "c"]


def test_latency_and_jitter_delay_replies(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(latency_ms=100, jitter_ms=50)
    start = time.perf_counter()
    post(server)
    assert 0.045 < time.perf_counter() - start < 1.0
    server.set(script=[Reply(content="late", delay_ms=250)])
    start = time.perf_counter()
    assert content(post(server)) == "late" and time.perf_counter() - start >= 0.24


# -- counters, set, options ---------------------------------------------------------


def test_counters_and_reset(judge_server: JudgeServer) -> None:
    for i in range(3):
        ask(judge_server, messages=[{"role": "user", "content": f"n{i}"}])
    assert HTTP.post(judge_server.url + "/chat/completions", content=b"{nope").status_code == 400
    assert post(judge_server, {"model": "m", "messages": MESSAGES, "stream": True}).status_code == 400
    assert judge_server.count == 5
    stats = judge_server.stats()
    assert stats["requests"] == 5 and stats["by_status"] == {200: 3, 400: 2}
    assert stats["in_flight"] == 0 and stats["faults"] == {"429": 0, "500": 0, "timeout": 0, "malformed": 0}
    assert [r["messages"][-1]["content"] for r in judge_server.requests[:3]] == ["n0", "n1", "n2"]
    judge_server.reset()
    assert judge_server.count == 0 and judge_server.requests == [] and judge_server.stats()["by_status"] == {}


def test_stream_is_refused_with_a_clear_message(judge_server: JudgeServer) -> None:
    r = post(judge_server, {"model": "m", "messages": MESSAGES, "stream": True})
    assert "does not stream" in r.json()["error"]["message"]


def test_set_changes_behaviour_while_running(judge_server: JudgeServer) -> None:
    assert post(judge_server).status_code == 200
    judge_server.set(rate_500=1.0)
    assert post(judge_server).status_code == 500
    judge_server.set(rate_500=0.0, script=["scripted"])
    assert content(post(judge_server)) == "scripted"
    assert judge_server.options.rate_500 == 0.0


def test_request_log_keeps_the_latest(judge_server_factory: Callable[..., JudgeServer]) -> None:
    server = judge_server_factory(request_log_size=2)
    for i in range(4):
        post(server, {"model": "m", "messages": [{"role": "user", "content": str(i)}]})
    assert [r["messages"][0]["content"] for r in server.requests] == ["2", "3"] and server.count == 4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate_492": 0.1}, "Unknown JudgeServer option 'rate_492'; did you mean 'rate_429'?"),
        ({"rate_429": 1.5}, "rate_429=1.5 is not in [0, 1]"),
        ({"rate_429": 0.6, "rate_500": 0.6}, "the fault rates sum to 1.2, more than 1"),
        ({"timeout_s": 0}, "timeout_s=0 is not in (0, 600]"),
        ({"script": "PASS"}, "script is a single reply; pass a list of replies or a function"),
        ({"score_weights": {"5": 1}}, "score_weights key '5' is not an integer score"),
        ({"score_weights": {5: -1}}, "score_weights[5]=-1 is not a finite weight >= 0"),
        ({"score_weights": {5: 0}}, "score_weights gives every score weight 0"),
        ({"score_weights": [5, 4]}, "score_weights must map integer scores to weights, not list"),
    ],
    ids=[
        "unknown",
        "rate-range",
        "rate-sum",
        "timeout",
        "single-script",
        "weight-key",
        "weight",
        "all-0",
        "list",
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        JudgeServer(**options)
    with JudgeServer() as server, pytest.raises(ValueError):
        server.set(**options)


def test_options_default_to_a_quiet_server() -> None:
    assert ServerOptions() == JudgeServer().options
    assert ServerOptions().rate_429 == 0 and ServerOptions().latency_ms == 0


# -- endpoints and lifecycle ----------------------------------------------------------


def test_models_and_health(judge_server: JudgeServer) -> None:
    assert HTTP.get(judge_server.url + "/models").json()["data"][0]["id"] == "workbench-judge"
    assert HTTP.get(judge_server.url.removesuffix("/v1") + "/health").text == "ok"
    assert (
        HTTP.post(
            judge_server.url.removesuffix("/v1") + "/chat/completions", json={"messages": []}
        ).status_code
        == 200
    )
    assert judge_server.litellm_kwargs == {"api_base": judge_server.url, "api_key": "sk-workbench-test"}


def test_counters_over_http_for_a_server_in_another_process(judge_server: JudgeServer) -> None:
    root = judge_server.url.removesuffix("/v1")
    post(judge_server)
    assert HTTP.get(root + "/stats").json()["by_status"] == {"200": 1}
    assert HTTP.post(root + "/reset").text == "ok" and judge_server.count == 0


def test_listens_on_loopback_only(judge_server: JudgeServer) -> None:
    assert judge_server.url == f"http://127.0.0.1:{judge_server.port}/v1"
    with socket.create_connection(("127.0.0.1", judge_server.port), timeout=1):
        pass


def test_close_frees_the_port_and_stops_the_thread() -> None:
    server = JudgeServer().start()
    port, thread = server.port, server._thread
    assert post(server).status_code == 200
    server.close()
    assert thread is not None and not thread.is_alive()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
    with JudgeServer(port=port) as again:
        assert post(again).status_code == 200
    with pytest.raises(RuntimeError, match="was closed"):
        server.start()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url


def test_close_cancels_in_flight_requests_quickly() -> None:
    server = JudgeServer(rate_timeout=1.0, timeout_s=60).start()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            post(server, timeout=30)
        except httpx.HTTPError as e:
            errors.append(e)

    callers = [threading.Thread(target=call) for _ in range(3)]
    for t in callers:
        t.start()
    while server.stats()["in_flight"] < 3:
        time.sleep(0.01)
    start = time.perf_counter()
    server.close()
    for t in callers:
        t.join(5)
    assert time.perf_counter() - start < 3 and len(errors) == 3
    assert server.stats()["cancelled"] == 3


def test_200_concurrent_requests_are_all_answered_and_counted(
    judge_server_factory: Callable[..., JudgeServer],
) -> None:
    server = judge_server_factory(latency_ms=50, jitter_ms=10)
    rf = response_format(Verdict)

    async def main() -> list[int]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:

            async def one(i: int) -> int:
                body = {
                    "model": "m",
                    "messages": [{"role": "user", "content": str(i)}],
                    "response_format": rf,
                }
                async with session.post(server.url + "/chat/completions", json=body) as r:
                    Verdict.model_validate_json(
                        json.loads(await r.text())["choices"][0]["message"]["content"]
                    )
                    return r.status

            return await asyncio.gather(*(one(i) for i in range(200)))

    assert asyncio.run(main()) == [200] * 200
    stats = server.stats()
    assert stats["requests"] == 200 and stats["by_status"] == {200: 200} and stats["max_in_flight"] > 50
    assert len(server.requests) == 200


def test_litellm_calls_from_a_running_event_loop(judge_server: JudgeServer) -> None:
    async def main() -> list[str]:
        calls = [
            litellm.acompletion(
                model=judge_server.model,
                messages=[{"role": "user", "content": str(i)}],
                response_format=response_format(Verdict),
                **judge_server.litellm_kwargs,
            )
            for i in range(20)
        ]
        return [r.choices[0].message.content for r in await asyncio.gather(*calls)]

    assert len(set(asyncio.run(main()))) > 1 and judge_server.count == 20


def test_server_started_inside_a_running_loop_serves_sync_calls() -> None:
    async def main() -> int:
        with JudgeServer(script=["x"]) as server:  # as in a notebook cell
            return await asyncio.to_thread(lambda: post(server).status_code)

    assert asyncio.run(main()) == 200


def test_notebook_judge_falls_back_to_the_local_server_and_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import pandas as pd

    import workbench as wb
    from workbench.testing import notebook_judge

    monkeypatch.delenv("WORKBENCH_MODEL", raising=False)
    judge = notebook_judge()
    assert judge.simulated and "SIMULATED" in repr(judge) and "not a model's judgment" in judge.notice
    assert notebook_judge().server is judge.server  # one server per process
    suite = wb.Suite(
        name="s",
        tasks=[wb.JudgeTask(id="q", prompt="${a}", criteria=[wb.Criterion(name="c", description="C.")])],
    )
    before = judge.server.count
    run = wb.evaluate(pd.DataFrame({"a": ["x"]}), suite, **judge, cache_dir=tmp_path, progress=False)
    assert run.results["score"].notna().all() and judge.server.count == before + 1

    monkeypatch.setenv("WORKBENCH_MODEL", "anthropic/claude-x")
    real = notebook_judge()
    assert not real.simulated and dict(real) == {"model": "anthropic/claude-x"}
    assert "anthropic/claude-x" in real._repr_html_() and "SIMULATED" not in real.notice
    assert notebook_judge("openai/<b>m</b>")._repr_html_().count("&lt;b&gt;") == 1
