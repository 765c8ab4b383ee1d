"""Deterministic content for the judge server: the default verdict and values that follow a
``response_format`` JSON schema, drawn from a seeded :class:`Rng`."""

from __future__ import annotations

import datetime as _dt
import math
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import orjson

_SOFT_DEPTH, _HARD_DEPTH = 4, 40
SORT = orjson.OPT_SORT_KEYS


class Rng:
    """splitmix64: seeding ``random.Random`` costs ~10 us, a third of a whole reply."""

    __slots__ = ("_state",)

    def __init__(self, seed: int) -> None:
        self._state = seed & _M64

    def _next(self) -> int:
        self._state = z = (self._state + 0x9E3779B97F4A7C15) & _M64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        return z ^ (z >> 31)

    def random(self) -> float:
        return (self._next() >> 11) * 2.0**-53

    def randrange(self, n: int) -> int:
        return self._next() % n  # the modulo bias is irrelevant for fake values

    def randint(self, a: int, b: int) -> int:
        return a + self.randrange(b - a + 1)

    def choice(self, seq: list[Any]) -> Any:
        return seq[self.randrange(len(seq))]

    def getrandbits(self, k: int) -> int:
        bits = 0
        for _ in range(0, k, 64):
            bits = bits << 64 | self._next()
        return bits >> (-k % 64)


_M64 = (1 << 64) - 1


def default_verdict(rng: Rng, score_weights: Mapping[int, float] | None = None) -> dict[str, Any]:
    score = _weighted(1, 5, score_weights)(rng, 0) if score_weights else rng.randint(1, 5)
    return {"score": score, "label": "pass" if score >= 3 else "fail", "reason": _reason(rng)}


def _reason(rng: Rng) -> str:
    return f"simulated reason {rng.getrandbits(24):06x}"


# -- schema-following values ----------------------------------------------------

Gen: TypeAlias = Callable[[Rng, int], Any]
"""Makes one value from a seeded RNG and the current nesting depth."""
_generators: dict[bytes, Gen] = {}
_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly", "$comment"}
)


def generator(schema_key: bytes, schema: Any, score_weights: Mapping[int, float] | None = None) -> Gen:
    """The compiled generator of ``schema``, cached by its canonical JSON ``schema_key`` (and
    the score weights). Compiled from ``schema`` itself, not the key, to keep the property
    order of the request."""
    key = schema_key + (orjson.dumps(sorted(score_weights.items())) if score_weights else b"")
    gen = _generators.get(key)
    if gen is None:
        if len(_generators) >= 512:
            _generators.clear()
        gen = _generators[key] = _Compiler(schema, score_weights).compile(schema)
    return gen


class SchemaError(ValueError):
    """A ``response_format`` schema the generator cannot follow."""


