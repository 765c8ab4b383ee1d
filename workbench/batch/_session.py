"""One batch-mode run: which uncached judge calls go to which provider batch, waiting for them,
and reading their replies into the judge cache.

The judge runner plans the calls and serves cache hits as always; it hands the rest to
:meth:`BatchSession.complete`, which, per cache key:

* picks up the batch that already covers it, whoever submitted it (this run in another
  process, an earlier ``evaluate``): nothing is submitted twice;
* gives the provider's message for a line an earlier batch failed or expired (an error cell),
  or resubmits it with ``retry_failed=True``;
* submits the rest, split under the provider's limits: each batch is first claimed in the store
  (a row ``submitting``, with its cells and the claiming process), so a run submitting the same
  calls meanwhile waits for it; once the provider accepts it, the claim becomes the batch at
  once. A claim whose process died before that is resolved by the next run: it finds the batch
  at the provider by its ``workbench_claim`` metadata and adopts it, or drops the claim;
* then waits (polling with backoff) and reads each finished batch's output and error files,
  every reply line going to the judge cache as it is read.

Verdict parsing stays the runner's: a batch reply is a completion like any other, and the one
repair call an unusable reply gets is made directly, not batched.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import JudgeConfig
from ..errors import ConfigError, WorkbenchError
from ..llm import LLM, Completion
from ..llm.batches import (
    PROVIDER_LIMITS,
    BatchEndpoint,
    BatchState,
    batch_endpoint,
    batch_line,
    batch_price,
    find_batch,
    keep_line,
    read_lines,
    retrieve_batch,
    submit_batch,
)
from ..store.batches import (
    FINISHED,
    BatchRow,
    CellCover,
    adopt_claim,
    batch_row,
    claim_batch,
    covering,
    drop_claim,
    find_job,
    finish_job,
    mark_lines,
    record_job,
    stamp,
    update_batch,
)
from ._inputs import encode_inputs
from ._options import BatchOptions
from ._pending import PendingRun, release_clients
from ._progress import batch_bar

if TYPE_CHECKING:
    import pandas as pd

    from ..run import Run
    from ..specs import Suite

__all__ = [
    "BatchRequest",
    "BatchSession",
    "add_batch_prices",
    "batch_request",
    "check_models",
    "custom_id",
    "open_session",
]

_PREFIX = "wb-"
_CLAIM = "workbench_claim"
"""The batch metadata key holding the claim a batch was submitted under."""
_STALE_S = 600.0
"""A claim from another machine older than this is taken as its process having died."""
_IN_FLIGHT: set[str] = set()
"""Claims this process is submitting right now."""
_POLL_FAILURES = 5
"""Polls of one batch that may fail in a row before its cells become error cells."""


def _alive(row: BatchRow) -> bool:
    """Whether the process that claimed ``row`` may still be submitting it: alive on this
    machine, or on another one and the claim not stale."""
    host, _, pid = (row.owner or "").rpartition(":")
    if host == socket.gethostname() and pid == str(os.getpid()):
        return row.id in _IN_FLIGHT  # this process: only while it is submitting that claim
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        age = (datetime.now(timezone.utc) - datetime.fromisoformat(row.created_at)).total_seconds()
    except ValueError:
        return False
    return age < _STALE_S


def _failed(batch_id: str, provider: str, message: str | None) -> str:
    """An error cell's text for a request the provider failed in a batch: its own message."""
    return f"batch {batch_id} at {provider!r} failed this request: {message or 'no reason given'}"


def custom_id(key: str) -> str:
    """The ``custom_id`` of the batch request for cache key ``key`` (and back: strip ``wb-``).

    Example:
        >>> custom_id("3fa2")
        'wb-3fa2'
    """
    return _PREFIX + key


@dataclass(frozen=True, kw_only=True)
class BatchRequest:
    """What ``evaluate``'s ``batch``, ``wait`` and ``retry_failed`` ask for."""

    submit: bool
    """Submit uncached calls as batches (``batch=True``); False: call them directly, while
    still picking up the batches that already cover some (``retry_failed`` without batch)."""
    wait: bool
    retry_failed: bool
    options: BatchOptions = field(default_factory=BatchOptions)


