"""The OpenAI files and batches endpoints of :class:`~workbench.testing.JudgeServer`.

``POST /v1/files`` (multipart upload), ``GET /v1/files/{id}``, ``GET /v1/files/{id}/content``,
``DELETE /v1/files/{id}``, ``POST /v1/batches``, ``GET /v1/batches``, ``GET /v1/batches/{id}``
and ``POST /v1/batches/{id}/cancel``, answered as OpenAI answers them, so batch mode is tested
over real HTTP through litellm's file and batch functions.

A batch's lines are answered by the same code as ``/v1/chat/completions`` (the schema-following
generator, or the server's script), so a batch and a direct run of the same server give the
same verdicts. What a batch does over time is scripted by the server's ``batch_*`` options:
how long it takes (``batch_delay_s``, its request counts growing linearly meanwhile), which
lines fail and with what message (``batch_line_error``, ``batch_error_rate``), whether it
expires part-way (``batch_expire_after``), the limits it enforces (``batch_max_requests``,
``batch_max_bytes``) and a download cut short once (``batch_cut_download_bytes``).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from ._options import ServerOptions

__all__ = ["BatchDesk", "add_batch_routes"]

_EXPIRED = "This request could not be executed before the completion window expired."
_CANCELLED = "This request was not executed: the batch was cancelled."
_FINISHED = ("completed", "failed", "expired", "cancelled")


@dataclass
class _File:
    id: str
    data: bytes
    filename: str
    purpose: str
    created_at: int

    def object(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, Any] | None
    lines: list[dict[str, Any]]
    created_at: int
    started: float
    """``time.monotonic()`` at creation: the batch's progress is measured from here."""
    options: ServerOptions
    """The options in force when the batch was created (later ``set()`` calls do not change it)."""
    errors: list[dict[str, Any]] = field(default_factory=list)
    """Validation errors: a batch with any is ``failed`` at once."""
    cancelled_at: float | None = None
    done_at_cancel: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    finished_status: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    line_errors: dict[int, str | None] = field(default_factory=dict)
    """Each line's scripted failure, drawn once (a script may answer differently when asked again)."""


