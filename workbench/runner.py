"""Runs judge tasks over rows: renders messages, calls the judge concurrently (cache first),
parses and validates verdicts, and returns result blocks. Errors are cells, never scores.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

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
    from .batch import BatchSession

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

    def finished_hits(self, saved_usd: Sequence[float], unpriced: int) -> None:
        """Count cache hits settled together, as :meth:`finished` would one by one: one
        ``saved_usd`` per hit (what its call cost, 0.0 when unknown), in order, and how many
        of them are of a model whose price litellm does not know. ``on_update`` sees the
        new counts once.

        Example:
            >>> p = Progress()
            >>> p.planned(2); p.finished_hits([0.25, 0.5], unpriced=0)
            >>> p.done, p.cached, p.saved_usd
            (2, 2, 0.75)
        """
        self.done += len(saved_usd)
        self.cached += len(saved_usd)
        total = self.saved_usd
        for s in saved_usd:  # one by one, in order: the same float as hit-by-hit sums
            total += s
        self.saved_usd = total
        self.unpriced += unpriced
        if self.on_update:
            self.on_update(self)


_FLUSH = 8192
"""Cache hits counted between two progress updates of a warm rerun."""


def _prefetched_keys(llm: LLM, jobs: list[tuple[int, int, Any, Any]]) -> list[str | None]:
    """The cache key of every planned call, in the order of ``jobs`` (``None`` where the
    prompt could not be rendered), with their cache entries read from disk in bulk."""
    found = llm.keys([(m, rf) for _, _, m, rf in jobs if not isinstance(m, str)])
    llm.prefetch(found)
    it = iter(found)
    return [None if isinstance(m, str) else next(it) for _, _, m, _ in jobs]


def _group_requests(
    task: JudgeTask, groups: list[list[Criterion]]
) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """The system message and the response format of each group's calls, made once: the
    same bytes as :func:`judge.build_messages` and :func:`judge.response_format`."""
    systems = [{"role": "system", "content": judge.system_prompt(task, g)} for g in groups]
    return systems, [judge.response_format(task, g) for g in groups]


class _Requests(Sequence[tuple[list[dict[str, str]], dict[str, Any]]]):
    """The ``(messages, response_format)`` of every call of the rendered rows, row by row
    and group by group, each made when it is read. A warm rerun needs only their keys, and
    holding 50,000 message lists alive would cost more in garbage-collector passes than
    hashing them does."""

    def __init__(
        self, users: list[dict[str, str]], systems: list[dict[str, str]], formats: list[dict[str, Any]]
    ) -> None:
        self.users, self.systems, self.formats = users, systems, formats

    def __len__(self) -> int:
        return len(self.users) * len(self.systems)

    @overload
    def __getitem__(self, k: int) -> tuple[list[dict[str, str]], dict[str, Any]]: ...
    @overload
    def __getitem__(self, k: slice) -> list[tuple[list[dict[str, str]], dict[str, Any]]]: ...
    def __getitem__(self, k: int | slice) -> Any:
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        row, g = divmod(k, len(self.systems))
        return [self.systems[g], self.users[row]], self.formats[g]

    def __iter__(self) -> Iterator[tuple[list[dict[str, str]], dict[str, Any]]]:
        pairs = list(zip(self.systems, self.formats))
        for user in self.users:
            for system, rf in pairs:
                yield [system, user], rf


@dataclass
class _Cell:
    """The outcome of one (row, group of criteria) judge call, repair included."""

    readings: tuple[judge.Reading, ...] | None = None
    """One ``(score, label, passed, reason)`` per criterion of the group, in order."""
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

    def prompts(
        self, task: JudgeTask, ctx: Context, skip: np.ndarray
    ) -> list[tuple[int, dict[str, str] | str]]:
        """``(row, user message or why it cannot be sent)`` for every row not skipped. The
        user message does not depend on the criteria: it is rendered once per row, and the
        same dict is the user message of every call of that row."""
        lookups = _template_columns(task, ctx)
        out: list[tuple[int, dict[str, str] | str]] = []
        # only the paths missing somewhere are looked at per row
        gaps = [(p, m) for p, (_, m) in lookups.items() if m is not None]
        for i in range(ctx.n):
            if skip[i] is not None:
                continue
            problem = None
            for p, m in gaps:
                if m[i] is not None:
                    problem = f"prompt template '${{{p}}}': {m[i]}"
                    break
            if problem is None:

                def lookup(p: str, i: int = i) -> Any:
                    return to_plain(lookups[p.strip()][0][i])

                try:
                    user = judge.render_prompt(task, lookup, max_field_chars=self.config.max_field_chars)
                except PathError as e:
                    problem = f"prompt: {e}"
                else:
                    problem = _not_unicode(user)
            out.append((i, problem or {"role": "user", "content": user}))
        return out

    def plan(self, task: JudgeTask, ctx: Context, skip: np.ndarray) -> list[tuple[int, int, Any, Any]]:
        """``(row, group, messages or error text, response_format)`` for every call to make."""
        systems, formats = _group_requests(task, self.groups(task))
        jobs: list[tuple[int, int, Any, Any]] = []
        for i, user in self.prompts(task, ctx, skip):
            if isinstance(user, str):
                jobs.extend((i, g, user, None) for g in range(len(systems)))
            else:
                jobs.extend(
                    (i, g, [system, user], rf) for g, (system, rf) in enumerate(zip(systems, formats))
                )
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
        for (i, g, messages, rf), key in zip(jobs, keys):
            calls += 1
            if key is None:
                unrenderable += 1
                continue
            if llm.cached(key) is not None:
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
        groups = self.groups(task)
        systems, formats = _group_requests(task, groups)
        prompts = self.prompts(task, ctx, skip)
        users = [u for _, u in prompts if not isinstance(u, str)]
        self.progress.planned(len(users) * len(groups))
        readers = [judge.VerdictReader(task, g) for g in groups]
        columns = _Columns(task, groups, ctx.n, skip)

        async def one(
            i: int,
            g: int,
            messages: list[dict[str, str]],
            rf: dict[str, Any],
            key: str,
            hit: Completion | None,
        ) -> None:
            columns.put(g, i, await self._call(llm, readers[g], messages, rf, key, hit))

        keys = llm.keys(_Requests(users, systems, formats))
        llm.prefetch(keys)
        pending = []
        # cache hits are settled here, column by column, without a task, a cell object or a
        # message list each: a warm rerun of 50,000 cells is this loop
        saved: list[float] = []
        unpriced = 0
        cached, hit_at, fail = llm.cached, columns.hit, columns.fail
        misses: list[tuple[int, int, list[dict[str, str]], dict[str, Any], str]] = []
        k = 0
        for i, user in prompts:
            if isinstance(user, str):
                for g in range(len(groups)):
                    fail(g, i, user)
                continue
            untrusted = user["content"]
            for g, reader in enumerate(readers):
                key = keys[k]
                k += 1
                hit = cached(key)
                if hit is None:
                    misses.append((i, g, [systems[g], user], formats[g], key))
                    continue
                saved.append(hit.saved_usd or 0.0)
                unpriced += hit.cost_usd is None
                if len(saved) >= _FLUSH:
                    self.progress.finished_hits(saved, unpriced)
                    saved, unpriced = [], 0
                try:
                    readings = reader.readings(hit.text or "", untrusted)
                except JudgeParseError:  # needs its repair call
                    pending.append(one(i, g, [systems[g], user], formats[g], key, hit))
                    continue
                hit_at(g, i, hit, readings)
        if saved:
            self.progress.finished_hits(saved, unpriced)
        replies = (
            await self.batch.complete(llm, [(key, m, rf) for _, _, m, rf, key in misses])
            if self.batch is not None and misses
            else {}
        )
        for i, g, messages, rf, key in misses:
            reply = replies.get(key)
            if isinstance(reply, str):  # a batch line that failed or expired, or still waits
                self.progress.finished(Completion(text=None, error=reply))
                columns.put(g, i, _Cell(error=reply, cost_usd=0.0))  # nothing is billed for it
            elif reply is not None:  # a batch reply is a completion like any other; a repair is direct
                self.progress.finished(reply)
                pending.append(one(i, g, messages, rf, key, reply))
            else:
                pending.append(one(i, g, messages, rf, key, None))
        await asyncio.gather(*pending)
        return columns.blocks()

    async def _call(
        self,
        llm: LLM,
        reader: judge.VerdictReader,
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
            cell.readings = reader.readings(first.text or "", _untrusted(messages))
            return cell
        except JudgeParseError as e:
            problem = e
        repair_messages = judge.repair_messages(messages, first.text or "", problem)
        repair_key = llm.key(repair_messages, rf)
        cached_repair = None if fresh else llm.cached(repair_key)
        if cached_repair is not None:
            self.progress.planned(1)
            if _parses(cached_repair, reader, _untrusted(messages)):
                self.progress.finished(cached_repair)
                return self._repaired(cell, first, cached_repair, problem, reader, messages)
            # the cached pair gave no verdict: not final, ask both again
            return await self._call(llm, reader, messages, rf, key, None)
        self.progress.planned(1)
        repair = await llm.complete(repair_messages, rf, key=repair_key, check_cache=False)
        self.progress.finished(repair)
        return self._repaired(cell, first, repair, problem, reader, messages)

    @staticmethod
    def _repaired(
        cell: _Cell,
        first: Completion,
        repair: Completion,
        problem: JudgeParseError,
        reader: judge.VerdictReader,
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
            cell.readings = reader.readings(repair.text or "", _untrusted(messages))
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


def _parses(c: Completion, reader: judge.VerdictReader, untrusted: str) -> bool:
    try:
        reader.readings(c.text or "", untrusted)
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


class _Columns:
    """The cells of one judge task, written as they are settled: per group of criteria what
    its call cost, per criterion its verdict; :meth:`blocks` makes the CellColumns."""

    def __init__(self, task: JudgeTask, groups: list[list[Criterion]], n: int, skip: np.ndarray) -> None:
        self.task, self.groups, self.n, self.skip = task, groups, n, skip
        k = len(groups)
        self.cached = [np.zeros(n, dtype=bool) for _ in range(k)]
        self.latency_s = [np.full(n, np.nan) for _ in range(k)]
        self.tokens = [np.full(n, np.nan) for _ in range(k)]
        self.cost_usd = [np.full(n, np.nan) for _ in range(k)]
        self.error = [np.full(n, None, dtype=object) for _ in range(k)]
        self.criteria = [[_empty_block(task.id, c.name, n) for c in group] for group in groups]
        # per group, the cache hits as they come (row, tokens, cost, latency, readings): a list
        # append each, written into the arrays column-wise at the end
        self.hits: list[tuple[list[int], list[Any], list[Any], list[float], list[Any]]] = [
            ([], [], [], [], []) for _ in range(k)
        ]
        skipped = [i for i in range(n) if skip[i] is not None]
        if skipped:
            reasons = np.array([f"skipped: {skip[i]}" for i in skipped], dtype=object)
            for group in self.criteria:
                for b in group:
                    b.status[skipped] = SKIPPED
                    b.reason[skipped] = reasons

    def hit(self, g: int, i: int, c: Completion, readings: tuple[judge.Reading, ...]) -> None:
        """A cache hit with its readings."""
        rows, tokens, cost, latency, read = self.hits[g]
        rows.append(i)
        tokens.append(c.tokens)
        cost.append(c.cost_usd)
        latency.append(c.latency_s)
        read.append(readings)

    def fail(self, g: int, i: int, error: str) -> None:
        """A cell with no call: its prompt could not be rendered."""
        self.error[g][i] = error

    def put(self, g: int, i: int, cell: _Cell) -> None:
        """A cell settled by a call (or a cached reply and its repair)."""
        self.cached[g][i] = cell.cached
        if cell.latency_s is not None:
            self.latency_s[g][i] = cell.latency_s
        if cell.tokens is not None:
            self.tokens[g][i] = cell.tokens
        if cell.cost_usd is not None:
            self.cost_usd[g][i] = cell.cost_usd
        if cell.error is not None or cell.readings is None:
            self.error[g][i] = cell.error or "no verdict"
            return
        self._verdicts(g, i, cell.readings)

    def _verdicts(self, g: int, i: int, readings: tuple[judge.Reading, ...]) -> None:
        for b, (score, label, passed, reason) in zip(self.criteria[g], readings):
            assert b.score is not None and b.label is not None
            b.score[i] = np.nan if score is None else score
            b.label[i] = label
            b.reason[i] = reason
            b.status[i] = SCORED if passed is None else (PASSED if passed else FAILED)

    def _write_hits(self, g: int, group: list[CellColumns]) -> None:
        rows, tokens, cost, latency, read = self.hits[g]
        if not rows:
            return
        at = np.array(rows, dtype=np.intp)
        self.cached[g][at] = True
        self.latency_s[g][at] = np.array(latency, dtype=np.float64)
        self.tokens[g][at] = np.array(tokens, dtype=np.float64)  # None (no usage) is NaN
        self.cost_usd[g][at] = np.array(cost, dtype=np.float64)
        for k, b in enumerate(group):
            mine = [r[k] for r in read]
            assert b.score is not None and b.label is not None
            b.score[at] = np.array([v[0] for v in mine], dtype=np.float64)  # None (a labels scale) is NaN
            b.label[at] = np.array([v[1] for v in mine], dtype=object)
            b.status[at] = [SCORED if v[2] is None else (PASSED if v[2] else FAILED) for v in mine]
            b.reason[at] = np.array([v[3] for v in mine], dtype=object)

    def blocks(self) -> list[CellColumns]:
        """One CellColumns per criterion, in the task's order, plus ``overall`` if asked."""
        out = []
        for g, group in enumerate(self.criteria):
            self._write_hits(g, group)
            share = len(group)
            errored = np.flatnonzero(self.error[g] != None)  # noqa: E711 - elementwise on objects
            tokens = self.tokens[g]
            for k, b in enumerate(group):
                b.cached = self.cached[g].copy()
                b.latency_s = self.latency_s[g].copy()
                # a joint call's tokens and cost are split across its criteria, so sums stay right
                if share == 1:
                    b.tokens, b.cost_usd = tokens.copy(), self.cost_usd[g].copy()
                else:
                    with np.errstate(invalid="ignore"):
                        b.tokens = tokens // share + (tokens % share if k == 0 else 0)
                    b.cost_usd = self.cost_usd[g] / share
                b.error[errored] = self.error[g][errored]
                out.append(b)
        if self.task.overall:
            out.append(_overall_block(self.task, out, self.n))
        return out


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


