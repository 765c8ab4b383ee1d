"""Scouter's tasks files, translated to workbench's tasks.

A Scouter tasks file (YAML or JSON; a list of tasks, or ``{tasks: [...]}``) holds tasks of
four types, in Scouter's field names: ``task_type``, ``id``, ``context_path``,
``item_context_path``, ``operator``, ``expected_value``, ``depends_on``, ``condition``,
``description``, and ``assertion`` for the trace and agent kinds. They translate to
:class:`~workbench.AssertionTask` specs:

- ``Assertion``: ``context_path`` is the path, ``item_context_path`` the item path, the
  CamelCase operator resolves as it is, ``expected_value: true`` of a unary operator (Scouter's
  habit) is dropped, ``condition: true`` makes the task a gate (its dependents are skipped
  where it fails; workbench counts the gate's own cells too, where Scouter leaves them out).
- ``AgentAssertion``: the assertion and its operator become an agent operator at the response
  (``ToolCalled`` + ``Equals true`` is ``tool_called``; ``ToolCallSequence``, an in-order
  subsequence in Scouter, is ``tool_call_subsequence``; ``ToolCallCount`` + ``LessThan 3`` is
  ``tool_call_count`` with ``max: 2``), or a path into the normalised response
  (``ResponseContent`` is ``<context_path>.content``, ``ToolArgument`` is
  ``<context_path>.tool_args.<name>.<key>``, ``ResponseField`` is ``<context_path>.raw.<path>``)
  checked with the task's operator. Where Scouter reads a missing argument or result as null
  (and the check fails), the path gives an error cell naming what is there.
- ``TraceAssertion``: the trace operator of the assertion's name (``SpanCount`` is
  ``span_count``) at ``trace_path``; ``expected`` says what to measure (``filter``, ``attribute``,
  ``aggregation``) and holds the comparison as one operator key (``{filter: {name: x},
  less_than_or_equal: 3}``); a true-or-false assertion (``SpanExists``, ``SpanSequence``,
  ``SpanSet``, ``AttributeFilter``) compared with ``Equals false`` is the operator's ``not_`` form.
- ``LLMJudge``: not translated (its prompt file and free-form verdict have no counterpart in
  a :class:`~workbench.JudgeTask`'s criteria and scale).

Every construct that cannot be translated is reported with its line, all in one
:class:`~workbench.errors.SpecError`, before any work.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

from ..assertions import OpError, lookup
from ..errors import SpecError, cap_list, did_you_mean
from ..paths import PathError, format_path, parse_path
from ._problems import summary
from ._yaml import load_json, load_yaml, read_source

__all__ = ["Translation", "prune", "report_dropped", "translate", "untranslatable_error"]

TASK_FIELDS = (
    "task_type",
    "id",
    "context_path",
    "item_context_path",
    "operator",
    "expected_value",
    "description",
    "depends_on",
    "condition",
    "assertion",
    "provider",
    "prompt",
    "max_retries",
    "result",
)
"""The fields of Scouter's tasks (``result`` is what Scouter writes back after a run, ignored)."""

_BOOL_ASSERTIONS = ("ToolCalled", "ToolNotCalled")
_FIELD_ASSERTIONS = {
    "ResponseContent": "content",
    "ResponseModel": "model",
    "ResponseFinishReason": "finish_reason",
    "ResponseInputTokens": "input_tokens",
    "ResponseOutputTokens": "output_tokens",
    "ResponseTotalTokens": "total_tokens",
}


@dataclass(frozen=True, kw_only=True)
class Translation:
    """A translated tasks file: workbench task dicts (as a suite file holds them), the line
    each starts on, and what could not be translated, one problem per construct."""

    tasks: list[dict[str, Any]]
    lines: dict[int, int]
    problems: list[tuple[int, str]]
    """``(line, problem)``, the problem naming its task and line."""
    dropped: list[str]
    """Ids of the tasks that were not translated."""
    origin: str


