"""The lean transport: OpenAI chat completions over one aiohttp session per event loop.

litellm resolves where a call goes (:func:`~workbench.llm.lean_route`); this module only
sends it: :func:`build_body` builds the JSON litellm would send, :class:`LeanClient` posts it
and returns a :class:`LeanReply`, or raises a classified error the caller's retry loop acts
on: :class:`~workbench.errors.LeanHTTPError` (a status, the provider's message and any
``Retry-After``), :class:`~workbench.errors.LeanConnectionError`, or :class:`TimeoutError`
(``asyncio.TimeoutError``) when the attempt ran out of time. Retries, the concurrency
limiter and the cache belong to :class:`~workbench.llm.LLM`, never here.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import ssl
import threading
import time
import urllib.request
from collections.abc import AsyncGenerator, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson

from ..errors import LeanConnectionError, LeanHTTPError, shorten

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._route import LeanRoute

__all__ = ["LeanClient", "LeanReply", "build_body", "retry_after_s", "safe_url"]

_HEAD = 300
"""How much of an unexpected body an error message quotes."""


@dataclass(frozen=True, kw_only=True, slots=True)
class LeanReply:
    """What one chat completion answered.

    Example:
        >>> LeanReply(text='{"score": 4}', prompt_tokens=30, completion_tokens=5, finish_reason="stop",
        ...           model="gpt-4o-mini-2024-07-18").text
        '{"score": 4}'
    """

    text: str | None
    """The first choice's message content; None when the model sent none (a refusal, tool calls)."""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    """``stop``, or ``length`` for a reply cut at ``max_tokens``."""
    model: str | None = None
    """The model the server says answered (may be a dated snapshot of the one asked for)."""
    refusal: str | None = None
    """The message's ``refusal``, when the model refused."""


