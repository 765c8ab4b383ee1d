"""Which judge calls may take the lean transport: decided by litellm's own resolution.

litellm stays the provider layer: it resolves the provider, the base URL, the key (from the
arguments or its environment variables), the model name to send and how it maps sampling
parameters. :func:`resolve_route` asks it, once per run, for the exact request it would make
for a probe judge call with the run's parameters (litellm builds the request and stops
before any network I/O), and takes the lean path only when that request is a plain OpenAI
chat completion: ``POST {api_base}/chat/completions`` with a bearer key, the messages
unchanged, the ``response_format`` unchanged and the parameters sent as
:func:`~workbench.llm.build_body` sends them. Anything else (Azure, Anthropic, Bedrock,
Vertex, a provider whose transformation rewrites the request, a model litellm would send to
the Responses API, a resolution error) stays on litellm, which reports its own errors.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import shorten
from ..secrets import redact, secret_values
from ._import import import_litellm
from ._lean import build_body, safe_url

__all__ = ["LeanRoute", "RouteDecision", "lean_route", "resolve_route"]

_PROBE_MESSAGES: tuple[dict[str, str], ...] = (
    {"role": "system", "content": "You are a strict judge. Return your verdict as JSON."},
    {"role": "user", "content": "Question: What is 2 + 2?\nAnswer: 4"},
    {"role": "assistant", "content": '{"accuracy": {"reason": "Correct.", "score": 5}'},
    {"role": "user", "content": "Your reply was not valid JSON. Send the verdict again."},
)
"""A judge call's shape, repair turn included: system and user prompts, string contents."""

_PROBE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "verdict",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "accuracy": {
                    "type": "object",
                    "properties": {
                        "reason": {"type": "string"},
                        "score": {"type": "integer", "minimum": 1, "maximum": 5},
                        "label": {"type": "string", "enum": ["fail", "pass"]},
                    },
                    "required": ["reason", "score", "label"],
                    "additionalProperties": False,
                }
            },
            "required": ["accuracy"],
            "additionalProperties": False,
        },
    },
}
"""What a judge's ``response_format`` looks like (strict JSON schema, nested, enum, bounds)."""

_SDK_ONLY = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})
"""Keys of the OpenAI SDK's call that are not body fields (``extra_body`` is merged into it)."""


