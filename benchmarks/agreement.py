"""Benchmark: ``wb.agreement`` over N rows x 5 criteria with 1,000 bootstrap resamples.

The data are deterministic (numpy seed): a judge run of one task with 5 criteria on a 1-5
scale (threshold 4), 1% of its cells errored, and 3 annotators' raw 1-5 labels per row that
follow a latent quality the judge also sees (2% of the labels missing). So every figure is
computed: kappa, Spearman and Kendall with their intervals, pass/fail rates, Krippendorff's
alpha and the leave-one-out ceiling. ``--by`` adds a grouped correlation (16 rows a group,
as SummEval's 16 systems per document); ``--annotators 1`` gives one label per row.

What it prints:

* the wall time of ``wb.agreement`` (best and median of ``--reps``, after a warm-up on 500
  rows, so scipy's import is not in it), against the goal of 3 s;
* the cost of one criterion's bootstrap interval three ways, on the same pairs: the
  multinomial draw over the table of distinct (judge, human) pairs that workbench uses,
  ``scipy.stats.bootstrap`` with a vectorised Spearman, and a plain loop of
  ``scipy.stats.spearmanr`` over resampled indices; and how far their intervals are apart
  (they are the same distribution, so only Monte Carlo noise separates them).

Usage:
    .venv/bin/python benchmarks/agreement.py                 # 10,000 rows, 3 reps
    .venv/bin/python benchmarks/agreement.py --rows 2000 --by --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import workbench as wb  # noqa: E402
from workbench.results import RESULT_COLUMNS  # noqa: E402

SEED = 20261213
CRITERIA = ["accuracy", "completeness", "clarity", "tone", "safety"]


def make_data(n_rows: int, annotators: int, seed: int = SEED) -> tuple[wb.Run, pd.DataFrame, pd.Series]:
    """A judge run and raw labels over ``n_rows`` rows."""
    rng = np.random.default_rng(seed)
    suite = wb.Suite(
        name="bench",
        tasks=[
            wb.JudgeTask(
                id="quality",
                prompt="${answer}",
                threshold=4,
                criteria=[wb.Criterion(name=c, description=c) for c in CRITERIA],
            )
        ],
    )
    rows = np.array([f"r{i:06d}" for i in range(n_rows)], dtype=object)
    frames, labels = [], []
    for c in CRITERIA:
        latent = rng.normal(3, 1.1, n_rows)
        judge = np.clip(np.rint(latent + rng.normal(0, 0.8, n_rows)), 1, 5)
        error = rng.random(n_rows) < 0.01
        status = np.where(error, "error", np.where(judge >= 4, "passed", "failed"))
        frames.append(
            pd.DataFrame(
                {
                    "row": rows,
                    "task": "quality",
                    "criterion": c,
                    "kind": "judge",
                    "status": status,
                    "passed": pd.arrays.BooleanArray(judge >= 4, error),
                    "score": pd.arrays.FloatingArray(judge, error),
                    "label": pd.array([None] * n_rows, dtype="string"),
                    "reason": pd.array(np.where(error, None, "a reason"), dtype="string"),
                    "error": pd.array(np.where(error, "judge call failed", None), dtype="string"),
                    "cached": False,
                    "tokens": pd.array([100] * n_rows, dtype="Int64"),
                    "cost_usd": pd.array([None] * n_rows, dtype="Float64"),
                    "latency_s": pd.array([0.1] * n_rows, dtype="Float64"),
                }
            )
        )
        for a in range(annotators):
            score = np.clip(np.rint(latent + rng.normal(0, 0.7, n_rows)), 1, 5)
            missing = rng.random(n_rows) < 0.02
            labels.append(
                pd.DataFrame(
                    {
                        "row": rows,
                        "task": "quality",
                        "criterion": c,
                        "annotator": f"a{a}",
                        "score": pd.arrays.FloatingArray(score, missing),
                    }
                )
            )
    results = pd.concat(frames, ignore_index=True)
    for col in ("task", "criterion", "kind", "status"):
        results[col] = results[col].astype("category")
    run = wb.Run(suite=suite, results=results[list(RESULT_COLUMNS)])
    groups = pd.Series(np.arange(n_rows) // 16, index=rows)
    return run, pd.concat(labels, ignore_index=True), groups


def time_agreement(args: argparse.Namespace) -> dict[str, Any]:
    run, labels, groups = make_data(args.rows, args.annotators)
    small_run, small_labels, small_groups = make_data(500, args.annotators, seed=1)
    wb.agreement(small_run, small_labels, by=small_groups if args.by else None)  # imports, warm caches
    times = []
    ag = None
    for _ in range(args.reps):
        start = time.perf_counter()
        ag = wb.agreement(run, labels, by=groups if args.by else None, n_resamples=args.resamples)
        times.append(time.perf_counter() - start)
    assert ag is not None
    t = ag.table
    assert (
        len(t) == len(CRITERIA)
        and t["spearman_low"].notna().all()
        and t["alpha"].notna().all() == (args.annotators > 1)
    )
    return {
        "rows": args.rows,
        "criteria": len(CRITERIA),
        "annotators": args.annotators,
        "label_rows": len(labels),
        "by": args.by,
        "resamples": args.resamples,
        "best_s": min(times),
        "median_s": statistics.median(times),
        "goal_s": 3.0,
        "spearman": [round(float(x), 4) for x in t["spearman"]],
        "spearman_interval_width": [
            round(float(h - lo), 4) for lo, h in zip(t["spearman_low"], t["spearman_high"])
        ],
    }


def compare_bootstraps(args: argparse.Namespace) -> dict[str, Any]:
    """One criterion's Spearman interval: workbench's table bootstrap against scipy's."""
    from scipy import stats

    from workbench.agreement._stats import bootstrap_correlations, rng_for

    run, labels, _ = make_data(args.rows, args.annotators)
    ag = wb.agreement(run, labels, n_resamples=10)
    pairs = ag.pairs[ag.pairs["criterion"] == CRITERIA[0]]
    ok = pairs["judge_score"].notna() & pairs["human_score"].notna()
    x = pairs.loc[ok, "judge_score"].to_numpy(dtype=float)
    y = pairs.loc[ok, "human_score"].to_numpy(dtype=float)
    b = args.resamples
    out: dict[str, Any] = {"pairs": len(x), "resamples": b}

    start = time.perf_counter()
    lo, hi, _, _ = bootstrap_correlations(x, y, b, 0.95, rng_for(0, "bench"))
    out["workbench_table_s"] = time.perf_counter() - start
    out["workbench_interval"] = [lo, hi]

    def rho(a: np.ndarray, c: np.ndarray, axis: int = -1) -> np.ndarray:
        return stats.spearmanr(a, c, axis=axis).statistic if a.ndim == 1 else _rowwise_spearman(a, c)

    start = time.perf_counter()
    res = stats.bootstrap(
        (x, y),
        rho,
        paired=True,
        vectorized=True,
        n_resamples=b,
        method="percentile",
        batch=50,
        rng=np.random.default_rng(0),
    )
    out["scipy_bootstrap_s"] = time.perf_counter() - start
    out["scipy_bootstrap_interval"] = [
        float(res.confidence_interval.low),
        float(res.confidence_interval.high),
    ]

    loop_b = min(b, 200)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    values = [
        stats.spearmanr(x[i], y[i]).statistic
        for i in (rng.integers(0, len(x), len(x)) for _ in range(loop_b))
    ]
    out["scipy_loop_s_per_1000"] = (time.perf_counter() - start) * 1000 / loop_b
    out["scipy_loop_interval"] = [float(v) for v in np.quantile(values, [0.025, 0.975])]
    return out


