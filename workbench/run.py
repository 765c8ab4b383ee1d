"""A run's outcome: the long results frame and what can be read off it.

Example:
    >>> import pandas as pd, workbench as wb
    >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
    >>> run = wb.evaluate(pd.DataFrame({"x": [1, -2]}), suite)
    >>> run.wide()["pos"].tolist()
    [True, False]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from .errors import ColumnsError, cap_list
from .results import RESULT_COLUMNS, STATUSES, SUMMARY_COLUMNS, CellColumns, passed_values
from .specs import Suite

__all__ = ["Run", "results_frame", "summarize", "widen", "wilson"]


@dataclass(eq=False)
class Run:
    """The outcome of one :func:`evaluate` call.

    Attributes:
        suite: the suite that was run.
        results: the long results frame, one row per (input row, task, criterion), with
            the columns of :data:`workbench.results.RESULT_COLUMNS`.
        model: the judge model of the run, if any.
        started_at: when the run started (UTC).
        duration_s: wall time of the run.
        id: the run's id in the run store once saved (``None`` before), e.g.
            ``20261122-015512-3fa2``: UTC start time and a random suffix.
        label: a name for the run, given to ``evaluate(label=...)`` or :meth:`save`;
            several runs may share one, and ``wb.load_run(label)`` loads the newest.
        data_fingerprint: a hash of the evaluated rows (index and values), so runs over
            the same data can be told apart from runs over other data.
        params: the run's parameters (concurrency, judge options, sampling parameters),
            credentials removed.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
        >>> wb.evaluate(pd.DataFrame({"x": [1, -2, 3]}), suite).summary()[["task", "n", "passed"]]
          task  n  passed
        0  pos  3       2
    """

    suite: Suite
    results: pd.DataFrame
    model: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    duration_s: float = 0.0
    calls: dict[str, Any] = field(default_factory=dict)
    """Judge call totals: ``calls``, ``cache_hits``, ``errors``, ``cost_usd`` (spent),
    ``saved_usd`` (what the cache hits cost when they were first made)."""
    id: str | None = None
    label: str | None = None
    data_fingerprint: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def save(self, store: Any = None, label: str | None = None) -> str:
        """Save this run in the run store and return its id (also set on ``run.id``).

        For runs made with ``evaluate(..., save=False)``, or to save a run in another
        store. ``store`` is a directory, a ``.sqlite`` file or a :class:`~workbench.Store`
        (default: ``$WORKBENCH_HOME`` or ``.workbench/`` in the working directory);
        ``label`` defaults to ``run.label``.

        Example:
            >>> import tempfile, pandas as pd, workbench as wb
            >>> tmp = tempfile.TemporaryDirectory()
            >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
            >>> run = wb.evaluate(pd.DataFrame({"x": [1, -2]}), suite, save=False)
            >>> run.id is None, run.save(store=tmp.name, label="first") == run.id, run.label
            (True, True, 'first')
            >>> tmp.cleanup()
        """
        from .store import save_run

        return save_run(self, store=store, label=label)

    def cost(self) -> pd.DataFrame:
        """Per judge task: cells, cache hits, tokens, dollars spent and mean call latency,
        with a ``total`` row; the total also says what the cache saved. Dollars are missing
        (not 0) where the model's price is unknown. In batch mode the dollars are the batch
        price, and the total's ``direct_usd`` says what the same calls would have cost direct."""
        r = self.results[self.results["kind"] == "judge"]
        per_task = (
            r.groupby("task", observed=True, sort=False)
            .agg(
                cells=("status", "size"),
                cached=("cached", "sum"),
                tokens=("tokens", lambda x: x.sum(min_count=1)),
                cost_usd=(
                    "cost_usd",
                    lambda x: x.sum(min_count=1) if x[~r.loc[x.index, "cached"]].notna().all() else pd.NA,
                ),
                latency_s=("latency_s", "mean"),
            )
            .reset_index()
        )
        per_task["task"] = per_task["task"].astype(str)
        total = {
            "task": "total",
            "cells": int(per_task["cells"].sum()),
            "cached": int(per_task["cached"].sum()),
            "tokens": per_task["tokens"].sum(min_count=1),
            "cost_usd": self.calls.get("cost_usd", np.nan) if per_task["cost_usd"].notna().all() else np.nan,
            "latency_s": r["latency_s"].mean(),
        }
        out = pd.concat([per_task, pd.DataFrame([total])], ignore_index=True)
        out["saved_usd"] = pd.array(
            [pd.NA] * len(per_task) + [self.calls.get("saved_usd", pd.NA)], dtype="Float64"
        )
        if self.calls.get("batched"):  # batch mode: what the batched calls would have cost direct
            direct = self.calls.get("direct_cost_usd")
            out["direct_usd"] = pd.array(
                [pd.NA] * len(per_task) + [pd.NA if direct is None else direct], dtype="Float64"
            )
        for c in ("cost_usd", "latency_s"):
            out[c] = pd.array(pd.to_numeric(out[c], errors="coerce").to_numpy(dtype=float), dtype="Float64")
        out["tokens"] = pd.array(pd.to_numeric(out["tokens"], errors="coerce"), dtype="Int64")
        return out

    def summary(self) -> pd.DataFrame:
        """Per (task, criterion): counts by status, mean score, and the pass rate with a
        Wilson 95% interval (over passed + failed; errors, skips and threshold-less scores
        are not in the rate, and errors never count as a score)."""
        return summarize(self.results)

    def wide(self, values: str | Sequence[str] = "passed") -> pd.DataFrame:
        """One row per input row, one column per (task, criterion) and value.

        With one value name the columns are ``task`` or ``task.criterion``; with several,
        ``task[.criterion].value``. The index is the input's index (a MultiIndex comes back as
        one, with its level names), so ``df.join(run.wide())`` lines up.

        Example:
            >>> import pandas as pd, workbench as wb
            >>> df = pd.DataFrame({"x": [1, -2]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)],
            ...                                                                  names=["doc", "turn"]))
            >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
            >>> df.join(wb.evaluate(df, suite, save=False).wide())
                     x    pos
            doc turn
            a   1    1   True
            b   2   -2  False
        """
        return widen(self.results, values, self.params.get("index_names"))

    def __repr__(self) -> str:
        """``Run(suite 'demo' version '1', 3 rows, 3 cells: 2 passed, 1 failed, 0.01s)``.

        Example:
            >>> import pandas as pd, workbench as wb
            >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
            >>> repr(wb.evaluate(pd.DataFrame({"x": [1, -2, 3]}), suite))  # doctest: +ELLIPSIS
            "Run(suite 'demo' version '1', 3 rows, 3 cells: 2 passed, 1 failed, ...s)"
        """
        r = self.results
        n_rows = r["row"].nunique() if len(r) else 0
        counts = r["status"].value_counts()
        parts = ", ".join(f"{int(counts.get(s, 0)):,} {s}" for s in STATUSES if counts.get(s, 0))
        return (
            f"Run(suite {self.suite.name!r} version {self.suite.version!r}, {n_rows:,} rows, "
            f"{len(r):,} cells: {parts or 'none'}, {self.duration_s:.2f}s)"
        )

    def _repr_html_(self) -> str:
        from html import escape

        head = escape(repr(self))
        return f"<p><code>{head}</code></p>" + self.summary().to_html(index=False, na_rep="", escape=True)


