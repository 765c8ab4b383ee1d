"""Operator model: what an operator is, how names resolve, and the array rule.

Pure Python: no pandas. The engine calls :func:`apply` per value where it cannot
vectorise, so this module defines the semantics every fast path must match.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import did_you_mean, shorten
from ..paths import PathError, Segment, json_type, resolve

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
    "operator_table",
    "register",
    "standard_verdict",
    "with_value",
]

ExpectedKind = Literal[
    "none",
    "any",
    "number",
    "string",
    "regex",
    "list",
    "pair",
    "range",
    "int_range",
    "schema",
    "strings",
    "count",
    "mapping",
]
"""The shape an operator's ``expected`` must have (checked when a task is created)."""


class OpError(Exception):
    """The value (or expected) has a type the operator cannot handle.

    The message says what was found, e.g. ``"needs a number, got string ('5')"``; the
    engine prefixes the operator name and the path.
    """


@dataclass(frozen=True, kw_only=True)
class Operator:
    """One base operator.

    ``check(actual, prepared)`` returns whether ``actual`` passes, or ``(passed, verdict)``
    where ``verdict`` (true to the check's own outcome, or None) replaces the phrase-based
    one: a predicate without its subject, such as ``"is 2 edits from 'colour', more than 1"``,
    which :func:`apply` follows with the value (``"...: 'colr'"``), so a reason always leads
    with the verdict. It raises :class:`OpError` for a value of the wrong type. ``prepare(expected)``
    validates ``expected`` and returns what ``check`` receives (a compiled regex, a
    validator, ...); it raises :class:`OpError` with a message saying the shape it wanted.
    """

    name: str
    check: Callable[[Any, Any], bool | tuple[bool, str | None]]
    prepare: Callable[[Any], Any]
    phrase: str
    """Reason text: ``"is not <phrase>: <value>"`` on failure. ``{expected}`` is filled in."""
    doc: str
    """One line with an example."""
    expected: ExpectedKind = "none"
    array_native: bool = False
    """When False, an array value passes only if every item passes."""
    camel: str = ""
    """The Scouter CamelCase name, if any."""
    show: Callable[[Any], str] | None = None
    """How a reason shows the value, when :func:`describe` would not say much (a trace is
    shown by its id and span names, not by the opening of its JSON)."""


OPERATORS: dict[str, Operator] = {}
ALIASES: dict[str, str] = {
    "eq": "equals",
    "ne": "not_equal",
    "gt": "greater_than",
    "gte": "greater_than_or_equal",
    "lt": "less_than",
    "lte": "less_than_or_equal",
}


def register(op: Operator) -> Operator:
    """Add ``op`` to the registry (its CamelCase name becomes an alias)."""
    if op.name in OPERATORS:
        raise ValueError(f"operator {op.name!r} registered twice")
    OPERATORS[op.name] = op
    camel = op.camel or "".join(p.capitalize() for p in op.name.split("_"))
    ALIASES.setdefault(camel, op.name)
    return op


def _snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[\s\-]+", "_", s).lower()


@dataclass(frozen=True)
class ResolvedOp:
    """An operator name resolved to its base operator and whether it is negated."""

    op: Operator
    negated: bool = False

    @property
    def name(self) -> str:
        return ("not_" if self.negated else "") + self.op.name


def lookup(name: str) -> ResolvedOp:
    """Resolve an operator name: snake_case, CamelCase, an alias, or any of those after ``not_``.

    Raises:
        KeyError: unknown name; the message lists the closest names.

    Example:
        >>> lookup("NotStartsWith").name, lookup("gte").name
        ('not_starts_with', 'greater_than_or_equal')
    """
    if not isinstance(name, str):
        raise KeyError(f"an operator name must be a string, got {type(name).__name__}")
    for candidate in (name, ALIASES.get(name), _snake(name), ALIASES.get(_snake(name))):
        if candidate in OPERATORS:
            return ResolvedOp(OPERATORS[candidate])
    snake = _snake(name)
    if snake.startswith("not_"):
        inner = lookup(snake[4:])
        return ResolvedOp(inner.op, not inner.negated)
    names = sorted(OPERATORS) + sorted(a for a in ALIASES if a.islower())
    raise KeyError(f"unknown operator {name!r}{did_you_mean(snake, names)}")


def operator_table() -> str:
    """The operator table of the README, written from the registry: each operator, the shape
    of its ``expected``, how it takes an array value (``whole``: as one value; ``each item``:
    every item must pass) and its one-line doc. A test keeps the README equal to it.

    Example:
        >>> print("\\n".join(operator_table().splitlines()[:3]))
        | operator | expected | an array value | what it checks |
        |---|---|---|---|
        | `equals` | any | whole | Deep JSON equality of the whole value, a number equal to its text only...
    """
    rows = ["| operator | expected | an array value | what it checks |", "|---|---|---|---|"]
    for name, op in OPERATORS.items():
        arrays = "whole" if op.array_native else "each item"
        rows.append(f"| `{name}` | {op.expected} | {arrays} | {op.doc} |")
    return "\n".join(rows)


