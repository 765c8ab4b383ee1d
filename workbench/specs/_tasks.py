"""The task specs and their criteria: Criterion, AssertionTask, JudgeTask."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, field_validator, model_validator

from ..assertions import OpError, lookup
from ..paths import PathError, has_template, parse_path, template_paths
from ._base import Spec, checked, kept_problems, warn
from ._problems import Problem, check_id, check_scale, check_threshold

__all__ = [
    "AssertionTask",
    "Criterion",
    "JudgeTask",
    "Scale",
    "Task",
    "ignored_note",
    "ignores_true",
    "task_kind",
]

Scale = tuple[int, int] | Literal["binary"] | list[str] | dict[str, float]
"""A judge's scale: an integer range ``(1, 5)``, ``"binary"`` (pass/fail), a list of labels,
or a mapping of labels to scores."""


class Criterion(Spec):
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
        if self.scale is not None and not checked(self):
            check_scale(self.scale)
            check_threshold(self.threshold, self.scale)
        return self


class _TaskSpec(Spec):
    _what: ClassVar[str] = "task"

    def _own_label(self, data: Mapping[str, Any]) -> str:
        return f"task {data['id']!r}" if "id" in data else ""


class AssertionTask(_TaskSpec):
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
        op = ignores_true(data)
        if op is None:
            return data
        warn(ignored_note(self._own_label(data) or "this task", op))
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
        if checked(self):
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


def ignores_true(data: Mapping[str, Any]) -> str | None:
    """The operator's name when ``data`` gives ``expected=True`` to an operator that takes no
    expected value (its ``prepare`` refuses ``True`` and accepts ``None``); else ``None``."""
    if data.get("expected") is not True:
        return None
    op = data.get("op")
    if not isinstance(op, str):
        return None  # a missing or non-string op is reported on its own
    try:
        rop = lookup(op)
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


def ignored_note(label: str, op: str) -> str:
    return (
        f"{label}: operator {op!r} takes no expected value, so expected=True is ignored (Scouter's "
        "suites write expected_value: true for unary operators); remove 'expected' to silence this warning"
    )


class JudgeTask(_TaskSpec):
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
        return kept_problems(data, "criteria")

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
        if checked(self):
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


def task_kind(value: Any) -> str | None:
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
    Discriminator(task_kind),
]
"""Either kind of task."""
