"""Judge calls through litellm: the only module that imports litellm.

One :class:`LLM` per model and run: async calls with bounded, adaptive concurrency; retries
with exponential backoff and jitter on 429, 5xx, timeouts and connection errors (a 429's
``Retry-After`` is honoured and halves the concurrency, which then ramps back up); a
per-call timeout; and the disk cache (:class:`~workbench.llm.DiskCache`) keyed by
:func:`~workbench.llm.cache_key`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import JudgeConfig
from ..errors import LeanConnectionError, LeanHTTPError
from ..secrets import known_secrets, redact
from ._cache import DiskCache, default_cache_dir
from ._gate import call_gate
from ._import import import_litellm
from ._keys import cache_key, cache_keys
from ._lean import LeanClient, LeanReply, build_body
from ._redis import RedisCache
from ._route import LeanRoute, lean_route

__all__ = ["LLM", "Completion"]


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
    unsent: bool = False
    """The call was never made: the circuit breaker had opened (the provider is unreachable).
    Nothing is cached for it, so a rerun makes it."""

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
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self) -> float:
        """Wait for a slot (and any Retry-After pause); return when the call is sent.

        A call that finds no free slot waits on a future of its own, and the call that ends
        hands it its slot: one wake-up per call, in arrival order (a condition variable woke
        waiters that then had to queue again for its lock, a dozen times per call at C=64).
        """
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
        else:
            slot = asyncio.get_running_loop().create_future()
            self._waiters.append(slot)
            self._hand_over()  # a slot freed while only cancelled calls were queued
            try:
                await slot
            except asyncio.CancelledError:
                if slot.done() and not slot.cancelled():
                    self.release()  # handed a slot, but cancelled before it ran: pass it on
                else:
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(slot)
                    self._hand_over()
                raise
        delay = self.resume_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        return time.monotonic()

    def release(self) -> None:
        self.in_flight -= 1
        self._hand_over()

    def _hand_over(self) -> None:
        """Give the free slots to the calls waiting longest."""
        while self._waiters and self.in_flight < self.limit:
            slot = self._waiters.popleft()
            if not slot.done():  # a cancelled waiter's slot goes to the next one
                self.in_flight += 1
                slot.set_result(None)

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
                self._hand_over()


@dataclass(frozen=True)
class _Failure:
    """One failed attempt, classified the same way whichever transport made it."""

    kind: str
    """``rate_limited`` (retried after backoff, halves the concurrency), ``unreachable`` (a
    connection failure or timeout: retried, and counted by the circuit breaker), ``retryable``
    (a 5xx: retried) or ``final`` (400, 401, 403, 404 and the like: not retried)."""
    message: str
    retry_after: float | None = None


class _Breaker:
    """Opens after ``threshold`` connection failures or timeouts in a row with no success in
    between; once open, the rest of the run's calls fail at once instead of each retrying."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.in_a_row = 0
        self.last = ""
        self.open = False

    def failed(self, message: str) -> None:
        if self.open:
            return  # calls in flight when it opened: the reason stays the one it opened with
        self.in_a_row += 1
        self.last = message
        if self.in_a_row >= self.threshold:
            self.open = True

    def succeeded(self) -> None:
        if not self.open:
            self.in_a_row = 0

    def reason(self) -> str:
        return (
            f"the provider is unreachable: {self.in_a_row} connection failures or timeouts in a row with no "
            f"success (the last: {self.last[:300]}); this call was not made and nothing was cached for it, "
            "so running again resumes here once the provider answers"
        )


_CONNECTION_FAILURES = frozenset(
    {
        "APIConnectionError",  # the OpenAI SDK's (its APITimeoutError is one)
        "TransportError",  # httpx's connect, read and timeout errors
        "ClientConnectionError",  # aiohttp's
        "ServerTimeoutError",
    }
)
"""Class names (anywhere in an exception's class hierarchy) of the libraries under litellm
that mean the request did not get an answer; litellm itself may report them as a 500."""


