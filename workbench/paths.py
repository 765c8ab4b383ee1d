"""Dot-paths into JSON-like values, and ``${path}`` templates. Pure: no pandas, no I/O.

A path is dot segments and indexes: ``response.choices.0.message.content`` and
``response.choices[0].message.content`` address the same value; ``a["key.with.dots"]``
quotes a key. A string met while descending is parsed as JSON, so a cell holding
``'{"answer": "..."}'`` can be walked into.

Example:
    >>> from workbench.paths import parse_path, resolve
    >>> resolve({"a": '{"b": [10, 20]}'}, parse_path("a.b[1]"))
    20
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .errors import cap_list, did_you_mean, shorten

__all__ = [
    "JSON_TOO_DEEP",
    "MAX_JSON_DEPTH",
    "TEMPLATE",
    "PathError",
    "Segment",
    "compact_json",
    "decode_json_prefix",
    "format_path",
    "has_template",
    "json_type",
    "loads_json",
    "loads_json_cells",
    "not_json",
    "parse_path",
    "render",
    "resolve",
    "substitute",
    "template_paths",
    "to_plain",
]

Segment = str | int
"""One step of a path: a key (``str``) or a list index (``int``)."""

TEMPLATE = re.compile(r"\$\{([^{}]*)\}")
"""A ``${path}`` template; group 1 is the path as written (strip it before parsing)."""
_TOKEN = re.compile(
    r"""
    \[\s*(?P<index>-?\d+)\s*\]            # [0]
  | \[\s*"(?P<dq>(?:[^"\\]|\\.)*)"\s*\]   # ["key"]
  | \[\s*'(?P<sq>(?:[^'\\]|\\.)*)'\s*\]   # ['key']
  | (?P<dot>\.)
  | (?P<name>[^.\[\]]+)
    """,
    re.VERBOSE,
)


MAX_JSON_DEPTH = 1024
"""The deepest nesting of arrays and objects :func:`loads_json` parses (orjson's own limit;
Python's parser, deciding what orjson refuses, stops near 1,000 because of the recursion
limit). Deeper text is refused the same way on every path, with :data:`JSON_TOO_DEEP`."""

JSON_TOO_DEEP = f"nested too deeply to parse (more than {MAX_JSON_DEPTH:,} levels of arrays and objects)"
"""The message of the ``ValueError`` for JSON nested beyond :data:`MAX_JSON_DEPTH`."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_STRICT = json.JSONDecoder(parse_constant=_reject_constant)

_fast_loads: Callable[[str | bytes], Any] | None
try:  # orjson parses several times faster; json (strict) decides whatever orjson refuses
    import orjson

    _fast_loads = orjson.loads
except ImportError:  # pragma: no cover - orjson is a dependency
    _fast_loads = None


def _too_deep(e: ValueError) -> bool:
    return str(e).startswith("depth limit exceeded")  # orjson's words


def loads_json(text: str) -> Any:
    """Parse strict JSON (``NaN`` and ``Infinity`` are not JSON).

    The one JSON loader of workbench: cells, paths, operators and judge verdicts all parse
    with it (or with :func:`decode_json_prefix` when scanning text), so they agree on what
    JSON is.

    Raises:
        ValueError: the text is not JSON (the message says where), or it is nested deeper
            than :data:`MAX_JSON_DEPTH` (the message is :data:`JSON_TOO_DEEP`).

    Example:
        >>> loads_json('{"a": [1, 2.5]}')
        {'a': [1, 2.5]}
        >>> loads_json("[" * 2000 + "]" * 2000)
        Traceback (most recent call last):
        ValueError: nested too deeply to parse (more than 1,024 levels of arrays and objects)
    """
    if _fast_loads is not None:
        try:
            return _fast_loads(text)
        except ValueError as e:
            if _too_deep(e):
                raise ValueError(JSON_TOO_DEEP) from None
            # else e.g. integers beyond 64 bits, which json handles; or truly invalid text
    try:
        return _STRICT.decode(text)
    except RecursionError:
        raise ValueError(JSON_TOO_DEEP) from None


def decode_json_prefix(text: str, start: int = 0) -> tuple[Any, int]:
    """Strict-decode the one JSON value that starts at ``text[start]``; text may follow it.

    Returns the value and the index just past it. For finding JSON inside prose (a reply,
    a fenced block), where :func:`loads_json` wants the whole text to be one value.

    Raises:
        json.JSONDecodeError: no JSON value starts there (``msg`` and ``pos`` say why and where).
        ValueError: ``NaN``/``Infinity`` at that place, or nesting too deep to parse
            (:data:`JSON_TOO_DEEP`), never a ``RecursionError``.

    Example:
        >>> decode_json_prefix('Verdict: {"score": 4} (done)', 9)
        ({'score': 4}, 21)
    """
    try:
        return _STRICT.raw_decode(text, start)
    except RecursionError:
        raise ValueError(JSON_TOO_DEEP) from None