class _Compiler:
    """Turns a JSON schema into nested closures; ``$ref`` targets are compiled once, lazily
    (so recursive models terminate), and depth limits keep recursive values finite."""

    def __init__(self, root: Any, score_weights: Mapping[int, float] | None = None) -> None:
        self.root = root
        self.refs: dict[str, Gen] = {}
        self.score_weights = score_weights

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise SchemaError(f"only local $ref are supported, not {ref!r}")
        node = self.root
        try:
            for part in filter(None, ref[1:].split("/")):
                part = part.replace("~1", "/").replace("~0", "~")
                node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise SchemaError(f"$ref {ref!r} points to nothing") from None
        return node

    def ref(self, ref: str) -> Gen:
        def gen(rng: Rng, depth: int) -> Any:
            target = self.refs.get(ref)
            if target is None:
                target = self.refs[ref] = self.compile(self.resolve(ref))
            return target(rng, depth)

        return gen

    def lazy(self, make: Callable[[], Gen]) -> Gen:
        """A generator compiled on first use: lets recursive schemas compile."""
        cell: list[Gen] = []

        def gen(rng: Rng, depth: int) -> Any:
            if not cell:
                cell.append(make())
            return cell[0](rng, depth)

        return gen

    def flatten(self, node: dict[str, Any]) -> dict[str, Any]:
        """Merge the parts of ``allOf`` (their ``$ref`` resolved) into one schema."""
        for _ in range(32):
            if "allOf" not in node:
                return node
            rest = {k: v for k, v in node.items() if k != "allOf"}
            for part in node["allOf"]:
                if isinstance(part, dict) and "$ref" in part:
                    part = _merge(self.resolve(part["$ref"]), {k: v for k, v in part.items() if k != "$ref"})
                rest = _merge(rest, part if isinstance(part, dict) else {})
            node = rest
        raise SchemaError("the schema nests allOf too deeply")

    def compile(self, node: Any) -> Gen:
        if node is True or node == {} or node is None:
            return lambda rng, depth: _reason(rng)
        if node is False:
            return lambda rng, depth: None
        if not isinstance(node, dict):
            raise SchemaError(f"expected a schema object, got {_short(node)}")
        node = self.flatten(node)
        if "$ref" in node:
            ref = node["$ref"]
            siblings = {k: v for k, v in node.items() if k != "$ref" and k not in _ANNOTATIONS}
            if not siblings:
                return self.ref(ref)
            return self.lazy(lambda: self.compile(_merge(self.resolve(ref), siblings)))
        if "const" in node:
            const = node["const"]
            return lambda rng, depth: const
        if node.get("enum"):
            choices = list(node["enum"])
            return lambda rng, depth: rng.choice(choices)
        options = node.get("anyOf") or node.get("oneOf")
        typ = node.get("type")
        if options is None and isinstance(typ, list):
            options = [{**node, "type": t} for t in typ]
        if options is not None:
            rest = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf", "type")}
            gens = [
                (self.compile(_merge(rest, o) if rest and isinstance(o, dict) else o), _is_null(o))
                for o in options
            ]
            nulls = [g for g, null in gens if null]
            values = [g for g, null in gens if not null] or nulls

            def pick(rng: Rng, depth: int) -> Any:
                if depth >= _SOFT_DEPTH and nulls:
                    return None
                return rng.choice(values)(rng, depth)

            return pick
        if typ is None:
            typ = (
                "object"
                if "properties" in node or "required" in node
                else "array"
                if "items" in node or "prefixItems" in node
                else "number"
                if any(k in node for k in ("minimum", "maximum", "exclusiveMinimum"))
                else "string"
            )
        if typ == "object":
            return self.object(node)
        if typ == "array":
            return self.array(node)
        if typ in ("integer", "number"):
            return _number(node, integer=typ == "integer")
        if typ == "boolean":
            return lambda rng, depth: rng.random() < 0.5
        if typ == "null":
            return lambda rng, depth: None
        return _string(node)

    def object(self, node: dict[str, Any]) -> Gen:
        props = node.get("properties") or {}
        required = set(node.get("required") or ())
        extra = node.get("additionalProperties")
        fields = [(name, self.field(name, sub), name in required) for name, sub in props.items()]
        fields += [
            (name, self.compile(extra if isinstance(extra, dict) else {}), True)
            for name in node.get("required") or ()
            if name not in props
        ]

        def gen(rng: Rng, depth: int) -> Any:
            if depth >= _HARD_DEPTH:
                return None
            soft = depth >= _SOFT_DEPTH
            return {name: g(rng, depth + 1) for name, g, req in fields if req or not soft}

        return gen

    def field(self, name: str, node: Any) -> Gen:
        """A property's generator: an integer ``score`` draws by the score weights, if any."""
        if name == "score" and self.score_weights and isinstance(node, dict):
            flat = self.flatten(node)
            if flat.get("type") == "integer" and not flat.get("multipleOf"):
                low, high = _integer_bounds(flat)
                return _weighted(low, high, self.score_weights)
        return self.compile(node)

    def array(self, node: dict[str, Any]) -> Gen:
        items = node.get("items")
        prefix = node.get("prefixItems") or (items if isinstance(items, list) else [])
        rest = self.compile(items if isinstance(items, dict) else node.get("additionalItems") or {})
        prefix_gens = [self.compile(p) for p in prefix]
        lo, hi = int(node.get("minItems", 0)), node.get("maxItems")
        unique = bool(node.get("uniqueItems"))

        def gen(rng: Rng, depth: int) -> Any:
            if depth >= _HARD_DEPTH:
                return []
            n = max(lo, len(prefix_gens) if depth < _SOFT_DEPTH else 0, 1 if depth < _SOFT_DEPTH else 0)
            if hi is not None:
                n = min(n, int(hi))
            out: list[Any] = []
            seen: set[bytes] = set()
            for _ in range(n * 8 if unique else n):
                if len(out) == n:
                    break
                value = (prefix_gens[len(out)] if len(out) < len(prefix_gens) else rest)(rng, depth + 1)
                if unique:
                    key = orjson.dumps(value, option=SORT)
                    if key in seen:
                        continue
                    seen.add(key)
                out.append(value)
            return out

        return gen


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        if key == "properties" and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        elif key == "required":
            out[key] = list(dict.fromkeys([*out.get(key, []), *value]))
        elif key in ("minimum", "minLength", "minItems") and key in out:
            out[key] = max(out[key], value)
        elif key in ("maximum", "maxLength", "maxItems") and key in out:
            out[key] = min(out[key], value)
        else:
            out[key] = value
    return out


def _is_null(node: Any) -> bool:
    return isinstance(node, dict) and (node.get("type") == "null" or node == {"const": None})


