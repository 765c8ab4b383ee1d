"""``workbench run SUITE DATA``: evaluate a dataset file, print the summary, save the run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from ..run import Run
    from ..specs import Suite

_OUTPUTS = (".csv", ".parquet", ".jsonl")
_SHOWN = 10


# --- run --------------------------------------------------------------------------------


def run_command(args: argparse.Namespace) -> int:
    """``workbench run``: evaluate, print, save; the exit code."""
    from ..frame import evaluate
    from ..inputs import load_suite
    from ..io import load_dataset

    output = Path(args.output) if args.output else None
    if output is not None:
        _check_output(output)
    suite = load_suite(Path(args.suite))
    df = load_dataset(args.data)
    rows = _parse_rows(args.rows, df) if args.rows is not None else None
    run = evaluate(
        df,
        suite,
        rows=rows,
        strict=args.strict,
        model=args.model,
        concurrency=args.concurrency,
        use_cache=not args.no_cache,
        progress=True,  # a bar on a terminal, a few lines in a log
        save=not args.no_save,
        label=args.label,
        store=args.store,
        **_batch_args(args),
    )
    n_rows = len(df) if rows is None else len(rows)
    if getattr(run, "waiting", 0):  # a pending batch-mode run: nothing to summarise yet
        return _report_pending(run, suite, args)
    print(
        f"Suite {suite.name!r} version {suite.version!r} ({count_of(len(suite.tasks), 'task')}) "
        f"on {args.data} ({n_rows:,} rows)"
    )
    print()
    print(_summary_table(run))
    print()
    print(repr(run))
    if run.calls:
        c = run.calls
        spent = (
            "unknown (no price for this model)"
            if run.cost()["cost_usd"].isna().iloc[-1]
            else f"${c['cost_usd']:.4f}"
        )
        print(
            f"Judge calls: {c['calls']:,} ({c['cache_hits']:,} from the cache, {c['errors']:,} failed); "
            f"spent {spent}"
        )
        if c.get("batched"):
            direct = c.get("direct_cost_usd")
            shown = "unknown" if direct is None else f"${direct:.4f}"
            print(f"  {c['batched']:,} of them from provider batches, at the batch price (direct: {shown})")
    failures = _failures(run.results)
    if failures:
        print()
        print(failures)
    if output is not None:
        _write(run.results, output)
        print()
        print(f"Wrote {len(run.results):,} result rows to {output}")
    if run.id:
        print()
        print(
            f"Saved as run {run.id}"
            + (f" ({run.label!r})" if run.label else "")
            + ": compare with `workbench compare <other> "
            + run.id
            + "`"
        )
    return _report_targets(run.results, suite)


def _batch_args(args: argparse.Namespace) -> dict[str, Any]:
    """``evaluate``'s batch-mode keywords from ``--batch``, ``--no-wait``, ``--retry-failed``."""
    if getattr(args, "no_wait", False) and not getattr(args, "batch", False):
        raise UsageError("--no-wait returns before batches finish, so it needs --batch too")
    out: dict[str, Any] = {}
    if getattr(args, "batch", False):
        out["batch"] = True
        out["wait"] = not args.no_wait
    if getattr(args, "retry_failed", False):
        out["retry_failed"] = True
    return out


def _report_pending(run: Run, suite: Suite, args: argparse.Namespace) -> int:
    """What a run that still waits for provider batches prints; exit code 0."""
    batches = list(getattr(run, "batches", []))
    print(
        f"Suite {suite.name!r} version {suite.version!r}: {getattr(run, 'waiting', 0):,} judge calls wait in "
        f"{len(batches)} provider batch{'es' if len(batches) != 1 else ''}: {', '.join(batches[:5])}"
        + (f" (+{len(batches) - 5} more)" if len(batches) > 5 else "")
    )
    print(
        "Run the same command again (from any shell) to wait for them and collect the results, or "
        f"wb.resume({run.id!r}) in Python; nothing is submitted twice."
    )
    return 0


def _report_targets(results: pd.DataFrame, suite: Suite) -> int:
    """Print the suite's pass-rate targets; 1 when one is missed, else 0."""
    import pandas as pd

    from ..targets import check_targets

    targets = check_targets(results, suite)
    if targets.empty:
        return 0
    rows = []
    for rec in targets.to_dict(orient="records"):
        name = rec["task"] + (f".{rec['criterion']}" if rec["criterion"] else "")
        rate = "-" if pd.isna(rec["pass_rate"]) else _percent(rec["pass_rate"])
        rows.append(
            [
                name,
                f">= {_percent(rec['min_pass_rate'])}",
                rate,
                f"{rec['passed']}/{rec['checked']}",
                "met" if rec["met"] else "MISSED",
            ]
        )
    print()
    print("Targets (errors count as not passing):")
    print(
        text_table(
            ["task", "target", "pass rate", "passed", ""], rows, right=[False, True, True, True, False]
        )
    )
    missed = int((~targets["met"]).sum())
    if missed:
        print(f"\n{count_of(missed, 'target')} missed: exit code 1")
        return 1
    return 0


