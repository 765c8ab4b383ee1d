"""The statistics of agreement between paired values: Cohen's kappa, pass/fail rates, and the
bootstrap of Spearman's rho and Kendall's tau-b.

Point estimates of rho and tau-b come from ``scipy.stats.spearmanr`` and
``scipy.stats.kendalltau``. Their bootstrap works on the table of counts of the distinct
(judge, human) value pairs: both statistics (ties included) depend only on that table, and a
resample of the paired rows with replacement is a multinomial draw over its cells, so 1,000
resamples of 10,000 rows cost 1,000 small tables instead of 1,000 sorts of 10,000 values.
scipy has no kappa, MCC or F1; they are a few lines on the confusion matrix.
"""

from __future__ import annotations

import math
import warnings
import zlib
from typing import Any

import numpy as np

_GRID_CELLS = 250_000
"""Above this many (judge value, human value) cells the bootstrap resamples rows and calls scipy."""
_CHUNK_CELLS = 4_000_000
"""Resampled tables (and pairs within groups) are built this many cells at a time (32 MB of float64)."""
_GROUP_BATCH_MAX = 200
"""Groups up to this size are correlated together; larger ones one at a time with scipy."""


def rng_for(seed: int, *names: str) -> np.random.Generator:
    """A generator per (seed, check): a check's interval does not change when others are added."""
    return np.random.default_rng([seed, *(zlib.crc32(n.encode("utf-8")) for n in names)])


def confusion_counts(judge: np.ndarray, human: np.ndarray, k: int) -> np.ndarray:
    """``k x k`` counts, judge category down, human category across (indices ``0..k-1``)."""
    return np.bincount(judge * k + human, minlength=k * k).reshape(k, k)


def cohen_kappa(counts: np.ndarray, weights: str) -> float:
    """Cohen's kappa of a confusion matrix; ``weights`` is ``"quadratic"`` or ``"none"``.

    ``1 - sum(w * observed) / sum(w * expected)`` with ``w = (i - j)**2 / (k - 1)**2`` or
    ``w = [i != j]``; the expected counts are the product of the margins. NaN when no
    disagreement is expected (one category only).
    """
    k = counts.shape[0]
    n = counts.sum()
    if n == 0 or k < 2:
        return float("nan")
    i, j = np.indices((k, k))
    w = ((i - j) ** 2 / (k - 1) ** 2) if weights == "quadratic" else (i != j).astype(np.float64)
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / n
    denom = float((w * expected).sum())
    if denom == 0:
        return float("nan")
    return 1.0 - float((w * counts).sum()) / denom


