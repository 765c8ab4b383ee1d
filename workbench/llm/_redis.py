"""The shared judge cache: verdict replies in Redis, so every process of a cluster (and every
notebook pointed at it) reads what any of them judged.

Same keys, same entries and same rules as :class:`~workbench.llm.DiskCache`: keyed by
:func:`~workbench.llm.cache_key` (under the prefix :data:`KEY_PREFIX`), written as each
verdict arrives, only reply text, token counts, cost, model name and a time stored (never a
credential, a base URL or a header), with an in-process layer so a rerun in the same process
costs a dict lookup per call. Entries are JSON, never pickles: a shared server must not be
able to run code in the processes that read it.

A Redis that cannot be reached when the cache opens raises :class:`~workbench.errors.CacheError`
before anything is spent. One that fails during a run never costs the run: the first failure
warns once (:class:`~workbench.errors.CacheWarning`); a server that refuses writes (a read-only
replica, ``maxmemory`` reached) goes on serving reads, one that stops answering is not asked
again in this run. Verdicts are kept in the run either way.

Needs the ``redis`` package: ``pip install "workbench[redis]"``. A password never goes in the
URL (the URL is kept with a run's settings): set ``WORKBENCH_CACHE_PASSWORD`` where the cache
is opened (on every Dask worker too).

Example:
    >>> from workbench.llm import RedisCache
    >>> try:
    ...     RedisCache("redis://127.0.0.1:1/0")  # nothing listens on port 1
    ... except Exception as e:
    ...     print(type(e).__name__, str(e)[:44])
    CacheError the judge cache at redis://127.0.0.1:1/0 can
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from ..errors import CacheError, CacheWarning, MissingDependencyError

__all__ = [
    "CACHE_URL_ENV",
    "KEY_PREFIX",
    "PASSWORD_ENV",
    "RedisCache",
    "forget_redis_in_process",
]

CACHE_URL_ENV = "WORKBENCH_CACHE_URL"
"""Environment variable naming a shared judge cache (``redis://host:port/db``) for every run
that does not set ``cache=``."""
PASSWORD_ENV = "WORKBENCH_CACHE_PASSWORD"
"""Environment variable holding the Redis password, read where the cache is opened."""
KEY_PREFIX = "workbench:judge:"
"""Prepended to every cache key, so workbench's entries stay apart in a Redis used for more."""

_HOT: dict[tuple[str, str], dict[str, Any]] = {}
"""Entries read or written in this process, by (cache URL, key), as the disk cache keeps them."""
_HOT_LIMIT = 500_000
_CHUNK = 500
"""Keys per MGET when prefetching."""


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = (
        f"{user + ':[redacted]@' if user else ':[redacted]@'}{host}{f':{parts.port}' if parts.port else ''}"
    )
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RedisCache:
    """A shared judge cache in Redis: ``get``/``set`` entries by key, ``prefetch`` many at once,
    with the interface of :class:`~workbench.llm.DiskCache`.

    Args:
        url: ``redis://host:port/db`` (``rediss://`` for TLS, ``unix:///path.sock?db=0``).
        password: the server's password; default ``$WORKBENCH_CACHE_PASSWORD``.

    Raises:
        MissingDependencyError: the ``redis`` package is not installed.
        CacheError: the server cannot be reached, refuses the password, or the URL is not one.
    """

    def __init__(self, url: str, *, password: str | None = None) -> None:
        try:
            import redis
        except ImportError as e:
            raise MissingDependencyError(
                f"the shared judge cache {url!r} needs the redis package: pip install 'workbench[redis]'"
            ) from e
        self.url: str = _without_password(url)
        """The server, as messages name it (a password is never shown)."""
        self.writable: bool = True
        """Whether new entries still reach Redis (``False`` after it refused a write)."""
        self._readable = True
        self._warned = False
        secret = password if password is not None else os.environ.get(PASSWORD_ENV) or None
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        try:
            self._client: Any = redis.Redis.from_url(
                url, password=secret, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30
            )
            self._client.ping()
        except ValueError as e:  # redis-py's word for a URL it cannot read
            raise CacheError(
                f"the judge cache URL {self.url!r} is not one Redis takes ({e}); write it as "
                "redis://host:port/db (or rediss://, unix:///path.sock)"
            ) from None
        except redis.AuthenticationError as e:
            raise CacheError(
                f"the judge cache at {self.url} refused the password ({type(e).__name__}: {e}). Set the "
                f"right one in {PASSWORD_ENV}, or pass use_cache=False."
            ) from None
        except self._errors as e:
            text = str(e).replace(secret, "[redacted]") if secret else str(e)
            raise CacheError(
                f"the judge cache at {self.url} cannot be reached ({type(e).__name__}: {text}); nothing was "
                f"spent. Start Redis there, point cache= (or {CACHE_URL_ENV}) at a running one, or pass "
                "use_cache=False."
            ) from None

    # --- reading ----------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry for ``key``, from memory if this process has seen it, else from Redis."""
        hit = _HOT.get((self.url, key))
        if hit is not None:
            return hit
        if not self._readable:
            return None
        try:
            raw = self._client.get(KEY_PREFIX + key)
        except self._errors as e:
            self._unreachable(e)
            return None
        entry = _entry(raw)
        if entry is not None:
            self._remember(key, entry)
        return entry

    def known(self, key: str) -> bool:
        """Whether this process already holds ``key`` in memory."""
        return (self.url, key) in _HOT

    def prefetch(self, keys: Sequence[str]) -> None:
        """Read many keys in a few round trips (``MGET`` of 500 at a time); later :meth:`get`
        calls find them in memory."""
        if not self._readable:
            return
        missing = [k for k in keys if (self.url, k) not in _HOT]
        try:
            for start in range(0, len(missing), _CHUNK):
                chunk = missing[start : start + _CHUNK]
                for key, raw in zip(chunk, self._client.mget([KEY_PREFIX + k for k in chunk])):
                    entry = _entry(raw)
                    if entry is not None:
                        self._remember(key, entry)
        except self._errors as e:
            self._unreachable(e)

    # --- writing ----------------------------------------------------------------------

    def set(self, key: str, entry: dict[str, Any]) -> None:
        """Write ``entry`` to Redis before anyone sees it (a killed worker keeps it).

        When Redis refuses (read-only, out of memory, gone), the entry is kept in memory for
        this process only, and the first refusal warns (:class:`CacheWarning`).
        """
        if self.writable:
            try:
                self._client.set(KEY_PREFIX + key, orjson.dumps(entry, default=str))
            except self._errors as e:
                import redis

                if isinstance(e, redis.ConnectionError | redis.TimeoutError | OSError):
                    self._unreachable(e)
                else:
                    self._refused(e)
        self._remember(key, entry)

    def close(self) -> None:
        """Close the connections to Redis."""
        with contextlib.suppress(*self._errors):  # closing a dead connection
            self._client.close()

    # --- internals --------------------------------------------------------------------

    def _remember(self, key: str, entry: dict[str, Any]) -> None:
        if len(_HOT) >= _HOT_LIMIT:
            _HOT.clear()
        _HOT[(self.url, key)] = entry

    def _refused(self, e: BaseException) -> None:
        """A write refused by a server that still answers: reads go on."""
        self.writable = False
        self._warn_once(
            f"the judge cache at {self.url} refused a write ({type(e).__name__}: {e}): verdicts already in "
            "it are served, new ones are not written. This run keeps every verdict (and this process "
            "remembers them), but a later run calls the judge again for them. Check the server (a read-only "
            "replica? maxmemory reached?)."
        )

    def _unreachable(self, e: BaseException) -> None:
        """The server stopped answering: not asked again in this run (each call would wait for
        its timeout)."""
        self.writable = self._readable = False
        self._warn_once(
            f"the judge cache at {self.url} stopped answering ({type(e).__name__}: {e}), so it is not used "
            "for the rest of this run: verdicts are called and kept in the run, not cached. Restart Redis "
            "and run again to cache them."
        )

    def _warn_once(self, text: str) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(text, CacheWarning, stacklevel=4)


def _entry(raw: bytes | None) -> dict[str, Any] | None:
    """A stored entry, or None for a miss or anything that is not one of ours."""
    if raw is None:
        return None
    try:
        entry = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return entry if isinstance(entry, dict) and "text" in entry else None


def forget_redis_in_process() -> None:
    """Drop this process's memory of Redis entries, as a fresh process would start."""
    _HOT.clear()
