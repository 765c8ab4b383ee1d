"""Workers: claim persisted records under a lease, evaluate them with the offline engine,
retry the ones whose judge calls failed, and commit each record's cells once.

A worker takes a batch of records, builds a DataFrame (index = record id, columns = the
records' keys) per set of sampled tasks, and runs it through the engine as
:func:`workbench.evaluate_async` does (same assertions, judge runner, cache and error
cells), renewing its leases while it works. A record with a failed judge call (or an
unusable reply) goes back to the queue after a backoff, up to ``max_retries`` times; after
that its error cells are stored like any others: never a missing row, never a score. The
judge cache makes a record evaluated again cost nothing for the verdicts that had arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from ..config import JudgeConfig
from ..errors import shorten
from ..paths import PathError, parse_path, template_paths
from ..secrets import known_secrets, redact
from ..specs import AssertionTask, JudgeTask, Suite
from ..store import CELL_FIELDS, Claimed, RecordStore
from ._options import MonitorOptions, Observer
from ._results import cells_frame

__all__ = ["RETRIED_ERRORS", "Counters", "Pool"]

log = logging.getLogger("workbench.monitor")

RETRIED_ERRORS = ("judge call failed", "judge call not made", "judge reply could not be used")
"""How the error of a judge cell that is worth evaluating again starts: a call that failed
after its own retries, one the circuit breaker did not send, an unusable reply. A prompt that
cannot be rendered from the record fails the same way every time and is not retried."""

_MAX_BACKOFF_S = 300.0


@dataclass
class Counters:
    """What a pool's workers did (in this process)."""

    evaluated: int = 0
    """Records whose cells were committed."""
    errors: int = 0
    """Of those, records with at least one error cell."""
    retried: int = 0
    """Evaluations that ended in a retry (the record went back to the queue)."""
    reclaimed: int = 0
    """Records claimed after another worker's lease ran out."""
    lost_claims: int = 0
    """Records evaluated here whose claim another worker had taken meanwhile (not stored)."""
    cells: int = 0
    batches: int = 0
    busy: int = 0
    """Batches being worked on right now (claimed, not yet committed and observed)."""
    changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def as_dict(self) -> dict[str, int]:
        return {
            k: getattr(self, k)
            for k in ("evaluated", "errors", "retried", "reclaimed", "lost_claims", "cells", "batches")
        }


