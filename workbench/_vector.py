"""Vectorised fast paths for common (operator, dtype) pairs.

Each fast path must agree exactly with the per-value semantics in
:mod:`workbench.assertions`; it handles only the rows where that is certain (non-null
numbers in a numeric column, non-null strings in a string column) and says which rows it
handled, so the engine checks the rest value by value.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from .assertions import AGENT_OPERATORS, ResolvedOp, agent_fast_check

__all__ = ["ENABLED", "check"]

ENABLED = True
"""Switch the fast paths off to compare them with the per-value path (tests do)."""


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _is_pair(x: Any) -> bool:
    return isinstance(x, (list, tuple)) and len(x) == 2 and all(_is_number(v) for v in x)


def _numeric(name: str, v: np.ndarray, e: Any) -> np.ndarray | None:
    if name in (
        "greater_than",
        "greater_than_or_equal",
        "less_than",
        "less_than_or_equal",
        "equals",
        "not_equal",
    ):
        if not _is_number(e):
            return None
        compare = {
            "greater_than": np.greater,
            "greater_than_or_equal": np.greater_equal,
            "less_than": np.less,
            "less_than_or_equal": np.less_equal,
            "equals": np.equal,
            "not_equal": np.not_equal,
        }[name]
        return np.asarray(compare(v, e))
    if name in ("in_range", "not_in_range") and _is_pair(e):
        inside = np.asarray((v >= e[0]) & (v <= e[1]))
        return inside if name == "in_range" else ~inside
    if name == "approximately_equals" and _is_pair(e):
        return np.asarray(np.abs(v - e[0]) <= e[1])
    if name == "is_positive" and e is None:
        return np.asarray(v > 0)
    if name == "is_negative" and e is None:
        return np.asarray(v < 0)
    if name == "is_zero" and e is None:
        return np.asarray(v == 0)
    if name == "one_of" and isinstance(e, (list, tuple)) and e and all(_is_number(x) for x in e):
        return np.isin(v, np.asarray(e, dtype=np.float64))
    if name == "is_numeric" and e is None:
        return np.ones(len(v), dtype=bool)
    if name in ("is_string", "is_boolean", "is_null", "is_array", "is_object") and e is None:
        return np.zeros(len(v), dtype=bool)
    return None


# Constructs where RE2 (Arrow) and Python's re disagree or RE2 refuses: '$' before a final
# newline, \Z \A \b-style escapes, lookarounds, named groups, backreferences, POSIX classes,
# and '{,n}', which re reads as '{0,n}' and RE2 as text.
_RE2_UNSAFE = re.compile(r"\$|\\[ZAzGbBpP]|\(\?[<=!P]|\\\d|\[:|\{\s*,")
_SPACE_CLASS = re.compile(r"\\[sS]")
_RE_ONLY_SPACE = "[\x0b\x1c-\x1f]"
"""ASCII characters that are whitespace to Python's re (``str.isspace``) but not to RE2's \\s."""
_ASCII_WORD = re.compile(r"[A-Za-z0-9_]")


def _re2_search(s: pd.Series, pattern: str) -> np.ndarray | None:
    """Unanchored regex search with Arrow's RE2 (pandas' own ``str.contains`` may loop in
    Python); None when RE2 refuses the pattern, so Python's re decides."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return None
    try:
        hits = pc.match_substring_regex(pa.array(s.array), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a pattern RE2 does not support
        return None
    return np.asarray(hits.to_numpy(zero_copy_only=False), dtype=bool)


def _regex_rows(s: pd.Series, pattern: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """RE2's answer for ``pattern`` and the rows it is Python's too (None: every ASCII row).
    RE2's \\s lacks \\x0b and \\x1c-\\x1f, so rows holding one go to Python's re."""
    hits = _re2_search(s, pattern)
    if hits is None or not _SPACE_CLASS.search(pattern):
        return hits, None
    odd = _re2_search(s, _RE_ONLY_SPACE)
    return (None, None) if odd is None else (hits, ~odd)


def _string(name: str, s: pd.Series, e: Any) -> tuple[np.ndarray | None, bool | np.ndarray]:
    """``(passed, ascii_rows_only)``: some fast paths agree with Python only on ASCII text
    (RE2's classes and lower() vs casefold() differ beyond it), so the engine checks the
    other rows one by one; ``ascii_rows_only`` may also be a mask of the ASCII rows the fast
    path decides (the rest are checked one by one too)."""
    if name in ("is_string",) and e is None:
        return np.ones(len(s), dtype=bool), False
    if name in ("is_numeric", "is_boolean", "is_null", "is_array", "is_object") and e is None:
        return np.zeros(len(s), dtype=bool), False
    if name == "is_empty" and e is None:
        return (s == "").to_numpy(dtype=bool), False
    if name == "is_not_empty" and e is None:
        return (s != "").to_numpy(dtype=bool), False
    if name.startswith("has_length_") and _is_number(e):
        compare = "equals" if name == "has_length_equal" else name.removeprefix("has_length_")
        return _numeric(compare, s.str.len().to_numpy(dtype=np.int64), e), False
    if name == "one_of" and isinstance(e, (list, tuple)) and e and all(isinstance(x, str) for x in e):
        return s.isin(list(e)).to_numpy(dtype=bool), False
    if not isinstance(e, str):
        return None, False
    if name in ("equals", "not_equal"):
        eq = (s == e).to_numpy(dtype=bool)
        return (eq if name == "equals" else ~eq), False
    if name in ("contains", "not_contains"):
        hit = s.str.contains(e, regex=False).to_numpy(dtype=bool)
        return (hit if name == "contains" else ~hit), False
    if name == "starts_with":
        return s.str.startswith(e).to_numpy(dtype=bool), False
    if name == "ends_with":
        return s.str.endswith(e).to_numpy(dtype=bool), False
    if not e.isascii():
        return None, False
    if name in ("matches", "matches_regex") and not _RE2_UNSAFE.search(e):
        hits, rows = _regex_rows(s, e)
        return hits, True if rows is None else rows
    if name == "contains_word" and _ASCII_WORD.match(e) and _ASCII_WORD.match(e[-1]):
        # a word that starts and ends with a word character: \b is the same edge on ASCII text
        return _re2_search(s, rf"\b{re.escape(e)}\b"), True
    if name in ("matches", "matches_regex", "contains_word"):
        return None, False
    fold = {
        "equals_ignore_case": lambda low, x: low == x,
        "contains_ignore_case": lambda low, x: low.str.contains(x, regex=False),
        "starts_with_ignore_case": lambda low, x: low.str.startswith(x),
        "ends_with_ignore_case": lambda low, x: low.str.endswith(x),
    }.get(name)
    if fold is None:
        return None, False
    return fold(s.str.lower(), e.lower()).to_numpy(dtype=bool), True


def check(rop: ResolvedOp, values: pd.Series, expected: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(passed, handled)`` boolean arrays, or None when no fast path applies.

    ``passed`` is meaningful only where ``handled``; the engine checks the other rows one
    by one (nulls, mixed objects), so they get the exact per-value result or error.
    """
    if not ENABLED:
        return None
    name = rop.op.name
    if name in AGENT_OPERATORS:
        return _agent(rop, values, expected)
    if values.dtype == object and len(values):
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        if inferred in ("floating", "mixed-integer-float") or (inferred == "integer" and _small_ints(values)):
            values = pd.to_numeric(values, errors="coerce").astype("Float64")
    dtype = values.dtype
    passed: np.ndarray | None = None
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        handled = values.notna().to_numpy(dtype=bool)
        if values.dtype.kind in "iu" and handled.all():
            v = values.to_numpy(dtype=np.int64 if values.dtype.kind == "i" else np.uint64)
        else:
            v = values.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            passed = _numeric(name, v, expected)
    elif isinstance(dtype, pd.StringDtype) or (
        pd.api.types.is_object_dtype(dtype)
        and len(values)
        and pd.api.types.infer_dtype(values, skipna=True) == "string"
    ):
        if isinstance(dtype, pd.StringDtype):
            s = values
        else:
            try:
                s = values.astype(_string_dtype())
            except UnicodeEncodeError:  # a lone surrogate, which Arrow (UTF-8) cannot hold
                return None
        handled = s.notna().to_numpy(dtype=bool)
        s = s.fillna("")
        passed, ascii_rows_only = _string(name, s, expected)
        if ascii_rows_only is not False:
            handled = handled & s.str.isascii().to_numpy(dtype=bool)
            if ascii_rows_only is not True:
                handled = handled & ascii_rows_only
    if passed is None:
        return None
    passed = np.asarray(passed, dtype=bool)
    return (~passed if rop.negated else passed), handled


def _agent(rop: ResolvedOp, values: pd.Series, expected: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The agent operators' own column-wise check (their booleans without a verdict per row)."""
    found = agent_fast_check(rop.op.name, values.tolist(), expected)
    if found is None:
        return None
    passed = np.fromiter(found[0], dtype=bool, count=len(values))
    handled = np.fromiter(found[1], dtype=bool, count=len(values))
    return (~passed if rop.negated else passed), handled


def _small_ints(values: pd.Series) -> bool:
    """Python ints that float64 holds exactly (beyond 2**53 comparisons would drift)."""
    try:
        v = values.dropna().to_numpy(dtype=np.int64)
    except (OverflowError, TypeError, ValueError):
        return False
    return bool(len(v) == 0 or np.abs(v).max() < 2**53)


def _string_dtype() -> pd.StringDtype[Any]:
    try:
        import pyarrow  # noqa: F401 - only whether it can be imported
    except ImportError:
        return pd.StringDtype()
    return pd.StringDtype("pyarrow")
