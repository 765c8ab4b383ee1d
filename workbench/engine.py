"""Runs a suite's task graph over the rows of a DataFrame.

Assertions are applied column-wise: a value column is extracted once per path (JSON
cells parsed once per column), then checked with a vectorised fast path where the
operator and dtype allow (see :mod:`workbench._vector`) or value by value where they
do not. Every cell gets a status; an error or a skip never touches the row's other cells.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import Any, Protocol, cast

import numpy as np
import pandas as pd

from . import _vector
from .assertions import OpError, ResolvedOp, apply, describe, lookup, standard_verdict, with_value
from .context import Context, Output, gc_paused
from .errors import EvaluationError, WorkbenchError, did_you_mean, shorten
from .paths import JSON_TOO_DEEP, PathError, Segment, parse_path, substitute, template_paths, to_plain
from .results import ERROR, FAILED, PASSED, SCORED, SKIPPED, STATUSES, CellColumns, passed_values
from .specs import AssertionTask, JudgeTask, Suite

__all__ = ["JudgeStage", "reference_problems", "run_assertions", "run_suite", "skips"]


class JudgeStage(Protocol):
    """What runs the judge tasks of a stage: :class:`workbench.runner.JudgeRunner`, or any
    object with this one method."""

    async def run(self, task: JudgeTask, ctx: Context, skip: np.ndarray) -> list[CellColumns]:
        """Judge ``task`` at every row of ``ctx`` whose ``skip`` entry is None (the others are
        skipped, the entry says why): one :class:`CellColumns` per criterion."""
        ...


# --- static checks -----------------------------------------------------------------


def reference_problems(suite: Suite, columns: Sequence[Any]) -> list[str]:
    """Paths and ``${vars}`` whose first segment is neither a column nor an upstream task."""
    colnames = {str(c) for c in columns}
    ids = set(suite.task_ids)
    problems: list[str] = []
    for t in suite.tasks:
        refs: list[tuple[str, str]] = []
        if isinstance(t, AssertionTask):
            if t.path is not None:
                refs.append(("path", t.path))
            refs += [("template", p) for p in template_paths(t.expected)]
        else:
            refs += [("template", p) for p in template_paths(t.prompt)]
        for where, ref in refs:
            try:
                segments = parse_path(ref)
            except PathError as e:
                problems.append(f"task {t.id!r}: {where} {ref!r}: {e}")
                continue
            head = [s for s in segments if isinstance(s, str)]
            first = str(segments[0])
            shown = f"${{{ref}}}" if where == "template" else ref
            if any(".".join(head[:k]) in colnames for k in range(len(head), 0, -1)):
                if first in ids and first in t.depends_on:
                    problems.append(
                        f"task {t.id!r}: {where} {shown!r} is ambiguous: {first!r} is both a column and "
                        f"a task it depends on; rename task {first!r}"
                    )
                continue  # a column wins over a task of the same name
            if first in ids:
                if first not in t.depends_on:
                    problems.append(
                        f"task {t.id!r}: {where} {shown!r} reads task {first!r}'s output; "
                        f"add {first!r} to depends_on"
                    )
                continue
            # a task never reads its own output, so its own id is no suggestion
            suggestion = did_you_mean(first, sorted(colnames | (ids - {t.id})))
            problems.append(
                f"task {t.id!r}: {where} {shown!r} starts with {first!r}, which is neither a column "
                f"nor a task{suggestion}"
            )
    return problems


# --- running ---------------------------------------------------------------------------


def skips(task: AssertionTask | JudgeTask, suite: Suite, ctx: Context, n: int) -> np.ndarray:
    """Per row, why ``task`` is skipped (a failed gate upstream), or None."""
    skip = np.full(n, None, dtype=object)
    for dep in task.depends_on:
        out = ctx.outputs[dep]
        status = out.fields["status"].to_numpy()
        upstream = out.missing.get("__skip__")
        if upstream is not None:
            skip = np.where(pd.isna(skip), upstream, skip)
        if suite.task(dep).gate:
            for code, word in (("failed", "failed"), ("error", "errored")):
                hit = (status == code) & pd.isna(skip)
                if hit.any():
                    skip[hit] = f"gate {dep!r} {word}"
    return skip


async def run_suite(
    suite: Suite,
    ctx: Context,
    *,
    strict: bool = False,
    judges: JudgeStage | None = None,
) -> list[CellColumns]:
    """Run every task of ``suite`` over ``ctx`` stage by stage; one :class:`CellColumns` per
    (task, criterion).

    Assertions run column-wise in the calling thread; the judge tasks of a stage run
    concurrently through ``judges`` (a :class:`workbench.runner.JudgeRunner`).

    Raises:
        WorkbenchError: the suite has judge tasks and ``judges`` is None.
    """
    blocks: list[CellColumns] = []
    ctx.prepare(*_json_reads(suite))
    for stage in suite.stages():
        produced_by: dict[str, list[CellColumns]] = {}
        fields_by: dict[str, dict[str, pd.Series]] = {}
        skip_by = {task.id: skips(task, suite, ctx, ctx.n) for task in stage}
        for task in stage:
            if isinstance(task, AssertionTask):
                with gc_paused():
                    block, value = _run_assertion(task, ctx, skip_by[task.id])
                produced_by[task.id], fields_by[task.id] = [block], {"value": value}
        judge_tasks = [t for t in stage if isinstance(t, JudgeTask)]
        if judge_tasks:
            if judges is None:
                raise WorkbenchError(
                    f"judge tasks {[t.id for t in judge_tasks]} need a judge: pass judges= "
                    "(a workbench.runner.JudgeRunner); evaluate() builds one from its model"
                )
            results = await asyncio.gather(*(judges.run(t, ctx, skip_by[t.id]) for t in judge_tasks))
            for t, produced in zip(judge_tasks, results):
                produced_by[t.id], fields_by[t.id] = produced, {}
        for task in stage:
            produced = produced_by[task.id]
            if strict:
                _raise_first_error(produced, ctx)
            blocks += produced
            ctx.outputs[task.id] = _output(task, produced, fields_by[task.id], skip_by[task.id])
    order = {tid: i for i, tid in enumerate(suite.task_ids)}
    return sorted(blocks, key=lambda b: order[b.task])  # stable: criteria keep their order


def run_assertions(suite: Suite, ctx: Context, *, strict: bool = False) -> list[CellColumns]:
    """:func:`run_suite` for suites without judge tasks, from synchronous code (also inside
    a running event loop: without judges the coroutine never suspends)."""
    if any(isinstance(t, JudgeTask) for t in suite.tasks):
        raise ValueError("run_assertions runs suites without judge tasks; use run_suite")
    coro = run_suite(suite, ctx, strict=strict)
    try:
        coro.send(None)
    except StopIteration as done:
        return cast("list[CellColumns]", done.value)
    coro.close()  # pragma: no cover - only judge tasks suspend
    raise RuntimeError("an assertion-only run suspended")  # pragma: no cover


def _raise_first_error(blocks: list[CellColumns], ctx: Context) -> None:
    for b in blocks:
        bad = np.flatnonzero(b.status == ERROR)
        if bad.size:
            i = int(bad[0])
            label = f"{b.task}.{b.criterion}" if b.criterion else b.task
            raise EvaluationError(
                f"task {label!r} errored at row {ctx.df.index[i]!r}: {b.error[i]} "
                "(strict mode stops at the first error; without it, errors are recorded as cells)"
            )


def _output(
    task: AssertionTask | JudgeTask, blocks: list[CellColumns], fields: dict[str, pd.Series], skip: np.ndarray
) -> Output:
    # a task passes only if every criterion passes (a threshold-less score counts as a
    # pass for gating); the worst status wins
    ranked = [np.where(b.status == SCORED, PASSED, b.status) for b in blocks]
    status = ranked[0] if len(ranked) == 1 else np.max(np.stack(ranked), axis=0)
    out_fields = {
        "passed": pd.Series(_passed_array(status)),
        "status": pd.Series(np.asarray(STATUSES, dtype=object)[status]),
    }
    missing: dict[str, np.ndarray] = {}
    out_fields.update(fields)
    for name in out_fields:
        if name == "status":  # every row has a status, errored and skipped ones too
            continue
        why = np.full(len(status), None, dtype=object)
        why[status == ERROR] = f"task {task.id!r} has no {name} here because it errored"
        why[status == SKIPPED] = f"task {task.id!r} was skipped here"
        missing[name] = why
    for b in blocks:
        if b.criterion:
            criterion_fields = {
                "score": pd.Series(pd.array(b.score, dtype="Float64")) if b.score is not None else None,
                "label": pd.Series(b.label, dtype=object) if b.label is not None else None,
                "reason": pd.Series(b.reason, dtype=object),
                "passed": pd.Series(_passed_array(b.status)),
            }
            for col, series in criterion_fields.items():
                if series is not None:
                    out_fields[f"{b.criterion}.{col}"] = series
                    why = np.full(len(status), None, dtype=object)
                    why[b.status == ERROR] = (
                        f"task {task.id!r} has no {b.criterion}.{col} here because it errored"
                    )
                    why[b.status == SKIPPED] = f"task {task.id!r} was skipped here"
                    missing[f"{b.criterion}.{col}"] = why
            if b.criterion == "overall":
                out_fields["overall"], missing["overall"] = (
                    out_fields["overall.score"],
                    missing["overall.score"],
                )
    if (status == SKIPPED).any():
        missing["__skip__"] = np.where(pd.isna(skip), np.array(None, dtype=object), skip)
    return Output(out_fields, missing)


def _passed_array(status: np.ndarray) -> pd.arrays.BooleanArray:
    """``passed`` for status codes: NA where there is no pass/fail (error, skipped, scored)."""
    return pd.arrays.BooleanArray(*passed_values(status))


def _run_assertion(task: AssertionTask, ctx: Context, skip: np.ndarray) -> tuple[CellColumns, pd.Series]:
    n = ctx.n
    rop = lookup(task.op)
    status = np.full(n, PASSED, dtype=np.int8)
    reason = np.full(n, None, dtype=object)
    error = np.full(n, None, dtype=object)
    where = f"{rop.name} at path {task.path!r}" if task.path else f"{rop.name} on the whole row"

    try:
        values, missing = ctx.extract(task.path)
    except PathError as e:  # a root that is not a column or task: caught by reference_problems
        values, missing = pd.Series([None] * n, dtype=object), np.full(n, str(e), dtype=object)
    item_path = parse_path(task.item_path) if task.item_path else None

    if template_paths(task.expected):
        expected_rows, expected_errors = _expected_per_row(task, ctx)
        _check_each(
            rop, values, None, status, reason, error, where, item_path, expected_rows, expected_errors
        )
    else:
        prepared = rop.op.prepare(task.expected)
        fast = None
        if item_path is None:
            fast = _json_fast_path(rop, task, ctx, values) or _vector.check(rop, values, task.expected)
        rest = None
        if fast is not None:
            passed, handled = fast
            failed = handled & ~passed
            status[failed] = FAILED
            if failed.any():
                idx = np.flatnonzero(failed)
                reason[idx] = _fast_reasons(rop, values.iloc[idx].tolist(), prepared, task.expected)
            rest = np.flatnonzero(~handled)
        _check_each(
            rop, values, rest, status, reason, error, where, item_path, None, None, prepared, task.expected
        )

    if missing is not None:
        gone = ~pd.isna(missing)
        status[gone] = ERROR
        reason[gone] = None
        error[gone] = [f"{where}: {m}" for m in missing[gone]]
    skipped = ~pd.isna(skip)
    if skipped.any():
        status[skipped] = SKIPPED
        reason[skipped] = [f"skipped: {s}" for s in skip[skipped]]
        error[skipped] = None
    return CellColumns(task.id, "", "assertion", status, reason, error), values


def _fast_reasons(rop: ResolvedOp, cells: list[Any], prepared: Any, expected: Any) -> list[str | None]:
    """Reasons for the rows a fast path failed, identical to the per-value path's.

    The per-value path writes the first one; when it has the standard form
    ``"is not <phrase>: <value>"`` (the operator added no verdict of its own for this kind of
    value, and a fast path only sees one kind per column), the rest are formatted the same
    way without calling the operator again.
    """
    first_value = to_plain(cells[0])
    first = apply(rop, first_value, prepared, expected)[1]
    verdict = standard_verdict(rop, expected if expected is not None else prepared)
    if first != with_value(verdict, first_value):
        return [first] + [apply(rop, to_plain(v), prepared, expected)[1] for v in cells[1:]]
    head = verdict + ": "
    return [head + describe(to_plain(v)) for v in cells]


def _json_reads(suite: Suite) -> tuple[list[str], list[str]]:
    """The paths the suite's assertions read, and the columns ``is_json`` checks whole:
    what :meth:`Context.prepare` reads ahead, a chunk of a JSON column at a time."""
    paths: list[str] = []
    whole: list[str] = []
    for t in suite.tasks:
        if isinstance(t, AssertionTask):
            if t.path is not None:
                paths.append(t.path)
                try:
                    if lookup(t.op).op.name == "is_json":
                        whole.append(t.path)
                except KeyError:
                    pass  # the task reports its unknown operator itself
            paths += template_paths(t.expected)
    return paths, whole


def _json_fast_path(
    rop: ResolvedOp, task: AssertionTask, ctx: Context, values: pd.Series
) -> tuple[np.ndarray, np.ndarray] | None:
    """``is_json`` on a column: reuse the column's JSON parse, which paths into it share."""
    if rop.op.name != "is_json" or task.path is None or not _vector.ENABLED:
        return None
    kind, name, used = ctx.split_root(parse_path(task.path))
    if kind != "column" or used != len(parse_path(task.path)):
        return None
    handled = np.fromiter((type(v) is str for v in values.tolist()), dtype=bool, count=len(values))
    parse_errors = ctx.parse_errors(name)
    if parse_errors is None:
        passed = np.ones(len(values), dtype=bool)
    else:
        passed = np.asarray(pd.isna(np.array(parse_errors, dtype=object)), dtype=bool)
        # text nested too deeply gets its own verdict from the per-value path
        for i in np.flatnonzero(~passed):
            why = parse_errors[i]
            if why is not None and JSON_TOO_DEEP in why:
                handled[i] = False
    return (~passed if rop.negated else passed), handled


