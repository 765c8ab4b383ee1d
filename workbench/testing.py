"""A local OpenAI-compatible judge server for tests and offline suites.

:class:`JudgeServer` listens on 127.0.0.1 only and answers ``POST /v1/chat/completions``
the way a provider does, so code under test calls it through litellm unchanged
(``model=server.model, **server.litellm_kwargs``). It runs an aiohttp server on its own
event loop in a daemon thread: it works from sync tests, from async code and in Jupyter.

What it answers:

* **schema-following** (default): with ``response_format={"type": "json_schema", ...}``
  the content is JSON valid against that schema, generated deterministically from
  sha256(messages, schema, seed). Supported: ``$ref``/``$defs``, ``allOf``, ``anyOf``/
  ``oneOf``, ``const``, ``enum``, ``type`` lists, numeric bounds (``minimum``,
  ``exclusiveMinimum``, ``multipleOf``...), string lengths and common ``format`` values,
  ``minItems``/``maxItems``/``uniqueItems``, ``prefixItems``. ``pattern`` is not honoured.
  Optional properties are filled too, except past nesting depth 4 (where
  nullable values become ``null`` so that recursive models stay small).
* without a schema (``json_object`` or no ``response_format``): a JSON object
  ``{"score": 1..5, "label": "pass"|"fail", "reason": "simulated reason ..."}``.
* **scripted**: ``script=fn`` (``fn(request) -> str | dict | Reply | None``; ``None``
  falls back to the generated answer) or a list of replies consumed in order. An exhausted
  list answers 500 and records the problem in :attr:`JudgeServer.errors`; wrap the list in
  ``itertools.cycle(...)`` to repeat it.
* **faults**, drawn per request from a ``random.Random(seed)`` stream in arrival order
  (reproducible for a given seed and request order, independent of the content):
  429 with ``Retry-After``, 500, a timeout (sleeps ``timeout_s``, then 504) and a
  malformed 200 body. Faulted requests never call the script nor consume a scripted reply.

``python -m workbench.testing --port 8765 --latency-ms 50`` runs the server in its own
process, which keeps its CPU (~0.2 ms a request, mostly aiohttp's) off the client's GIL in
throughput benchmarks; ``GET /stats`` and ``POST /reset`` expose its counters over HTTP.

Example:
    >>> import json, urllib.request
    >>> from workbench.testing import JudgeServer
    >>> with JudgeServer(script=["PASS", {"score": 4}]) as server:
    ...     def ask():
    ...         req = urllib.request.Request(server.url + "/chat/completions", method="POST",
    ...             data=json.dumps({"model": "m", "messages": []}).encode(),
    ...             headers={"Content-Type": "application/json"})
    ...         return json.load(urllib.request.urlopen(req))["choices"][0]["message"]["content"]
    ...     print(ask(), ask(), server.count)
    PASS {"score":4} 2
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import datetime as _dt
import hashlib
import math
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import orjson
from aiohttp import web

from .errors import did_you_mean

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["JudgeServer", "Reply", "ServerOptions", "main"]

HOST = "127.0.0.1"
MODEL_NAME = "workbench-judge"
API_KEY = "sk-workbench-test"
MAX_SLEEP_S = 600.0
"""No handler ever sleeps longer than this, whatever the options say."""
_SOFT_DEPTH, _HARD_DEPTH = 4, 40
_SORT = orjson.OPT_SORT_KEYS


@dataclass(frozen=True, kw_only=True)
class Reply:
    """One scripted reply with full control over the HTTP response.

    Example:
        >>> Reply(status=429, headers={"Retry-After": "1"}).status
        429
    """

    status: int = 200
    """HTTP status. Not 200 and no ``body``: an OpenAI-style error whose message is ``content``."""
    content: str | dict[str, Any] | None = None
    """Message content (a dict is JSON-dumped). ``None`` with status 200: the generated answer."""
    body: str | bytes | dict[str, Any] | None = None
    """Raw response body sent verbatim (a dict is JSON-dumped); replaces the whole completion."""
    headers: dict[str, str] | None = None
    """Extra response headers, e.g. ``{"Retry-After": "2"}``."""
    delay_ms: float | None = None
    """Delay before answering; ``None`` uses the server's latency and jitter."""
    finish_reason: str = "stop"
    """``finish_reason`` of the choice, e.g. ``"length"`` for a truncated answer."""

    def __post_init__(self) -> None:
        if self.body is not None and self.content is not None:
            msg = "Reply takes content or body, not both: body replaces the whole completion."
            raise ValueError(msg)


