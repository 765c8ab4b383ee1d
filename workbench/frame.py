"""The pandas API: ``evaluate(df, suite) -> Run`` (sync and async) and ``estimate``.

Example:
    >>> import pandas as pd, workbench as wb
    >>> df = pd.DataFrame({"answer": ['{"text": "Paris"}', "oops"]})
    >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="json", path="answer", op="is_json")])
    >>> wb.evaluate(df, suite).results["status"].tolist()
    ['passed', 'failed']
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import JudgeConfig
from .context import Context
from .engine import run_assertions, run_suite, skips
from .inputs import prepare, require_models
from .progress import View, judge_postfix, progress_display
from .run import Run, results_frame
from .specs import JudgeTask, Suite

__all__ = ["SAVE_RUNS_ENV", "estimate", "evaluate", "evaluate_async"]

_JUDGING = View("judging", "judged", judge_postfix, lambda p: p.done / p.total if p.total else 0.0)

SAVE_RUNS_ENV = "WORKBENCH_SAVE_RUNS"
"""Set to ``0``, ``evaluate`` saves no run whatever ``save`` says: ``workbench report`` sets it
in the kernel it executes a notebook in, so a report adds no run to the store unless asked."""


def evaluate(
    df: pd.DataFrame,
    suite: Suite | str | Path,
    *,
    rows: Any = None,
    columns: Mapping[str, str] | None = None,
    strict: bool = False,
    judge: JudgeConfig | None = None,
    model: str | None = None,
    concurrency: int | None = None,
    progress: bool | Callable[[Any], Any] = True,
    save: bool = True,
    label: str | None = None,
    store: Any = None,
    batch: Any = False,
    wait: bool = True,
    retry_failed: bool = False,
    **options: Any,
) -> Run:
    """Run every task of ``suite`` over the rows of ``df``.

    Works in scripts and inside Jupyter's running event loop (the run then happens in a
    worker thread); async code can await :func:`evaluate_async` instead.

    Args:
        df: one row per example; its columns are the roots of paths. Never modified.
        suite: a :class:`~workbench.Suite`, or the path of a YAML/JSON file holding one.
        rows: evaluate only these rows: index labels, or a boolean mask as long as ``df``.
        columns: map names used in the suite to columns of ``df``, e.g.
            ``{"response": "answer"}`` when the suite says ``response``.
        strict: raise :class:`~workbench.EvaluationError` on the first error cell instead
            of recording it.
        judge: how judge calls are made, a :class:`~workbench.JudgeConfig`; ``model=``,
            ``concurrency=`` and ``**options`` build one (on top of ``judge`` when both are given).
        model: the judge model for judge tasks, a litellm model string
            (``"openai/gpt-4o-mini"``); credentials and base URLs follow litellm's
            environment variables, or pass ``api_base=``/``api_key=``.
        concurrency: most judge calls in flight at once (default 16).
        progress: show a progress bar (done, cached, errors, dollars) while judges run; or a
            callable, called with the run's :class:`~workbench.runner.Progress` (``total``,
            ``done``, ``cached``, ``errors``, ``cost_usd``) at every change, e.g. to drive a
            widget. It runs on the evaluation's event loop: keep it quick.
        save: save the run in the run store when it ends (the default); ``run.id`` is then
            set. ``False`` does not touch disk (``run.save()`` can save it later). A failure
            to save warns (:class:`~workbench.StoreWarning`) and returns the run unsaved.
        label: a name for the run in the store (``wb.load_run(label)`` loads the newest).
        store: where to save: a directory, a ``.sqlite`` file or a :class:`~workbench.Store`
            (default: ``$WORKBENCH_HOME``, else ``.workbench/`` in the working directory).
        batch: batch mode: ``True`` (or a :class:`~workbench.BatchOptions`) submits the
            uncached judge calls as provider batches at the batch price (about half), records
            them in the store at once and waits for them; calling the same ``evaluate`` again,
            in any process, picks pending batches up instead of submitting new ones.
        wait: with ``batch``: ``False`` returns at once with a pending run
            (:class:`~workbench.batch.PendingRun`: ``.status()`` polls, ``wb.resume(run.id)``
            finishes it).
        retry_failed: resubmit the lines a provider batch failed or expired (as a batch, or
            directly with ``batch=False``); without it they stay error cells with the
            provider's message.
        **options: the other judge options of :class:`~workbench.JudgeConfig` (``timeout``,
            ``max_retries``, ``use_cache``, ``refresh``, ``cache_dir``, ``params``,
            ``max_field_chars``, ``transport``, ``extra``), sampling parameters as litellm users
            write them (``temperature=``, ``max_tokens=``, ``seed=``: sent, and part of the cache
            key), and connection settings (``api_base=``, ``api_key=``, ``extra_headers=``:
            never cached or stored). An unknown keyword is an error naming the closest ones.

    Returns:
        A :class:`Run`; ``run.results`` has one row per (row, task, criterion).

    Raises:
        ColumnsError: a path or ``${var}`` names no column or upstream task, the index has
            duplicate labels, or ``rows`` names labels that do not exist. Raised before any work.
        ConfigError: an unknown judge option, a value out of range, or a parameter given twice.
        EvaluationError: with ``strict=True``, for the first error cell.
        WorkbenchError: the suite has judge tasks and no model was given.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> df = pd.DataFrame({"n": [3, 12]})
        >>> suite = wb.Suite(name="demo", tasks=[
        ...     wb.AssertionTask(id="small", path="n", op="lt", expected=10)])
        >>> wb.evaluate(df, suite).results[["row", "status", "reason"]]
           row  status              reason
        0    0  passed                <NA>
        1    1  failed  is not less than 10: 12
    """
    if type(df).__module__.startswith("dask."):  # a Dask DataFrame: partition by partition on its cluster
        from .distributed import evaluate_dask

        return evaluate_dask(df, suite, **_given(locals()), **options)
    config = JudgeConfig.build(judge, model=model, concurrency=concurrency, **options)
    batching = _batch_request(batch, wait, retry_failed)
    df, suite = _checked(df, suite, rows, columns, config)
    return run_sync(lambda: _run(df, suite, config, columns, strict, progress, save, label, store, batching))


def run_sync(call: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run the coroutine ``call()`` makes to its end from sync code: on a fresh loop, or in a
    worker thread when this thread already runs one (Jupyter). The first Ctrl-C cancels the
    calls in flight (finished verdicts stay cached) and raises ``KeyboardInterrupt``."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(call())
    return _run_in_thread(call)


def _run_in_thread(call: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run ``call()`` on a new loop in a worker thread, as Jupyter's loop is already running
    (``run_until_complete`` would raise). A KeyboardInterrupt in the notebook cancels the
    calls in flight and waits for them to stop, so no call keeps spending after the cell ends;
    verdicts that finished are in the cache and a rerun resumes from there."""
    loop = asyncio.new_event_loop()
    task_box: list[asyncio.Task[Any]] = []

    def target() -> Any:
        asyncio.set_event_loop(loop)
        try:
            task = loop.create_task(call())
            task_box.append(task)
            return loop.run_until_complete(task)
        finally:  # as asyncio.run does: tasks left behind (litellm's logging worker) end first
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="workbench") as pool:
        future = pool.submit(target)
        try:
            return _wait(future)
        except KeyboardInterrupt:
            if task_box:
                loop.call_soon_threadsafe(task_box[0].cancel)
            concurrent.futures.wait([future])
            raise KeyboardInterrupt(
                "evaluation interrupted: calls in flight were cancelled; finished verdicts are cached, "
                "so running the cell again resumes where it stopped"
            ) from None


