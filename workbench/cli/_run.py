"""The ``workbench`` command: run a suite over a dataset file from a terminal or CI.

Example:
    >>> from workbench.cli import main
    >>> main(["--version"])  # doctest: +ELLIPSIS
    workbench ...
    0

Exit codes: 0 when the run completed and met every target the suite sets
(``min_pass_rate``), 1 when a target was missed or, under ``--strict``, a cell errored,
2 for bad input (a missing or invalid suite or dataset, a suite naming columns the data
lacks), 3 for an unexpected error (a bug: please report it).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .frame import Run
    from .specs import Suite

__all__ = ["main"]

_OUTPUTS = (".csv", ".parquet", ".jsonl")
_SUITES = (".yaml", ".yml", ".json")
_SHOWN = 10


class _BadInput(Exception):
    """A problem with the command's arguments, reported as exit code 2."""


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Evaluate LLM outputs in a dataset file against a suite of tasks.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "run",
        help="run a suite over a dataset and print a summary",
        description=(
            "Run every task of SUITE over the rows of DATA, print the pass rate of each task with "
            "its 95%% interval, and the first failures. Exit code 0 when the run completed and met "
            "every min_pass_rate target in the suite, 1 when a target was missed (or a cell errored "
            "under --strict), 2 for bad input, 3 for an unexpected error."
        ),
    )
    run.add_argument("suite", metavar="SUITE", help="the suite: a .yaml, .yml or .json file")
    run.add_argument("data", metavar="DATA", help="the dataset: a .jsonl, .json, .csv or .parquet file")
    run.add_argument(
        "--rows",
        metavar="N|IDS",
        help="evaluate only the first N rows (--rows 20) or these ids, comma-separated "
        "(--rows s001,s007; a trailing comma makes one number an id: --rows 7,)",
    )
    run.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="also write the long results table to a .csv, .parquet or .jsonl file",
    )
    run.add_argument("--strict", action="store_true", help="stop at the first error cell (exit code 1)")
    run.add_argument(
        "--model",
        metavar="M",
        help="the judge model for judge tasks, a litellm model string such as openai/gpt-4o-mini "
        "(credentials and base URL from litellm's environment variables, e.g. OPENAI_API_KEY, OPENAI_API_BASE)",
    )
    run.add_argument("--concurrency", type=int, default=16, metavar="C", help="judge calls in flight at once (16)")
    run.add_argument("--no-cache", action="store_true", help="neither read nor write the judge call cache")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``workbench`` command line and return its exit code.

    Args:
        argv: the arguments after the program name; ``None`` reads ``sys.argv``.

    Returns:
        0 when the command completed (and a run met its targets), 1 when a run missed a
        target or hit an error cell under ``--strict``, 2 for bad input (the message is
        printed to stderr, without a traceback), 3 for an unexpected error.

    Example:
        >>> main(["run", "no-such-suite.yaml", "data.jsonl"])  # the message goes to stderr
        2
    """
    _tolerate_unencodable(sys.stdout)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # --help, --version and usage errors; return rather than exit
        return e.code if isinstance(e.code, int) else 2
    from .errors import EvaluationError, WorkbenchError

    try:
        return _run(args)
    except EvaluationError as e:
        _fail(str(e))
        return 1
    except (WorkbenchError, _BadInput) as e:
        _fail(str(e))
        return 2
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        _fail(f"unexpected {type(e).__name__}: {e} (a bug in workbench; please report it with the traceback)")
        return 3


def _fail(message: str) -> None:
    print(f"workbench: error: {message}", file=sys.stderr)


def _tolerate_unencodable(stream: Any) -> None:
    # answers hold CJK and emoji; on a non-UTF-8 terminal print escapes rather than crash
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    if encoding != "utf8" and hasattr(stream, "reconfigure"):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (ValueError, OSError):  # pragma: no cover - a stream that cannot be reconfigured
            pass


# --- run --------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    from .frame import evaluate
    from .io import load_dataset

    output = Path(args.output) if args.output else None
    if output is not None:
        _check_output(output)
    suite = _load_suite(Path(args.suite))
    df = load_dataset(args.data)
    rows = _parse_rows(args.rows, df) if args.rows is not None else None
    run = evaluate(df, suite, rows=rows, strict=args.strict, model=args.model, concurrency=args.concurrency,
                   use_cache=not args.no_cache, progress=sys.stderr.isatty())
    n_rows = len(df) if rows is None else len(rows)
    print(f"Suite {suite.name!r} {suite.version} ({len(suite.tasks)} tasks) on {args.data} ({n_rows:,} rows)")
    print()
    print(_summary_table(run))
    print()
    print(repr(run))
    if run.calls:
        c = run.calls
        spent = "unknown (no price for this model)" if run.cost()["cost_usd"].isna().iloc[-1] else f"${c['cost_usd']:.4f}"
        print(f"Judge calls: {c['calls']:,} ({c['cache_hits']:,} from the cache, {c['errors']:,} failed); spent {spent}")
    failures = _failures(run.results)
    if failures:
        print()
        print(failures)
    if output is not None:
        _write(run.results, output)
        print()
        print(f"Wrote {len(run.results):,} result rows to {output}")
    return _report_targets(run.results, suite)


def _report_targets(results: pd.DataFrame, suite: Suite) -> int:
    """Print the suite's pass-rate targets; 1 when one is missed, else 0."""
    import pandas as pd

    from .targets import check_targets

    targets = check_targets(results, suite)
    if targets.empty:
        return 0
    rows = []
    for rec in targets.to_dict(orient="records"):
        name = rec["task"] + (f".{rec['criterion']}" if rec["criterion"] else "")
        rate = "-" if pd.isna(rec["pass_rate"]) else _percent(rec["pass_rate"])
        rows.append([name, f">= {_percent(rec['min_pass_rate'])}", rate, f"{rec['passed']}/{rec['checked']}",
                     "met" if rec["met"] else "MISSED"])
    print()
    print("Targets (errors count as not passing):")
    print(_table(["task", "target", "pass rate", "passed", ""], rows, right=[False, True, True, True, False]))
    missed = int((~targets["met"]).sum())
    if missed:
        print(f"\n{_count(missed, 'target')} missed: exit code 1")
        return 1
    return 0


