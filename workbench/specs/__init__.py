"""Task specs: what a user declares. Pydantic models, validated eagerly, no I/O beyond text.

A :class:`Suite` holds :class:`AssertionTask` and :class:`JudgeTask` specs. Building one
checks everything that can be checked without data and reports every problem in one
:class:`~workbench.errors.SpecError`: unknown operators (with the closest names), bad
``expected`` values, invalid regexes, duplicate ids, unknown or cyclic ``depends_on``,
whether the tasks are given as dicts (YAML, JSON) or as task objects.

Example:
    >>> import workbench as wb
    >>> suite = wb.Suite(name="demo", version="v1", tasks=[
    ...     wb.AssertionTask(id="short", path="answer", op="has_length_less_than", expected=80),
    ... ])
    >>> wb.Suite.from_yaml(suite.to_yaml()) == suite
    True
"""

from ._problems import check_threshold
from ._suite import Suite
from ._tasks import AssertionTask, Criterion, JudgeTask, Scale, Task
from ._yaml import ALIAS_BUDGET

__all__ = [
    "ALIAS_BUDGET",
    "AssertionTask",
    "Criterion",
    "JudgeTask",
    "Scale",
    "Suite",
    "Task",
    "check_threshold",
]
