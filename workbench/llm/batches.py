"""Provider batch calls through litellm's file and batch functions, and batch prices.

The one place batch mode touches litellm (the call layer stays its only importer): where a
model's batch requests go (:func:`batch_endpoint`, resolved by litellm as for a judge call),
the JSONL line of one request (:func:`batch_line`, the same body a direct call sends), the
upload and submission, a batch's status, the output and error files read line by line, and
a reply line turned into a :class:`~workbench.llm.Completion` priced at the batch rate and
written to the judge cache as it is read (:func:`keep_line`).

Batch mode covers the providers whose judge calls litellm sends as plain OpenAI chat
completions *and* whose batches litellm submits through its OpenAI-compatible file and batch
client: ``openai`` (OpenAI, and any OpenAI-compatible server that implements the files and
batches endpoints, such as :class:`workbench.testing.JudgeServer`) and ``litellm_proxy``.

Example:
    >>> batch_price("openai/gpt-4o-mini", 1_000_000, 0)  # litellm's batch price: half of $0.15
    0.075
    >>> batch_price("openai/no-such-model", 10, 10) is None
    True
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..errors import ConfigError
from ..secrets import known_secrets, redact
from ._client import LLM, Completion
from ._import import import_litellm
from ._lean import build_body
from ._route import resolve_route

__all__ = [
    "BATCH_DISCOUNT",
    "BATCH_PROVIDERS",
    "PROVIDER_LIMITS",
    "BatchEndpoint",
    "BatchState",
    "LineResult",
    "batch_endpoint",
    "batch_line",
    "batch_price",
    "cancel_batch",
    "find_batch",
    "keep_line",
    "read_lines",
    "retrieve_batch",
    "submit_batch",
]

BATCH_DISCOUNT = 0.5
"""The discount the providers document for batched requests (OpenAI, Anthropic, Google: 50%),
applied to the direct price where litellm's table has no batch price for a model."""

BATCH_PROVIDERS = ("openai", "litellm_proxy")
"""litellm providers batch mode submits to (see the module docstring)."""

PROVIDER_LIMITS: Mapping[str, tuple[int, int]] = {
    "openai": (50_000, 200 * 2**20),
    "litellm_proxy": (50_000, 200 * 2**20),
}
"""``(requests, bytes)`` one batch may hold, per provider (OpenAI's documented limits)."""

ENDPOINT = "/v1/chat/completions"


@dataclass(frozen=True, kw_only=True)
class BatchEndpoint:
    """Where one model's batches go, as litellm resolves the model and its connection. The
    repr never shows the key.

    Example:
        >>> e = BatchEndpoint(model="openai/m", provider="openai", model_name="m",
        ...                   api_base="http://127.0.0.1:9/v1", api_key="sk-secret")
        >>> "sk-secret" in repr(e)
        False
    """

    model: str
    provider: str
    model_name: str
    """The model name each request body carries (litellm's, without the provider prefix)."""
    api_base: str
    api_key: str | None = field(default=None, repr=False)
    params: Mapping[str, Any] = field(default_factory=dict)
    """The sampling parameters as litellm sends them for this model."""
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def kwargs(self) -> dict[str, Any]:
        """The connection keywords litellm's file and batch functions take."""
        out: dict[str, Any] = {"custom_llm_provider": self.provider, "api_base": self.api_base}
        if self.api_key:
            out["api_key"] = self.api_key
        return out

    def scrub(self, text: str) -> str:
        return redact(text, self.secrets)


@dataclass(frozen=True, kw_only=True)
class BatchState:
    """A batch's status as the provider reports it."""

    id: str
    status: str
    total: int
    completed: int
    failed: int
    output_file: str | None
    error_file: str | None
    message: str | None
    """Why the whole batch failed (its validation errors), when it did."""


@dataclass(frozen=True, kw_only=True)
class LineResult:
    """One line of a batch's output or error file."""

    custom_id: str
    completion: Completion | None
    """The reply, priced at the batch rate; None when the line failed."""
    error: str | None
    """The provider's message for a failed or expired line."""


def batch_endpoint(llm: LLM) -> BatchEndpoint:
    """Where ``llm``'s batches go.

    Raises:
        ConfigError: litellm sends this model's calls to a provider batch mode does not
            cover (the message names the provider and what to do).
    """
    decision = resolve_route(llm.model, llm.connection, params=llm.request)
    route = decision.route
    if route is None and _provider_of(llm.model) in BATCH_PROVIDERS:
        raise ConfigError(
            f"batch mode cannot submit {llm.model!r}: litellm cannot build its requests ({decision.reason}). "
            "Give the connection (api_key=, api_base=) or set the provider's environment variables "
            "(OPENAI_API_KEY...); a resumed run needs them again, as the store never keeps them."
        )
    if route is None or route.provider not in BATCH_PROVIDERS:
        provider = route.provider if route is not None else _provider_of(llm.model)
        raise ConfigError(
            f"batch mode cannot submit {llm.model!r}: its provider is {provider!r}, and batch mode covers "
            f"{list(BATCH_PROVIDERS)} (providers whose judge calls are plain OpenAI chat completions and "
            f"whose batches litellm submits through its OpenAI-compatible file and batch client). Run it "
            "with batch=False (direct calls), or through an OpenAI-compatible endpoint that has batches."
        )
    api_base = route.url.removesuffix("/chat/completions")
    auth = next((v for k, v in route.headers.items() if k.lower() == "authorization"), "")
    api_key = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else llm.connection.get("api_key")
    return BatchEndpoint(
        model=llm.model,
        provider=route.provider,
        model_name=route.model_name,
        api_base=api_base,
        api_key=api_key,
        params=dict(route.params),
        secrets=tuple(route.secrets) + tuple(known_secrets(llm.connection)),
    )


