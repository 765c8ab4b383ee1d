"""The statistics step: one row per shared check, from its paired cells."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._columns import check_frame, nullable_float, strings
from ._pairing import CellPairs
from ._stats import bootstrap_interval, holm, mcnemar_p, wilcoxon_p

TABLE_COLUMNS: tuple[str, ...] = (
    "task",
    "criterion",
    "kind",
    "metric",
    "n",
    "mean_a",
    "mean_b",
    "delta",
    "ci_low",
    "ci_high",
    "pass_rate_a",
    "pass_rate_b",
    "p_wilcoxon",
    "p_mcnemar",
    "p_value",
    "p_holm",
    "significant",
    "wins",
    "ties",
    "losses",
    "excluded",
)
"""The columns of ``Comparison.table``, in order."""

_COUNT_COLUMNS = ("n", "wins", "ties", "losses", "excluded")
"""Columns of the table that count pairs or cells (``Int64``); the rest but ``metric`` are floats."""


def check_statistics(
    pairs: CellPairs,
    shared: pd.MultiIndex,
    confidence: float,
    n_boot: int,
    seed: int,
    alpha: float,
) -> pd.DataFrame:
    """The comparison's table: per shared check, the paired means and their delta with a
    bootstrap interval, pass rates, p-values (Holm-adjusted across checks), significance,
    win/tie/loss counts and the cells left out.

    The metric of a check is ``score`` when some cell of it has a score, else ``pass_rate``
    (passed as 1/0). Loops over checks; the work on each one is vectorised.
    """
    nan = float("nan")
    # pairs are sorted by check: check i's pairs are bounds[i]:bounds[i + 1]
    bounds = np.searchsorted(pairs.check, np.arange(len(shared) + 1))
    stats = []
    for i, (task, criterion) in enumerate(shared):
        span = slice(bounds[i], bounds[i + 1])
        score_a, score_b = pairs.score_a[span], pairs.score_b[span]
        passed_a, passed_b = pairs.passed_a[span], pairs.passed_b[span]
        scores_known, passes_known = pairs.scores_known[span], pairs.passes_known[span]
        is_score = bool(pairs.scored_check[i])
        used = scores_known if is_score else passes_known
        value_a = (score_a if is_score else passed_a)[used]
        value_b = (score_b if is_score else passed_b)[used]
        delta, n = value_b - value_a, int(used.sum())
        pass_a, pass_b = passed_a[passes_known], passed_b[passes_known]
        p_wilcoxon = wilcoxon_p((score_b - score_a)[scores_known]) if is_score and scores_known.any() else nan
        p_mcnemar = mcnemar_p(pass_a, pass_b) if len(pass_a) else nan
        low, high = bootstrap_interval(delta, confidence, n_boot, seed, f"{task}\x1f{criterion}")
        stats.append(
            {
                "metric": "score" if is_score else "pass_rate",
                "n": n,
                "mean_a": value_a.mean() if n else nan,
                "mean_b": value_b.mean() if n else nan,
                "delta": delta.mean() if n else nan,
                "ci_low": low,
                "ci_high": high,
                "pass_rate_a": pass_a.mean() if len(pass_a) else nan,
                "pass_rate_b": pass_b.mean() if len(pass_b) else nan,
                "p_wilcoxon": p_wilcoxon,
                "p_mcnemar": p_mcnemar,
                "p_value": p_wilcoxon if is_score else p_mcnemar,
                "wins": int((delta > 0).sum()),
                "ties": int((delta == 0).sum()),
                "losses": int((delta < 0).sum()),
                # pairs an error or a skip kept out, and cells of matched rows with no partner
                "excluded": int(bounds[i + 1] - bounds[i] - n + pairs.partnerless[i]),
            }
        )
    columns = {name: _column(name, [s[name] for s in stats]) for name in stats[0]}
    p_holm = holm(np.asarray([s["p_value"] for s in stats], dtype=float))
    table = check_frame(shared).assign(
        kind=strings(pairs.check_kind),
        **columns,
        p_holm=nullable_float(p_holm),
        # a check without a p-value (no pairs) is not significant
        significant=pd.array(np.nan_to_num(p_holm, nan=1.0) < alpha, dtype="boolean"),
    )
    return table[list(TABLE_COLUMNS)]


def _column(name: str, values: list[object]) -> pd.api.extensions.ExtensionArray:
    if name == "metric":
        return strings(values)
    if name in _COUNT_COLUMNS:
        return pd.array(np.asarray(values, dtype=object), dtype="Int64")
    return nullable_float(np.asarray(values, dtype=float))