def wilson(
    k: np.ndarray, n: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rates ``k / n`` with their Wilson score intervals (no continuity correction), the
    interval ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")`` gives (the tests
    check it), for whole arrays at once and without importing scipy (``scipy.stats`` costs a
    second on first use). ``n == 0`` gives NaN.

    Example:
        >>> rate, low, high = wilson(np.array([8]), np.array([10]))
        >>> round(float(low[0]), 4), round(float(high[0]), 4)
        (0.4902, 0.9433)
    """
    from statistics import NormalDist

    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        z = NormalDist().inv_cdf(0.5 + confidence / 2)
        z2 = z * z
        denom = 1 + z2 / n
        center = (p + z2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    low = np.where(k == 0, 0.0, np.clip(center - half, 0.0, 1.0))
    high = np.where(k == n, 1.0, np.clip(center + half, 0.0, 1.0))
    empty = n == 0
    return np.where(empty, np.nan, p), np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """The summary table of a results frame (see :meth:`Run.summary`)."""
    r = results
    # integer group ids in order of first appearance, and counts by bincount: a 1M-cell
    # frame summarises in tens of milliseconds, a tiny one without groupby's overhead
    task_codes, _ = pd.factorize(r["task"], use_na_sentinel=False)
    crit_codes, crit_uniques = pd.factorize(r["criterion"], use_na_sentinel=False)
    group, _ = pd.factorize(
        task_codes.astype(np.int64) * (len(crit_uniques) + 1) + crit_codes, use_na_sentinel=False
    )
    first = pd.Series(group).drop_duplicates().index.to_numpy()
    k = len(first)
    status_codes, status_names = pd.factorize(r["status"], use_na_sentinel=False)
    names = [str(x) for x in status_names]
    counts = {
        s: np.bincount(group[status_codes == names.index(s)], minlength=k)
        if s in names
        else np.zeros(k, np.int64)
        for s in STATUSES
    }
    score = r["score"].to_numpy(dtype=np.float64, na_value=np.nan)
    mean = pd.Series(score).groupby(group, sort=False).mean().to_numpy() if k else np.empty(0)
    labels = (
        {c: r[c].iloc[first].to_numpy() for c in ("task", "criterion", "kind")}
        if len(r)
        else ({"task": np.empty(0), "criterion": np.empty(0), "kind": np.empty(0, dtype=object)})
    )
    out = pd.DataFrame(
        {
            **labels,
            "n": np.bincount(group, minlength=k),
            "passed": counts["passed"],
            "failed": counts["failed"],
            "errors": counts["error"],
            "skipped": counts["skipped"],
            "scored": counts["scored"],
            "mean": mean,
        }
    )
    judged = out["passed"] + out["failed"]
    rate, low, high = wilson(out["passed"].to_numpy(), judged.to_numpy())
    out["pass_rate"] = pd.array(rate, dtype="Float64")
    out["pass_rate_low"] = pd.array(low, dtype="Float64")
    out["pass_rate_high"] = pd.array(high, dtype="Float64")
    out["mean"] = pd.array(out["mean"].to_numpy(), dtype="Float64")
    for c in ("n", "passed", "failed", "errors", "skipped", "scored"):
        out[c] = out[c].astype("int64")
    return out[list(SUMMARY_COLUMNS)]


def widen(
    results: pd.DataFrame, values: str | Sequence[str] = "passed", index_names: Sequence[Any] | None = None
) -> pd.DataFrame:
    """Pivot a results frame to one row per input row (see :meth:`Run.wide`). Rows labelled
    by tuples (a MultiIndex, flattened in ``row``) get a MultiIndex back, named
    ``index_names`` when given."""
    names = [values] if isinstance(values, str) else list(values)
    reserved = ("row", "task", "criterion")
    unknown = [v for v in names if v not in results.columns or v in reserved]
    if unknown:
        spreadable = [c for c in results.columns if c not in reserved]
        raise ColumnsError(f"wide() cannot spread {unknown}: pick values among {cap_list(spreadable)}")
    rows = pd.unique(results["row"].to_numpy())
    columns: dict[str, pd.Series] = {}
    criterion = results["criterion"].astype(object)
    keys = np.where(
        criterion == "", results["task"].astype(object), results["task"].astype(object) + "." + criterion
    )
    for key in pd.unique(keys):
        part = results[keys == key]
        for v in names:
            name = key if len(names) == 1 else f"{key}.{v}"
            columns[name] = (
                pd.Series(part[v].to_numpy(), index=part["row"].to_numpy())
                .reindex(rows)
                .astype(part[v].dtype)
            )
    labels = list(rows)
    if labels and all(isinstance(r, tuple) for r in labels) and len({len(r) for r in labels}) == 1:
        level_names = list(index_names) if index_names and len(index_names) == len(labels[0]) else None
        index = pd.MultiIndex.from_tuples(labels, names=level_names)
    else:
        level_names = list(index_names or [None])
        index = pd.Index(rows, name=level_names[0] if len(level_names) == 1 else None)
    return pd.DataFrame({k: v.set_axis(index) for k, v in columns.items()}, index=index)


def results_frame(blocks: list[CellColumns], index: pd.Index) -> pd.DataFrame:
    """Stack the blocks into the long results frame with its dtypes."""
    n, b = len(index), len(blocks)
    flat = index.to_flat_index() if isinstance(index, pd.MultiIndex) else index
    row = flat.take(np.tile(np.arange(n), b)) if b else flat[:0]
    task_names = list(dict.fromkeys(x.task for x in blocks))
    crit_names = list(dict.fromkeys([""] + [x.criterion for x in blocks]))

    def codes(names: list[str], attr: str) -> np.ndarray:
        return np.repeat(np.array([names.index(getattr(x, attr)) for x in blocks], dtype=np.int32), n)

    status = np.concatenate([x.status for x in blocks]) if b else np.empty(0, np.int8)

    def stack(attr: str, fill: Any, dtype: Any) -> np.ndarray:
        """A fresh array (the nullable columns below fill it in place)."""
        if all(getattr(x, attr) is None for x in blocks):  # assertion cells have no tokens...
            return np.full(n * b, fill, dtype=dtype)
        parts = [
            getattr(x, attr) if getattr(x, attr) is not None else np.full(n, fill, dtype=dtype)
            for x in blocks
        ]
        return np.concatenate(parts).astype(dtype, copy=False)

    score = stack("score", np.nan, np.float64)
    frame = {
        "row": pd.Series(row, index=None, copy=False, name="row").reset_index(drop=True),
        "task": pd.Categorical.from_codes(codes(task_names, "task"), categories=pd.Index(task_names)),
        "criterion": pd.Categorical.from_codes(
            codes(crit_names, "criterion"), categories=pd.Index(crit_names)
        ),
        "kind": pd.Categorical.from_codes(
            np.repeat(np.array([0 if x.kind == "assertion" else 1 for x in blocks], dtype=np.int8), n),
            categories=pd.Index(["assertion", "judge"]),
        ),
        "status": pd.Categorical.from_codes(status, categories=pd.Index(list(STATUSES))),
        "passed": pd.arrays.BooleanArray(*passed_values(status)),
        "score": _nullable_float(score),
        "label": _strings([x.label for x in blocks], n),
        "reason": _strings([x.reason for x in blocks], n),
        "error": _strings([x.error for x in blocks], n),
        "cached": stack("cached", False, bool),
        "tokens": _nullable_int(stack("tokens", np.nan, np.float64)),
        "cost_usd": _nullable_float(stack("cost_usd", np.nan, np.float64)),
        "latency_s": _nullable_float(stack("latency_s", np.nan, np.float64)),
    }
    out = pd.DataFrame(frame, copy=False)  # every array is this frame's own: no second copy
    out.columns = list(RESULT_COLUMNS)
    return out


def _strings(parts: list[np.ndarray | None], n: int) -> pd.api.extensions.ExtensionArray:
    """A string column from per-block object arrays (``None`` = missing), built as Arrow
    chunks: converting one concatenated object array would cost seconds at 10M cells."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        full = (
            np.concatenate([p if p is not None else np.full(n, None, dtype=object) for p in parts])
            if parts
            else np.empty(0, dtype=object)
        )
        return pd.array(full, dtype=pd.StringDtype())
    chunks = [
        pa.nulls(n, pa.string()) if p is None else pa.array(p, type=pa.string(), from_pandas=True)
        for p in parts
    ]
    return pd.arrays.ArrowStringArray(pa.chunked_array(chunks, type=pa.string()))


def _nullable_float(values: np.ndarray) -> pd.arrays.FloatingArray:
    """NaN as missing, over ``values`` itself (a fresh array: it is filled in place)."""
    mask = np.isnan(values)
    values[mask] = 0.0
    return pd.arrays.FloatingArray(values, mask)


def _nullable_int(values: np.ndarray) -> pd.arrays.IntegerArray:
    """NaN as missing, from a fresh float array."""
    mask = np.isnan(values)
    values[mask] = 0
    return pd.arrays.IntegerArray(values.astype(np.int64), mask)
