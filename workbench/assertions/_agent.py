"""Agent operators: tool calls, their arguments, sequences, counts, schemas and trajectories.

A value is the tool calls of one response: the list a path such as ``response.tool_calls``
reaches (normalised once per column, see :mod:`workbench.responses`), or a whole provider
response, conversation or request/response record, normalised here. Arguments compare as
JSON (numbers by value, ``true`` is no number, a number is not its text), and "subset" means
what Scouter's ``ToolCalledWithArgs`` and Agno's reliability eval mean: every argument the
expectation gives is there with that value, objects compared the same way inside, other
arguments may be there too.

Every failure's verdict names the calls that were seen: ``does not call 'get_weather' (calls:
search_kb({"query":"refund"}), answer())``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import cap_list, shorten
from ..paths import json_type, to_plain
from ..responses import SHAPES, ResponseError, normalize, offered_tools
from ._core import ExpectedKind, Operator, OpError, describe, lookup, register

__all__ = [
    "ARGS_MODES",
    "OPERATOR_NAMES",
    "TRAJECTORY_MODES",
    "Trajectory",
    "calls_of",
    "describe_call",
    "describe_calls",
    "fast_check",
    "partial_match",
    "same_json",
]

_dumps: Callable[[Any], bytes] | None
try:
    from orjson import dumps as _dumps
except ImportError:  # pragma: no cover - orjson is a dependency
    _dumps = None

TRAJECTORY_MODES = ("strict", "unordered", "subset", "superset")
"""How ``trajectory_match`` compares the calls with the reference's, as openevals names them:
``strict`` the same calls in the same order; ``unordered`` the same calls in any order;
``subset`` no call the reference lacks; ``superset`` every call of the reference (and maybe more)."""

ARGS_MODES = ("exact", "ignore", "subset", "superset")
"""How ``trajectory_match`` compares a call's arguments with the reference call's: ``exact``
equal as JSON; ``ignore`` not at all; ``subset`` the call gives no argument the reference
lacks; ``superset`` the call gives every argument the reference gives (see :func:`partial_match`)."""


# --- values ---------------------------------------------------------------------------------


def same_json(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value (``8 == 8.0``), otherwise the types must match (``"1" !=
    1``, ``true != 1``), arrays in order, objects by their keys.

    Example:
        >>> same_json({"n": [1, 2.0]}, {"n": [1.0, 2]}), same_json({"n": "1"}, {"n": 1})
        (True, False)
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return bool(a == b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def partial_match(actual: Any, expected: Any) -> bool:
    """``expected``'s arguments are in ``actual`` with equal values; objects are compared the
    same way inside, anything else with :func:`same_json` (arrays whole, in order).

    Example:
        >>> partial_match({"query": "NYC", "limit": 5, "opts": {"lang": "en", "safe": True}},
        ...               {"query": "NYC", "opts": {"lang": "en"}})
        True
        >>> partial_match({"query": "LA"}, {"query": "NYC"})
        False
    """
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and partial_match(actual[k], v) for k, v in expected.items()
        )
    return same_json(actual, expected)


_MESSAGE_KEYS = frozenset(("role", "type"))
"""Keys of a message or a responses API item, which a normalised call does not have."""


def calls_of(value: Any) -> list[dict[str, Any]]:
    """The tool calls in ``value``: a list of normalised calls (what ``response.tool_calls``
    holds) as it is, an OpenAI ``tool_calls`` list, or anything :func:`~workbench.responses.normalize`
    reads.

    Raises:
        OpError: ``value`` holds no tool calls (the message says what it holds).

    Example:
        >>> calls_of([{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}])
        [{'name': 'f', 'arguments': {}, 'id': 'c1', 'result': None}]
    """
    if type(value) is list:
        if not value:
            return value
        first = value[0]
        if (
            type(first) is dict
            and "arguments" in first
            and "name" in first
            and not first.keys() & _MESSAGE_KEYS
        ):
            for i, c in enumerate(value):
                if type(c) is not dict or not isinstance(c.get("name"), str) or "arguments" not in c:
                    raise OpError(f"needs tool calls, but item {i} is {describe(c)}, not a call with a name")
            return value
        if type(first) is dict and type(first.get("function")) is dict and "role" not in first:
            value = {"role": "assistant", "tool_calls": value}
    try:
        calls: list[dict[str, Any]] = normalize(value)["tool_calls"]
    except ResponseError as e:
        message = str(e)
        if message.startswith("needs "):
            rest = message.partition(SHAPES)[2]
            message = f"needs tool calls (a path such as 'response.tool_calls', or {SHAPES}){rest}"
        raise OpError(message) from None
    return calls


def describe_call(call: Mapping[str, Any], limit: int = 40) -> str:
    """One call as a reason shows it: ``get_weather({"city":"Oslo"})``, arguments cut to about
    ``limit`` characters.

    Example:
        >>> describe_call({"name": "search", "arguments": {"q": "refund policy"}})
        'search({"q":"refund policy"})'
    """
    args = call.get("arguments")
    return f"{call.get('name')}({'' if args is None or args == {} else _compact(args, limit)})"


def _compact(value: Any, limit: int) -> str:
    """:func:`describe` of an object or array, written by orjson when it can (reasons name
    every call seen, and ``json.dumps`` per call would cost more than the checks)."""
    if type(value) in (dict, list) and _dumps is not None:
        try:
            text = _dumps(value).decode()
        except (TypeError, ValueError):  # keys that are no strings, lone surrogates, huge ints
            return describe(value, limit)
        return text if len(text) <= limit else shorten(text, limit)
    return describe(value, limit)


def describe_calls(calls: list[dict[str, Any]], limit: int = 6) -> str:
    """The calls a reason names: ``search({"q":"x"}), answer()``, the first ``limit``, then
    ``+N more``; ``none`` when there are no calls.

    Example:
        >>> describe_calls([{"name": "a", "arguments": {}}] * 8, limit=2)
        'a(), a(), +6 more'
    """
    if not calls:
        return "none"
    shown = [describe_call(c) for c in calls[:limit]]
    if len(calls) > limit:
        shown.append(f"+{len(calls) - limit} more")
    return ", ".join(shown)


def _seen(calls: list[dict[str, Any]]) -> str:
    return f"(calls: {describe_calls(calls)})"


def _names(names: tuple[str, ...]) -> str:
    return " and ".join(repr(n) for n in names) if len(names) <= 3 else describe(list(names))


# --- expected shapes ----------------------------------------------------------------------


def _bad(need: str, expected: Any) -> OpError:
    got = "none was given" if expected is None else f"got {json_type(expected)} ({describe(expected)})"
    return OpError(f"needs {need} as expected, {got}")


def _tool_names(expected: Any) -> tuple[str, ...]:
    if isinstance(expected, str) and expected:
        return (expected,)
    if isinstance(expected, list) and expected and all(isinstance(n, str) and n for n in expected):
        return tuple(expected)
    raise _bad("a tool name (or a non-empty list of names)", expected)


def _name_list(expected: Any) -> tuple[str, ...]:
    if isinstance(expected, list) and all(isinstance(n, str) and n for n in expected):
        return tuple(expected)
    raise _bad("a list of tool names", expected)


def _keys(expected: dict[str, Any], allowed: tuple[str, ...], need: str) -> None:
    unknown = [k for k in expected if k not in allowed]
    if unknown:
        raise OpError(
            f"needs {need} as expected; unknown keys {cap_list(unknown)}, the keys are {list(allowed)}"
        )


def _with_args(expected: Any) -> tuple[str, dict[str, Any]]:
    need = "{name: <tool>, arguments: {<name>: <value>, ...}}"
    if not isinstance(expected, dict):
        raise _bad(need, expected)
    _keys(expected, ("name", "arguments"), need)
    name, args = expected.get("name"), expected.get("arguments")
    if not isinstance(name, str) or not name or not isinstance(args, dict):
        raise _bad(need, expected)
    return name, args


def _count(expected: Any) -> tuple[str | None, int, float]:
    """``(name or None, least, most)``."""
    need = "a count, or {name: <tool>, count: n} / {min: n, max: m}"
    if isinstance(expected, int) and not isinstance(expected, bool):
        if expected < 0:
            raise _bad(need, expected)
        return None, expected, expected
    if not isinstance(expected, dict):
        raise _bad(need, expected)
    _keys(expected, ("name", "count", "min", "max"), need)
    name = expected.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise _bad(need, expected)
    bounds = {k: expected[k] for k in ("count", "min", "max") if expected.get(k) is not None}
    for k, v in bounds.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise OpError(f"needs {k} to be a whole number >= 0, got {describe(v)}")
    if not bounds:
        raise OpError(f"needs {need} as expected: give count, min or max, got {describe(expected)}")
    if "count" in bounds and ("min" in bounds or "max" in bounds):
        raise OpError(f"takes count, or min and max, not both: {describe(expected)}")
    if "count" in bounds:
        return name, bounds["count"], bounds["count"]
    least, most = bounds.get("min", 0), bounds.get("max", float("inf"))
    if least > most:
        raise OpError(f"needs min <= max, got {describe(expected)}")
    return name, least, most


# --- checks: each a boolean core (shared with the fast path) and its verdict ---------------

Check = Callable[[Any, Any], "bool | tuple[bool, str | None]"]


def _called_ok(calls: list[dict[str, Any]], names: tuple[str, ...]) -> bool:
    if len(names) == 1:
        name = names[0]
        return any(c["name"] == name for c in calls)
    have = {c["name"] for c in calls}
    return all(n in have for n in names)


def _called(value: Any, names: tuple[str, ...]) -> tuple[bool, str]:
    calls = calls_of(value)
    if not _called_ok(calls, names):
        have = {c["name"] for c in calls}
        return False, f"does not call {_names(tuple(n for n in names if n not in have))} {_seen(calls)}"
    return True, f"calls {_names(names)} {_seen(calls)}"


def _not_called_ok(calls: list[dict[str, Any]], names: tuple[str, ...]) -> bool:
    return not any(c["name"] in names for c in calls)


def _not_called(value: Any, names: tuple[str, ...]) -> tuple[bool, str]:
    calls = calls_of(value)
    if not _not_called_ok(calls, names):
        have = {c["name"] for c in calls}
        return False, f"calls {_names(tuple(n for n in names if n in have))} {_seen(calls)}"
    return True, f"does not call {_names(names)} {_seen(calls)}"


def _with_match(calls: list[dict[str, Any]], expected: tuple[str, dict[str, Any]]) -> dict[str, Any] | None:
    name, args = expected
    for c in calls:
        if c["name"] == name and "arguments_error" not in c and partial_match(c["arguments"], args):
            return c
    return None


def _called_with(value: Any, expected: tuple[str, dict[str, Any]]) -> tuple[bool, str]:
    name, args = expected
    calls = calls_of(value)
    match = _with_match(calls, expected)
    wanted = describe(args)
    if match is not None:
        return True, f"calls {describe_call(match)}, which has {wanted} {_seen(calls)}"
    if not any(c["name"] == name for c in calls):
        return False, f"does not call {name!r} {_seen(calls)}"
    return False, f"calls {name!r} only with other arguments than {wanted} {_seen(calls)}"


def _sequence_ok(calls: list[dict[str, Any]], names: tuple[str, ...]) -> bool:
    return len(calls) == len(names) and all(c["name"] == n for c, n in zip(calls, names))


def _sequence(value: Any, names: tuple[str, ...]) -> tuple[bool, str]:
    calls = calls_of(value)
    if _sequence_ok(calls, names):
        return True, f"calls exactly {describe(list(names))} in that order"
    return False, f"calls {describe([c['name'] for c in calls])}, not exactly {describe(list(names))}"


def _matched_prefix(calls: list[dict[str, Any]], names: tuple[str, ...]) -> int:
    """How many of ``names`` the calls make in that order (others between allowed)."""
    k = 0
    for c in calls:
        if k < len(names) and c["name"] == names[k]:
            k += 1
    return k


def _subsequence_ok(calls: list[dict[str, Any]], names: tuple[str, ...]) -> bool:
    return _matched_prefix(calls, names) == len(names)


def _subsequence(value: Any, names: tuple[str, ...]) -> tuple[bool, str]:
    calls = calls_of(value)
    seen = describe([c["name"] for c in calls])
    k = _matched_prefix(calls, names)
    if k == len(names):
        return True, f"calls {describe(list(names))} in that order, among {seen}"
    after = f" after {names[k - 1]!r}" if k else ""
    return False, f"calls {seen}, which lacks {names[k]!r}{after} for {describe(list(names))} in that order"


def _count_of(calls: list[dict[str, Any]], name: str | None) -> int:
    return len(calls) if name is None else sum(1 for c in calls if c["name"] == name)


def _count_ok(calls: list[dict[str, Any]], expected: tuple[str | None, int, float]) -> bool:
    name, least, most = expected
    return least <= _count_of(calls, name) <= most


def _call_count(value: Any, expected: tuple[str | None, int, float]) -> tuple[bool, str]:
    name, least, most = expected
    calls = calls_of(value)
    n = _count_of(calls, name)
    ok = least <= n <= most
    what = f"makes {_n_calls(n)}" if name is None else f"calls {name!r} {n} time{'s' if n != 1 else ''}"
    if least == most:
        bound = f"exactly {least}"
    elif most == float("inf"):
        bound = f"at least {least}"
    elif least == 0:
        bound = f"at most {int(most)}"
    else:
        bound = f"between {least} and {int(most)}"
    return ok, f"{what}, {'' if ok else 'not '}{bound} {_seen(calls)}"


def _n_calls(n: int) -> str:
    return f"{n} tool call{'s' if n != 1 else ''}"


# --- tools_valid ----------------------------------------------------------------------------

_VALIDATORS: dict[str, Any] = {}
"""Validators of offered tools' schemas, by the schema's JSON text (so a cached one is the
one that schema builds): tools read from each response are the same few tools again."""


def _validator(name: str, schema: Any) -> Any:
    if schema is None:
        return None
    if not isinstance(schema, (dict, bool)):
        raise OpError(f"tool {name!r} has parameters that are no JSON Schema: {describe(schema)}")
    key = json.dumps(schema, sort_keys=True, default=str)
    found = _VALIDATORS.get(key)
    if found is not None:
        return found
    import jsonschema  # on use: it is slow to import and only these tasks need it

    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)  # type: ignore[arg-type]  # true and false are schemas too
    except jsonschema.SchemaError as e:
        raise OpError(f"tool {name!r} has an invalid JSON Schema as parameters: {e.message}") from None
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    if len(_VALIDATORS) > 1024:  # bounded: a run with ever-new schemas must not grow it forever
        _VALIDATORS.clear()
    _VALIDATORS[key] = validator
    return validator


def _tools(tools: Any) -> dict[str, Any]:
    """Offered tools by name, each with its validator (None for a tool without a schema)."""
    try:
        offered = offered_tools(tools)
    except ResponseError as e:
        raise OpError(f"needs the offered tools as expected: {e}") from None
    return {name: _validator(name, t["parameters"]) for name, t in offered.items()}


def _tools_expected(expected: Any) -> dict[str, Any] | None:
    return None if expected is None else _tools(expected)


def _schema_error(validator: Any, instance: Any) -> str | None:
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(instance))
    if error is None:
        return None
    return shorten(error.message, 120) + (f" at {error.json_path}" if error.absolute_path else "")


def _offered_for(value: Any, prepared: dict[str, Any] | None) -> dict[str, Any]:
    if prepared is not None:
        return prepared
    record = None if type(value) is list and (not value or "arguments" in value[0]) else value
    carried = _carried_tools(record)
    if carried is None:
        raise OpError(
            "has no offered tools to check the calls against: give them as expected (a list of tool "
            "definitions, or a template such as '${request.tools}'), or read a record that holds them "
            "({request: {tools: ...}, response: ...}, or a responses API response)"
        )
    return _tools(carried)


def _tools_fault(calls: list[dict[str, Any]], offered: dict[str, Any]) -> tuple[int, str] | None:
    """The first call that is not valid and what is wrong (``offered``, ``json``, ``schema``)."""
    for i, c in enumerate(calls):
        if c["name"] not in offered:
            return i, "offered"
        if "arguments_error" in c:
            return i, "json"
        validator = offered[c["name"]]
        if validator is not None and not validator.is_valid(c["arguments"]):
            return i, "schema"
    return None


def _tools_valid(value: Any, prepared: dict[str, Any] | None) -> tuple[bool, str]:
    calls = calls_of(value)
    offered = _offered_for(value, prepared)
    fault = _tools_fault(calls, offered)
    if fault is None:
        if not calls:
            return True, "makes no tool calls"
        return True, f"has {_n_calls(len(calls))} matching their schemas {_seen(calls)}"
    i, kind = fault
    c = calls[i]
    if kind == "offered":
        names = ", ".join(offered) or "none"
        return (
            False,
            f"has call {i} {describe_call(c)} to a tool that was not offered (offered: {names}) "
            + _seen(calls),
        )
    if kind == "json":
        why = c["arguments_error"]
        shown = describe(c["arguments"])
        return False, f"has call {i} {c['name']!r} with arguments that are not JSON ({why}): {shown}"
    error = _schema_error(offered[c["name"]], c["arguments"])
    return False, f"has call {i} {describe_call(c)} that does not match its schema ({error}) {_seen(calls)}"


def _carried_tools(value: Any) -> Any:
    if value is None:
        return None
    try:
        return normalize(value)["tools"]
    except ResponseError:
        return None


# --- trajectory_match ---------------------------------------------------------------------

_ANY = object()
"""A reference call given by its name only: any arguments match."""


def _reference(calls: Any) -> list[tuple[str, Any]]:
    """The reference's calls as ``(name, arguments or _ANY)``."""
    if isinstance(calls, list) and all(
        isinstance(c, str)
        or (
            isinstance(c, dict)
            and (type(c.get("function")) is dict or ("name" in c and not c.keys() & _MESSAGE_KEYS))
        )
        for c in calls
    ):
        out: list[tuple[str, Any]] = []
        for i, c in enumerate(calls):
            if isinstance(c, str):
                out.append((c, _ANY))
            elif "function" in c:
                (call,) = calls_of([c])
                out.append((call["name"], call["arguments"]))
            else:
                _keys(c, ("name", "arguments", "id", "result"), "reference calls {name, arguments}")
                if not isinstance(c["name"], str) or not c["name"]:
                    raise OpError(f"needs reference call {i} to have a name, got {describe(c)}")
                out.append((c["name"], c.get("arguments", _ANY)))
        return out
    try:
        return [(c["name"], c["arguments"]) for c in normalize(calls)["tool_calls"]]
    except ResponseError as e:
        raise OpError(
            f"needs the reference calls (a list of tool names or {{name, arguments}}, or {SHAPES}): {e}"
        ) from None


