"""Scouter's trace assertions (as its tasks files write them) in workbench's terms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import SpecError, did_you_mean

__all__ = ["from_scouter"]

_MEASURES = {
    "SpanCount": "span_count",
    "SpanDuration": "span_duration",
    "SpanAttribute": "span_attribute",
    "SpanAggregation": "span_aggregation",
    "TraceDuration": "trace_duration",
    "TraceSpanCount": "trace_span_count",
    "TraceErrorCount": "trace_error_count",
    "TraceServiceCount": "trace_service_count",
    "TraceMaxDepth": "trace_max_depth",
    "TraceAttribute": "trace_attribute",
}
_BOOLEAN = {"SpanExists": "span_exists", "SpanSequence": "span_sequence", "SpanSet": "span_set"}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _variant(value: Any, what: str) -> tuple[str, Mapping[str, Any]]:
    """Scouter's enums serialise as ``{Variant: {fields}}``."""
    if not isinstance(value, Mapping) or len(value) != 1:
        raise SpecError(f"a Scouter {what} is one {{Variant: {{...}}}} mapping, got {value!r}")
    name, fields = next(iter(value.items()))
    if fields is None:
        fields = {}
    if not isinstance(fields, Mapping):
        raise SpecError(f"Scouter {what} {name!r} needs a mapping of its fields, got {fields!r}")
    return str(name), fields


def _filter(value: Any) -> dict[str, Any]:
    name, f = _variant(value, "SpanFilter")
    if name == "ByName":
        return {"name": f.get("name")}
    if name == "ByNamePattern":
        return {"name_pattern": f.get("pattern")}
    if name == "WithAttribute":
        return {"attribute": f.get("key")}
    if name == "WithAttributeValue":
        return {"attribute": f.get("key"), "value": f.get("value")}
    if name == "WithStatus":
        return {"status": str(f.get("status", "")).lower()}
    if name == "WithDuration":
        out = {}
        if f.get("min_ms") is not None:
            out["min_duration_ms"] = f["min_ms"]
        if f.get("max_ms") is not None:
            out["max_duration_ms"] = f["max_ms"]
        if not out:
            raise SpecError("Scouter's WithDuration filter sets neither min_ms nor max_ms")
        return out
    if name == "Sequence":
        return {"sequence": f.get("names")}
    if name in ("And", "Or"):
        return {name.lower(): [_filter(x) for x in f.get("filters") or []]}
    raise SpecError(
        f"Scouter's span filter {name!r} has no workbench counterpart; the filters are ByName, "
        "ByNamePattern, WithAttribute, WithAttributeValue, WithStatus, WithDuration, Sequence, And, Or"
    )


def from_scouter(assertion: Any, operator: str, expected_value: Any) -> tuple[str, Any]:
    """A Scouter ``TraceAssertionTask``'s ``assertion``, ``operator`` and ``expected_value`` as a
    workbench trace operator and its ``expected``.

    A measured value (``SpanCount``, ``TraceDuration``, ...) takes Scouter's operator as its
    comparison; a yes/no assertion (``SpanExists``, ``SpanSequence``, ``SpanSet``,
    ``AttributeFilter``) compared with ``Equals true`` is the operator itself, with
    ``Equals false`` its ``not_`` form.

    Raises:
        SpecError: a construct with no counterpart (an ``AttributeFilter`` over an
            ``AgentAssertion``, a yes/no assertion compared with anything but true or false).

    Example:
        >>> from_scouter({"SpanCount": {"filter": {"ByName": {"name": "retry_operation"}}}},
        ...              "LessThanOrEqual", 3)
        ('span_count', {'filter': {'name': 'retry_operation'}, 'less_than_or_equal': 3})
        >>> from_scouter({"SpanExists": {"filter": {"WithStatus": {"status": "Error"}}}}, "Equals", False)
        ('not_span_exists', {'filter': {'status': 'error'}})
    """
    name, f = _variant(assertion, "TraceAssertion")
    if not isinstance(operator, str):
        raise SpecError(f"a Scouter operator is a name such as 'Equals', got {operator!r}")
    if name in _MEASURES:
        expected: dict[str, Any] = {}
        if "filter" in f:
            expected["filter"] = _filter(f["filter"])
        if "attribute_key" in f:
            expected["attribute"] = f["attribute_key"]
        if "aggregation" in f:
            expected["aggregation"] = str(f["aggregation"]).lower()
        expected[_snake(operator)] = expected_value
        return _MEASURES[name], expected
    if name in _BOOLEAN or name == "AttributeFilter":
        negate = _negated(name, operator, expected_value)
        expected_out: Any
        if name == "AttributeFilter":
            op, expected_out = "span_attribute", _attribute_filter(f)
        elif name == "SpanExists":
            op, expected_out = "span_exists", {"filter": _filter(f.get("filter"))}
        else:
            op, expected_out = _BOOLEAN[name], list(f.get("span_names") or [])
        return ("not_" if negate else "") + op, expected_out
    known = sorted([*_MEASURES, *_BOOLEAN, "AttributeFilter"])
    raise SpecError(
        f"Scouter's trace assertion {name!r} has no workbench counterpart; they are {known}"
        f"{did_you_mean(name, known)}"
    )


def _negated(name: str, operator: str, expected_value: Any) -> bool:
    if not isinstance(expected_value, bool) or operator not in ("Equals", "NotEqual", "SequenceMatches"):
        raise SpecError(
            f"Scouter's {name} is true or false, so its operator must be Equals (or NotEqual) with "
            f"expected_value true or false; got {operator} {expected_value!r}"
        )
    return (operator == "NotEqual") == expected_value


def _attribute_filter(f: Mapping[str, Any]) -> dict[str, Any]:
    kind, task = _variant(f.get("task"), "AttributeFilterTask")
    if kind != "Assertion":
        raise SpecError(
            f"Scouter's AttributeFilter over an {kind} has no workbench trace counterpart: load the "
            "attribute's responses into a column and use the agent operators on it"
        )
    key = f.get("key")
    out: dict[str, Any] = {"filter": {"attribute": key}, "attribute": key}
    if task.get("context_path"):
        out["path"] = task["context_path"]
    out["match"] = str(f.get("mode", "Any")).lower()
    out[_snake(str(task.get("operator", "Equals")))] = task.get("expected_value")
    return out