def _provider_of(model: str) -> str:
    try:
        return str(import_litellm().get_llm_provider(model=model)[1])
    except Exception:  # noqa: BLE001 - an unknown provider is named by its prefix
        return model.split("/", 1)[0]


def batch_line(
    endpoint: BatchEndpoint,
    custom_id: str,
    messages: Sequence[Mapping[str, Any]],
    response_format: Mapping[str, Any] | None,
) -> bytes:
    """One request of a batch input file: the body a direct call would send, as JSONL.

    Example:
        >>> e = BatchEndpoint(model="openai/m", provider="openai", model_name="m", api_base="http://h/v1",
        ...                   params={"temperature": 0})
        >>> batch_line(e, "wb-1", [{"role": "user", "content": "hi"}], None)
        b'{"custom_id":"wb-1","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0}}\\n'
    """
    body = build_body(endpoint.model_name, messages, response_format, endpoint.params)
    line = {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}
    return orjson.dumps(line) + b"\n"


async def submit_batch(
    endpoint: BatchEndpoint, data: bytes, metadata: Mapping[str, str], window: str = "24h"
) -> tuple[str, BatchState]:
    """Upload ``data`` (JSONL) and create a batch from it: ``(input file id, batch state)``.

    Raises:
        WorkbenchError: the provider refused the upload or the batch (its message, redacted).
    """
    litellm = import_litellm()
    kw = endpoint.kwargs()
    upload = await _call(
        endpoint,
        "uploading the batch input",
        litellm.acreate_file,
        file=("batch.jsonl", data),
        purpose="batch",
        **kw,
    )
    batch = await _call(
        endpoint,
        "creating the batch",
        litellm.acreate_batch,
        completion_window=window,
        endpoint=ENDPOINT,
        input_file_id=upload.id,
        metadata=dict(metadata),
        **kw,
    )
    return str(upload.id), _state(batch)


async def retrieve_batch(endpoint: BatchEndpoint, batch_id: str) -> BatchState:
    """The batch's status and counts now."""
    litellm = import_litellm()
    batch = await _call(
        endpoint,
        f"polling batch {batch_id}",
        litellm.aretrieve_batch,
        batch_id=batch_id,
        # litellm would otherwise download a finished batch's whole output to log its cost;
        # the reader prices each line itself, and a 200 MB file is not fetched twice
        litellm_metadata={"batch_ignore_default_logging": True},
        **endpoint.kwargs(),
    )
    return _state(batch)


async def find_batch(endpoint: BatchEndpoint, key: str, value: str, pages: int = 10) -> BatchState | None:
    """The newest batch at the provider whose metadata has ``key == value`` (up to ``pages``
    pages of 100 batches, newest first), or None."""
    litellm = import_litellm()
    after: str | None = None
    for _ in range(pages):
        page = await _call(
            endpoint, "listing batches", litellm.alist_batches, after=after, limit=100, **endpoint.kwargs()
        )
        data = list(getattr(page, "data", None) or [])
        for batch in data:
            metadata = getattr(batch, "metadata", None) or {}
            if metadata.get(key) == value:
                return _state(batch)
        if not data or not getattr(page, "has_more", False):
            return None
        after = str(getattr(data[-1], "id", "")) or None
    return None


async def cancel_batch(endpoint: BatchEndpoint, batch_id: str) -> BatchState:
    """Ask the provider to cancel a batch (requests already answered stay in its output)."""
    litellm = import_litellm()
    batch = await _call(
        endpoint,
        f"cancelling batch {batch_id}",
        litellm.acancel_batch,
        batch_id=batch_id,
        **endpoint.kwargs(),
    )
    return _state(batch)


async def read_lines(endpoint: BatchEndpoint, file_id: str) -> AsyncIterator[LineResult]:
    """The lines of a batch's output or error file as they arrive (streamed where litellm
    streams the provider's files), each parsed and priced. A download that breaks part-way
    raises after the lines read before it were given."""
    litellm = import_litellm()
    kw = endpoint.kwargs()
    stream = await _call(
        endpoint,
        f"downloading batch file {file_id}",
        litellm.afile_content,
        file_id=file_id,
        stream=True,
        **kw,
    )
    chunks = getattr(stream, "stream_iterator", None)
    rest = b""
    if chunks is None:  # litellm gave the whole content
        for raw in bytes(getattr(stream, "content", b"") or b"").splitlines():
            if raw.strip():
                yield _line_result(endpoint, raw)
        return
    try:
        async for chunk in chunks:
            rest += bytes(chunk)
            *whole, rest = rest.split(b"\n")
            for raw in whole:
                if raw.strip():
                    yield _line_result(endpoint, raw)
    except Exception as e:  # noqa: BLE001 - a broken download: say where and why
        raise _failure(endpoint, f"downloading batch file {file_id}", e) from None
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
    if rest.strip():
        yield _line_result(endpoint, rest)


