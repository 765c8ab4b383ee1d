"""LLM calls: the only module that imports litellm and diskcache.

One :class:`LLM` per run: async calls with bounded, adaptive concurrency; retries with
exponential backoff and jitter on 429, 5xx, timeouts and connection errors (a 429's
``Retry-After`` is honoured and halves the concurrency, which then ramps back up); a
per-call timeout; and a disk cache keyed by a hash of the model, the rendered messages,
the sampling parameters and the response schema. Credentials, base URLs and headers never
enter the key or the cache: only the reply text and its token counts are stored.

Example:
    >>> from workbench.llm import cache_key
    >>> k1 = cache_key("openai/gpt-4o-mini", [{"role": "user", "content": "hi"}], {"temperature": 0})
    >>> k2 = cache_key("openai/gpt-4o-mini", [{"role": "user", "content": "hi"}],
    ...                {"temperature": 0, "api_key": "sk-secret", "timeout": 5})
    >>> k1 == k2
    True
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a dependency
    _orjson = None

__all__ = ["LLM", "Completion", "cache_key", "cache_keys", "default_cache_dir"]

# Read litellm's bundled price table instead of fetching one at import: notebooks and CI
# run offline, and a fetch at import would leak that a run happened.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

_TRANSPORT = frozenset(
    {
        "api_key",
        "api_base",
        "base_url",
        "api_version",
        "organization",
        "headers",
        "extra_headers",
        "timeout",
        "num_retries",
        "max_retries",
        "custom_llm_provider",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_region_name",
        "vertex_credentials",
        "vertex_project",
        "vertex_location",
        "azure_ad_token",
        "client",
        "metadata",
        "user",
    }
)
"""Parameters that choose where and how a request travels, not what the model computes:
never part of the cache key, never stored."""

_CACHE_VERSION = 3


def _canonical(obj: Any) -> str:
    """Canonical JSON (sorted keys), computed afresh on every call: a dict changed in place
    must never keep an old key."""
    if _orjson is not None:
        try:
            return _orjson.dumps(
                obj, option=_orjson.OPT_SORT_KEYS | _orjson.OPT_NON_STR_KEYS, default=str
            ).decode()
        except TypeError:
            pass
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def cache_key(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any] | None = None,
    response_format: Mapping[str, Any] | None = None,
) -> str:
    """The cache key of a request: sha256 over model, messages, sampling params and schema.

    Transport and credential parameters (``api_key``, ``api_base``, ``headers``, ``timeout``,
    ...) are left out, so they can never reach the cache and never split it.
    """
    h = _prefix(model, params, response_format)
    for m in messages:
        _feed(h, _canonical(m))
    return h.hexdigest()


def cache_keys(
    model: str,
    requests: Sequence[tuple[Sequence[Mapping[str, Any]], Mapping[str, Any] | None]],
    params: Mapping[str, Any] | None = None,
) -> list[str]:
    """``[cache_key(model, messages, params, rf) for messages, rf in requests]``, faster:
    within this one call, requests sharing a response schema and a first (system) message
    hash that prefix once. The sharing is decided by object identity, and only inside the
    call (the objects are held until it returns), so a dict changed in place between two
    calls still gets a fresh key.

    Example:
        >>> msgs = [{"role": "system", "content": "Judge."}, {"role": "user", "content": "x"}]
        >>> cache_keys("m", [(msgs, {"type": "json_object"})]) == [cache_key("m", msgs, None, {"type": "json_object"})]
        True
    """
    base = _prefix(model, params, None, schema=False)
    schemas: dict[int, tuple[Any, Any]] = {}
    heads: dict[tuple[int, int], tuple[Any, Any, Any]] = {}
    out = []
    for messages, rf in requests:
        hit = schemas.get(id(rf))
        if hit is None:
            h = base.copy()
            _feed(h, _canonical(rf))
            schemas[id(rf)] = hit = (rf, h)
        first = messages[0] if messages else None
        if (
            first is not None
            and len(first) == 2
            and first.get("role") == "system"
            and isinstance(first.get("content"), str)
        ):
            pair = (id(rf), id(first["content"]))
            head = heads.get(pair)
            if head is None:
                h = hit[1].copy()
                _feed(h, _canonical(first))
                heads[pair] = head = (first["content"], rf, h)
            h = head[2].copy()
            rest = messages[1:]
        else:
            h = hit[1].copy()
            rest = messages
        for m in rest:
            _feed(h, _canonical(m))
        out.append(h.hexdigest())
    return out


def _prefix(
    model: str, params: Mapping[str, Any] | None, response_format: Any, *, schema: bool = True
) -> Any:
    sampling = {k: v for k, v in (params or {}).items() if k not in _TRANSPORT}
    h = hashlib.sha256()
    for part in (str(_CACHE_VERSION), model, _canonical(sampling)):
        _feed(h, part)
    if schema:
        _feed(h, _canonical(response_format))
    return h


def _feed(h: Any, part: str) -> None:
    data = part.encode()
    h.update(len(data).to_bytes(8, "little"))  # length-prefixed: no two requests share a key
    h.update(data)


_HOT: dict[tuple[str, str], dict[str, Any]] = {}
"""Entries read or written in this process, by (cache directory, key): rerunning an
unchanged notebook cell then costs a dict lookup per call, not a disk read."""
_HOT_LIMIT = 500_000


def default_cache_dir() -> Path:
    """``$WORKBENCH_HOME/cache``, else ``.workbench/cache`` in the working directory."""
    home = os.environ.get("WORKBENCH_HOME")
    return Path(home) / "cache" if home else Path.cwd() / ".workbench" / "cache"


@dataclass(frozen=True, kw_only=True)
class Completion:
    """One call's outcome. ``error`` is set (and ``text`` is None) when it failed for good."""

    text: str | None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    """Spent by this call: 0.0 for a cache hit; None when the model's price is unknown."""
    saved_usd: float | None = None
    """For a cache hit: what the original call cost."""
    latency_s: float = 0.0
    cached: bool = False
    attempts: int = 0
    error: str | None = None

    @property
    def tokens(self) -> int | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


