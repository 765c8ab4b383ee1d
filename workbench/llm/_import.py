"""litellm, imported once, on first use, and configured for workbench.

Example:
    >>> from workbench.llm._import import import_litellm
    >>> import_litellm().suppress_debug_info
    True
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["import_litellm"]

# Read litellm's bundled price table instead of fetching one at import: notebooks and CI
# run offline, and a fetch at import would leak that a run happened.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def import_litellm() -> Any:
    """litellm, imported on first use (it takes seconds) and kept quiet: no telemetry, no
    debug banners."""
    import litellm

    if not getattr(litellm, "_workbench_configured", False):
        litellm.telemetry = False
        litellm.suppress_debug_info = True
        litellm._workbench_configured = True
    return litellm
