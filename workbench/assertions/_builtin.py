"""The built-in operators: Scouter's 46 comparison operators plus text and JSON checks.

Each operator is registered with its semantics in ``check``, the shape of ``expected`` in
``prepare``, and a one-line doc with an example. Values are plain JSON-like Python
(``None``, ``bool``, ``int``, ``float``, ``str``, ``list``, ``dict``); ``bool`` is not a number.

``check`` returns a bool, or ``(ok, verdict)`` when it can say more than the phrase (a
length, the missing items, the JSON Schema error). The verdict is a predicate without its
subject (``"lacks ['name']"``), stating what was found, so it reads right whether the
operator or its ``not_`` negation failed; :func:`~workbench.assertions.apply` follows it
with the value.
"""

from __future__ import annotations

import contextlib
import json
import math
import operator
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import date, datetime
from ipaddress import IPv6Address
from typing import Any, cast
from urllib.parse import urlsplit

import regex
from rapidfuzz.distance import Levenshtein

from ..errors import shorten
from ..paths import JSON_TOO_DEEP, decode_json_prefix, json_type, loads_json
from ._core import ExpectedKind, Operator, OpError, describe, register

_parse_xml: Callable[[str], ET.Element]
try:  # refuses entity bombs; otherwise the standard parser judges well-formedness as well
    import defusedxml.ElementTree as _defused

    _parse_xml = _defused.fromstring
except ImportError:  # pragma: no cover - depends on the environment
    _parse_xml = ET.fromstring

Check = Callable[[Any, Any], "bool | tuple[bool, str | None]"]
Prepare = Callable[[Any], Any]


# --- shared helpers ----------------------------------------------------------------


def _got(v: Any) -> str:
    return "got null" if v is None else f"got {json_type(v)} ({describe(v)})"


def _wrong(need: str, v: Any, prefix: str = "") -> OpError:
    return OpError(f"{prefix}needs {need}, {_got(v)}")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _need_number(v: Any) -> float | int:
    if not _is_number(v):
        raise _wrong("a number", v, "cannot compare non-numeric values: ")
    return cast("float | int", v)


def _need_str(v: Any, need: str = "a string") -> str:
    if not isinstance(v, str):
        raise _wrong(need, v)
    return v


def _said(ok: bool, phrase: str) -> str:
    """``"is <phrase>"`` or ``"is not <phrase>"``, as the check found."""
    return f"is {'' if ok else 'not '}{phrase}"


_NUMERIC_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT_TEXT = re.compile(r"[+-]?[0-9]+")


def _number_text_equal(text: str, number: float | int) -> bool:
    if _INT_TEXT.fullmatch(text):  # exact, so big integers do not round through float
        return int(text) == number
    return _NUMERIC_TEXT.fullmatch(text) is not None and float(text) == number


def _json_equal(a: Any, b: Any) -> bool:
    """``equals``: a number and a numeric string are equal as whole values (``"300" == 300``,
    normalised as Scouter's Equals does, for a model that wrote a number as text); anything
    else by :func:`_same_json`."""
    if isinstance(a, str) and _is_number(b):
        return _number_text_equal(a, b)
    if _is_number(a) and isinstance(b, str):
        return _number_text_equal(b, a)
    return _same_json(a, b)