def _expected_per_row(task: AssertionTask, ctx: Context) -> tuple[list[Any], list[str | None]]:
    """Substitute ``${path}`` templates in ``expected`` for every row."""
    paths = template_paths(task.expected)
    columns = {}
    for p in paths:
        try:
            columns[p] = ctx.extract(p)
        except PathError as e:
            columns[p] = (pd.Series([None] * ctx.n, dtype=object), np.full(ctx.n, str(e), dtype=object))
    lists = {p: (v.tolist(), m) for p, (v, m) in columns.items()}
    rows: list[Any] = [None] * ctx.n
    errors: list[str | None] = [None] * ctx.n
    for i in range(ctx.n):
        bad = next(
            (
                f"expected: template '${{{p}}}': {m[i]}"
                for p, (_, m) in lists.items()
                if m is not None and not pd.isna(m[i])
            ),
            None,
        )
        if bad:
            errors[i] = bad
            continue
        rows[i] = substitute(task.expected, _row_lookup(lists, i))
    return rows, errors


def _row_lookup(columns: dict[str, tuple[list[Any], Any]], i: int) -> Any:
    """The value of a template's path at row ``i``."""
    return lambda path: to_plain(columns[path.strip()][0][i])


def _check_each(
    rop: ResolvedOp,
    values: pd.Series,
    rows: np.ndarray | None,
    status: np.ndarray,
    reason: np.ndarray,
    error: np.ndarray,
    where: str,
    item_path: tuple[Segment, ...] | None,
    expected_rows: list[Any] | None,
    expected_errors: list[str | None] | None,
    prepared: Any = None,
    raw_expected: Any = None,
) -> None:
    """The per-value path (over ``rows``, or all): exact semantics of
    :func:`workbench.assertions.apply`."""
    prepare = rop.op.prepare
    cells = values.tolist()
    for i in range(len(cells)) if rows is None else rows.tolist():
        v = cells[i]
        try:
            if expected_rows is not None:
                if expected_errors is not None and expected_errors[i] is not None:
                    status[i], error[i] = ERROR, f"{where}: {expected_errors[i]}"
                    continue
                expected = expected_rows[i]
                try:
                    prepared = prepare(expected)
                except OpError as e:
                    status[i], error[i] = (
                        ERROR,
                        f"{where}: expected {describe(expected)} (from a template): {e}",
                    )
                    continue
            else:
                expected = raw_expected
            ok, why = apply(rop, to_plain(v), prepared, expected, item_path)
        except (OpError, PathError) as e:
            status[i], error[i] = ERROR, f"{where}: {e}"
            continue
        except RecursionError:  # a Python object nested thousands deep, e.g. built in a loop
            status[i] = ERROR
            error[i] = (
                f"{where}: the value is nested too deeply to check (deeper than Python's recursion "
                f"limit of {sys.getrecursionlimit():,}): {describe(to_plain(v))}"
            )
            continue
        except Exception as e:  # noqa: BLE001  (an operator bug must not cost the rest of the run)
            status[i], error[i] = ERROR, f"{where}: unexpected {type(e).__name__}: {shorten(str(e), 200)}"
            continue
        status[i] = PASSED if ok else FAILED
        reason[i] = why
