"""``wb.resume(run_id)``: pick a batch-mode run up again, in this process or any other.

It sits above :mod:`workbench.frame` (it calls ``evaluate`` again with the run's stored
rows, suite and options) and :mod:`workbench.batch` (which ``evaluate`` uses)."""

from __future__ import annotations

import os
from typing import Any

from .batch import BatchOptions, PendingRun, decode_inputs
from .config import JudgeConfig
from .errors import UnknownRunError, cap_list
from .run import Run
from .specs import Suite
from .store import Store
from .store.batches import load_job, pending_jobs

__all__ = ["resume"]


def resume(
    run: str | Run,
    store: Store | str | os.PathLike[str] | None = None,
    *,
    batch: bool | BatchOptions = True,
    wait: bool = True,
    retry_failed: bool = False,
    progress: bool = True,
    **options: Any,
) -> Run:
    """Finish a batch-mode run: wait for the batches it submitted (submitting nothing they
    already cover), read their replies and return the finished run, saved (when the run was
    to be saved) under the id the pending run had.

    The run's rows, suite and judge options come from the store, so this works in a fresh
    process; the connection is never stored, so give it again (``api_base=``, ``api_key=``)
    unless the environment has it (``OPENAI_API_KEY``...) or ``run`` is the pending run itself.

    Args:
        run: the pending run, or its id (``run.id``; a unique prefix works).
        store: the run store the run was made with (default: as ``evaluate``'s default).
        batch: ``True``, or :class:`BatchOptions` for how to poll; ``False`` collects the
            pending batches and calls anything else (``retry_failed`` lines) directly.
        wait: ``False`` polls once and returns (a pending run again while batches run).
        retry_failed: resubmit the lines the provider failed or expired (as a batch, or
            directly with ``batch=False``).
        progress: show the provider's counts while waiting.
        **options: connection and judge keywords as :func:`~workbench.evaluate` takes them.

    Raises:
        UnknownRunError: the store has no batch-mode run with that id.

    Example:
        >>> import tempfile, workbench as wb
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     try:
        ...         wb.resume("20261201-000000-abc", store=tmp)
        ...     except wb.UnknownRunError as e:
        ...         print(str(e).split(":")[0])
        no batch-mode run '20261201-000000-abc' in the run store at ...
    """
    from .frame import evaluate

    ref = run.id if isinstance(run, Run) else run
    if store is None and isinstance(run, PendingRun):
        store = run.store_path
    target = store if isinstance(store, Store) else Store(store)
    if not isinstance(ref, str) or not ref:
        raise UnknownRunError("resume() needs a run id (run.id) or the pending run itself")
    job = load_job(target.path, ref)
    if job is None:
        waiting = pending_jobs(target.path)
        raise UnknownRunError(
            f"no batch-mode run {ref!r} in the run store at {target.path}: "
            + (
                f"the runs still waiting for batches there are {cap_list(waiting, 5)}"
                if waiting
                else "no run there waits for batches"
            )
            + ". A batch-mode run is recorded when evaluate(..., batch=True) submits its first batch; "
            "pass store= the store it was made with."
        )
    if job.state == "done" and job.params.get("save"):
        try:
            return target.load(job.id)
        except UnknownRunError:
            pass  # deleted since: run it again from the cache
    if isinstance(run, PendingRun) and len(run.endpoints) == 1 and "api_base" not in options:
        endpoint = next(iter(run.endpoints.values()))
        options.setdefault("api_base", endpoint.api_base)
        if endpoint.api_key:
            options.setdefault("api_key", endpoint.api_key)
    config = JudgeConfig.from_params(job.params.get("judge", {}))
    return evaluate(
        decode_inputs(job.inputs),
        Suite.from_yaml(job.suite_yaml),
        judge=config,
        batch=batch,
        wait=wait,
        retry_failed=retry_failed,
        strict=bool(job.params.get("strict", False)),
        label=job.params.get("label"),
        save=bool(job.params.get("save", True)),
        store=target,
        progress=progress,
        **options,
    )
