"""The call layer's concurrency limit, seen at the judge server: never more calls in flight
than the limit, waiting calls served in turn, and cancelled waiters leaving no slot behind."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from workbench import llm as L

pytestmark = pytest.mark.usefixtures("transport")


def messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"answer {i}"}]


def test_the_limit_holds_and_cancelled_waiters_leave_no_slot_behind(
    judge_server_factory: Any, tmp_path: Path
) -> None:
    server = judge_server_factory(latency_ms=40)
    client = L.LLM(server.model, concurrency=3, use_cache=False, **server.litellm_kwargs)

    async def scenario() -> tuple[list[L.Completion], list[L.Completion]]:
        first = [asyncio.create_task(client.complete(messages(i))) for i in range(12)]
        await asyncio.sleep(0.01)  # three calls sent, nine waiting for a slot
        for task in first[3:9]:
            task.cancel()  # six of the waiting calls give up
        done = await asyncio.gather(*first, return_exceptions=True)
        kept = [c for c in done if isinstance(c, L.Completion)]
        # the same client afterwards: every slot is free again, and still only three
        second = await asyncio.gather(*(client.complete(messages(100 + i)) for i in range(9)))
        return kept, list(second)

    kept, second = asyncio.run(asyncio.wait_for(scenario(), 60))  # a leaked slot would hang it
    client.close()
    assert len(kept) == 6 and all(c.error is None for c in kept)
    assert len(second) == 9 and all(c.error is None and c.text for c in second)
    stats = server.stats()
    assert stats["max_in_flight"] == 3  # reached, never passed
    assert server.count == 6 + 9  # the cancelled calls were never sent