class _Untranslatable(Exception):
    """One construct of a task that has no translation; the message says why and what to do."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def translate(source: str | Path, *, trace_path: str = "trace") -> Translation:
    """Translate a Scouter tasks file (a path, or its YAML/JSON text).

    Raises:
        SpecError: the file cannot be read (not YAML/JSON, alias bombs, too deep), or it holds
            no list of tasks.

    Example:
        >>> t = translate('''
        ... - task_type: AgentAssertion
        ...   id: searched
        ...   context_path: response
        ...   assertion: {ToolCalled: {name: search_kb}}
        ...   operator: Equals
        ...   expected_value: true
        ... ''')
        >>> t.tasks
        [{'id': 'searched', 'op': 'tool_called', 'path': 'response.tool_calls', 'expected': 'search_kb'}]
    """
    text, origin = read_source(source)
    # YAML reads JSON too; a .json file gets JSON's own messages for a syntax error
    data, lines = (load_json(text, origin), {}) if origin.endswith(".json'") else load_yaml(text, origin)
    raw = data.get("tasks") if isinstance(data, dict) else data
    if not isinstance(raw, list):
        raise SpecError(
            f"{origin} holds no Scouter tasks: it needs a list of tasks, or a mapping with 'tasks', "
            f"got {type(data).__name__}"
        )
    keys = _key_lines(text, isinstance(data, dict))
    out = Translation(tasks=[], lines={}, problems=[], dropped=[], origin=origin)
    for i, task in enumerate(raw):
        start = keys[i][0] if i < len(keys) else lines.get(i)
        key_lines = keys[i][1] if i < len(keys) else {}
        label = f"task {task.get('id')!r}" if isinstance(task, dict) and task.get("id") else f"task #{i + 1}"
        try:
            for key, first, second in keys[i][2] if i < len(keys) else ():
                raise _Untranslatable(
                    f"{key!r} is written twice, with different values (lines {first} and {second}), and "
                    "which one is meant is not clear: keep one",
                    key,
                )
            translated = _task(task, trace_path)
        except _Untranslatable as e:
            line = key_lines.get(e.key, start) if e.key else start
            where = f" (line {line})" if line else ""
            out.problems.append((line or 0, f"{label}{where}: {e}"))
            if isinstance(task, dict) and isinstance(task.get("id"), str):
                out.dropped.append(task["id"])
            continue
        if start:
            out.lines[len(out.tasks)] = start
        out.tasks.append(translated)
    return out


def _key_lines(text: str, wrapped: bool) -> list[tuple[int, dict[str, int], list[tuple[str, int, int]]]]:
    """Per task: the line it starts on, the line of each of its keys (YAML and JSON alike), and
    the keys written twice with different values (key, first line, second line)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):  # read already; this is only for line numbers
        return []
    if wrapped and isinstance(node, yaml.MappingNode):
        node = next((v for k, v in node.value if getattr(k, "value", None) == "tasks"), None)
    if not isinstance(node, yaml.SequenceNode):
        return []
    out = []
    for item in node.value:
        keys: dict[str, int] = {}
        seen: dict[str, tuple[int, Any]] = {}
        repeated: list[tuple[str, int, int]] = []
        for k, v in item.value if isinstance(item, yaml.MappingNode) else ():
            if not isinstance(k, yaml.ScalarNode):
                continue
            key, line = str(k.value), k.start_mark.line + 1
            same = (v.tag, v.value) if isinstance(v, yaml.ScalarNode) else object()
            if key in seen and seen[key][1] != same:  # written twice, and not the same value
                repeated.append((key, seen[key][0], line))
            seen[key] = (line, same)
            keys[key] = line
        out.append((item.start_mark.line + 1, keys, repeated))
    return out


# --- one task ------------------------------------------------------------------------------


