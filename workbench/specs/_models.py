"""The spec models: Criterion, AssertionTask, JudgeTask and Suite.

How problems are reported: a :class:`Suite` is the boundary. Building one checks its tasks
(given as dicts or as task objects), their ids and ``depends_on``, and raises one
:class:`~workbench.errors.SpecError` listing every problem, so nothing invalid is ever run.
A task or criterion built on its own does not raise: it keeps its problems in
``.problems`` (shown in its repr), so that a suite written as task objects, several of
them wrong, reports all of them in one go instead of one per attempt.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sys
import warnings
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from typing_extensions import Self

from ..assertions import OpError, lookup
from ..errors import SpecError, SpecWarning, UnknownTaskError, cap_list, did_you_mean
from ..paths import PathError, has_template, parse_path, template_paths
from ._problems import (
    BEFORE_ALL,
    Problem,
    at_line,
    check_id,
    check_scale,
    check_threshold,
    graph_problems,
    item_label,
    suite_head,
    summary,
)
from ._yaml import load_json, load_yaml, read_source

__all__ = ["AssertionTask", "Criterion", "JudgeTask", "Scale", "Suite", "Task"]

Scale = tuple[int, int] | Literal["binary"] | list[str] | dict[str, float]
"""A judge's scale: an integer range ``(1, 5)``, ``"binary"`` (pass/fail), a list of labels,
or a mapping of labels to scores."""

_DEPTH: ContextVar[int] = ContextVar("workbench_spec_depth", default=0)
"""Spec constructors running in this context: 0 while user code builds a spec, more while
pydantic builds the specs nested in it (which then raise, for the outer one to collect)."""

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_LISTS = {"tasks": ("task", "id"), "criteria": ("criterion", "name")}
"""List fields holding specs: what their items are called and the field that names one."""


class _Spec(BaseModel):
    """Shared config: unknown fields are problems, instances are immutable (edit with
    ``model_copy(update=...)``, which checks the result like a new spec)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    _what: ClassVar[str] = "spec"
    _keeps_problems: ClassVar[bool] = True
    """True: built by user code with a problem, the spec keeps it; False: it raises."""
    _problems: tuple[str, ...] = PrivateAttr(default=())

    def __init__(self, /, **data: Any) -> None:
        self._build(data, {})

    def _build(self, data: dict[str, Any], lines: Mapping[int, int]) -> None:
        outer = _DEPTH.get() == 0
        if outer:
            data = self._accept(data, lines)
        token = _DEPTH.set(_DEPTH.get() + 1)
        built = False
        found: list[Problem] = []
        try:
            super().__init__(**data)
            built = True
        except ValidationError as e:
            found = _format_validation(e, data, self._own_label(data))
        finally:
            _DEPTH.reset(token)
        found += self._item_problems(data, lines)
        found.sort(key=lambda p: p[0])  # in the order of the file; an item's own problems first
        own = self._own_label(data)
        problems = [_owned(at_line(p, data.get("tasks"), lines) if lines else p[1], own) for p in found]
        if not problems:
            return
        if outer and self._keeps_problems:
            self._keep(data, problems, built)
            return
        raise SpecError(summary(self._head(data), problems), problems)

    # --- hooks of the kinds ------------------------------------------------------------

    def _accept(self, data: dict[str, Any], lines: Mapping[int, int]) -> dict[str, Any]:
        """``data`` with what is accepted with a warning taken out (outermost spec only)."""
        return data

    def _item_problems(self, data: dict[str, Any], lines: Mapping[int, int]) -> list[Problem]:
        """Problems of the specs given as objects in a list field, and of the list as a whole."""
        return []

    def _own_label(self, data: Mapping[str, Any]) -> str:
        return ""

    def _head(self, data: Mapping[str, Any]) -> str:
        label = self._own_label(data)
        return label or f"this {self._what}"

    # --- problems kept -------------------------------------------------------------------

    def _keep(self, data: dict[str, Any], problems: list[str], built: bool) -> None:
        if not built:  # pydantic set nothing: hold the fields as given, defaults for the rest
            fields = type(self).model_fields
            values = {
                name: data[name]
                if name in data
                else (None if f.is_required() else f.get_default(call_default_factory=True))
                for name, f in fields.items()
            }
            object.__setattr__(self, "__dict__", values)
            object.__setattr__(self, "__pydantic_fields_set__", set(data) & set(fields))
            object.__setattr__(self, "__pydantic_extra__", None)
            object.__setattr__(self, "__pydantic_private__", {})
        private = self.__pydantic_private__
        assert private is not None  # set by pydantic (the class has a private attribute) or above
        private["_problems"] = tuple(problems)

    @property
    def problems(self) -> list[str]:
        """What is wrong with this spec, one line each; empty when it is valid.

        A task or criterion with a problem is still built, so that a suite written as task
        objects reports the problems of every task together: the :class:`Suite` given it
        raises one :class:`~workbench.errors.SpecError` listing them all, before any work.

        Example:
            >>> AssertionTask(id="t", path="x", op="equalz").problems
            ["task 't': unknown operator 'equalz'; did you mean 'equals'?"]
        """
        return list(self._problems)

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        yield from super().__repr_args__()
        if self._problems:
            yield "problems", list(self._problems)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update``, a new spec built from this one's fields and the update, so
        the result is checked like any new spec (a :class:`Suite` raises on a problem).

        Example:
            >>> t = AssertionTask(id="t", path="x", op="lt", expected=5)
            >>> t.model_copy(update={"op": "gte"}).op, t.model_copy(update={"op": "equalz"}).problems
            ('greater_than_or_equal', ["task 't': unknown operator 'equalz'; did you mean 'equals'?"])
        """
        if not update:
            return super().model_copy(deep=deep)
        data = {k: v for k, v in self.__dict__.items() if k in self.model_fields_set}
        data.update(update)
        return type(self)(**(copy.deepcopy(data) if deep else data))


def _checked(spec: _Spec) -> bool:
    """True for a spec that kept its problems: pydantic runs the after-validators again on an
    instance placed in another spec, and those problems are already listed."""
    private = object.__getattribute__(spec, "__pydantic_private__")
    return bool(private and private.get("_problems"))


def _owned(problem: str, own: str) -> str:
    """The problem named by the spec it belongs to (``task 'q': criterion 'a': ...``)."""
    if not own or problem.startswith(own.split(" ", 1)[0] + " "):
        return problem
    return f"{own}: {problem}"


def _warn(message: str) -> None:
    """A :class:`SpecWarning` attributed to the first caller outside workbench."""
    frame, level = sys._getframe(1), 2  # stacklevel 2: the caller of _warn
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    warnings.warn(message, SpecWarning, stacklevel=level)


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

    _name = field_validator("name")(lambda v: check_id(v, "criterion name"))

    def _own_label(self, data: Mapping[str, Any]) -> str:
        return f"criterion {data['name']!r}" if "name" in data else ""

    @model_validator(mode="after")
    def _consistent(self) -> Criterion:
        if self.scale is not None and not _checked(self):
            check_scale(self.scale)
            check_threshold(self.threshold, self.scale)
        return self


class _Task(_Spec):
    _what: ClassVar[str] = "task"

    def _own_label(self, data: Mapping[str, Any]) -> str:
        return f"task {data['id']!r}" if "id" in data else ""


class AssertionTask(_Task):
    """A deterministic check of the value at ``path`` with an operator.

    Example:
        >>> AssertionTask(id="short", path="response.answer", op="lt", expected=800).op
        'less_than'
    """

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
    """The operator's argument; may hold ``${path}`` templates, substituted per row. For an
    operator that takes none, ``True`` (what Scouter's suites write) is accepted with a
    :class:`~workbench.errors.SpecWarning` and dropped."""
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

    _id = field_validator("id")(lambda v: check_id(v, "task id"))

    def _accept(self, data: dict[str, Any], lines: Mapping[int, int]) -> dict[str, Any]:
        op = _ignores_true(data)
        if op is None:
            return data
        _warn(_ignored_note(self._own_label(data) or "this task", op))
        return {k: v for k, v in data.items() if k != "expected"}

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
        if _checked(self):
            return self
        try:
            rop = lookup(self.op)
        except KeyError as e:
            raise ValueError(e.args[0]) from None
        object.__setattr__(self, "op", rop.name)
        try:
            templated = has_template(self.expected)
        except RecursionError:
            raise ValueError(
                "expected is nested too deeply to check (lists or mappings inside one another hundreds "
                "of levels deep); flatten it"
            ) from None
        if not templated:
            try:
                rop.op.prepare(self.expected)
            except OpError as e:
                raise ValueError(f"operator '{rop.name}' {e}") from None
        return self


def _ignores_true(data: Mapping[str, Any]) -> str | None:
    """The operator's name when ``data`` gives ``expected=True`` to an operator that takes no
    expected value (its ``prepare`` refuses ``True`` and accepts ``None``); else ``None``."""
    if data.get("expected") is not True:
        return None
    try:
        rop = lookup(data.get("op"))  # type: ignore[arg-type]
    except KeyError:
        return None  # reported as an unknown operator
    try:
        rop.op.prepare(True)
        return None  # True is a value this operator checks against
    except OpError:
        pass
    try:
        rop.op.prepare(None)
    except OpError:
        return None  # the operator needs a value; the task reports what it needs
    return rop.name


def _ignored_note(label: str, op: str) -> str:
    return (
        f"{label}: operator {op!r} takes no expected value, so expected=True is ignored (Scouter's "
        "suites write expected_value: true for unary operators); remove 'expected' to silence this warning"
    )


class JudgeTask(_Task):
    """An LLM judge scoring a rendered prompt against one or more criteria.

    This is the spec; running it needs a model (``evaluate(..., model=...)``).

    Example:
        >>> JudgeTask(id="quality", prompt="Answer: ${answer}",
        ...           criteria=[Criterion(name="accuracy", description="Facts are right.")]).mode
        'joint'
    """

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

    _id = field_validator("id")(lambda v: check_id(v, "task id"))

    def _item_problems(self, data: dict[str, Any], lines: Mapping[int, int]) -> list[Problem]:
        return _kept_problems(data, "criteria")

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
        if _checked(self):
            return self
        problems = []
        names = [c.name for c in self.criteria if isinstance(c.name, str)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(f"criterion names must be unique; repeated: {dupes}")
        reserved = {"passed", "overall", "status", "value"} & set(names)
        if reserved:
            problems.append(f"criterion names {sorted(reserved)} are reserved; rename them")
        try:
            check_scale(self.scale)
            check_threshold(self.threshold, self.scale)
        except ValueError as e:
            problems.append(str(e))
        for c in self.criteria:
            if c.problems:  # already listed as this criterion's own problems
                continue
            if (c.min_pass_rate if c.min_pass_rate is not None else self.min_pass_rate) is not None and (
                c.threshold if c.threshold is not None else self.threshold
            ) is None:
                problems.append(
                    f"criterion {c.name!r} has a min_pass_rate but no threshold, so nothing can pass; "
                    "set threshold= on the task or the criterion"
                )
            if c.scale is None and c.threshold is not None:  # judged on the task's scale
                try:
                    check_threshold(c.threshold, self.scale)
                except ValueError as e:
                    problems.append(f"criterion {c.name!r}: {e}")
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _kept_problems(data: Mapping[str, Any], field: str) -> list[Problem]:
    """The problems kept by the specs given as objects in ``data[field]``, each named."""
    items = data.get(field)
    if not isinstance(items, list):
        return []
    kind, key = _LISTS[field]
    found: list[Problem] = []
    for i, item in enumerate(items):
        if isinstance(item, _Spec):
            label = item_label(items, i, kind, key)
            found += [(i, _owned(p, label)) for p in item.problems]
    return found


def _task_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return getattr(value, "kind", None)
    if isinstance(value, dict):
        if "kind" in value:
            return value["kind"]  # type: ignore[no-any-return]
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

    Building a suite checks everything that can be checked without data and raises one
    :class:`~workbench.errors.SpecError` listing every problem: those of each task (given
    as a dict or as a task object), duplicate ids, unknown or cyclic ``depends_on``.

    Example:
        >>> s = Suite(name="demo", tasks=[AssertionTask(id="j", path="out", op="is_json")])
        >>> len(s.fingerprint())
        16
    """

    _what: ClassVar[str] = "suite"
    _keeps_problems: ClassVar[bool] = False

    name: str
    """What is evaluated, e.g. ``support-bot``."""
    version: str = "1"
    """A label for this version of the suite."""
    tasks: list[Task] = Field(min_length=1)
    """The tasks; ``depends_on`` may only name tasks in this list."""
    description: str = ""
    """Free text shown in reports."""

    def _head(self, data: Mapping[str, Any]) -> str:
        return suite_head(data)

    def _accept(self, data: dict[str, Any], lines: Mapping[int, int]) -> dict[str, Any]:
        tasks = data.get("tasks")
        if not isinstance(tasks, list):
            return data
        kept = list(tasks)
        for i, t in enumerate(tasks):
            op = _ignores_true(t) if isinstance(t, dict) and _task_kind(t) == "assertion" else None
            if op is not None:
                label = item_label(tasks, i, "task", "id")
                _warn(_ignored_note(label + (f" (line {lines[i]})" if i in lines else ""), op))
                kept[i] = {k: v for k, v in t.items() if k != "expected"}
        return {**data, "tasks": kept}

    def _item_problems(self, data: dict[str, Any], lines: Mapping[int, int]) -> list[Problem]:
        return _kept_problems(data, "tasks") + graph_problems(data.get("tasks"), lines)

    # --- lookups ------------------------------------------------------------------

    @property
    def task_ids(self) -> list[str]:
        """Task ids in declaration order."""
        return [t.id for t in self.tasks]

    def task(self, task_id: str) -> AssertionTask | JudgeTask:
        """The task with this id.

        Raises:
            UnknownTaskError: no such task (also a ``KeyError``); the message gives the
                closest ids and the others.

        Example:
            >>> Suite(name="s", tasks=[AssertionTask(id="j", path="x", op="is_json")]).task("j").op
            'is_json'
        """
        for t in self.tasks:
            if t.id == task_id:
                return t
        hint = did_you_mean(task_id, self.task_ids)
        others = f"{' Its' if hint else '; its'} tasks are {cap_list(self.task_ids)}{'.' if hint else ''}"
        raise UnknownTaskError(f"no task {task_id!r} in suite {self.name!r}{hint}{others}")

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
            SpecError: invalid JSON (with its line), nesting too deep to read, or an
                invalid suite (every problem).
        """
        text, origin = read_source(source)
        return cls._from_data(load_json(text, origin), origin, {})

    @classmethod
    def from_yaml(cls, source: str | Path) -> Suite:
        """Load a suite from a YAML file path or YAML text.

        Aliases (``*name``) may stand for at most
        :data:`~workbench.specs.ALIAS_BUDGET` values beyond those written out,
        so a small file cannot expand into billions of values.

        Raises:
            SpecError: invalid YAML (with its line), aliases that expand too far or refer to
                their own value (with the alias's line), nesting too deep to read, or an
                invalid suite (every problem, each task named with the line it starts on).
        """
        text, origin = read_source(source)
        data, lines = load_yaml(text, origin)
        return cls._from_data(data, origin, lines)

    @classmethod
    def _from_data(cls, data: Any, origin: str, lines: Mapping[int, int]) -> Suite:
        if not isinstance(data, dict):
            raise SpecError(
                f"{origin} must hold a mapping with 'name', 'version' and 'tasks', got {type(data).__name__}"
            )
        suite = cls.__new__(cls)
        suite._build(data, lines)
        return suite


# --- pydantic's errors as problems -------------------------------------------------------


def _format_validation(e: ValidationError, data: dict[str, Any], own: str) -> list[Problem]:
    """Turn pydantic's errors into one readable line per problem, naming the task or
    criterion it belongs to, with the index of that item in its list."""
    problems: list[Problem] = []
    for err in e.errors():
        loc = list(err["loc"])
        in_list = len(loc) >= 2 and loc[0] in _LISTS and isinstance(loc[1], int)
        index = loc[1] if in_list else BEFORE_ALL
        owner = item_label(data.get(loc[0]), loc[1], *_LISTS[loc[0]]) if in_list else ""
        nested = (err.get("ctx") or {}).get("error")
        if isinstance(nested, SpecError):  # a nested spec already formatted its problems
            problems += [(index, _owned(p, owner)) for p in nested.problems]
            continue
        msg = err["msg"].removeprefix("Value error, ")
        prefix = own
        if in_list:
            prefix = owner
            loc = [x for x in loc[2:] if x not in ("assertion", "judge")]
        field = ".".join(str(x) for x in loc)
        if err["type"] == "extra_forbidden":
            msg = f"unknown field {field!r}{did_you_mean(str(loc[-1]), _known_fields(e))}"
            field = ""
        elif err["type"] == "missing":
            msg = f"missing required field {field!r}"
            field = ""
        for line in msg.split("\n"):
            parts = [p for p in (prefix, field) if p]
            problems.append((index, f"{' '.join(parts)}: {line}" if parts else line))
    return problems


def _known_fields(e: ValidationError) -> list[str]:
    model = {"AssertionTask": AssertionTask, "JudgeTask": JudgeTask, "Criterion": Criterion}.get(e.title)
    if model is None:
        return list(AssertionTask.model_fields) + list(JudgeTask.model_fields) + list(Suite.model_fields)
    return list(model.model_fields)