def _trajectory(expected: Any) -> tuple[str, str, list[tuple[str, Any]]]:
    need = "{calls: [<reference calls>], mode: <one of TRAJECTORY_MODES>, args: <one of ARGS_MODES>}"
    if isinstance(expected, list):
        expected = {"calls": expected}
    if not isinstance(expected, dict):
        raise _bad(need, expected)
    _keys(expected, ("calls", "mode", "args"), need)
    mode, args = expected.get("mode", "strict"), expected.get("args", "exact")
    if mode not in TRAJECTORY_MODES:
        raise OpError(f"needs mode to be one of {list(TRAJECTORY_MODES)}, got {describe(mode)}")
    if args not in ARGS_MODES:
        raise OpError(f"needs args to be one of {list(ARGS_MODES)}, got {describe(args)}")
    if "calls" not in expected:
        raise OpError(f"needs {need} as expected: the reference 'calls' are missing")
    return mode, args, _reference(expected["calls"])


def _args_match(mode: str, actual: dict[str, Any], ref: Any) -> bool:
    if ref is _ANY or mode == "ignore":
        return True
    if "arguments_error" in actual:
        return False
    args = actual["arguments"]
    if mode == "exact":
        return same_json(args, ref)
    if mode == "superset":
        return partial_match(args, ref)
    return partial_match(ref, args)


