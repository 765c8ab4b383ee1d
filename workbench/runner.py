"""Runs judge tasks over rows: renders messages, calls the judge concurrently (cache first),
parses and validates verdicts, and returns result blocks. Errors are cells, never scores.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import judge
from .config import JudgeConfig
from .context import Context
from .errors import JudgeParseError, WorkbenchError, shorten
from .llm import LLM, Completion
from .paths import PathError, to_plain
from .results import ERROR, FAILED, PASSED, SCORED, SKIPPED, CellColumns
from .specs import Criterion, JudgeTask

if TYPE_CHECKING:
    from .batch._session import BatchSession

__all__ = ["JudgeRunner", "Progress"]

_RAW_KEPT = 2000
"""How much of an unusable reply an error cell keeps."""


class Progress:
    """Counts calls as they finish; ``on_update`` (e.g. a progress bar) sees every change."""

    def __init__(self, on_update: Callable[[Progress], None] | None = None) -> None:
        self.total = self.done = self.cached = self.errors = 0
        self.unsent = 0
        """Calls never made because the circuit breaker opened (the provider is unreachable)."""
        self.cost_usd = 0.0
        self.saved_usd = 0.0
        self.unpriced = 0
        """Calls made (not cached) whose price litellm did not know."""
        self.on_update = on_update

    def planned(self, n: int) -> None:
        self.total += n
        if self.on_update:
            self.on_update(self)

    def finished(self, c: Completion) -> None:
        self.done += 1
        self.cached += c.cached
        self.errors += c.error is not None
        self.unsent += c.unsent
        self.cost_usd += c.cost_usd or 0.0
        self.unpriced += c.error is None and c.cost_usd is None
        self.saved_usd += c.saved_usd or 0.0
        if self.on_update:
            self.on_update(self)


def _prefetched_keys(llm: LLM, jobs: list[tuple[int, int, Any, Any]]) -> dict[tuple[int, int], str]:
    """The cache key of every renderable planned call, by ``(row, group)``, with their
    cache entries read from disk in bulk."""
    ok = [(i, g, m, rf) for i, g, m, rf in jobs if not isinstance(m, str)]
    keys = dict(zip(((i, g) for i, g, _, _ in ok), llm.keys([(m, rf) for _, _, m, rf in ok])))
    llm.prefetch(list(keys.values()))
    return keys


@dataclass
class _Cell:
    """The outcome of one (row, group of criteria) judge call, repair included."""

    verdicts: dict[str, judge.Verdict] | None = None
    error: str | None = None
    tokens: int | None = None
    cost_usd: float | None = None
    latency_s: float | None = None
    cached: bool = False


class JudgeRunner:
    """Runs :class:`JudgeTask` s; holds one :class:`LLM` per model for the whole run."""

    def __init__(
        self, judge: JudgeConfig, progress: Progress | None = None, batch: BatchSession | None = None
    ) -> None:
        self.config = judge
        self.progress = progress or Progress()
        self.batch = batch
        """Batch mode: the uncached calls go to provider batches through it (None: direct calls)."""
        self._llms: dict[str, LLM] = {}

    def llm(self, task: JudgeTask) -> LLM:
        model = task.model or self.config.model
        if not model:  # evaluate checks this first (inputs.require_models); a direct caller may not
            raise WorkbenchError(
                f"judge task {task.id!r} needs a model: set JudgeConfig.model or the task's model"
            )
        if model not in self._llms:
            self._llms[model] = LLM(model, self.config)
        return self._llms[model]

    def close(self) -> None:
        for llm in self._llms.values():
            llm.close()

    def groups(self, task: JudgeTask) -> list[list[Criterion]]:
        """The criteria judged together in one call."""
        return [list(task.criteria)] if task.mode == "joint" else [[c] for c in task.criteria]

    def plan(self, task: JudgeTask, ctx: Context, skip: np.ndarray) -> list[tuple[int, int, Any, Any]]:
        """``(row, group, messages or error text, response_format)`` for every call to make."""
        lookups = _template_columns(task, ctx)
        jobs: list[tuple[int, int, Any, Any]] = []
        groups = self.groups(task)
        formats = [judge.response_format(task, g) for g in groups]
        # the same bytes as judge.build_messages, with the system prompt built once per group
        systems = [{"role": "system", "content": judge.system_prompt(task, g)} for g in groups]
        for i in range(ctx.n):
            if skip[i] is not None:
                continue
            problem = next(
                (
                    f"prompt template '${{{p}}}': {m[i]}"
                    for p, (_, m) in lookups.items()
                    if m is not None and m[i] is not None
                ),
                None,
            )
            if problem is None:
                try:
                    user = judge.render_prompt(
                        task,
                        lambda p, i=i: to_plain(lookups[p.strip()][0][i]),
                        max_field_chars=self.config.max_field_chars,
                    )
                except PathError as e:
                    problem = f"prompt: {e}"
                else:
                    problem = _not_unicode(user)
            for g in range(len(groups)):
                if problem:
                    jobs.append((i, g, problem, None))
                else:
                    jobs.append((i, g, [systems[g], {"role": "user", "content": user}], formats[g]))
        return jobs

    def estimate(self, task: JudgeTask, ctx: Context, skip: np.ndarray) -> dict[str, Any]:
        """Calls this task would make, how many the cache already holds, and the estimated
        tokens and cost of the rest (prompt tokens ~ characters / 4; ~60 completion tokens
        per criterion)."""
        llm = self.llm(task)
        calls = cached = unrenderable = prompt_chars = completion = 0
        new_at = np.zeros(ctx.n, dtype=np.int64)
        jobs = self.plan(task, ctx, skip)
        keys = _prefetched_keys(llm, jobs)
        for i, g, messages, rf in jobs:
            calls += 1
            if isinstance(messages, str):
                unrenderable += 1
                continue
            if llm.cached(keys[(i, g)]) is not None:
                cached += 1
                continue
            new_at[i] += 1
            prompt_chars += sum(len(m["content"]) for m in messages) + len(str(rf))
            completion += 60 * len(self.groups(task)[g])
        prompt = prompt_chars // 4
        new = calls - cached
        cost = llm.price(prompt, completion)  # 0.0 for no new call, None when the price is unknown
        return {
            "task": task.id,
            "model": llm.model,
            "mode": task.mode,
            "calls": calls,
            "cached": cached,
            "new": new,
            "unrenderable": unrenderable,
            "prompt_tokens_est": prompt,
            "completion_tokens_est": completion,
            "cost_usd_est": cost,
            "new_at": new_at,
        }

    async def run(self, task: JudgeTask, ctx: Context, skip: np.ndarray) -> list[CellColumns]:
        """Judge every non-skipped row; one CellColumns per criterion (plus ``overall`` if asked)."""
        llm = self.llm(task)
        jobs = self.plan(task, ctx, skip)
        self.progress.planned(sum(1 for j in jobs if isinstance(j[2], list)))
        groups = self.groups(task)
        outcomes: dict[tuple[int, int], _Cell] = {}

        async def one(
            i: int,
            g: int,
            messages: list[dict[str, str]],
            rf: dict[str, Any],
            key: str,
            hit: Completion | None,
        ) -> None:
            outcomes[(i, g)] = await self._call(llm, task, groups[g], messages, rf, key, hit)

        keys = _prefetched_keys(llm, jobs)
        pending = []
        misses: list[tuple[int, int, Any, Any, str]] = []
        for i, g, messages, rf in jobs:
            if isinstance(messages, str):
                outcomes[(i, g)] = _Cell(error=messages)
                continue
            key = keys[(i, g)]
            hit = llm.cached(key)
            if hit is not None:  # a cache hit is settled here, without a task per call
                self.progress.finished(hit)
                cell = _cell_from(hit)
                try:
                    cell.verdicts = judge.parse_verdict(hit.text or "", task, groups[g], _untrusted(messages))
                except JudgeParseError:
                    pending.append(one(i, g, messages, rf, key, hit))  # needs its repair call
                    continue
                outcomes[(i, g)] = cell
                continue
            misses.append((i, g, messages, rf, key))
        replies = (
            await self.batch.complete(llm, [(key, m, rf) for _, _, m, rf, key in misses])
            if self.batch is not None and misses
            else {}
        )
        for i, g, messages, rf, key in misses:
            reply = replies.get(key)
            if isinstance(reply, str):  # a batch line that failed or expired, or still waits
                self.progress.finished(Completion(text=None, error=reply))
                outcomes[(i, g)] = _Cell(error=reply, cost_usd=0.0)  # nothing is billed for it
            elif reply is not None:  # a batch reply is a completion like any other; a repair is direct
                self.progress.finished(reply)
                pending.append(one(i, g, messages, rf, key, reply))
            else:
                pending.append(one(i, g, messages, rf, key, None))
        await asyncio.gather(*pending)
        return _blocks(task, groups, outcomes, ctx.n, skip)

    async def _call(
        self,
        llm: LLM,
        task: JudgeTask,
        criteria: list[Criterion],
        messages: list[dict[str, str]],
        rf: dict[str, Any],
        key: str,
        first: Completion | None = None,
    ) -> _Cell:
        """One cell: the call (or its cached reply ``first``), and one repair call when the
        reply cannot be used. A cached reply that stays unusable after its (cached) repair is
        not final: both calls are made again, so an errored cell is retried on every run."""
        fresh = first is None
        if first is None:
            first = await llm.complete(messages, rf, key=key, check_cache=False)
            self.progress.finished(first)
        cell = _cell_from(first)
        if first.unsent:
            cell.error = f"judge call not made: {first.error}"
            return cell
        if first.error is not None:
            cell.error = f"judge call failed after {first.attempts} attempt(s): {first.error}"
            return cell
        try:
            cell.verdicts = judge.parse_verdict(first.text or "", task, criteria, _untrusted(messages))
            return cell
        except JudgeParseError as e:
            problem = e
        repair_messages = judge.repair_messages(messages, first.text or "", problem)
        repair_key = llm.key(repair_messages, rf)
        cached_repair = None if fresh else llm.cached(repair_key)
        if cached_repair is not None:
            self.progress.planned(1)
            if _parses(cached_repair, task, criteria, _untrusted(messages)):
                self.progress.finished(cached_repair)
                return self._repaired(cell, first, cached_repair, problem, task, criteria, messages)
            # the cached pair gave no verdict: not final, ask both again
            return await self._call(llm, task, criteria, messages, rf, key, None)
        self.progress.planned(1)
        repair = await llm.complete(repair_messages, rf, key=repair_key, check_cache=False)
        self.progress.finished(repair)
        return self._repaired(cell, first, repair, problem, task, criteria, messages)

    @staticmethod
    def _repaired(
        cell: _Cell,
        first: Completion,
        repair: Completion,
        problem: JudgeParseError,
        task: JudgeTask,
        criteria: list[Criterion],
        messages: list[dict[str, str]],
    ) -> _Cell:
        cell.tokens = _add(cell.tokens, repair.tokens)
        cell.cost_usd = _add(cell.cost_usd, repair.cost_usd) if first.cost_usd is not None else None
        cell.latency_s = (cell.latency_s or 0.0) + repair.latency_s
        cell.cached = cell.cached and repair.cached
        if repair.error is not None:
            cell.error = (
                f"judge reply could not be used ({problem}) and the repair call failed: "
                f"{repair.error}; raw reply: {shorten(first.text or '', _RAW_KEPT)!r}"
            )
            return cell
        try:
            cell.verdicts = judge.parse_verdict(repair.text or "", task, criteria, _untrusted(messages))
        except JudgeParseError as e:
            cell.error = (
                f"judge reply could not be used, even after one repair call: {e}; "
                f"raw reply: {shorten(first.text or '', _RAW_KEPT)!r}; "
                f"repair reply: {shorten(repair.text or '', _RAW_KEPT)!r}"
            )
        return cell


def _not_unicode(text: str) -> str | None:
    """Why ``text`` cannot be sent (a lone surrogate is not valid Unicode), or None."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return (
            f"prompt: the rendered text is not valid Unicode ({e.reason}: {e.object[e.start : e.end]!r} at "
            f"character {e.start}); clean the data, e.g. s.encode('utf-8', 'replace').decode()"
        )
    return None


