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
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .context import Context
from .engine import reference_problems, run_assertions, run_suite, skips
from .errors import ColumnsError, WorkbenchError, cap_list
from .run import Run, results_frame
from .specs import JudgeTask, Suite

__all__ = ["estimate", "evaluate", "evaluate_async"]


def _select_rows(df: pd.DataFrame, rows: Any) -> pd.DataFrame:
    if rows is None:
        return df
    if (
        isinstance(rows, (pd.Series, np.ndarray, list))
        and len(rows) == len(df)
        and len(rows)
        and all(isinstance(x, (bool, np.bool_)) for x in (rows.tolist() if hasattr(rows, "tolist") else rows))
    ):
        mask = np.asarray(rows, dtype=bool)
        if isinstance(rows, pd.Series) and not rows.index.equals(df.index):
            raise ColumnsError(
                "rows= is a boolean Series whose index differs from the DataFrame's; align it first"
            )
        return df[mask]
    labels = list(rows) if not np.isscalar(rows) else [rows]
    missing = [x for x in labels if x not in df.index]
    if missing:
        raise ColumnsError(
            f"rows= names {len(missing)} label(s) not in the DataFrame's index: {cap_list(missing)}; "
            f"the index runs {cap_list(list(df.index[:5]), 5)} ({len(df):,} rows). "
            "Pass index labels, or a boolean mask as long as the DataFrame."
        )
    return df.loc[labels]


def _load_suite(suite: Suite | str | Path) -> Suite:
    if isinstance(suite, Suite):
        return suite
    if isinstance(suite, (str, Path)):
        text = str(suite)
        return Suite.from_json(suite) if text.endswith(".json") else Suite.from_yaml(suite)
    raise TypeError(f"suite must be a wb.Suite or a path to a YAML/JSON file, got {type(suite).__name__}")