def _same_json(a: Any, b: Any) -> bool:
    """JSON equality of items and nested values: numbers by value (``8 == 8.0``: JSON has one
    number type, and pandas turns integers into floats), otherwise the types must match
    (``"1" != 1``, ``true != 1``). Membership uses it, so ``[1, 2]`` does not contain ``"1"``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _loads(text: str) -> Any:
    """Strict JSON, the same parser paths use: ``NaN`` and ``Infinity`` are not JSON."""
    return loads_json(text)


# --- expected shapes (prepare) -----------------------------------------------------


def _bad_expected(need: str, expected: Any) -> OpError:
    got = "none was given" if expected is None else _got(expected)
    return OpError(f"needs {need} as expected, {got}")


def _no_expected(expected: Any) -> None:
    if expected is not None:
        raise OpError(f"takes no expected value, got {describe(expected)}; remove 'expected'")


def _any(expected: Any) -> Any:
    return expected


def _number(expected: Any) -> float | int:
    if not _is_number(expected) or math.isnan(expected):
        raise _bad_expected("a number", expected)
    return cast("float | int", expected)


def _string(expected: Any) -> str:
    if not isinstance(expected, str):
        raise _bad_expected("a string", expected)
    return expected


def _count(expected: Any) -> int:
    if isinstance(expected, bool) or not isinstance(expected, int) or expected < 0:
        raise _bad_expected("a whole number >= 0", expected)
    return expected


def _list(expected: Any) -> list[Any]:
    if not isinstance(expected, list):
        raise _bad_expected("a list", expected)
    return expected


def _strings(expected: Any) -> list[str]:
    if not isinstance(expected, list) or not all(isinstance(s, str) for s in expected):
        raise _bad_expected("a list of strings", expected)
    return expected


def _regex(expected: Any) -> re.Pattern[str]:
    try:
        return re.compile(_string(expected))
    except re.error as e:
        raise OpError(f"invalid regex {describe(expected)}: {e}") from None


_WORD_CHAR = r"[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]"
"""A character of a word (Unicode's definition, UTS #18): letters with their combining marks
and joiners, digits, connectors; so ``cafe`` is no whole word in ``café`` written with a
combining accent, nor ``क`` in ``किताब``."""


def _word(expected: Any) -> regex.Pattern[str]:
    word = _string(expected)
    if not word:
        raise OpError("needs a non-empty word as expected, got ''")
    # lookarounds rather than \b, so a word that ends in punctuation ('C++') still has an edge
    return regex.compile(rf"(?<!{_WORD_CHAR}){regex.escape(word)}(?!{_WORD_CHAR})")


def _pair(need: str, first: Prepare, second: Prepare) -> Prepare:
    """A prepare for a two-item list ``[first, second]``; ``need`` names the shape."""

    def prepare(expected: Any) -> tuple[Any, Any]:
        if not isinstance(expected, list) or len(expected) != 2:
            raise _bad_expected(need, expected)
        try:
            return first(expected[0]), second(expected[1])
        except OpError:
            raise _bad_expected(need, expected) from None

    return prepare


def _ordered(prepare: Callable[[Any], tuple[Any, Any]]) -> Callable[[Any], tuple[Any, Any]]:
    def checked(expected: Any) -> tuple[Any, Any]:
        lo, hi = prepare(expected)
        if lo > hi:
            raise OpError(f"needs min <= max in expected [min, max], got {describe(expected)}")
        return lo, hi

    return checked


def _tolerance(v: Any) -> float:
    if not _is_number(v) or not v >= 0:
        raise OpError("needs a number >= 0")
    return cast(float, v)


def _fraction(v: Any) -> float:
    if not _is_number(v) or not 0 <= v <= 1:
        raise OpError("needs a number in [0, 1]")
    return cast(float, v)


def _schema(expected: Any) -> Any:
    """A JSON Schema validator, built once after the schema itself is checked."""
    if not isinstance(expected, (dict, bool)):
        raise _bad_expected("a JSON Schema object", expected)
    import jsonschema  # on use: it is slow to import and only schema tasks need it

    cls = jsonschema.validators.validator_for(expected)
    try:
        cls.check_schema(expected)  # type: ignore[arg-type]  # true and false are schemas too
    except jsonschema.SchemaError as e:
        raise OpError(f"needs a valid JSON Schema as expected: {e.message}") from None
    return cls(expected, format_checker=cls.FORMAT_CHECKER)


def _optional_schema(expected: Any) -> Any:
    return None if expected is None else _schema(expected)


def _schema_error(validator: Any, instance: Any) -> str | None:
    """The validator's best message for ``instance``, or None when it is valid."""
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(instance))
    if error is None:
        return None
    # the validator's message quotes the instance, which may be the whole (long) value
    return shorten(error.message, 160) + (f" at {error.json_path}" if error.absolute_path else "")


_PREPARE: dict[str, Prepare] = {
    "none": _no_expected,
    "any": _any,
    "number": _number,
    "string": _string,
    "regex": _regex,
    "list": _list,
    "strings": _strings,
    "count": _count,
    "schema": _schema,
    "range": _ordered(_pair("[min, max]", _number, _number)),
    "int_range": _ordered(_pair("[min, max] whole numbers", _count, _count)),
}


def _op(
    name: str,
    check: Check,
    phrase: str,
    *,
    doc: str,
    expected: ExpectedKind = "none",
    prepare: Prepare | None = None,
    array_native: bool = False,
) -> None:
    """Register an operator; ``prepare`` defaults to the standard one for ``expected``."""
    register(
        Operator(
            name=name,
            check=check,
            prepare=prepare or _PREPARE[expected],
            phrase=phrase,
            doc=doc,
            expected=expected,
            array_native=array_native,
        )
    )


# --- equality and numbers (numbers are checked item by item) -----------------------

_op(
    "equals",
    _json_equal,
    "equal to {expected}",
    expected="any",
    array_native=True,
    doc="Deep JSON equality of the whole value, a number equal to its text only as the whole "
    "value: ``expected=300`` passes 300.0 and '300'; ``expected=[1]`` fails ['1'].",
)
_op(
    "not_equal",
    lambda a, e: not _json_equal(a, e),
    "different from {expected}",
    expected="any",
    array_native=True,
    doc="Negation of equals: ``expected='a'`` passes 'b'; ``expected=1`` fails 1.0.",
)


