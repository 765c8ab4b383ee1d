"""A worker process's main loop: evaluate what any process persisted for a monitor, as
``workbench monitor serve`` does, from Python (with alerts, which the command line cannot
express)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..config import JudgeConfig
from ..errors import ConfigError, StoreError
from ..secrets import known_secrets
from ..specs import Suite
from ..store import Store, read_monitor
from ._options import MonitorOptions, Observer, build_observer, judge_config, split_options
from ._worker import Pool

__all__ = ["serve"]


def serve(
    store: Store | str | os.PathLike[str] | None = None,
    suite: Suite | str | Path | None = None,
    *,
    name: str | None = None,
    model: str | None = None,
    judge: JudgeConfig | None = None,
    workers: int = 1,
    until_idle: bool = False,
    alerts: Sequence[Any] | Observer | None = None,
    on_fail: Callable[[Any], Any] | None = None,
    alert_to: Any = (),
    report: Callable[[dict[str, int]], Any] | None = None,
    report_every_s: float = 10.0,
    options: MonitorOptions | None = None,
    **keywords: Any,
) -> dict[str, int]:
    """Evaluate a monitor's persisted records in this process until SIGINT or SIGTERM (or,
    with ``until_idle``, until none is left); batches in flight then get up to the lease to
    finish, and any claim still held after that is given back. Several
    processes can serve one store: each record is claimed under a lease by one of them.

    Args:
        store: the store the monitor persists to (default: the default store).
        suite: the suite to evaluate with (default: the one the monitor registered in the store).
        name: the monitor's name (default: the suite's name).
        model, judge, **keywords: judge options and :class:`MonitorOptions` fields, as
            :class:`~workbench.Monitor` takes them.
        workers: evaluation loops in this process.
        until_idle: return once the monitor has no queued or claimed record left.
        alerts, on_fail, alert_to: as :class:`~workbench.Monitor` takes them.
        report: called with the counters every ``report_every_s`` seconds.

    Returns:
        The counters: evaluated, errors, retried, reclaimed, lost_claims, cells, batches.

    Raises:
        StoreError: no suite was given and the store has none registered for ``name``.
        ConfigError: a bad option. WorkbenchError: judge tasks without a model.

    Example:
        >>> import tempfile, workbench as wb
        >>> from workbench.monitor import serve
        >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="t", path="x", op="is_positive")])
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     with wb.Monitor(suite, store=tmp, workers=0) as m:
        ...         _ = [m.submit({"x": x}) for x in (1, -1)]
        ...     serve(tmp, name="s", until_idle=True)["evaluated"]
        2
    """
    from ..inputs import load_suite, require_models

    path = Store(store).path
    if suite is None:
        info = read_monitor(path, name) if name is not None else None
        if info is None or not info.get("suite_yaml"):
            raise StoreError(
                f"no suite to evaluate monitor {name!r} with: the store at {path} has none registered under "
                "that name (a wb.Monitor registers its suite with its first records). Pass the suite "
                "(--suite SUITE)."
                if name is not None
                else "serve needs the suite (--suite SUITE) or the monitor's name (--name NAME)"
            )
        suite_obj = Suite.from_yaml(info["suite_yaml"])
    else:
        suite_obj = load_suite(suite)
    name = name if name is not None else suite_obj.name
    mine, judge_options = split_options(keywords)
    base = options.model_dump() if options is not None else {}
    opts = MonitorOptions(**{**base, **mine})
    config = judge_config(judge, model, judge_options)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers={workers!r} must be a whole number >= 1")
    require_models(suite_obj, config)
    secrets = known_secrets(config.connection)
    observer = build_observer(alerts, on_fail, alert_to, opts, path, name, workers, suite_obj, secrets)
    pool = Pool(path, name, suite_obj, config, opts, workers, observer, until_idle=until_idle)
    try:
        pool.run(handle_signals=True, report=report, report_every_s=report_every_s)
    finally:
        close = getattr(observer, "close", None)
        if callable(close):
            close()
    return pool.counters.as_dict()
