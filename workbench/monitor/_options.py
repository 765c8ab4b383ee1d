"""How a monitor queues, persists and evaluates: :class:`MonitorOptions`, one frozen object,
and the split of ``Monitor(...)``'s keywords between it and the judge's options."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from typing_extensions import TypeIs

from ..config import JudgeConfig
from ..errors import ConfigError, WorkbenchError, closest
from ..specs import Suite

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["WHEN_FULL", "MonitorOptions", "Observer", "build_observer", "judge_config", "split_options"]

WHEN_FULL = ("drop_newest", "drop_oldest", "block")
"""What :meth:`Monitor.submit` does when the in-memory queue is full."""


@runtime_checkable
class Observer(Protocol):
    """What a monitor hands each committed batch of results to (alerts): any object with
    this method. It gets the long results frame of the records just committed.

    Example:
        >>> class Printer:
        ...     def observe(self, results):
        ...         print(len(results), "cells")
        >>> isinstance(Printer(), Observer)
        True
    """

    def observe(self, results: pd.DataFrame) -> Any:
        """Look at the cells of one committed batch (columns of ``wb.monitor_results``)."""
        ...


class MonitorOptions(BaseModel):
    """The queue, writer and worker settings of a :class:`~workbench.Monitor` (the judge's
    are a :class:`~workbench.JudgeConfig`). Given as keywords to ``Monitor(...)`` or whole
    as ``options=``.

    Example:
        >>> from workbench.monitor import MonitorOptions
        >>> opts = MonitorOptions(queue_size=1000, when_full="block")
        >>> opts.queue_size, opts.when_full, opts.max_retries
        (1000, 'block', 3)
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    queue_size: int = Field(10_000, ge=1)
    """Most records held in memory before they are persisted; past it, ``when_full`` applies."""
    when_full: Literal["drop_newest", "drop_oldest", "block"] = "drop_newest"
    """A full queue drops the record being submitted (``drop_newest``), the oldest one not yet
    persisted (``drop_oldest``), or makes ``submit`` wait up to ``block_timeout_s`` for room
    and then drops the new one (``block``). Every drop is counted and logged once per burst."""
    block_timeout_s: float = Field(0.1, ge=0)
    """How long ``submit`` waits for room under ``when_full="block"``."""
    commit_interval_s: float = Field(0.005, gt=0, le=5)
    """The writer persists what was submitted every this often (one transaction per group):
    what a SIGKILL of the application can lose is at most this window plus one write."""
    batch_size: int = Field(256, ge=1, le=100_000)
    """Most records a worker claims and evaluates at once."""
    lease_s: float = Field(30.0, gt=0)
    """How long a claim lasts; a working worker renews it, a dead one's claims are taken
    again this long after its last renewal."""
    max_retries: int = Field(3, ge=0)
    """Times a record whose judge calls failed is evaluated again (after a backoff) before its
    error cells are stored. Per-call retries are the judge's: ``judge=wb.JudgeConfig(max_retries=...)``."""
    retry_backoff_s: float = Field(1.0, ge=0)
    """The first record retry waits this long; it doubles per attempt (with jitter, at most 300 s)."""
    poll_s: float = Field(0.2, gt=0)
    """How often an idle worker looks for records other processes persisted."""
    cooldown_s: float = Field(300.0, ge=0)
    """Alerts: after an alert fires, the same rule stays quiet this long."""

    def __init__(self, **data: Any) -> None:
        unknown = sorted(set(data) - set(type(self).model_fields))
        if unknown:
            raise ConfigError(_unknown(unknown))
        try:
            super().__init__(**data)
        except ValidationError as e:
            lines = [
                f"monitor option {'.'.join(str(p) for p in err['loc'])}={err.get('input')!r} is not allowed: "
                f"{str(err['msg']).removeprefix('Value error, ')}"
                for err in e.errors()
            ]
            raise ConfigError("\n".join(lines)) from None


