"""Each trace cell read once, whatever number of trace assertions reads it.

An evaluate extracts a column once (the context's extraction cache), so every task over the
same path sees the same cell objects; the index keys on those objects, and a second, third
... trace assertion over the column finds every trace already read.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import Any

from ..errors import DataError
from ._spans import Trace, read_trace

__all__ = ["MAX_INDEXED_SPANS", "TRACE_INDEX", "TraceIndex", "index_column", "trace_of"]

MAX_INDEXED_SPANS = 300_000
"""The most spans the shared index keeps: a span read from OTLP JSON takes about 900 bytes
with its attributes, so about 260 MB at most (30,000 agent runs of 10 spans). Past it, cells whose
DataFrame is gone are dropped; if that frees too little, further traces are read again by
each assertion instead of being kept."""

_ONLY_HERE = 2
"""``sys.getrefcount`` of a cell that only the index still holds (its entry and the call)."""


def _shape(value: Any) -> tuple[int, ...] | None:
    """What must be unchanged for a kept trace to be current: the items of a list or mapping
    (a span appended or replaced in place); strings cannot change."""
    if isinstance(value, list):
        return tuple(map(id, value))
    if isinstance(value, Mapping):
        return tuple(map(id, value.values()))
    return None


class TraceIndex:
    """Traces read from cells, keyed by the cell object itself.

    A cell's trace is kept while the cell is alive elsewhere (lists and strings cannot be
    referenced weakly, so the index holds the cell and lets it go once nothing else does).
    A cell whose spans were appended or replaced in place is read again.

    Example:
        >>> index = TraceIndex()
        >>> cell = [{"name": "root", "start_time": 0, "end_time": 10}]
        >>> index.trace(cell) is index.trace(cell)
        True
    """

    def __init__(self, max_spans: int = MAX_INDEXED_SPANS) -> None:
        self.max_spans = max_spans
        self.reads = 0
        """How many cells were read (not found in the index); tests count on it."""
        self._entries: dict[int, tuple[Any, tuple[int, ...] | None, Trace | DataError]] = {}
        self._texts: dict[str, Trace | DataError] = {}
        self._spans = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries) + len(self._texts)

    def trace(self, value: Any) -> Trace:
        """The trace in ``value``, read once.

        Raises:
            DataError: ``value`` holds no trace (kept too, so a bad cell is not read again).
        """
        entry: tuple[Any, tuple[int, ...] | None, Trace | DataError] | None
        if isinstance(value, str):
            # keyed by the text: a string column comes out of Arrow as new objects each time
            hit = self._texts.get(value)
            entry = None if hit is None else (value, None, hit)
        else:
            entry = self._entries.get(id(value))
        if entry is not None and entry[0] is value and entry[1] == _shape(value):
            found = entry[2]
        else:
            try:
                found = read_trace(value)
            except DataError as e:
                found = e
            self._keep(value, found)
        if isinstance(found, DataError):
            raise DataError(str(found))
        return found

    def clear(self) -> None:
        """Forget every trace."""
        with self._lock:
            self._entries.clear()
            self._texts.clear()
            self._spans = 0

    def _keep(self, value: Any, found: Trace | DataError) -> None:
        size = max(len(found), 1) if isinstance(found, Trace) else 1
        with self._lock:
            self.reads += 1
            old = self._entries.pop(id(value), None)
            if old is not None:
                self._spans -= _size(old[2])
            if self._spans + size > self.max_spans:
                self._drop_orphans()
                if self._spans + size > self.max_spans:
                    return
            if isinstance(value, str):
                self._texts[value] = found
            else:
                self._entries[id(value)] = (value, _shape(value), found)
            self._spans += size

    def _drop_orphans(self) -> None:
        if not hasattr(sys, "getrefcount"):  # pragma: no cover - CPython has it
            return
        gone = [k for k, e in self._entries.items() if sys.getrefcount(e[0]) <= _ONLY_HERE]
        for k in gone:
            self._spans -= _size(self._entries.pop(k)[2])
        # texts cannot tell whether their column is alive (each read makes new strings)
        for found in self._texts.values():
            self._spans -= _size(found)
        self._texts.clear()


def _size(found: Trace | DataError) -> int:
    return max(len(found), 1) if isinstance(found, Trace) else 1


TRACE_INDEX = TraceIndex()
"""The index trace assertions read through."""


def trace_of(value: Any) -> Trace:
    """The trace in a cell, through the shared index (read once per cell object).

    Raises:
        DataError: the cell holds no trace.

    Example:
        >>> trace_of([{"name": "a", "start_time": 0, "end_time": 1}]).names
        ['a']
    """
    return TRACE_INDEX.trace(value)


def index_column(cells: list[Any]) -> list[Trace | DataError]:
    """Every cell of a column read through the shared index: a trace, or the error saying why
    the cell holds none.

    Example:
        >>> [type(t).__name__ for t in index_column([[{"name": "a", "start_time": 0, "end_time": 1}], 5])]
        ['Trace', 'DataError']
    """
    out: list[Trace | DataError] = []
    for cell in cells:
        try:
            out.append(TRACE_INDEX.trace(cell))
        except DataError as e:
            out.append(e)
    return out