def pass_metrics(judge: np.ndarray, human: np.ndarray) -> dict[str, float]:
    """MCC, F1, precision, recall, false-pass and false-fail rates, "pass" as the positive class.

    ``judge`` and ``human`` are 1.0 (passed) / 0.0. precision = TP/(TP+FP): of the rows the
    judge passed, the share people passed; recall = TP/(TP+FN); false-pass rate =
    FP/(FP+TN): of the rows people failed, the share the judge passed; false-fail rate =
    FN/(FN+TP). A ratio with a zero denominator is NaN (not 0: it is undefined).
    """
    tp = float(((judge == 1) & (human == 1)).sum())
    fp = float(((judge == 1) & (human == 0)).sum())
    fn = float(((judge == 0) & (human == 1)).sum())
    tn = float(((judge == 0) & (human == 0)).sum())
    denom = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        "mcc": _ratio(tp * tn - fp * fn, denom),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "false_pass_rate": _ratio(fp, fp + tn),
        "false_fail_rate": _ratio(fn, fn + tp),
    }


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def correlations(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman's rho and Kendall's tau-b (scipy), NaN when either side is constant or n < 2."""
    if len(x) < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan"), float("nan")
    from scipy.stats import kendalltau, spearmanr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = float(spearmanr(x, y).statistic)
        tau = float(kendalltau(x, y).statistic)
    return rho, tau


def bootstrap_correlations(
    x: np.ndarray, y: np.ndarray, n_resamples: int, confidence: float, rng: np.random.Generator
) -> tuple[float, float, float, float]:
    """Percentile intervals of rho and tau-b over resamples of the pairs: (rho_low, rho_high,
    tau_low, tau_high). Resamples where a side is constant (no correlation) are left out."""
    n = len(x)
    nan4 = (float("nan"),) * 4
    if n < 3:
        return nan4
    xv, xi = np.unique(x, return_inverse=True)
    yv, yi = np.unique(y, return_inverse=True)
    k1, k2 = len(xv), len(yv)
    if k1 < 2 or k2 < 2:
        return nan4
    if k1 * k2 <= _GRID_CELLS:
        cells, counts = np.unique(xi.ravel() * k2 + yi.ravel(), return_counts=True)
        p = counts / n
        rho, tau = np.empty(n_resamples), np.empty(n_resamples)
        step = max(1, _CHUNK_CELLS // (k1 * k2))
        for start in range(0, n_resamples, step):
            b = min(step, n_resamples - start)
            flat = np.zeros((b, k1 * k2))
            flat[:, cells] = rng.multinomial(n, p, size=b)
            grid = flat.reshape(b, k1, k2)
            rho[start : start + b] = spearman_of_tables(grid)
            tau[start : start + b] = kendall_of_tables(grid)
    else:
        rho, tau = _resampled_with_scipy(x, y, n_resamples, rng)
    tail = (1 - confidence) / 2
    return (*_interval(rho, tail), *_interval(tau, tail))


def _interval(values: np.ndarray, tail: float) -> tuple[float, float]:
    ok = values[~np.isnan(values)]
    if len(ok) == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(ok, [tail, 1 - tail])
    return float(low), float(high)


def _resampled_with_scipy(
    x: np.ndarray, y: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The slow path, for values with too many distinct pairs for a table: scipy per resample."""
    n = len(x)
    rho, tau = np.empty(n_resamples), np.empty(n_resamples)
    for b in range(n_resamples):
        idx = rng.integers(0, n, n)
        rho[b], tau[b] = correlations(x[idx], y[idx])
    return rho, tau


def spearman_of_tables(grid: np.ndarray) -> np.ndarray:
    """Spearman's rho (midranks for ties) of each count table ``grid[b]``: judge values down,
    human values across, both ascending. The Pearson correlation of the midranks, weighted by
    the counts; NaN where a side is constant."""
    r, s = grid.sum(axis=2), grid.sum(axis=1)
    n = r.sum(axis=1)
    centre = ((n + 1) / 2)[:, None]
    dx = np.cumsum(r, axis=1) - r / 2 + 0.5 - centre
    dy = np.cumsum(s, axis=1) - s / 2 + 0.5 - centre
    cov = np.einsum("ba,bak,bk->b", dx, grid, dy)
    var = (r * dx * dx).sum(axis=1) * (s * dy * dy).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, cov / np.sqrt(var), np.nan)