def _task(task: Any, trace_path: str) -> dict[str, Any]:
    if not isinstance(task, dict):
        raise _Untranslatable(f"a task must be a mapping, got {type(task).__name__}")
    unknown = [k for k in task if k not in TASK_FIELDS]
    if unknown:
        hint = did_you_mean(str(unknown[0]), TASK_FIELDS)
        raise _Untranslatable(
            f"unknown field {unknown[0]!r}{hint}; Scouter's task fields are {list(TASK_FIELDS[:-1])}",
            str(unknown[0]),
        )
    kind = task.get("task_type")
    common: dict[str, Any] = {"id": task.get("id")}
    if task.get("description"):
        common["description"] = task["description"]
    if task.get("depends_on"):
        common["depends_on"] = task["depends_on"]
    if task.get("condition") is True:
        common["gate"] = True
    elif task.get("condition") not in (None, False):
        raise _Untranslatable(f"condition must be true or false, got {task['condition']!r}", "condition")
    if kind == "Assertion":
        return {**common, **_assertion(task)}
    if kind == "AgentAssertion":
        return {**common, **_agent(task)}
    if kind == "TraceAssertion":
        return {**common, **_trace(task, trace_path)}
    if kind == "LLMJudge":
        raise _Untranslatable(
            "LLMJudge tasks are not translated: Scouter's judge replies in a form its prompt sets and "
            f"compares the reply{_at(task.get('context_path'))} with {task.get('operator')} "
            f"{task.get('expected_value')!r}, where a workbench JudgeTask scores named criteria on a scale; "
            "write it as a JudgeTask(prompt=..., criteria=[...], scale=..., threshold=...)",
            "task_type",
        )
    known = ["Assertion", "AgentAssertion", "TraceAssertion", "LLMJudge"]
    raise _Untranslatable(
        f"task_type {kind!r} is not one of {known}{did_you_mean(str(kind), known)}", "task_type"
    )


def _at(path: Any) -> str:
    return f" at {path!r}" if path else ""


def _operator(task: Mapping[str, Any]) -> str:
    name = task.get("operator")
    if not isinstance(name, str):
        raise _Untranslatable(f"operator must be a name such as 'Equals', got {name!r}", "operator")
    try:
        return lookup(name).name
    except KeyError as e:
        raise _Untranslatable(str(e.args[0]), "operator") from None


def _expected(op: str, value: Any) -> dict[str, Any]:
    """``expected`` for a task with operator ``op``: none for a unary operator given Scouter's
    ``true``; anything else a unary operator is given is reported, as Scouter ignores it."""
    rop = lookup(op)
    try:
        rop.op.prepare(None)
        unary = True
    except OpError:
        unary = False
    if unary:
        if value is None or value is True:
            return {}
        try:
            rop.op.prepare(value)
            return {"expected": value}
        except OpError:
            pass
        camel = "".join(p.capitalize() for p in rop.op.name.split("_"))
        raise _Untranslatable(
            f"operator {camel!r} takes no expected_value, and Scouter ignores {value!r}, so the task checks "
            f"{camel}, not its negation: write expected_value: true (or use workbench's 'not_{rop.op.name}')",
            "expected_value",
        )
    return {"expected": value}


def _assertion(task: Mapping[str, Any]) -> dict[str, Any]:
    op = _operator(task)
    out: dict[str, Any] = {"op": op}
    if task.get("context_path") is not None:
        out["path"] = _path(task["context_path"], "context_path")
    if task.get("item_context_path") is not None:
        out["item_path"] = _path(task["item_context_path"], "item_context_path")
    return {**out, **_expected(op, task.get("expected_value"))}


def _path(path: Any, key: str) -> str:
    if not isinstance(path, str):
        raise _Untranslatable(f"{key} must be a dot-path such as 'response.text', got {path!r}", key)
    try:
        parse_path(path)
    except PathError as e:
        raise _Untranslatable(f"{key}: {e}", key) from None
    return path


def _variant(task: Mapping[str, Any], what: str) -> tuple[str, dict[str, Any]]:
    """Scouter's externally tagged assertion: ``{ToolCalled: {name: x}}``, or a bare name."""
    a = task.get("assertion")
    if isinstance(a, str):
        return a, {}
    if isinstance(a, dict) and len(a) == 1:
        name, fields = next(iter(a.items()))
        if fields is None:
            fields = {}
        if isinstance(name, str) and isinstance(fields, dict):
            return name, fields
    raise _Untranslatable(
        f"assertion must be one {what} such as {{SpanCount: {{filter: ...}}}}, got {a!r}", "assertion"
    )


def _fields(
    name: str, fields: Mapping[str, Any], need: tuple[str, ...], optional: tuple[str, ...] = ()
) -> None:
    missing = [k for k in need if k not in fields]
    extra = [k for k in fields if k not in need + optional]
    if missing or extra:
        what = f"lacks {missing}" if missing else f"has unknown fields {extra}"
        raise _Untranslatable(f"assertion {name} {what}; its fields are {list(need + optional)}", "assertion")


