"""The ``workbench`` command: run suites, list and compare saved runs, write reports, open
the notebooks.

Example:
    >>> from workbench.cli import main
    >>> main(["--version"])  # doctest: +ELLIPSIS
    workbench ...
    0

Subcommands: ``run SUITE DATA`` (evaluate a dataset file, save the run, print the summary),
``runs`` (list saved runs), ``compare A B`` (paired statistics between two saved runs),
``report NOTEBOOK`` (execute a notebook into one self-contained HTML file), ``lab``
(open the notebooks in JupyterLab) and ``monitor serve`` (evaluate what a ``wb.Monitor``
persisted, in a worker process of its own).

Exit codes: 0 when the command completed (and a run met every ``min_pass_rate`` target of
its suite); 1 when a run missed a target, a cell errored under ``--strict``, ``compare
--fail-on-regression`` found a significant regression, or a report's notebook failed; 2 for
bad input (the message goes to stderr, without a traceback); 3 for an unexpected error.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import Any, TextIO

from ..errors import UsageError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Evaluate LLM outputs against suites of assertions and LLM judges; compare runs; "
        "write reports; open the notebooks.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    store_help = "the run store: a folder or .sqlite file (default $WORKBENCH_HOME or ./.workbench)"

    run = commands.add_parser(
        "run",
        help="run a suite over a dataset, save the run and print a summary",
        description=(
            "Run every task of SUITE over the rows of DATA, save the run in the run store, print the pass "
            "rate of each task with its 95% interval, and the first failures. Exit code 0 when the run "
            "completed and met every min_pass_rate target in the suite, 1 when a target was missed (or a "
            "cell errored under --strict), 2 for bad input, 3 for an unexpected error."
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
        "(credentials and base URL from litellm's environment variables, e.g. OPENAI_API_KEY, "
        "OPENAI_API_BASE)",
    )
    run.add_argument(
        "--concurrency", type=int, default=16, metavar="C", help="judge calls in flight at once (16)"
    )
    run.add_argument("--no-cache", action="store_true", help="neither read nor write the judge call cache")
    run.add_argument(
        "--batch",
        action="store_true",
        help="batch mode: submit the uncached judge calls as provider batches (about half price, done "
        "within 24 h, usually within an hour) and wait for them; running the same command again, from "
        "any process, picks pending batches up instead of submitting new ones",
    )
    run.add_argument(
        "--no-wait",
        action="store_true",
        help="with --batch: submit and return at once; run the same command again to collect the results",
    )
    run.add_argument(
        "--retry-failed",
        action="store_true",
        help="resubmit the requests a provider batch failed or expired (as a batch with --batch, else "
        "directly)",
    )
    run.add_argument("--label", metavar="TEXT", help="a label for the saved run, e.g. 'prompt v2'")
    run.add_argument("--no-save", action="store_true", help="do not save the run in the run store")
    run.add_argument("--store", metavar="PATH", help=store_help)

    runs = commands.add_parser(
        "runs",
        help="list the saved runs, newest first",
        description="List the runs in the run store, newest first.",
    )
    runs.add_argument("--store", metavar="PATH", help=store_help)
    runs.add_argument("--limit", type=int, default=20, metavar="N", help="show the newest N runs (20)")

    compare = commands.add_parser(
        "compare",
        help="compare two saved runs with paired statistics",
        description=(
            "Compare run B with run A (ids or labels of saved runs) on the rows and criteria they share: "
            "mean scores or pass rates, the paired difference with a bootstrap 95% interval, Wilcoxon or "
            "McNemar p-values adjusted with Holm's method, and the rows that flipped between pass and fail."
        ),
    )
    compare.add_argument("a", metavar="A", help="the baseline run: an id or a label (the newest run with it)")
    compare.add_argument("b", metavar="B", help="the candidate run")
    compare.add_argument("--store", metavar="PATH", help=store_help)
    compare.add_argument(
        "--flips", type=int, default=10, metavar="N", help="show the first N flipped rows (10)"
    )
    compare.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when a criterion got significantly worse in B",
    )

    report = commands.add_parser(
        "report",
        add_help=False,
        help="execute a notebook into one self-contained HTML report",
        description="See `workbench report --help`.",
    )
    report.add_argument("args", nargs=argparse.REMAINDER)

    lab = commands.add_parser(
        "lab",
        help="open the notebooks in JupyterLab",
        description=(
            "Start JupyterLab on 127.0.0.1 with no calls to the internet (no news, no update checks, no "
            "extension manager), opening NOTEBOOK (default notebooks/01_quickstart.ipynb when it exists). "
            "Arguments after -- go to JupyterLab, e.g. `workbench lab -- --no-browser --port 8899`."
        ),
    )
    lab.add_argument("notebook", metavar="NOTEBOOK", nargs="?", help="a notebook or folder to open")
    lab.add_argument("extra", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    from ._monitor import add_monitor_parser

    add_monitor_parser(commands, store_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``workbench`` command line and return its exit code.

    Args:
        argv: the arguments after the program name; ``None`` reads ``sys.argv``.

    Returns:
        0 when the command completed (and a run met its targets), 1 when a run missed a
        target, hit an error cell under ``--strict`` or regressed under
        ``--fail-on-regression``, 2 for bad input (the message is printed to stderr,
        without a traceback), 3 for an unexpected error.

    Example:
        >>> main(["run", "no-such-suite.yaml", "data.jsonl"])  # the message goes to stderr
        2
    """
    _tolerate_unencodable(sys.stdout)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["report"]:  # its own parser, --help included
        from ..report import main as report_main

        return report_main(argv[1:], prog="workbench report")
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # --help, --version and usage errors; return rather than exit
        return e.code if isinstance(e.code, int) else 2
    from ..errors import EvaluationError, WorkbenchError

    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return _dispatch(args)
    except EvaluationError as e:
        _fail(str(e))
        return 1
    except (WorkbenchError, UsageError) as e:
        _fail(str(e))
        return 2
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    except Exception as e:  # noqa: BLE001  (any other error is a bug: show it, exit 3, never a bare crash)
        traceback.print_exc(file=sys.stderr)
        _fail(f"unexpected {type(e).__name__}: {e} (a bug in workbench; please report it with the traceback)")
        return 3


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        from ._run import run_command

        return run_command(args)
    if args.command == "runs":
        from ._compare import runs_command

        return runs_command(args)
    if args.command == "compare":
        from ._compare import compare_command

        return compare_command(args)
    if args.command == "monitor":
        from ._monitor import monitor_command

        return monitor_command(args)
    from ._lab import lab_command

    return lab_command(args)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """workbench's own warnings as ``workbench: warning: ...`` lines: where in workbench they
    were raised means nothing to someone at a shell. Others keep Python's format."""
    from ..errors import SpecWarning, StoreWarning

    if issubclass(category, (SpecWarning, StoreWarning)):
        print(f"workbench: warning: {message}", file=sys.stderr)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning


def _fail(message: str) -> None:
    print(f"workbench: error: {message}", file=sys.stderr)


def _tolerate_unencodable(stream: Any) -> None:
    # answers hold CJK and emoji; on a non-UTF-8 terminal print escapes rather than crash
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    if encoding != "utf8" and hasattr(stream, "reconfigure"):
        with contextlib.suppress(ValueError, OSError):  # a stream that cannot be reconfigured
            stream.reconfigure(errors="backslashreplace")


if __name__ == "__main__":
    raise SystemExit(main())
