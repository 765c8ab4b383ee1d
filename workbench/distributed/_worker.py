"""What runs on a Dask worker for each partition: the pandas path itself
(:func:`workbench.frame.evaluate_async`, unchanged), inside a gate that holds the judge calls
to the worker's and the cluster's caps, reporting its progress to the notebook, and writing its
results as a Parquet file beside the run store when the run is saved.

Nothing here is a second engine: a partition is evaluated exactly as a pandas DataFrame is.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import JudgeConfig
from ..errors import StoreError
from ..llm import gated
from ..specs import Suite
from ._partials import Block, partials

__all__ = ["PartitionJob", "PartitionOutcome", "WorkerGate", "run_partition"]


@dataclass(frozen=True)
class PartitionJob:
    """Everything a partition task needs, shipped once per task (picklable)."""

    suite: Suite
    config: JudgeConfig
    columns: Mapping[str, str] | None
    strict: bool
    meta: pd.DataFrame
    """The empty results frame: what an empty partition returns."""
    judged: bool
    topic: str
    """Progress events go to this topic; also the name of the run's cluster semaphore."""
    cluster_concurrency: int | None = None
    folder: str | None = None
    """Where the partition's Parquet file goes (the run's results folder), or None: kept in memory."""


@dataclass
class PartitionOutcome:
    """What a partition task sends back besides its results: small, whatever the partition's size."""

    index: int
    rows: int
    fingerprint: str
    blocks: list[Block]
    calls: dict[str, Any]
    tokens: int
    part: Any = None
    """The :class:`~workbench.store._parquet.Part` written, when the run is saved."""
    write_error: str | None = None
    """Why the Parquet file could not be written (the results then stay in memory)."""
    warnings: list[tuple[str, str]] = field(default_factory=list)
    """``(category name, message)`` of the warnings the partition raised, shown in the notebook."""


def run_partition(
    part: pd.DataFrame, index: int, job: PartitionJob
) -> tuple[pd.DataFrame | None, PartitionOutcome]:
    """Evaluate one partition on this worker; returns its results (None once written to
    Parquet) and its outcome."""
    from ..frame import evaluate_async
    from ..store import data_fingerprint

    started = time.time()
    reporter = _Reporter(job.topic, index, started) if job.judged else None
    calls: dict[str, Any] = {}
    caught: list[warnings.WarningMessage] = []
    if len(part) == 0:
        results = job.meta.iloc[:0].copy()
    else:
        gate = WorkerGate.for_run(job) if job.judged else None

        async def evaluate() -> Any:
            with gated(gate):
                return await evaluate_async(
                    part,
                    job.suite,
                    columns=job.columns,
                    strict=job.strict,
                    judge=job.config,
                    progress=reporter.update if reporter is not None else False,
                    save=False,
                )

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                run = asyncio.run(evaluate())
        finally:
            if gate is not None:
                gate.done()
        results, calls = run.results, run.calls
        if reporter is not None:
            reporter.final()
    outcome = PartitionOutcome(
        index=index,
        rows=len(part),
        fingerprint=data_fingerprint(part),
        blocks=partials(results),
        calls=calls,
        tokens=int(results["tokens"].sum()) if len(results) else 0,
        warnings=list(dict.fromkeys((w.category.__name__, str(w.message)) for w in caught)),
    )
    if job.folder is None:
        return results, outcome
    from ..secrets import known_secrets, redact_frame
    from ..store import write_part

    try:
        outcome.part = write_part(
            Path(job.folder), index, redact_frame(results, known_secrets(job.config.connection))
        )
    except (OSError, StoreError) as e:  # the run is never lost because its store failed: kept in memory
        outcome.write_error = f"{type(e).__name__}: {e}"
        return results, outcome
    return None, outcome


class _Reporter:
    """Sends a partition's judge-call counts to the notebook (a Dask event on the run's topic),
    at most four times a second and once at the end."""

    _EVERY_S = 0.25

    def __init__(self, topic: str, index: int, started: float) -> None:
        from distributed import get_worker

        self._worker = get_worker()
        self._topic, self._index, self._started = topic, index, started
        self._sent = 0.0
        self._last: Any = None

    def update(self, p: Any) -> None:
        self._last = p
        now = time.monotonic()
        if now - self._sent >= self._EVERY_S:
            self._sent = now
            self._send(p, final=False)

    def final(self) -> None:
        if self._last is not None:
            self._send(self._last, final=True)

    def _send(self, p: Any, final: bool) -> None:
        self._worker.log_event(
            self._topic,
            {
                "part": self._index,
                "started": self._started,
                "final": final,
                **{k: getattr(p, k) for k in ("total", "done", "cached", "errors", "unsent", "unpriced")},
                "cost_usd": float(p.cost_usd),
                "saved_usd": float(p.saved_usd),
            },
        )


_LOCK = threading.Lock()
_GATES: dict[str, tuple[WorkerGate, int]] = {}
"""The gate of each run with a partition running in this worker process, and how many."""


class WorkerGate:
    """The gate a worker's judge calls pass (see :func:`workbench.llm.gated`): at most
    ``concurrency`` in flight in this worker process (its partitions share it, however many
    threads the worker has), and at most ``cluster_concurrency`` across the cluster, held by a
    ``distributed.Semaphore`` whose lease each attempt takes before it is sent and gives back
    when its reply is in.

    Both are blocking primitives: they are waited on in a small thread pool so the partition's
    event loop goes on serving the calls in flight.
    """

    def __init__(self, job: PartitionJob) -> None:
        from distributed import Semaphore

        semaphore: Any = Semaphore  # untyped
        self._local = threading.BoundedSemaphore(job.config.concurrency)
        self._cluster: Any = (
            semaphore(max_leases=job.cluster_concurrency, name=job.topic) if job.cluster_concurrency else None
        )
        self._pool = ThreadPoolExecutor(2 * job.config.concurrency + 2, thread_name_prefix="workbench-gate")
        self._topic = job.topic

    @classmethod
    def for_run(cls, job: PartitionJob) -> WorkerGate:
        """The gate of ``job``'s run in this process, made by its first partition here."""
        with _LOCK:
            gate, users = _GATES.get(job.topic, (None, 0))
            if gate is None:
                gate = cls(job)
            _GATES[job.topic] = (gate, users + 1)
            return gate

    def done(self) -> None:
        """A partition of the run ended here; the last one shuts the gate's threads down."""
        with _LOCK:
            gate, users = _GATES[self._topic]
            if users > 1:
                _GATES[self._topic] = (gate, users - 1)
                return
            del _GATES[self._topic]
        self._pool.shutdown(wait=True)  # releases still queued are sent first

    def __call__(self) -> contextlib.AbstractAsyncContextManager[object]:
        return self._slot()

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        if not self._local.acquire(blocking=False):
            await self._take(self._local.acquire, self._local.release)
        try:
            if self._cluster is None:
                yield
                return
            await self._take(self._cluster.acquire, self._cluster.release)
            try:
                yield
            finally:
                # given back without waiting for the scheduler's answer: the lease is free a
                # round trip later, which can only lower the calls in flight, never raise them
                self._pool.submit(self._cluster.release)
        finally:
            self._local.release()

    async def _take(self, acquire: Callable[[], Any], release: Callable[[], Any]) -> None:
        future = asyncio.get_running_loop().run_in_executor(self._pool, acquire)
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            # the wait was cancelled but the thread may still get the slot: give it back then
            def give_back(f: asyncio.Future[Any]) -> None:
                if not f.cancelled() and f.exception() is None:
                    self._pool.submit(release)

            future.add_done_callback(give_back)
            raise