def _numeric_check(cmp: Callable[[Any, Any], bool]) -> Check:
    return lambda a, e: cmp(_need_number(a), e)


for _name, _cmp, _phrase, _example in [
    ("greater_than", operator.gt, "greater than", "passes 5, fails 3, errors on '5'"),
    ("greater_than_or_equal", operator.ge, "at least", "passes 3, fails 2"),
    ("less_than", operator.lt, "less than", "passes 2, fails 3"),
    ("less_than_or_equal", operator.le, "at most", "passes 3, fails 4"),
]:
    _op(
        _name,
        _numeric_check(_cmp),
        f"{_phrase} {{expected}}",
        expected="number",
        doc=f"Compares numbers, a non-number errors: ``expected=3`` {_example}.",
    )


def _approx(a: Any, e: tuple[float, float]) -> tuple[bool, str]:
    ok = abs(_need_number(a) - e[0]) <= e[1]
    return ok, _said(ok, f"within {describe(e[1])} of {describe(e[0])}")


def _in_range(a: Any, e: tuple[Any, Any]) -> bool:
    return bool(e[0] <= _need_number(a) <= e[1])


_op(
    "approximately_equals",
    _approx,
    "approximately equal to {expected} ([value, tolerance])",
    expected="pair",
    prepare=_pair("[value, tolerance >= 0]", _number, _tolerance),
    doc="abs(actual - value) <= tolerance: ``expected=[10, 0.5]`` passes 10.4, fails 10.6.",
)
_op(
    "in_range",
    _in_range,
    "in the range {expected}",
    expected="range",
    doc="min <= actual <= max, inclusive: ``expected=[1, 5]`` passes 1 and 5, fails 6.",
)
_op(
    "not_in_range",
    lambda a, e: not _in_range(a, e),
    "outside the range {expected}",
    expected="range",
    doc="Negation of in_range: ``expected=[1, 5]`` passes 0 and 6, fails 5.",
)
_op(
    "is_positive",
    lambda a, e: _need_number(a) > 0,
    "positive",
    doc="A number > 0: passes 0.1, fails 0, errors on '1'.",
)
_op(
    "is_negative",
    lambda a, e: _need_number(a) < 0,
    "negative",
    doc="A number < 0: passes -2, fails 0, errors on '-2'.",
)
_op(
    "is_zero",
    lambda a, e: _need_number(a) == 0,
    "zero",
    doc="A number equal to 0: passes 0 and 0.0, fails 1, errors on '0'.",
)


# --- containment: substrings of a string, items of an array, keys of an object -----


def _hits(
    actual: Any,
    wanted: list[Any],
    *,
    text: bool,
    keys: bool,
    fold: bool = False,
) -> list[bool]:
    """For each wanted value, whether ``actual`` holds it; ``fold`` compares strings casefolded."""
    if isinstance(actual, str) and text:
        hay = actual.casefold() if fold else actual
        subs = [_need_str(w, "string expected values to search a string") for w in wanted]
        return [(s.casefold() if fold else s) in hay for s in subs]
    if isinstance(actual, list):
        if fold:
            items = {x.casefold() for x in actual if isinstance(x, str)}
            return [w.casefold() in items for w in wanted]
        return [any(_same_json(x, w) for x in actual) for w in wanted]
    if isinstance(actual, dict) and keys:
        names = {k.casefold() for k in actual} if fold else set(actual)
        return [isinstance(w, str) and (w.casefold() if fold else w) in names for w in wanted]
    raise _wrong(" or ".join(["a string"] * text + ["an array"] + ["an object"] * keys), actual)


def _contains(fold: bool = False, negate: bool = False) -> Check:
    how = " ignoring case" if fold else ""

    def check(a: Any, e: Any) -> tuple[bool, str]:
        ok = _hits(a, [e], text=True, keys=False, fold=fold)[0]
        verb = "contains" if ok else "does not contain"
        return ok != negate, f"{verb} {describe(e)}{how}"

    return check


def _contains_all(fold: bool = False) -> Check:
    how = " ignoring case" if fold else ""

    def check(a: Any, e: list[Any]) -> tuple[bool, str]:
        missing = [w for w, hit in zip(e, _hits(a, e, text=True, keys=True, fold=fold)) if not hit]
        if missing:
            return False, f"lacks {describe(missing)}{how}"
        return True, f"contains all of {describe(e)}{how}"

    return check