def build_body(
    model_name: str,
    messages: Sequence[Mapping[str, Any]],
    response_format: Mapping[str, Any] | None,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """The chat completion request body litellm sends to an OpenAI-compatible endpoint.

    ``params`` go into the body as they are, except that unset (None) ones are left out and
    ``extra_body`` is merged into the top level, as litellm and the OpenAI SDK do. Pass a
    route's :attr:`~workbench.llm.LeanRoute.params`: those are litellm's mapping of the run's
    parameters for that model (``max_tokens`` stays ``max_tokens`` for chat models; litellm's
    renames for other models are already applied there). Nothing is added: litellm sends no
    ``stream`` field for a non-streaming call either.

    Example:
        >>> build_body("gpt-4o-mini", [{"role": "user", "content": "hi"}], None,
        ...            {"temperature": 0, "seed": None, "extra_body": {"top_k": 5}})
        {'model': 'gpt-4o-mini', 'messages': [{'role': 'user', 'content': 'hi'}],
         'temperature': 0, 'top_k': 5}
    """
    body: dict[str, Any] = {"model": model_name, "messages": list(messages)}
    extra: Any = None
    for name, value in params.items():
        if value is None:
            continue
        if name == "extra_body":
            extra = value
        else:
            body[name] = value
    if response_format is not None:
        body["response_format"] = response_format
    if extra:
        body.update(extra)
    return body


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date).

    Example:
        >>> retry_after_s({"Retry-After": "2"}), retry_after_s({"retry-after-ms": "1500"}), retry_after_s({})
        (2.0, 1.5, None)
    """
    lower = {str(k).lower(): str(v) for k, v in headers.items() if str(k).lower().startswith("retry-after")}
    ms = _float(lower.get("retry-after-ms"))
    if ms is not None and ms >= 0:
        return ms / 1000
    value = lower.get("retry-after")
    if value is None:
        return None
    seconds = _float(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


class LeanClient:
    """Posts chat completions over a persistent aiohttp session, one per event loop.

    A notebook runs each evaluation on a fresh loop in a worker thread, and an aiohttp
    session must never be used from another loop than its own: the client keeps one session
    per running loop, created on that loop's first call, with a keep-alive connection pool of
    ``concurrency`` connections, and closed on that loop when the loop shuts down
    (``asyncio.run`` does it); :meth:`aclose` closes it earlier, :meth:`close` closes every
    session from synchronous code.

    Args:
        concurrency: size of each session's connection pool (the most requests in flight).
        keepalive_s: how long an idle connection stays open for the next call.

    Example:
        >>> import asyncio
        >>> from workbench.llm import lean_route, build_body
        >>> from workbench.testing import JudgeServer
        >>> with JudgeServer(script=['{"score": 4}']) as server:
        ...     route = lean_route(server.model, server.litellm_kwargs, params={"temperature": 0})
        ...     async def one():
        ...         async with LeanClient(concurrency=4) as client:
        ...             messages = [{"role": "user", "content": "hi"}]
        ...             body = build_body(route.model_name, messages, None, route.params)
        ...             return await client.chat(route, body, timeout=10)
        ...     reply = asyncio.run(one())
        >>> reply.text, reply.finish_reason
        ('{"score": 4}', 'stop')
    """

    def __init__(self, concurrency: int = 16, *, keepalive_s: float = 30.0) -> None:
        if concurrency < 1:
            msg = f"LeanClient(concurrency={concurrency!r}): concurrency must be at least 1."
            raise ValueError(msg)
        self.concurrency = concurrency
        self.keepalive_s = keepalive_s
        self._sessions: dict[
            asyncio.AbstractEventLoop, tuple[aiohttp.ClientSession, AsyncGenerator[None, None]]
        ] = {}
        self._lock = threading.Lock()
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._ssl: ssl.SSLContext | None = None
        self._transport: dict[tuple[str, bool], dict[str, Any]] = {}

    def __repr__(self) -> str:
        open_ = sum(not session.closed for session, _ in list(self._sessions.values()))
        return f"<LeanClient concurrency={self.concurrency} open sessions={open_}>"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- calls ------------------------------------------------------------------------

    async def chat(self, route: LeanRoute, body: Mapping[str, Any], timeout: float) -> LeanReply:
        """Send one chat completion request and parse the reply.

        Args:
            route: where to send it (from :func:`~workbench.llm.lean_route`).
            body: the request body (from :func:`build_body`).
            timeout: seconds for this attempt, connecting and reading included.

        Raises:
            LeanHTTPError: the server answered with an error status, or a 2xx body that is
                not a chat completion (``status`` 200; litellm retries those too).
            LeanConnectionError: no connection, or it broke before the reply was complete.
            TimeoutError: no complete reply within ``timeout`` seconds.
        """
        session = await self._session()
        data = orjson.dumps(body)
        transport = self._transport.get((route.url, route.verify_ssl))
        if transport is None:
            transport = self._transport_for(route)
        try:
            async with session.post(
                route.url, data=data, headers=route.headers, timeout=self._timeout(timeout), **transport
            ) as response:
                raw = await response.read()
                status = response.status
                if status >= 300:
                    raise _http_error(route, status, raw, response.headers)
        except TimeoutError:
            msg = f"no reply from {_where(route)} within {timeout:g} s"
            raise TimeoutError(msg) from None
        except aiohttp.ClientConnectionError as e:
            raise LeanConnectionError(
                route.scrub(f"connection to {_where(route)} failed: {_describe(e)}")
            ) from None
        except aiohttp.ClientPayloadError as e:
            raise LeanConnectionError(
                route.scrub(f"the reply from {_where(route)} broke off: {_describe(e)}")
            ) from None
        except aiohttp.ClientError as e:  # a reply that is not HTTP, an invalid URL...
            raise LeanConnectionError(
                route.scrub(f"the request to {_where(route)} failed: {_describe(e)}")
            ) from None
        return _reply(route, status, raw)

    async def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        entry = self._sessions.get(loop)
        if entry is not None and not entry[0].closed:
            return entry[0]
        with self._lock:
            self._sweep()
            connector = aiohttp.TCPConnector(
                limit=self.concurrency,
                limit_per_host=0,
                keepalive_timeout=self.keepalive_s,
                ttl_dns_cache=300,
            )
            # no trust_env: it costs two thread hops per request (a netrc and a proxy lookup);
            # the proxy is looked up once per endpoint instead (_transport_for)
            session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": _user_agent()})
            keeper = _keeper(session)
            self._sessions[loop] = (session, keeper)
        # the loop now tracks the keeper: its shutdown (asyncio.run and workbench's sync evaluate
        # both call shutdown_asyncgens) closes the session on this loop, before the loop ends
        await keeper.__anext__()
        return session

    def _transport_for(self, route: LeanRoute) -> dict[str, Any]:
        """TLS and proxy settings for an endpoint, worked out once: the proxy from
        ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` as litellm's httpx client takes it, TLS
        verified against certifi's roots (or ``SSL_CERT_FILE``) as httpx does."""
        # redirects are not followed, as the OpenAI SDK does not: a 3xx is an error reply
        settings: dict[str, Any] = {"allow_redirects": False}
        if route.url.startswith("https:"):
            if not route.verify_ssl:
                settings["ssl"] = False
            else:
                if self._ssl is None:
                    self._ssl = _ssl_context()  # tens of ms: only when an https endpoint is used
                settings["ssl"] = self._ssl
        proxy = _env_proxy(route.url)
        if proxy is not None:
            settings["proxy"] = proxy
        self._transport[(route.url, route.verify_ssl)] = settings
        return settings

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        t = self._timeouts.get(seconds)
        if t is None:
            t = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return t

    # --- closing ----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the running loop's session now."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._sessions.pop(loop, None)
        if entry is not None:
            await entry[1].aclose()

    def close(self) -> None:
        """Close every session from synchronous code.

        One whose loop runs in another thread is closed on that loop; one whose loop is idle is
        closed by running that loop briefly in the calling thread (call ``close()`` from the
        thread that runs it); one whose loop has ended is marked closed (that loop's shutdown
        closed its connections already, unless it was closed without ``shutdown_asyncgens``).
        """
        with self._lock:
            entries = list(self._sessions.items())
            self._sessions.clear()
        for loop, (session, keeper) in entries:
            if not session.closed:
                _close_on(loop, keeper)

    def _sweep(self) -> None:
        """Forget the sessions of ended loops (each evaluate of a notebook runs on a new loop).

        Called under the lock, so it never waits for a live loop: a closed session's keeper has
        finished, and an ended loop's session closes without one (:func:`_run_now`)."""
        for loop in [lp for lp, (session, _) in self._sessions.items() if lp.is_closed() or session.closed]:
            session, keeper = self._sessions.pop(loop)
            if not session.closed:
                _run_now(keeper.aclose())


async def _keeper(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """Holds ``session`` open until its loop shuts down its async generators, then closes it."""
    try:
        yield
    finally:
        await session.close()


def _close_on(loop: asyncio.AbstractEventLoop, keeper: AsyncGenerator[None, None]) -> None:
    if loop.is_closed():
        _run_now(keeper.aclose())
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop.is_running() and running is not loop:
        asyncio.run_coroutine_threadsafe(keeper.aclose(), loop).result(timeout=10)
    elif not loop.is_running():
        loop.run_until_complete(keeper.aclose())
    else:  # its own loop, from sync code running on it: close on the loop's next turn
        loop.create_task(keeper.aclose())


def _run_now(coro: Coroutine[Any, Any, Any]) -> None:
    """Run a coroutine that needs no loop: closing a session whose loop has ended only marks
    it closed (that loop cannot run anything any more), so it completes on its first step."""
    try:
        coro.send(None)
    except StopIteration:
        return
    except Exception:  # noqa: BLE001 - best effort on an ended loop; nothing is left to release
        return
    coro.close()  # it wanted to wait for the ended loop: nothing will ever resume it


def _user_agent() -> str:
    """``workbench/<version> aiohttp/<version>``: who calls, as litellm's own ``litellm/<version>``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("workbench")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout without an install
        ours = "dev"
    return f"workbench/{ours} aiohttp/{aiohttp.__version__}"


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (None when there is none or NO_PROXY matches)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    # proxy_bypass reads NO_PROXY when the proxies come from the environment
    if not proxies or (parts.hostname and urllib.request.proxy_bypass(parts.hostname)):
        return None
    proxy: str | None = proxies.get(parts.scheme) or proxies.get("all")
    return proxy


def _ssl_context() -> ssl.SSLContext:
    """TLS verification with certifi's roots (as litellm's httpx client), or ``SSL_CERT_FILE``."""
    cafile = os.environ.get("SSL_CERT_FILE")
    if not cafile:
        try:
            import certifi

            cafile = certifi.where()
        except ImportError:  # pragma: no cover - certifi comes with httpx, a dependency of litellm
            cafile = None
    return ssl.create_default_context(cafile=cafile)


# --- replies and errors ---------------------------------------------------------------------------


def _reply(route: LeanRoute, status: int, raw: bytes) -> LeanReply:
    try:
        data = orjson.loads(raw)
        choice = data["choices"][0]
        message = choice["message"]
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        data = None
        message = None
    if not isinstance(message, dict):
        if isinstance(data, dict) and "error" in data:  # some gateways answer errors with a 200
            raise LeanHTTPError(status, route.scrub(_provider_message(raw)), url=_where(route))
        head = route.scrub(shorten(raw.decode("utf-8", "replace").strip(), _HEAD)) or "(an empty body)"
        msg = f"a {status} reply that is not a chat completion: {head}"
        raise LeanHTTPError(status, msg, url=_where(route))
    usage = data.get("usage") if isinstance(data, dict) else None
    usage = usage if isinstance(usage, dict) else {}
    content = message.get("content")
    if isinstance(content, list):  # content parts, from gateways that pass them through
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict)) or None
    return LeanReply(
        text=content if isinstance(content, str) else None,
        prompt_tokens=_int(usage.get("prompt_tokens")),
        completion_tokens=_int(usage.get("completion_tokens")),
        finish_reason=choice.get("finish_reason"),
        model=data.get("model"),
        refusal=message.get("refusal"),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _http_error(route: LeanRoute, status: int, raw: bytes, headers: Mapping[str, str]) -> LeanHTTPError:
    return LeanHTTPError(
        status,
        route.scrub(_provider_message(raw)),
        retry_after=retry_after_s(headers),
        url=_where(route),
    )


def _provider_message(raw: bytes) -> str:
    """The provider's own words: OpenAI's ``{"error": {"message": ...}}`` shape, or the body's head."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    message: Any = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            message = error.get("message")
            kind = [f"{k} {error[k]}" for k in ("type", "code") if isinstance(error.get(k), str | int)]
            if message and kind:
                message = f"{message} ({', '.join(kind)})"
        elif isinstance(error, str):
            message = error
        message = message or data.get("message") or data.get("detail")
    if not isinstance(message, str) or not message.strip():
        message = raw.decode("utf-8", "replace").strip() or "(an empty body)"
    return shorten(message, 1000)


def _where(route: LeanRoute) -> str:
    return safe_url(route.url)


def safe_url(url: str) -> str:
    """``url`` without user info or query (either may carry a credential).

    Example:
        >>> safe_url("https://user:pw@host:8443/v1/chat/completions?key=abc")
        'https://host:8443/v1/chat/completions'
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<unparseable URL>"
    host = parts.hostname or ""
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