class _Limiter:
    """Concurrency limit that halves on a 429 and grows back as calls succeed.

    Only a 429 for a call sent after the last cut cuts again: a burst of 429s from calls
    already in flight is one signal, not many (otherwise the limit collapses to 1).
    """

    def __init__(self, limit: int) -> None:
        self.max = max(1, limit)
        self.limit = self.max
        self.in_flight = 0
        self.resume_at = 0.0
        self._cut_at = 0.0
        self._successes = 0
        self._cond = asyncio.Condition()

    async def acquire(self) -> float:
        """Wait for a slot (and any Retry-After pause); return when the call is sent."""
        async with self._cond:
            while self.in_flight >= self.limit:
                await self._cond.wait()
            self.in_flight += 1
        delay = self.resume_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        return time.monotonic()

    async def release(self) -> None:
        async with self._cond:
            self.in_flight -= 1
            # wake only as many waiters as there are free slots: notify_all would wake
            # every queued call on every completion (quadratic in the queue length)
            self._cond.notify(max(0, self.limit - self.in_flight))

    def rate_limited(self, sent_at: float, retry_after: float | None) -> None:
        now = time.monotonic()
        if sent_at >= self._cut_at:
            self.limit = max(1, self.limit // 2)
            self._cut_at = now
            self._successes = 0
        if retry_after:
            self.resume_at = max(self.resume_at, now + retry_after)

    def succeeded(self) -> None:
        if self.limit < self.max:
            self._successes += 1
            if self._successes >= max(1, self.limit // 4):
                self.limit += 1
                self._successes = 0


def _litellm() -> Any:
    """litellm, imported on first use (it takes seconds) and kept quiet."""
    import litellm

    if not getattr(litellm, "_workbench_configured", False):
        litellm.telemetry = False
        litellm.suppress_debug_info = True
        litellm._workbench_configured = True
    return litellm


def _retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    response = getattr(exc, "response", None)
    if not headers and response is not None:
        headers = getattr(response, "headers", {}) or {}
    value = None
    for k, v in dict(headers).items():
        if str(k).lower() in ("retry-after", "retry-after-ms"):
            value = float(v) / (1000 if str(k).lower() == "retry-after-ms" else 1) if _is_float(v) else None
    return value


def _is_float(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for s in secrets:
        if s and len(s) >= 6:
            text = text.replace(s, "[redacted]")
    return text


class LLM:
    """Calls one model through litellm, with the cache, retries and rate limiting.

    Args:
        model: a litellm model string (``openai/gpt-4o-mini``, ``anthropic/...``).
        concurrency: most calls in flight at once.
        timeout: seconds per attempt.
        max_retries: retries after the first attempt on 429, 5xx, timeouts, connection errors.
        cache_dir: where the disk cache lives (default :func:`default_cache_dir`); ``False``
            disables caching.
        use_cache: read and write the cache. ``refresh=True`` skips reads but writes.
        params: sampling parameters (``temperature``, ``max_tokens``, ``seed``...), part of the key.
        **litellm_kwargs: passed to ``litellm.acompletion`` and never cached or keyed
            (``api_base``, ``api_key``...). Credentials otherwise follow litellm's
            environment variables.
    """

    def __init__(
        self,
        model: str,
        *,
        concurrency: int = 16,
        timeout: float = 60.0,
        max_retries: int = 4,
        cache_dir: str | Path | bool | None = None,
        use_cache: bool = True,
        refresh: bool = False,
        params: Mapping[str, Any] | None = None,
        backoff_s: float = 0.5,
        **litellm_kwargs: Any,
    ) -> None:
        self.model = model
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.params = dict(params or {"temperature": 0})
        self.use_cache = use_cache and cache_dir is not False
        self.refresh = refresh
        self.backoff_s = backoff_s
        self.litellm_kwargs = litellm_kwargs
        self._secrets = [str(v) for k, v in litellm_kwargs.items() if k in ("api_key", "azure_ad_token")]
        self._cache: Any = None
        if self.use_cache:
            import diskcache

            directory = default_cache_dir() if cache_dir in (None, True) else Path(cache_dir)  # type: ignore[arg-type]
            directory.mkdir(parents=True, exist_ok=True)
            self._cache = diskcache.Cache(str(directory), size_limit=2**34)
        self._limiter: _Limiter | None = None

    # --- cache ------------------------------------------------------------------------

    def key(self, messages: Sequence[Mapping[str, Any]], response_format: Mapping[str, Any] | None) -> str:
        """The cache key this LLM uses for a request."""
        return cache_key(self.model, messages, self.params, response_format)

    def keys(
        self, requests: Sequence[tuple[Sequence[Mapping[str, Any]], Mapping[str, Any] | None]]
    ) -> list[str]:
        """The cache keys of many ``(messages, response_format)`` requests (see :func:`cache_keys`)."""
        return cache_keys(self.model, requests, self.params)

    def cached(self, key: str) -> Completion | None:
        """The cached completion for ``key``, if caching is on and it exists."""
        if self._cache is None or self.refresh:
            return None
        hit = _HOT.get((self._cache.directory, key))
        if hit is None:
            hit = self._cache.get(key)
            if hit is None:
                return None
            self._remember(key, hit)
        return Completion(
            text=hit["text"],
            prompt_tokens=hit.get("prompt_tokens"),
            completion_tokens=hit.get("completion_tokens"),
            cost_usd=0.0,
            saved_usd=hit.get("cost_usd"),
            cached=True,
        )

    def prefetch(self, keys: Sequence[str]) -> None:
        """Read many keys from disk in a few queries (a warm rerun of 10,000 rows would
        otherwise make 10,000 separate reads); later :meth:`cached` calls find them in memory.

        Uses diskcache's storage layout for the bulk read, the same query its ``get`` runs;
        if that layout ever changes, lookups fall back to one ``get`` per key.
        """
        if self._cache is None or self.refresh:
            return
        directory = self._cache.directory
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
                    except OSError:  # evicted meanwhile: cached() will look again
                        continue
                    if isinstance(entry, dict) and "text" in entry:
                        self._remember(key, entry)
        except (AttributeError, TypeError, ValueError):  # pragma: no cover - another diskcache layout
            return

    def _store(self, key: str, c: Completion) -> None:
        if self._cache is not None:
            entry = {
                "text": c.text,
                "prompt_tokens": c.prompt_tokens,
                "completion_tokens": c.completion_tokens,
                "cost_usd": c.cost_usd,
                "model": self.model,
                "created": time.time(),
            }
            self._cache.set(key, entry)  # on disk before anyone sees it: a killed kernel keeps it
            self._remember(key, entry)

    def _remember(self, key: str, entry: dict[str, Any]) -> None:
        if len(_HOT) >= _HOT_LIMIT:
            _HOT.clear()
        _HOT[(self._cache.directory, key)] = entry

    def price(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """The cost in USD of that many tokens on this model, from litellm's price table;
        None when the price is unknown (never a made-up 0)."""
        try:
            p, c = _litellm().cost_per_token(
                model=self.model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
            )
        except Exception:  # noqa: BLE001 - unknown model or provider
            return None
        return float(p + c)

    def close(self) -> None:
        """Close the cache's files."""
        if self._cache is not None:
            self._cache.close()

    # --- calls ------------------------------------------------------------------------

    async def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        response_format: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        check_cache: bool = True,
    ) -> Completion:
        """One chat completion: from the cache, or called (and cached as soon as it arrives).

        Never raises for a provider failure: after the last retry the completion carries
        ``error`` with the provider's message. ``key`` and ``check_cache=False`` let a caller
        that already looked the request up skip doing it twice.
        """
        key = key or self.key(messages, response_format)
        hit = self.cached(key) if check_cache else None
        if hit is not None:
            return hit
        litellm = _litellm()

        if self._limiter is None:
            self._limiter = _Limiter(self.concurrency)
        limiter = self._limiter
        started = time.perf_counter()
        last_error = "no attempt made"
        kwargs: dict[str, Any] = {**self.params, **self.litellm_kwargs}
        if response_format is not None:
            kwargs["response_format"] = dict(response_format)
        for attempt in range(self.max_retries + 1):
            sent_at = await limiter.acquire()
            try:
                response = await litellm.acompletion(
                    model=self.model,
                    messages=list(messages),
                    timeout=self.timeout,
                    num_retries=0,
                    max_retries=0,
                    **kwargs,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below
                retryable, wait = self._classify(exc, attempt, limiter, sent_at)
                last_error = _scrub(
                    f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}", self._secrets
                )
                if not retryable or attempt == self.max_retries:
                    return Completion(
                        text=None,
                        latency_s=time.perf_counter() - started,
                        attempts=attempt + 1,
                        error=last_error[:2000],
                    )
            else:
                limiter.succeeded()
                completion = self._completion(response, started, attempt + 1)
                if completion.error is None:
                    self._store(key, completion)
                return completion
            finally:
                await limiter.release()
            await asyncio.sleep(wait)  # outside the slot: a backing-off call holds no capacity
        return Completion(text=None, error=last_error, attempts=self.max_retries + 1)  # pragma: no cover

    def _classify(
        self, exc: BaseException, attempt: int, limiter: _Limiter, sent_at: float
    ) -> tuple[bool, float]:
        litellm = _litellm()

        backoff = min(20.0, self.backoff_s * 2**attempt) * random.uniform(0.5, 1.0)
        if isinstance(exc, litellm.RateLimitError):
            after = _retry_after(exc)
            limiter.rate_limited(sent_at, after)
            return True, max(backoff, after or 0.0)
        retryable = (
            litellm.Timeout,
            litellm.APIConnectionError,
            litellm.InternalServerError,
            litellm.ServiceUnavailableError,
            litellm.BadGatewayError,
        )
        if isinstance(exc, retryable) or isinstance(exc, asyncio.TimeoutError):
            return True, backoff
        status = getattr(exc, "status_code", None)
        if isinstance(status, int) and (status >= 500 or status in (408, 409)):
            return True, backoff
        return False, 0.0

    def _completion(self, response: Any, started: float, attempts: int) -> Completion:
        litellm = _litellm()

        latency = time.perf_counter() - started
        try:
            text = response.choices[0].message.content
        except (AttributeError, IndexError, KeyError, TypeError):
            text = None
        usage = getattr(response, "usage", None)
        prompt = getattr(usage, "prompt_tokens", None)
        completion = getattr(usage, "completion_tokens", None)
        hidden = getattr(response, "_hidden_params", None) or {}
        if "response_cost" in hidden:  # litellm prices every response already: reuse it
            raw_cost = hidden["response_cost"]
            cost: float | None = float(raw_cost) if raw_cost is not None else None
        else:
            try:
                cost = float(litellm.completion_cost(completion_response=response, model=self.model))
            except Exception:  # noqa: BLE001 - an unknown price is a missing cost, not 0
                cost = None
        if text is None:
            return Completion(
                text=None,
                prompt_tokens=prompt,
                completion_tokens=completion,
                cost_usd=cost,
                latency_s=latency,
                attempts=attempts,
                error="the model returned no message content",
            )
        return Completion(
            text=text,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=cost,
            latency_s=latency,
            attempts=attempts,
        )
