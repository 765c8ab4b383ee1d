"""Progress while batches run: the provider's counts, on a bar (notebook, terminal) or as a
few lines in a log."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["BatchBar", "batch_bar"]


def _text(states: Mapping[str, Any]) -> str:
    by_status: dict[str, int] = {}
    for s in states.values():
        by_status[s.status] = by_status.get(s.status, 0) + 1
    failed = sum(s.failed for s in states.values())
    shown = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
    return f"{len(states)} batch{'es' if len(states) != 1 else ''}: {shown}" + (
        f"; {failed:,} failed" if failed else ""
    )


class BatchBar:
    """Shows done / total requests over the batches being waited for, and their statuses."""

    def __init__(self, interactive: bool) -> None:
        self._bar: Any = None
        self._printed = 0.0
        self._last = ""
        if interactive:
            try:
                from tqdm.auto import tqdm

                self._bar = tqdm(total=0, unit="request", desc="batch", leave=True)
            except ImportError:  # tqdm comes with litellm; without it, lines
                self._bar = None

    def update(self, states: Mapping[str, Any]) -> None:
        total = sum(s.total for s in states.values())
        done = sum(s.completed + s.failed for s in states.values())
        text = _text(states)
        if self._bar is not None:
            self._bar.total = total
            self._bar.n = done
            self._bar.set_postfix_str(text, refresh=False)
            self._bar.refresh()
            return
        now = time.monotonic()
        line = f"batch: {done:,}/{total:,} requests done ({text})"
        if line != self._last and (now - self._printed >= 30 or done >= total):
            print(line, file=sys.stderr, flush=True)
            self._printed, self._last = now, line

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def batch_bar(show: bool) -> BatchBar | None:
    """A bar when ``show`` (tqdm in a notebook or on a terminal, lines in a log), else None."""
    if not show:
        return None
    interactive = "ipykernel" in sys.modules or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
    return BatchBar(interactive)