def loads_json_cells(cells: list[Any]) -> tuple[list[Any], dict[int, str] | None]:
    """Parse every ``str`` in ``cells`` as JSON with :func:`loads_json`; other cells stay.

    Returns the cells (a string that is not JSON becomes ``None``) and, per index of such a
    string, the parser's message (``None`` when every string parsed). One loop for a whole
    column: a million cells cost a fraction of a second.

    Example:
        >>> loads_json_cells(['{"a": 1}', 7, "nope"])
        ([{'a': 1}, 7, None], {2: 'Expecting value: line 1 column 1 (char 0)'})
    """
    errors: dict[int, str] | None = None
    out: list[Any] = []
    append, fast = out.append, loads_json if _fast_loads is None else _fast_loads
    for i, v in enumerate(cells):
        if type(v) is str:
            try:
                try:
                    v = fast(v)
                except ValueError:  # loads_json decides what the fast parser refused, and says why
                    v = loads_json(v)
            except ValueError as e:
                if errors is None:
                    errors = {}
                errors[i] = str(e.args[0]) if e.args else str(e)
                v = None
        append(v)
    return out, errors


class PathError(LookupError):
    """A path cannot be followed in a value; the message says where and why."""


def parse_path(path: str) -> tuple[Segment, ...]:
    """Split ``path`` into segments. Dot segments stay strings (``"0"`` indexes a list).

    Raises:
        PathError: the path is empty or malformed (``a..b``, ``a[``, ``a.``).

    Example:
        >>> parse_path('a.b[0]["c.d"].1')
        ('a', 'b', 0, 'c.d', '1')
    """
    if not isinstance(path, str) or not path.strip():
        raise PathError(f"path {path!r} is empty; write a column name such as 'response'")
    segments: list[Segment] = []
    pos, expect_name = 0, True
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None:
            raise PathError(f"path {path!r} is malformed at character {pos + 1}")
        if m.group("dot"):
            if expect_name:
                raise PathError(f"path {path!r} has an empty segment at character {pos + 1}")
            expect_name = True
        elif m.group("name") is not None:
            if not expect_name:
                raise PathError(f"path {path!r} needs a '.' before {m.group('name')!r}")
            segments.append(m.group("name").strip())
            expect_name = False
        else:
            if expect_name and segments:
                raise PathError(f"path {path!r} has an empty segment before '[' at {pos + 1}")
            if m.group("index") is not None:
                segments.append(int(m.group("index")))
            else:
                quoted = m.group("dq") if m.group("dq") is not None else m.group("sq")
                segments.append(re.sub(r"\\(.)", r"\1", quoted))
            expect_name = False
        pos = m.end()
    if expect_name:
        raise PathError(f"path {path!r} ends with '.'; remove it or add the missing key")
    return tuple(segments)


def format_path(segments: tuple[Segment, ...] | list[Segment]) -> str:
    """The inverse of :func:`parse_path`, in canonical form.

    Example:
        >>> format_path(("a", 0, "b"))
        'a[0].b'
    """
    out = ""
    for seg in segments:
        if isinstance(seg, int):
            out += f"[{seg}]"
        elif re.fullmatch(r"[^.\[\]\"']+", seg):
            out += f".{seg}" if out else seg
        else:
            out += f'["{seg}"]'
    return out


def to_plain(value: Any) -> Any:
    """Turn a pandas/numpy cell into plain JSON-like Python (NaN and NA become ``None``).

    Dicts and lists are returned as they are (not walked); numpy arrays become lists.

    Example:
        >>> import numpy as np
        >>> to_plain(np.int64(3)), to_plain(float("nan")), to_plain(np.array([1, 2]))
        (3, None, [1, 2])
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, np.generic):
        return to_plain(value.item())
    if isinstance(value, (dict, list)):
        # shallow on purpose: cells parsed from JSON are plain already, and walking every
        # nested value of every row would dominate the cost of a run
        return value
    if isinstance(value, np.ndarray):
        return [to_plain(v) for v in value.tolist()]
    if isinstance(value, tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    name = type(value).__name__
    if name in ("NAType", "NaTType"):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def json_type(value: Any) -> str:
    """The JSON type name of a plain value: null, boolean, number, string, array, object
    (anything else: its Python type name).

    Example:
        >>> [json_type(v) for v in (None, True, 2.5, "x", [1], {"a": 1})]
        ['null', 'boolean', 'number', 'string', 'array', 'object']
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def not_json(why: str) -> str:
    """What a string is, given :func:`loads_json`'s message for it.

    Example:
        >>> not_json("Expecting value: line 1 column 1 (char 0)")
        'a string that is not valid JSON (Expecting value: line 1 column 1 (char 0))'
        >>> not_json(JSON_TOO_DEEP)
        'a string nested too deeply to parse (more than 1,024 levels of arrays and objects)'
    """
    if why == JSON_TOO_DEEP:
        return f"a string {why}"
    return f"a string that is not valid JSON ({why})"


