"""The assertion operator library: pure checks over JSON-like values.

Example:
    >>> from workbench.assertions import lookup, apply
    >>> apply(lookup("contains"), "hello world", "world")
    (True, None)
"""

from __future__ import annotations

from . import _builtin  # noqa: F401  (registers the operators)
from ._core import ALIASES, OPERATORS, Operator, OpError, ResolvedOp, apply, describe, json_type, lookup

__all__ = [
    "ALIASES",
    "OPERATORS",
    "OpError",
    "Operator",
    "ResolvedOp",
    "apply",
    "describe",
    "json_type",
    "lookup",
]
