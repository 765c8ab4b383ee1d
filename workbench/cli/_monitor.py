"""``workbench monitor serve|status``: evaluate what monitors persisted in a store, from a
worker process of its own; show what a store's monitors hold."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..errors import UsageError

__all__ = ["add_monitor_parser", "monitor_command"]


def add_monitor_parser(commands: Any, store_help: str) -> None:
    """The ``monitor`` subcommand and its own subcommands."""
    monitor = commands.add_parser(
        "monitor",
        help="evaluate monitored records in a worker process; show a store's monitors",
        description=(
            "Online evaluation's command line. `serve` evaluates the records a wb.Monitor(..., workers=0) "
            "persisted in the store (several serve processes can share one store: each record is claimed "
            "under a lease by one of them, and a killed one's claims are taken again when the lease "
            "runs out). `status` shows what the store's monitors hold."
        ),
    )
    actions = monitor.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser(
        "serve",
        help="evaluate a monitor's persisted records until stopped",
        description=(
            "Claim the monitor's persisted records, evaluate them with the suite, retry failed judge calls "
            "and store each record's cells, until SIGINT or SIGTERM (batches in flight are finished within "
            "the lease, then claims still held are given back) or, "
            "with --until-idle, until no record is left. Judge credentials and base URLs come from "
            "litellm's environment variables (OPENAI_API_KEY, OPENAI_API_BASE...)."
        ),
    )
    serve.add_argument("--store", metavar="PATH", help=store_help)
    serve.add_argument(
        "--suite",
        metavar="SUITE",
        help="the suite: a .yaml, .yml or .json file (default: the one the monitor registered in the store)",
    )
    serve.add_argument("--name", metavar="NAME", help="the monitor's name (default: the suite's name)")
    serve.add_argument("--model", metavar="M", help="the judge model for judge tasks, a litellm model string")
    serve.add_argument(
        "--workers", type=int, default=1, metavar="N", help="evaluation loops in this process (1)"
    )
    serve.add_argument(
        "--concurrency", type=int, default=16, metavar="C", help="judge calls in flight per worker (16)"
    )
    serve.add_argument(
        "--batch-size", type=int, default=256, metavar="N", help="records claimed at once (256)"
    )
    serve.add_argument(
        "--lease", type=float, default=30.0, metavar="S", help="seconds a claim lasts without renewal (30)"
    )
    serve.add_argument(
        "--max-retries",
        type=int,
        default=3,
        metavar="N",
        help="times a record whose judge calls failed is evaluated again before its error cells are kept (3)",
    )
    serve.add_argument(
        "--retry-backoff",
        type=float,
        default=1.0,
        metavar="S",
        help="the first retry's wait, doubled per retry (1)",
    )
    serve.add_argument("--no-cache", action="store_true", help="neither read nor write the judge call cache")
    serve.add_argument(
        "--until-idle", action="store_true", help="exit once no queued or claimed record is left"
    )
    serve.add_argument(
        "--report-every",
        type=float,
        default=10.0,
        metavar="S",
        help="print the counts every S seconds (10; 0: only at the end)",
    )
    status = actions.add_parser(
        "status",
        help="show a store's monitors and their records by state",
        description="List the monitors in the store, their suite and their records: queued, claimed, done.",
    )
    status.add_argument("--store", metavar="PATH", help=store_help)


def monitor_command(args: argparse.Namespace) -> int:
    """``workbench monitor ...``; the exit code."""
    if args.action == "status":
        return _status(args)
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    from ..monitor import serve
    from ..store import Store

    for flag, value, low in (
        ("--workers", args.workers, 1),
        ("--concurrency", args.concurrency, 1),
        ("--batch-size", args.batch_size, 1),
        ("--max-retries", args.max_retries, 0),
    ):
        if value < low:
            raise UsageError(f"{flag} {value}: must be at least {low}")
    if args.lease <= 0:
        raise UsageError(f"--lease {args.lease:g}: must be more than 0 seconds")
    if args.suite is None and args.name is None:
        raise UsageError(
            "monitor serve needs --suite SUITE, or --name NAME of a monitor registered in the store"
        )
    from ..inputs import load_suite

    suite = load_suite(args.suite) if args.suite is not None else None
    name = args.name if args.name is not None else suite.name if suite is not None else None
    path = Store(args.store).path
    started = time.monotonic()
    print(
        f"Serving monitor {name!r} from {path} with {args.workers} worker"
        f"{'s' if args.workers != 1 else ''}; Ctrl-C stops (batches in flight finish first)",
        flush=True,
    )

    def report(counts: dict[str, int]) -> None:
        print(_line(counts, time.monotonic() - started), flush=True)

    counts = serve(
        args.store,
        suite,
        name=name,
        model=args.model,
        workers=args.workers,
        until_idle=args.until_idle,
        report=report if args.report_every > 0 else None,
        report_every_s=args.report_every if args.report_every > 0 else 10.0,
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        lease_s=args.lease,
        max_retries=args.max_retries,
        retry_backoff_s=args.retry_backoff,
        use_cache=not args.no_cache,
    )
    print(_line(counts, time.monotonic() - started, final=True), flush=True)
    return 0


def _line(counts: dict[str, int], elapsed: float, final: bool = False) -> str:
    rate = counts["evaluated"] / elapsed if elapsed > 0 else 0.0
    return (
        f"{'done: ' if final else ''}{counts['evaluated']:,} records evaluated ({rate:,.0f}/s), "
        f"{counts['errors']:,} with errors, {counts['retried']:,} retries, {counts['reclaimed']:,} reclaimed "
        f"after a lease ran out, {elapsed:.1f}s"
    )


def _status(args: argparse.Namespace) -> int:
    from ..store import Store, monitor_names, read_monitor

    path = Store(args.store).path
    names = monitor_names(path)
    if not names:
        print(f"No monitors in {path}")
        return 0
    rows = []
    for name in names:
        info = read_monitor(path, name) or {"counts": {}}
        c = info["counts"]
        suite = f"{info.get('suite')} {info.get('version')}" if info.get("suite") else "-"
        rows.append(
            [name, suite, f"{c.get('queued', 0):,}", f"{c.get('claimed', 0):,}", f"{c.get('done', 0):,}"]
        )
    header = ["monitor", "suite", "queued", "claimed", "done"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = [False, False, True, True, True]
    for r in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(c.rjust(w) if ra else c.ljust(w) for c, w, ra in zip(r, widths, right)).rstrip())
    sys.stdout.flush()
    return 0