# --- AgentAssertion ---------------------------------------------------------------------------


def _truth(task: Mapping[str, Any], name: str, ops: tuple[str, ...] = ("Equals", "NotEqual")) -> bool:
    """Whether a boolean assertion is asserted true (``Equals true``, ``NotEqual false``) or
    false; anything else has no translation."""
    op, value = task.get("operator"), task.get("expected_value")
    if isinstance(value, bool) and op in ops:
        return value if op != "NotEqual" else not value
    raise _Untranslatable(
        f"assertion {name} gives true or false, so its operator must be {' or '.join(ops)} with "
        f"expected_value true or false, got {op} {value!r}",
        "operator",
    )


def _negated(op: str, positive: bool) -> str:
    return op if positive else f"not_{op}"


def _agent(task: Mapping[str, Any]) -> dict[str, Any]:
    name, f = _variant(task, "agent assertion")
    ctx = task.get("context_path")
    if ctx is not None:
        ctx = _path(ctx, "context_path")
    calls_path = f"{ctx}.tool_calls" if ctx else None
    if name in _BOOL_ASSERTIONS:
        _fields(name, f, ("name",))
        called = _truth(task, name) == (name == "ToolCalled")
        return _at_path(calls_path, "tool_called" if called else "tool_not_called", f["name"])
    if name == "ToolCalledWithArgs":
        _fields(name, f, ("name", "arguments"))
        if not isinstance(f["arguments"], dict):
            raise _Untranslatable(
                f"ToolCalledWithArgs needs arguments as a mapping, got {f['arguments']!r}", "assertion"
            )
        op = _negated("tool_called_with_args", _truth(task, name))
        return _at_path(calls_path, op, {"name": f["name"], "arguments": f["arguments"]})
    if name == "ToolCallSequence":
        _fields(name, f, ("names",))
        return _at_path(calls_path, _negated("tool_call_subsequence", _truth(task, name)), f["names"])
    if name == "ToolCallCount":
        _fields(name, f, (), ("name",))
        op, bounds = _count(task)
        expected = {"name": f["name"], **bounds} if f.get("name") else bounds
        return _at_path(calls_path, op, expected)
    if ctx is None:
        raise _Untranslatable(
            f"assertion {name} reads a field of the response, and without context_path Scouter reads the "
            "whole record as the response; in workbench a response is a column: set context_path to its name",
            "assertion",
        )
    if name in _FIELD_ASSERTIONS:
        _fields(name, f, ())
        path = f"{ctx}.{_FIELD_ASSERTIONS[name]}"
    elif name == "ToolArgument":
        _fields(name, f, ("name", "argument_key"))
        path = f"{ctx}.{format_path(('tool_args', str(f['name']), str(f['argument_key'])))}"
    elif name == "ToolResult":
        _fields(name, f, ("name",))
        path = f"{ctx}.{format_path(('tool_results', str(f['name'])))}"
    elif name == "ResponseField":
        _fields(name, f, ("path",))
        path = f"{ctx}.raw.{_path(f['path'], 'assertion')}"
    else:
        known = [*_BOOL_ASSERTIONS, "ToolCalledWithArgs", "ToolCallSequence", "ToolCallCount", "ToolArgument"]
        known += ["ToolResult", *_FIELD_ASSERTIONS, "ResponseField"]
        raise _Untranslatable(
            f"agent assertion {name!r} is not one of Scouter's{did_you_mean(name, known)}", "assertion"
        )
    op = _operator(task)
    return {"op": op, "path": path, **_expected(op, task.get("expected_value"))}


def _at_path(path: str | None, op: str, expected: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"op": op}
    if path is not None:
        out["path"] = path
    out["expected"] = expected
    return out


_BOUNDS: dict[str, Callable[[float], dict[str, int]]] = {
    "Equals": lambda x: {"count": int(x)},
    "LessThan": lambda x: {"max": math.ceil(x) - 1},
    "LessThanOrEqual": lambda x: {"max": math.floor(x)},
    "GreaterThan": lambda x: {"min": math.floor(x) + 1},
    "GreaterThanOrEqual": lambda x: {"min": math.ceil(x)},
}


