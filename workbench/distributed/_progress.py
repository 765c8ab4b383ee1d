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

import threading
from collections.abc import Callable
from typing import Any

from ..progress import View, judge_postfix
from ..progress import progress_display as show_progress
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
    return f"{p.partitions_done}/{p.partitions} partitions, {judge_postfix(p)}"


_CLUSTER = View(
    "judging on the cluster",
    "judged on the cluster",
    _postfix,
    lambda p: p.partitions_done / p.partitions if p.partitions else 0.0,
)


def progress_display(progress: bool | Callable[[Any], Any]) -> tuple[Callable[[Any], Any] | None, Any]:
    """The hook to call with each :class:`ClusterProgress`, and the display to close at the
    end (None for a caller's own callable or ``progress=False``)."""
    return show_progress(progress, _CLUSTER)
