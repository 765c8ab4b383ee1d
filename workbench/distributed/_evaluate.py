"""``wb.evaluate(ddf, suite)`` for a Dask DataFrame: one task per partition on the cluster of
the running ``distributed.Client``, each evaluating its partition with the pandas path.

What runs where: the suite, the columns and every path are checked here, on the empty frame
Dask keeps for the DataFrame's columns and dtypes, before any task is scheduled (the same
checks, the same errors as for pandas). Each partition is read and evaluated on a worker:
assertions, judge calls (through the worker's cache: Redis for a cluster), and, when the run
is saved, its results written as one Parquet file beside the run store. Only small records
come back: the partition's summary counts and call totals, from which the run's summary is
made here.
"""

from __future__ import annotations

import asyncio
import operator
import os
import time
import uuid
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import JudgeConfig
from ..errors import CacheWarning, ColumnsError, ConfigError, StoreWarning, WorkbenchError
from ..specs import JudgeTask, Suite
from ._frames import import_dask
from ._partials import combine
from ._progress import Tracker, progress_display
from ._run import DaskRun
from ._worker import PartitionJob, PartitionOutcome, run_partition

__all__ = ["evaluate_dask", "evaluate_dask_async"]

_POLL_S = 0.1


def evaluate_dask(
    ddf: Any,
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
    client: Any = None,
    cluster_concurrency: int | None = None,
    **options: Any,
) -> DaskRun:
    """Evaluate a Dask DataFrame on its cluster; what ``wb.evaluate(ddf, ...)`` calls.

    Takes :func:`workbench.evaluate`'s arguments, with these differences:

    Args:
        rows: None (every row), or a boolean Dask Series aligned with ``ddf`` (``ddf["n"] > 3``).
        concurrency: most judge calls in flight per worker process (default 16), shared by
            the partitions a worker runs at once.
        cluster_concurrency: most judge calls in flight across the whole cluster, held by a
            ``distributed.Semaphore`` (default: no cap beyond ``concurrency`` per worker).
        progress: a bar (calls done, cached, errors, dollars, partitions) fed by the workers;
            or a callable, called on this thread with a :class:`ClusterProgress` at each change.
        save: write the results as Parquet files beside the run store (from the workers, as
            each partition ends; memory per worker stays one partition's) and register the run
            in the store. ``False`` keeps the results in the workers' memory.
        store: the run store (a folder, a ``.sqlite`` file or a ``Store``); on a cluster of
            several machines its folder must be reachable at the same path from every worker.
        client: the ``distributed.Client`` to run on (default: the current one).

    Returns:
        A :class:`DaskRun`: ``.results`` is a Dask DataFrame, ``.summary()`` was computed on
        the cluster, ``.compute()`` is the pandas :class:`~workbench.Run`.

    Raises:
        ColumnsError, SpecError, ConfigError, WorkbenchError: as :func:`workbench.evaluate`,
            before any task is scheduled; also when no Dask client is running.
        EvaluationError: with ``strict=True``, for the first error cell of any partition.
        MissingDependencyError: dask or distributed is not installed.

    Example:
        >>> import dask.dataframe as dd, pandas as pd, workbench as wb
        >>> from workbench.distributed import evaluate_dask
        >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="t", path="x", op="is_positive")])
        >>> try:  # no distributed.Client is running in this doctest
        ...     evaluate_dask(dd.from_pandas(pd.DataFrame({"x": [1]}), npartitions=1), suite)
        ... except wb.WorkbenchError as e:
        ...     print(str(e)[:60])
        a Dask DataFrame is evaluated on a Dask cluster, and no dist
    """
    dd, distributed = import_dask()
    config = JudgeConfig.build(judge, model=model, concurrency=concurrency, **options)
    if cluster_concurrency is not None and (
        isinstance(cluster_concurrency, bool)
        or not isinstance(cluster_concurrency, int)
        or cluster_concurrency < 1
    ):
        raise ConfigError(
            f"cluster_concurrency={cluster_concurrency!r} is not allowed: give a whole number >= 1"
        )
    if not isinstance(ddf, dd.DataFrame):
        raise TypeError(f"evaluate_dask needs a dask.dataframe.DataFrame, got {type(ddf).__name__}")
    ddf = _selected(dd, ddf, rows)
    meta, suite = _checked(ddf, suite, columns, config, strict)
    client = _client(distributed, client)
    judged = any(isinstance(t, JudgeTask) for t in suite.tasks)
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    topic = f"workbench-{uuid.uuid4().hex}"
    run_id, target, folder = _results_folder(save, store, started)
    job = PartitionJob(
        suite=suite,
        config=_for_workers(config),
        columns=dict(columns) if columns else None,
        strict=strict,
        meta=meta,
        judged=judged,
        topic=topic,
        cluster_concurrency=cluster_concurrency if judged else None,
        folder=None if folder is None else str(folder),
    )
    semaphore = (
        distributed.Semaphore(max_leases=cluster_concurrency, name=topic) if job.cluster_concurrency else None
    )
    from dask.delayed import delayed

    evaluate_part: Any = delayed(run_partition, pure=False)
    tasks = [evaluate_part(part, i, job) for i, part in enumerate(ddf.to_delayed(optimize_graph=True))]
    hook, display = progress_display(progress) if judged else (None, None)
    tracker = Tracker(len(tasks), hook)
    if judged:
        client.subscribe_topic(topic, tracker.on_event)
    try:
        futures = client.compute(tasks)
        outcome_futures = [client.submit(operator.itemgetter(1), f, pure=False) for f in futures]
        frame_futures = [client.submit(operator.itemgetter(0), f, pure=False) for f in futures]
        del futures  # the frames stay with frame_futures; the outcomes come back here, nothing else
        outcomes: list[PartitionOutcome] = _wait(client, outcome_futures, frame_futures, tracker)
    finally:
        if judged:
            client.unsubscribe_topic(topic)
        tracker.refresh(force=True)
        if display is not None:
            display.close()
        if semaphore is not None:
            semaphore.close()
    _replay_warnings(outcomes)
    results = _results(dd, meta, folder, outcomes, frame_futures)
    run = DaskRun(
        suite=suite,
        results=results,
        model=config.model,
        started_at=started,
        duration_s=time.perf_counter() - t0,
        calls=_calls(outcomes) if judged else {},
        label=label,
        data_fingerprint=_fingerprint(outcomes),
        params=_params(ddf, config, columns, strict, judged, len(tasks), cluster_concurrency),
        partitions=len(tasks),
        rows=sum(o.rows for o in outcomes),
        meta=meta,
        cluster_summary=combine([o.blocks for o in outcomes]),
        tokens=sum(o.tokens for o in outcomes),
    )
    if folder is not None and target is not None:
        _register(run, run_id, target, folder, outcomes)
    return run


