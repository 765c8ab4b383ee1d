"""The aiohttp server behind :class:`JudgeServer`, on its own event loop in a daemon thread."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import random
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from ._batches import BatchDesk, add_batch_routes
from ._options import (
    API_KEY,
    HOST,
    MAX_SLEEP_S,
    MODEL_NAME,
    Reply,
    ScriptItem,
    ServerOptions,
    make_options,
    pick_fault,
)
from ._schema import SORT, Rng, SchemaError, default_verdict, generator

if TYPE_CHECKING:
    from typing_extensions import Self


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
        self._options = make_options(ServerOptions(), options)
        self._port = port
        self._lock = threading.Lock()
        self._script_iter: Iterator[ScriptItem] | None = None
        self._log: collections.deque[dict[str, Any]]
        self._header_log: collections.deque[dict[str, str]]
        self._restart_script()
        self._clear()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._sleepers: set[asyncio.Future[None]] = set()
        self._state = "new"
        self._batch_desk = BatchDesk(lambda: self._options, lambda body: answer_line(self, body))

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
            target=self._serve,
            args=(sock, ready, failure),
            name=f"workbench-judge-server:{self._port}",
            daemon=True,
        )
        self._thread.start()
        if not ready.wait(10) or failure:
            sock.close()
            raise RuntimeError(f"JudgeServer failed to start on {HOST}:{self._port}") from (
                failure[0] if failure else None
            )
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
    def request_headers(self) -> list[dict[str, str]]:
        """Headers of the same requests as :attr:`requests`, in the same order (names as sent)."""
        with self._lock:
            return list(self._header_log)

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

    def batch_stats(self) -> dict[str, int]:
        """Exact counters of the files and batches endpoints: ``uploads``, ``batches_created``,
        ``retrieves``, ``lists``, ``cancels``, ``downloads`` and ``lines_run``; not cleared by
        :meth:`reset` (a batch outlives it, as at a provider). Over HTTP: ``GET /batch_stats``.

        Example:
            >>> with JudgeServer() as server:
            ...     server.batch_stats()["uploads"]
            0
        """
        return self._batch_desk.stats()

    @property
    def batches(self) -> list[dict[str, Any]]:
        """Every batch created, oldest first: ``id``, ``status``, ``custom_ids`` (in the input
        file's order), ``request_counts`` and ``metadata``."""
        return self._batch_desk.batches()

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
        new = make_options(self._options, options)
        with self._lock:
            self._options = new
            if "script" in options:
                self._restart_script()
            if "seed" in options:
                self._fault_rng = random.Random(new.seed)
            if "request_log_size" in options:
                self._log = collections.deque(self._log, maxlen=new.request_log_size)
                self._header_log = collections.deque(self._header_log, maxlen=new.request_log_size)

    # -- internals ----------------------------------------------------------
    def _clear(self) -> None:
        self._n = self._in_flight = self._max_in_flight = self._cancelled = 0
        self._by_status: collections.Counter[int] = collections.Counter()
        self._faults = dict.fromkeys(("429", "500", "timeout", "malformed"), 0)
        self._errors: list[str] = []
        self._repeats: collections.Counter[bytes] = collections.Counter()
        self._log = collections.deque(maxlen=self._options.request_log_size)
        self._header_log = collections.deque(maxlen=self._options.request_log_size)
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
        add_batch_routes(app, self._batch_desk)  # the files and batches endpoints
        # handler_cancellation: a client that gives up (a timeout) stops its handler at once
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0, handler_cancellation=True
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock, backlog=2048).start()

    async def _get_stats(self, request: web.Request) -> web.Response:
        return web.Response(
            body=orjson.dumps(self.stats(), option=orjson.OPT_NON_STR_KEYS), content_type="application/json"
        )

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

    async def _answer(
        self, request: web.Request, opts: ServerOptions, u_fault: float, u_jitter: float
    ) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as e:
            return self._fail(400, f"The request body is not valid JSON: {e}", "invalid_request_error")
        if not isinstance(body, dict):
            return self._fail(400, "The request body must be a JSON object.", "invalid_request_error")
        if opts.request_log_size:
            with self._lock:
                self._log.append(body)
                self._header_log.append(dict(request.headers))
        if body.get("stream"):
            msg = "workbench.testing.JudgeServer does not stream; call without stream=True."
            return self._fail(400, msg, "invalid_request_error")
        delay = max(0.0, opts.latency_ms + (2 * u_jitter - 1) * opts.jitter_ms) / 1000
        fault = pick_fault(u_fault, opts)
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
                return self._respond(
                    429, _error_body(msg, "rate_limit_error", "rate_limit_exceeded"), headers
                )
            if fault == "500":
                msg = (
                    "The server had an error while processing your request (simulated by workbench.testing)."
                )
                return self._fail(500, msg, "server_error")
            return self._respond(
                200, b'{"id": "chatcmpl-malformed", "object": "chat.completion", "choices": [{"mess'
            )
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
            return self._respond(
                reply.status, _error_body(text, "scripted_error", str(reply.status)), reply.headers
            )
        try:
            completion = _completion(body, opts.seed, reply, opts.score_weights, self._redraw(body, opts))
        except SchemaError as e:
            return self._problem(400, f"Cannot generate a value for the response_format schema: {e}")
        except Exception as e:  # noqa: BLE001  (a server must answer; the problem is kept in server.errors)
            return self._problem(500, f"Building the reply failed with {type(e).__name__}: {e}")
        return self._respond(200, completion, reply.headers if reply else None)

    def _redraw(self, body: dict[str, Any], opts: ServerOptions) -> int:
        """The repeat number whose fresh draw answers this request (0: the first answer)."""
        temperature = body.get("temperature")
        if not opts.sampling_noise or not isinstance(temperature, int | float) or temperature <= 0:
            return 0
        key = hashlib.sha256(orjson.dumps([body.get("messages"), body.get("response_format")], option=SORT))
        with self._lock:
            n = self._repeats[key.digest()]
            self._repeats[key.digest()] += 1
        key.update(b"%d" % n)
        u = int.from_bytes(key.digest()[:8], "big") / 2**64
        return n if n and u < opts.sampling_noise else 0

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
            problem = (
                f"The scripted replies are exhausted: all {self._script_used} were used. "
                "Add replies, or wrap the list in itertools.cycle(...) to repeat it."
            )
            return self._problem(500, problem)
        except Exception as e:  # noqa: BLE001  (reported to the client and in server.errors)
            return self._problem(500, f"The script raised {type(e).__name__}: {e}")
        if item is None or isinstance(item, Reply):
            return item
        if isinstance(item, (str, dict)):
            return Reply(content=item)
        return self._problem(
            500, f"The script gave a {type(item).__name__}; expected str, dict, Reply or None."
        )

    def _problem(self, status: int, problem: str) -> web.Response:
        with self._lock:
            self._errors.append(problem)
        kind = "invalid_request_error" if status == 400 else "workbench_testing_error"
        return self._fail(status, "workbench.testing: " + problem, kind)


