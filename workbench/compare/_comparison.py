"""The :class:`Comparison` that :func:`workbench.compare` returns, and how it reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..display import findings_html
from ._columns import check_name, check_names

_SUMMARY_COLUMNS = [
    "task",
    "criterion",
    "metric",
    "n",
    "mean_a",
    "mean_b",
    "delta",
    "ci_low",
    "ci_high",
    "p_holm",
]


@dataclass(eq=False)
class Comparison:
    """The outcome of :func:`compare`: B against A, paired on ``row``.

    Attributes:
        name_a, name_b: names of the two sides (a run's label or id, else ``"A"``/``"B"``).
        table: one row per shared (task, criterion): ``task, criterion, kind, metric, n,
            mean_a, mean_b, delta, ci_low, ci_high, pass_rate_a, pass_rate_b, p_wilcoxon,
            p_mcnemar, p_value, p_holm, significant, wins, ties, losses, excluded``.
        flips: rows that went ``pass_to_fail`` or ``fail_to_pass``, with both scores and
            reasons (the reasons whole, as the runs hold them).
        unmatched: rows present on one side only (``row``, ``side`` = ``'a'``/``'b'``).
        only_a, only_b: (task, criterion) pairs only one side has (different suite versions).
        confidence: level of the bootstrap intervals.
        alpha: significance level applied to the Holm-adjusted p-values.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
        >>> a = wb.evaluate(pd.DataFrame({"x": [1, -1, 2, 5]}), suite)
        >>> b = wb.evaluate(pd.DataFrame({"x": [1, 3, 2, 5]}, index=[0, 1, 2, 9]), suite)
        >>> c = wb.compare(a, b)
        >>> c.table[["task", "metric", "n", "mean_a", "mean_b", "wins", "ties", "losses"]]
          task     metric  n    mean_a  mean_b  wins  ties  losses
        0  pos  pass_rate  3  0.666667     1.0     1     2       0
        >>> c.unmatched
           row side
        0    3    a
        1    9    b
    """

    name_a: str
    name_b: str
    table: pd.DataFrame
    flips: pd.DataFrame
    unmatched: pd.DataFrame
    only_a: pd.DataFrame
    only_b: pd.DataFrame
    confidence: float = 0.95
    alpha: float = 0.05

    def _significant(self) -> np.ndarray:
        return np.asarray(self.table["significant"].fillna(False), dtype=bool)

    def summary(self) -> pd.DataFrame:
        """The table in reading order: significant changes first (smallest adjusted p),
        with a ``change`` column (``better``/``worse`` for B, or ``-``) and flip counts.

        Example:
            >>> import pandas as pd, workbench as wb
            >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
            >>> a = wb.evaluate(pd.DataFrame({"x": [1, -1, 2, 5]}), suite)
            >>> b = wb.evaluate(pd.DataFrame({"x": [1, 3, 2, 5]}), suite)
            >>> wb.compare(a, b).summary()[["change", "task", "delta", "pass_to_fail", "fail_to_pass"]]
              change task  delta  pass_to_fail  fail_to_pass
            0      -  pos   0.25             0             1
        """
        table = self.table
        flip_counts = self.flips.groupby(["task", "criterion", "direction"], observed=True).size()

        def counts(direction: str) -> pd.api.extensions.ExtensionArray:
            pairs = zip(table["task"], table["criterion"])
            return pd.array([int(flip_counts.get((t, c, direction), 0)) for t, c in pairs], dtype="Int64")

        significant = self._significant()
        delta = table["delta"].to_numpy(dtype=float, na_value=np.nan)
        change = np.where(
            significant & (delta > 0), "better", np.where(significant & (delta < 0), "worse", "-")
        )
        out = table[_SUMMARY_COLUMNS].copy()
        out.insert(0, "change", pd.array(change, dtype="string"))
        out["pass_to_fail"], out["fail_to_pass"] = counts("pass_to_fail"), counts("fail_to_pass")
        order = np.lexsort((table["p_holm"].to_numpy(dtype=float, na_value=np.inf), ~significant))
        return out.iloc[order].reset_index(drop=True)

    def _lines(self) -> list[str]:
        table = self.table
        n_rows = int(table["n"].max()) if len(table) and table["n"].notna().any() else 0

        def side(name: str, letter: str) -> str:
            return letter if name == letter else f"{name!r} ({letter})"

        criteria = "criterion" if len(table) == 1 else "criteria"
        lines = [
            (
                f"Comparison of {side(self.name_a, 'A')} and {side(self.name_b, 'B')}: {len(table)} shared "
                f"{criteria}, up to {n_rows:,} paired rows"
            )
        ]
        significant = self._significant()
        changed, unchanged = table[significant], table[~significant]
        if len(changed):
            lines.append(
                f"  changed significantly (Holm-adjusted p < {self.alpha:g}, "
                f"{self.confidence:.0%} intervals):"
            )
            for r in changed.itertuples(index=False):
                who = "B better" if r.delta > 0 else "B worse"
                lines.append(
                    f"    {check_name(r.task, r.criterion)} ({r.metric}): {r.mean_a:.3g} -> {r.mean_b:.3g}, "
                    f"delta {r.delta:+.3g} [{r.ci_low:+.3g}, {r.ci_high:+.3g}], p_holm={r.p_holm:.2g}, {who}"
                )
        if len(unchanged):
            lines.append(f"  no significant change: {check_names(unchanged)}")
        directions = self.flips["direction"].value_counts()
        lines.append(
            f"  flips: {int(directions.get('pass_to_fail', 0))} pass->fail, "
            f"{int(directions.get('fail_to_pass', 0))} fail->pass (see .flips)"
        )
        excluded = int(table["excluded"].sum()) if len(table) else 0
        if excluded:
            lines.append(f"  excluded cells (error or skipped on a side): {excluded:,}")
        sides = self.unmatched["side"].value_counts()
        if len(self.unmatched):
            lines.append(
                f"  unmatched rows: {int(sides.get('a', 0))} only in A, "
                f"{int(sides.get('b', 0))} only in B (see .unmatched)"
            )
        lines += [
            f"  {label}: {check_names(checks)}"
            for label, checks in (("only in A", self.only_a), ("only in B", self.only_b))
            if len(checks)
        ]
        return lines

    def __repr__(self) -> str:
        return "\n".join(self._lines())

    def _repr_html_(self) -> str:
        return findings_html(self._lines(), self.summary(), 4)
