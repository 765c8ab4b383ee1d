"""Monitored results read back as the long results frame of the offline API, plus the
record id, its time and the application's own latency for it.

Example:
    >>> import tempfile, workbench as wb
    >>> tmp = tempfile.TemporaryDirectory()
    >>> short = wb.AssertionTask(id="short", path="answer", op="has_length_less_than", expected=20)
    >>> suite = wb.Suite(name="demo", tasks=[short])
    >>> with wb.Monitor(suite, store=tmp.name, workers=1) as monitor:
    ...     _ = monitor.submit({"id": "a", "answer": "Paris."})
    ...     _ = monitor.submit({"id": "b", "answer": "It is a long story, you see."})
    ...     _ = monitor.flush(timeout=30)
    >>> wb.monitor_results(store=tmp.name, name="demo")[["record", "task", "status"]]
      record   task  status
    0      a  short  passed
    1      b  short  failed
    >>> tmp.cleanup()
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import StoreError, cap_list, did_you_mean
from ..results import RESULT_COLUMNS, STATUSES
from ..specs import JudgeTask, Suite
from ..store import Store, monitor_names, read_monitor, read_results

__all__ = ["MONITOR_COLUMNS", "cells_frame", "monitor_results", "resolve_name", "time_bound"]

MONITOR_COLUMNS: tuple[str, ...] = (*RESULT_COLUMNS, "record", "time", "record_latency_s")
"""The columns of monitored results: those of ``Run.results``, then the record id, the
record's time (UTC) and the application's latency for the record (missing when it carried
none)."""

_ROW_DTYPE = pd.Index(["x"]).dtype
"""The dtype an index of string labels has, which ``row`` keeps offline."""


def monitor_results(
    store: Store | str | os.PathLike[str] | None = None,
    name: str | None = None,
    *,
    since: Any = None,
    until: Any = None,
) -> pd.DataFrame:
    """The cells of every record a monitor evaluated, oldest record first: the columns and
    dtypes of ``Run.results`` (``row`` is the record id), plus ``record``, ``time`` and
    ``record_latency_s``, so offline charts, ``compare`` and ``agreement`` work on it.

    Args:
        store: the store the monitor writes to (a folder, a ``.sqlite`` file or a
            :class:`~workbench.Store`; default: the default store).
        name: the monitor's name (default: the only monitor in the store).
        since: only records at or after this time: a datetime (naive is UTC), ISO text,
            epoch seconds, or a ``timedelta`` meaning that long ago.
        until: only records before this time (same forms).

    Raises:
        StoreError: the store holds no monitor by that name (the message lists those it
            has), or several and no ``name`` was given.

    Example:
        >>> import tempfile, workbench as wb
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     list(wb.monitor_results(store=tmp, name="none").columns[-3:])
        ['record', 'time', 'record_latency_s']
    """
    path = Store(store).path
    name = resolve_name(path, name)
    info = read_monitor(path, name)
    suite = None
    if info is not None and info.get("suite_yaml"):
        suite = Suite.from_yaml(info["suite_yaml"])
    rows = read_results(path, name, time_bound(since, "since"), time_bound(until, "until"))
    return cells_frame(rows, suite)


def resolve_name(path: Path, name: str | None) -> str:
    """``name``, or the only monitor of the store when it is None.

    Raises:
        StoreError: no name was given and the store holds several monitors, or none; or the
            name is unknown while the store holds others (the message lists them).

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     resolve_name(Path(tmp) / "runs.sqlite", "support")  # an empty store takes any name
        'support'
    """
    names = monitor_names(path)
    if name is None:
        if len(names) == 1:
            return names[0]
        if not names:
            raise StoreError(
                f"the store at {path} holds no monitored records yet; pass name= the monitor's name "
                "(wb.Monitor(suite, name=...); by default the suite's name)"
            )
        raise StoreError(
            f"the store at {path} holds several monitors, {cap_list(names)}: pass name= one of them"
        )
    if not isinstance(name, str):
        raise TypeError(f"name must be a monitor's name (a string), got {type(name).__name__}")
    if names and name not in names:
        raise StoreError(
            f"no monitor {name!r} in the store at {path}{did_you_mean(name, names)}; it holds "
            f"{cap_list(names)}"
        )
    return name


def time_bound(value: Any, what: str) -> float | None:
    """Epoch seconds for a ``since=``/``until=`` value (None stays None).

    Raises:
        ValueError: the value is not a time (the message says which forms are taken).

    Example:
        >>> time_bound("2026-01-01T00:00:00Z", "since")
        1767225600.0
    """
    from ._writer import to_epoch

    if value is None:
        return None
    if isinstance(value, timedelta):  # pandas' Timedelta is one
        return (datetime.now(timezone.utc) - value).timestamp()
    try:
        return to_epoch(value)
    except (ValueError, TypeError, OverflowError) as e:
        raise ValueError(
            f"{what}={value!r} is not a time: give a datetime (naive is UTC), ISO 8601 text, epoch seconds, "
            f"or a timedelta meaning that long ago ({e})"
        ) from None


def cells_frame(rows: Sequence[Sequence[Any]], suite: Suite | None = None) -> pd.DataFrame:
    """The monitored results frame from ``(record, time, *CELL_FIELDS, record latency_s)``
    rows, with the offline dtypes; task and criterion categories follow ``suite``'s order.

    Example:
        >>> frame = cells_frame([("r1", 0.0, "t", "", "assertion", "passed", 1, None, None, None, None, 0,
        ...                       None, None, None, 0.25)])
        >>> frame[["row", "task", "status", "passed", "time", "record_latency_s"]]
          row task  status  passed                      time  record_latency_s
        0  r1    t  passed    True 1970-01-01 00:00:00+00:00              0.25
    """
    width = 3 + 13
    columns: list[list[Any]] = [list(c) for c in zip(*rows)] if rows else [[] for _ in range(width)]
    record, when, task, criterion, kind, status, passed, score, label, reason, error = columns[:11]
    cached, tokens, cost, latency, record_latency = columns[11:]
    task_order = list(suite.task_ids) if suite is not None else []
    crit_order = [""]
    if suite is not None:
        for t in suite.tasks:
            if isinstance(t, JudgeTask):
                crit_order += [c.name for c in t.criteria] + (["overall"] if t.overall else [])
    task_order += [t for t in dict.fromkeys(task) if t not in task_order]
    crit_order = list(dict.fromkeys(crit_order + list(dict.fromkeys(criterion))))
    frame = {
        "row": pd.Series(record, dtype=_ROW_DTYPE),
        "task": pd.Categorical(task, categories=task_order),
        "criterion": pd.Categorical(criterion, categories=crit_order),
        "kind": pd.Categorical(kind, categories=["assertion", "judge"]),
        "status": pd.Categorical(status, categories=list(STATUSES)),
        "passed": pd.array([None if v is None else bool(v) for v in passed], dtype="boolean"),
        "score": pd.array(score, dtype="Float64"),
        "label": pd.array(label, dtype="string"),
        "reason": pd.array(reason, dtype="string"),
        "error": pd.array(error, dtype="string"),
        "cached": np.array([bool(v) for v in cached], dtype=bool),
        "tokens": pd.array(tokens, dtype="Int64"),
        "cost_usd": pd.array(cost, dtype="Float64"),
        "latency_s": pd.array(latency, dtype="Float64"),
        "record": pd.array(record, dtype="string"),
        "time": pd.to_datetime(pd.Series(when, dtype="float64"), unit="s", utc=True).astype(
            "datetime64[us, UTC]"
        ),
        "record_latency_s": pd.array(record_latency, dtype="Float64"),
    }
    out: pd.DataFrame = pd.DataFrame(frame)
    out.columns = list(MONITOR_COLUMNS)
    return out