ScriptItem: TypeAlias = "str | dict[str, Any] | Reply"
"""What a script gives for one request: content text, a dict sent as JSON content, or a Reply."""
Script: TypeAlias = "Callable[[dict[str, Any]], ScriptItem | None] | Iterable[ScriptItem]"
"""A function of the request body, or replies consumed in order."""


@dataclass(frozen=True, kw_only=True)
class ServerOptions:
    """The options of a :class:`JudgeServer`; pass them as keywords to it or to ``set()``.

    Example:
        >>> ServerOptions(rate_429=0.2).retry_after_s
        0.0
    """

    latency_ms: float = 0.0
    """Delay of every reply (faults included, timeouts excepted)."""
    jitter_ms: float = 0.0
    """Uniform +/- jitter added to ``latency_ms`` (the delay never goes below 0)."""
    seed: int = 0
    """Seeds both the generated content and the fault sequence."""
    script: Script | None = None
    """Scripted replies; ``None`` answers with generated content."""
    rate_429: float = 0.0
    """Share of requests answered 429 with a ``Retry-After`` header."""
    rate_500: float = 0.0
    """Share of requests answered 500 with an OpenAI-style error body."""
    rate_timeout: float = 0.0
    """Share of requests held for ``timeout_s`` (then answered 504)."""
    rate_malformed: float = 0.0
    """Share of requests answered 200 with a body that is not valid JSON."""
    retry_after_s: float = 0.0
    """Value of the ``Retry-After`` header of injected 429s."""
    timeout_s: float = 30.0
    """How long a timeout fault holds the request (at most 600 s)."""
    request_log_size: int = 10_000
    """How many of the latest request bodies :attr:`JudgeServer.requests` keeps (0: none)."""

    def __post_init__(self) -> None:
        problems = []
        rates = {n: getattr(self, n) for n in ("rate_429", "rate_500", "rate_timeout", "rate_malformed")}
        problems += [f"{n}={r!r} is not in [0, 1]" for n, r in rates.items() if not 0 <= r <= 1]
        if sum(rates.values()) > 1 + 1e-9:
            problems.append(f"the fault rates sum to {sum(rates.values()):g}, more than 1")
        for name in ("latency_ms", "jitter_ms", "retry_after_s", "request_log_size"):
            if getattr(self, name) < 0:
                problems.append(f"{name}={getattr(self, name)!r} is negative")
        if not 0 < self.timeout_s <= MAX_SLEEP_S:
            problems.append(f"timeout_s={self.timeout_s!r} is not in (0, {MAX_SLEEP_S:g}]")
        if isinstance(self.script, (str, bytes, dict, Reply)):
            problems.append("script is a single reply; pass a list of replies or a function")
        elif self.script is not None and not callable(self.script) and not isinstance(self.script, Iterable):
            problems.append(f"script must be a function or a list of replies, not {type(self.script).__name__}")
        if problems:
            raise ValueError("Invalid JudgeServer options: " + "; ".join(problems) + ".")


_OPTION_NAMES = tuple(f.name for f in dataclasses.fields(ServerOptions))