def _count(task: Mapping[str, Any]) -> tuple[str, dict[str, int]]:
    """``ToolCallCount`` compared with a number, as ``tool_call_count``'s bounds (counts are
    whole: ``LessThan 3`` is at most 2)."""
    op, value = task.get("operator"), task.get("expected_value")
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    x = float(cast("float", value)) if number else math.nan
    if number and op in _BOUNDS and (op != "Equals" or x.is_integer()):
        bounds = _BOUNDS[op](x)
        if min(bounds.values()) < 0:
            raise _Untranslatable(
                f"ToolCallCount {op} {value!r} holds for no count of calls", "expected_value"
            )
        return "tool_call_count", bounds
    if number and op == "NotEqual" and x.is_integer():
        return "not_tool_call_count", {"count": int(x)}
    if (
        op in ("InRange", "NotInRange")
        and isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    ):
        lo, hi = math.ceil(value[0]), math.floor(value[1])
        return _negated("tool_call_count", op == "InRange"), {"min": max(lo, 0), "max": hi}
    if op in ("IsZero", "IsPositive"):
        return "tool_call_count", {"count": 0} if op == "IsZero" else {"min": 1}
    raise _Untranslatable(
        f"ToolCallCount gives a count, which translates with Equals, NotEqual, LessThan(OrEqual), "
        f"GreaterThan(OrEqual), InRange, NotInRange, IsZero or IsPositive; got {op} {value!r}",
        "operator",
    )


# --- TraceAssertion ---------------------------------------------------------------------------


def _trace(task: Mapping[str, Any], trace_path: str) -> dict[str, Any]:
    """A trace assertion as the trace operator of its name (the translation is
    :func:`workbench.traces.from_scouter`, which the trace operators' tests check against
    Scouter's own cases); what it cannot translate is reported with the task's line."""
    from ..traces import from_scouter

    _variant(task, "trace assertion")  # a malformed assertion is reported before its operator
    operator = task.get("operator")
    if not isinstance(operator, str):
        raise _Untranslatable(f"operator must be a name such as 'Equals', got {operator!r}", "operator")
    try:
        op, expected = from_scouter(task.get("assertion"), operator, task.get("expected_value"))
    except SpecError as e:
        raise _Untranslatable(str(e), "assertion") from None
    return {"op": op, "path": trace_path, "expected": expected}


# --- what the suite does with a translation ----------------------------------------------------

_LINE = re.compile(r"\(line (\d+)\)")


def prune(t: Translation) -> tuple[list[dict[str, Any]], dict[int, int], list[str]]:
    """The translated tasks without those that depend on a task that was not translated
    (transitively): the tasks, their lines, and the ids dropped that way."""
    gone = set(t.dropped)
    keep = list(range(len(t.tasks)))
    changed = True
    while changed:
        changed = False
        for i in list(keep):
            deps = t.tasks[i].get("depends_on") or []
            if any(d in gone for d in deps if isinstance(d, str)):
                keep.remove(i)
                gone.add(str(t.tasks[i].get("id")))
                changed = True
    tasks = [t.tasks[i] for i in keep]
    lines = {k: t.lines[i] for k, i in enumerate(keep) if i in t.lines}
    return tasks, lines, sorted(gone - set(t.dropped))


def untranslatable_error(t: Translation, others: list[str]) -> SpecError:
    """One error listing every problem of a translation and ``others`` (the problems of the
    tasks that did translate), in the order of the file."""
    found = [(line, p) for line, p in t.problems]
    for p in others:
        m = _LINE.search(p)
        found.append((int(m.group(1)) if m else 1 << 30, p))
    problems = [p for _, p in sorted(found, key=lambda x: x[0])]
    head = f"Scouter tasks {t.origin}" if t.origin != "the text" else "these Scouter tasks"
    return SpecError(summary(head, problems), problems)


def report_dropped(t: Translation, also: list[str]) -> str:
    """The warning when untranslatable tasks are skipped: which, why, and their dependents."""
    n = len(t.problems)
    were = "were" if n != 1 else "was"
    text = f"{n} Scouter task{'s' if n != 1 else ''} could not be translated and {were} skipped"
    lines = [f"  - {p}" for _, p in sorted(t.problems, key=lambda x: x[0])]
    if also:
        lines.append(f"  - skipped too, as they depend on a skipped task: {cap_list(also)}")
    return text + ":\n" + "\n".join(lines)
