"""A run's summary computed on the cluster: each partition counts its own cells (on its
worker, as it ends), and the counts are added up where the run was started, so the summary of
a run of any size costs one small record per partition.

Example:
    >>> import pandas as pd, workbench as wb
    >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
    >>> df = pd.DataFrame({"x": [1, -2, 3, 4]})
    >>> parts = [partials(wb.evaluate(df.iloc[i : i + 2], suite, save=False).results) for i in (0, 2)]
    >>> combine(parts)[["task", "n", "passed", "failed"]].to_dict("records")
    [{'task': 'pos', 'n': 4, 'passed': 3, 'failed': 1}]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..results import STATUSES, SUMMARY_COLUMNS
from ..run import wilson

__all__ = ["Block", "combine", "partials"]

Block = dict[str, Any]
"""One (task, criterion)'s counts in one partition: ``task``, ``criterion``, ``kind``, ``n``,
a count per status, ``score_sum`` and ``score_n`` (scores present)."""

_COLUMNS = list(SUMMARY_COLUMNS)
"""The columns of ``Run.summary()``, in its order."""


def partials(results: pd.DataFrame) -> list[Block]:
    """Per (task, criterion) of one partition's results, in the order they ran: the counts its
    summary is made of."""
    if results.empty:
        return []
    tasks = results["task"].cat.codes.to_numpy(dtype=np.int64)
    criteria = results["criterion"].cat.codes.to_numpy(dtype=np.int64)
    group, _ = pd.factorize(tasks * (len(results["criterion"].cat.categories) + 1) + criteria)
    k = int(group.max()) + 1
    first = pd.Series(group).drop_duplicates().index.to_numpy()
    status = results["status"].cat.codes.to_numpy()
    names = [str(c) for c in results["status"].cat.categories]
    score = results["score"].to_numpy(dtype=np.float64, na_value=np.nan)
    present = ~np.isnan(score)
    # one bincount over (group, status) pairs: a pass over the cells, not one per status
    by_status = np.bincount(group * len(names) + status, minlength=k * len(names)).reshape(k, len(names))
    counts = {
        s: by_status[:, names.index(s)] if s in names else np.zeros(k, dtype=np.int64) for s in STATUSES
    }
    score_sum = np.bincount(group[present], weights=score[present], minlength=k)
    score_n = np.bincount(group[present], minlength=k)
    n = np.bincount(group, minlength=k)
    labels = {c: results[c].iloc[first].astype(str).tolist() for c in ("task", "criterion", "kind")}
    return [
        {
            "task": labels["task"][g],
            "criterion": labels["criterion"][g],
            "kind": labels["kind"][g],
            "n": int(n[g]),
            **{s: int(counts[s][g]) for s in STATUSES},
            "score_sum": float(score_sum[g]),
            "score_n": int(score_n[g]),
        }
        for g in range(k)
    ]


def combine(parts: Sequence[Sequence[Block]]) -> pd.DataFrame:
    """The summary table (the columns and dtypes of ``Run.summary()``) of the partitions whose
    :func:`partials` these are, blocks in the order they first ran."""
    total: dict[tuple[str, str], Block] = {}
    for blocks in parts:
        for b in blocks:
            key = (b["task"], b["criterion"])
            if key not in total:
                total[key] = dict(b)
                continue
            into = total[key]
            for field in ("n", *STATUSES, "score_sum", "score_n"):
                into[field] += b[field]
    rows = list(total.values())
    n = np.array([b["n"] for b in rows], dtype=np.int64)
    count = {s: np.array([b[s] for b in rows], dtype=np.int64) for s in STATUSES}
    score_n = np.array([b["score_n"] for b in rows], dtype=np.float64)
    score_sum = np.array([b["score_sum"] for b in rows], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(score_n > 0, score_sum / score_n, np.nan)  # no score at all: missing, never 0
    rate, low, high = wilson(count["passed"], count["passed"] + count["failed"])
    out = pd.DataFrame(
        {
            "task": np.array([b["task"] for b in rows], dtype=object),
            "criterion": np.array([b["criterion"] for b in rows], dtype=object),
            "kind": np.array([b["kind"] for b in rows], dtype=object),
            "n": n,
            "mean": pd.array(mean, dtype="Float64"),
            "pass_rate": pd.array(rate, dtype="Float64"),
            "pass_rate_low": pd.array(low, dtype="Float64"),
            "pass_rate_high": pd.array(high, dtype="Float64"),
            "passed": count["passed"],
            "failed": count["failed"],
            "errors": count["error"],
            "skipped": count["skipped"],
            "scored": count["scored"],
        }
    )
    summary: pd.DataFrame = out[_COLUMNS]
    return summary
