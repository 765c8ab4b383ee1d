"""The statistics behind :func:`workbench.compare`: paired bootstrap interval, Wilcoxon,
exact McNemar and Holm's adjustment (scipy has no Holm; it is a few lines)."""

from __future__ import annotations

import math
import warnings
import zlib
from typing import Any

import numpy as np

_DRAWS_PER_VALUE = 12
"""Use the multinomial draw when there are at most ``n / 12`` distinct differences."""


def _wilcoxon(d: np.ndarray, wilcoxon: Any) -> float:
    """Two-sided Wilcoxon signed-rank p-value; no non-zero difference means no evidence (1.0)."""
    if not np.any(d != 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = float(wilcoxon(d).pvalue)
    return p if math.isfinite(p) else float("nan")


def _mcnemar(pass_a: np.ndarray, pass_b: np.ndarray, binomtest: Any) -> float:
    """Exact McNemar: a two-sided binomial test of the discordant pairs at 1/2."""
    to_fail = int(((pass_a == 1) & (pass_b == 0)).sum())
    to_pass = int(((pass_a == 0) & (pass_b == 1)).sum())
    if to_fail + to_pass == 0:
        return 1.0
    return float(binomtest(to_pass, to_fail + to_pass, 0.5).pvalue)


def _bootstrap(d: np.ndarray, confidence: float, n_boot: int, seed: int, name: str) -> tuple[float, float]:
    """Percentile interval of the mean of ``d`` over ``n_boot`` resamples with replacement.

    With few distinct values (pass/fail, integer scores) a resample is drawn as multinomial
    counts of the values: exactly the distribution of resampled indices, at a cost that grows
    with the number of distinct values instead of ``len(d)`` (30x faster than resampling
    10,000 rows; the tests check it against scipy). Otherwise ``scipy.stats.bootstrap``."""
    n = len(d)
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    values, counts = np.unique(d, return_counts=True)
    if len(values) == 1:
        return float(values[0]), float(values[0])
    if len(values) * _DRAWS_PER_VALUE <= n:
        draws = rng.multinomial(n, counts / n, size=n_boot)
        means = draws @ values / n
    else:
        from scipy.stats import bootstrap

        ci = bootstrap(
            (d,),
            np.mean,
            n_resamples=n_boot,
            confidence_level=confidence,
            method="percentile",
            vectorized=True,
            rng=rng,
        ).confidence_interval
        return float(ci.low), float(ci.high)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (missing p-values stay missing and do not count)."""
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out