def _matching(left: list[Any], right: list[Any], fits: Callable[[Any, Any], bool]) -> list[int | None]:
    """A largest one-to-one matching of ``left`` to ``right`` items (Kuhn's augmenting paths,
    exact where a greedy pass could miss one): for each left item, its right item or None."""
    owner: list[int | None] = [None] * len(right)
    edges = [[j for j, r in enumerate(right) if fits(item, r)] for item in left]

    def place(i: int, seen: set[int]) -> bool:
        for j in edges[i]:
            if j in seen:
                continue
            seen.add(j)
            if owner[j] is None or place(owner[j], seen):  # type: ignore[arg-type]
                owner[j] = i
                return True
        return False

    for i in range(len(left)):
        place(i, set())
    matched: list[int | None] = [None] * len(left)
    for j, who in enumerate(owner):
        if who is not None:
            matched[who] = j
    return matched


def _ref_call(ref: tuple[str, Any]) -> str:
    name, args = ref
    return f"{name}(...)" if args is _ANY else describe_call({"name": name, "arguments": args})


Trajectory = tuple[str, str, list[tuple[str, Any]]]
"""A prepared ``trajectory_match`` expected: ``(mode, args mode, reference calls)``."""


def _trajectory_fault(calls: list[dict[str, Any]], expected: Trajectory) -> tuple[str, Any] | None:
    """Why the calls do not match the reference: ``("count", None)``, ``("at", i)``,
    ``("missing", reference call)`` or ``("extra", call)``; None when they match."""
    mode, args_mode, refs = expected

    def fits(call: dict[str, Any], ref: tuple[str, Any]) -> bool:
        return bool(call["name"] == ref[0] and _args_match(args_mode, call, ref[1]))

    if mode == "strict":
        if len(calls) != len(refs):
            return "count", None
        for i, (c, r) in enumerate(zip(calls, refs)):
            if not fits(c, r):
                return "at", i
        return None
    if mode in ("superset", "unordered"):
        matched = _matching(refs, calls, lambda r, c: fits(c, r))
        missing = [refs[i] for i, j in enumerate(matched) if j is None]
        if missing:
            return "missing", missing[0]
    if mode in ("subset", "unordered"):
        matched = _matching(calls, refs, fits)
        extra = [calls[i] for i, j in enumerate(matched) if j is None]
        if extra:
            return "extra", extra[0]
    return None