def split_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``Monitor(...)``'s extra keywords as ``(monitor options, judge options)``. A name both
    could take (``max_retries``) is the monitor's: records are retried, and the judge's
    per-call retries go in ``judge=wb.JudgeConfig(max_retries=...)``.

    Example:
        >>> split_options({"max_retries": 2, "temperature": 0.1})
        ({'max_retries': 2}, {'temperature': 0.1})
    """
    mine = {k: v for k, v in options.items() if k in MonitorOptions.model_fields}
    return mine, {k: v for k, v in options.items() if k not in mine}


def _unknown(names: list[str]) -> str:
    known = sorted(MonitorOptions.model_fields)
    lines = []
    for name in names:
        hits = closest(name, known)
        hint = "; did you mean " + " or ".join(repr(h) for h in hits) + "?" if hits else ""
        lines.append(f"unknown monitor option {name!r}{hint}")
    lines.append(f"Monitor options are {known}.")
    return "\n".join(lines)


def judge_config(judge: JudgeConfig | None, model: str | None, options: dict[str, Any]) -> JudgeConfig:
    """:meth:`JudgeConfig.build`, with a hint when an unknown keyword looks like a monitor option.

    Example:
        >>> judge_config(None, "openai/m", {"temperature": 0.2}).params
        {'temperature': 0.2}
    """
    try:
        return JudgeConfig.build(judge, model=model, **options)
    except ConfigError as e:
        hints = [
            f"{k!r} is not a judge option; as a monitor option, did you mean {' or '.join(map(repr, hits))}?"
            for k in options
            if (hits := closest(k, sorted(MonitorOptions.model_fields)))
        ]
        if not hints:
            raise
        raise ConfigError("\n".join([str(e), *hints])) from None


def _is_observer(alerts: object) -> TypeIs[Observer]:
    """An object with a callable ``observe`` (duck typing: no need to subclass Observer)."""
    return callable(getattr(alerts, "observe", None))


def build_observer(
    alerts: Sequence[Any] | Observer | None,
    on_fail: Callable[[Any], Any] | None,
    alert_to: Any,
    options: MonitorOptions,
    path: Path,
    name: str,
    workers: int,
    suite: Suite | None = None,
    secrets: Sequence[str] = (),
) -> Observer | None:
    """The object that sees each committed batch: the one given, or alerts built from rules
    (``workbench.monitor._alerts``, imported only when rules are given).

    Raises:
        ConfigError: alerts for a process that evaluates nothing (``workers=0``).
        WorkbenchError: rules were given and the alerts module is missing.

    Example:
        >>> class Seen:
        ...     def observe(self, results): print(len(results))
        >>> watcher = Seen()
        >>> build_observer(watcher, None, (), MonitorOptions(), Path("runs.sqlite"), "m", 1) is watcher
        True
    """
    targets = [alert_to] if isinstance(alert_to, str) or callable(alert_to) else list(alert_to or ())
    if alerts is None and on_fail is None and not targets:
        return None
    if not workers:
        raise ConfigError(
            "alerts, on_fail and alert_to act on evaluated records, and workers=0 evaluates none in this "
            "process: give them to the process that evaluates (wb.monitor.serve(..., alerts=...)), "
            "or use workers>=1"
        )
    if _is_observer(alerts):
        return alerts
    import importlib

    try:  # the alerts are their own module, loaded only when rules are given
        Alerts = importlib.import_module("workbench.monitor._alerts").Alerts
    except (ImportError, AttributeError) as e:
        raise WorkbenchError(
            f"alerts need workbench.monitor's alerts module, which this installation lacks ({e}); pass "
            "alerts= an object with an observe(results) method instead"
        ) from None
    extra: dict[str, Any] = {"suite": suite, "secrets": list(secrets)}
    takes = inspect.signature(Alerts).parameters
    built: Observer = Alerts(
        list(alerts or ()),
        dispatch=targets,
        on_fail=on_fail,
        cooldown_s=options.cooldown_s,
        store_path=path,
        name=name,
        # the suite checks the rules' targets now; the judge's key never reaches an alert
        **{k: v for k, v in extra.items() if k in takes},
    )
    return built
