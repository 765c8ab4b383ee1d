"""Cache keys: sha256 over the model, the rendered messages, the request's parameters and the
response schema; transport and credential parameters never enter a key.

Example:
    >>> from workbench.llm import cache_key
    >>> k1 = cache_key("openai/gpt-4o-mini", [{"role": "user", "content": "hi"}], {"temperature": 0})
    >>> k2 = cache_key("openai/gpt-4o-mini", [{"role": "user", "content": "hi"}],
    ...                {"temperature": 0, "api_key": "sk-secret", "timeout": 5})
    >>> k1 == k2
    True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from ..config import TRANSPORT_PARAMS

__all__ = ["CACHE_VERSION", "cache_key", "cache_keys", "canonical_json"]

CACHE_VERSION = 3

_RECENT = 64
"""Serialised messages :func:`cache_keys` keeps at once for requests that share them."""


def canonical_json(obj: Any) -> str:
    """Canonical JSON (sorted keys), computed afresh on every call: a dict changed in place
    must never keep an old key."""
    try:
        return orjson.dumps(obj, option=_ORJSON, default=str).decode()
    except TypeError:
        pass
    return _stdlib_json(obj)


_ORJSON = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _stdlib_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _canonical_bytes(obj: Any) -> bytes:
    """``canonical_json(obj).encode()``, without the round trip through ``str``."""
    try:
        return orjson.dumps(obj, option=_ORJSON, default=str)
    except TypeError:
        pass
    return _stdlib_json(obj).encode()


def cache_key(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any] | None = None,
    response_format: Mapping[str, Any] | None = None,
) -> str:
    """The cache key of a request: sha256 over model, messages, sampling params and schema.

    Transport and credential parameters (``api_key``, ``api_base``, ``headers``, ``timeout``,
    ...) are left out, so they can never reach the cache and never split it.
    """
    h = _prefix(model, params, response_format)
    for m in messages:
        _feed(h, canonical_json(m))
    key: str = h.hexdigest()
    return key


def cache_keys(
    model: str,
    requests: Sequence[tuple[Sequence[Mapping[str, Any]], Mapping[str, Any] | None]],
    params: Mapping[str, Any] | None = None,
) -> list[str]:
    """``[cache_key(model, messages, params, rf) for messages, rf in requests]``, faster:
    within this one call, requests sharing a response schema and a first (system) message
    hash that prefix once, and a message object met in several requests (the user message
    of a row judged ``per_criterion``) is serialised once. The sharing is decided by object
    identity, and only inside the call (the objects are held until it returns), so a dict
    changed in place between two calls still gets a fresh key.

    Example:
        >>> msgs = [{"role": "system", "content": "Judge."}, {"role": "user", "content": "x"}]
        >>> rf = {"type": "json_object"}
        >>> cache_keys("m", [(msgs, rf)]) == [cache_key("m", msgs, None, rf)]
        True
    """
    base = _prefix(model, params, None, schema=False)
    schemas: dict[int, tuple[Any, Any]] = {}
    # per (schema, first message) object pair: the hash of the prefix they make and how many
    # messages it covers (the first, when it is a plain system message)
    heads: dict[tuple[int, int], tuple[Any, Any, Any, int]] = {}
    # a message object met again soon (the user message of a row, shared by the row's groups'
    # requests, which come one after the other) is serialised once. Every memo entry holds its
    # object, so its id cannot be reused while the entry exists; the memo is kept small (a
    # 10,000-row run would otherwise hold megabytes of message bytes until the call returns)
    texts: dict[int, tuple[Any, bytes, bytes]] = {}
    out = []
    for messages, rf in requests:
        first = messages[0] if messages else None
        head = heads.get((id(rf), id(first)))
        if head is None:
            schema = schemas.get(id(rf))
            if schema is None:
                h = base.copy()
                _feed(h, canonical_json(rf))
                schemas[id(rf)] = schema = (rf, h)
            if (
                first is not None
                and len(first) == 2
                and first.get("role") == "system"
                and isinstance(first.get("content"), str)
            ):
                h = schema[1].copy()
                _feed(h, canonical_json(first))
                head = (rf, first, h, 1)
            else:
                head = (rf, first, schema[1], 0)
            heads[(id(rf), id(first))] = head
        h = head[2].copy()
        for j in range(head[3], len(messages)):
            m = messages[j]
            text = texts.get(id(m))
            if text is None:
                if len(texts) >= _RECENT:
                    texts.clear()
                data = _canonical_bytes(m)
                texts[id(m)] = text = (m, len(data).to_bytes(8, "little"), data)
            h.update(text[1])
            h.update(text[2])
        out.append(h.hexdigest())
    return out


def _prefix(
    model: str, params: Mapping[str, Any] | None, response_format: Any, *, schema: bool = True
) -> Any:
    sampling = {k: v for k, v in (params or {}).items() if k not in TRANSPORT_PARAMS}
    h = hashlib.sha256()
    for part in (str(CACHE_VERSION), model, canonical_json(sampling)):
        _feed(h, part)
    if schema:
        _feed(h, canonical_json(response_format))
    return h


def _feed(h: Any, part: str) -> None:
    data = part.encode()
    h.update(len(data).to_bytes(8, "little"))  # length-prefixed: no two requests share a key
    h.update(data)