def evaluate(
    df: pd.DataFrame,
    suite: Suite | str | Path,
    *,
    rows: Any = None,
    columns: Mapping[str, str] | None = None,
    strict: bool = False,
    model: str | None = None,
    concurrency: int = 16,
    progress: bool | Callable[[Any], Any] = True,
    save: bool = True,
    label: str | None = None,
    store: Any = None,
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
        model: the judge model for judge tasks, a litellm model string
            (``"openai/gpt-4o-mini"``); credentials and base URLs follow litellm's
            environment variables, or pass ``api_base=``/``api_key=``.
        concurrency: most judge calls in flight at once.
        progress: show a progress bar (done, cached, errors, dollars) while judges run; or a
            callable, called with the run's :class:`~workbench.runner.Progress` (``total``,
            ``done``, ``cached``, ``errors``, ``cost_usd``) at every change, e.g. to drive a
            widget. It runs on the evaluation's event loop: keep it quick.
        save: save the run in the run store when it ends (the default); ``run.id`` is then
            set. ``False`` does not touch disk (``run.save()`` can save it later). A failure
            to save warns (:class:`~workbench.store.StoreWarning`) and returns the run unsaved.
        label: a name for the run in the store (``wb.load_run(label)`` loads the newest).
        store: where to save: a directory, a ``.sqlite`` file or a :class:`~workbench.Store`
            (default: ``$WORKBENCH_HOME``, else ``.workbench/`` in the working directory).
        **options: judge call options: ``timeout`` (s per attempt), ``max_retries``,
            ``use_cache`` (False: neither read nor write the cache), ``refresh`` (True: call
            again and overwrite), ``cache_dir``, ``params`` (sampling parameters such as
            ``{"temperature": 0}``), ``max_field_chars``; anything else goes to litellm.

    Returns:
        A :class:`Run`; ``run.results`` has one row per (row, task, criterion).

    Raises:
        ColumnsError: a path or ``${var}`` names no column or upstream task, the index has
            duplicate labels, or ``rows`` names labels that do not exist. Raised before any work.
        EvaluationError: with ``strict=True``, for the first error cell.
        WorkbenchError: the suite has judge tasks and no model was given.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> df = pd.DataFrame({"n": [3, 12]})
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="small", path="n", op="lt", expected=10)])
        >>> wb.evaluate(df, suite).results[["row", "status", "reason"]]
           row  status              reason
        0    0  passed                <NA>
        1    1  failed  12 is not less than 10
    """
    call = lambda: evaluate_async(
        df,
        suite,
        rows=rows,
        columns=columns,
        strict=strict,
        model=model,
        concurrency=concurrency,
        progress=progress,
        save=save,
        label=label,
        store=store,
        **options,
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(call())  # Ctrl-C cancels the calls in flight; finished verdicts stay cached
    return _run_in_thread(call)


def _run_in_thread(call: Any) -> Run:
    """Run ``call()`` on a new loop in a worker thread, as Jupyter's loop is already running
    (``run_until_complete`` would raise). A KeyboardInterrupt in the notebook cancels the
    calls in flight and waits for them to stop, so no call keeps spending after the cell ends;
    verdicts that finished are in the cache and a rerun resumes from there."""
    loop = asyncio.new_event_loop()
    task_box: list[asyncio.Task[Run]] = []

    def target() -> Run:
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
            return future.result()
        except KeyboardInterrupt:
            if task_box:
                loop.call_soon_threadsafe(task_box[0].cancel)
            concurrent.futures.wait([future])
            raise KeyboardInterrupt(
                "evaluation interrupted: calls in flight were cancelled; finished verdicts are cached, "
                "so running the cell again resumes where it stopped"
            ) from None


async def evaluate_async(
    df: pd.DataFrame,
    suite: Suite | str | Path,
    *,
    rows: Any = None,
    columns: Mapping[str, str] | None = None,
    strict: bool = False,
    model: str | None = None,
    concurrency: int = 16,
    progress: bool | Callable[[Any], Any] = True,
    save: bool = True,
    label: str | None = None,
    store: Any = None,
    **options: Any,
) -> Run:
    """:func:`evaluate` for async code: same arguments, same result.

    Example:
        >>> import asyncio, pandas as pd, workbench as wb
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="t", path="x", op="is_positive")])
        >>> asyncio.run(wb.evaluate_async(pd.DataFrame({"x": [1]}), suite)).results["status"].tolist()
        ['passed']
    """
    df, suite = _prepare(df, suite, rows, columns)
    judges = None
    _require_models(suite, model)
    bar = None
    if any(isinstance(t, JudgeTask) for t in suite.tasks):
        from .runner import JudgeRunner, Progress

        bar = _progress_bar() if progress is True else None
        hook = bar.update if bar else (progress if callable(progress) else None)
        judges = JudgeRunner(_judge_options(model, concurrency, options), Progress(hook))
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
            "cost_usd": None if p.unpriced else p.cost_usd,  # an unknown price is missing, not 0
            "saved_usd": p.saved_usd,
        }
    run = Run(
        suite=suite,
        results=results,
        model=model,
        started_at=started,
        duration_s=time.perf_counter() - t0,
        calls=calls,
        label=label,
    )
    _record(
        run, df, save, store, {"concurrency": concurrency, "strict": strict, "columns": columns, **options}
    )
    return run


def _record(run: Run, df: pd.DataFrame, save: bool, store: Any, params: dict[str, Any]) -> None:
    """Fingerprint the evaluated rows, keep the parameters (credentials removed), and save
    the run unless ``save=False`` (a failed save warns; the run is returned either way)."""
    from .store import data_fingerprint, safe_params, save_or_warn

    run.data_fingerprint = data_fingerprint(df)
    run.params = safe_params({k: v for k, v in params.items() if v is not None})
    if save:
        save_or_warn(run, store, run.label)


def estimate(
    df: pd.DataFrame,
    suite: Suite | str | Path,
    *,
    rows: Any = None,
    columns: Mapping[str, str] | None = None,
    model: str | None = None,
    by_row: bool = False,
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
    cost comes from litellm's price table and is missing (not 0) for an unknown price.
    Takes the same arguments as :func:`evaluate`.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> suite = wb.Suite(name="demo", tasks=[wb.JudgeTask(id="q", prompt="${a}",
        ...     criteria=[wb.Criterion(name="ok", description="Correct.")])])
        >>> est = wb.estimate(pd.DataFrame({"a": ["x", "y"]}), suite, model="openai/gpt-4o-mini", use_cache=False)
        >>> est[["task", "calls", "cached", "new"]].to_dict("records")
        [{'task': 'q', 'calls': 2, 'cached': 0, 'new': 2}, {'task': 'total', 'calls': 2, 'cached': 0, 'new': 2}]
        >>> wb.estimate(pd.DataFrame({"a": ["x", "y"]}), suite, model="openai/gpt-4o-mini", use_cache=False,
        ...             by_row=True)["q"].tolist()
        [1, 1]
    """
    from .runner import JudgeRunner

    df, suite = _prepare(df, suite, rows, columns)
    _require_models(suite, model)
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
    runner = JudgeRunner(_judge_options(model, 16, options))
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
    return out