def _wait(future: concurrent.futures.Future[Any]) -> Any:
    """``future.result()``, interruptible by the first Ctrl-C even when the caller runs inside
    ``asyncio.run``, whose own SIGINT handler would only cancel a task of the loop this call
    is blocking (so the first Ctrl-C would be lost)."""
    if threading.current_thread() is not threading.main_thread():
        return future.result()
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler or previous in (signal.SIG_IGN, None):
        return future.result()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return future.result()
    finally:
        signal.signal(signal.SIGINT, previous)


async def evaluate_async(
    df: pd.DataFrame,
    suite: Suite | str | Path,
    *,
    rows: Any = None,
    columns: Mapping[str, str] | None = None,
    strict: bool = False,
    judge: JudgeConfig | None = None,
    model: str | None = None,
    concurrency: int | None = None,
    progress: bool | Callable[[Any], Any] = True,
    save: bool = True,
    label: str | None = None,
    store: Any = None,
    batch: Any = False,
    wait: bool = True,
    retry_failed: bool = False,
    **options: Any,
) -> Run:
    """:func:`evaluate` for async code: same arguments, same result.

    Example:
        >>> import asyncio, pandas as pd, workbench as wb
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="t", path="x", op="is_positive")])
        >>> asyncio.run(wb.evaluate_async(pd.DataFrame({"x": [1]}), suite)).results["status"].tolist()
        ['passed']
    """
    if type(df).__module__.startswith("dask."):  # a Dask DataFrame: partition by partition on its cluster
        from .distributed import evaluate_dask_async

        return await evaluate_dask_async(df, suite, **_given(locals()), **options)
    config = JudgeConfig.build(judge, model=model, concurrency=concurrency, **options)
    batching = _batch_request(batch, wait, retry_failed)
    df, suite = _checked(df, suite, rows, columns, config)
    return await _run(df, suite, config, columns, strict, progress, save, label, store, batching)