def kendall_of_tables(grid: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each count table (as :func:`spearman_of_tables`):
    ``(P - Q) / sqrt((n0 - n1) * (n0 - n2))`` with P and Q the concordant and discordant
    pairs, ``n0 = n(n-1)/2`` and ``n1``, ``n2`` the pairs tied on each side."""
    b, k1, k2 = grid.shape
    # above[a, c]: the count of cells strictly below-right (a' > a, c' > c) of (a, c)
    after = grid[:, ::-1, ::-1].cumsum(axis=1).cumsum(axis=2)[:, ::-1, ::-1]
    above = np.zeros((b, k1 + 1, k2 + 1))
    above[:, :k1, :k2] = after
    concordant = (grid * above[:, 1:, 1:]).sum(axis=(1, 2))
    # left[a, c]: cells with a' >= a and c' <= c; discordant partners of (a, c) are left[a+1, c-1]
    left = grid[:, ::-1, :].cumsum(axis=1)[:, ::-1, :].cumsum(axis=2)
    shifted = np.zeros((b, k1 + 1, k2 + 1))
    shifted[:, :k1, 1:] = left
    discordant = (grid * shifted[:, 1:, :k2]).sum(axis=(1, 2))
    r, s = grid.sum(axis=2), grid.sum(axis=1)
    n = r.sum(axis=1)
    n0 = n * (n - 1) / 2
    n1 = (r * (r - 1) / 2).sum(axis=1)
    n2 = (s * (s - 1) / 2).sum(axis=1)
    denom = (n0 - n1) * (n0 - n2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (concordant - discordant) / np.sqrt(denom), np.nan)


def grouped_correlations(x: np.ndarray, y: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spearman's rho and Kendall's tau-b within each group, one value per distinct group code
    in ascending order; NaN for a group of fewer than two pairs or with a constant side.

    Groups of the same size are computed together: rho as the Pearson correlation of
    ``scipy.stats.rankdata`` midranks along each group, tau-b from the signs of all pairs in
    the group (``sum sign(dx) sign(dy) / sqrt(untied_x * untied_y)``), the definitions
    ``spearmanr`` and ``kendalltau`` compute one group at a time (the tests check both against
    a loop over the groups). Groups above 200 rows go to scipy one by one."""
    from scipy.stats import rankdata

    order = np.argsort(group, kind="stable")
    g, x, y = group[order], x[order], y[order]
    bounds = np.flatnonzero(np.diff(g)) + 1
    starts, ends = np.r_[0, bounds], np.r_[bounds, len(g)]
    sizes = ends - starts
    rho, tau = np.full(len(starts), np.nan), np.full(len(starts), np.nan)
    for size in np.unique(sizes):
        same = np.flatnonzero(sizes == size)
        if size < 2:
            continue
        if size > _GROUP_BATCH_MAX:
            for i in same:
                rho[i], tau[i] = correlations(x[starts[i] : ends[i]], y[starts[i] : ends[i]])
            continue
        upper = np.triu_indices(int(size), 1)
        step = max(1, _CHUNK_CELLS // (size * size))
        for at in range(0, len(same), step):
            chosen = same[at : at + step]
            idx = starts[chosen][:, None] + np.arange(size)
            gx, gy = x[idx], y[idx]
            rx, ry = rankdata(gx, axis=1), rankdata(gy, axis=1)
            rx -= rx.mean(axis=1, keepdims=True)
            ry -= ry.mean(axis=1, keepdims=True)
            spread = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
            sx = np.sign(gx[:, :, None] - gx[:, None, :])[:, upper[0], upper[1]]
            sy = np.sign(gy[:, :, None] - gy[:, None, :])[:, upper[0], upper[1]]
            untied = (sx != 0).sum(axis=1) * (sy != 0).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                rho[chosen] = np.where(spread > 0, (rx * ry).sum(axis=1) / spread, np.nan)
                tau[chosen] = np.where(untied > 0, (sx * sy).sum(axis=1) / np.sqrt(untied), np.nan)
    return rho, tau


def bootstrap_mean(
    values: np.ndarray, n_resamples: int, confidence: float, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` over resamples of them (the groups of a
    grouped correlation: a group's figure stays what it is when the group is drawn)."""
    k = len(values)
    if k < 2:
        return float("nan"), float("nan")
    # indices, not a multinomial: drawing counts over hundreds of equally likely groups costs
    # ~20x more than drawing the groups themselves
    means = np.empty(n_resamples)
    step = max(1, _CHUNK_CELLS // k)
    for start in range(0, n_resamples, step):
        b = min(step, n_resamples - start)
        means[start : start + b] = values[rng.integers(0, k, size=(b, k))].mean(axis=1)
    return _interval(means, (1 - confidence) / 2)


def mean_or_nan(values: Any) -> float:
    """The mean of the finite values, NaN when there are none."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    return float(v.mean()) if len(v) else float("nan")
