"""Which values are secrets, and how they are kept out of everything workbench writes.

One rule serves the call layer's error texts, the run store (parameters and results), the
widgets' messages, reports and the CLI:

- a **parameter** is secret when its name has a credential word (``key``, ``token``,
  ``secret``, ``password``, ``auth``, ``header``, ``cookie``, ``signature``...); everything under
  such a name is secret, at any depth (``extra_headers={"Authorization": "Bearer ..."}``);
  values shorter than 4 characters are too short to find in text safely and are ignored. Where
  a request goes (``api_base``, ``base_url``) is not secret, so messages can say which endpoint
  failed, but the credentials a URL may carry are: its password and its query values;
- an **environment variable** is secret when its name has a ``KEY``, ``KEYS`` or ``AUTH`` part
  (``OPENAI_API_KEY``; not ``KEYBOARD``) or has ``TOKEN``, ``SECRET``, ``PASSW``, ``CREDENTIAL``
  or ``APIKEY`` anywhere in it (``PGPASSWORD``), and its value has at least 8 characters;
- a secret found in text becomes :data:`REDACTED`, longest secrets first. For an HTTP
  credential (``Bearer xyz``) the credential alone (``xyz``) is a secret too, as servers echo
  either.

Example:
    >>> from workbench.secrets import redact, secret_values
    >>> secrets = secret_values({"api_key": "sk-123456", "api_base": "https://gw.example/v1?key=gw-99",
    ...                          "extra_headers": {"Authorization": "Bearer tok-99"}})
    >>> redact("401 from https://gw.example/v1?key=gw-99: sk-123456 rejected ('Bearer tok-99')", secrets)
    "401 from https://gw.example/v1?key=[redacted]: [redacted] rejected ('[redacted]')"
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "REDACTED",
    "TRANSPORT_PARAMS",
    "env_secrets",
    "known_secrets",
    "redact",
    "redact_frame",
    "safe_params",
    "secret_name",
    "secret_values",
]

REDACTED = "[redacted]"
"""What a secret is replaced by, everywhere."""

TRANSPORT_PARAMS = frozenset(
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
        "aws_profile_name",
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

_SECRET_WORDS = frozenset(
    {
        "key",
        "apikey",
        "secret",
        "password",
        "passwd",
        "pwd",
        "token",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "cookie",
        "cookies",
        "header",
        "headers",
        "bearer",
        "signature",
    }
)
"""A parameter whose name has one of these words is secret (``max_tokens`` has ``tokens``: not secret)."""

_URL_PARAMS = frozenset({"api_base", "base_url", "cache"})
"""Transport settings holding a URL: only the credentials in it are secret."""

_ENV_SECRET_PARTS = frozenset({"KEY", "KEYS", "AUTH"})
_ENV_SECRET_TEXT = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|APIKEY", re.IGNORECASE)
_MIN_PARAM_SECRET = 4
_MIN_ENV_SECRET = 8
_SCHEME = re.compile(r"^(?:bearer|basic|token|apikey|key)\s+(\S{4,})$", re.IGNORECASE)


def secret_name(name: object) -> bool:
    """Whether a parameter called ``name`` may hold a credential.

    Example:
        >>> [secret_name(n) for n in ("api_key", "extra_headers", "api_base", "max_tokens", "timeout")]
        [True, True, False, False, False]
    """
    text = str(name)
    words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text).lower())
    return any(w in _SECRET_WORDS for w in words)


def secret_values(params: Mapping[str, Any] | None) -> list[str]:
    """The values held under secret names in ``params``, at any depth, with the credential
    part of ``Bearer xyz``-style values added: what must never be shown or stored.

    Example:
        >>> secret_values({"api_key": "sk-123", "params": {"temperature": 0},
        ...                "extra_headers": {"X": "Bearer tok-9"}})
        ['sk-123', 'Bearer tok-9', 'tok-9']
    """
    out: list[str] = []
    for value in _values(params or {}, False):
        if len(value) >= _MIN_PARAM_SECRET:
            out.append(value)
            scheme = _SCHEME.match(value.strip())
            if scheme:
                out.append(scheme.group(1))
    return list(dict.fromkeys(out))


def _values(value: Any, under_secret: bool) -> list[str]:
    if isinstance(value, Mapping):
        return [
            s
            for k, v in value.items()
            for s in (
                _url_secrets(v)
                if str(k).lower() in _URL_PARAMS
                else _values(v, under_secret or secret_name(k))
            )
        ]
    if isinstance(value, list | tuple | set | frozenset):
        return [s for v in value for s in _values(v, under_secret)]
    if not under_secret or value is None or isinstance(value, bool):
        return []
    if hasattr(value, "get_secret_value"):  # pydantic SecretStr
        value = value.get_secret_value()
    return [str(value)]


def _url_secrets(url: object) -> list[str]:
    """The credentials a URL carries: the password of ``user:password@`` and query values."""
    from urllib.parse import parse_qsl, urlsplit

    if not isinstance(url, str):
        return []
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return []
    return [v for v in [password or "", *(v for _, v in parse_qsl(parts.query))] if v]


def env_secrets(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment variables named like credentials (``OPENAI_API_KEY``...) whose value has at
    least 8 characters, by name.

    Example:
        >>> env_secrets({"OPENAI_API_KEY": "sk-abc123456", "KEYBOARD": "us-intl-x", "MY_TOKEN": "short"})
        {'OPENAI_API_KEY': 'sk-abc123456'}
    """
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if _secret_env_name(k) and len(v.strip()) >= _MIN_ENV_SECRET}


