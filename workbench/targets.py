"""Run targets: the pass rates a suite says a run must reach (``min_pass_rate``).

A target is met when the share of rows that passed, among rows that were checked, is at
least the target. Errors count as not passing (a broken judge must not make a run look
better); skipped rows are left out. ``workbench run`` exits 1 when a target is missed.

Example:
    >>> import pandas as pd, workbench as wb
    >>> suite = wb.Suite(name="demo", tasks=[
    ...     wb.AssertionTask(id="pos", path="x", op="is_positive", min_pass_rate=0.9)])
    >>> run = wb.evaluate(pd.DataFrame({"x": [1, 2, -3]}), suite)
    >>> check_targets(run.results, suite)[["task", "min_pass_rate", "pass_rate", "met"]]
      task  min_pass_rate  pass_rate    met
    0  pos            0.9   0.666667  False
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .specs import JudgeTask, Suite

__all__ = ["check_targets"]

_COLUMNS = ["task", "criterion", "min_pass_rate", "pass_rate", "passed", "checked", "met"]


def _wanted(suite: Suite) -> list[tuple[str, str, float]]:
    out: list[tuple[str, str, float]] = []
    for t in suite.tasks:
        if isinstance(t, JudgeTask):
            for c in t.criteria:
                target = c.min_pass_rate if c.min_pass_rate is not None else t.min_pass_rate
                if target is not None:
                    out.append((t.id, c.name, target))
        elif t.min_pass_rate is not None:
            out.append((t.id, "", t.min_pass_rate))
    return out


def check_targets(results: pd.DataFrame, suite: Suite) -> pd.DataFrame:
    """One row per target set in ``suite``: the target, the pass rate reached (errors count
    as not passing, skipped rows are left out), how many rows passed and were checked, and
    whether the target was ``met``. A target with no checked row is missed. An empty frame
    when the suite sets no target."""
    wanted = _wanted(suite)
    if not wanted:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=d)
                for c, d in zip(
                    _COLUMNS, ["object", "object", "float64", "Float64", "int64", "int64", "bool"]
                )
            }
        )
    status = results["status"].astype(object)
    counted = results[(status != "skipped").to_numpy()]
    key = counted["task"].astype(str) + "\x00" + counted["criterion"].astype(str)
    passed = (counted["status"].astype(object) == "passed").groupby(key.to_numpy()).agg(["sum", "size"])
    rows = []
    for task, criterion, target in wanted:
        k = f"{task}\x00{criterion}"
        n_pass, n = (int(passed.loc[k, "sum"]), int(passed.loc[k, "size"])) if k in passed.index else (0, 0)
        rate = n_pass / n if n else np.nan
        rows.append((task, criterion, target, rate, n_pass, n, bool(n and rate >= target)))
    out = pd.DataFrame(rows, columns=_COLUMNS)
    out["pass_rate"] = pd.array(out["pass_rate"].to_numpy(dtype=float), dtype="Float64")
    return out
