"""The judge cache: verdict replies on disk (diskcache), keyed by :func:`~workbench.llm.cache_key`,
with an in-process layer so a rerun in the same kernel costs a dict lookup per call.

Only reply text, token counts, the call's cost, the model name and a time are stored: never
a credential, a base URL or a header.

Example:
    >>> import tempfile
    >>> from workbench.llm import DiskCache
    >>> cache = DiskCache(tempfile.mkdtemp())
    >>> cache.set("k", {"text": "{}", "prompt_tokens": 3, "completion_tokens": 1, "cost_usd": None})
    >>> cache.get("k")["text"]
    '{}'
    >>> cache.close()
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["DiskCache", "default_cache_dir"]

_HOT: dict[tuple[str, str], dict[str, Any]] = {}
"""Entries read or written in this process, by (cache directory, key): rerunning an
unchanged notebook cell then costs a dict lookup per call, not a disk read."""
_HOT_LIMIT = 500_000


def default_cache_dir() -> Path:
    """``$WORKBENCH_HOME/cache``, else ``.workbench/cache`` in the working directory."""
    home = os.environ.get("WORKBENCH_HOME")
    return Path(home) / "cache" if home else Path.cwd() / ".workbench" / "cache"


class DiskCache:
    """One cache directory: ``get``/``set`` entries by key, ``prefetch`` many at once."""

    def __init__(self, directory: str | Path) -> None:
        import diskcache

        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self._cache = diskcache.Cache(str(path), size_limit=2**34)
        self.directory: str = self._cache.directory

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry for ``key``, from memory if this process has seen it, else from disk."""
        hit = _HOT.get((self.directory, key))
        if hit is None:
            hit = self._cache.get(key)
            if hit is None:
                return None
            self._remember(key, hit)
        return hit

    def known(self, key: str) -> bool:
        """Whether this process already holds ``key`` in memory."""
        return (self.directory, key) in _HOT

    def prefetch(self, keys: Sequence[str]) -> None:
        """Read many keys from disk in a few queries (a warm rerun of 10,000 rows would
        otherwise make 10,000 separate reads); later :meth:`get` calls find them in memory.

        Uses diskcache's storage layout for the bulk read, the same query its ``get`` runs;
        if that layout ever changes, lookups fall back to one ``get`` per key.
        """
        directory = self.directory
        missing = [k for k in keys if (directory, k) not in _HOT]
        try:
            sql, disk = self._cache._sql, self._cache._disk
            for start in range(0, len(missing), 500):
                chunk = missing[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = sql(
                    f"SELECT key, mode, filename, value FROM Cache WHERE raw = 1 AND key IN ({marks})"
                    " AND (expire_time IS NULL OR expire_time > ?)",
                    (*chunk, time.time()),
                ).fetchall()
                for key, mode, filename, value in rows:
                    try:
                        entry = disk.fetch(mode, filename, value, False)
                    except OSError:  # evicted meanwhile: get() will look again
                        continue
                    if isinstance(entry, dict) and "text" in entry:
                        self._remember(key, entry)
        except (AttributeError, TypeError, ValueError):  # pragma: no cover - another diskcache layout
            return

    def set(self, key: str, entry: dict[str, Any]) -> None:
        """Write ``entry`` to disk before anyone sees it (a killed kernel keeps it)."""
        self._cache.set(key, entry)
        self._remember(key, entry)

    def _remember(self, key: str, entry: dict[str, Any]) -> None:
        if len(_HOT) >= _HOT_LIMIT:
            _HOT.clear()
        _HOT[(self.directory, key)] = entry

    def close(self) -> None:
        """Close the cache's files."""
        self._cache.close()


def forget_in_process() -> None:
    """Drop the in-process layer, as a fresh process would start (for tests and benchmarks)."""
    _HOT.clear()
