"""Task specs: what a user declares. Pydantic models, validated eagerly, no I/O beyond text.

A :class:`Suite` holds :class:`AssertionTask` and :class:`JudgeTask` specs. Building one
checks everything that can be checked without data and reports every problem in one
:class:`~workbench.errors.SpecError`: unknown operators (with the closest names), bad
``expected`` values, invalid regexes, duplicate ids, unknown or cyclic ``depends_on``.

Example:
    >>> import workbench as wb
    >>> suite = wb.Suite(name="demo", version="v1", tasks=[
    ...     wb.AssertionTask(id="short", path="answer", op="has_length_less_than", expected=80),
    ... ])
    >>> wb.Suite.from_yaml(suite.to_yaml()) == suite
    True
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from .assertions import OpError, lookup
from .errors import SpecError, cap_list, did_you_mean
from .paths import PathError, has_template, parse_path, template_paths

__all__ = ["AssertionTask", "Criterion", "JudgeTask", "Scale", "Suite", "Task"]

_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")

Scale = tuple[int, int] | Literal["binary"] | list[str] | dict[str, float]
"""A judge's scale: an integer range ``(1, 5)``, ``"binary"`` (pass/fail), a list of labels,
or a mapping of labels to scores."""


def _check_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise ValueError(
            f"{what} {value!r} must start with a letter or '_' and hold only letters, digits, "
            f"'_' and '-' (it is used in paths such as '{re.sub(r'[^A-Za-z0-9_-]', '_', value) or 'x'}.score')"
        )
    return value


def _check_scale(scale: Any) -> None:
    if isinstance(scale, tuple):
        lo, hi = scale
        if lo >= hi:
            raise ValueError(f"scale {scale} must go from low to high, e.g. (1, 5)")
    elif isinstance(scale, list):
        if len(scale) < 2 or len(set(scale)) != len(scale):
            raise ValueError(f"scale labels {scale} must be at least two distinct labels")
    elif isinstance(scale, dict) and len(scale) < 2:
        raise ValueError(f"scale {scale} must map at least two labels to scores")


def _check_threshold(threshold: Any, scale: Any) -> None:
    if threshold is None:
        return
    if isinstance(scale, tuple):
        if isinstance(threshold, str) or not scale[0] <= threshold <= scale[1]:
            shown = int(threshold) if isinstance(threshold, float) and threshold.is_integer() else threshold
            raise ValueError(f"threshold {shown!r} is outside the scale {scale[0]}..{scale[1]}")
    elif scale == "binary":
        raise ValueError("a binary scale needs no threshold: 'pass' passes; remove 'threshold'")
    elif isinstance(scale, list) and threshold not in scale:
        raise ValueError(f"threshold {threshold!r} is not one of the labels {scale}")
    elif isinstance(scale, dict) and not isinstance(threshold, (int, float)) and threshold not in scale:
        raise ValueError(f"threshold {threshold!r} is neither a score nor one of the labels {list(scale)}")


class _Spec(BaseModel):
    """Shared config: unknown fields are errors, instances are immutable (edit with ``model_copy``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    _what: ClassVar[str] = "spec"

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as e:
            problems = _format_validation(e, data)
            name = data.get("id") or data.get("name")
            head = f"{self._what} {name!r}" if name else f"this {self._what}"
            raise SpecError(_summary(head, problems), problems) from None


class Criterion(_Spec):
    """One thing a judge scores, e.g. accuracy or completeness.

    Example:
        >>> Criterion(name="accuracy", description="Facts are correct and supported.").name
        'accuracy'
    """

    _what: ClassVar[str] = "criterion"

    name: str
    """Identifier used in results and paths (``quality.accuracy.score``)."""
    description: str
    """What the judge should look for; shown to the judge."""
    scale: Scale | None = None
    """Overrides the task's scale for this criterion."""
    threshold: float | str | None = None
    """Overrides the task's threshold: ``passed = score >= threshold`` (or label ranks)."""
    examples: list[str] = Field(default_factory=list)
    """Optional worked examples shown to the judge."""
    weight: float = Field(default=1.0, ge=0)
    """Weight of this criterion in the task's ``overall`` score."""
    min_pass_rate: float | None = Field(default=None, ge=0, le=1)
    """Overrides the task's ``min_pass_rate`` for this criterion."""

    _name = field_validator("name")(lambda v: _check_id(v, "criterion name"))

    @model_validator(mode="after")
    def _consistent(self) -> Criterion:
        if self.scale is not None:
            _check_scale(self.scale)
            _check_threshold(self.threshold, self.scale)
        return self


class AssertionTask(_Spec):
    """A deterministic check of the value at ``path`` with an operator.

    Example:
        >>> AssertionTask(id="short", path="response.answer", op="lt", expected=800).op
        'less_than'
    """

    _what: ClassVar[str] = "task"

    kind: Literal["assertion"] = "assertion"
    """Discriminator; inferred from the fields when omitted in YAML/JSON."""
    id: str
    """Unique within the suite; dependents address this task's output by it."""
    op: str
    """Operator name (snake_case, CamelCase, alias such as ``gte``, optionally ``not_``-prefixed).
    Stored in canonical snake_case form."""
    path: str | None = None
    """Dot-path to the checked value; its first segment is a column or a task id. ``None``
    checks the whole row as an object."""
    expected: Any = None
    """The operator's argument; may hold ``${path}`` templates, substituted per row."""
    item_path: str | None = None
    """For array values: a path into each item, selecting the field that is checked."""
    description: str = ""
    """Free text shown in reports."""
    depends_on: list[str] = Field(default_factory=list)
    """Ids of tasks that must run first; their outputs are in this task's context."""
    gate: bool = False
    """When True, rows where this task does not pass skip every dependent, transitively."""
    min_pass_rate: float | None = Field(default=None, ge=0, le=1)
    """The run's target: the share of rows that must pass (errors count as not passing,
    skipped rows are left out). ``workbench run`` exits 1 when a target is missed."""

    _id = field_validator("id")(lambda v: _check_id(v, "task id"))

    @field_validator("path", "item_path")
    @classmethod
    def _path_syntax(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_path(v)
            except PathError as e:
                raise ValueError(str(e)) from None
        return v

    @model_validator(mode="after")
    def _operator(self) -> AssertionTask:
        try:
            rop = lookup(self.op)
        except KeyError as e:
            raise ValueError(e.args[0]) from None
        object.__setattr__(self, "op", rop.name)
        if not has_template(self.expected):
            try:
                rop.op.prepare(self.expected)
            except OpError as e:
                raise ValueError(f"operator '{rop.name}' {e}") from None
        return self


class JudgeTask(_Spec):
    """An LLM judge scoring a rendered prompt against one or more criteria.

    This is the spec; running it needs a model (``evaluate(..., model=...)``).

    Example:
        >>> JudgeTask(id="quality", prompt="Answer: ${answer}",
        ...           criteria=[Criterion(name="accuracy", description="Facts are right.")]).mode
        'joint'
    """

    _what: ClassVar[str] = "task"

    kind: Literal["judge"] = "judge"
    """Discriminator; inferred from the fields when omitted in YAML/JSON."""
    id: str
    """Unique within the suite; outputs are addressed as ``<id>.<criterion>.score``."""
    prompt: str
    """The user message, with ``${path}`` templates filled per row."""
    criteria: list[Criterion] = Field(min_length=1)
    """What the judge scores; names must be unique."""
    scale: Scale = (1, 5)
    """Default scale of every criterion."""
    threshold: float | str | None = None
    """Default pass threshold of every criterion."""
    mode: Literal["joint", "per_criterion"] = "joint"
    """``joint``: one call returns every criterion; ``per_criterion``: one call each."""
    guidelines: str = ""
    """Extra instructions for the judge."""
    model: str | None = None
    """A litellm model string overriding the run's model for this task."""
    overall: bool = False
    """Add a weighted ``overall`` score over the criteria."""
    description: str = ""
    """Free text shown in reports."""
    depends_on: list[str] = Field(default_factory=list)
    """Ids of tasks that must run first; their outputs are in this task's context."""
    gate: bool = False
    """When True, rows where this task does not pass skip every dependent, transitively."""
    min_pass_rate: float | None = Field(default=None, ge=0, le=1)
    """The run's target for every criterion (a criterion may set its own): the share of
    rows that must pass; needs a threshold. ``workbench run`` exits 1 when one is missed."""

    _id = field_validator("id")(lambda v: _check_id(v, "task id"))

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        for p in template_paths(v):
            try:
                parse_path(p)
            except PathError as e:
                raise ValueError(f"template '${{{p}}}' in the prompt: {e}") from None
        return v

    @model_validator(mode="after")
    def _consistent(self) -> JudgeTask:
        problems = []
        names = [c.name for c in self.criteria]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(f"criterion names must be unique; repeated: {dupes}")
        reserved = {"passed", "overall", "status", "value"} & set(names)
        if reserved:
            problems.append(f"criterion names {sorted(reserved)} are reserved; rename them")
        try:
            _check_scale(self.scale)
            _check_threshold(self.threshold, self.scale)
        except ValueError as e:
            problems.append(str(e))
        for c in self.criteria:
            if (c.min_pass_rate if c.min_pass_rate is not None else self.min_pass_rate) is not None and (
                c.threshold if c.threshold is not None else self.threshold
            ) is None:
                problems.append(
                    f"criterion {c.name!r} has a min_pass_rate but no threshold, so nothing can pass; "
                    "set threshold= on the task or the criterion"
                )
            if c.scale is None and c.threshold is not None:  # judged on the task's scale
                try:
                    _check_threshold(c.threshold, self.scale)
                except ValueError as e:
                    problems.append(f"criterion {c.name!r}: {e}")
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _task_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return getattr(value, "kind", None)
    if isinstance(value, dict):
        if "kind" in value:
            return value["kind"]
        if "criteria" in value or "prompt" in value:
            return "judge"
        return "assertion"
    return None


Task = Annotated[
    Annotated[AssertionTask, Tag("assertion")] | Annotated[JudgeTask, Tag("judge")],
    Discriminator(_task_kind),
]
"""Either kind of task."""


class Suite(_Spec):
    """A named, versioned set of tasks forming a dependency graph.

    Example:
        >>> s = Suite(name="demo", tasks=[AssertionTask(id="j", path="out", op="is_json")])
        >>> len(s.fingerprint())
        16
    """

    _what: ClassVar[str] = "suite"

    name: str
    """What is evaluated, e.g. ``support-bot``."""
    version: str = "1"
    """A label for this version of the suite."""
    tasks: list[Task] = Field(min_length=1)
    """The tasks; ``depends_on`` may only name tasks in this list."""
    description: str = ""
    """Free text shown in reports."""

    def __init__(self, /, **data: Any) -> None:
        graph = _graph_problems(data.get("tasks"))
        try:
            super().__init__(**data)
        except SpecError as e:
            problems = e.problems + graph
            raise SpecError(_summary(_suite_head(data), problems), problems) from None
        if graph:
            raise SpecError(_summary(_suite_head(data), graph), graph)

    # --- lookups ------------------------------------------------------------------

    @property
    def task_ids(self) -> list[str]:
        """Task ids in declaration order."""
        return [t.id for t in self.tasks]

    def task(self, task_id: str) -> AssertionTask | JudgeTask:
        """The task with this id.

        Raises:
            KeyError: no such task; the message lists the ids.
        """
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(
            f"no task {task_id!r} in suite {self.name!r}{did_you_mean(task_id, self.task_ids)}; "
            f"tasks are {cap_list(self.task_ids)}"
        )

    def stages(self) -> list[list[AssertionTask | JudgeTask]]:
        """Tasks grouped in dependency stages: each stage depends only on earlier ones."""
        done: set[str] = set()
        remaining = list(self.tasks)
        out = []
        while remaining:
            stage = [t for t in remaining if set(t.depends_on) <= done]
            out.append(stage)
            done |= {t.id for t in stage}
            remaining = [t for t in remaining if t.id not in done]
        return out

    def fingerprint(self) -> str:
        """A stable hash of the tasks' content (not of name, version or description)."""
        payload = json.dumps(
            [t.model_dump(mode="json") for t in self.tasks], sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    # --- serialisation ------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain data, leaving out fields at their defaults (``kind`` is always kept)."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        data.setdefault("version", self.version)
        data["tasks"] = [
            {"kind": t.kind, **t.model_dump(mode="json", exclude_defaults=True)} for t in self.tasks
        ]
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """The suite as JSON text (round-trips through :meth:`from_json`)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_yaml(self) -> str:
        """The suite as YAML text (round-trips through :meth:`from_yaml`)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)

    @classmethod
    def from_json(cls, source: str | Path) -> Suite:
        """Load a suite from a JSON file path or JSON text.

        Raises:
            SpecError: invalid JSON (with its line) or an invalid suite (every problem).
        """
        text, origin = _read(source)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SpecError(
                f"{origin} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
            ) from None
        return cls._from_data(data, origin, {})

    @classmethod
    def from_yaml(cls, source: str | Path) -> Suite:
        """Load a suite from a YAML file path or YAML text.

        Raises:
            SpecError: invalid YAML (with its line) or an invalid suite (every problem,
                each task named with the line it starts on).
        """
        text, origin = _read(source)
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(e, "problem", None) or str(e)
            context, cmark = getattr(e, "context", None), getattr(e, "context_mark", None)
            if context and cmark:
                problem += f" ({context} started at line {cmark.line + 1})"
            raise SpecError(f"{origin} is not valid YAML{where}: {problem}") from None
        return cls._from_data(data, origin, _task_lines(node))

    @classmethod
    def _from_data(cls, data: Any, origin: str, lines: dict[int, int]) -> Suite:
        if not isinstance(data, dict):
            raise SpecError(
                f"{origin} must hold a mapping with 'name', 'version' and 'tasks', got {type(data).__name__}"
            )
        try:
            return cls(**data)
        except SpecError as e:
            if not lines:
                raise
            problems = [_with_line(p, data, lines) for p in e.problems]
            raise SpecError(_summary(_suite_head(data), problems), problems) from None


# --- helpers -------------------------------------------------------------------------


def _read(source: str | Path) -> tuple[str, str]:
    if isinstance(source, Path):
        return source.read_text(encoding="utf-8"), f"file '{source}'"
    if "\n" not in source and len(source) < 4096 and source.strip().endswith((".yaml", ".yml", ".json")):
        path = Path(source)
        if not path.exists():
            raise SpecError(f"file '{source}' does not exist (current directory: {Path.cwd()})")
        return path.read_text(encoding="utf-8"), f"file '{source}'"
    return source, "the text"


def _task_lines(node: Any) -> dict[int, int]:
    """Map task index -> 1-based line where that task starts in the YAML."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    for key, value in node.value:
        if getattr(key, "value", None) == "tasks" and isinstance(value, yaml.SequenceNode):
            return {i: item.start_mark.line + 1 for i, item in enumerate(value.value)}
    return {}


def _with_line(problem: str, data: dict[str, Any], lines: dict[int, int]) -> str:
    tasks = data.get("tasks") or []
    for i, t in enumerate(tasks if isinstance(tasks, list) else []):
        tid = t.get("id") if isinstance(t, dict) else None
        if tid is not None and problem.startswith(f"task {tid!r}") and i in lines:
            return problem.replace(f"task {tid!r}", f"task {tid!r} (line {lines[i]})", 1)
        if problem.startswith(f"task #{i + 1}") and i in lines:
            return problem.replace(f"task #{i + 1}", f"task #{i + 1} (line {lines[i]})", 1)
    return problem


def _suite_head(data: dict[str, Any]) -> str:
    name = data.get("name")
    version = data.get("version")
    if name is None:
        return "this suite"
    return f"suite {name!r}" + (f" {version}" if version is not None else "")


def _summary(head: str, problems: list[str]) -> str:
    n = len(problems)
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"{n} problem{'s' if n != 1 else ''} in {head}:\n{lines}"


def _format_validation(e: ValidationError, data: dict[str, Any]) -> list[str]:
    """Turn pydantic's errors into one readable line per problem, naming the task."""
    problems: list[str] = []
    for err in e.errors():
        loc = list(err["loc"])
        nested = (err.get("ctx") or {}).get("error")
        if isinstance(nested, SpecError):  # a nested spec already formatted its problems
            owner = _task_label(data, loc)
            problems += [p if p.startswith("task ") or not owner else f"{owner} {p}" for p in nested.problems]
            continue
        msg = err["msg"].removeprefix("Value error, ")
        prefix = ""
        if loc[:1] == ["tasks"] and len(loc) >= 2 and isinstance(loc[1], int):
            prefix = _task_label(data, loc)
            loc = [x for x in loc[2:] if x not in ("assertion", "judge")]
        elif "id" in data:
            prefix = f"task {data['id']!r}"
        elif "name" in data and "description" in data and "tasks" not in data:
            prefix = f"criterion {data['name']!r}"
        field = ".".join(str(x) for x in loc)
        if err["type"] == "extra_forbidden":
            known = _known_fields(data, e)
            msg = f"unknown field {field!r}{did_you_mean(str(loc[-1]), known)}"
            field = ""
        elif err["type"] == "missing":
            msg = f"missing required field {field!r}"
            field = ""
        for line in msg.split("\n"):
            parts = [p for p in (prefix, field) if p]
            problems.append(f"{' '.join(parts)}: {line}" if parts else line)
    return problems


def _task_label(data: dict[str, Any], loc: list[Any]) -> str:
    """``task 'id'`` (or ``task #n``) for an error located under ``tasks.n``; else ``""``."""
    if loc[:1] != ["tasks"] or len(loc) < 2 or not isinstance(loc[1], int):
        return ""
    tasks = data.get("tasks")
    raw = tasks[loc[1]] if isinstance(tasks, list) and loc[1] < len(tasks) else None
    tid = raw.get("id") if isinstance(raw, dict) else getattr(raw, "id", None)
    return f"task {tid!r}" if tid else f"task #{loc[1] + 1}"


def _known_fields(data: dict[str, Any], e: ValidationError) -> list[str]:
    title = e.title
    model = {"AssertionTask": AssertionTask, "JudgeTask": JudgeTask, "Criterion": Criterion}.get(title)
    if model is None:
        return list(AssertionTask.model_fields) + list(JudgeTask.model_fields) + list(Suite.model_fields)
    return list(model.model_fields)


def _graph_problems(tasks: Any) -> list[str]:
    """Duplicate ids, unknown ``depends_on`` ids and cycles, from raw or built tasks."""
    if not isinstance(tasks, list):
        return []
    deps: dict[str, list[str]] = {}
    problems: list[str] = []
    seen: list[str] = []
    for t in tasks:
        tid = t.get("id") if isinstance(t, dict) else getattr(t, "id", None)
        dep = t.get("depends_on", []) if isinstance(t, dict) else getattr(t, "depends_on", [])
        if not isinstance(tid, str):
            continue
        if tid in seen:
            problems.append(f"task id {tid!r} is used more than once; ids must be unique")
        seen.append(tid)
        deps[tid] = [d for d in dep if isinstance(d, str)] if isinstance(dep, list) else []
    for tid, ds in deps.items():
        for d in ds:
            if d not in deps:
                problems.append(
                    f"task {tid!r}: depends_on names {d!r}, which is not a task in this suite"
                    f"{did_you_mean(d, list(deps))}; tasks are {cap_list(list(deps))}"
                )
            elif d == tid:
                problems.append(f"task {tid!r} depends on itself; remove {tid!r} from its depends_on")
    problems += [
        f"cycle in depends_on: {' -> '.join(c)} (read 'a -> b' as 'a depends on b'); "
        "remove one of these dependencies"
        for c in _cycles(deps)
    ]
    return problems


def _cycles(deps: dict[str, list[str]]) -> list[list[str]]:
    """Each distinct cycle once, as a closed path ``a -> b -> a`` (self-loops excluded)."""
    found: list[list[str]] = []
    seen_sets: list[frozenset[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for d in deps.get(n, []):
            if d not in deps or d == n:
                continue
            if state.get(d) == 1:
                cycle = stack[stack.index(d) :] + [d]
                key = frozenset(cycle)
                if key not in seen_sets:
                    seen_sets.append(key)
                    found.append(cycle)
            elif d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in deps:
        if n not in state:
            visit(n)
    return found