def _parse_json_text(text: str, where: str) -> Any:
    try:
        return loads_json(text)
    except ValueError as e:
        why = str(e.args[0]) if e.args else str(e)
        raise PathError(f"{where} holds {not_json(why)}: {shorten(text, 60)!r}") from None


def resolve(value: Any, segments: tuple[Segment, ...], *, start: int = 0) -> Any:
    """Follow ``segments[start:]`` into ``value``; strings met on the way are parsed as JSON.

    Raises:
        PathError: a key is missing, an index is out of range, or a scalar is descended into.
            The message names the path walked so far and what exists there.

    Example:
        >>> resolve({"choices": [{"text": "hi"}]}, ("choices", "0", "text"))
        'hi'
    """
    for i in range(start, len(segments)):
        seg = segments[i]
        where = format_path(segments[:i]) or "the row"
        if isinstance(value, str):
            value = _parse_json_text(value, f"'{where}'")
        value = to_plain(value) if not isinstance(value, (dict, list)) else value
        if isinstance(value, dict):
            key = str(seg)
            if key not in value:
                raise PathError(_missing_key(where, key, tuple(value)))
            value = value[key]
        elif isinstance(value, list):
            if isinstance(seg, str) and not re.fullmatch(r"-?\d+", seg):
                raise PathError(
                    f"'{where}' is an array of {len(value)} items, so {seg!r} cannot index it; "
                    f"use a number such as '{where}.0'"
                )
            idx = int(seg)
            if not -len(value) <= idx < len(value):
                raise PathError(f"index {idx} is out of range at '{where}', an array of {len(value)} items")
            value = value[idx]
        else:
            raise PathError(
                f"'{where}' is {json_type(value)} ({shorten(repr(value), 40)}), so it has no {seg!r}"
            )
    return value


@functools.lru_cache(maxsize=4096)
def _missing_key(where: str, key: str, keys: tuple[str, ...]) -> str:
    # cached: a key missing at one row is usually missing the same way at thousands
    return f"'{where}' has no key {key!r}{did_you_mean(key, keys)}; its keys are {cap_list(list(keys))}"


def compact_json(value: Any) -> str:
    """Render a value for a template: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(to_plain(value), separators=(",", ":"), ensure_ascii=False, default=str)


def has_template(value: Any) -> bool:
    """True when ``value`` (or any string nested in it) holds a ``${...}`` template."""
    return bool(template_paths(value))


def template_paths(value: Any) -> list[str]:
    """Every ``${path}`` in ``value``, searching nested lists and dicts.

    Example:
        >>> template_paths({"q": "Q: ${question}", "r": ["${ref}", 3]})
        ['question', 'ref']
    """
    if isinstance(value, str):
        return [m.group(1).strip() for m in TEMPLATE.finditer(value)]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in template_paths(v)]
    if isinstance(value, dict):
        return [p for v in value.values() for p in template_paths(v)]
    return []


def render(template: str, lookup: Callable[[str], Any]) -> str:
    """Substitute every ``${path}`` in a string; non-strings render as compact JSON.

    Substitution is textual: the template is never evaluated, and text produced by a
    substitution is not scanned again.

    Example:
        >>> render("n=${n} tags=${t}", {"n": 3, "t": ["a", "b"]}.__getitem__)
        'n=3 tags=["a","b"]'
    """
    return TEMPLATE.sub(lambda m: compact_json(lookup(m.group(1).strip())), template)


def substitute(value: Any, lookup: Callable[[str], Any]) -> Any:
    """Substitute templates anywhere in ``value``.

    A string that is exactly one ``${path}`` becomes the raw value at that path (so
    ``expected="${limit}"`` compares with a number); a template inside a longer string
    is rendered as text. Lists and dicts are substituted item by item.

    Example:
        >>> substitute(["${n}", "n is ${n}"], {"n": 3}.__getitem__)
        [3, 'n is 3']
    """
    if isinstance(value, str):
        m = TEMPLATE.fullmatch(value)
        if m:
            return lookup(m.group(1).strip())
        return render(value, lookup) if "${" in value else value
    if isinstance(value, list):
        return [substitute(v, lookup) for v in value]
    if isinstance(value, tuple):
        return [substitute(v, lookup) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, lookup) for k, v in value.items()}
    return value