def _rowwise_spearman(a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Spearman per resample row: scipy's ranks (with ties) along the last axis, then Pearson."""
    from scipy.stats import rankdata

    ra, rc = rankdata(a, axis=-1), rankdata(c, axis=-1)
    ra -= ra.mean(axis=-1, keepdims=True)
    rc -= rc.mean(axis=-1, keepdims=True)
    return (ra * rc).sum(axis=-1) / np.sqrt((ra * ra).sum(axis=-1) * (rc * rc).sum(axis=-1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--annotators", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--by", action="store_true", help="also a grouped correlation, 16 rows a group")
    parser.add_argument("--no-scipy", action="store_true", help="skip the comparison with scipy's bootstrap")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    load = os.getloadavg()[0]
    print(f"workbench {commit.stdout.strip() or '?'}, load average {load:.2f}, {os.cpu_count()} cores")
    figures: dict[str, Any] = {"agreement": time_agreement(args)}
    a = figures["agreement"]
    print(
        f"wb.agreement: {a['rows']:,} rows x {a['criteria']} criteria, {a['annotators']} annotators "
        f"({a['label_rows']:,} labels), {a['resamples']:,} resamples{', by group' if a['by'] else ''}: "
        f"best {a['best_s']:.2f} s, median {a['median_s']:.2f} s (goal < {a['goal_s']:.0f} s)"
    )
    if not args.no_scipy:
        figures["bootstrap"] = c = compare_bootstraps(args)
        print(f"one criterion's Spearman interval, {c['pairs']:,} pairs, {c['resamples']:,} resamples:")
        rows = [
            ("workbench (multinomial over the pair table)", c["workbench_table_s"], "", "workbench_interval"),
            (
                "scipy.stats.bootstrap (vectorised ranks)",
                c["scipy_bootstrap_s"],
                "",
                "scipy_bootstrap_interval",
            ),
            (
                "loop of scipy.stats.spearmanr",
                c["scipy_loop_s_per_1000"],
                " per 1,000",
                "scipy_loop_interval",
            ),
        ]
        for label, seconds, unit, interval in rows:
            print(f"  {label:<44} {seconds:.3f} s{unit} {_fmt(c[interval])}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if a["best_s"] >= a["goal_s"]:
        sys.exit(1)


def _fmt(interval: list[float]) -> str:
    return f"[{interval[0]:.4f}, {interval[1]:.4f}]"


if __name__ == "__main__":
    main()
