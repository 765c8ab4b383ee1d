"""The local judge server's files and batches endpoints, called through litellm's own file and
batch functions over real HTTP: upload, create, retrieve with growing counts, output and error
files, scripted line failures, expiry, cancellation and limits."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported: no fetch

import litellm
import pytest

from workbench import _pytest_plugin
from workbench.testing import JudgeServer

litellm.suppress_debug_info = True
judge_server_factory = _pytest_plugin.judge_server_factory

SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "verdict",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "score": {"type": "integer", "minimum": 1, "maximum": 5},
                "reason": {"type": "string"},
            },
            "required": ["score", "reason"],
            "additionalProperties": False,
        },
    },
}


def body(i: int) -> dict[str, Any]:
    return {
        "model": "workbench-judge",
        "messages": [{"role": "user", "content": f"Rate answer {i}."}],
        "response_format": SCHEMA,
    }


def jsonl(n: int) -> bytes:
    lines = [
        {"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions", "body": body(i)}
        for i in range(n)
    ]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def kw(server: JudgeServer) -> dict[str, Any]:
    return {"custom_llm_provider": "openai", **server.litellm_kwargs}


async def submit(server: JudgeServer, data: bytes) -> Any:
    f = await litellm.acreate_file(file=("in.jsonl", data), purpose="batch", **kw(server))
    return await litellm.acreate_batch(
        completion_window="24h", endpoint="/v1/chat/completions", input_file_id=f.id, **kw(server)
    )


async def retrieve(server: JudgeServer, batch_id: str) -> Any:
    return await litellm.aretrieve_batch(
        batch_id=batch_id, litellm_metadata={"batch_ignore_default_logging": True}, **kw(server)
    )


async def lines(server: JudgeServer, file_id: str) -> list[dict[str, Any]]:
    content = await litellm.afile_content(file_id=file_id, **kw(server))
    return [json.loads(x) for x in content.content.splitlines()]


def direct(server: JudgeServer, payload: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(
        server.url + "/chat/completions",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        return json.load(r)  # type: ignore[no-any-return]


def test_a_batch_runs_over_time_and_its_output_is_what_the_chat_endpoint_answers(
    judge_server_factory: Any,
) -> None:
    server = judge_server_factory(batch_delay_s=0.6, seed=3)

    async def go() -> tuple[Any, Any, list[dict[str, Any]]]:
        batch = await submit(server, jsonl(10))
        await asyncio.sleep(0.3)
        middle = await retrieve(server, batch.id)
        await asyncio.sleep(0.45)
        end = await retrieve(server, batch.id)
        return middle, end, await lines(server, end.output_file_id)

    middle, end, out = asyncio.run(go())
    assert middle.status == "in_progress" and 0 < middle.request_counts.completed < 10
    assert end.status == "completed" and end.request_counts.completed == 10 and end.error_file_id is None
    assert [line["custom_id"] for line in out] == [f"r{i}" for i in range(10)]
    replies = [line["response"]["body"]["choices"][0]["message"]["content"] for line in out]
    assert replies == [direct(server, body(i))["choices"][0]["message"]["content"] for i in range(10)]
    assert server.count == 10  # only the direct requests above: batch lines are not chat requests
    stats = server.batch_stats()
    assert (stats["uploads"], stats["batches_created"], stats["lines_run"]) == (1, 1, 10)


def test_scripted_line_failures_go_to_the_error_file_with_their_message(judge_server_factory: Any) -> None:
    def fail(line: dict[str, Any]) -> str | None:
        return "upstream overloaded (scripted)" if line["custom_id"] in ("r1", "r4") else None

    server = judge_server_factory(batch_line_error=fail)

    async def go() -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]]]:
        batch = await retrieve(server, (await submit(server, jsonl(6))).id)
        return batch, await lines(server, batch.output_file_id), await lines(server, batch.error_file_id)

    batch, out, err = asyncio.run(go())
    assert (batch.status, batch.request_counts.completed, batch.request_counts.failed) == ("completed", 4, 2)
    assert [line["custom_id"] for line in err] == ["r1", "r4"]
    assert {line["response"]["body"]["error"]["message"] for line in err} == {
        "upstream overloaded (scripted)"
    }
    assert all(line["response"]["status_code"] == 500 for line in err)
    assert [line["custom_id"] for line in out] == ["r0", "r2", "r3", "r5"]


def test_a_batch_that_expires_part_way_reports_the_rest_as_expired(judge_server_factory: Any) -> None:
    server = judge_server_factory(batch_expire_after=3)

    async def go() -> tuple[Any, list[dict[str, Any]]]:
        batch = await retrieve(server, (await submit(server, jsonl(5))).id)
        return batch, await lines(server, batch.error_file_id)

    batch, err = asyncio.run(go())
    assert batch.status == "expired" and batch.request_counts.completed == 3
    assert [(line["custom_id"], line["error"]["code"]) for line in err] == [
        ("r3", "batch_expired"),
        ("r4", "batch_expired"),
    ]
    assert "completion window expired" in err[0]["error"]["message"]


def test_a_cancelled_batch_keeps_what_it_answered(judge_server_factory: Any) -> None:
    server = judge_server_factory(batch_delay_s=1.0)

    async def go() -> tuple[Any, Any]:
        batch = await submit(server, jsonl(10))
        await asyncio.sleep(0.35)
        cancelling = await litellm.acancel_batch(batch_id=batch.id, **kw(server))
        return cancelling, await retrieve(server, batch.id)

    cancelling, batch = asyncio.run(go())
    assert cancelling.status == "cancelling" and batch.status == "cancelled"
    done = batch.request_counts.completed
    assert 0 < done < 10 and batch.request_counts.failed == 10 - done
    assert server.batch_stats()["cancels"] == 1


def test_a_batch_over_the_limits_fails_its_validation_with_the_reason(judge_server_factory: Any) -> None:
    server = judge_server_factory(batch_max_requests=2)
    batch = asyncio.run(submit(server, jsonl(3)))
    assert batch.status == "failed"
    assert "at most 2" in batch.errors.data[0].message


def test_a_bad_input_line_is_reported_with_its_line_number(judge_server_factory: Any) -> None:
    server = judge_server_factory()
    bad = jsonl(1) + b'{"custom_id": "r0", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n'
    batch = asyncio.run(submit(server, bad))
    assert batch.status == "failed"
    assert [(e.code, e.line) for e in batch.errors.data] == [("duplicate_custom_id", 2)]


def test_unknown_files_and_batches_are_404s_with_an_openai_error(judge_server_factory: Any) -> None:
    server = judge_server_factory()
    with pytest.raises(Exception, match="No batch found with id 'batch_nope'"):
        asyncio.run(retrieve(server, "batch_nope"))
    with pytest.raises(Exception, match="No such File object: file-nope"):
        asyncio.run(lines(server, "file-nope"))


def test_batch_options_out_of_range_are_refused_all_at_once() -> None:
    with pytest.raises(ValueError) as e:
        JudgeServer(batch_error_rate=2, batch_delay_s=-1, batch_max_requests=0)
    assert "batch_error_rate=2 is not in [0, 1]" in str(e.value)
    assert "batch_delay_s=-1 is negative" in str(e.value)
    assert "batch_max_requests=0 is not a count >= 1" in str(e.value)


def test_batch_counters_are_served_over_http_for_a_server_in_another_process(
    judge_server_factory: Any,
) -> None:
    server = judge_server_factory()
    asyncio.run(submit(server, jsonl(2)))
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/batch_stats") as r:
        stats = json.load(r)
    assert stats["batches_created"] == 1 and stats["batches"][0]["custom_ids"] == ["r0", "r1"]
