"""The command line of ``python -m workbench.testing``."""

from __future__ import annotations

import argparse
import contextlib
import threading

from ._options import ServerOptions
from ._server import JudgeServer


def main(argv: list[str] | None = None) -> None:
    """Run a JudgeServer in the foreground until Ctrl-C (``python -m workbench.testing``).

    Example:
        In a shell: ``python -m workbench.testing --port 8765 --latency-ms 50 --rate-429 0.1``.
    """
    p = argparse.ArgumentParser(prog="python -m workbench.testing", description=main.__doc__)
    p.add_argument("--port", type=int, default=8765)
    for name in (
        "latency_ms",
        "jitter_ms",
        "rate_429",
        "rate_500",
        "rate_timeout",
        "rate_malformed",
        "retry_after_s",
        "timeout_s",
    ):
        p.add_argument(
            "--" + name.replace("_", "-"), dest=name, type=float, default=getattr(ServerOptions, name)
        )
    p.add_argument("--seed", type=int, default=0)
    args = vars(p.parse_args(argv))
    with JudgeServer(port=args.pop("port"), request_log_size=0, **args) as server:
        print(f"workbench judge server on {server.url} (model {server.model}); Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
