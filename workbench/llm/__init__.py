"""The call layer: the only package that imports litellm and diskcache.

:class:`LLM` makes judge calls (concurrency, retries, rate limits, cost);
:class:`DiskCache` keeps their replies; :func:`cache_key` says what a reply is keyed on;
:func:`lean_route` decides (through litellm) whether a model's calls may go over the lean
transport, :class:`LeanClient` sends them there.
"""

from ._cache import DiskCache, default_cache_dir, forget_in_process
from ._client import LLM, Completion
from ._keys import CACHE_VERSION, cache_key, cache_keys, canonical_json
from ._lean import LeanClient, LeanReply, build_body, retry_after_s
from ._route import LeanRoute, RouteDecision, lean_route, resolve_route

__all__ = [
    "CACHE_VERSION",
    "LLM",
    "Completion",
    "DiskCache",
    "LeanClient",
    "LeanReply",
    "LeanRoute",
    "RouteDecision",
    "build_body",
    "cache_key",
    "cache_keys",
    "canonical_json",
    "default_cache_dir",
    "forget_in_process",
    "lean_route",
    "resolve_route",
    "retry_after_s",
]