def answer_line(server: JudgeServer, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The status and JSON body the chat endpoint would answer ``body`` with (the script, or
    the generated verdict), without latency or faults: a batch line's response."""
    opts = server.options
    reply = server._scripted(body) if opts.script is not None else None
    if isinstance(reply, web.Response):
        payload = reply.body if isinstance(reply.body, bytes) else b"{}"
        return reply.status, orjson.loads(payload)
    if reply is not None and reply.body is not None:
        raw = _as_bytes(reply.body)
        try:
            return reply.status, orjson.loads(raw)
        except orjson.JSONDecodeError:
            return reply.status, {
                "error": {"message": raw.decode(errors="replace"), "type": "scripted_error"}
            }
    if reply is not None and reply.status != 200:
        text = _as_bytes(reply.content or f"Scripted error {reply.status}.").decode()
        return reply.status, orjson.loads(_error_body(text, "scripted_error", str(reply.status)))
    try:
        return 200, orjson.loads(_completion(body, opts.seed, reply, opts.score_weights))
    except SchemaError as e:
        problem = f"Cannot generate a value for the response_format schema: {e}"
        return 400, orjson.loads(_error_body("workbench.testing: " + problem, "invalid_request_error"))


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _as_bytes(value: str | bytes | dict[str, Any]) -> bytes:
    return (
        value
        if isinstance(value, bytes)
        else value.encode()
        if isinstance(value, str)
        else orjson.dumps(value)
    )


def _error_body(message: str, kind: str, code: str | None = None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})


async def _models(request: web.Request) -> web.Response:
    data = [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "workbench"}]
    return web.json_response({"object": "list", "data": data})


async def _health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def _completion(
    body: dict[str, Any],
    seed: int,
    reply: Reply | None,
    score_weights: Mapping[int, float] | None = None,
    redraw: int = 0,
) -> bytes:
    messages = body.get("messages") or []
    rf = body.get("response_format")
    schema = None
    if isinstance(rf, dict) and rf.get("type") == "json_schema":
        spec = rf.get("json_schema")
        schema = spec.get("schema", {}) if isinstance(spec, dict) else {}
    msg_key = orjson.dumps(messages, option=SORT)
    schema_key = orjson.dumps(schema, option=SORT)
    digest = hashlib.sha256(
        b"%b\0%b\0%d" % (msg_key, schema_key, seed) + (b"\0%d" % redraw if redraw else b"")
    ).digest()
    if reply is not None and reply.content is not None:
        content = reply.content if isinstance(reply.content, str) else orjson.dumps(reply.content).decode()
    else:
        rng = Rng(int.from_bytes(digest[:8], "big"))
        value = (
            generator(schema_key, schema, score_weights)(rng, 0)
            if schema is not None
            else default_verdict(rng, score_weights)
        )
        content = orjson.dumps(value).decode()
    prompt_tokens, completion_tokens = max(1, len(msg_key) // 4), max(1, (len(content) + 3) // 4)
    return orjson.dumps(
        {
            "id": "chatcmpl-" + digest[:12].hex(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or MODEL_NAME,
            "system_fingerprint": "fp_workbench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": reply.finish_reason if reply is not None else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )
