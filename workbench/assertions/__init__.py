"""The assertion operator library: pure checks over JSON-like values.

Example:
    >>> from workbench.assertions import lookup, apply
    >>> apply(lookup("contains"), "hello world", "world")
    (True, None)
    >>> apply(lookup("is_json"), "I'm sorry, I can't help with that.", None)
    (False, "is not valid JSON: 'I'm sorry, I can't help with that.'")
"""

from __future__ import annotations

from ..paths import json_type

# registration order is the README table's order: the built-in operators first
from . import _builtin  # noqa: F401  # isort: skip  (registers the operators)
from . import _agent  # noqa: F401  # isort: skip  (registers the agent operators)
from . import _trace  # noqa: F401  # isort: skip  (registers the trace operators)
from ._agent import OPERATOR_NAMES as AGENT_OPERATORS
from ._agent import fast_check as agent_fast_check
from ._core import (
    ALIASES,
    OPERATORS,
    Operator,
    OpError,
    ResolvedOp,
    apply,
    describe,
    lookup,
    operator_table,
    standard_verdict,
    with_value,
)

__all__ = [
    "AGENT_OPERATORS",
    "ALIASES",
    "OPERATORS",
    "OpError",
    "Operator",
    "ResolvedOp",
    "agent_fast_check",
    "apply",
    "describe",
    "json_type",
    "lookup",
    "operator_table",
    "standard_verdict",
    "with_value",
]
