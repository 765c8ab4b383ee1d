"""The bounded in-memory queue in front of the store, and the background thread that
persists it in group commits.

``put`` runs in the application's thread and only appends to a deque under a lock; the
writer wakes every ``commit_interval_s`` (or when asked to flush), takes what is queued and
writes it in one transaction. A write that fails (a locked or full disk) keeps its records
and is tried again with a backoff, while the queue's policy handles what keeps arriving.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from ..store import NewRecord, RecordStore
from ._options import MonitorOptions

__all__ = ["Item", "Writer", "to_epoch"]

log = logging.getLogger("workbench.monitor")

_MAX_WRITE = 5000
"""Most records in one transaction: a backlog is written in several, so none holds the
write lock for long."""


_BURST_GAP_S = 1.0
"""Drops this far apart belong to separate bursts (each logged once, when it starts and when it ends)."""


class Item(NamedTuple):
    """One accepted record, as ``submit`` queued it."""

    ticket: int
    id: str
    time: Any
    data: bytes
    tags: str | None
    trace_id: str | None
    latency_s: float | None
    tasks: str | None


def to_epoch(value: Any) -> float:
    """Seconds since the epoch for a record's ``time``: a number (epoch seconds), a datetime
    (naive is UTC), a pandas Timestamp or ISO 8601 text.

    Raises:
        ValueError: the value is none of these.

    Example:
        >>> to_epoch("2026-01-02T03:04:05Z"), to_epoch(1.5)
        (1767323045.0, 1.5)
    """
    if isinstance(value, bool):
        raise ValueError(f"time={value!r} is not a time")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"time={value!r} is not a time")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    if isinstance(value, datetime):  # pandas' Timestamp is one
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return aware.timestamp()
    raise ValueError(
        f"time={value!r} ({type(value).__name__}) is not a time: give a datetime, ISO 8601 text or "
        "epoch seconds"
    )


class Writer:
    """The queue and its writer thread for one monitor."""

    def __init__(
        self,
        path: Path,
        name: str,
        options: MonitorOptions,
        registration: tuple[str, str, str, str, str] | None,
        on_persisted: Callable[[], None] | None = None,
    ) -> None:
        self.path, self.name, self.options = path, name, options
        self._registration = registration
        self._on_persisted = on_persisted
        self.lock = threading.Lock()
        self._changed = threading.Condition(self.lock)
        self._queue: deque[Item] = deque()
        self._batch: list[Item] = []
        self._wake = threading.Event()
        self._closing = False
        self._give_up_at = math.inf
        self.tickets = 0
        self.sampled = 0
        """Records offered to the queue (sampled ones, whether kept or dropped)."""
        self.persisted = self.duplicates = self.dropped = self.lost = 0
        self._burst = 0
        self._last_drop = 0.0
        self._closed_logged = False
        self._bad_times = 0
        self._thread = threading.Thread(
            target=self._run, name=f"workbench-monitor-writer:{name}", daemon=True
        )
        self._thread.start()

    # --- the application's side ------------------------------------------------------------

    def put(self, item_fields: tuple[Any, ...]) -> bool:
        """Queue one record (``Item`` without its ticket); False when it was dropped."""
        opts = self.options
        kept, note = False, ""
        with self.lock:
            self.sampled += 1
            if self._closing:
                self.dropped += 1
                note = "closed"
            elif len(self._queue) < opts.queue_size:
                self.tickets += 1
                self._queue.append(Item(self.tickets, *item_fields))
                return True
            elif opts.when_full == "drop_oldest":
                self._queue.popleft()
                self.tickets += 1
                self._queue.append(Item(self.tickets, *item_fields))
                kept, note = True, self._dropped_one()
            else:
                if opts.when_full == "block" and opts.block_timeout_s > 0:
                    self._wake.set()  # the writer makes room sooner
                    deadline = time.monotonic() + opts.block_timeout_s
                    while len(self._queue) >= opts.queue_size and not self._closing:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        self._changed.wait(left)
                    if len(self._queue) < opts.queue_size and not self._closing:
                        self.tickets += 1
                        self._queue.append(Item(self.tickets, *item_fields))
                        return True
                note = self._dropped_one()
        if note == "full":  # logged outside the lock: other submitters never wait on the log
            log.warning(
                "monitor %r: the in-memory queue is full (%d records waiting to be persisted): %s records "
                "until it has room again (counted in stats()['dropped']). Raise queue_size=, or "
                "when_full='block' to make submit wait.",
                self.name,
                opts.queue_size,
                "dropping the oldest" if opts.when_full == "drop_oldest" else "dropping new",
            )
        elif note == "closed" and not self._closed_logged:
            self._closed_logged = True
            log.warning("monitor %r is closed: submitted records are dropped (counted)", self.name)
        return kept

    def _dropped_one(self) -> str:
        """Count a drop (under the lock); "full" for the first of a burst, to log it."""
        self.dropped += 1
        self._burst += 1
        self._last_drop = time.monotonic()
        return "full" if self._burst == 1 else ""

    @property
    def waiting(self) -> int:
        """Records waiting to be persisted (queued or being written); call under the lock."""
        return len(self._queue) + len(self._batch)

    def wait(self, ticket: int, timeout: float | None) -> bool:
        """Block until every record up to ``ticket`` is persisted (or given up); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._wake.set()
        with self.lock:
            while not self._settled(ticket):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._wake.set()
                self._changed.wait(0.05 if left is None else min(left, 0.05))
        return True

    def close(self, timeout: float | None) -> bool:
        """Stop accepting, persist what is queued (for up to ``timeout`` while the store
        fails; then what is left is counted as lost and logged), end the thread."""
        with self.lock:
            self._closing = True
            self._give_up_at = math.inf if timeout is None else time.monotonic() + timeout
            self._changed.notify_all()
        self._wake.set()
        self._thread.join(None if timeout is None else timeout + 1.0)
        return not self._thread.is_alive()

    def _settled(self, ticket: int) -> bool:
        if self._batch and self._batch[0].ticket <= ticket:
            return False
        return not self._queue or self._queue[0].ticket > ticket

    # --- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        store = RecordStore(self.path, self.name)
        try:
            while True:
                if not self._closing:
                    self._wake.wait(self.options.commit_interval_s)
                self._wake.clear()
                with self.lock:
                    ended = 0
                    if self._burst and time.monotonic() - self._last_drop > _BURST_GAP_S:
                        ended, self._burst = self._burst, 0
                    if self._queue:
                        n = min(len(self._queue), _MAX_WRITE)
                        self._batch = [self._queue.popleft() for _ in range(n)]
                        self._changed.notify_all()
                    elif self._closing:
                        return
                if ended:
                    log.warning(
                        "monitor %r: the queue has had room for %.0f s; %d records were dropped in that "
                        "burst",
                        self.name,
                        _BURST_GAP_S,
                        ended,
                    )
                if not self._batch:
                    continue
                written = self._write(store, self._batch)
                with self.lock:
                    if written is None:
                        self.lost += len(self._batch)
                        self.dropped += len(self._batch)
                    else:
                        self.persisted += len(self._batch)
                        self.duplicates += len(self._batch) - written
                    self._batch = []
                    self._changed.notify_all()
                if written and self._on_persisted is not None:
                    self._on_persisted()
        finally:
            store.close()

    def _write(self, store: RecordStore, batch: list[Item]) -> int | None:
        """Persist ``batch``; the number of new records, or None when the monitor closed
        while the store kept failing (the records are lost; logged)."""
        records = [self._record(item) for item in batch]
        pause, failing = 0.05, False
        while True:
            try:
                if self._registration is not None:
                    store.register(*self._registration)
                    self._registration = None
                written = store.append(records)
                if failing:
                    log.warning("monitor %r: the store at %s takes records again", self.name, self.path)
                return written
            except Exception as e:  # noqa: BLE001 - the application must never see a store failure
                if not failing:
                    log.error(
                        "monitor %r: cannot persist %d records to %s (%s: %s); they stay in memory and the "
                        "write is retried",
                        self.name,
                        len(records),
                        self.path,
                        type(e).__name__,
                        e,
                    )
                    failing = True
                store.close()
            with self.lock:
                if self._closing and time.monotonic() >= self._give_up_at:
                    log.error(
                        "monitor %r closed while the store at %s kept failing: %d records were not persisted "
                        "(counted in stats()['dropped'])",
                        self.name,
                        self.path,
                        len(records) + len(self._queue),
                    )
                    self.lost += len(self._queue)
                    self.dropped += len(self._queue)
                    self._queue.clear()
                    return None
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    def _record(self, item: Item) -> NewRecord:
        if item.time is None:
            t = time.time()
        else:
            try:
                t = to_epoch(item.time)
            except (ValueError, TypeError, OverflowError) as e:
                self._bad_times += 1
                if self._bad_times == 1:
                    log.warning(
                        "monitor %r: record %r has time=%r, which is not a time (%s); the time it was "
                        "persisted is used",
                        self.name,
                        item.id,
                        item.time,
                        e,
                    )
                t = time.time()
        return NewRecord(
            id=item.id,
            time=t,
            data=item.data,
            tags=item.tags,
            trace_id=item.trace_id,
            latency_s=item.latency_s,
            tasks=item.tasks,
        )