def _untrusted(messages: Sequence[Mapping[str, str]]) -> str:
    """The user message: the prompt with the judged data fenced in it."""
    return messages[-1]["content"]


def _parses(c: Completion, task: JudgeTask, criteria: list[Criterion], untrusted: str) -> bool:
    try:
        judge.parse_verdict(c.text or "", task, criteria, untrusted)
    except JudgeParseError:
        return False
    return True


def _cell_from(c: Completion) -> _Cell:
    return _Cell(tokens=c.tokens, cost_usd=c.cost_usd, latency_s=c.latency_s, cached=c.cached)


def _add(a: int | float | None, b: int | float | None) -> Any:
    return None if a is None and b is None else (a or 0) + (b or 0)


def _template_columns(task: JudgeTask, ctx: Context) -> dict[str, tuple[list[Any], list[str | None] | None]]:
    """Per template path of the prompt: its value per row, and why it is missing per row."""
    from .paths import template_paths

    out: dict[str, tuple[list[Any], list[str | None] | None]] = {}
    for p in dict.fromkeys(template_paths(task.prompt)):
        try:
            values, missing = ctx.extract(p)
        except PathError as e:
            out[p] = ([None] * ctx.n, [str(e)] * ctx.n)
            continue
        out[p] = (
            values.tolist(),
            None if missing is None else [None if m is None else str(m) for m in missing],
        )
    return out