def _given(named: dict[str, Any]) -> dict[str, Any]:
    """evaluate's named arguments, to hand on to the Dask path."""
    keep = (
        "rows",
        "columns",
        "strict",
        "judge",
        "model",
        "concurrency",
        "progress",
        "save",
        "label",
        "store",
    )
    return {k: named[k] for k in keep}


def _checked(
    df: pd.DataFrame,
    suite: Suite | str | Path,
    rows: Any,
    columns: Mapping[str, str] | None,
    config: JudgeConfig,
) -> tuple[pd.DataFrame, Suite]:
    """The inputs checked (every problem raised before any work) and the rows selected;
    an empty selection warns, once, pointing at the caller's line."""
    df, suite = prepare(df, suite, rows, columns)
    require_models(suite, config)
    if len(df) == 0:
        warnings.warn(
            f"the DataFrame has no rows (after rows= selected them), so suite {suite.name!r} evaluated "
            "nothing: the run's results are empty",
            UserWarning,
            stacklevel=3,
        )
    return df, suite


async def _run(
    df: pd.DataFrame,
    suite: Suite,
    config: JudgeConfig,
    columns: Mapping[str, str] | None,
    strict: bool,
    progress: bool | Callable[[Any], Any],
    save: bool,
    label: str | None,
    store: Any,
    batching: Any = None,
) -> Run:
    judged = any(isinstance(t, JudgeTask) for t in suite.tasks)
    judges = bar = session = None
    if judged:
        from .runner import JudgeRunner, Progress

        if batching is not None:  # batch mode: checked (providers) before any work
            from .batch import open_session

            session = open_session(
                batching, df, suite, config, strict=strict, label=label, save=save, store=store,
                progress=progress is True,
            )  # fmt: skip
        hook, bar = progress_display(progress, _JUDGING)
        judges = JudgeRunner(config, Progress(hook), batch=session)
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    try:
        blocks = await run_suite(suite, Context(df), strict=strict, judges=judges)
    finally:
        if judges is not None:
            judges.close()
        if bar is not None:
            bar.close()
    results = results_frame(blocks, df.index)
    calls = {}
    if judges is not None:
        p = judges.progress
        calls = {
            "calls": p.done,
            "cache_hits": p.cached,
            "errors": p.errors,
            "not_sent": p.unsent,
            "cost_usd": None if p.unpriced else p.cost_usd,  # an unknown price is missing, not 0
            "saved_usd": p.saved_usd,
        }
    run = Run(
        suite=suite,
        results=results,
        model=config.model,
        started_at=started,
        duration_s=time.perf_counter() - t0,
        calls=calls,
        label=label,
    )
    recorded: dict[str, Any] = {"strict": strict, "columns": columns}
    if any(name is not None for name in df.index.names):  # so run.wide() gives the index back as it was
        recorded["index_names"] = [None if n is None else str(n) for n in df.index.names]
    if judged:
        recorded.update(config.to_params())
    if session is not None:  # a pending run while cells wait in batches; it is not saved
        run = session.finish(run)
    _record(run, df, save and (session is None or session.done), store, recorded)
    return run


def _batch_request(batch: Any, wait: bool, retry_failed: bool) -> Any:
    """Batch mode's request (None for a plain direct run), checked before any work."""
    if batch is False and wait is True and retry_failed is False:
        return None
    from .batch import batch_request

    return batch_request(batch, wait, retry_failed)


def _record(run: Run, df: pd.DataFrame, save: bool, store: Any, params: dict[str, Any]) -> None:
    """Fingerprint the evaluated rows, keep the parameters (credentials removed), and save
    the run unless ``save=False`` (a failed save warns; the run is returned either way)."""
    from .secrets import safe_params
    from .store import data_fingerprint, save_or_warn

    run.data_fingerprint = data_fingerprint(df)
    run.params = safe_params({k: v for k, v in params.items() if v is not None})
    if save and os.environ.get(SAVE_RUNS_ENV) != "0":  # "0": a report's kernel, unless asked
        save_or_warn(run, store, run.label)


