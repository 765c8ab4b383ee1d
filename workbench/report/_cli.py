"""``workbench report NOTEBOOK [-o OUT] [--timeout S] [--cwd DIR] [--save-runs]``: the
command-line side of :func:`workbench.report.report`."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Sequence

__all__ = ["main"]


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Execute NOTEBOOK top to bottom in a fresh kernel and write it as one self-contained HTML file: "
            "charts and widgets render offline, nothing is loaded from the network. The notebook file is not "
            "changed, and its evaluate calls save no run while the report runs it (--save-runs lets them). "
            "Exit code 0 when the report was written, 1 when a cell failed or timed out (a partial report is "
            "written next to the output), 2 for bad input."
        ),
    )
    parser.add_argument("notebook", metavar="NOTEBOOK", help="the .ipynb file")
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="the .html file (or an existing folder) to write; default reports/NAME.html beside the "
        "notebook, in a folder git ignores",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="seconds for the whole notebook, kernel start included (600)",
    )
    parser.add_argument(
        "--cwd", metavar="DIR", help="the kernel's working directory; default the notebook's folder"
    )
    parser.add_argument(
        "--save-runs",
        action="store_true",
        help="keep the runs the notebook's wb.evaluate calls save in the run store (by default a report "
        "reads the store and the judge cache but adds no run)",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str = "workbench report") -> int:
    """Run ``workbench report`` with the arguments after the subcommand; return the exit code.

    Args:
        argv: e.g. ``["notebooks/01_quickstart.ipynb", "-o", "out.html"]``; ``None`` reads
            ``sys.argv[1:]``.
        prog: the program name shown in usage and help.

    Returns:
        0 when the report was written, 1 when a cell failed, timed out or killed the kernel,
        2 for bad input (the message goes to stderr, without a traceback).

    Example:
        >>> from workbench.report import main
        >>> main(["no_such_notebook.ipynb"])  # the message goes to stderr
        2
    """
    from ._execute import NotebookError, ReportError
    from ._report import report

    try:
        args = _parser(prog).parse_args(argv)
    except SystemExit as e:  # --help and usage errors: return rather than exit
        return e.code if isinstance(e.code, int) else 2
    started = time.perf_counter()
    try:
        out = report(args.notebook, args.output, timeout=args.timeout, cwd=args.cwd, save_runs=args.save_runs)
    except ReportError as e:
        _fail(str(e))
        return 2
    except NotebookError as e:
        _fail(str(e))
        return 1
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    except Exception as e:  # noqa: BLE001  (a bug: print it, exit 1)
        traceback.print_exc(file=sys.stderr)
        _fail(f"unexpected {type(e).__name__}: {e} (a bug in workbench; please report it with the traceback)")
        return 1
    size = out.stat().st_size
    print(f"Wrote {out} ({size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
    return 0


def _fail(message: str) -> None:
    print(f"workbench: error: {message}", file=sys.stderr)