def _number(node: dict[str, Any], *, integer: bool) -> Gen:
    low, high = node.get("minimum"), node.get("maximum")
    lo_open = hi_open = False
    xlo, xhi = node.get("exclusiveMinimum"), node.get("exclusiveMaximum")
    if xlo is True:  # draft 4: a flag on minimum
        lo_open = low is not None
    elif isinstance(xlo, (int, float)) and not isinstance(xlo, bool) and (low is None or xlo >= low):
        low, lo_open = xlo, True
    if xhi is True:
        hi_open = high is not None
    elif isinstance(xhi, (int, float)) and not isinstance(xhi, bool) and (high is None or xhi <= high):
        high, hi_open = xhi, True
    step = node.get("multipleOf")
    if integer:
        ilo, ihi = _integer_bounds(node)
        if step:
            k_lo, k_hi = math.ceil(ilo / step), math.floor(ihi / step)
            return lambda rng, depth: int(rng.randint(k_lo, max(k_lo, k_hi)) * step)
        return lambda rng, depth: rng.randint(int(ilo), int(max(ilo, ihi)))
    lo, hi = _span(low, high, 1.0, 0.0)
    if step:
        k_lo = math.floor(lo / step) + 1 if lo_open else math.ceil(lo / step)
        k_hi = math.ceil(hi / step) - 1 if hi_open else math.floor(hi / step)
        return lambda rng, depth: rng.randint(k_lo, max(k_lo, k_hi)) * step
    mid = (lo + hi) / 2

    def gen(rng: Rng, depth: int) -> float:
        value = round(lo + rng.random() * (hi - lo), 3)
        if value < lo or value > hi or (lo_open and value <= lo) or (hi_open and value >= hi):
            return mid
        return value

    return gen


def _integer_bounds(node: dict[str, Any]) -> tuple[int, int]:
    """The integers an integer schema allows: its bounds (exclusive ones of both drafts
    included), else 4 wide beside the one bound given, else 1..5."""
    low, high = node.get("minimum"), node.get("maximum")
    lo_open = hi_open = False
    xlo, xhi = node.get("exclusiveMinimum"), node.get("exclusiveMaximum")
    if xlo is True:
        lo_open = low is not None
    elif isinstance(xlo, (int, float)) and not isinstance(xlo, bool) and (low is None or xlo >= low):
        low, lo_open = xlo, True
    if xhi is True:
        hi_open = high is not None
    elif isinstance(xhi, (int, float)) and not isinstance(xhi, bool) and (high is None or xhi <= high):
        high, hi_open = xhi, True
    if low is not None:
        low = math.floor(low) + 1 if lo_open else math.ceil(low)
    if high is not None:
        high = math.ceil(high) - 1 if hi_open else math.floor(high)
    ilo, ihi = _span(low, high, 4, 1)
    return int(ilo), int(max(ilo, ihi))


def _weighted(low: int, high: int, weights: Mapping[int, float] | None) -> Gen:
    """Integers in ``low..high`` drawn by ``weights`` (uniform where none of them weighs)."""
    values = [(v, float(weights.get(v, 0))) for v in range(low, high + 1)] if weights else []
    values = [(v, w) for v, w in values if w > 0]
    if not values:
        return lambda rng, depth: rng.randint(low, high)
    total = sum(w for _, w in values)

    def gen(rng: Rng, depth: int) -> int:
        u = rng.random() * total
        for v, w in values:
            u -= w
            if u < 0:
                return v
        return values[-1][0]

    return gen


def _span(low: float | None, high: float | None, width: float, default_low: float) -> tuple[float, float]:
    """The range to draw from: the bounds given, else ``width`` beside the one bound given."""
    if low is None:
        return (default_low, default_low + width) if high is None else (high - width, high)
    return (low, low + width) if high is None else (low, high)


_FORMATS: dict[str, Callable[[Rng], str]] = {
    "date-time": lambda rng: (
        (_dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(seconds=rng.randrange(10**7)))
        .isoformat()
        .replace("+00:00", "Z")
    ),
    "date": lambda rng: (_dt.date(2024, 1, 1) + _dt.timedelta(days=rng.randrange(365))).isoformat(),
    "time": lambda rng: f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z",
    "email": lambda rng: f"judge{rng.randrange(1000)}@example.com",
    "uri": lambda rng: f"https://example.com/{rng.randrange(1000)}",
    "uuid": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
}
_FORMATS["url"] = _FORMATS["uri"]


def _string(node: dict[str, Any]) -> Gen:
    make = _FORMATS.get(node.get("format", ""), _reason)
    lo, hi = int(node.get("minLength", 0)), node.get("maxLength")

    def gen(rng: Rng, depth: int) -> str:
        text = make(rng)
        if len(text) < lo:
            text += "." * (lo - len(text))
        return text if hi is None else text[: int(hi)]

    return gen
