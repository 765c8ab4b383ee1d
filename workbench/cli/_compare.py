"""``workbench runs`` and ``workbench compare A B``: the run store from a terminal."""

from __future__ import annotations

import argparse
from typing import Any

from ._run import count_of, text_table


def _store(path: str | None) -> Any:
    from ..store import Store

    return Store(path)


def runs_command(args: argparse.Namespace) -> int:
    """Print the newest saved runs."""
    import pandas as pd

    store = _store(args.store)
    runs = store.runs()
    if runs.empty:
        print(f"No runs saved in {store.path} yet: `workbench run SUITE DATA` saves one.")
        return 0
    rows = []
    for rec in runs.head(args.limit).to_dict(orient="records"):
        cost = rec.get("cost_usd")
        rows.append(
            [
                rec["id"],
                rec.get("label") or "",
                f"{rec['suite']} {rec['version']}",
                rec.get("model") or "",
                pd.Timestamp(rec["started_at"]).strftime("%Y-%m-%d %H:%M"),
                f"{rec['rows']:,}",
                f"{rec['passed']:,}/{rec['failed']:,}",
                "-" if not rec["calls"] else "unknown" if pd.isna(cost) else f"${float(cost):.4f}",
            ]
        )
    print(
        text_table(
            ["id", "label", "suite", "model", "started (UTC)", "rows", "passed/failed", "cost"],
            rows,
            right=[False] * 5 + [True] * 3,
        )
    )
    if len(runs) > args.limit:
        print(f"... {len(runs) - args.limit:,} older (--limit N shows more)")
    print(f"\n{count_of(len(runs), 'run')} in {store.path}")
    return 0


def compare_command(args: argparse.Namespace) -> int:
    """Print the comparison of two saved runs; 1 under ``--fail-on-regression`` when a
    criterion got significantly worse."""
    import pandas as pd

    from ..compare import compare
    from ..errors import shorten_once

    store = _store(args.store)
    result = compare(args.a, args.b, store=store)
    print(repr(result))
    flips = result.flips
    if len(flips) and args.flips > 0:
        print()
        print(f"Rows that flipped ({len(flips):,}; the first {min(args.flips, len(flips))}):")
        rows = []
        for rec in flips.head(args.flips).to_dict(orient="records"):
            name = str(rec["task"]) + (f".{rec['criterion']}" if rec["criterion"] else "")
            why = rec["reason_b"] if str(rec["direction"]) == "pass_to_fail" else rec["reason_a"]
            why = "" if pd.isna(why) else " ".join(str(why).split())
            # once: a reason whose value was cut is shown whole, a long one keeps its head (the verdict)
            flip = str(rec["direction"]).replace("_", " ")
            rows.append([str(rec["row"]), name, flip, shorten_once(why, 100)])
        print(text_table(["row", "check", "flip", "reason (of the failing side)"], rows, right=[False] * 4))
    table = result.table
    worse = table[table["significant"].fillna(False).astype(bool) & (table["delta"] < 0).fillna(False)]
    if args.fail_on_regression and len(worse):
        names = [str(t) + (f".{c}" if c else "") for t, c in zip(worse["task"], worse["criterion"])]
        print(f"\n{count_of(len(worse), 'significant regression')}: {', '.join(names)}: exit code 1")
        return 1
    return 0