async def evaluate_dask_async(ddf: Any, suite: Suite | str | Path, **kwargs: Any) -> DaskRun:
    """:func:`evaluate_dask` for async code (the wait for the cluster runs in a thread, so the
    event loop goes on); the same arguments, the same result."""
    return await asyncio.to_thread(evaluate_dask, ddf, suite, **kwargs)


def _selected(dd: Any, ddf: Any, rows: Any) -> Any:
    if rows is None:
        return ddf
    if isinstance(rows, dd.Series):
        return ddf[rows]
    raise ColumnsError(
        f"rows= on a Dask DataFrame takes a boolean Dask Series aligned with it (ddf['score'] > 3), "
        f"not {type(rows).__name__}: labels cannot be checked before the partitions are read. Select "
        "them first, e.g. wb.evaluate(ddf.loc[start:end], suite)."
    )


def _checked(
    ddf: Any, suite: Suite | str | Path, columns: Mapping[str, str] | None, config: JudgeConfig, strict: bool
) -> tuple[pd.DataFrame, Suite]:
    """The pandas path run on the DataFrame's empty frame (its columns and dtypes): every spec,
    column and model problem raised as for pandas, before any task; and the empty results
    frame every partition's results will look like."""
    from ..frame import evaluate

    empty = ddf._meta
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="the DataFrame has no rows")  # it is the empty frame
        run = evaluate(
            empty,
            suite,
            columns=columns,
            strict=strict,
            judge=config.model_copy(update={"use_cache": False}),  # no call is made: nothing to open
            progress=False,
            save=False,
        )
    return run.results, run.suite