def _secret_env_name(name: str) -> bool:
    parts = set(re.split(r"[^A-Z0-9]+", name.upper()))
    return bool(parts & _ENV_SECRET_PARTS) or _ENV_SECRET_TEXT.search(name) is not None


def known_secrets(
    params: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Every secret a run knows: those in ``params`` (see :func:`secret_values`) and the
    credential-like environment variables.

    Example:
        >>> known_secrets({"api_key": "sk-123456"}, environ={"GROQ_API_KEY": "gsk-abcdefgh"})
        ['sk-123456', 'gsk-abcdefgh']
    """
    return list(dict.fromkeys([*secret_values(params), *env_secrets(environ).values()]))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret replaced by :data:`REDACTED`, longest first (one secret may
    contain another).

    Example:
        >>> redact("key sk-123456 and sk-123456-long", ["sk-123456", "sk-123456-long"])
        'key [redacted] and [redacted]'
    """
    for s in sorted({s for s in secrets if s}, key=len, reverse=True):
        if s in text:
            text = text.replace(s, REDACTED)
    return text


def redact_frame(frame: pd.DataFrame, secrets: Iterable[str]) -> pd.DataFrame:
    """``frame`` with each secret replaced by :data:`REDACTED` in its string columns (one
    vectorised pass per column; columns without a hit are not copied).

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"error": pd.array(["401: sk-123456 is wrong", None], dtype="string")})
        >>> redact_frame(frame, ["sk-123456"])["error"].tolist()
        ['401: [redacted] is wrong', <NA>]
    """
    import pandas as pd

    ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
    if not ordered or frame.empty:
        return frame
    pattern = "|".join(re.escape(s) for s in ordered)
    changed: dict[str, pd.Series] = {}
    for name in frame.columns:
        col = frame[name]
        if not (pd.api.types.is_string_dtype(col.dtype) and col.dtype != object) and not (
            col.dtype == object and pd.api.types.infer_dtype(col, skipna=True) == "string"
        ):
            continue
        hits = col.str.contains(pattern, regex=True)
        if bool(hits.fillna(False).any()):
            changed[str(name)] = col.str.replace(pattern, REDACTED, regex=True)
    return frame.assign(**changed) if changed else frame


_HARMLESS_TRANSPORT = frozenset({"timeout", "max_retries", "num_retries"})
"""Transport settings that say how a run behaved and hold no secret: kept in stored parameters."""


def safe_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` as plain JSON data fit to store: every secret-named entry and every transport
    setting (``api_key``, ``api_base``, ``headers``, ``aws_*``...; not ``timeout`` and retries)
    is dropped at any depth; strings holding a secret value are redacted; objects other than
    JSON data become ``<TypeName>``.

    Example:
        >>> safe_params({"concurrency": 8, "api_key": "sk-1", "params": {"max_tokens": 50},
        ...              "extra_headers": {"Authorization": "Bearer x"}, "timeout": 30})
        {'concurrency': 8, 'params': {'max_tokens': 50}, 'timeout': 30}
    """
    result = _clean(params, known_secrets(params))
    assert isinstance(result, dict)
    return result


def _dropped(name: object) -> bool:
    text = str(name).lower()
    return secret_name(name) or (text in TRANSPORT_PARAMS and text not in _HARMLESS_TRANSPORT)


def _clean(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _clean(v, secrets) for k, v in value.items() if not _dropped(k)}
    if isinstance(value, list | tuple):
        return [_clean(v, secrets) for v in value]
    if isinstance(value, str):
        return redact(value, secrets)
    if value is None or isinstance(value, bool | int | float):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy scalars
        return _clean(value.item(), secrets)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return f"<{type(value).__name__}>"
