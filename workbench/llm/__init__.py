"""The call layer: the only package that imports litellm and diskcache.

:class:`LLM` makes judge calls (concurrency, retries, rate limits, cost);
:class:`DiskCache` keeps their replies (:class:`RedisCache` in Redis, shared by a cluster);
:func:`cache_key` says what a reply is keyed on; :func:`gated` puts a bound beyond the
process (a cluster-wide cap) around every call; :func:`lean_route` decides (through litellm)
whether a model's calls may go over the lean transport, :class:`LeanClient` sends them there.
"""

from ._cache import DiskCache, default_cache_dir, forget_in_process
from ._client import LLM, Completion
from ._gate import CallGate, call_gate, gated
from ._keys import CACHE_VERSION, cache_key, cache_keys, canonical_json
from ._lean import LeanClient, LeanReply, build_body, retry_after_s
from ._redis import CACHE_URL_ENV, KEY_PREFIX, PASSWORD_ENV, RedisCache, forget_redis_in_process
from ._route import LeanRoute, RouteDecision, lean_route, resolve_route

__all__ = [
    "CACHE_URL_ENV",
    "CACHE_VERSION",
    "KEY_PREFIX",
    "LLM",
    "PASSWORD_ENV",
    "CallGate",
    "Completion",
    "DiskCache",
    "LeanClient",
    "LeanReply",
    "LeanRoute",
    "RedisCache",
    "RouteDecision",
    "build_body",
    "cache_key",
    "cache_keys",
    "call_gate",
    "canonical_json",
    "default_cache_dir",
    "forget_in_process",
    "forget_redis_in_process",
    "gated",
    "lean_route",
    "resolve_route",
    "retry_after_s",
]