class Pool:
    """``workers`` evaluation loops over one monitor's records, on one event loop: in a
    background thread (:meth:`start`, for ``wb.Monitor``) or in the caller's (:meth:`run`,
    for ``workbench monitor serve``)."""

    def __init__(
        self,
        path: Path,
        name: str,
        suite: Suite,
        judge: JudgeConfig,
        options: MonitorOptions,
        workers: int,
        observer: Observer | None = None,
        until_idle: bool = False,
    ) -> None:
        self.path, self.name, self.suite, self.judge, self.options = path, name, suite, judge, options
        self.workers = workers
        self.observer = observer
        self.until_idle = until_idle
        self.counters = Counters()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._observe_lock: asyncio.Lock | None = None
        self._secrets = known_secrets(judge.connection)
        self._subsuites: dict[str | None, Suite] = {}
        self._prefix = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._failing = False
        self._grace = options.lease_s
        """How long batches in flight may take to finish once a stop is asked."""

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Run the workers in a daemon thread."""
        self._thread = threading.Thread(
            target=self.run, name=f"workbench-monitor-workers:{self.name}", daemon=True
        )
        self._thread.start()
        self._started.wait(10)

    def run(
        self,
        handle_signals: bool = False,
        report: Callable[[dict[str, int]], Any] | None = None,
        report_every_s: float = 10.0,
    ) -> None:
        """Run the workers in this thread until :meth:`stop` (or, with ``until_idle``, until
        the monitor has no open record left; with ``handle_signals``, until SIGINT or
        SIGTERM). ``report`` is called with the counters every ``report_every_s``."""
        asyncio.run(self._main(handle_signals, report, report_every_s))

    def wake(self) -> None:
        """Tell idle workers that records arrived (thread-safe, cheap)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wake.set)

    def stop(self, timeout: float | None = None) -> bool:
        """Stop claiming: batches in flight are finished (committed, observed) for up to
        ``timeout`` seconds (default: the lease), then cancelled and their claims given back.
        True when the workers ended within ``timeout``."""
        self._grace = self.options.lease_s if timeout is None else max(0.0, timeout - 0.5)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._request_stop)
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    async def _main(
        self,
        handle_signals: bool = False,
        report: Callable[[dict[str, int]], Any] | None = None,
        report_every_s: float = 10.0,
    ) -> None:
        self._loop = loop = asyncio.get_running_loop()
        self._stop, self._wake = stop, _ = asyncio.Event(), asyncio.Event()
        self._observe_lock = asyncio.Lock()
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self._request_stop)
        self._started.set()
        loops: list[asyncio.Task[Any]] = [
            asyncio.create_task(self._worker(f"{self._prefix}:{i}")) for i in range(self.workers)
        ]
        stopper: asyncio.Task[Any] = asyncio.create_task(stop.wait())
        reporter = asyncio.create_task(self._report(report, report_every_s)) if report else None
        # every worker returns on its own only with until_idle: then all of them are done
        pending: set[asyncio.Task[Any]] = set(loops)
        while pending and not stop.is_set():
            _, pending = await asyncio.wait([stopper, *pending], return_when=asyncio.FIRST_COMPLETED)
            pending.discard(stopper)
        unfinished = [t for t in loops if not t.done()]
        if unfinished:  # a batch in flight gets the grace to commit; then its claims go back
            _, late = await asyncio.wait(unfinished, timeout=self._grace)
            for t in late:
                t.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        stopper.cancel()
        if reporter is not None:
            reporter.cancel()

    def _request_stop(self) -> None:
        """On the loop: no more claims; idle workers wake up to see it."""
        if self._stop is not None and self._wake is not None:
            self._stop.set()
            self._wake.set()

    async def _report(self, report: Callable[[dict[str, int]], Any], every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            with contextlib.suppress(Exception):
                report(self.counters.as_dict())

    # --- one worker --------------------------------------------------------------------------

    async def _worker(self, owner: str) -> None:
        store = RecordStore(self.path, self.name)
        opts = self.options
        assert self._stop is not None and self._wake is not None
        try:
            while not self._stop.is_set():
                try:
                    batch = await asyncio.to_thread(store.claim, owner, opts.batch_size, opts.lease_s)
                except Exception as e:  # noqa: BLE001 - a store that fails is waited out, never fatal
                    self._store_failed(store, e)
                    await self._idle(max(opts.poll_s, 1.0))
                    continue
                self._store_ok()
                if not batch:
                    if self.until_idle and await asyncio.to_thread(store.open_count) == 0:
                        return
                    await self._idle(opts.poll_s)
                    continue
                self.counters.busy += 1
                try:
                    await self._process(store, owner, batch)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # a bug must not end the worker: log it, retry the batch later
                    log.exception("monitor %r: a batch of %d records failed: %s", self.name, len(batch), e)
                    later = {r.seq: time.time() + self._backoff(r.attempts) for r in batch}
                    with contextlib.suppress(Exception):
                        await asyncio.to_thread(store.release, owner, later)
                finally:
                    self.counters.busy -= 1
                    with self.counters.changed:
                        self.counters.changed.notify_all()
        finally:
            await asyncio.to_thread(store.close)

    async def _idle(self, seconds: float) -> None:
        assert self._wake is not None and self._stop is not None
        if self._stop.is_set():
            return
        self._wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _process(self, store: RecordStore, owner: str, batch: list[Claimed]) -> None:
        opts, c = self.options, self.counters
        seqs = [r.seq for r in batch]
        c.reclaimed += sum(r.reclaimed for r in batch)
        renewer = asyncio.create_task(self._renew(store, owner, seqs))
        try:
            cells, retriable = await self._evaluate(batch)
        except asyncio.CancelledError:
            renewer.cancel()
            with contextlib.suppress(Exception):
                await asyncio.shield(asyncio.to_thread(store.abandon, owner, seqs))
            raise
        finally:
            renewer.cancel()
        now = time.time()
        retry = {
            r.seq: now + self._backoff(r.attempts)
            for r in batch
            if r.seq in retriable and r.attempts < opts.max_retries
        }
        done = {r.seq: cells[r.seq] for r in batch if r.seq not in retry}
        try:
            committed = await asyncio.shield(asyncio.to_thread(store.complete, owner, done))
            if retry:
                await asyncio.shield(asyncio.to_thread(store.release, owner, retry))
        except Exception as e:  # noqa: BLE001 - the claims expire and another attempt takes them
            self._store_failed(store, e)
            return
        c.retried += len(retry)
        c.lost_claims += len(done) - len(committed)
        rows = [(*cell, latency) for r in batch if r.seq in set(committed) for cell, latency in
                ((cell, r.latency_s) for cell in cells[r.seq])]  # fmt: skip
        c.evaluated += len(committed)
        c.errors += len({row[0] for row in rows if row[5] == "error"})
        c.cells += len(rows)
        c.batches += 1
        with c.changed:
            c.changed.notify_all()
        if rows and self.observer is not None:
            await self._observe(rows)

    def _backoff(self, attempts: int) -> float:
        """Seconds before the next evaluation of a record that failed ``attempts`` times before."""
        base = self.options.retry_backoff_s * 2**attempts * random.uniform(0.5, 1.5)  # jitter
        return float(min(_MAX_BACKOFF_S, base))

    async def _observe(self, rows: list[tuple[Any, ...]]) -> None:
        assert self._observe_lock is not None and self.observer is not None
        frame = cells_frame(rows, self.suite)
        async with self._observe_lock:  # one batch at a time, in commit order
            try:
                await asyncio.to_thread(self.observer.observe, frame)
            except Exception as e:
                log.exception("monitor %r: the alerts failed on a batch of results: %s", self.name, e)

    async def _renew(self, store: RecordStore, owner: str, seqs: list[int]) -> None:
        lease = self.options.lease_s
        while True:
            await asyncio.sleep(lease / 3)
            with contextlib.suppress(Exception):  # a failed renewal is tried again; the lease is long
                await asyncio.to_thread(store.renew, owner, seqs, lease)

    def _store_failed(self, store: RecordStore, e: BaseException) -> None:
        store.close()
        if not self._failing:
            self._failing = True
            log.error(
                "monitor %r: the store at %s failed (%s: %s); retrying",
                self.name,
                self.path,
                type(e).__name__,
                e,
            )

    def _store_ok(self) -> None:
        if self._failing:
            self._failing = False
            log.warning("monitor %r: the store at %s works again", self.name, self.path)

    # --- evaluation --------------------------------------------------------------------------

    async def _evaluate(self, batch: Sequence[Claimed]) -> tuple[dict[int, list[tuple[Any, ...]]], set[int]]:
        """Each record's cells as stored rows ``(record, time, *CELL_FIELDS)``, and the seqs
        worth retrying."""
        cells: dict[int, list[tuple[Any, ...]]] = {}
        retriable: set[int] = set()
        groups: dict[str | None, list[tuple[Claimed, dict[str, Any]]]] = {}
        for r in batch:
            try:
                context = orjson.loads(r.data)
                if not isinstance(context, dict):
                    raise ValueError(f"the stored record is a {type(context).__name__}, not an object")
            except ValueError as e:
                cells[r.seq] = self._error_cells(
                    r, self._subsuite(r.tasks), f"the record cannot be read: {e}"
                )
                continue
            groups.setdefault(r.tasks, []).append((r, context))
        for tasks, members in groups.items():
            suite = self._subsuite(tasks)
            if not suite.tasks:
                for r, _ in members:
                    cells[r.seq] = []
                continue
            try:
                found = await self._run(suite, members)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - one bad record must not cost the batch
                if len(members) == 1:
                    r = members[0][0]
                    message = f"evaluation failed: {type(e).__name__}: {shorten(str(e), 500)}"
                    cells[r.seq] = self._error_cells(r, suite, message)
                    retriable.add(r.seq)
                    continue
                found = {}
                for member in members:  # alone, each record gets its own outcome
                    try:
                        found.update(await self._run(suite, [member]))
                    except asyncio.CancelledError:
                        raise
                    except Exception as e1:  # noqa: BLE001 - the record's cells say why; the rest go on
                        r = member[0]
                        message = f"evaluation failed: {type(e1).__name__}: {shorten(str(e1), 500)}"
                        cells[r.seq] = self._error_cells(r, suite, message)
                        retriable.add(r.seq)
            for seq, rows in found.items():
                cells[seq] = rows
                if any(row[5] == "error" and row[4] == "judge" and _retried(row[10]) for row in rows):
                    retriable.add(seq)
        return cells, retriable

    async def _run(
        self, suite: Suite, members: list[tuple[Claimed, dict[str, Any]]]
    ) -> dict[int, list[tuple[Any, ...]]]:
        from ..frame import evaluate_async

        df = pd.DataFrame.from_records(
            [ctx for _, ctx in members], index=pd.Index([r.id for r, _ in members])
        )
        for root in _roots(suite):
            if root not in df.columns:  # no record of this group has it: each cell errors, not the batch
                df[root] = None
        run = await evaluate_async(df, suite, judge=self.judge, save=False, progress=False)
        res = run.results
        by_id = {r.id: r for r, _ in members}
        columns = [_plain(res[c]) for c in CELL_FIELDS]
        ids = res["row"].tolist()
        out: dict[int, list[tuple[Any, ...]]] = {r.seq: [] for r, _ in members}
        for i, rid in enumerate(ids):
            r = by_id[rid]
            values = [col[i] for col in columns]
            if self._secrets:
                values[7] = None if values[7] is None else redact(values[7], self._secrets)  # reason
                values[8] = None if values[8] is None else redact(values[8], self._secrets)  # error
            out[r.seq].append((r.id, r.time, *values))
        return out

    def _subsuite(self, tasks: str | None) -> Suite:
        """The suite restricted to the tasks sampled for a record, with what they depend on."""
        if tasks not in self._subsuites:
            if tasks is None:
                self._subsuites[tasks] = self.suite
            else:
                wanted = set(orjson.loads(tasks))
                unknown = wanted - set(self.suite.task_ids)
                if unknown:
                    log.warning(
                        "monitor %r: records were sampled for tasks %s, which this worker's suite %r "
                        "does not have; they are left out",
                        self.name,
                        sorted(unknown),
                        self.suite.name,
                    )
                grew = True
                while grew:
                    before = len(wanted)
                    wanted |= {d for t in self.suite.tasks if t.id in wanted for d in t.depends_on}
                    grew = len(wanted) > before
                kept = [t for t in self.suite.tasks if t.id in wanted]
                self._subsuites[tasks] = Suite(name=self.suite.name, version=self.suite.version, tasks=kept)
        return self._subsuites[tasks]

    @staticmethod
    def _error_cells(r: Claimed, suite: Suite, message: str) -> list[tuple[Any, ...]]:
        out = []
        for t in suite.tasks:
            names = [""] if isinstance(t, AssertionTask) else [c.name for c in t.criteria]
            if isinstance(t, JudgeTask) and t.overall:
                names.append("overall")
            kind = "assertion" if isinstance(t, AssertionTask) else "judge"
            for criterion in names:
                out.append(
                    (
                        r.id,
                        r.time,
                        t.id,
                        criterion,
                        kind,
                        "error",
                        None,
                        None,
                        None,
                        None,
                        message,
                        False,
                        None,
                        None,
                        None,
                    )
                )
        return out


def _retried(error: Any) -> bool:
    return isinstance(error, str) and error.startswith(RETRIED_ERRORS)


def _plain(series: pd.Series) -> list[Any]:
    """A column's values as Python scalars, missing values as None (what SQLite stores)."""
    values = series.astype(object).tolist()
    return [
        None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v for v in values
    ]


def _roots(suite: Suite) -> set[str]:
    """The column names the suite's paths and templates start from (not task outputs)."""
    ids = set(suite.task_ids)
    refs: list[str] = []
    for t in suite.tasks:
        if isinstance(t, AssertionTask):
            if t.path is not None:
                refs.append(t.path)
            refs += template_paths(t.expected)
        else:
            refs += template_paths(t.prompt)
    out = set()
    for ref in refs:
        try:
            first = parse_path(ref)[0]
        except (PathError, IndexError):
            continue
        if isinstance(first, str) and first not in ids:
            out.add(first)
    return out
