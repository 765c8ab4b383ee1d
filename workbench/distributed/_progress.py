"""Progress of a cluster run in the notebook: each partition's judge-call counts arrive from
its worker as Dask events, and are summed here into one :class:`ClusterProgress` that a bar
(or the caller's callable) shows, on the notebook's own thread.

A partition that Dask runs again (its worker was lost) starts its counts afresh: only the
newest attempt of each partition counts, so the totals never count a call twice.

Example:
    >>> tracker = Tracker(partitions=2, hook=None)
    >>> tracker.on_event((0.0, {"part": 0, "started": 1.0, "final": True, "total": 4, "done": 4,
    ...     "cached": 1, "errors": 0, "unsent": 0, "unpriced": 0, "cost_usd": 0.5, "saved_usd": 0.1}))
    >>> p = tracker.refresh()
    >>> p.done, p.cached, p.cost_usd, p.partitions
    (4, 1, 0.5, 2)
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ..runner import Progress

__all__ = ["ClusterProgress", "Tracker", "progress_display"]


class ClusterProgress(Progress):
    """The judge calls of a cluster run so far, summed over its partitions: ``total``, ``done``,
    ``cached``, ``errors``, ``unsent``, ``cost_usd``, ``saved_usd`` and ``unpriced`` as a
    pandas run's :class:`~workbench.runner.Progress` has them, plus ``partitions`` and
    ``partitions_done``. ``total`` grows as partitions start and plan their calls.

    Example:
        >>> p = ClusterProgress(partitions=8)
        >>> p.partitions, p.partitions_done, p.done
        (8, 0, 0)
    """

    def __init__(self, partitions: int) -> None:
        super().__init__(None)
        self.partitions = partitions
        self.partitions_done = 0


_COUNTS = ("total", "done", "cached", "errors", "unsent", "unpriced", "cost_usd", "saved_usd")


class Tracker:
    """Collects partition events (from the client's event thread) and sums them (on the
    caller's thread, in :meth:`refresh`)."""

    def __init__(self, partitions: int, hook: Callable[[ClusterProgress], Any] | None) -> None:
        self.progress = ClusterProgress(partitions)
        self._hook = hook
        self._lock = threading.Lock()
        self._latest: dict[int, dict[str, Any]] = {}
        self._changed = False

    def on_event(self, event: tuple[float, Any]) -> None:
        """A Dask event handler: ``(time, message)`` from a partition's reporter."""
        msg = event[1]
        if not isinstance(msg, dict) or "part" not in msg:
            return
        with self._lock:
            seen = self._latest.get(msg["part"])
            # a newer attempt of the partition replaces the lost one; within one attempt, counts only grow
            if seen is None or (msg["started"], msg["done"], msg["final"]) >= (
                seen["started"],
                seen["done"],
                seen["final"],
            ):
                self._latest[msg["part"]] = msg
                self._changed = True

    def partition_finished(self) -> None:
        with self._lock:
            self.progress.partitions_done += 1
            self._changed = True

    def refresh(self, force: bool = False) -> ClusterProgress:
        """Sum the newest counts of every partition; call the hook if anything changed."""
        with self._lock:
            changed, self._changed = self._changed, False
            latest = list(self._latest.values())
        if changed:
            p = self.progress
            for name in _COUNTS:
                setattr(p, name, sum(m[name] for m in latest))
        if (changed or force) and self._hook is not None:
            self._hook(self.progress)
        return self.progress


def _postfix(p: ClusterProgress) -> str:
    cost = "cost unknown" if p.unpriced else f"${p.cost_usd:.4f}"
    unreachable = f", provider unreachable: {p.unsent:,} not sent" if p.unsent else ""
    return (
        f"{p.partitions_done}/{p.partitions} partitions, cached={p.cached:,}, errors={p.errors:,}"
        f"{unreachable}, {cost}"
    )


class _Bar:
    """A tqdm.auto bar (a widget in a notebook): done / total calls, with partitions, cached,
    errors and dollars, redrawn at most ten times a second."""

    def __init__(self) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=0, unit="call", desc="judging on the cluster", leave=True)
        self._drawn = 0.0

    def update(self, p: ClusterProgress) -> None:
        self._bar.total = p.total
        self._bar.n = p.done
        now = time.monotonic()
        if now - self._drawn >= 0.1 or p.partitions_done == p.partitions:
            self._bar.set_postfix_str(_postfix(p), refresh=False)
            self._bar.refresh()
            self._drawn = now

    def close(self) -> None:
        self._bar.close()


class _Lines:
    """Progress for a log: a line at each quarter of the partitions, and at the end."""

    def __init__(self) -> None:
        self._quarter = 0
        self._last: ClusterProgress | None = None

    def update(self, p: ClusterProgress) -> None:
        self._last = p
        quarter = 4 * p.partitions_done // p.partitions if p.partitions else 0
        if quarter > self._quarter and p.partitions_done < p.partitions:
            self._quarter = quarter
            print(f"judging on the cluster: {p.done:,}/{p.total:,} calls ({_postfix(p)})", file=sys.stderr)

    def close(self) -> None:
        if self._last is not None and self._last.total:
            p = self._last
            print(f"judged on the cluster: {p.done:,}/{p.total:,} calls ({_postfix(p)})", file=sys.stderr)


def progress_display(progress: bool | Callable[[Any], Any]) -> tuple[Callable[[Any], Any] | None, Any]:
    """The hook to call with each :class:`ClusterProgress`, and the display to close at the
    end (None for a caller's own callable or ``progress=False``)."""
    if callable(progress):
        return progress, None
    if progress is not True:
        return None, None
    interactive = "ipykernel" in sys.modules or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
    display: _Bar | _Lines
    try:
        display = _Bar() if interactive else _Lines()
    except ImportError:  # tqdm comes with litellm; without it, lines
        display = _Lines()
    return display.update, display