@dataclass(frozen=True, kw_only=True)
class LeanRoute:
    """Where and how the lean transport sends one model's calls, as litellm resolved them.

    Build one with :func:`lean_route`; send with :class:`~workbench.llm.LeanClient`. The repr
    names the headers but never shows their values (they hold the key).

    Example:
        >>> route = LeanRoute(model="openai/judge", provider="openai", model_name="judge",
        ...                   url="http://127.0.0.1:8000/v1/chat/completions",
        ...                   headers={"Authorization": "Bearer sk-secret-123"}, params={"temperature": 0},
        ...                   secrets=("sk-secret-123",))
        >>> route
        LeanRoute(model='openai/judge', provider='openai', model_name='judge',
                  url='http://127.0.0.1:8000/v1/chat/completions', headers=['Authorization'],
                  params={'temperature': 0})
    """

    model: str
    """The litellm model string the route was resolved for (``openai/gpt-4o-mini``)."""
    provider: str
    """litellm's name of the provider (``openai``, ``hosted_vllm``, ``together_ai``...)."""
    model_name: str
    """The model name sent in the body, as litellm sends it (without the provider prefix)."""
    url: str
    """The chat completions endpoint, ``{api_base}/chat/completions``."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Request headers: the bearer key litellm would use, content type, extra headers."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """The sampling parameters exactly as litellm sends them for this model (renamed and
    with ``extra_body`` merged, as litellm does): pass these to :func:`build_body`."""
    secrets: tuple[str, ...] = ()
    """The key and credential header values, scrubbed from every error message."""
    verify_ssl: bool = True
    """Verify TLS certificates (litellm's ``ssl_verify`` setting when the route was made)."""

    def __repr__(self) -> str:
        return (
            f"LeanRoute(model={self.model!r}, provider={self.provider!r}, model_name={self.model_name!r}, "
            f"url={safe_url(self.url)!r}, headers={list(self.headers)!r}, params={dict(self.params)!r})"
        )

    def scrub(self, text: str) -> str:
        """``text`` with this route's credentials replaced by ``[redacted]``.

        Example:
            >>> LeanRoute(model="m", provider="openai", model_name="m", url="http://h/v1/chat/completions",
            ...           secrets=("sk-secret-123",)).scrub("bad key sk-secret-123")
            'bad key [redacted]'
        """
        return redact(text, self.secrets)


@dataclass(frozen=True, kw_only=True)
class RouteDecision:
    """The outcome of :func:`resolve_route`: a route, or None and the reason litellm keeps the calls.

    Example:
        >>> d = resolve_route("anthropic/claude-3-5-sonnet-20241022", {"api_key": "sk-ant-test"})
        >>> d.route is None, d.reason
        (True, "litellm sends provider 'anthropic' through its own handler, not its OpenAI-compatible one")
    """

    route: LeanRoute | None
    reason: str


def lean_route(
    model: str, connection: Mapping[str, Any], *, params: Mapping[str, Any] | None = None
) -> LeanRoute | None:
    """The lean route for ``model``, or None when litellm should make its calls.

    Shorthand for ``resolve_route(...).route``; see :func:`resolve_route`.

    Example:
        >>> lean_route("anthropic/claude-3-5-sonnet-20241022", {"api_key": "sk-ant-test"}) is None
        True
    """
    return resolve_route(model, connection, params=params).route


def resolve_route(
    model: str, connection: Mapping[str, Any], *, params: Mapping[str, Any] | None = None
) -> RouteDecision:
    """Decide, through litellm's own resolution, whether ``model``'s calls can go over the lean path.

    Call it once per run (it takes a few milliseconds, more on litellm's first import), not
    per call. Nothing is sent over the network.

    Args:
        model: a litellm model string (``openai/...``, ``hosted_vllm/...``, ``together_ai/...``).
        connection: what the user gave for transport, as it would be passed to
            ``litellm.acompletion``: ``api_base``/``base_url``, ``api_key``,
            ``headers``/``extra_headers``, ``organization``... Missing ones follow litellm's
            environment variables (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, the provider's own).
        params: the run's sampling parameters (``temperature``, ``max_tokens``, ``seed``,
            ``extra_body``...). litellm's mapping of these for the model is checked and kept in
            :attr:`LeanRoute.params`; pass the same ones the run uses.

    Returns:
        A decision whose ``route`` is None, with the reason, when litellm should make the calls.

    Example:
        >>> connection = {"api_base": "http://127.0.0.1:8000/v1", "api_key": "sk-test-123"}
        >>> d = resolve_route("openai/judge", connection, params={"temperature": 0, "max_tokens": 50})
        >>> d.route.url, d.route.model_name, d.route.headers["Authorization"]
        ('http://127.0.0.1:8000/v1/chat/completions', 'judge', 'Bearer sk-test-123')
        >>> dict(d.route.params)
        {'temperature': 0, 'max_tokens': 50}
        >>> resolve_route("bedrock/anthropic.claude-3-sonnet-20240229-v1:0", {}).reason
        "litellm sends provider 'bedrock' through its own handler, not its OpenAI-compatible one"
    """
    litellm = import_litellm()
    params = dict(params or {})
    conn = dict(connection)
    secrets = secret_values(conn)

    def no(reason: str) -> RouteDecision:
        return RouteDecision(route=None, reason=redact(reason, secrets))

    from litellm.litellm_core_utils.get_llm_provider_logic import declared_authenticating_provider
    from litellm.llms.openai_like.json_loader import JSONProviderRegistry

    declared = declared_authenticating_provider(model, conn.get("custom_llm_provider"))
    if declared is not None:  # resolving would start its interactive sign-in
        return no(f"provider {declared!r} signs in interactively; litellm handles it")
    try:
        _, provider, _, _ = litellm.get_llm_provider(
            model=model,
            custom_llm_provider=conn.get("custom_llm_provider"),
            api_base=conn.get("api_base") or conn.get("base_url"),
            api_key=conn.get("api_key"),
        )
    except Exception as e:  # noqa: BLE001 - litellm reports it again, in its own words, on the call
        return no(f"litellm cannot resolve {model!r}: {shorten(str(e), 300)}")
    # litellm's own set of providers it sends through its OpenAI-compatible chat handler;
    # checked before probing so that no other provider's credential lookup ever runs here
    openai_like = (
        provider in ("openai", "custom_openai")
        or provider in litellm.openai_compatible_providers
        or JSONProviderRegistry.exists(provider)
    )
    if not openai_like:
        return no(
            f"litellm sends provider {provider!r} through its own handler, not its OpenAI-compatible one"
        )
    config = _chat_config(litellm, model, provider)
    if config is not None and not isinstance(config, litellm.OpenAIGPTConfig):
        return no(f"litellm's chat transformation for {provider!r} is not OpenAI's")

    with_format = _capture(litellm, model, conn, params, _PROBE_FORMAT)
    if isinstance(with_format, str):
        return no(with_format)
    without = _capture(litellm, model, conn, params, None)
    if isinstance(without, str):
        return no(without)
    secrets = list(dict.fromkeys([*secrets, *secret_values(with_format.headers), with_format.key or ""]))
    body = with_format.body
    model_name = body.get("model")
    if not isinstance(model_name, str) or not with_format.url.endswith("/chat/completions"):
        return no(
            f"litellm does not call a chat completions endpoint for {model!r} ({safe_url(with_format.url)})"
        )
    if with_format.url != without.url or with_format.headers != without.headers:
        return no("litellm's endpoint or headers depend on the response_format")
    sent_params = {k: v for k, v in without.body.items() if k not in ("model", "messages")}
    expected = build_body(model_name, _PROBE_MESSAGES, _PROBE_FORMAT, sent_params)
    if body != expected or without.body != build_body(model_name, _PROBE_MESSAGES, None, sent_params):
        return no(f"litellm rewrites the request for {model!r}: {_difference(expected, body)}")
    auth = next((v for k, v in with_format.headers.items() if k.lower() == "authorization"), None)
    if auth is not None and not auth.startswith("Bearer "):
        return no("litellm authenticates this provider with something other than a bearer key")
    route = LeanRoute(
        model=model,
        provider=provider,
        model_name=model_name,
        url=with_format.url,
        headers=dict(with_format.headers),
        params=sent_params,
        secrets=tuple(s for s in secrets if s),
        verify_ssl=getattr(litellm, "ssl_verify", True) is not False,
    )
    return RouteDecision(route=route, reason=f"litellm sends {model!r} to an OpenAI-compatible endpoint")


# --- litellm's request, captured before it is sent ---------------------------------------------


@dataclass(frozen=True)
class _Request:
    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    key: str | None


def _chat_config(litellm: Any, model: str, provider: str) -> Any:
    from litellm.types.utils import LlmProviders
    from litellm.utils import ProviderConfigManager

    try:
        return ProviderConfigManager.get_provider_chat_config(model=model, provider=LlmProviders(provider))
    except Exception:  # noqa: BLE001 - a provider litellm configures from JSON has no enum member
        return None


def _capture(
    litellm: Any,
    model: str,
    connection: Mapping[str, Any],
    params: Mapping[str, Any],
    response_format: Mapping[str, Any] | None,
) -> _Request | str:
    """The request litellm would send for a probe call, or why there is none.

    This is what ``litellm.utils.return_raw_request`` does, except that it keeps the real key
    and headers (return_raw_request masks them and substitutes a fake key): litellm's logging
    object in raw-request-only mode raises just before the provider call, at the point where
    litellm logs the exact URL, headers and body it is about to send.
    """
    from litellm.litellm_core_utils.litellm_logging import Logging

    class _Capture(Logging):
        seen: tuple[Any, dict[str, Any]] | None = None

        def pre_call(self, input: Any, api_key: Any, model: Any = None, additional_args: Any = None) -> Any:
            if self.seen is None:  # the first pre-call is the provider request itself
                self.seen = (api_key, dict(additional_args or {}))
            return super().pre_call(input, api_key, model, additional_args or {})  # type: ignore[no-untyped-call]

    log = _Capture(
        model=model,
        messages=list(_PROBE_MESSAGES),
        stream=False,
        call_type="completion",
        litellm_call_id="workbench-route",
        start_time=datetime.datetime.now(),
        function_id="workbench-route",
        raw_request_only=True,
    )
    kwargs: dict[str, Any] = {**params, **connection}
    if response_format is not None:
        kwargs["response_format"] = dict(response_format)
    kwargs.update(
        model=model,
        messages=[dict(m) for m in _PROBE_MESSAGES],
        litellm_logging_obj=log,
        num_retries=0,
        max_retries=0,
    )
    kwargs["no-log"] = True  # litellm's switch that keeps this probe out of user callbacks
    failure: Exception | None = None
    try:
        litellm.completion(**kwargs)
    except Exception as e:  # noqa: BLE001 - the expected stop, or litellm refusing the parameters
        failure = e
    if log.seen is None:
        why = f"{type(failure).__name__}: {shorten(str(failure), 300)}" if failure else "no request was made"
        return f"litellm would not send this call as given ({why})"
    key, args = log.seen
    body = args.get("complete_input_dict")
    if not isinstance(body, dict):
        return "litellm's request has no JSON body"
    extra_headers = body.get("extra_headers") or {}
    if args.get("openai_sdk"):
        # the OpenAI SDK appends the path to its base URL, sends the key as a bearer token and
        # merges extra_body into the body's top level
        url = str(args.get("api_base") or "").rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        headers["Content-Type"] = "application/json"
        headers["Accept"] = "application/json"
        headers.update(_sdk_identity(litellm, connection))
        headers.update({str(k): str(v) for k, v in dict(extra_headers).items()})
        body = {k: v for k, v in body.items() if k not in _SDK_ONLY} | dict(body.get("extra_body") or {})
    else:
        url = str(args.get("api_base") or "")
        headers = {str(k): str(v) for k, v in dict(args.get("headers") or {}).items()}
    return _Request(url=url, headers=headers, body=body, key=key if isinstance(key, str) else None)


def _sdk_identity(litellm: Any, connection: Mapping[str, Any]) -> dict[str, str]:
    """The organization and project headers the OpenAI SDK adds, resolved as litellm and the SDK do."""
    import os

    out = {}
    org = connection.get("organization") or litellm.organization or os.environ.get("OPENAI_ORGANIZATION")
    if org:
        out["OpenAI-Organization"] = str(org)
    project = connection.get("project") or os.environ.get("OPENAI_PROJECT_ID")
    if project:
        out["OpenAI-Project"] = str(project)
    return out


def _difference(expected: Mapping[str, Any], sent: Mapping[str, Any]) -> str:
    parts = []
    for k in sorted(set(expected) | set(sent)):
        if k not in sent:
            parts.append(f"drops {k!r}")
        elif k not in expected:
            parts.append(f"adds {k!r}")
        elif expected[k] != sent[k]:
            parts.append(f"changes {k!r}")
    return ", ".join(parts) or "reorders it"