def _contains_any(fold: bool = False) -> Check:
    how = " ignoring case" if fold else ""

    def check(a: Any, e: list[Any]) -> tuple[bool, str]:
        found = [w for w, hit in zip(e, _hits(a, e, text=True, keys=True, fold=fold)) if hit]
        if found:
            return True, f"contains {describe(found[0])}{how}"
        return False, f"contains none of {describe(e)}{how}"

    return check


def _contains_none(a: Any, e: list[Any]) -> tuple[bool, str]:
    found = [w for w, hit in zip(e, _hits(a, e, text=True, keys=True)) if hit]
    if found:
        return False, f"contains {describe(found)}"
    return True, f"contains none of {describe(e)}"


def _has_keys(a: Any, e: list[str]) -> tuple[bool, str]:
    if not isinstance(a, dict):
        raise _wrong("an object", a)
    missing = [k for k in e if k not in a]
    if missing:
        return False, f"lacks the keys {describe(missing)}"
    return True, f"has the keys {describe(e)}"


def _sequence_matches(a: Any, e: list[Any]) -> bool:
    if not isinstance(a, list):
        raise _wrong("an array", a)
    return _json_equal(a, e)


def _has_unique_items(a: Any, e: None) -> tuple[bool, str]:
    if not isinstance(a, list):
        raise _wrong("an array", a)
    seen: set[str] = set()
    for item in a:
        key = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if key in seen:
            return False, f"repeats {describe(item)}"
        seen.add(key)
    return True, "has unique items"


_op(
    "contains",
    _contains(),
    "containing {expected}",
    expected="any",
    array_native=True,
    doc="Substring of a string or item of an array: ``expected='lo'`` passes 'hello', "
    "``expected=1`` fails ['1'], errors on 5.",
)
_op(
    "not_contains",
    _contains(negate=True),
    "free of {expected}",
    expected="any",
    array_native=True,
    doc="Negation of contains: ``expected=3`` passes [1, 2], fails [3], errors on an object.",
)
_op(
    "contains_all",
    _contains_all(),
    "containing all of {expected}",
    expected="list",
    array_native=True,
    doc="Every expected item is a substring of the text, an item of the array or a key of the "
    "object, case-sensitive: ``expected=['a', 'b']`` passes 'a b' and ['b', 'a'], fails 'A b'.",
)
_op(
    "contains_any",
    _contains_any(),
    "containing any of {expected}",
    expected="list",
    array_native=True,
    doc="Some expected item is in the text, array or object keys: ``expected=['lo', 'z']`` passes 'hello'.",
)
_op(
    "contains_none",
    _contains_none,
    "free of all of {expected}",
    expected="list",
    array_native=True,
    doc="No expected item is in the text, array or object keys: ``expected=['sorry']`` passes "
    "'Here it is' and ['a'], fails 'I am sorry'.",
)
_op(
    "contains_ignore_case",
    _contains(fold=True),
    "containing {expected} ignoring case",
    expected="string",
    array_native=True,
    doc="contains with casefold(): ``expected='WORLD'`` passes 'Hello world' and ['World'].",
)
_op(
    "contains_all_ignore_case",
    _contains_all(fold=True),
    "containing all of {expected} ignoring case",
    expected="strings",
    array_native=True,
    doc="Every string is a substring (or item), any case: ``expected=['a', 'B']`` passes 'AB'.",
)
_op(
    "contains_any_ignore_case",
    _contains_any(fold=True),
    "containing any of {expected} ignoring case",
    expected="strings",
    array_native=True,
    doc="Some string is a substring (or item), any case: ``expected=['YES', 'ok']`` passes 'Ok.'.",
)
_op(
    "one_of",
    lambda a, e: any(_json_equal(a, x) for x in e),
    "one of {expected}",
    expected="list",
    array_native=True,
    doc="Equals (as equals does) one item of the list: ``expected=['yes', 'no']`` passes 'no'.",
)
_op(
    "has_keys",
    _has_keys,
    "an object with the keys {expected}",
    expected="strings",
    array_native=True,
    doc="An object with every listed key: ``expected=['id', 'name']`` passes {'id': 1, 'name': 2}.",
)
_op(
    "sequence_matches",
    _sequence_matches,
    "the sequence {expected}",
    expected="list",
    array_native=True,
    doc="Same items in the same order: ``expected=['a', 'b']`` fails ['b', 'a'].",
)
_op(
    "has_unique_items",
    _has_unique_items,
    "free of duplicates",
    array_native=True,
    doc="No two items are the same JSON: passes [1, 2, {'a': 1}], fails [{'a': 1}, {'a': 1}].",
)


# --- strings (checked item by item; anything but a string is an error) -------------


def _text(fn: Callable[[str, Any], bool]) -> Check:
    return lambda a, e: fn(_need_str(a), e)


