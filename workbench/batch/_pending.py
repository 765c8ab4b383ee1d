"""A run whose judge cells still wait in provider batches: :class:`PendingRun`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from ..llm.batches import BatchEndpoint, retrieve_batch
from ..run import Run
from ..store.batches import FINISHED, BatchRow, job_batches, update_batch

__all__ = ["PendingRun", "batches_frame", "release_clients", "run_async"]

T = TypeVar("T")

_COLUMNS = [
    "batch",
    "provider",
    "model",
    "status",
    "requests",
    "completed",
    "failed",
    "created_at",
    "message",
]


@dataclass(eq=False)
class PendingRun(Run):
    """What ``evaluate(..., batch=True, wait=False)`` returns while judge cells wait in provider
    batches: a :class:`~workbench.Run` whose waiting cells are error cells saying which batch
    holds them. It is not saved; ``wb.resume(run.id)`` (in this process or any other), or the
    same ``evaluate`` again, waits for the batches and returns the finished run, saved under
    this ``id``.

    Attributes:
        batches: the provider batch ids the waiting cells are in.
        waiting: how many judge calls still wait.
    """

    batches: list[str] = field(default_factory=list)
    waiting: int = 0
    store_path: str | None = None
    endpoints: dict[str, BatchEndpoint] = field(default_factory=dict, repr=False)

    def status(self) -> pd.DataFrame:
        """Ask the provider now: one row per batch of this run (``batch``, ``provider``, ``model``,
        ``status``, ``requests``, ``completed``, ``failed``, ``created_at``, ``message``)."""
        assert self.store_path is not None
        path = Path(self.store_path)
        known = job_batches(path, self.id or "")
        rows = [b for b in known if b.id in self.batches] or known

        async def poll() -> list[BatchRow]:
            fresh = []
            for row in rows:
                endpoint = self.endpoints.get(row.model)
                if row.status in FINISHED or endpoint is None:
                    fresh.append(row)
                    continue
                state = await retrieve_batch(endpoint, row.id)
                update_batch(
                    path,
                    row.id,
                    status=state.status,
                    completed=state.completed,
                    failed=state.failed,
                    output_file=state.output_file,
                    error_file=state.error_file,
                    message=state.message,
                )
                fresh.append(
                    BatchRow(
                        **{
                            **row.__dict__,
                            "status": state.status,
                            "completed": state.completed,
                            "failed": state.failed,
                            "message": state.message,
                        }
                    )
                )
            await release_clients()
            return fresh

        return batches_frame(run_async(poll))

    def __repr__(self) -> str:
        base = super().__repr__()
        return (
            f"{base[:-1]}, pending: {self.waiting:,} judge calls in {len(self.batches)} "
            f"batch{'es' if len(self.batches) != 1 else ''}; wb.resume({self.id!r}) collects them)"
        )


def batches_frame(rows: list[BatchRow]) -> pd.DataFrame:
    """Batch rows as a frame with :data:`_COLUMNS`."""
    out: pd.DataFrame = pd.DataFrame(
        [
            [b.id, b.provider, b.model, b.status, b.requests, b.completed, b.failed, b.created_at, b.message]
            for b in rows
        ],
        columns=_COLUMNS,
    )
    for c in ("batch", "provider", "model", "status", "message"):
        out[c] = out[c].astype("string")
    for c in ("requests", "completed", "failed"):
        out[c] = out[c].astype("int64")
    out["created_at"] = pd.to_datetime(out["created_at"], utc=True, format="ISO8601")
    return out


def run_async(call: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a short coroutine from sync code: on a fresh loop, or in a worker thread when this
    thread already runs one (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(call())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="workbench-batch") as pool:
        return pool.submit(lambda: asyncio.run(call())).result()


async def release_clients() -> None:
    """Let the OpenAI clients litellm made for the file and batch calls close on this loop.

    litellm builds a new client per file or batch call and never closes it; the SDK closes one
    when it is collected, by scheduling a task on the running loop. Collected after the run's
    loop has ended, that task fails ("Event loop is closed"), so collect them here, while it runs.
    """
    gc.collect()
    for _ in range(3):
        await asyncio.sleep(0)