def estimate(
    df: pd.DataFrame,
    suite: Suite | str | Path,
    *,
    rows: Any = None,
    columns: Mapping[str, str] | None = None,
    judge: JudgeConfig | None = None,
    model: str | None = None,
    by_row: bool = False,
    batch: bool = False,
    **options: Any,
) -> pd.DataFrame:
    """Before spending anything: per judge task, how many calls a run would make, how many
    the cache already holds, and the estimated tokens and cost of the rest.

    With ``by_row=True`` the answer is per input row instead: one column per judge task
    holding the number of calls that row still needs (0: all cached), indexed by row label,
    so ``est.index[est.sum(axis=1) > 0]`` are the rows an edit changes.

    Assertions run (they are free), so their gates skip rows as they would in the run; rows
    behind a judge gate are all counted, so ``new`` is an upper bound. Token counts are
    estimated from characters (~4 per token) and ~60 completion tokens per criterion; the
    cost comes from litellm's price table and is missing (not 0) when the price is unknown,
    even when every call is cached. Takes the same judge arguments as :func:`evaluate`
    (``evaluate``'s run-only ones, such as ``save`` or ``label``, are refused). With
    ``batch=True`` a ``cost_usd_batch_est`` column gives the same calls at the provider's
    batch price (litellm's batch prices, else half the direct price), and a model batch mode
    cannot submit is refused as ``evaluate(batch=True)`` would refuse it.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> suite = wb.Suite(name="demo", tasks=[wb.JudgeTask(id="q", prompt="${a}",
        ...     criteria=[wb.Criterion(name="ok", description="Correct.")])])
        >>> est = wb.estimate(pd.DataFrame({"a": ["x", "y"]}), suite, model="openai/gpt-4o-mini",
        ...                   use_cache=False)
        >>> est[["task", "calls", "cached", "new"]].to_dict("records")
        [{'task': 'q', 'calls': 2, 'cached': 0, 'new': 2},
         {'task': 'total', 'calls': 2, 'cached': 0, 'new': 2}]
        >>> wb.estimate(pd.DataFrame({"a": ["x", "y"]}), suite, model="openai/gpt-4o-mini", use_cache=False,
        ...             by_row=True)["q"].tolist()
        [1, 1]
    """
    from .runner import JudgeRunner

    config = JudgeConfig.build(judge, model=model, **options)
    df, suite = prepare(df, suite, rows, columns)
    require_models(suite, config)
    judges = [t for t in suite.tasks if isinstance(t, JudgeTask)]
    blocked = {t.id for t in judges}
    grew = True
    while grew:  # tasks downstream of a judge cannot run before it
        before = len(blocked)
        blocked |= {t.id for t in suite.tasks if set(t.depends_on) & blocked}
        grew = len(blocked) > before
    free = [t for t in suite.tasks if t.id not in blocked]
    ctx = Context(df)
    if free:
        run_assertions(Suite(name=suite.name, version=suite.version, tasks=free), ctx)
    runner = JudgeRunner(config)
    try:
        records = []
        for t in judges:
            knowable = all(d in ctx.outputs for d in t.depends_on)
            skip = skips(t, suite, ctx, ctx.n) if knowable else np.full(ctx.n, None, dtype=object)
            records.append(runner.estimate(t, ctx, skip))
    finally:
        runner.close()
    if by_row:
        return pd.DataFrame({r["task"]: r["new_at"] for r in records}, index=df.index, dtype="int64")
    out = pd.DataFrame.from_records(
        records,
        columns=[
            "task",
            "model",
            "mode",
            "calls",
            "cached",
            "new",
            "unrenderable",
            "prompt_tokens_est",
            "completion_tokens_est",
            "cost_usd_est",
        ],
    )
    costs = out["cost_usd_est"]
    total = {
        "task": "total",
        "model": "",
        "mode": "",
        **{
            c: int(out[c].sum())
            for c in ("calls", "cached", "new", "unrenderable", "prompt_tokens_est", "completion_tokens_est")
        },
        "cost_usd_est": float(costs.sum()) if costs.notna().all() else np.nan,
    }
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    out["cost_usd_est"] = pd.array(out["cost_usd_est"].to_numpy(dtype=float), dtype="Float64")
    if batch:
        from .batch import add_batch_prices, check_models

        check_models(suite, config)
        out = add_batch_prices(out)
    return out