def describe(value: Any, limit: int = 60) -> str:
    """A short rendering of a value for reasons: ``'abc'``, ``12``, ``[1,2]``, ``null``.

    Always valid UTF-8 (a lone surrogate is written as its escape, ``\\ud800``), at most
    about ``limit`` characters, and never an error, however deep the value is nested.

    Example:
        >>> describe("I'm sorry, I can't help with that."), describe([1, "a"]), describe(chr(0xD800))
        ("'I'm sorry, I can't help with that.'", '[1,"a"]', "'\\\\ud800'")
    """
    t = type(value)
    if t is str:  # quoted but not escaped: a regex reads as written, not with doubled backslashes
        text = value if len(value) <= limit else shorten(value, limit)
        return "'" + _encodable(text).replace("\n", "\\n") + "'"
    if t is int or t is float:
        return repr(value) if t is int or math.isfinite(value) else json.dumps(value)
    if value is None:
        return "null"
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    except RecursionError:
        return _deep(value, limit)
    except (TypeError, ValueError):  # keys json cannot write, or a circular reference
        try:
            text = repr(value)
        except RecursionError:
            return _deep(value, limit)
    return shorten(_encodable(text), limit)


def _encodable(text: str) -> str:
    """``text`` with lone surrogates escaped: results are Arrow (UTF-8) strings, which
    cannot hold them, and one odd cell must not cost the run."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _deep(value: Any, limit: int) -> str:
    """The opening of a value nested too deeply for the JSON writer: ``[[[{"a":[...``."""
    parts: list[str] = []
    size = 0
    while isinstance(value, (list, tuple, dict)) and value and size < limit:
        if isinstance(value, dict):
            key = next(iter(value))
            part = "{" + json.dumps(str(key)) + ":"
            value = value[key]
        else:
            part = "["
            value = value[0]
        parts.append(part)
        size += len(part)
    return "".join(parts)[:limit] + "... (nested too deeply to show)"


def standard_verdict(rop: ResolvedOp, expected: Any) -> str:
    """The verdict a failing value gets from ``rop``'s phrase: ``"is not greater than 3"``,
    or ``"is greater than 3"`` for the negated operator. Fast paths write their reasons with
    it, so they read exactly as the per-value path's.

    Example:
        >>> standard_verdict(lookup("gt"), 3), standard_verdict(lookup("not_is_json"), None)
        ('is not greater than 3', 'is valid JSON')
    """
    return ("is " if rop.negated else "is not ") + rop.op.phrase.format(expected=describe(expected))


def with_value(verdict: str, value: Any) -> str:
    """A reason: the verdict first, then the value, so a cut-short table cell still says what
    was wrong.

    Example:
        >>> with_value("is not valid JSON", "I'm sorry, I can't help with that request today.")
        "is not valid JSON: 'I'm sorry, I can't help with that request today.'"
    """
    return f"{verdict}: {describe(value)}"


def _check(op: Operator, value: Any, prepared: Any) -> tuple[bool, str | None]:
    result = op.check(value, prepared)
    if isinstance(result, tuple):
        return bool(result[0]), result[1]
    return bool(result), None


def apply(
    rop: ResolvedOp,
    actual: Any,
    prepared: Any,
    expected: Any = None,
    item_path: tuple[Segment, ...] | None = None,
) -> tuple[bool, str | None]:
    """Apply an operator (and its negation) to one plain value.

    Returns ``(passed, reason)``; ``reason`` explains the outcome (``None`` on a plain pass).
    The reason leads with the verdict, then the value (``"is not valid JSON: 'Sorry...'"``).
    A non-array-native operator on an array holds only if it holds for every item, and the
    reason names the first failing item; ``item_path`` first selects a field of each item.
    ``not_`` negates the whole result: ``not_greater_than`` on ``[5, 2]`` against 3 passes
    because not every item is greater than 3.

    Raises:
        OpError: a value of the wrong type (the message names the item's index).
        PathError: ``item_path`` is missing in an item.

    Example:
        >>> apply(lookup("gt"), [5, 2, 7], 3)
        (False, 'item 1 is not greater than 3: 2')
    """
    op = rop.op
    shown = expected if expected is not None else prepared
    if item_path and isinstance(actual, list):
        selected = []
        for i, item in enumerate(actual):
            try:
                selected.append(resolve(item, item_path))
            except PathError as e:
                raise PathError(f"item {i}: {e}") from None
        actual = selected
    if isinstance(actual, list) and not op.array_native:
        for i, item in enumerate(actual):
            try:
                ok, message = _check(op, item, prepared)
            except OpError as e:
                raise OpError(f"item {i}: {e}") from None
            if not ok:
                verdict = message or "is not " + op.phrase.format(expected=describe(shown))
                return rop.negated, f"item {i} {verdict}: {describe(item)}"
        if rop.negated:
            return False, f"every item is {op.phrase.format(expected=describe(shown))}: {describe(actual)}"
        return True, None
    ok, message = _check(op, actual, prepared)
    if ok != rop.negated:
        return True, None
    value = op.show(actual) if op.show is not None else describe(actual)
    return False, f"{message or standard_verdict(rop, shown)}: {value}"