def _case(is_case: Callable[[str], bool]) -> Check:
    def check(a: Any, e: None) -> bool:
        letters = [c for c in _need_str(a) if c.isalpha()]
        if not letters:
            raise _wrong("a string with letters to check the case of", a)
        return all(is_case(c) for c in letters)

    return check


def _search(a: str, pattern: re.Pattern[str] | regex.Pattern[str]) -> bool:
    return pattern.search(a) is not None


# Unicode's Alphabetic property (letters of every script, and the vowel signs and harakat
# that are part of them), with the combining marks and joiners that follow a letter: the
# virama of हिन्दी, an accent written as a combining mark, the ZWNJ of Persian words.
_ALPHABETIC = regex.compile(r"(?:\p{Alphabetic}[\p{Alphabetic}\p{M}\p{Join_Control}]*)?")
_ALPHANUMERIC = regex.compile(r"(?:[\p{Alphabetic}\p{N}][\p{Alphabetic}\p{N}\p{M}\p{Join_Control}]*)?")


_op(
    "starts_with",
    _text(str.startswith),
    "a string starting with {expected}",
    expected="string",
    doc="String prefix: ``expected='Hel'`` passes 'Hello', fails 'hello', errors on 12.",
)
_op(
    "ends_with",
    _text(str.endswith),
    "a string ending with {expected}",
    expected="string",
    doc="String suffix: ``expected='.'`` passes 'Done.', fails 'Done', errors on 12.",
)
_op(
    "starts_with_any",
    _text(lambda a, e: a.startswith(tuple(e))),
    "a string starting with one of {expected}",
    expected="strings",
    doc="Prefix from a list: ``expected=['Yes', 'No']`` passes 'No, thanks', fails 'Maybe'.",
)
_op(
    "equals_ignore_case",
    _text(lambda a, e: a.casefold() == e.casefold()),
    "equal to {expected} ignoring case",
    expected="string",
    doc="String equality with casefold(): ``expected='Paris'`` passes 'PARIS', fails 'Paris.'.",
)
_op(
    "starts_with_ignore_case",
    _text(lambda a, e: a.casefold().startswith(e.casefold())),
    "a string starting with {expected} ignoring case",
    expected="string",
    doc="Prefix with casefold(): ``expected='yes'`` passes 'YES, indeed', fails 'No'.",
)
_op(
    "ends_with_ignore_case",
    _text(lambda a, e: a.casefold().endswith(e.casefold())),
    "a string ending with {expected} ignoring case",
    expected="string",
    doc="Suffix with casefold(): ``expected='.PDF'`` passes 'report.pdf', fails 'report.doc'.",
)
_op(
    "matches",
    _text(_search),
    "a string matching {expected}",
    expected="regex",
    doc=r"Python regex search, not anchored: ``expected='\d+'`` passes 'abc123', fails 'abc'.",
)
_op(
    "matches_regex",
    _text(_search),
    "a string matching {expected}",
    expected="regex",
    doc="Same as matches: ``expected='^[A-Z]'`` passes 'Hello', fails 'hello'.",
)
_op(
    "contains_word",
    _text(_search),
    "a string with the word {expected}",
    expected="string",
    prepare=_word,
    doc="Whole word (no letter, mark, digit or '_' on either side), case-sensitive: "
    "``expected='quick'`` passes 'a quick fox', fails 'quickly'.",
)
_op(
    "is_alphabetic",
    _text(lambda a, e: _ALPHABETIC.fullmatch(a) is not None),
    "alphabetic",
    doc="Only letters (Unicode Alphabetic, with the marks that follow a letter; '' passes): "
    "passes 'abcÄ' and 'किताब', fails 'ab c'.",
)
_op(
    "is_alphanumeric",
    _text(lambda a, e: _ALPHANUMERIC.fullmatch(a) is not None),
    "alphanumeric",
    doc="Only letters (as is_alphabetic) and Unicode numbers: passes 'abc123' and 'كِتَاب٣', fails 'abc-123'.",
)
_op(
    "is_lower_case",
    _case(str.islower),
    "lower case",
    doc="Every letter lower case, others ignored: passes 'hi 123!', fails 'Hello', errors on '12'.",
)
_op(
    "is_upper_case",
    _case(str.isupper),
    "upper case",
    doc="Every letter upper case, others ignored: passes 'OK 200', fails 'Ok', errors on '!!'.",
)

_EMAIL = re.compile(r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_LABEL = r"(?!-)[^\W_](?:[^\W_]|-){0,62}(?<!-)"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?(?:Z|([+-])([0-9]{2}):([0-9]{2}))?)?"
)