def _trajectory_ok(calls: list[dict[str, Any]], expected: Trajectory) -> bool:
    return _trajectory_fault(calls, expected) is None


def _trajectory_match(value: Any, expected: Trajectory) -> tuple[bool, str]:
    mode, args_mode, refs = expected
    calls = calls_of(value)
    how = f"({mode}, arguments {args_mode})"
    fault = _trajectory_fault(calls, expected)
    if fault is None:
        return True, f"matches the reference's {_n_calls(len(refs))} {how} {_seen(calls)}"
    kind, detail = fault
    if kind == "count":
        return False, f"makes {_n_calls(len(calls))}, the reference {len(refs)} {how} {_seen(calls)}"
    if kind == "at":
        c, r = calls[detail], refs[detail]
        return (
            False,
            f"has call {detail} {describe_call(c)}, the reference {_ref_call(r)} {how} {_seen(calls)}",
        )
    if kind == "missing":
        return False, f"lacks a call matching the reference's {_ref_call(detail)} {how} {_seen(calls)}"
    return False, f"makes the call {describe_call(detail)}, which the reference lacks {how} {_seen(calls)}"


# --- the fast path: booleans for a whole column, verdicts only where a row fails ------------

_FAST: dict[str, Callable[[list[dict[str, Any]], Any], bool]] = {
    "tool_called": _called_ok,
    "tool_not_called": _not_called_ok,
    "tool_called_with_args": lambda calls, expected: _with_match(calls, expected) is not None,
    "tool_call_sequence": _sequence_ok,
    "tool_call_subsequence": _subsequence_ok,
    "tool_call_count": _count_ok,
    "tools_valid": lambda calls, offered: _tools_fault(calls, offered) is None,
    "trajectory_match": _trajectory_ok,
}