class BatchDesk:
    """The files and batches one server holds, and its batch counters.

    Example:
        >>> from workbench.testing import JudgeServer
        >>> with JudgeServer() as server:
        ...     server.batch_stats()["batches_created"]
        0
    """

    def __init__(
        self,
        options: Callable[[], ServerOptions],
        answer: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]],
    ) -> None:
        self._options = options
        """The server's options in force."""
        self._answer = answer
        """What the chat endpoint would answer a request body with: ``(status, JSON body)``."""
        self._lock = threading.Lock()
        self._files: dict[str, _File] = {}
        self._batches: dict[str, _Batch] = {}
        self._cut: set[str] = set()
        self.clear()

    def clear(self) -> None:
        """Forget every file and batch and zero the counters."""
        with self._lock:
            self._files.clear()
            self._batches.clear()
            self._cut.clear()
            self._stats = dict.fromkeys(
                ("uploads", "batches_created", "retrieves", "lists", "cancels", "downloads", "lines_run"), 0
            )

    def stats(self) -> dict[str, int]:
        """Counters: ``uploads``, ``batches_created``, ``retrieves``, ``lists``, ``cancels``,
        ``downloads`` (file contents sent) and ``lines_run`` (batch lines answered)."""
        with self._lock:
            return dict(self._stats)

    def batches(self) -> list[dict[str, Any]]:
        """Every batch created, oldest first: ``id``, ``status``, ``custom_ids`` (in file order),
        ``request_counts`` and ``metadata``."""
        with self._lock:
            items = list(self._batches.values())
        out = []
        for b in items:
            status = self._status(b)
            out.append(
                {
                    "id": b.id,
                    "status": status,
                    "custom_ids": [line.get("custom_id") for line in b.lines],
                    "request_counts": dict(b.counts),
                    "metadata": dict(b.metadata or {}),
                }
            )
        return out

    # -- handlers -----------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        purpose = form.get("purpose")
        upload = form.get("file")
        if purpose is None or upload is None or not hasattr(upload, "file"):
            return _error(400, "Uploading a file needs multipart fields 'file' and 'purpose'.")
        data = upload.file.read()
        f = _File(
            id="file-" + secrets.token_hex(12),
            data=data,
            filename=str(getattr(upload, "filename", None) or "upload.jsonl"),
            purpose=str(purpose),
            created_at=int(time.time()),
        )
        with self._lock:
            self._files[f.id] = f
            self._stats["uploads"] += 1
        return _json(f.object())

    async def file(self, request: web.Request) -> web.Response:
        f = self._files.get(request.match_info["file_id"])
        if f is None:
            return _no_file(request.match_info["file_id"])
        return _json(f.object())

    async def delete_file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        with self._lock:
            gone = self._files.pop(file_id, None)
        if gone is None:
            return _no_file(file_id)
        return _json({"id": file_id, "object": "file", "deleted": True})

    async def content(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        f = self._files.get(file_id)
        if f is None:
            return _no_file(file_id)
        cut = self._options().batch_cut_download_bytes
        with self._lock:
            self._stats["downloads"] += 1
            cut_now = cut is not None and f.purpose == "batch_output" and file_id not in self._cut
            if cut_now:
                self._cut.add(file_id)
        response = web.StreamResponse(
            status=200,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(f.data))},
        )
        await response.prepare(request)
        if cut_now and cut is not None:
            # a download cut short: part of the file, then the connection drops
            await response.write(f.data[:cut])
            if request.transport is not None:
                request.transport.close()
            return response
        for start in range(0, len(f.data), 64 * 1024):
            await response.write(f.data[start : start + 64 * 1024])
        await response.write_eof()
        return response

    async def create(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as e:
            return _error(400, f"The request body is not valid JSON: {e}")
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        missing = [k for k in ("input_file_id", "endpoint", "completion_window") if not body.get(k)]
        if missing:
            return _error(400, f"Creating a batch needs {missing}.")
        f = self._files.get(str(body["input_file_id"]))
        if f is None:
            return _no_file(str(body["input_file_id"]))
        opts = self._options()
        lines, errors = _parse_input(f.data, str(body["endpoint"]), opts)
        batch = _Batch(
            id="batch_" + secrets.token_hex(12),
            input_file_id=f.id,
            endpoint=str(body["endpoint"]),
            completion_window=str(body["completion_window"]),
            metadata=body.get("metadata"),
            lines=lines,
            created_at=int(time.time()),
            started=time.monotonic(),
            options=opts,
            errors=errors,
        )
        batch.counts["total"] = len(lines)
        with self._lock:
            self._batches[batch.id] = batch
            self._stats["batches_created"] += 1
        if opts.batch_create_delay_s > 0:
            await asyncio.sleep(min(opts.batch_create_delay_s, 600.0))
        return _json(self._object(batch, "failed" if errors else "validating"))

    async def retrieve(self, request: web.Request) -> web.Response:
        batch = self._batches.get(request.match_info["batch_id"])
        if batch is None:
            return _no_batch(request.match_info["batch_id"])
        with self._lock:
            self._stats["retrieves"] += 1
        return _json(self._object(batch, self._status(batch)))

    async def cancel(self, request: web.Request) -> web.Response:
        batch = self._batches.get(request.match_info["batch_id"])
        if batch is None:
            return _no_batch(request.match_info["batch_id"])
        status = self._status(batch)
        if status in _FINISHED:
            return _error(409, f"Cannot cancel a batch with status '{status}'.")
        with self._lock:
            self._stats["cancels"] += 1
            batch.done_at_cancel = self._done(batch, time.monotonic())
            batch.cancelled_at = time.monotonic()
        return _json(self._object(batch, "cancelling"))

    async def list(self, request: web.Request) -> web.Response:
        with self._lock:
            self._stats["lists"] += 1
            items = list(self._batches.values())
        data = [self._object(b, self._status(b)) for b in reversed(items)]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return _json({"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": False})

    # -- the batch's progress -----------------------------------------------------------

    def _done(self, batch: _Batch, now: float) -> int:
        """Lines the batch has answered by ``now`` (it answers them at an even pace)."""
        n = len(batch.lines)
        delay = batch.options.batch_delay_s
        if batch.cancelled_at is not None:
            return batch.done_at_cancel
        elapsed = now - batch.started
        done = n if delay <= 0 or elapsed >= delay else math.floor(n * elapsed / delay)
        limit = batch.options.batch_expire_after
        return min(done, limit) if limit is not None else done

    def _status(self, batch: _Batch) -> str:
        if batch.errors:
            return "failed"
        if batch.finished_status is not None:
            return batch.finished_status
        now = time.monotonic()
        n = len(batch.lines)
        if batch.cancelled_at is not None:
            self._finish(batch, batch.done_at_cancel, "cancelled")
            return "cancelled"
        delay = batch.options.batch_delay_s
        over = delay <= 0 or now - batch.started >= delay
        done = self._done(batch, now)
        if not over:
            batch.counts["completed"], batch.counts["failed"] = self._split(batch, done)
            return "in_progress"
        limit = batch.options.batch_expire_after
        self._finish(batch, done, "expired" if limit is not None and limit < n else "completed")
        assert batch.finished_status is not None
        return batch.finished_status

    def _split(self, batch: _Batch, done: int) -> tuple[int, int]:
        failed = sum(1 for k in range(done) if self._line_error(batch, k) is not None)
        return done - failed, failed

    def _line_error(self, batch: _Batch, k: int) -> str | None:
        if k not in batch.line_errors:
            batch.line_errors[k] = self._draw_error(batch, batch.lines[k])
        return batch.line_errors[k]

    def _draw_error(self, batch: _Batch, line: dict[str, Any]) -> str | None:
        opts = batch.options
        if opts.batch_line_error is not None:
            message = opts.batch_line_error(line)
            if message is not None:
                return str(message)
        if opts.batch_error_rate > 0:
            digest = hashlib.sha256(f"{opts.seed}\0{line.get('custom_id')}".encode()).digest()
            if int.from_bytes(digest[:8], "big") / 2**64 < opts.batch_error_rate:
                return "The server had an error processing this request (simulated by workbench.testing)."
        return None

    def _finish(self, batch: _Batch, done: int, status: str) -> None:
        """Answer the first ``done`` lines, write the output and error files, settle the status."""
        with self._lock:
            if batch.finished_status is not None:
                return
            batch.finished_status = status
        out: list[bytes] = []
        err: list[bytes] = []
        completed = failed = 0
        for k, line in enumerate(batch.lines):
            custom_id = line.get("custom_id")
            rid = "batch_req_" + hashlib.sha256(f"{batch.id}\0{custom_id}".encode()).hexdigest()[:24]
            if k >= done:
                message, code = (
                    (_CANCELLED, "batch_cancelled") if status == "cancelled" else (_EXPIRED, "batch_expired")
                )
                err.append(_line(rid, custom_id, None, {"code": code, "message": message}))
                failed += 1
                continue
            problem = self._line_error(batch, k)
            if problem is not None:
                response = {
                    "status_code": 500,
                    "request_id": rid,
                    "body": {
                        "error": {"message": problem, "type": "server_error", "param": None, "code": None}
                    },
                }
                err.append(_line(rid, custom_id, response, None))
                failed += 1
                continue
            status_code, body = self._answer(line["body"])
            response = {"status_code": status_code, "request_id": rid, "body": body}
            if status_code == 200:
                out.append(_line(rid, custom_id, response, None))
                completed += 1
            else:
                err.append(_line(rid, custom_id, response, None))
                failed += 1
        with self._lock:
            self._stats["lines_run"] += done
            batch.counts.update(completed=completed, failed=failed)
            if out:
                batch.output_file_id = self._new_file(b"".join(out), f"{batch.id}_output.jsonl")
            if err:
                batch.error_file_id = self._new_file(b"".join(err), f"{batch.id}_error.jsonl")

    def _new_file(self, data: bytes, name: str) -> str:
        f = _File(
            id="file-" + secrets.token_hex(12),
            data=data,
            filename=name,
            purpose="batch_output",
            created_at=int(time.time()),
        )
        self._files[f.id] = f
        return f.id

    def _object(self, batch: _Batch, status: str) -> dict[str, Any]:
        now = int(time.time())
        finished = status in _FINISHED
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": batch.endpoint,
            "errors": {"object": "list", "data": batch.errors} if batch.errors else None,
            "input_file_id": batch.input_file_id,
            "completion_window": batch.completion_window,
            "status": status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "created_at": batch.created_at,
            "in_progress_at": batch.created_at if status != "validating" else None,
            "expires_at": batch.created_at + 24 * 3600,
            "finalizing_at": now if finished else None,
            "completed_at": now if status == "completed" else None,
            "failed_at": now if status == "failed" else None,
            "expired_at": now if status == "expired" else None,
            "cancelling_at": now if batch.cancelled_at is not None else None,
            "cancelled_at": now if status == "cancelled" else None,
            "request_counts": dict(batch.counts),
            "metadata": batch.metadata,
        }