def _client(distributed: Any, client: Any) -> Any:
    if client is not None:
        return client
    try:
        return distributed.default_client()
    except ValueError:
        raise WorkbenchError(
            "a Dask DataFrame is evaluated on a Dask cluster, and no distributed.Client is running in this "
            "process. Connect to the cluster first: from distributed import Client; "
            "client = Client('tcp://scheduler:8786') (or Client(LocalCluster()) on this machine), or pass "
            "client=. Nothing was run."
        ) from None


def _for_workers(config: JudgeConfig) -> JudgeConfig:
    """The config as the workers need it: the disk cache, when it is the cache, at the folder
    this process would use (so one cache is shared by every worker of this machine, or of a
    shared file system), not each worker's own default."""
    if config.cache or not config.use_cache or config.cache_dir is False:
        return config
    from ..llm import default_cache_dir

    where = Path(config.cache_dir) if config.cache_dir is not None else default_cache_dir()
    return config.model_copy(update={"cache_dir": str(where.expanduser().absolute())})


def _results_folder(save: bool, store: Any, started: datetime) -> tuple[str | None, Any, Path | None]:
    """The run's id, store and results folder when the run is to be saved (else Nones); a
    folder that cannot be made warns and the run is kept in memory, as a failed pandas save."""
    from ..frame import SAVE_RUNS_ENV
    from ..store import Store, new_run_id, results_folder

    if not save or os.environ.get(SAVE_RUNS_ENV) == "0":
        return None, None, None
    target = store if isinstance(store, Store) else Store(store)
    run_id = new_run_id(started)
    folder = results_folder(target.path, run_id)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        warnings.warn(
            f"the run will not be saved: its results folder {folder} cannot be made "
            f"({type(e).__name__}: {e}). Its results stay in the workers' memory; save it later with "
            "run.save(store=...), or pass save=False to evaluate to skip saving.",
            StoreWarning,
            stacklevel=4,
        )
        return None, None, None
    return run_id, target, folder


def _wait(client: Any, outcomes: list[Any], frames: list[Any], tracker: Tracker) -> list[PartitionOutcome]:
    """Wait for every partition, drawing progress on this thread; the first failed partition
    (a strict error, a bad partition) cancels the rest and is raised. Ctrl-C cancels them."""
    pending = set(range(len(outcomes)))
    try:
        while pending:
            for i in sorted(pending):
                f = outcomes[i]
                if f.status == "finished":
                    pending.discard(i)
                    tracker.partition_finished()
                elif f.status in ("error", "cancelled"):
                    try:
                        f.result()  # raises the partition's exception, with its traceback
                    finally:
                        client.cancel(outcomes + frames)
            tracker.refresh()
            if pending:
                time.sleep(_POLL_S)
    except KeyboardInterrupt:
        client.cancel(outcomes + frames)
        raise KeyboardInterrupt(
            "evaluation interrupted: the cluster's tasks were cancelled; finished verdicts are cached, so "
            "running the cell again resumes where it stopped"
        ) from None
    return list(client.gather(outcomes))


def _replay_warnings(outcomes: list[PartitionOutcome]) -> None:
    """Warnings the workers raised (a cache that failed, a judge config problem), once each, here."""
    seen = dict.fromkeys(w for o in outcomes for w in o.warnings)
    for category, message in seen:
        kind = {"CacheWarning": CacheWarning, "StoreWarning": StoreWarning}.get(category, UserWarning)
        warnings.warn(f"on a Dask worker: {message}", kind, stacklevel=4)