def _blocks(
    task: JudgeTask,
    groups: list[list[Criterion]],
    outcomes: Mapping[tuple[int, int], _Cell],
    n: int,
    skip: np.ndarray,
) -> list[CellColumns]:
    blocks = []
    verdicts_by_row: list[dict[str, judge.Verdict]] = [{} for _ in range(n)]
    for g, group in enumerate(groups):
        share = len(group)
        for k, criterion in enumerate(group):
            b = _empty_block(task.id, criterion.name, n)
            for i in range(n):
                if skip[i] is not None:
                    b.status[i], b.reason[i] = SKIPPED, f"skipped: {skip[i]}"
                    continue
                cell = outcomes[(i, g)]
                b.cached[i] = cell.cached
                if cell.latency_s is not None:
                    b.latency_s[i] = cell.latency_s
                # a joint call's tokens and cost are split across its criteria, so sums stay right
                if cell.tokens is not None:
                    b.tokens[i] = cell.tokens // share + (cell.tokens % share if k == 0 else 0)
                if cell.cost_usd is not None:
                    b.cost_usd[i] = cell.cost_usd / share
                if cell.error is not None or cell.verdicts is None:
                    b.status[i], b.error[i] = ERROR, cell.error or "no verdict"
                    continue
                v = cell.verdicts[criterion.name]
                verdicts_by_row[i][criterion.name] = v
                b.score[i] = np.nan if v.score is None else v.score
                b.label[i] = v.label
                b.reason[i] = v.reason
                b.status[i] = SCORED if v.passed is None else (PASSED if v.passed else FAILED)
            blocks.append(b)
    if task.overall:
        blocks.append(_overall_block(task, verdicts_by_row, blocks, n))
    return blocks