def _require_models(suite: Suite, model: str | None) -> None:
    unmodelled = [t.id for t in suite.tasks if isinstance(t, JudgeTask) and not (t.model or model)]
    if unmodelled:
        raise WorkbenchError(
            f"judge tasks {unmodelled} need a model: pass model='openai/gpt-4o-mini' (any litellm "
            "model string), or set 'model' on the task. Nothing was run."
        )


def _judge_options(model: str | None, concurrency: int, options: Mapping[str, Any]) -> Any:
    from .runner import JudgeOptions

    known = {
        f for f in JudgeOptions.__dataclass_fields__ if f not in ("model", "concurrency", "litellm_kwargs")
    }
    return JudgeOptions(
        model=model,
        concurrency=concurrency,
        **{k: v for k, v in options.items() if k in known},
        litellm_kwargs={k: v for k, v in options.items() if k not in known},
    )


class _Bar:
    """A tqdm.auto bar showing done / total calls, cached, errors and dollars."""

    def __init__(self) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=0, unit="call", desc="judging", leave=True)

    def update(self, p: Any) -> None:
        self._bar.total = p.total
        self._bar.n = p.done
        self._bar.set_postfix(cached=p.cached, errors=p.errors, cost=f"${p.cost_usd:.4f}", refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


def _progress_bar() -> _Bar | None:
    try:
        return _Bar()
    except ImportError:  # tqdm comes with litellm; without it, no bar
        return None


def _prepare(
    df: pd.DataFrame, suite: Suite | str | Path, rows: Any, columns: Mapping[str, str] | None
) -> tuple[pd.DataFrame, Suite]:
    """Validate the inputs and select the rows; every problem is raised before any work."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"evaluate needs a pandas DataFrame, got {type(df).__name__}")
    suite = _load_suite(suite)
    if not df.index.is_unique:
        dupes = df.index[df.index.duplicated()].unique().tolist()
        raise ColumnsError(
            f"the DataFrame's index has duplicate labels {cap_list(dupes)}; results are keyed by index "
            "label, so each row needs its own. Use df.reset_index(drop=True), or set a unique id column "
            "with df.set_index('id')."
        )
    if columns:
        absent = [c for c in columns.values() if c not in df.columns]
        if absent:
            raise ColumnsError(
                f"columns= maps to {absent}, which are not in the DataFrame; columns are {cap_list(list(df.columns))}"
            )
        df = df.rename(columns={v: k for k, v in columns.items()})
    df = _select_rows(df, rows)
    problems = reference_problems(suite, list(df.columns))
    if problems:
        n = len(problems)
        raise ColumnsError(
            f"{n} problem{'s' if n != 1 else ''} between suite {suite.name!r} and the DataFrame:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + f"\nColumns in the DataFrame: {cap_list([str(c) for c in df.columns], 30)}."
            + "\nFix the paths, or map names to columns with columns={'name_in_suite': 'column'}."
        )
    return df, suite