def _is_url(s: str) -> bool:
    if any(c.isspace() for c in s):
        return False
    try:
        parts = urlsplit(s)
        parts.port  # noqa: B018  (raises ValueError for a port that is not 0-65535)
    except ValueError:
        return False
    host = parts.hostname or ""
    if parts.scheme.lower() not in ("http", "https") or not host:
        return False
    if "[" in parts.netloc:
        try:
            IPv6Address(host)
        except ValueError:
            return False
        return True
    return _HOST.fullmatch(host) is not None


def _is_iso8601(s: str) -> bool:
    m = _ISO.fullmatch(s)
    if m is None:
        return False
    y, mo, d, hh, mm, ss, sign, off_h, off_m = m.groups()
    if off_h is not None and not (int(off_h) <= 23 and int(off_m) <= 59):
        return False
    second = int(ss or 0)
    try:  # the regex checks the form; the calendar rejects 2024-02-30 and 25:00
        date(int(y), int(mo), int(d))
        if hh is not None:
            datetime(2000, 1, 1, int(hh), int(mm), 59 if second == 60 else second)
    except ValueError:
        return False
    if second == 60:  # a leap second is the last second of a UTC day: 23:59:60Z, 18:59:60-05:00
        offset = (int(off_h) * 60 + int(off_m)) * (-1 if sign == "-" else 1) if off_h else 0
        return (int(hh) * 60 + int(mm) - offset) % 1440 == 23 * 60 + 59
    return True


_op(
    "is_email",
    _text(lambda a, e: _EMAIL.fullmatch(a) is not None),
    "an email address",
    doc="Scouter's email pattern: passes 'ann@example.com', fails 'ann@localhost', errors on 5.",
)
_op(
    "is_url",
    _text(lambda a, e: _is_url(a)),
    "an http(s) URL",
    doc="http(s) URL with a host, port or IPv6: passes 'http://localhost:8080/x', fails 'a.com'.",
)
_op(
    "is_uuid",
    _text(lambda a, e: _UUID.fullmatch(a) is not None),
    "a UUID",
    doc="8-4-4-4-12 hex digits, any version: passes '123e4567-e89b-12d3-a456-426614174000'.",
)
_op(
    "is_iso8601",
    _text(lambda a, e: _is_iso8601(a)),
    "an ISO 8601 date or date-time",
    doc="A real ISO 8601 date or date-time (a leap second at 23:59:60 UTC too): passes "
    "'2024-01-08T12:00:00.5Z' and '2016-12-31T23:59:60Z', fails '2024-02-30'.",
)


EDIT_WORK_LIMIT = 10**10
"""The most work one ``similarity_gte`` / ``levenshtein_lte`` cell may take, counted as
(length of the longer text) x (edits checked): about 0.3 s on one core. Texts that differ in
fewer edits than the bound affords get the exact answer; texts further apart than that, whose
answer would need more work, get an error cell saying so, so one huge row cannot stall a run
(two 1 MB texts compared in full take half a minute)."""

_EXACT_WORK = 10**7
"""Below this much work the distance is computed in full, so a reason gives the exact figure."""