class JudgeServer:
    """An OpenAI-compatible chat completions server on 127.0.0.1, in a background thread.

    Args:
        port: Port to listen on; 0 picks a free one.
        **options: Any field of :class:`ServerOptions` (``latency_ms``, ``seed``, ``script``,
            ``rate_429``, ...).

    Raises:
        ValueError: An option is unknown or out of range.

    Example:
        >>> with JudgeServer(seed=1) as server:
        ...     server.url.startswith("http://127.0.0.1:"), server.model, server.count
        (True, 'openai/workbench-judge', 0)
    """

    def __init__(self, *, port: int = 0, **options: Any) -> None:
        self._options = _make_options(ServerOptions(), options)
        self._port = port
        self._lock = threading.Lock()
        self._script_iter: Iterator[ScriptItem] | None = None
        self._log: collections.deque[dict[str, Any]]
        self._restart_script()
        self._clear()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._sleepers: set[asyncio.Future[None]] = set()
        self._state = "new"

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> Self:
        """Start listening (a no-op when already started) and return ``self``.

        Raises:
            OSError: The port is taken.
            RuntimeError: The server was closed, or did not come up within 10 s.

        Example:
            >>> server = JudgeServer().start()
            >>> server.close()
        """
        if self._state == "started":
            return self
        if self._state == "closed":
            raise RuntimeError("This JudgeServer was closed; create a new one.")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, self._port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(sock, ready, failure), name=f"workbench-judge-server:{self._port}", daemon=True
        )
        self._thread.start()
        if not ready.wait(10) or failure:
            sock.close()
            raise RuntimeError(f"JudgeServer failed to start on {HOST}:{self._port}") from (failure[0] if failure else None)
        self._state = "started"
        return self

    def close(self) -> None:
        """Stop the server: cancel in-flight requests, free the port, end the thread. Idempotent.

        Example:
            >>> server = JudgeServer().start(); server.close(); server.close()
        """
        if self._state != "started":
            self._state = "closed"
            return
        assert self._loop is not None and self._thread is not None
        if threading.current_thread() is self._thread:
            raise RuntimeError("JudgeServer.close() cannot be called from the server's own thread.")
        self._state = "closed"
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f" {self.url}" if self._state == "started" else ""
        return f"<JudgeServer{where} ({self._state}, {self.count} requests)>"

    # -- public state -------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL for OpenAI clients, ``http://127.0.0.1:PORT/v1``."""
        if self._state != "started":
            raise RuntimeError("The JudgeServer is not running: call start() or use it in a `with` block.")
        return f"http://{HOST}:{self._port}/v1"

    @property
    def port(self) -> int:
        """The port listened on (known once started)."""
        return self._port

    @property
    def model(self) -> str:
        """litellm model string that routes to this server: ``openai/workbench-judge``."""
        return f"openai/{MODEL_NAME}"

    @property
    def litellm_kwargs(self) -> dict[str, str]:
        """``api_base`` and ``api_key`` to pass to ``litellm.acompletion``."""
        return {"api_base": self.url, "api_key": API_KEY}

    @property
    def options(self) -> ServerOptions:
        """The options in force."""
        return self._options

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Bodies of the latest chat completion requests (up to ``request_log_size``), oldest first."""
        with self._lock:
            return list(self._log)

    @property
    def count(self) -> int:
        """Chat completion requests received, faulted and invalid ones included."""
        return self._n

    @property
    def errors(self) -> list[str]:
        """Problems the server answered with an error of its own: the script raised, gave a bad
        value or ran out (500), or a ``response_format`` schema it cannot follow (400)."""
        with self._lock:
            return list(self._errors)

    def stats(self) -> dict[str, Any]:
        """Exact counters: ``requests``, ``by_status`` (int -> n), ``faults`` (kind -> n),
        ``cancelled`` (handlers stopped by a client disconnect or close), ``in_flight``,
        ``max_in_flight`` and ``errors``.

        Example:
            >>> with JudgeServer() as server:
            ...     server.stats()["faults"]
            {'429': 0, '500': 0, 'timeout': 0, 'malformed': 0}
        """
        with self._lock:
            return {
                "requests": self._n,
                "by_status": dict(sorted(self._by_status.items())),
                "faults": dict(self._faults),
                "cancelled": self._cancelled,
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
                "errors": len(self._errors),
            }

    def reset(self) -> None:
        """Clear counters, the request log and errors; restart the fault sequence and a list script.

        Example:
            >>> with JudgeServer() as server:
            ...     server.reset(); server.count
            0
        """
        with self._lock:
            self._clear()
            self._restart_script()

    def set(self, **options: Any) -> None:
        """Change options while running, e.g. ``server.set(rate_429=0.5, latency_ms=20)``.

        A new ``script`` starts from its first reply; a new ``seed`` restarts the fault sequence.

        Raises:
            ValueError: An option is unknown or out of range.

        Example:
            >>> with JudgeServer() as server:
            ...     server.set(latency_ms=5); server.options.latency_ms
            5
        """
        new = _make_options(self._options, options)
        with self._lock:
            self._options = new
            if "script" in options:
                self._restart_script()
            if "seed" in options:
                self._fault_rng = random.Random(new.seed)
            if "request_log_size" in options:
                self._log = collections.deque(self._log, maxlen=new.request_log_size)

    # -- internals ----------------------------------------------------------
    def _clear(self) -> None:
        self._n = self._in_flight = self._max_in_flight = self._cancelled = 0
        self._by_status: collections.Counter[int] = collections.Counter()
        self._faults = dict.fromkeys(("429", "500", "timeout", "malformed"), 0)
        self._errors: list[str] = []
        self._log = collections.deque(maxlen=self._options.request_log_size)
        self._fault_rng = random.Random(self._options.seed)

    def _restart_script(self) -> None:
        script = self._options.script
        self._script_iter = None if script is None or callable(script) else iter(script)
        self._script_used = 0

    def _serve(self, sock: socket.socket, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._setup(sock))
        except BaseException as e:  # noqa: BLE001  (handed to start(), which raises it)
            failure.append(e)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _setup(self, sock: socket.socket) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for prefix in ("/v1", ""):
            app.router.add_post(prefix + "/chat/completions", self._chat)
            app.router.add_get(prefix + "/models", _models)
        app.router.add_get("/health", _health)
        # for a server in another process (python -m workbench.testing): its counters over HTTP
        app.router.add_get("/stats", self._get_stats)
        app.router.add_post("/reset", self._post_reset)
        # handler_cancellation: a client that gives up (a timeout) stops its handler at once
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0, handler_cancellation=True
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock, backlog=2048).start()

    async def _get_stats(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(self.stats(), option=orjson.OPT_NON_STR_KEYS),
                            content_type="application/json")

    async def _post_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.Response(text="ok")

    async def _shutdown(self) -> None:
        for fut in list(self._sleepers):
            fut.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _sleep(self, seconds: float) -> None:
        # asyncio.sleep, but registered so that close() can cancel every sleeping handler
        if seconds <= 0:
            return
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        handle = loop.call_later(min(seconds, MAX_SLEEP_S), _resolve, fut)
        self._sleepers.add(fut)
        try:
            await fut
        finally:
            handle.cancel()
            self._sleepers.discard(fut)

    def _respond(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> web.Response:
        with self._lock:
            self._by_status[status] += 1
        return web.Response(status=status, body=body, headers=headers, content_type="application/json")

    def _fail(self, status: int, message: str, kind: str) -> web.Response:
        return self._respond(status, _error_body(message, kind))

    async def _chat(self, request: web.Request) -> web.Response:
        opts = self._options
        with self._lock:
            self._n += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            u_fault, u_jitter = self._fault_rng.random(), self._fault_rng.random()
        try:
            return await self._answer(request, opts, u_fault, u_jitter)
        except asyncio.CancelledError:
            with self._lock:
                self._cancelled += 1
            raise
        finally:
            with self._lock:
                self._in_flight -= 1

    async def _answer(self, request: web.Request, opts: ServerOptions, u_fault: float, u_jitter: float) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as e:
            return self._fail(400, f"The request body is not valid JSON: {e}", "invalid_request_error")
        if not isinstance(body, dict):
            return self._fail(400, "The request body must be a JSON object.", "invalid_request_error")
        if opts.request_log_size:
            with self._lock:
                self._log.append(body)
        if body.get("stream"):
            msg = "workbench.testing.JudgeServer does not stream; call without stream=True."
            return self._fail(400, msg, "invalid_request_error")
        delay = max(0.0, opts.latency_ms + (2 * u_jitter - 1) * opts.jitter_ms) / 1000
        fault = _pick_fault(u_fault, opts)
        if fault is not None:
            with self._lock:
                self._faults[fault] += 1
            if fault == "timeout":
                await self._sleep(opts.timeout_s)
                return self._fail(504, "Simulated upstream timeout (workbench.testing).", "timeout")
            await self._sleep(delay)
            if fault == "429":
                headers = {"Retry-After": f"{opts.retry_after_s:g}"}
                msg = "Rate limit reached (simulated by workbench.testing). Please retry after a short wait."
                return self._respond(429, _error_body(msg, "rate_limit_error", "rate_limit_exceeded"), headers)
            if fault == "500":
                msg = "The server had an error while processing your request (simulated by workbench.testing)."
                return self._fail(500, msg, "server_error")
            return self._respond(200, b'{"id": "chatcmpl-malformed", "object": "chat.completion", "choices": [{"mess')
        reply = self._scripted(body) if opts.script is not None else None
        if isinstance(reply, web.Response):
            return reply
        if reply is not None and reply.delay_ms is not None:
            delay = reply.delay_ms / 1000
        await self._sleep(delay)
        if reply is not None and reply.body is not None:
            return self._respond(reply.status, _as_bytes(reply.body), reply.headers)
        if reply is not None and reply.status != 200:
            text = _as_bytes(reply.content or f"Scripted error {reply.status}.").decode()
            return self._respond(reply.status, _error_body(text, "scripted_error", str(reply.status)), reply.headers)
        try:
            completion = _completion(body, opts.seed, reply)
        except _SchemaError as e:
            return self._problem(400, f"Cannot generate a value for the response_format schema: {e}")
        except Exception as e:  # noqa: BLE001  (a server must answer; the problem is kept in server.errors)
            return self._problem(500, f"Building the reply failed with {type(e).__name__}: {e}")
        return self._respond(200, completion, reply.headers if reply else None)

    def _scripted(self, body: dict[str, Any]) -> Reply | web.Response | None:
        script = self._options.script
        try:
            if callable(script):
                item = script(body)
            else:
                with self._lock:
                    it = self._script_iter
                    item = next(it) if it is not None else None
                    self._script_used += 1
        except StopIteration:
            problem = (f"The scripted replies are exhausted: all {self._script_used} were used. "
                       "Add replies, or wrap the list in itertools.cycle(...) to repeat it.")
            return self._problem(500, problem)
        except Exception as e:  # noqa: BLE001  (reported to the client and in server.errors)
            return self._problem(500, f"The script raised {type(e).__name__}: {e}")
        if item is None or isinstance(item, Reply):
            return item
        if isinstance(item, (str, dict)):
            return Reply(content=item)
        return self._problem(500, f"The script gave a {type(item).__name__}; expected str, dict, Reply or None.")

    def _problem(self, status: int, problem: str) -> web.Response:
        with self._lock:
            self._errors.append(problem)
        kind = "invalid_request_error" if status == 400 else "workbench_testing_error"
        return self._fail(status, "workbench.testing: " + problem, kind)


def _make_options(base: ServerOptions, options: dict[str, Any]) -> ServerOptions:
    unknown = [k for k in options if k not in _OPTION_NAMES]
    if unknown:
        hint = did_you_mean(unknown[0], _OPTION_NAMES)
        msg = f"Unknown JudgeServer option {unknown[0]!r}{hint} Options: {', '.join(_OPTION_NAMES)}."
        raise ValueError(msg)
    return dataclasses.replace(base, **options)


def _pick_fault(u: float, opts: ServerOptions) -> str | None:
    for kind, rate in (("429", opts.rate_429), ("500", opts.rate_500),
                       ("timeout", opts.rate_timeout), ("malformed", opts.rate_malformed)):
        if u < rate:
            return kind
        u -= rate
    return None


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _as_bytes(value: str | bytes | dict[str, Any]) -> bytes:
    return value if isinstance(value, bytes) else value.encode() if isinstance(value, str) else orjson.dumps(value)


def _error_body(message: str, kind: str, code: str | None = None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})


async def _models(request: web.Request) -> web.Response:
    data = [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "workbench"}]
    return web.json_response({"object": "list", "data": data})


async def _health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def _completion(body: dict[str, Any], seed: int, reply: Reply | None) -> bytes:
    messages = body.get("messages") or []
    rf = body.get("response_format")
    schema = None
    if isinstance(rf, dict) and rf.get("type") == "json_schema":
        spec = rf.get("json_schema")
        schema = spec.get("schema", {}) if isinstance(spec, dict) else {}
    msg_key = orjson.dumps(messages, option=_SORT)
    schema_key = orjson.dumps(schema, option=_SORT)
    digest = hashlib.sha256(b"%b\0%b\0%d" % (msg_key, schema_key, seed)).digest()
    if reply is not None and reply.content is not None:
        content = reply.content if isinstance(reply.content, str) else orjson.dumps(reply.content).decode()
    else:
        rng = _Rng(int.from_bytes(digest[:8], "big"))
        value = _generator(schema_key, schema)(rng, 0) if schema is not None else _default_verdict(rng)
        content = orjson.dumps(value).decode()
    prompt_tokens, completion_tokens = max(1, len(msg_key) // 4), max(1, (len(content) + 3) // 4)
    return orjson.dumps({
        "id": "chatcmpl-" + digest[:12].hex(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or MODEL_NAME,
        "system_fingerprint": "fp_workbench",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": None},
            "logprobs": None,
            "finish_reason": reply.finish_reason if reply is not None else "stop",
        }],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    })


class _Rng:
    """splitmix64: seeding ``random.Random`` costs ~10 us, a third of a whole reply."""

    __slots__ = ("_state",)

    def __init__(self, seed: int) -> None:
        self._state = seed & _M64

    def _next(self) -> int:
        self._state = z = (self._state + 0x9E3779B97F4A7C15) & _M64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        return z ^ (z >> 31)

    def random(self) -> float:
        return (self._next() >> 11) * 2.0**-53

    def randrange(self, n: int) -> int:
        return self._next() % n  # the modulo bias is irrelevant for fake values

    def randint(self, a: int, b: int) -> int:
        return a + self.randrange(b - a + 1)

    def choice(self, seq: list[Any]) -> Any:
        return seq[self.randrange(len(seq))]

    def getrandbits(self, k: int) -> int:
        bits = 0
        for _ in range(0, k, 64):
            bits = bits << 64 | self._next()
        return bits >> (-k % 64)


_M64 = (1 << 64) - 1


def _default_verdict(rng: _Rng) -> dict[str, Any]:
    score = rng.randint(1, 5)
    return {"score": score, "label": "pass" if score >= 3 else "fail", "reason": _reason(rng)}


def _reason(rng: _Rng) -> str:
    return f"simulated reason {rng.getrandbits(24):06x}"


# -- schema-following values ----------------------------------------------------

Gen: TypeAlias = Callable[[_Rng, int], Any]
"""Makes one value from a seeded RNG and the current nesting depth."""
_generators: dict[bytes, Gen] = {}
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly",
                          "$comment"})


def _generator(schema_key: bytes, schema: Any) -> Gen:
    """The compiled generator of ``schema``, cached by its canonical JSON ``schema_key``.
    Compiled from ``schema`` itself, not the key, to keep the property order of the request."""
    gen = _generators.get(schema_key)
    if gen is None:
        if len(_generators) >= 512:
            _generators.clear()
        gen = _generators[schema_key] = _Compiler(schema).compile(schema)
    return gen


class _SchemaError(ValueError):
    """A ``response_format`` schema the generator cannot follow."""


class _Compiler:
    """Turns a JSON schema into nested closures; ``$ref`` targets are compiled once, lazily
    (so recursive models terminate), and depth limits keep recursive values finite."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.refs: dict[str, Gen] = {}

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise _SchemaError(f"only local $ref are supported, not {ref!r}")
        node = self.root
        try:
            for part in filter(None, ref[1:].split("/")):
                part = part.replace("~1", "/").replace("~0", "~")
                node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise _SchemaError(f"$ref {ref!r} points to nothing") from None
        return node

    def ref(self, ref: str) -> Gen:
        def gen(rng: _Rng, depth: int) -> Any:
            target = self.refs.get(ref)
            if target is None:
                target = self.refs[ref] = self.compile(self.resolve(ref))
            return target(rng, depth)

        return gen

    def lazy(self, make: Callable[[], Gen]) -> Gen:
        """A generator compiled on first use: lets recursive schemas compile."""
        cell: list[Gen] = []

        def gen(rng: _Rng, depth: int) -> Any:
            if not cell:
                cell.append(make())
            return cell[0](rng, depth)

        return gen

    def flatten(self, node: dict[str, Any]) -> dict[str, Any]:
        """Merge the parts of ``allOf`` (their ``$ref`` resolved) into one schema."""
        for _ in range(32):
            if "allOf" not in node:
                return node
            rest = {k: v for k, v in node.items() if k != "allOf"}
            for part in node["allOf"]:
                if isinstance(part, dict) and "$ref" in part:
                    part = _merge(self.resolve(part["$ref"]), {k: v for k, v in part.items() if k != "$ref"})
                rest = _merge(rest, part if isinstance(part, dict) else {})
            node = rest
        raise _SchemaError("the schema nests allOf too deeply")

    def compile(self, node: Any) -> Gen:
        if node is True or node == {} or node is None:
            return lambda rng, depth: _reason(rng)
        if node is False:
            return lambda rng, depth: None
        if not isinstance(node, dict):
            raise _SchemaError(f"expected a schema object, got {_short(node)}")
        node = self.flatten(node)
        if "$ref" in node:
            ref = node["$ref"]
            siblings = {k: v for k, v in node.items() if k != "$ref" and k not in _ANNOTATIONS}
            if not siblings:
                return self.ref(ref)
            return self.lazy(lambda: self.compile(_merge(self.resolve(ref), siblings)))
        if "const" in node:
            const = node["const"]
            return lambda rng, depth: const
        if node.get("enum"):
            choices = list(node["enum"])
            return lambda rng, depth: rng.choice(choices)
        options = node.get("anyOf") or node.get("oneOf")
        typ = node.get("type")
        if options is None and isinstance(typ, list):
            options = [{**node, "type": t} for t in typ]
        if options is not None:
            rest = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf", "type")}
            gens = [(self.compile(_merge(rest, o) if rest and isinstance(o, dict) else o), _is_null(o))
                    for o in options]
            nulls = [g for g, null in gens if null]
            values = [g for g, null in gens if not null] or nulls

            def pick(rng: _Rng, depth: int) -> Any:
                if depth >= _SOFT_DEPTH and nulls:
                    return None
                return rng.choice(values)(rng, depth)

            return pick
        if typ is None:
            typ = ("object" if "properties" in node or "required" in node else
                   "array" if "items" in node or "prefixItems" in node else
                   "number" if any(k in node for k in ("minimum", "maximum", "exclusiveMinimum")) else "string")
        if typ == "object":
            return self.object(node)
        if typ == "array":
            return self.array(node)
        if typ in ("integer", "number"):
            return _number(node, integer=typ == "integer")
        if typ == "boolean":
            return lambda rng, depth: rng.random() < 0.5
        if typ == "null":
            return lambda rng, depth: None
        return _string(node)

    def object(self, node: dict[str, Any]) -> Gen:
        props = node.get("properties") or {}
        required = set(node.get("required") or ())
        extra = node.get("additionalProperties")
        fields = [(name, self.compile(sub), name in required) for name, sub in props.items()]
        fields += [(name, self.compile(extra if isinstance(extra, dict) else {}), True)
                   for name in node.get("required") or () if name not in props]

        def gen(rng: _Rng, depth: int) -> Any:
            if depth >= _HARD_DEPTH:
                return None
            soft = depth >= _SOFT_DEPTH
            return {name: g(rng, depth + 1) for name, g, req in fields if req or not soft}

        return gen

    def array(self, node: dict[str, Any]) -> Gen:
        items = node.get("items")
        prefix = node.get("prefixItems") or (items if isinstance(items, list) else [])
        rest = self.compile(items if isinstance(items, dict) else node.get("additionalItems") or {})
        prefix_gens = [self.compile(p) for p in prefix]
        lo, hi = int(node.get("minItems", 0)), node.get("maxItems")
        unique = bool(node.get("uniqueItems"))

        def gen(rng: _Rng, depth: int) -> Any:
            if depth >= _HARD_DEPTH:
                return []
            n = max(lo, len(prefix_gens) if depth < _SOFT_DEPTH else 0, 1 if depth < _SOFT_DEPTH else 0)
            if hi is not None:
                n = min(n, int(hi))
            out: list[Any] = []
            seen: set[bytes] = set()
            for i in range(n * 8 if unique else n):
                if len(out) == n:
                    break
                value = (prefix_gens[len(out)] if len(out) < len(prefix_gens) else rest)(rng, depth + 1)
                if unique:
                    key = orjson.dumps(value, option=_SORT)
                    if key in seen:
                        continue
                    seen.add(key)
                out.append(value)
            return out

        return gen


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        if key == "properties" and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        elif key == "required":
            out[key] = list(dict.fromkeys([*out.get(key, []), *value]))
        elif key in ("minimum", "minLength", "minItems") and key in out:
            out[key] = max(out[key], value)
        elif key in ("maximum", "maxLength", "maxItems") and key in out:
            out[key] = min(out[key], value)
        else:
            out[key] = value
    return out