def batch_request(batch: bool | BatchOptions, wait: bool, retry_failed: bool) -> BatchRequest | None:
    """The request ``evaluate(batch=..., wait=..., retry_failed=...)`` makes; None for a plain
    direct run.

    Raises:
        ConfigError: ``wait=False`` without batch mode, or a ``batch`` that is neither a bool
            nor :class:`BatchOptions`.

    Example:
        >>> batch_request(False, True, False) is None
        True
        >>> batch_request(True, False, False).wait
        False
    """
    if not isinstance(batch, bool | BatchOptions):
        raise ConfigError(
            f"batch= takes True, False or a wb.BatchOptions(...), not {type(batch).__name__}: "
            "batch=True submits the uncached judge calls as provider batches"
        )
    submit = batch is not False
    if not wait and not submit:
        raise ConfigError(
            "wait=False returns a pending run of batch mode at once, so it needs batch=True: "
            "evaluate(df, suite, model=..., batch=True, wait=False)"
        )
    if not submit and not retry_failed:
        return None
    options = batch if isinstance(batch, BatchOptions) else BatchOptions()
    return BatchRequest(submit=submit, wait=wait, retry_failed=retry_failed, options=options)


def open_session(
    request: BatchRequest,
    df: pd.DataFrame,
    suite: Suite,
    config: JudgeConfig,
    *,
    strict: bool,
    label: str | None,
    save: bool,
    store: Any,
    progress: bool,
) -> BatchSession:
    """A session for one run, its judge models checked first (before any work is done).

    Raises:
        ConfigError: batch mode does not cover a judge model's provider.
    """
    from ..store import Store, data_fingerprint

    if strict and not request.wait:
        raise ConfigError(
            "strict=True raises on the first error cell, and a batch-mode run that does not wait "
            "returns its waiting cells as error cells: use wait=True with strict=True"
        )
    if request.submit:
        check_models(suite, config)
    path = (store if isinstance(store, Store) else Store(store)).path
    identity = hashlib.sha256(
        json.dumps(
            [suite.to_yaml(), data_fingerprint(df), config.model, config.request_params(), strict],
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()
    return BatchSession(
        request,
        path=path,
        identity=identity,
        df=df,
        suite=suite,
        config=config,
        run_args={"strict": strict, "label": label, "save": save},
        progress=progress,
    )


def check_models(suite: Suite, config: JudgeConfig) -> None:
    """Refuse, before any work, a judge model whose provider batch mode does not cover.

    Raises:
        ConfigError: the message names the model, its provider and the providers covered.
    """
    from ..specs import JudgeTask

    models = {t.model or config.model for t in suite.tasks if isinstance(t, JudgeTask)}
    probe = config.model_copy(update={"cache_dir": False})
    for model in sorted(m for m in models if m):
        llm = LLM(model, probe)
        try:
            batch_endpoint(llm)
        finally:
            llm.close()


class BatchSession:
    """One run's batches: what :class:`~workbench.runner.JudgeRunner` asks for its uncached
    calls (see the module docstring)."""

    def __init__(
        self,
        request: BatchRequest,
        *,
        path: Path,
        identity: str,
        df: pd.DataFrame,
        suite: Suite,
        config: JudgeConfig,
        run_args: dict[str, Any],
        progress: bool,
    ) -> None:
        self.request = request
        self.path = path
        self.identity = identity
        self._df, self._suite, self._config, self._run_args = df, suite, config, run_args
        self._progress = progress
        self.job_id: str | None = find_job(path, identity)
        self.waiting: dict[str, str] = {}
        """Cache key -> the batch its reply still waits in (when not waited for to the end)."""
        self.batches: dict[str, BatchState] = {}
        """Every batch this run submitted or picked up, by id, with its latest state."""
        self.endpoints: dict[str, BatchEndpoint] = {}
        self.submitted = 0
        """Requests this run submitted in new batches."""
        self.batched = 0
        """Replies this run took from batches."""
        self.direct_usd: float | None = 0.0
        """What the batched replies would have cost as direct calls (None: unpriced)."""
        self.batch_usd: float | None = 0.0

    @property
    def done(self) -> bool:
        """No cell of the run waits in a batch any more."""
        return not self.waiting

    # --- the runner's door ---------------------------------------------------------------------

    async def complete(
        self, llm: LLM, requests: Sequence[tuple[str, Sequence[Mapping[str, Any]], Mapping[str, Any] | None]]
    ) -> dict[str, Completion | str]:
        """Replies for uncached requests ``(cache key, messages, response_format)``: a
        completion, or the text of an error cell (a failed or expired line, a batch still
        waiting); a key left out is to be called directly (``batch=False`` with
        ``retry_failed=True``)."""
        by_key = {k: (m, rf) for k, m, rf in requests}
        keys = list(by_key)
        since = stamp()
        out: dict[str, Completion | str] = {}
        wait_for: dict[str, list[str]] = {}
        rows: dict[str, BatchRow] = {}
        fresh, claims = self._sort(llm, keys, covering(self.path, keys), out, wait_for, rows)
        if not fresh and not wait_for and not claims:
            return out
        endpoint = self._endpoint(llm)
        if claims:
            fresh += await self._settle(llm, endpoint, claims, out, wait_for, rows)
        if fresh and self.request.submit:
            await self._submit(llm, endpoint, fresh, by_key, wait_for, rows, out, since)
        if wait_for:
            await self._wait(llm, endpoint, wait_for, rows, out)
        await release_clients()
        return out

    def _sort(
        self,
        llm: LLM,
        keys: Sequence[str],
        covers: Mapping[str, CellCover],
        out: dict[str, Completion | str],
        wait_for: dict[str, list[str]],
        rows: dict[str, BatchRow],
    ) -> tuple[list[str], dict[str, list[str]]]:
        """Sort keys by what covers them: none (returned, to submit), a batch to wait for
        (``wait_for``), a line that failed (its error in ``out``, or resubmitted with
        ``retry_failed``), or another process's claim still being submitted (returned)."""
        fresh: list[str] = []
        claims: dict[str, list[str]] = {}
        for k in keys:
            cover = covers.get(k)
            if cover is not None and llm.refresh and cover.batch.status in FINISHED:
                cover = None  # refresh=True asks the judge again: a finished batch's reply is not reused
            if cover is None:
                fresh.append(k)
            elif cover.batch.status == "submitting":
                claims.setdefault(cover.batch.id, []).append(k)
            elif cover.outcome == "failed":
                if self.request.retry_failed:
                    fresh.append(k)
                else:
                    failed = _failed(cover.batch.id, cover.batch.provider, cover.error)
                    out[k] = f"{failed}; retry_failed=True resubmits it"
            else:
                wait_for.setdefault(cover.batch.id, []).append(k)
                rows[cover.batch.id] = cover.batch
        return fresh, claims

    async def _settle(
        self,
        llm: LLM,
        endpoint: BatchEndpoint,
        claims: dict[str, list[str]],
        out: dict[str, Completion | str],
        wait_for: dict[str, list[str]],
        rows: dict[str, BatchRow],
    ) -> list[str]:
        """Resolve other submissions' claims on some keys: wait while their process submits
        (it turns the claim into a batch); when it died before recording the batch id, find
        the batch at the provider by the claim's tag and adopt it, or, if the provider never
        created one, drop the claim. Returns the keys left to submit."""
        free: list[str] = []
        pending = {cid: list(ks) for cid, ks in claims.items()}
        while pending:
            for cid, ks in list(pending.items()):
                row = batch_row(self.path, cid)
                if row is None:  # its process recorded the batch (or dropped the claim): look again
                    del pending[cid]
                    more, again = self._sort(llm, ks, covering(self.path, ks), out, wait_for, rows)
                    free += more
                    for other, other_keys in again.items():
                        pending.setdefault(other, []).extend(other_keys)
                    continue
                if _alive(row):
                    continue
                found = await find_batch(endpoint, _CLAIM, cid)
                if found is not None:
                    adopt_claim(self.path, cid, found.id, row.input_file, found.status)
                    wait_for.setdefault(found.id, []).extend(ks)
                    rows[found.id] = BatchRow(**{**row.__dict__, "id": found.id, "status": found.status})
                else:
                    drop_claim(self.path, cid)
                    free += ks
                del pending[cid]
            if pending:
                await asyncio.sleep(0.2)
        return free

    def _endpoint(self, llm: LLM) -> BatchEndpoint:
        if llm.model not in self.endpoints:
            self.endpoints[llm.model] = batch_endpoint(llm)
        return self.endpoints[llm.model]

    def _job(self) -> str:
        """The job's id, recorded (with the run's inputs) before its first batch is submitted."""
        if self.job_id is None:
            new = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
            self.job_id = record_job(
                self.path,
                new,
                self.identity,
                self._suite.to_yaml(),
                self._config.model,
                {"judge": self._config.to_params(), **self._run_args},
                encode_inputs(self._df),
            )
        return self.job_id

    # --- submitting ----------------------------------------------------------------------------

    async def _submit(
        self,
        llm: LLM,
        endpoint: BatchEndpoint,
        keys: list[str],
        by_key: Mapping[str, tuple[Sequence[Mapping[str, Any]], Mapping[str, Any] | None]],
        wait_for: dict[str, list[str]],
        rows: dict[str, BatchRow],
        out: dict[str, Completion | str],
        since: str,
    ) -> None:
        max_requests, max_bytes = PROVIDER_LIMITS.get(endpoint.provider, (50_000, 200 * 2**20))
        options = self.request.options
        max_requests = min(max_requests, options.max_requests or max_requests)
        max_bytes = min(max_bytes, options.max_bytes or max_bytes)
        chunks: list[tuple[list[str], list[bytes]]] = [([], [])]
        size = 0
        for k in keys:
            messages, rf = by_key[k]
            line = batch_line(endpoint, custom_id(k), messages, rf)
            if len(line) > max_bytes:
                out[k] = (
                    f"batch mode: this request is {len(line):,} bytes, more than a batch input file may hold "
                    f"({max_bytes:,}); run it with batch=False"
                )
                continue
            chunk_keys, chunk_lines = chunks[-1]
            if chunk_keys and (len(chunk_keys) >= max_requests or size + len(line) > max_bytes):
                chunks.append(([], []))
                chunk_keys, chunk_lines, size = chunks[-1][0], chunks[-1][1], 0
            chunk_keys.append(k)
            chunk_lines.append(line)
            size += len(line)
        job = self._job()
        owner = f"{socket.gethostname()}:{os.getpid()}"
        for chunk_keys, chunk_lines in chunks:
            if not chunk_keys:
                continue
            claim_id = "claim-" + secrets.token_hex(8)
            claim = BatchRow(
                id=claim_id,
                job=job,
                provider=endpoint.provider,
                model=llm.model,
                input_file="",
                requests=len(chunk_keys),
                owner=owner,
            )
            # claimed in the store first: a process submitting the same calls meanwhile waits for
            # this batch instead of submitting them again
            taken = claim_batch(self.path, claim, [(custom_id(k), k) for k in chunk_keys], since)
            if taken:
                others: dict[str, list[str]] = {}
                for k, other in taken.items():
                    if other.status == "submitting":
                        others.setdefault(other.id, []).append(k)
                    else:
                        wait_for.setdefault(other.id, []).append(k)
                        rows[other.id] = other
                await self._settle(llm, endpoint, others, out, wait_for, rows)
                kept = [(k, line) for k, line in zip(chunk_keys, chunk_lines) if k not in taken]
                chunk_keys, chunk_lines = [k for k, _ in kept], [line for _, line in kept]
                if not chunk_keys:
                    continue
            _IN_FLIGHT.add(claim_id)
            try:
                input_file, state = await submit_batch(
                    endpoint,
                    b"".join(chunk_lines),
                    {"workbench_job": job, _CLAIM: claim_id, "workbench_requests": str(len(chunk_keys))},
                    options.completion_window,
                )
            except WorkbenchError as e:
                drop_claim(self.path, claim_id)
                for k in chunk_keys:
                    out[k] = str(e)
                continue
            finally:  # cancelled mid-way, the claim stays: a later run finds its batch by the tag
                _IN_FLIGHT.discard(claim_id)
            # recorded before anything else happens: a process killed now leaves a batch to pick up
            adopt_claim(self.path, claim_id, state.id, input_file, state.status)
            row = BatchRow(
                id=state.id,
                job=job,
                provider=endpoint.provider,
                model=llm.model,
                input_file=input_file,
                requests=len(chunk_keys),
                status=state.status,
            )
            self.submitted += len(chunk_keys)
            self.batches[state.id] = state
            wait_for[state.id] = chunk_keys
            rows[state.id] = row

    # --- waiting and reading -------------------------------------------------------------------

    async def _wait(
        self,
        llm: LLM,
        endpoint: BatchEndpoint,
        wait_for: dict[str, list[str]],
        rows: dict[str, BatchRow],
        out: dict[str, Completion | str],
    ) -> None:
        options = self.request.options
        deadline = None if options.timeout_s is None else time.monotonic() + options.timeout_s
        open_ids = list(wait_for)
        failures = dict.fromkeys(open_ids, 0)
        states: dict[str, BatchState] = {}
        bar = batch_bar(self._progress and self.request.wait)
        interval = options.poll_s
        try:
            while open_ids:
                for bid in list(open_ids):
                    try:
                        state = await retrieve_batch(endpoint, bid)
                    except WorkbenchError as e:
                        failures[bid] += 1
                        if failures[bid] >= _POLL_FAILURES:
                            for k in wait_for[bid]:
                                out[k] = (
                                    f"{e} ({_POLL_FAILURES} polls in a row failed; running again resumes)"
                                )
                            open_ids.remove(bid)
                        continue
                    failures[bid] = 0
                    states[bid] = self.batches[bid] = state
                    update_batch(
                        self.path,
                        bid,
                        status=state.status,
                        completed=state.completed,
                        failed=state.failed,
                        output_file=state.output_file,
                        error_file=state.error_file,
                        message=state.message,
                    )
                    if state.status in FINISHED:
                        await self._collect(llm, endpoint, rows[bid], state, wait_for[bid], out)
                        open_ids.remove(bid)
                if bar is not None and states:
                    bar.update(states)
                if not open_ids:
                    break
                if not self.request.wait or (deadline is not None and time.monotonic() >= deadline):
                    break
                pause = interval if deadline is None else min(interval, max(0.0, deadline - time.monotonic()))
                await asyncio.sleep(pause)
                interval = min(interval * 1.5, options.max_poll_s)
        finally:
            if bar is not None:
                bar.close()
        job = self.job_id or (rows[open_ids[0]].job if open_ids else None)
        for bid in open_ids:
            state_now = states.get(bid)
            status = state_now.status if state_now is not None else rows[bid].status
            done = (
                f"{state_now.completed + state_now.failed:,} of {state_now.total:,} requests done"
                if state_now
                else ""
            )
            how = (
                f"wb.resume({job!r}) or running this evaluate again collects it"
                if job
                else "running again collects it"
            )
            for k in wait_for[bid]:
                if k not in out:
                    where = f"{status}: {done}" if done else status
                    out[k] = f"waiting in batch {bid} at {endpoint.provider!r} ({where}); {how}"
                    self.waiting[k] = bid
        if self.job_id is None and job is not None:
            self.job_id = job

    async def _collect(
        self,
        llm: LLM,
        endpoint: BatchEndpoint,
        row: BatchRow,
        state: BatchState,
        keys: Sequence[str],
        out: dict[str, Completion | str],
    ) -> None:
        """Read a finished batch's output and error files: each reply to the cache as it is read,
        each failed line's message to its cell; a download that breaks is read again (the lines
        already read are skipped)."""
        needed = set(keys)
        seen: set[str] = set()
        marks: list[tuple[str, str, str | None]] = []
        problem: str | None = None
        for file_id in (state.output_file, state.error_file):
            if not file_id:
                continue
            for attempt in range(3):
                try:
                    async for line in read_lines(endpoint, file_id):
                        key = line.custom_id.removeprefix(_PREFIX)
                        if not line.custom_id or key in seen:
                            continue
                        seen.add(key)
                        if line.completion is not None:
                            keep_line(llm, key, line.completion)  # cached before anything else sees it
                            marks.append((line.custom_id, "ok", None))
                            if key in needed:
                                out[key] = line.completion
                                self._count(llm, line.completion)
                        else:
                            marks.append((line.custom_id, "failed", line.error))
                            if key in needed:
                                out[key] = _failed(state.id, endpoint.provider, line.error)
                        if len(marks) >= 500:
                            mark_lines(self.path, state.id, marks)
                            marks = []
                    problem = None
                    break
                except WorkbenchError as e:
                    problem = str(e)
                    await asyncio.sleep(0.2 * (attempt + 1))
        mark_lines(self.path, state.id, marks)
        missing = [k for k in keys if k not in out]
        if not missing:
            return
        if problem is not None:
            for k in missing:
                out[k] = f"{problem}; the lines read were cached, running again reads the rest"
            return
        why = (
            f"the whole batch failed: {state.message}"
            if state.status == "failed" and state.message
            else f"the provider returned no line for this request (batch status {state.status!r})"
        )
        mark_lines(self.path, state.id, [(custom_id(k), "failed", why) for k in missing])
        for k in missing:
            out[k] = _failed(state.id, endpoint.provider, why)

    def _count(self, llm: LLM, c: Completion) -> None:
        self.batched += 1
        direct = llm.price(c.prompt_tokens or 0, c.completion_tokens or 0)
        self.direct_usd = None if self.direct_usd is None or direct is None else self.direct_usd + direct
        self.batch_usd = None if self.batch_usd is None or c.cost_usd is None else self.batch_usd + c.cost_usd

    # --- the end of the run --------------------------------------------------------------------

    def finish(self, run: Run) -> Run:
        """The run as ``evaluate`` returns it: a :class:`PendingRun` while cells wait in batches;
        otherwise the run itself, its job marked done and its id the job's (when saved)."""
        run.calls.update(
            {
                "batched": self.batched,
                "batch_submitted": self.submitted,
                "batch_cost_usd": self.batch_usd if self.batched else 0.0,
                "direct_cost_usd": self.direct_usd if self.batched else 0.0,
            }
        )
        if self.waiting:
            job = self.job_id or ""
            return PendingRun(
                suite=run.suite,
                results=run.results,
                model=run.model,
                started_at=run.started_at,
                duration_s=run.duration_s,
                calls=run.calls,
                id=job,
                label=run.label,
                data_fingerprint=run.data_fingerprint,
                params=run.params,
                batches=sorted(set(self.waiting.values())),
                waiting=len(self.waiting),
                store_path=str(self.path),
                endpoints=dict(self.endpoints),
            )
        if self.job_id is not None and finish_job(self.path, self.job_id) and self._run_args.get("save"):
            run.id = self.job_id
        return run


def add_batch_prices(estimate: pd.DataFrame) -> pd.DataFrame:
    """``estimate``'s frame with ``cost_usd_batch_est``: the same calls at the batch price."""
    import numpy as np
    import pandas as pd

    out: pd.DataFrame = estimate.copy()
    prices: list[float | None] = []
    for rec in out.to_dict("records"):
        if rec["task"] == "total":
            prices.append(None)
            continue
        prices.append(
            batch_price(rec["model"], int(rec["prompt_tokens_est"]), int(rec["completion_tokens_est"]))
        )
    known = [p for p, t in zip(prices, out["task"]) if t != "total"]
    total = float(sum(p for p in known if p is not None)) if all(p is not None for p in known) else None
    prices = [total if t == "total" else p for p, t in zip(prices, out["task"])]
    values = np.array([np.nan if p is None else p for p in prices], dtype=float)
    out["cost_usd_batch_est"] = pd.array(values, dtype="Float64")
    return out