def _results(
    dd: Any, meta: pd.DataFrame, folder: Path | None, outcomes: list[PartitionOutcome], frames: list[Any]
) -> Any:
    """The run's results as a Dask DataFrame: read from the Parquet files the workers wrote, or
    (not saved, or a file that could not be written) the partitions the workers hold."""
    from dask.delayed import delayed

    from ..store import read_part

    read: Any = delayed(read_part)

    if folder is not None and all(o.part is not None for o in outcomes):
        return dd.from_map(read_part, [folder / o.part.name for o in outcomes], like=meta, meta=meta)
    parts = [
        read(folder / o.part.name, meta) if folder is not None and o.part is not None else f
        for o, f in zip(outcomes, frames)
    ]
    return dd.from_delayed(parts, meta=meta, verify_meta=False)


def _calls(outcomes: list[PartitionOutcome]) -> dict[str, Any]:
    """The run's judge-call totals, summed over the partitions as their final counts came back."""
    total: dict[str, Any] = {"calls": 0, "cache_hits": 0, "errors": 0, "not_sent": 0, "saved_usd": 0.0}
    cost: float | None = 0.0
    for o in outcomes:
        if not o.calls:
            continue
        for k in ("calls", "cache_hits", "errors", "not_sent", "saved_usd"):
            total[k] += o.calls.get(k) or 0
        c = o.calls.get("cost_usd")
        cost = None if cost is None or c is None else cost + c  # one unknown price: the total is unknown
    return {**total, "cost_usd": cost}


def _fingerprint(outcomes: list[PartitionOutcome]) -> str:
    """The partitions' fingerprints, in order, hashed into one (the same data in the same
    partitions gives the same fingerprint)."""
    import xxhash

    h = xxhash.xxh3_128(b"workbench-dask-v1")
    for o in outcomes:
        h.update(o.fingerprint.encode())
    return h.hexdigest()[:16]


def _params(
    ddf: Any,
    config: JudgeConfig,
    columns: Mapping[str, str] | None,
    strict: bool,
    judged: bool,
    partitions: int,
    cluster_concurrency: int | None,
) -> dict[str, Any]:
    from ..secrets import safe_params

    recorded: dict[str, Any] = {
        "strict": strict,
        "columns": dict(columns) if columns else None,
        "engine": "dask",
        "partitions": partitions,
        "cluster_concurrency": cluster_concurrency,
    }
    if ddf.index.name is not None:
        recorded["index_names"] = [str(ddf.index.name)]
    if judged:
        recorded.update(config.to_params())
    return safe_params({k: v for k, v in recorded.items() if v is not None})


def _register(
    run: DaskRun, run_id: str | None, target: Any, folder: Path, outcomes: list[PartitionOutcome]
) -> None:
    """Register a run whose workers wrote every file; a file or a registration that failed warns
    and leaves the run unsaved (its results are complete either way)."""
    from ..store import register_parquet_run, remove_folder

    failed = [o for o in outcomes if o.part is None]
    if failed:
        remove_folder(folder)
        warnings.warn(
            f"the run was not saved: {len(failed)} of {len(outcomes)} partitions could not write their "
            f"results in {folder} (the first: {failed[0].write_error}). The returned run is complete (those "
            "partitions' results stay in the workers' memory); save it later with run.save(store=...).",
            StoreWarning,
            stacklevel=4,
        )
        return
    run.id = run_id
    assert run.meta is not None
    try:
        register_parquet_run(
            target.path,
            run,
            run.meta,
            [o.part for o in outcomes],
            run.summary(),
            {"rows": run.rows, "tokens": run.tokens},
            run.label,
        )
    except Exception as e:  # noqa: BLE001 - any failure to save must leave the run usable
        run.id = None
        warnings.warn(
            f"the run was not saved to the run store at {target.path}: {type(e).__name__}: {e}. Its results "
            f"are in {folder}; the returned run is complete. Save it again with run.save(store=...).",
            StoreWarning,
            stacklevel=4,
        )
        return
    run.store_path = target.path
