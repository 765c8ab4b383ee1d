"""The persisted records of a monitor, one row each: to drill down from a result to what
the application saw and said.

Example:
    >>> import tempfile, workbench as wb
    >>> from workbench.monitor import monitor_records
    >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="t", path="answer", op="is_string")])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with wb.Monitor(suite, store=tmp, workers=0) as monitor:
    ...         _ = monitor.submit({"id": "q1", "question": "Capital of France?", "answer": "Paris"})
    ...     monitor_records(store=tmp, name="demo")[["question", "answer", "state"]]
                    question answer   state
    record
    q1      Capital of France?  Paris  queued
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import orjson
import pandas as pd

from ..store import Store, read_records
from ._results import resolve_name, time_bound

__all__ = ["monitor_records"]


def monitor_records(
    store: Store | str | os.PathLike[str] | None = None,
    name: str | None = None,
    *,
    since: Any = None,
    until: Any = None,
    ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A monitor's persisted records, oldest first, indexed by record id: ``time`` (UTC),
    then the record's own fields (as ``submit`` got them), then ``tags``, ``trace_id``,
    ``record_latency_s``, ``state`` (``queued``, ``claimed`` or ``done``), ``claims`` and
    ``attempts`` (evaluations that ended in a retry). A record field named like one of the
    metadata columns keeps its name; the metadata column then takes a ``record_`` prefix.

    Args:
        store: the monitor's store (default: the default store).
        name: the monitor's name (default: the only one in the store).
        since, until: a time window, as :func:`~workbench.monitor_results` takes it.
        ids: only these record ids.

    Example:
        >>> import tempfile, workbench as wb
        >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="t", path="x", op="is_positive")])
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     with wb.Monitor(suite, store=tmp, workers=0) as monitor:
        ...         _ = [monitor.submit({"id": i, "x": n}) for i, n in (("a", 1), ("b", 2))]
        ...     monitor_records(store=tmp, name="s", ids=["b"])["x"].tolist()
        [2]
    """
    path = Store(store).path
    name = resolve_name(path, name)
    rows = read_records(path, name, time_bound(since, "since"), time_bound(until, "until"), ids)
    index = pd.Index([str(r[0]) for r in rows], name="record", dtype=pd.Index(["x"]).dtype)
    fields = pd.DataFrame.from_records([orjson.loads(r[2]) for r in rows], index=index) if rows else None
    times = pd.to_datetime(pd.Series([r[1] for r in rows], dtype="float64"), unit="s", utc=True)
    meta = {
        "tags": [None if r[3] is None else orjson.loads(r[3]) for r in rows],
        "trace_id": pd.array([r[4] for r in rows], dtype="string"),
        "record_latency_s": pd.array([r[5] for r in rows], dtype="Float64"),
        "state": pd.Categorical([r[6] for r in rows], categories=["queued", "claimed", "done"]),
        "claims": pd.array([int(r[7]) for r in rows], dtype="int64"),
        "attempts": pd.array([int(r[8]) for r in rows], dtype="int64"),
    }
    taken = set(fields.columns) if fields is not None else set()
    parts = [pd.DataFrame({"time": times.astype("datetime64[us, UTC]").to_numpy()}, index=index)]
    if fields is not None:
        parts.append(fields)
    parts.append(
        pd.DataFrame({(f"record_{k}" if k in taken else k): v for k, v in meta.items()}, index=index)
    )
    out: pd.DataFrame = pd.concat(parts, axis=1)
    out["time"] = out["time"].astype("datetime64[us, UTC]")
    return out