OPERATOR_NAMES = tuple(_FAST)
"""The agent operators (each has the column-wise check :func:`fast_check`)."""


def fast_check(name: str, cells: list[Any], expected: Any) -> tuple[list[bool], list[bool]] | None:
    """An agent operator over a column: ``(passed, handled)`` per cell, or None when the
    operator is no agent operator (or ``tools_valid`` reads its tools from each record).

    The same boolean core as the operator's own check, without writing a verdict for every
    row: the engine asks the operator for the reasons of the rows that fail, and checks the
    rows not handled (no tool calls in them: an error to report) value by value.

    Example:
        >>> fast_check("tool_called", [[{"name": "f", "arguments": {}}], [], "oops"], "f")
        ([True, False, False], [True, True, False])
    """
    check = _FAST.get(name)
    if check is None:
        return None
    try:
        prepared = lookup(name).op.prepare(expected)
    except OpError:
        return None
    if name == "tools_valid" and prepared is None:
        return None
    passed: list[bool] = []
    handled: list[bool] = []
    for v in cells:
        try:
            passed.append(bool(check(calls_of(v if type(v) in (list, dict) else to_plain(v)), prepared)))
        except Exception:  # noqa: BLE001  (the value-by-value path reports it, exactly as it would)
            passed.append(False)
            handled.append(False)
        else:
            handled.append(True)
    return passed, handled


