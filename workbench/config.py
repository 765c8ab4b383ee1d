"""How judge calls are made: :class:`JudgeConfig`, one frozen object for a run's judge calls.

``wb.evaluate(df, suite, model=..., concurrency=8, temperature=0.2)`` is sugar that builds a
``JudgeConfig``; ``judge=wb.JudgeConfig(...)`` passes one whole, and the same object serves
``estimate``, ``render_messages`` and the ``Workbench`` panel. Every keyword has one place to
go: a field of the config, a sampling parameter (``temperature``, ``max_tokens``, ``seed``...:
part of the request body and of the cache key), or a connection setting (``api_base``,
``api_key``, ``extra_headers``...: how the request travels, never in the cache key, never
stored). Anything else is refused with the closest names; provider-specific request
parameters go through ``extra=``.

Example:
    >>> import workbench as wb
    >>> cfg = wb.JudgeConfig.build(model="openai/gpt-4o-mini", temperature=0.3, api_base="http://127.0.0.1:9")
    >>> cfg.params, cfg.connection
    ({'temperature': 0.3}, {'api_base': 'http://127.0.0.1:9'})
    >>> cfg.request_params()
    {'temperature': 0.3}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError, cap_list, closest
from .secrets import TRANSPORT_PARAMS, redact, secret_values

__all__ = ["CACHE_NAMESPACE_KEY", "SAMPLING_PARAMS", "TRANSPORT_ENV", "TRANSPORT_PARAMS", "JudgeConfig"]

TRANSPORT_ENV = "WORKBENCH_TRANSPORT"
"""Environment variable giving the default transport (``auto`` or ``litellm``)."""

SAMPLING_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "n",
        "stop",
        "max_tokens",
        "max_completion_tokens",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "seed",
        "logprobs",
        "top_logprobs",
        "reasoning_effort",
        "verbosity",
        "thinking",
        "service_tier",
        "modalities",
        "prediction",
        "parallel_tool_calls",
        "tools",
        "tool_choice",
        "web_search_options",
        "extra_body",
    }
)
"""Request parameters litellm takes by name for every provider (OpenAI's chat-completions
parameters): given as keywords they join ``params``, so they are sent and keyed."""

_CONNECTION = TRANSPORT_PARAMS - {"timeout", "max_retries", "num_retries"}
"""Transport keywords kept in :attr:`JudgeConfig.connection` (timeouts and retries are fields)."""

CACHE_NAMESPACE_KEY = "workbench_cache_namespace"
"""The reserved entry of :meth:`JudgeConfig.key_params` that carries the cache namespace into
the hashed parameters of the cache key (never into a request)."""

_RESERVED = frozenset({"model", "messages", "response_format", "stream", CACHE_NAMESPACE_KEY})
"""Request fields workbench sets itself; a user cannot set them through params or extra."""

_DEFAULT_PARAMS: dict[str, Any] = {"temperature": 0}


def _default_transport() -> Literal["auto", "litellm"]:
    value = os.environ.get(TRANSPORT_ENV) or "auto"
    if value == "litellm":
        return "litellm"
    if value != "auto":
        raise ConfigError(
            f"{TRANSPORT_ENV}={value!r} is not a transport: set it to 'auto' or 'litellm', or unset it"
        )
    return "auto"


class JudgeConfig(BaseModel):
    """How one run's judge calls are made. Frozen; ``config.model_copy(update=...)`` makes a
    changed copy, :meth:`build` makes one from keywords as ``evaluate`` takes them.

    Example:
        >>> import workbench as wb
        >>> cfg = wb.JudgeConfig(model="openai/gpt-4o-mini", concurrency=8,
        ...                      params={"temperature": 0, "seed": 1})
        >>> cfg.concurrency, cfg.request_params()
        (8, {'temperature': 0, 'seed': 1})
        >>> wb.JudgeConfig.from_params(cfg.to_params()) == cfg
        True
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    model: str | None = None
    """The judge model, a litellm model string (``openai/gpt-4o-mini``); a task's own ``model``
    wins. None is allowed until a judge task needs one."""
    concurrency: int = Field(16, ge=1)
    """Most judge calls in flight at once (per model)."""
    timeout: float = Field(60.0, gt=0)
    """Seconds per attempt."""
    max_retries: int = Field(4, ge=0)
    """Retries after the first attempt, on 429, 5xx, timeouts and connection errors."""
    backoff_s: float = Field(0.5, ge=0)
    """The first retry's backoff; it doubles per attempt (with jitter, at most 20 s)."""
    cache_dir: str | Path | Literal[False] | None = None
    """Where the judge cache lives (default: the workbench home's ``cache``); ``False`` turns
    the cache off."""
    use_cache: bool = True
    """Read and write the cache. ``False`` neither reads nor writes it."""
    refresh: bool = False
    """Call again even when a verdict is cached, and overwrite it."""
    params: dict[str, Any] = Field(default_factory=lambda: dict(_DEFAULT_PARAMS))
    """Sampling parameters sent with every call and part of the cache key (``temperature``,
    ``max_tokens``, ``seed``...). Given whole it replaces the default ``{"temperature": 0}``;
    sampling keywords given to :meth:`build` are merged into it."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """Provider-specific request parameters litellm passes on (``{"top_k": 40}``); sent with
    every call and part of the cache key."""
    connection: dict[str, Any] = Field(default_factory=dict, repr=False)
    """Where and how requests travel (``api_base``, ``api_key``, ``extra_headers``,
    ``api_version``...): passed to the provider layer, never in the cache key, never stored,
    never shown."""
    max_field_chars: int | None = Field(8000, ge=1)
    """Longest a value substituted into a judge prompt may be before it is cut (with a marker)."""
    transport: Literal["auto", "litellm"] = Field(default_factory=_default_transport)
    """``auto``: calls to endpoints that speak OpenAI's chat-completions format (as litellm
    resolves the model) go over workbench's lean HTTP transport, everything else through
    litellm; ``litellm``: every call through ``litellm.acompletion``. The default is
    ``$WORKBENCH_TRANSPORT`` when set, else ``auto``. The cache key never depends on it."""
    cache: str | None = Field(default_factory=lambda: os.environ.get("WORKBENCH_CACHE_URL") or None)
    """A shared judge cache, ``redis://host:port/db`` (``rediss://`` for TLS): verdicts kept in
    Redis with the same keys and rules as the disk cache, so every Dask worker and every rerun
    reads what any of them judged (needs ``pip install 'workbench[redis]'``). The default is
    ``$WORKBENCH_CACHE_URL`` when set, else None: the disk cache in ``cache_dir``. The URL holds
    no password (it is kept with the run's settings): set ``WORKBENCH_CACHE_PASSWORD`` instead.
    ``use_cache=False`` or ``cache_dir=False`` turn either cache off."""
    breaker_after: int = Field(20, ge=1)
    """After this many connection failures or timeouts in a row with no success, the rest of
    the run's calls fail at once as error cells (the provider is unreachable)."""
    cache_namespace: str | None = Field(None, min_length=1)
    """Keys the cache apart without changing what is sent: the same request under another
    namespace misses the plain entry and is cached under its own key (``wb.consistency``
    keys repeat ``k`` as ``consistency/k``, so the repeats are resumable). Never sent to the
    provider; ``None`` (the default) keys as before."""

    def __init__(self, **data: Any) -> None:
        unknown = sorted(set(data) - set(type(self).model_fields))
        if unknown:
            raise ConfigError(_unknown_message(unknown, "JudgeConfig"))
        try:
            super().__init__(**data)
        except ValidationError as e:
            raise ConfigError(_invalid_message(e)) from None

    @field_validator("extra")
    @classmethod
    def _no_sampling(cls, value: dict[str, Any]) -> dict[str, Any]:
        named = sorted(set(value) & (SAMPLING_PARAMS - {"extra_body"}))
        if named:
            raise ValueError(f"{named} are sampling parameters: give them in params= or as keywords")
        return dict(value)

    @field_validator("params", "extra")
    @classmethod
    def _no_reserved_or_transport(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted(set(value) & _RESERVED)
        if reserved:
            raise ValueError(f"{reserved} are set by workbench for every judge call and cannot be given")
        travel = sorted(set(value) & TRANSPORT_PARAMS)
        if travel:
            raise ValueError(
                f"{travel} say where and how a request travels: give them as keywords "
                f"(api_base=..., api_key=...) or in connection=, not here"
            )
        return dict(value)

    @field_validator("cache")
    @classmethod
    def _cache_url(cls, value: str | None) -> str | None:
        from urllib.parse import urlsplit

        if value is None:
            return None
        try:
            parts = urlsplit(value)
            _ = parts.port  # a port that is not a number raises here
        except ValueError as e:
            raise ValueError(f"it cannot be read as a URL ({e}); write it as redis://host:port/db") from None
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("a shared cache is a Redis URL: redis://host:port/db (or rediss://, unix://)")
        if parts.password:
            raise ValueError(
                "the URL carries a password, and a run keeps its settings in the store, where credentials "
                "never go: give the URL without it and the password in WORKBENCH_CACHE_PASSWORD"
            )
        if parts.scheme != "unix" and not parts.hostname:
            raise ValueError("it names no host; write it as redis://host:port/db")
        db = parts.path.strip("/")
        if parts.scheme != "unix" and db and not db.isdigit():
            raise ValueError(f"database {db!r} is not a number (redis://host:port/0)")
        return value

    @field_validator("connection")
    @classmethod
    def _only_transport(cls, value: dict[str, Any]) -> dict[str, Any]:
        other = sorted(set(value) - _CONNECTION)
        if other:
            raise ValueError(
                f"{other} are not connection settings; connection= takes {cap_list(sorted(_CONNECTION), 30)}"
            )
        return dict(value)

    @classmethod
    def build(cls, judge: JudgeConfig | None = None, /, **options: Any) -> JudgeConfig:
        """A config from ``evaluate``-style keywords, on top of ``judge`` (or the defaults).

        Keywords that name a field set it; sampling parameters (``temperature=``, ``seed=``...)
        join ``params``; connection settings (``api_base=``, ``api_key=``, ``extra_headers=``...)
        join ``connection``. A parameter given twice with different values is an error, as is
        an unknown keyword (the message names the closest ones). ``None`` values are ignored.

        Raises:
            ConfigError: an unknown keyword, a value out of range, or a parameter given twice.

        Example:
            >>> import workbench as wb
            >>> wb.JudgeConfig.build(model="openai/m", max_tokens=50).params
            {'temperature': 0, 'max_tokens': 50}
            >>> try:
            ...     wb.JudgeConfig.build(model="openai/m", tranport="litellm")
            ... except wb.ConfigError as e:
            ...     print(str(e).splitlines()[0])
            unknown judge option 'tranport'; did you mean 'transport'?
        """
        base = judge if judge is not None else cls()
        options = {k: v for k, v in options.items() if v is not None}
        fields = set(cls.model_fields)
        update: dict[str, Any] = {k: v for k, v in options.items() if k in fields}
        sampling = {k: v for k, v in options.items() if k in SAMPLING_PARAMS}
        travel = {k: v for k, v in options.items() if k in _CONNECTION}
        unknown = sorted(set(options) - fields - SAMPLING_PARAMS - _CONNECTION)
        if unknown:
            raise ConfigError(_unknown_message(unknown, "judge option"))
        if "num_retries" in options:  # pragma: no cover - guarded by the unknown check
            raise ConfigError("use max_retries=, not num_retries=")
        twice = [
            f"{k}={update['params'][k]!r} in params and {k}={v!r} as a keyword"
            for k, v in sampling.items()
            if "params" in update and k in update["params"] and update["params"][k] != v
        ]
        twice += [
            f"{k}= in connection= and as a keyword"
            for k, v in travel.items()
            if "connection" in update and k in update["connection"] and update["connection"][k] != v
        ]
        if twice:
            raise ConfigError(
                "a request parameter was given twice with different values: "
                + "; ".join(twice)
                + ". Give each once."
            )
        params = dict(update.get("params", base.params))
        connection = dict(update.get("connection", base.connection))
        if sampling:
            update["params"] = {**params, **sampling}
        if travel:
            update["connection"] = {**connection, **travel}
        if not update:
            return base
        return cls(**{**base.model_dump(), **update})

    def request_params(self) -> dict[str, Any]:
        """What every request carries besides model, messages and response format: the
        sampling parameters and the provider extras. The cache key is computed from these."""
        return {**self.params, **self.extra}

    def key_params(self) -> dict[str, Any]:
        """What the cache key is computed from: :meth:`request_params`, plus the
        :attr:`cache_namespace` under the reserved :data:`CACHE_NAMESPACE_KEY` when one is set
        (the request itself never carries it).

        Example:
            >>> import workbench as wb
            >>> wb.JudgeConfig(cache_namespace="repeat/2").key_params()
            {'temperature': 0, 'workbench_cache_namespace': 'repeat/2'}
            >>> wb.JudgeConfig().key_params() == wb.JudgeConfig().request_params()
            True
        """
        params = self.request_params()
        if self.cache_namespace is not None:
            params[CACHE_NAMESPACE_KEY] = self.cache_namespace
        return params

    def to_params(self) -> dict[str, Any]:
        """This config as JSON data fit to store with a run: everything but ``connection``.

        Example:
            >>> import workbench as wb
            >>> wb.JudgeConfig(model="m", connection={"api_key": "sk-x"}).to_params()["model"]
            'm'
        """
        out = self.model_dump(mode="json", exclude={"connection"})
        if isinstance(self.cache_dir, Path):
            out["cache_dir"] = str(self.cache_dir)
        return out

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> JudgeConfig:
        """The config a run was made with, from its stored parameters (``run.params``);
        entries that are not fields (the run's own ``strict``, ``columns``...) are ignored, and
        the connection is empty (it is never stored: pass ``api_base=`` again to call)."""
        fields = set(cls.model_fields) - {"connection"}
        return cls(**{k: v for k, v in params.items() if k in fields})


def _unknown_message(unknown: list[str], what: str) -> str:
    known = sorted(set(JudgeConfig.model_fields) | SAMPLING_PARAMS | _CONNECTION)
    lines = []
    for name in unknown:
        hits = closest(name, known)
        hint = "; did you mean " + " or ".join(repr(h) for h in hits) + "?" if hits else ""
        lines.append(f"unknown {what} {name!r}{hint}")
    lines.append(
        f"Judge options are {cap_list(sorted(JudgeConfig.model_fields), 20)}; sampling parameters "
        f"such as {cap_list(sorted(SAMPLING_PARAMS)[:8], 8)} join params; connection settings such as "
        "api_base, api_key and extra_headers join connection. Provider-specific request parameters "
        "go in extra={...}."
    )
    return "\n".join(lines)


def _invalid_message(error: ValidationError) -> str:
    lines = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or "value"
        got = e.get("input")
        shown = (
            f"{{{', '.join(map(repr, got))}}}"
            if where == "connection" and isinstance(got, dict)
            else redact(repr(got), secret_values({where: got}))  # a cache URL's password, say
        )
        msg = redact(str(e["msg"]).removeprefix("Value error, "), secret_values({where: got}))
        lines.append(f"judge option {where}={shown} is not allowed: {msg}")
    return "\n".join(lines)