def _load_suite(path: Path) -> Suite:
    from .specs import Suite

    suffix = path.suffix.lower()
    if suffix not in _SUITES:
        got = suffix or "no extension"
        raise _BadInput(f"cannot read suite '{path}': expected a {', '.join(_SUITES)} file, got {got!r}")
    if not path.is_file():
        raise _BadInput(f"suite '{path}' does not exist (current directory: {Path.cwd()})")
    return Suite.from_json(path) if suffix == ".json" else Suite.from_yaml(path)


def _check_output(path: Path) -> None:
    if path.suffix.lower() not in _OUTPUTS:
        got = path.suffix or "no extension"
        raise _BadInput(f"--output '{path}': expected a {', '.join(_OUTPUTS)} file, got {got!r}")
    parent = path.parent
    if not parent.is_dir():
        msg = f"--output '{path}': folder '{parent}' does not exist (current directory: {Path.cwd()})"
        raise _BadInput(msg)


def _parse_rows(spec: str, df: pd.DataFrame) -> list[Any]:
    """``"20"`` -> the first 20 labels; ``"s001,s007"`` or ``"7,"`` -> those labels."""
    from .errors import cap_list

    text = spec.strip()
    if text.isdigit():
        return list(df.index[: int(text)])
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    if not wanted:
        msg = f"--rows {spec!r} names no rows; write a number (--rows 20) or ids (--rows s001,s007)"
        raise _BadInput(msg)
    by_text = {str(label): label for label in df.index}
    missing = [w for w in wanted if w not in by_text]
    if missing:
        raise _BadInput(
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
        shown = "-" if pd.isna(rate) else (
            f"{_percent(rate)} [{_percent(rec['pass_rate_low'])}-{_percent(rec['pass_rate_high'])}]"
        )
        line = [name, rec["n"], shown, rec["passed"], rec["failed"], rec["errors"], rec["skipped"]]
        if judged:
            line.append("-" if pd.isna(rec["mean"]) else f"{float(rec['mean']):.2f}")
        lines.append(line)
    return _table(header, lines, right=[False] + [True] * (len(header) - 1))


def _table(header: list[str], rows: list[list[Any]], right: list[bool]) -> str:
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

    from .errors import shorten

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
    head = f"Failures and errors ({_count(n_failed, 'failure')}, {_count(n_error, 'error')}"
    head += f"; the first {len(shown)}):" if len(bad) > len(shown) else "):"
    rows = []
    for rec in shown.to_dict(orient="records"):
        task = str(rec["task"]) + (f".{rec['criterion']}" if rec["criterion"] else "")
        why = rec["error"] if rec["status"] == "error" else rec["reason"]
        why = "" if pd.isna(why) else " ".join(str(why).split())
        rows.append([str(rec["row"]), task, str(rec["status"]), shorten(why, 160)])
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    body = ["  " + "  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    more = len(bad) - len(shown)
    if more:
        body.append(f"  ... {more:,} more (write every result with --output results.csv)")
    return "\n".join([head, *body])


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


if __name__ == "__main__":
    raise SystemExit(main())