def _is_null(node: Any) -> bool:
    return isinstance(node, dict) and (node.get("type") == "null" or node == {"const": None})


def _number(node: dict[str, Any], *, integer: bool) -> Gen:
    low, high = node.get("minimum"), node.get("maximum")
    lo_open = hi_open = False
    xlo, xhi = node.get("exclusiveMinimum"), node.get("exclusiveMaximum")
    if xlo is True:  # draft 4: a flag on minimum
        lo_open = low is not None
    elif isinstance(xlo, (int, float)) and not isinstance(xlo, bool) and (low is None or xlo >= low):
        low, lo_open = xlo, True
    if xhi is True:
        hi_open = high is not None
    elif isinstance(xhi, (int, float)) and not isinstance(xhi, bool) and (high is None or xhi <= high):
        high, hi_open = xhi, True
    step = node.get("multipleOf")
    if integer:
        if low is not None:
            low = math.floor(low) + 1 if lo_open else math.ceil(low)
        if high is not None:
            high = math.ceil(high) - 1 if hi_open else math.floor(high)
        ilo, ihi = _span(low, high, 4, 1)
        if step:
            k_lo, k_hi = math.ceil(ilo / step), math.floor(ihi / step)
            return lambda rng, depth: int(rng.randint(k_lo, max(k_lo, k_hi)) * step)
        return lambda rng, depth: rng.randint(int(ilo), int(max(ilo, ihi)))
    lo, hi = _span(low, high, 1.0, 0.0)
    if step:
        k_lo = math.floor(lo / step) + 1 if lo_open else math.ceil(lo / step)
        k_hi = math.ceil(hi / step) - 1 if hi_open else math.floor(hi / step)
        return lambda rng, depth: rng.randint(k_lo, max(k_lo, k_hi)) * step
    mid = (lo + hi) / 2

    def gen(rng: _Rng, depth: int) -> float:
        value = round(lo + rng.random() * (hi - lo), 3)
        if value < lo or value > hi or (lo_open and value <= lo) or (hi_open and value >= hi):
            return mid
        return value

    return gen


