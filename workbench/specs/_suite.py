"""The suite: a named, versioned set of tasks, and its files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import Field

from ..errors import SpecError, UnknownTaskError, cap_list, did_you_mean
from ._base import Spec, kept_problems, warn
from ._problems import Problem, graph_problems, item_label, suite_head
from ._scouter import prune, report_dropped, translate, untranslatable_error
from ._tasks import AssertionTask, JudgeTask, Task, ignored_note, ignores_true, task_kind
from ._yaml import load_json, load_yaml, read_source

__all__ = ["Suite"]


class Suite(Spec):
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
            op = ignores_true(t) if isinstance(t, dict) and task_kind(t) == "assertion" else None
            if op is not None:
                label = item_label(tasks, i, "task", "id")
                warn(ignored_note(label + (f" (line {lines[i]})" if i in lines else ""), op))
                kept[i] = {k: v for k, v in t.items() if k != "expected"}
        return {**data, "tasks": kept}

    def _item_problems(self, data: dict[str, Any], lines: Mapping[int, int]) -> list[Problem]:
        return kept_problems(data, "tasks") + graph_problems(data.get("tasks"), lines)

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
        text: str = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)
        return text

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
    def from_scouter(
        cls,
        source: str | Path,
        *,
        name: str | None = None,
        version: str = "1",
        trace_path: str = "trace",
        skip_untranslatable: bool = False,
    ) -> Suite:
        """Load a Scouter tasks file (YAML or JSON, a path or the text), translated to workbench's
        tasks: ``Assertion`` and ``AgentAssertion`` tasks to assertions and agent operators,
        ``TraceAssertion`` tasks to trace operators at ``trace_path`` (the column holding each
        row's spans), ``condition: true`` to a gate. How each construct translates:
        :mod:`workbench.specs._scouter`.

        Args:
            source: the file's path, or its text.
            name: the suite's name (default: the file's name without its suffix, or ``scouter``).
            version: the suite's version label.
            trace_path: where trace assertions read the trace (a column of OTLP JSON spans).
            skip_untranslatable: leave out the tasks that cannot be translated, and the tasks that
                depend on them, with a :class:`~workbench.errors.SpecWarning` listing them, instead
                of raising.

        Raises:
            SpecError: the file cannot be read, or a construct cannot be translated (``LLMJudge``
                tasks, an unknown operator, a trace operator this workbench lacks...), or a
                translated task is invalid: every problem with its line, before any work.

        Example:
            >>> suite = Suite.from_scouter('''
            ... tasks:
            ...   - task_type: Assertion
            ...     id: adult
            ...     context_path: user.age
            ...     operator: GreaterThanOrEqual
            ...     expected_value: 18
            ...   - task_type: AgentAssertion
            ...     id: searched
            ...     context_path: response
            ...     assertion: {ToolCallCount: {name: search_kb}}
            ...     operator: LessThan
            ...     expected_value: 3
            ... ''')
            >>> for t in suite.tasks:
            ...     print(t.op, t.path, t.expected)
            greater_than_or_equal user.age 18
            tool_call_count response.tool_calls {'name': 'search_kb', 'max': 2}
        """
        t = translate(source, trace_path=trace_path)
        tasks, lines, also = prune(t)
        named = isinstance(source, Path) or (
            "\n" not in source and source.strip().endswith((".yaml", ".yml", ".json"))
        )
        label = name or (Path(str(source).strip()).stem if named else "scouter")
        data = {"name": label, "version": version, "tasks": tasks}
        if t.problems and not skip_untranslatable:
            others: list[str] = []
            if tasks:  # the tasks that did translate are checked too: one error lists everything
                try:
                    cls._from_data(data, t.origin, lines)
                except SpecError as e:
                    others = e.problems
            raise untranslatable_error(t, others)
        if not tasks:
            raise untranslatable_error(t, ["no task could be translated, so there is no suite"])
        if t.problems:
            warn(report_dropped(t, also))
        return cls._from_data(data, t.origin, lines)

    @classmethod
    def _from_data(cls, data: Any, origin: str, lines: Mapping[int, int]) -> Suite:
        if not isinstance(data, dict):
            raise SpecError(
                f"{origin} must hold a mapping with 'name', 'version' and 'tasks', got {type(data).__name__}"
            )
        suite = cls.__new__(cls)
        suite._build(data, lines)
        return suite
