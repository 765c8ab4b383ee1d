"""The call layer: the only package that imports litellm and diskcache.

:class:`LLM` makes judge calls (concurrency, retries, rate limits, cost);
:class:`DiskCache` keeps their replies; :func:`cache_key` says what a reply is keyed on.
"""

from ._cache import DiskCache, default_cache_dir, forget_in_process
from ._client import LLM, Completion
from ._keys import CACHE_VERSION, cache_key, cache_keys, canonical_json

__all__ = [
    "CACHE_VERSION",
    "LLM",
    "Completion",
    "DiskCache",
    "cache_key",
    "cache_keys",
    "canonical_json",
    "default_cache_dir",
    "forget_in_process",
]