# --- registration -------------------------------------------------------------------------


def _op(
    name: str, check: Check, phrase: str, *, prepare: Callable[[Any], Any], expected: ExpectedKind, doc: str
) -> None:
    register(
        Operator(
            name=name,
            check=check,
            prepare=prepare,
            phrase=phrase,
            doc=doc,
            expected=expected,
            array_native=True,  # a value is all of a response's calls, taken whole
        )
    )


_op(
    "tool_called",
    _called,
    "calling {expected}",
    prepare=_tool_names,
    expected="string",
    doc="A tool of this name (or every tool of a list) is called, at a path such as "
    "`response.tool_calls` or on a whole response: ``expected='get_weather'``.",
)
_op(
    "tool_not_called",
    _not_called,
    "free of calls to {expected}",
    prepare=_tool_names,
    expected="string",
    doc="No call to this tool (or to any of a list): ``expected='delete_user'`` passes a response "
    "that calls only get_weather.",
)
_op(
    "tool_called_with_args",
    _called_with,
    "calling the tool with {expected}",
    prepare=_with_args,
    expected="any",
    doc="Some call of the tool has these arguments, subset match (others may be there too, objects "
    "compared inside): ``expected={'name': 'search', 'arguments': {'query': 'NYC'}}``.",
)
_op(
    "tool_call_sequence",
    _sequence,
    "calling exactly {expected} in order",
    prepare=_name_list,
    expected="strings",
    doc="The names of the calls are exactly this list, in order: ``expected=['search', 'answer']`` "
    "fails ['search', 'search', 'answer'].",
)
_op(
    "tool_call_subsequence",
    _subsequence,
    "calling {expected} in order",
    prepare=_name_list,
    expected="strings",
    doc="These tools are called in this order, other calls between them allowed (Scouter's "
    "ToolCallSequence): ``expected=['search', 'answer']`` passes ['search', 'rank', 'answer'].",
)
_op(
    "tool_call_count",
    _call_count,
    "with {expected} tool calls",
    prepare=_count,
    expected="any",
    doc="How many calls (of one tool, with name): ``expected=2``, ``{'name': 'search', 'max': 3}``, "
    "``{'min': 1}``; a loop of 4 searches fails ``max: 3``.",
)
_op(
    "tools_valid",
    _tools_valid,
    "valid against the offered tools",
    prepare=_tools_expected,
    expected="any",
    doc="Every call names an offered tool and its arguments parse and match the tool's JSON Schema: "
    "``expected=[<OpenAI, Anthropic or Gemini tool definitions>]`` or '${request.tools}', or none to read "
    "them from the record.",
)
_op(
    "trajectory_match",
    _trajectory_match,
    "matching the reference trajectory {expected}",
    prepare=_trajectory,
    expected="any",
    doc="The calls against reference calls, as openevals compares trajectories: ``expected={'calls': "
    "['search', 'answer'], 'mode': 'superset', 'args': 'ignore'}`` (mode strict, unordered, subset or "
    "superset; args exact, ignore, subset or superset).",
)