def _check_output(path: Path) -> None:
    if path.suffix.lower() not in _OUTPUTS:
        got = path.suffix or "no extension"
        raise UsageError(f"--output '{path}': expected a {', '.join(_OUTPUTS)} file, got {got!r}")
    parent = path.parent
    if not parent.is_dir():
        msg = f"--output '{path}': folder '{parent}' does not exist (current directory: {Path.cwd()})"
        raise UsageError(msg)


def _parse_rows(spec: str, df: pd.DataFrame) -> list[Any]:
    """``"20"`` -> the first 20 labels; ``"s001,s007"`` or ``"7,"`` -> those labels."""
    from ..errors import cap_list

    text = spec.strip()
    if text.isdigit():
        return list(df.index[: int(text)])
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    if not wanted:
        msg = f"--rows {spec!r} names no rows; write a number (--rows 20) or ids (--rows s001,s007)"
        raise UsageError(msg)
    by_text = {str(label): label for label in df.index}
    missing = [w for w in wanted if w not in by_text]
    if missing:
        raise UsageError(
            f"--rows names {len(missing)} id(s) not in the dataset: {cap_list(missing)}; "
            f"ids run {cap_list([str(x) for x in df.index[:5]], 5)} ({len(df):,} rows)"
        )
    return [by_text[w] for w in wanted]


def _write(results: pd.DataFrame, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        results.to_csv(path, index=False)
    elif suffix == ".parquet":
        results.to_parquet(path, index=False)
    else:
        results.to_json(path, orient="records", lines=True, force_ascii=False)


# --- rendering --------------------------------------------------------------------------


def _percent(x: Any) -> str:
    return f"{100 * float(x):.0f}%"


def _summary_table(run: Run) -> str:
    import pandas as pd

    summary = run.summary()
    judged = bool((summary["kind"].astype(str) == "judge").any())
    header = ["task", "n", "pass rate [95% CI]", "passed", "failed", "errors", "skipped"]
    if judged:
        header += ["mean score"]
    lines = []
    for rec in summary.to_dict(orient="records"):
        name = str(rec["task"]) + (f".{rec['criterion']}" if rec["criterion"] else "")
        rate = rec["pass_rate"]
        shown = (
            "-"
            if pd.isna(rate)
            else (f"{_percent(rate)} [{_percent(rec['pass_rate_low'])}-{_percent(rec['pass_rate_high'])}]")
        )
        line = [name, rec["n"], shown, rec["passed"], rec["failed"], rec["errors"], rec["skipped"]]
        if judged:
            line.append("-" if pd.isna(rec["mean"]) else f"{float(rec['mean']):.2f}")
        lines.append(line)
    return text_table(header, lines, right=[False] + [True] * (len(header) - 1))


def text_table(header: list[str], rows: list[list[Any]], right: list[bool]) -> str:
    cells = [[str(c) for c in r] for r in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(c.rjust(w) if ra else c.ljust(w) for c, w, ra in zip(r, widths, right)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _failures(results: pd.DataFrame, limit: int = _SHOWN) -> str:
    """The first error and failed cells, taken in turns: the first of each task (an error
    before a failure), then the second of each, ... so every task that went wrong shows up
    before any task shows twice."""
    import pandas as pd

    from ..errors import shorten_once

    status = results["status"].astype(object)
    bad = results[status.isin(["failed", "error"])]
    if bad.empty:
        return ""
    order = {t: i for i, t in enumerate(results["task"].cat.categories)}
    is_failure = (bad["status"].astype(object) == "failed").to_numpy()
    ranked = bad.assign(_f=is_failure, _task=bad["task"].map(order).astype(int).to_numpy())
    ranked = ranked.sort_values(["_task", "_f"], kind="stable")
    ranked["_turn"] = ranked.groupby(["task", "criterion"], observed=True, sort=False).cumcount().to_numpy()
    shown = ranked.sort_values(["_turn", "_task"], kind="stable").head(limit)
    n_failed = int(is_failure.sum())
    n_error = len(bad) - n_failed
    head = f"Failures and errors ({count_of(n_failed, 'failure')}, {count_of(n_error, 'error')}"
    head += f"; the first {len(shown)}):" if len(bad) > len(shown) else "):"
    rows = []
    for rec in shown.to_dict(orient="records"):
        task = str(rec["task"]) + (f".{rec['criterion']}" if rec["criterion"] else "")
        why = rec["error"] if rec["status"] == "error" else rec["reason"]
        why = "" if pd.isna(why) else " ".join(str(why).split())
        rows.append([str(rec["row"]), task, str(rec["status"]), shorten_once(why, 160)])
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    body = ["  " + "  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    more = len(bad) - len(shown)
    if more:
        body.append(f"  ... {more:,} more (write every result with --output results.csv)")
    return "\n".join([head, *body])


def count_of(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
