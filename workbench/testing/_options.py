"""The options of a :class:`~workbench.testing.JudgeServer`: :class:`ServerOptions`, scripted
:class:`Reply` objects, and the fault draw."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from ..errors import did_you_mean

HOST = "127.0.0.1"
MODEL_NAME = "workbench-judge"
API_KEY = "sk-workbench-test"
MAX_SLEEP_S = 600.0
"""No handler ever sleeps longer than this, whatever the options say."""


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
    """How many of the latest request bodies :attr:`JudgeServer.requests` (and their headers,
    :attr:`JudgeServer.request_headers`) keeps (0: none)."""
    sampling_noise: float = 0.0
    """A judge that is not self-consistent: for a request at a temperature above 0 that the
    server has already answered (same messages and schema), the share of repeats answered
    with a fresh draw instead of the first answer. Which repeats are redrawn follows from
    the request's hash and its repeat number, so a given order of requests is reproducible.
    0 (the default): the answer depends on the prompt alone."""
    score_weights: Mapping[int, float] | None = None
    """Relative weights of generated integer scores, e.g. ``{5: 6, 4: 3, 3: 1}``: every
    integer property named ``score`` (and the default verdict's score) draws from the values
    inside its bounds by these weights, still from the request's hash, so replies stay
    deterministic; a value left out weighs 0. ``None``: every value in the bounds is equally
    likely. Where no value in the bounds has a weight, the draw is uniform."""
    batch_delay_s: float = 0.0
    """How long a batch takes from creation to its end (``in_progress`` meanwhile, its request
    counts growing at an even pace); 0 ends it on its first retrieval."""
    batch_line_error: Callable[[dict[str, Any]], str | None] | None = None
    """A function of a batch's input line (``custom_id``, ``body``) giving the provider's error
    message for that line (it fails with a 500 in the error file), or None to answer it."""
    batch_error_rate: float = 0.0
    """Share of batch lines that fail (drawn from sha256(seed, custom_id): the same lines fail
    whenever they are sent)."""
    batch_expire_after: int | None = None
    """A batch expires after answering this many lines: the rest come back in the error file
    as ``batch_expired``. None: batches complete."""
    batch_max_requests: int = 50_000
    """Most lines a batch may have (OpenAI's limit); more fail the batch's validation."""
    batch_max_bytes: int = 200 * 2**20
    """Largest input file a batch may have (OpenAI's 200 MB); larger fails its validation."""
    batch_create_delay_s: float = 0.0
    """How long ``POST /v1/batches`` waits, after the batch is created, before it answers (a
    client killed meanwhile never learns the id of a batch that exists)."""
    batch_cut_download_bytes: int | None = None
    """The first download of each batch output file stops after this many bytes and the
    connection drops (a download interrupted part-way); later downloads are whole."""

    def __post_init__(self) -> None:
        problems = []
        rates = {n: getattr(self, n) for n in ("rate_429", "rate_500", "rate_timeout", "rate_malformed")}
        if not 0 <= self.sampling_noise <= 1:
            problems.append(f"sampling_noise={self.sampling_noise!r} is not in [0, 1]")
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
            problems.append(
                f"script must be a function or a list of replies, not {type(self.script).__name__}"
            )
        problems += _weight_problems(self.score_weights)
        problems += _batch_problems(self)
        if problems:
            raise ValueError("Invalid JudgeServer options: " + "; ".join(problems) + ".")


def _weight_problems(weights: object) -> list[str]:
    if weights is None:
        return []
    if not isinstance(weights, Mapping):
        return [f"score_weights must map integer scores to weights, not {type(weights).__name__}"]
    problems = [
        f"score_weights key {k!r} is not an integer score"
        for k in weights
        if not isinstance(k, int) or isinstance(k, bool)
    ]
    problems += [
        f"score_weights[{k!r}]={v!r} is not a finite weight >= 0"
        for k, v in weights.items()
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0
    ]
    if not problems and not any(v > 0 for v in weights.values()):
        problems.append("score_weights gives every score weight 0")
    return problems


def _batch_problems(opts: ServerOptions) -> list[str]:
    problems = []
    for name in ("batch_delay_s", "batch_create_delay_s"):
        if getattr(opts, name) < 0:
            problems.append(f"{name}={getattr(opts, name)!r} is negative")
    if not 0 <= opts.batch_error_rate <= 1:
        problems.append(f"batch_error_rate={opts.batch_error_rate!r} is not in [0, 1]")
    if opts.batch_line_error is not None and not callable(opts.batch_line_error):
        problems.append("batch_line_error must be a function of the line, or None")
    for name in ("batch_expire_after", "batch_cut_download_bytes"):
        value = getattr(opts, name)
        if value is not None and (not isinstance(value, int) or value < 0):
            problems.append(f"{name}={value!r} is not a count >= 0 (or None)")
    for name in ("batch_max_requests", "batch_max_bytes"):
        if getattr(opts, name) < 1:
            problems.append(f"{name}={getattr(opts, name)!r} is not a count >= 1")
    return problems


OPTION_NAMES = tuple(f.name for f in dataclasses.fields(ServerOptions))


def make_options(base: ServerOptions, options: dict[str, Any]) -> ServerOptions:
    unknown = [k for k in options if k not in OPTION_NAMES]
    if unknown:
        hint = did_you_mean(unknown[0], OPTION_NAMES)
        msg = f"Unknown JudgeServer option {unknown[0]!r}{hint} Options: {', '.join(OPTION_NAMES)}."
        raise ValueError(msg)
    return dataclasses.replace(base, **options)


def pick_fault(u: float, opts: ServerOptions) -> str | None:
    for kind, rate in (
        ("429", opts.rate_429),
        ("500", opts.rate_500),
        ("timeout", opts.rate_timeout),
        ("malformed", opts.rate_malformed),
    ):
        if u < rate:
            return kind
        u -= rate
    return None