def keep_line(llm: LLM, key: str, completion: Completion) -> None:
    """Write a batch reply to the judge cache under ``key``, as a direct call's reply is."""
    llm._store(key, completion)


def batch_price(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """What that many tokens cost on ``model`` in a batch: litellm's batch prices where its
    table has them, else :data:`BATCH_DISCOUNT` off the direct price; None when litellm has
    no price for the model."""
    litellm = import_litellm()
    try:
        info = litellm.get_model_info(model=model)
    except Exception:  # noqa: BLE001 - an unknown model has no price: missing, never 0
        return None
    direct_in, direct_out = info.get("input_cost_per_token"), info.get("output_cost_per_token")
    rate_in = info.get("input_cost_per_token_batches")
    rate_out = info.get("output_cost_per_token_batches")
    if rate_in is None:
        rate_in = None if direct_in is None else direct_in * BATCH_DISCOUNT
    if rate_out is None:
        rate_out = None if direct_out is None else direct_out * BATCH_DISCOUNT
    if rate_in is None or rate_out is None:
        return None
    return float(prompt_tokens * rate_in + completion_tokens * rate_out)


# --- internals --------------------------------------------------------------------------------


async def _call(target: BatchEndpoint, what: str, fn: Any, /, **kwargs: Any) -> Any:
    """``await fn(**kwargs)``, retried on connection failures and 5xx/429 (three attempts in
    all); a final failure is a WorkbenchError naming the step and the provider's message."""
    attempt = 0
    while True:
        try:
            return await fn(**kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - classified below
            attempt += 1
            status = getattr(e, "status_code", None)
            retryable = not isinstance(status, int) or status >= 500 or status == 429
            if attempt >= 3 or not retryable:
                raise _failure(target, what, e) from None
            await asyncio.sleep(0.5 * 2**attempt)


def _failure(endpoint: BatchEndpoint, what: str, e: BaseException) -> Exception:
    from ..errors import WorkbenchError

    message = endpoint.scrub(f"{type(e).__name__}: {getattr(e, 'message', None) or e}")
    return WorkbenchError(f"batch mode: {what} at {endpoint.provider!r} failed: {message[:1500]}")


def _state(batch: Any) -> BatchState:
    counts = getattr(batch, "request_counts", None)
    errors = getattr(batch, "errors", None)
    message = None
    data = getattr(errors, "data", None) if errors is not None else None
    if data:
        parts = []
        for item in data[:5]:
            line = getattr(item, "line", None)
            text = getattr(item, "message", None) or str(item)
            parts.append(f"{text} (line {line})" if line else str(text))
        message = "; ".join(parts) + (f"; ... {len(data) - 5} more" if len(data) > 5 else "")
    return BatchState(
        id=str(batch.id),
        status=str(batch.status),
        total=int(getattr(counts, "total", 0) or 0),
        completed=int(getattr(counts, "completed", 0) or 0),
        failed=int(getattr(counts, "failed", 0) or 0),
        output_file=getattr(batch, "output_file_id", None),
        error_file=getattr(batch, "error_file_id", None),
        message=message,
    )


def _line_result(endpoint: BatchEndpoint, raw: bytes) -> LineResult:
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return LineResult(custom_id="", completion=None, error=f"an unreadable line: {raw[:200]!r}")
    custom_id = str(line.get("custom_id") or "")
    response = line.get("response") or {}
    error = line.get("error")
    body = response.get("body") if isinstance(response, dict) else None
    status = response.get("status_code") if isinstance(response, dict) else None
    if error or status != 200 or not isinstance(body, dict):
        return LineResult(
            custom_id=custom_id, completion=None, error=endpoint.scrub(_line_error(error, status, body))
        )
    try:
        text = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        text = None
    usage = body.get("usage") or {}
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    cost = batch_price(endpoint.model, prompt or 0, completion or 0)
    if text is None:
        return LineResult(custom_id=custom_id, completion=None, error="the model returned no message content")
    reply = Completion(
        text=str(text), prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost, attempts=1
    )
    return LineResult(custom_id=custom_id, completion=reply, error=None)


def _line_error(error: Any, status: Any, body: Any) -> str:
    if isinstance(error, dict) and (error.get("message") or error.get("code")):
        code = f" [{error['code']}]" if error.get("code") else ""
        return f"{error.get('message') or 'failed'}{code}"
    inner = body.get("error") if isinstance(body, dict) else None
    if isinstance(inner, dict) and inner.get("message"):
        return f"HTTP {status}: {inner['message']}"
    return f"HTTP {status}: the provider gave no reply for this request"
