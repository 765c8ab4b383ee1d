"""How judge calls are made: which request parameters travel (transport, credentials) and
which the model computes with.

Example:
    >>> from workbench.config import TRANSPORT_PARAMS
    >>> "api_key" in TRANSPORT_PARAMS, "temperature" in TRANSPORT_PARAMS
    (True, False)
"""

from __future__ import annotations

__all__ = ["TRANSPORT_PARAMS"]

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