def _span(low: float | None, high: float | None, width: float, default_low: float) -> tuple[float, float]:
    """The range to draw from: the bounds given, else ``width`` beside the one bound given."""
    if low is None:
        return (default_low, default_low + width) if high is None else (high - width, high)
    return (low, low + width) if high is None else (low, high)


_FORMATS: dict[str, Callable[[_Rng], str]] = {
    "date-time": lambda rng: (_dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc)
                              + _dt.timedelta(seconds=rng.randrange(10**7))).isoformat().replace("+00:00", "Z"),
    "date": lambda rng: (_dt.date(2024, 1, 1) + _dt.timedelta(days=rng.randrange(365))).isoformat(),
    "time": lambda rng: f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z",
    "email": lambda rng: f"judge{rng.randrange(1000)}@example.com",
    "uri": lambda rng: f"https://example.com/{rng.randrange(1000)}",
    "uuid": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
}
_FORMATS["url"] = _FORMATS["uri"]


def _string(node: dict[str, Any]) -> Gen:
    make = _FORMATS.get(node.get("format", ""), _reason)
    lo, hi = int(node.get("minLength", 0)), node.get("maxLength")

    def gen(rng: _Rng, depth: int) -> str:
        text = make(rng)
        if len(text) < lo:
            text += "." * (lo - len(text))
        return text if hi is None else text[: int(hi)]

    return gen


# -- command line ---------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Run a JudgeServer in the foreground until Ctrl-C (``python -m workbench.testing``).

    Example:
        In a shell: ``python -m workbench.testing --port 8765 --latency-ms 50 --rate-429 0.1``.
    """
    p = argparse.ArgumentParser(prog="python -m workbench.testing", description=main.__doc__)
    p.add_argument("--port", type=int, default=8765)
    for name in ("latency_ms", "jitter_ms", "rate_429", "rate_500", "rate_timeout", "rate_malformed",
                 "retry_after_s", "timeout_s"):
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=float, default=getattr(ServerOptions, name))
    p.add_argument("--seed", type=int, default=0)
    args = vars(p.parse_args(argv))
    with JudgeServer(port=args.pop("port"), request_log_size=0, **args) as server:
        print(f"workbench judge server on {server.url} (model {server.model}); Ctrl-C stops it", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