def add_batch_routes(app: web.Application, desk: BatchDesk) -> None:
    """Route the files and batches endpoints (with and without ``/v1``) to ``desk``."""
    for prefix in ("/v1", ""):
        app.router.add_post(prefix + "/files", desk.upload)
        app.router.add_get(prefix + "/files/{file_id}", desk.file)
        app.router.add_delete(prefix + "/files/{file_id}", desk.delete_file)
        app.router.add_get(prefix + "/files/{file_id}/content", desk.content)
        app.router.add_post(prefix + "/batches", desk.create)
        app.router.add_get(prefix + "/batches", desk.list)
        app.router.add_get(prefix + "/batches/{batch_id}", desk.retrieve)
        app.router.add_post(prefix + "/batches/{batch_id}/cancel", desk.cancel)

    async def batch_stats(request: web.Request) -> web.Response:
        return _json({**desk.stats(), "batches": desk.batches()})

    app.router.add_get("/batch_stats", batch_stats)


def _parse_input(
    data: bytes, endpoint: str, opts: ServerOptions
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The input file's request lines, and the validation errors OpenAI would report."""
    errors: list[dict[str, Any]] = []
    if len(data) > opts.batch_max_bytes:
        errors.append(
            {
                "code": "file_too_large",
                "message": (
                    f"The input file has {len(data):,} bytes; a batch takes at most {opts.batch_max_bytes:,}."
                ),
                "param": None,
                "line": None,
            }
        )
    lines: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            errors.append({"code": "invalid_json_line", "message": "This line is not valid JSON.", "line": n})
            continue
        if not isinstance(line, dict):
            errors.append({"code": "invalid_request", "message": "A line must be a JSON object.", "line": n})
            continue
        custom_id = line.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            errors.append({"code": "missing_custom_id", "message": "Each line needs a custom_id.", "line": n})
        elif custom_id in seen:
            errors.append(
                {
                    "code": "duplicate_custom_id",
                    "message": f"custom_id {custom_id!r} is used twice.",
                    "line": n,
                }
            )
        else:
            seen.add(custom_id)
        if line.get("method") != "POST" or line.get("url") != endpoint:
            errors.append(
                {
                    "code": "mismatched_endpoint",
                    "message": f"Each line must be a POST to {endpoint}, as the batch says.",
                    "line": n,
                }
            )
        if not isinstance(line.get("body"), dict):
            errors.append({"code": "invalid_request", "message": "Each line needs a JSON body.", "line": n})
        lines.append(line)
    if len(lines) > opts.batch_max_requests:
        errors.append(
            {
                "code": "too_many_requests",
                "message": (
                    f"The batch has {len(lines):,} requests; a batch takes at most "
                    f"{opts.batch_max_requests:,}."
                ),
                "param": None,
                "line": None,
            }
        )
    return lines, errors


def _line(rid: str, custom_id: Any, response: dict[str, Any] | None, error: dict[str, Any] | None) -> bytes:
    return orjson.dumps({"id": rid, "custom_id": custom_id, "response": response, "error": error}) + b"\n"


def _json(data: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def _no_file(file_id: str) -> web.Response:
    return _error(404, f"No such File object: {file_id}")


def _no_batch(batch_id: str) -> web.Response:
    return _error(404, f"No batch found with id '{batch_id}'.")