def _connection_failure(exc: BaseException) -> bool:
    """Whether ``exc`` or an exception that caused it is a connection failure or a timeout."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConnectionError, TimeoutError, asyncio.TimeoutError)):
            return True
        if any(cls.__name__ in _CONNECTION_FAILURES for cls in type(current).__mro__):
            return True
        current = current.__cause__ or current.__context__
    return False


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


class LLM:
    """Calls one model, with the cache, retries and rate limiting.

    Args:
        model: a litellm model string (``openai/gpt-4o-mini``, ``anthropic/...``).
        judge: how calls are made (:class:`~workbench.JudgeConfig`: concurrency, timeout,
            retries, cache, sampling parameters, provider extras, connection). Its ``model``
            is ignored: ``model`` decides.
        **options: keywords as :meth:`JudgeConfig.build` takes them, on top of ``judge``.

    What a request carries besides the model, the messages and the response format is
    ``judge.request_params()`` (sampling parameters and provider extras): the cache key is
    computed from exactly that, so no route a parameter took can leave it out of the key.
    The connection (``api_base``, ``api_key``, headers) travels with the request and never
    enters the key or the cache; every secret the run knows (connection values at any depth,
    credential-like environment variables) is redacted from error texts.
    """

    def __init__(self, model: str, judge: JudgeConfig | None = None, **options: Any) -> None:
        config = JudgeConfig.build(judge, **options)
        self.config = config
        self.model = model
        self.concurrency = config.concurrency
        self.timeout = config.timeout
        self.max_retries = config.max_retries
        self.backoff_s = config.backoff_s
        self.request = config.request_params()
        # the cache namespace enters the key, never the request
        self.key_params = config.key_params()
        self.connection = dict(config.connection)
        self.use_cache = config.use_cache and config.cache_dir is not False
        self.refresh = config.refresh
        self._secrets = known_secrets(self.connection)
        self._cache: DiskCache | RedisCache | None = None
        where = config.cache_dir
        if self.use_cache and where is not False and config.cache:  # a shared cache: Redis
            self._cache = RedisCache(config.cache)
        elif self.use_cache and where is not False:
            self._cache = DiskCache(default_cache_dir() if where is None else Path(where))
        self._limiter: _Limiter | None = None
        self._breaker = _Breaker(config.breaker_after)
        self._route: LeanRoute | None = None
        self._routed = config.transport == "litellm"  # "auto": decided on the first call
        self._lean: LeanClient | None = None
        self._unpriced = False

    # --- cache ------------------------------------------------------------------------

    def key(self, messages: Sequence[Mapping[str, Any]], response_format: Mapping[str, Any] | None) -> str:
        """The cache key this LLM uses for a request."""
        return cache_key(self.model, messages, self.key_params, response_format)

    def keys(
        self, requests: Sequence[tuple[Sequence[Mapping[str, Any]], Mapping[str, Any] | None]]
    ) -> list[str]:
        """The cache keys of many ``(messages, response_format)`` requests (see :func:`cache_keys`)."""
        return cache_keys(self.model, requests, self.key_params)

    def cached(self, key: str) -> Completion | None:
        """The cached completion for ``key``, if caching is on and it exists."""
        if self._cache is None or self.refresh:
            return None
        hit = self._cache.get(key)
        if hit is None:
            return None
        return Completion(
            text=hit["text"],
            prompt_tokens=hit.get("prompt_tokens"),
            completion_tokens=hit.get("completion_tokens"),
            cost_usd=0.0 if hit.get("cost_usd") is not None else None,  # an unpriced model stays unpriced
            saved_usd=hit.get("cost_usd"),
            cached=True,
        )

    def prefetch(self, keys: Sequence[str]) -> None:
        """Read many cache entries from disk at once (see :meth:`DiskCache.prefetch`)."""
        if self._cache is not None and not self.refresh:
            self._cache.prefetch(keys)

    def _store(self, key: str, c: Completion) -> None:
        if self._cache is not None:
            self._cache.set(
                key,
                {
                    "text": c.text,
                    "prompt_tokens": c.prompt_tokens,
                    "completion_tokens": c.completion_tokens,
                    "cost_usd": c.cost_usd,
                    "model": self.model,
                    "created": time.time(),
                },
            )

    def price(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """The cost in USD of that many tokens on this model, from litellm's price table;
        None when the price is unknown (never a made-up 0)."""
        if self._unpriced:
            return None
        try:
            p, c = import_litellm().cost_per_token(
                model=self.model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
            )
        except Exception:  # noqa: BLE001 - unknown model or provider: remembered, asked once
            self._unpriced = True
            return None
        return float(p + c)

    def close(self) -> None:
        """Close the cache's files and the lean transport's connections."""
        if self._cache is not None:
            self._cache.close()
        if self._lean is not None:
            self._lean.close()

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
        if self._limiter is None:
            self._limiter = _Limiter(self.concurrency)
        if not self._routed:
            self._choose_transport()
        limiter, breaker = self._limiter, self._breaker
        started = time.perf_counter()
        failure = _Failure("final", "no attempt made")
        for attempt in range(self.max_retries + 1):
            if breaker.open:
                return self._unsent(started, attempt)
            sent_at = await limiter.acquire()
            try:
                if breaker.open:  # opened while this call waited for a slot
                    return self._unsent(started, attempt)
                try:
                    async with call_gate():  # a bound beyond this process, e.g. a cluster-wide cap
                        completion = await self._send(messages, response_format, started, attempt + 1)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - classified below, never raised to the run
                    failure = self._failure(exc)
                else:
                    limiter.succeeded()
                    breaker.succeeded()
                    if completion.error is None:
                        self._store(key, completion)
                    return completion
            finally:
                limiter.release()
            if failure.kind == "unreachable":
                breaker.failed(failure.message)
            elif failure.kind == "rate_limited":
                limiter.rate_limited(sent_at, failure.retry_after)
            if failure.kind == "final" or attempt == self.max_retries:
                break
            backoff = min(20.0, self.backoff_s * 2**attempt) * random.uniform(0.5, 1.0)
            await asyncio.sleep(max(backoff, failure.retry_after or 0.0))  # outside the slot
        return Completion(
            text=None,
            latency_s=time.perf_counter() - started,
            attempts=attempt + 1,
            error=failure.message[:2000],
        )

    def _unsent(self, started: float, attempts: int) -> Completion:
        return Completion(
            text=None,
            latency_s=time.perf_counter() - started,
            attempts=attempts,
            error=self._breaker.reason(),
            unsent=True,
        )

    @property
    def transport(self) -> str:
        """``lean`` or ``litellm``: how this model's calls travel (decided on the first call
        when the config says ``auto``)."""
        if not self._routed:
            self._choose_transport()
        return "lean" if self._route is not None else "litellm"

    def _choose_transport(self) -> None:
        """Ask litellm, once, whether this model's endpoint speaks OpenAI's chat-completions
        format; if so, calls take the lean transport with litellm's URL, key and parameters."""
        self._routed = True
        self._route = lean_route(self.model, self.connection, params=self.request)
        if self._route is not None:
            self._lean = LeanClient(self.concurrency)

    async def _send(
        self,
        messages: Sequence[Mapping[str, Any]],
        response_format: Mapping[str, Any] | None,
        started: float,
        attempts: int,
    ) -> Completion:
        """One attempt, over the lean transport or through litellm; raises what they raise."""
        if self._route is not None and self._lean is not None:
            route = self._route
            body = build_body(route.model_name, messages, response_format, route.params)
            reply = await self._lean.chat(route, body, self.timeout)
            return self._completion_of(reply, started, attempts)
        kwargs: dict[str, Any] = {**self.request, **self.connection}
        if response_format is not None:
            kwargs["response_format"] = dict(response_format)
        response = await import_litellm().acompletion(
            model=self.model,
            messages=list(messages),
            timeout=self.timeout,
            num_retries=0,
            max_retries=0,
            **kwargs,
        )
        return self._completion(response, started, attempts)

    def _completion_of(self, reply: LeanReply, started: float, attempts: int) -> Completion:
        """A lean reply as a Completion, priced from litellm's table for this model."""
        cost = self.price(reply.prompt_tokens or 0, reply.completion_tokens or 0)
        latency = time.perf_counter() - started
        if reply.text is None:
            why = (
                f"the model refused: {reply.refusal}"
                if reply.refusal
                else "the model returned no message content"
            )
            return Completion(
                text=None,
                prompt_tokens=reply.prompt_tokens,
                completion_tokens=reply.completion_tokens,
                cost_usd=cost,
                latency_s=latency,
                attempts=attempts,
                error=why,
            )
        return Completion(
            text=reply.text,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            cost_usd=cost,
            latency_s=latency,
            attempts=attempts,
        )

    def _failure(self, exc: BaseException) -> _Failure:
        """What a failed attempt means: retry or not, and whether the provider is unreachable."""
        if isinstance(exc, LeanHTTPError):
            message = redact(f"{type(exc).__name__}: {exc}", self._secrets)
            if exc.status == 429:
                return _Failure("rate_limited", message, exc.retry_after)
            return _Failure("retryable" if exc.retryable else "final", message, exc.retry_after)
        if isinstance(exc, LeanConnectionError | TimeoutError):
            return _Failure("unreachable", redact(f"{type(exc).__name__}: {exc}", self._secrets))
        litellm = import_litellm()
        message = redact(f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}", self._secrets)
        if isinstance(exc, litellm.RateLimitError):
            return _Failure("rate_limited", message, _retry_after(exc))
        if isinstance(exc, (litellm.Timeout, litellm.APIConnectionError)) or _connection_failure(exc):
            return _Failure("unreachable", message)
        if isinstance(
            exc, (litellm.InternalServerError, litellm.ServiceUnavailableError, litellm.BadGatewayError)
        ):
            return _Failure("retryable", message)
        status = getattr(exc, "status_code", None)
        if isinstance(status, int) and (status >= 500 or status in (408, 409)):
            return _Failure("retryable", message)
        return _Failure("final", message)

    def _completion(self, response: Any, started: float, attempts: int) -> Completion:
        litellm = import_litellm()

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
