"""What a run records of its parameters, with every credential removed."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..config import TRANSPORT_PARAMS

__all__ = ["safe_params", "scrub_secrets", "secret_values"]

_HARMLESS_TRANSPORT = frozenset({"timeout", "max_retries", "num_retries"})
"""Transport settings that say how a run behaved and can hold no secret."""

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
"""A parameter whose name has one of these words is dropped (``max_tokens`` has ``tokens``, kept)."""

_ENV_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH", re.IGNORECASE)
REDACTED = "[redacted]"


def secret_name(name: object) -> bool:
    """Whether a parameter called ``name`` may hold a credential or routing secret."""
    text = str(name)
    if text.lower() in TRANSPORT_PARAMS and text.lower() not in _HARMLESS_TRANSPORT:
        return True
    words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text).lower())
    return any(w in _SECRET_WORDS for w in words)


def safe_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` as plain JSON data with every credential-like entry removed.

    Keys naming keys, tokens, secrets, passwords, auth or headers are dropped at any depth,
    as are litellm's transport settings (``api_key``, ``api_base``, ``headers``,
    ``aws_*``...) except ``timeout`` and retries; string values holding a dropped secret
    are redacted; objects other than JSON data become ``<TypeName>``.

    Example:
        >>> safe_params({"concurrency": 8, "api_key": "sk-1", "params": {"max_tokens": 50},
        ...              "extra_headers": {"Authorization": "Bearer x"}, "timeout": 30})
        {'concurrency': 8, 'params': {'max_tokens': 50}, 'timeout': 30}
    """
    return _clean(params, secret_values(params))


def secret_values(params: Mapping[str, Any]) -> list[str]:
    """The values (4 characters or more) held under credential-like names in ``params``,
    at any depth: what must never be shown or stored.

    Example:
        >>> secret_values({"api_key": "sk-123", "params": {"temperature": 0}, "extra_headers": {"X": "tok-9"}})
        ['sk-123', 'tok-9']
    """
    return [s for s in _secret_values(params) if len(s) >= 4]


def _secret_values(value: Any, under_secret: bool = False) -> list[str]:
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in _secret_values(v, under_secret or secret_name(k))]
    if isinstance(value, list | tuple | set):
        return [s for v in value for s in _secret_values(v, under_secret)]
    return [str(value)] if under_secret and value is not None else []


def _clean(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _clean(v, secrets) for k, v in value.items() if not secret_name(k)}
    if isinstance(value, list | tuple):
        return [_clean(v, secrets) for v in value]
    if isinstance(value, str):
        return REDACTED if any(s in value for s in secrets) else value
    if value is None or isinstance(value, bool | int | float):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy scalars
        return _clean(value.item(), secrets)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return f"<{type(value).__name__}>"


def env_secrets() -> list[str]:
    """Values of environment variables named like credentials (``OPENAI_API_KEY``...),
    at least 12 characters long: long enough never to be an ordinary word."""
    return [v for k, v in os.environ.items() if _ENV_SECRET.search(k) and len(v) >= 12 and not v.isspace()]


def scrub_secrets(results: pd.DataFrame, secrets: list[str]) -> pd.DataFrame:
    """``results`` with each secret replaced by ``[redacted]`` in its string columns (one
    vectorised regex pass per column; columns without a hit are not copied)."""
    secrets = [s for s in dict.fromkeys(secrets) if s]
    if not secrets or results.empty:
        return results
    pattern = "|".join(re.escape(s) for s in secrets)
    changed: dict[str, pd.Series] = {}
    for name in results.columns:
        col = results[name]
        if not (pd.api.types.is_string_dtype(col.dtype) and col.dtype != object) and not (
            col.dtype == object and pd.api.types.infer_dtype(col, skipna=True) == "string"
        ):
            continue
        hits = col.str.contains(pattern, regex=True)
        if bool(hits.fillna(False).any()):
            changed[name] = col.str.replace(pattern, REDACTED, regex=True)
    return results.assign(**changed) if changed else results