def _bounded_distance(a: str, ref: str, most: int) -> int | None:
    """The edit distance of ``a`` and ``ref``, or None when it is only known to be more than
    ``most``; the work is bounded by :data:`EDIT_WORK_LIMIT`.

    Raises:
        OpError: the distance is more than the bound lets one cell check, and may be ``most``
            or less.
    """
    longer, shorter = max(len(a), len(ref)), min(len(a), len(ref))
    if longer * shorter <= _EXACT_WORK:
        return Levenshtein.distance(a, ref)
    if longer - shorter > most:  # each edit changes the length by at most one
        return None
    # banded: the work grows with the cutoff, so check as many edits as the bound affords
    affordable = min(most, EDIT_WORK_LIMIT // longer)
    dist = Levenshtein.distance(a, ref, score_cutoff=affordable)
    if dist <= affordable:
        return dist
    if affordable == most:
        return None
    raise OpError(
        f"cannot compare texts of {len(a):,} and {len(ref):,} characters within the work bound of one "
        f"cell: they are more than {affordable:,} edits apart, and deciding whether they are within "
        f"{most:,} would take {longer:,} x {min(most, shorter):,} steps (the bound is "
        f"{EDIT_WORK_LIMIT:,}); compare a shorter field or a part of the text, or allow fewer edits"
    )


def _similarity(a: Any, e: tuple[str, float]) -> tuple[bool, str]:
    text, (ref, least) = _need_str(a), e
    longer = max(len(text), len(ref))
    score: float | None = 1.0
    if longer:
        # similarity = 1 - distance / longer, so passing allows this many edits
        dist = _bounded_distance(text, ref, math.floor((1 - least) * longer + 1e-9))
        score = None if dist is None else 1 - dist / longer
    if score is None or score < least:
        shown = "" if score is None else f"{score:.3f}, "
        return False, f"has similarity {shown}below {describe(least)} to {describe(ref)}"
    return True, f"has similarity {score:.3f} to {describe(ref)}, at least {describe(least)}"


def _edit_distance(a: Any, e: tuple[str, int]) -> tuple[bool, str]:
    text, (ref, most) = _need_str(a), e
    dist = _bounded_distance(text, ref, most)
    if dist is None:
        return False, f"is more than {most} edits from {describe(ref)}"
    if dist > most:
        return False, f"is {dist} edits from {describe(ref)}, more than {most}"
    return True, f"is {dist} edits from {describe(ref)}, within {most}"


def _word_count(a: Any, e: tuple[int, int]) -> tuple[bool, str]:
    n = len(_need_str(a).split())
    ok = e[0] <= n <= e[1]
    return ok, f"has {n} words, {'' if ok else 'not '}between {e[0]} and {e[1]}"


_op(
    "similarity_gte",
    _similarity,
    "similar enough to {expected} ([reference, min])",
    expected="pair",
    prepare=_pair("[reference text, min similarity in 0..1]", _string, _fraction),
    doc="Levenshtein similarity 0..1 >= min: ``expected=['color', 0.8]`` passes 'colour', fails 'cat'.",
)
_op(
    "levenshtein_lte",
    _edit_distance,
    "close enough to {expected} ([reference, max edits])",
    expected="pair",
    prepare=_pair("[reference text, max distance >= 0]", _string, _count),
    doc="Edit distance <= max: ``expected=['colour', 1]`` passes 'color', fails 'colr'.",
)
_op(
    "word_count_between",
    _word_count,
    "within the word count range {expected}",
    expected="int_range",
    doc="Whitespace-separated words, inclusive: ``expected=[1, 50]`` passes 'short one', fails ''.",
)


# --- lengths: characters of a string, items of an array, keys of an object ---------


def _length(cmp: Callable[[int, int], bool], than: str) -> Check:
    """``than`` words the comparison: ``"more than"``; ``""`` for equality."""

    def check(a: Any, e: int) -> tuple[bool, str]:
        if not isinstance(a, (str, list, dict)):
            raise OpError(f"cannot get length: needs a string, array or object, {_got(a)}")
        n = len(a)
        ok = cmp(n, e)
        if not than:
            return ok, f"has length {n}" if ok else f"has length {n}, not {e}"
        return ok, f"has length {n}, {'' if ok else 'not '}{than} {e}"

    return check


for _name, _cmp, _phrase, _than, _example in [
    ("has_length_equal", operator.eq, "of length", "", "5`` passes 'héllo', errors on 12345"),
    ("has_length_greater_than", operator.gt, "longer than", "more than", "2`` passes [1, 2, 3], fails 'ab'"),
    ("has_length_less_than", operator.lt, "shorter than", "less than", "3`` passes 'ab', fails [1, 2, 3]"),
    ("has_length_greater_than_or_equal", operator.ge, "of length at least", "at least", "2`` passes 'ab'"),
    ("has_length_less_than_or_equal", operator.le, "of length at most", "at most", "2`` fails 'abc'"),
]:
    _op(
        _name,
        _length(_cmp, _than),
        f"{_phrase} {{expected}}",
        expected="count",
        array_native=True,
        doc=f"Length of a string (characters), array or object: ``expected={_example}.",
    )


# --- types and emptiness (an array is judged as a whole) ---------------------------


def _type_check(test: Callable[[Any], bool]) -> Check:
    return lambda a, e: test(a)


for _name, _test, _phrase, _example in [
    ("is_numeric", _is_number, "a number", "passes 1.5, fails '1.5', true and [1]"),
    ("is_string", lambda v: isinstance(v, str), "a string", "passes 'x', fails 1 and ['x']"),
    ("is_boolean", lambda v: isinstance(v, bool), "a boolean", "passes false, fails 'false' and 0"),
    ("is_null", lambda v: v is None, "null", "passes null, fails '' and 0"),
    ("is_array", lambda v: isinstance(v, list), "an array", "passes [], fails '[]'"),
    ("is_object", lambda v: isinstance(v, dict), "an object", "passes {}, fails '{}' and []"),
    (
        "is_integer",
        lambda v: _is_number(v) and float(v).is_integer(),
        "an integer",
        "a number with no fraction: passes 3 and 3.0, fails 3.5, '3' and true",
    ),
]:
    _op(
        _name,
        _type_check(_test),
        _phrase,
        array_native=True,
        doc=f"JSON type check, never an error: {_example}.",
    )


def _is_empty(a: Any, e: None) -> bool:
    if a is None or isinstance(a, (str, list, dict)):
        return not a
    raise _wrong("a string, array, object or null", a)


_op(
    "is_empty",
    _is_empty,
    "empty",
    array_native=True,
    doc="'', null, [] or {}: passes [], fails 'a', errors on 0.",
)


def _is_not_empty(a: Any, e: Any) -> bool | tuple[bool, str]:
    return True if not _is_empty(a, e) else (False, "is empty")


_op(
    "is_not_empty",
    _is_not_empty,
    "non-empty",
    array_native=True,
    doc="Negation of is_empty: passes 'a' and [0], fails '' and null, errors on 0.",
)


# --- documents in strings: JSON and XML (an array's strings are checked one by one;
# json_schema validates the whole value, arrays included) -----------------------

_FENCE = re.compile(r"```[A-Za-z]*[ \t]*\n(.*?)```", re.S)
_START = re.compile(r'\{\s*["}]|\[\s*[-0-9"\[{tfn\]]')
"""Where an object or array can start: a '{' before a key or '}', a '[' before a value or ']'."""
_WINDOW = 1 << 16
_MAX_STARTS = 2_000


def _decode_at(text: str, start: int) -> tuple[Any, int]:
    """Decode the JSON at ``start``, on a window first: decoding errors on the whole of a long
    text cost time proportional to its length, so trying every start would be quadratic."""
    window = text[start : start + _WINDOW]
    try:
        value, end = decode_json_prefix(window)
    except json.JSONDecodeError as e:
        cut = start + len(window) < len(text)
        if not (cut and (e.pos >= len(window) - 1 or e.msg.startswith("Unterminated string"))):
            raise
        value, end = decode_json_prefix(text[start:])
    return value, start + end


def _embedded_json(text: str) -> Iterator[Any]:
    """Objects and arrays in text: fenced blocks first, then wherever one parses (the first
    2,000 places that could start one are tried)."""
    for m in _FENCE.finditer(text):
        try:
            value = _loads(m.group(1))
        except ValueError:
            continue
        if isinstance(value, (dict, list)):
            yield value
    pos = 0
    for _ in range(_MAX_STARTS):
        start = _START.search(text, pos)
        if start is None:
            return
        try:
            value, pos = _decode_at(text, start.start())
        except ValueError:  # not JSON, or nested too deeply to parse
            pos = start.start() + 1
            continue
        yield value


def _is_json(a: Any, e: None) -> bool | tuple[bool, str]:
    try:
        _loads(_need_str(a, "a string holding JSON"))
    except ValueError as err:
        if err.args and err.args[0] == JSON_TOO_DEEP:
            return False, f"is {JSON_TOO_DEEP}"
        return False
    return True


def _contains_json(a: Any, validator: Any) -> tuple[bool, str | None]:
    first_error: str | None = None
    for value in _embedded_json(_need_str(a)):
        error = None if validator is None else _schema_error(validator, value)
        if error is None:
            return True, None
        first_error = first_error or error
    if first_error is None:
        return False, "contains no JSON object or array"
    return False, f"holds JSON that does not match the schema ({first_error})"


def _json_schema(a: Any, validator: Any) -> tuple[bool, str | None]:
    instance = a
    if isinstance(a, str):
        # plain text is validated as a string, e.g. against {"type": "string"}
        with contextlib.suppress(ValueError):
            instance = _loads(a)
    error = _schema_error(validator, instance)
    return error is None, error and f"does not match the schema ({error})"


def _is_xml(a: Any, e: None) -> tuple[bool, str | None]:
    try:
        _parse_xml(_need_str(a, "a string holding XML"))
    except ET.ParseError as err:
        return False, f"is not well-formed XML ({err})"
    except UnicodeEncodeError:  # expat reads UTF-8, and XML has no place for a lone surrogate
        return False, "is not well-formed XML (it holds a lone surrogate, which XML does not allow)"
    except ValueError:  # defusedxml refuses entity declarations
        return False, "declares XML entities, which are refused"
    return True, None


_op(
    "is_json",
    _is_json,
    "valid JSON",
    doc="""A string that parses as JSON: passes '42' and '{"a": 1}', fails '{a: 1}', errors on 5.""",
)
_op(
    "contains_json",
    _contains_json,
    "text containing JSON",
    expected="schema",
    prepare=_optional_schema,
    doc="""A JSON object or array in text or a ```json fence, optionally matching a JSON Schema """
    """given as expected: passes 'Here: {"a": 1}'.""",
)
_op(
    "json_schema",
    _json_schema,
    "valid against the JSON Schema",
    expected="schema",
    array_native=True,
    doc="""Validates (a string is parsed as JSON first): ``expected={"required": ["a"]}`` """
    """passes '{"a": 1}'.""",
)
_op(
    "is_xml",
    _is_xml,
    "well-formed XML",
    doc="A string that parses as XML: passes '<a><b/></a>', fails '<a>', errors on 5.",
)