def _overall_block(task: JudgeTask, blocks: list[CellColumns], n: int) -> CellColumns:
    """The weighted mean of the criteria scores per row (:func:`judge.overall`, column-wise:
    the same float operations in the same order); an error where a criterion has no score."""
    b = _empty_block(task.id, "overall", n)
    threshold = task.threshold if isinstance(task.threshold, (int, float)) else None
    total = np.zeros(n)
    weights = 0.0
    for c, x in zip(task.criteria, blocks):
        assert x.score is not None
        total = total + c.weight * x.score
        weights += c.weight
    skipped = np.zeros(n, dtype=bool)
    for x in blocks:
        skipped |= x.status == SKIPPED
    if weights:
        score = total / weights
        scored = ~np.isnan(score) & ~skipped
    else:
        score, scored = total, np.zeros(n, dtype=bool)
    b.status[skipped] = SKIPPED
    b.reason[skipped] = blocks[0].reason[skipped]
    missing = ~scored & ~skipped
    b.error[missing] = "overall needs a score for every criterion; some errored or have none"
    assert b.score is not None
    b.score[scored] = score[scored]
    b.reason[scored] = "weighted mean of " + ", ".join(f"{c.name}×{c.weight:g}" for c in task.criteria)
    if threshold is None:
        b.status[scored] = SCORED
    else:
        b.status[scored] = np.where(score[scored] >= threshold, PASSED, FAILED)
    return b
