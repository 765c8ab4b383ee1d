"""Agreement among several annotators, and the human ceiling a judge is measured against.

The ceiling is leave-one-out: each annotator's labels against the mean (ordered scales) or
the majority (labels, pass/fail) of the other annotators of the same rows, averaged over the
annotators, with the lowest and highest annotator beside it. The judge gets the same
treatment against the same references (``judge_*_loo``), so the two figures are comparable:
a judge whose figure lies within the annotators' range agrees with people as well as they
agree with each other.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._alpha import alpha_of
from ._scale import Scale
from ._stats import cohen_kappa, confusion_counts, correlations

HUMAN_COLUMNS: tuple[str, ...] = (
    "annotators",
    "units",
    "alpha_nominal",
    "alpha_ordinal",
    "alpha_interval",
    "human_spearman",
    "human_spearman_min",
    "human_spearman_max",
    "judge_spearman_loo",
    "human_kappa",
    "human_kappa_min",
    "human_kappa_max",
    "judge_kappa_loo",
)
"""The columns of ``Agreement.humans`` after ``task``, ``criterion`` and ``criterion_fingerprint``."""

MIN_PAIRS = 3
"""An annotator's leave-one-out figure needs at least this many rows shared with others."""


def human_figures(
    row: np.ndarray, annotator: np.ndarray, x: np.ndarray, scale: Scale, judge_x: np.ndarray
) -> dict[str, float]:
    """Inter-annotator figures of one check.

    Args:
        row: the (dense, 0-based) row code of each raw label.
        annotator: the annotator code of each raw label.
        x: each label's value on ``scale`` (NaN: no value; left out).
        scale: the check's scale.
        judge_x: the judge's value per row code (NaN: none).
    """
    keep = ~np.isnan(x)
    row, annotator, x = row[keep], annotator[keep], x[keep]
    nan = float("nan")
    out: dict[str, float] = dict.fromkeys(HUMAN_COLUMNS, nan)
    out["annotators"] = len(np.unique(annotator))
    m = np.bincount(row, minlength=len(judge_x)) if len(row) else np.zeros(len(judge_x), np.int64)
    out["units"] = int((m >= 2).sum())
    if out["units"] == 0:
        return out
    categories = scale.category(x) if len(scale.points) else None
    out["alpha_nominal"] = alpha_of(row, x if categories is None else categories.astype(float), "nominal")
    if scale.ordered:
        out["alpha_ordinal"] = alpha_of(row, x, "ordinal")
        out["alpha_interval"] = alpha_of(row, x, "interval")
    eligible = m[row] >= 2
    if scale.ordered:
        total = np.bincount(row, weights=x, minlength=len(m))
        others = np.where(eligible, (total[row] - x) / np.maximum(m[row] - 1, 1), np.nan)
        human, judge = _loo(annotator, eligible, x, others, judge_x[row], _rho)
        out["human_spearman"], out["human_spearman_min"], out["human_spearman_max"] = _spread(human)
        out["judge_spearman_loo"] = _mean(judge)
    if categories is not None:
        k = len(scale.points)
        if scale.ordered:
            total = np.bincount(row, weights=x, minlength=len(m))
            ref = scale.category(np.where(eligible, (total[row] - x) / np.maximum(m[row] - 1, 1), np.nan))
        else:
            ref = _majority_of_others(row, categories, k, len(m))
        judge_cat = scale.category(judge_x[row])
        weights = "quadratic" if scale.level == "ordinal" else "none"

        def kappa(a: np.ndarray, b: np.ndarray) -> float:
            return cohen_kappa(confusion_counts(a.astype(np.int64), b.astype(np.int64), k), weights)

        valid = eligible & (ref >= 0)
        human, judge = _loo(
            annotator,
            valid,
            categories.astype(float),
            ref.astype(float),
            judge_cat.astype(float),
            kappa,
        )
        out["human_kappa"], out["human_kappa_min"], out["human_kappa_max"] = _spread(human)
        out["judge_kappa_loo"] = _mean(judge)
    return out


def _rho(a: np.ndarray, b: np.ndarray) -> float:
    return correlations(a, b)[0]


def _loo(
    annotator: np.ndarray,
    valid: np.ndarray,
    own: np.ndarray,
    ref: np.ndarray,
    judge: np.ndarray,
    stat: Callable[[np.ndarray, np.ndarray], float],
) -> tuple[np.ndarray, np.ndarray]:
    """Per annotator: ``stat(own, ref)`` and ``stat(judge, ref)`` over the rows where that
    annotator has a reference (and the judge a value)."""
    human, judge_values = [], []
    for a in np.unique(annotator):
        mask = valid & (annotator == a) & ~np.isnan(judge) & ~np.isnan(ref)
        if mask.sum() < MIN_PAIRS:
            continue
        human.append(stat(own[mask], ref[mask]))
        judge_values.append(stat(judge[mask], ref[mask]))
    return np.array(human, dtype=np.float64), np.array(judge_values, dtype=np.float64)


def _majority_of_others(row: np.ndarray, categories: np.ndarray, k: int, n_rows: int) -> np.ndarray:
    """For each label, the most frequent category among the other labels of its row; -1 when
    those others tie or there are none."""
    counts = np.zeros((n_rows, k), dtype=np.int64)
    np.add.at(counts, (row, categories), 1)
    others = counts[row].copy()
    others[np.arange(len(row)), categories] -= 1
    top = others.max(axis=1)
    winners = (others == top[:, None]).sum(axis=1)
    return np.where((top > 0) & (winners == 1), others.argmax(axis=1), -1)


def _spread(values: np.ndarray) -> tuple[float, float, float]:
    ok = values[~np.isnan(values)]
    if not len(ok):
        return float("nan"), float("nan"), float("nan")
    return float(ok.mean()), float(ok.min()), float(ok.max())


def _mean(values: np.ndarray) -> float:
    ok = values[~np.isnan(values)]
    return float(ok.mean()) if len(ok) else float("nan")
