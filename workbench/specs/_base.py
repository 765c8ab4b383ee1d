"""The base of every spec: how a spec is built, how pydantic's errors become problems, and
what a spec does with them.

A :class:`~workbench.Suite` is the boundary. Building one checks its tasks (given as dicts
or as task objects), their ids and ``depends_on``, and raises one
:class:`~workbench.errors.SpecError` listing every problem, so nothing invalid is ever run.
A task or criterion built on its own does not raise: it keeps its problems in
``.problems`` (shown in its repr), so that a suite written as task objects, several of them
wrong, reports all of them in one go instead of one per attempt.
"""

from __future__ import annotations

import copy
import os
import sys
import warnings
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from types import FrameType
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError
from pydantic.fields import FieldInfo
from typing_extensions import Self

from ..errors import SpecError, SpecWarning, did_you_mean
from ._problems import BEFORE_ALL, Problem, at_line, item_label, summary

__all__ = ["DEPTH", "LISTS", "Spec", "checked", "format_validation", "kept_problems", "owned", "warn"]

DEPTH: ContextVar[int] = ContextVar("workbench_spec_depth", default=0)
"""Spec constructors running in this context: 0 while user code builds a spec, more while
pydantic builds the specs nested in it (which then raise, for the outer one to collect)."""

LISTS = {"tasks": ("task", "id"), "criteria": ("criterion", "name")}
"""List fields holding specs: what their items are called and the field that names one."""

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Spec(BaseModel):
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
        outer = DEPTH.get() == 0
        if outer:
            data = self._accept(data, lines)
        token = DEPTH.set(DEPTH.get() + 1)
        built = False
        found: list[Problem] = []
        try:
            super().__init__(**data)
            built = True
        except ValidationError as e:
            found = format_validation(e, data, self._own_label(data), type(self).model_fields)
        finally:
            DEPTH.reset(token)
        found += self._item_problems(data, lines)
        found.sort(key=lambda p: p[0])  # in the order of the file; an item's own problems first
        own = self._own_label(data)
        problems = [owned(at_line(p, data.get("tasks"), lines) if lines else p[1], own) for p in found]
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
        objects reports the problems of every task together: the :class:`~workbench.Suite` given it
        raises one :class:`~workbench.errors.SpecError` listing them all, before any work.

        Example:
            >>> from workbench import AssertionTask
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
            >>> from workbench import AssertionTask
            >>> t = AssertionTask(id="t", path="x", op="lt", expected=5)
            >>> t.model_copy(update={"op": "gte"}).op, t.model_copy(update={"op": "equalz"}).problems
            ('greater_than_or_equal', ["task 't': unknown operator 'equalz'; did you mean 'equals'?"])
        """
        if not update:
            return super().model_copy(deep=deep)
        data = {k: v for k, v in self.__dict__.items() if k in self.model_fields_set}
        data.update(update)
        return type(self)(**(copy.deepcopy(data) if deep else data))


def checked(spec: Spec) -> bool:
    """True for a spec that kept its problems: pydantic runs the after-validators again on an
    instance placed in another spec, and those problems are already listed."""
    private = object.__getattribute__(spec, "__pydantic_private__")
    return bool(private and private.get("_problems"))


def owned(problem: str, own: str) -> str:
    """The problem named by the spec it belongs to (``task 'q': criterion 'a': ...``)."""
    if not own or problem.startswith(own.split(" ", 1)[0] + " "):
        return problem
    return f"{own}: {problem}"


def warn(message: str) -> None:
    """A :class:`SpecWarning` attributed to the first caller outside workbench."""
    frame: FrameType | None = sys._getframe(1)
    level = 2  # stacklevel 2: the caller of warn
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, SpecWarning, stacklevel=level)


def kept_problems(data: Mapping[str, Any], field: str) -> list[Problem]:
    """The problems kept by the specs given as objects in ``data[field]``, each named."""
    items = data.get(field)
    if not isinstance(items, list):
        return []
    kind, key = LISTS[field]
    found: list[Problem] = []
    for i, item in enumerate(items):
        if isinstance(item, Spec):
            label = item_label(items, i, kind, key)
            found += [(i, owned(p, label)) for p in item.problems]
    return found


# --- pydantic's errors as problems -------------------------------------------------------


def format_validation(
    e: ValidationError, data: Mapping[str, Any], own: str, fields: Mapping[str, FieldInfo]
) -> list[Problem]:
    """Turn pydantic's errors into one readable line per problem, naming the task or
    criterion it belongs to, with the index of that item in its list. ``fields`` are the
    fields of the spec being built, for the closest name to an unknown one."""
    problems: list[Problem] = []
    for err in e.errors():
        loc = list(err["loc"])
        head, pos = (loc[0], loc[1]) if len(loc) >= 2 else (None, None)
        index, owner = BEFORE_ALL, ""
        if isinstance(head, str) and head in LISTS and isinstance(pos, int):
            index, owner = pos, item_label(data.get(head), pos, *LISTS[head])
            loc = [x for x in loc[2:] if x not in ("assertion", "judge")]
        nested = (err.get("ctx") or {}).get("error")
        if isinstance(nested, SpecError):  # a nested spec already formatted its problems
            problems += [(index, owned(p, owner)) for p in nested.problems]
            continue
        msg = err["msg"].removeprefix("Value error, ")
        prefix = owner or own
        field = ".".join(str(x) for x in loc)
        if err["type"] == "extra_forbidden":
            msg = f"unknown field {field!r}{did_you_mean(str(loc[-1]), list(fields))}"
            field = ""
        elif err["type"] == "missing":
            msg = f"missing required field {field!r}"
            field = ""
        for line in msg.split("\n"):
            parts = [p for p in (prefix, field) if p]
            problems.append((index, f"{' '.join(parts)}: {line}" if parts else line))
    return problems