def _empty_block(task_id: str, criterion: str, n: int) -> CellColumns:
    return CellColumns(
        task_id,
        criterion,
        "judge",
        status=np.full(n, ERROR, dtype=np.int8),
        reason=np.full(n, None, dtype=object),
        error=np.full(n, None, dtype=object),
        score=np.full(n, np.nan),
        label=np.full(n, None, dtype=object),
        cached=np.zeros(n, dtype=bool),
        tokens=np.full(n, np.nan),
        cost_usd=np.full(n, np.nan),
        latency_s=np.full(n, np.nan),
    )


def _overall_block(
    task: JudgeTask, verdicts: Sequence[dict[str, judge.Verdict]], blocks: list[CellColumns], n: int
) -> CellColumns:
    b = _empty_block(task.id, "overall", n)
    threshold = task.threshold if isinstance(task.threshold, (int, float)) else None
    for i in range(n):
        statuses = [x.status[i] for x in blocks]
        if any(s == SKIPPED for s in statuses):
            b.status[i], b.reason[i] = SKIPPED, blocks[0].reason[i]
            continue
        score = judge.overall(task, verdicts[i])
        if score is None:
            b.status[i], b.error[i] = (
                ERROR,
                "overall needs a score for every criterion; some errored or have none",
            )
            continue
        b.score[i] = score
        b.reason[i] = "weighted mean of " + ", ".join(f"{c.name}×{c.weight:g}" for c in task.criteria)
        b.status[i] = SCORED if threshold is None else (PASSED if score >= threshold else FAILED)
    return b
