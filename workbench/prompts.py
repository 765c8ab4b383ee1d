"""The exact chat messages a judge task sends for one row, without calling anything.

:func:`render_messages` goes through the same planning code as a run
(:meth:`workbench.runner.JudgeRunner.plan`), so what it returns is byte for byte what the
judge receives, and what the cache is keyed on.

Example:
    >>> import pandas as pd, workbench as wb
    >>> from workbench.prompts import render_messages
    >>> df = pd.DataFrame({"answer": ["Paris.", "Lyon."]})
    >>> suite = wb.Suite(name="demo", tasks=[wb.JudgeTask(id="q", prompt="Answer: ${answer}",
    ...     criteria=[wb.Criterion(name="accuracy", description="Facts are right.")])])
    >>> [m["role"] for m in render_messages(df, suite, "q", 1)]
    ['system', 'user']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .config import JudgeConfig
from .errors import WorkbenchError, cap_list, did_you_mean
from .inputs import prepare
from .specs import JudgeTask, Suite

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["render_messages"]


def render_messages(
    df: pd.DataFrame,
    suite: Suite,
    task_id: str,
    row: Any,
    criterion: str | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    judge: JudgeConfig | None = None,
    **options: Any,
) -> list[dict[str, str]]:
    """The messages judge task ``task_id`` sends for the row labelled ``row``.

    Upstream assertions run on that row first (they are free), so a gate that skips the row
    is known, and ``${task.field}`` templates naming an assertion's output are filled.

    Args:
        df: the evaluated DataFrame (never modified).
        suite: the suite holding the judge task.
        task_id: the id of a :class:`~workbench.JudgeTask` of ``suite``.
        row: an index label of ``df``.
        criterion: in ``per_criterion`` mode, the criterion whose call to show (default: the
            first); in ``joint`` mode every criterion is in the one call, and a name given
            here must still be one of the task's.
        columns: the same mapping of suite names to columns as :func:`workbench.evaluate`.
        judge: the run's :class:`~workbench.JudgeConfig`; only ``max_field_chars`` changes
            the messages, the rest is checked and ignored, so a caller can pass the run's config.
        **options: judge options as :func:`workbench.evaluate` takes them, building ``judge``.

    Returns:
        The chat messages, ``[{"role": "system", ...}, {"role": "user", ...}]``.

    Raises:
        WorkbenchError: ``task_id`` is not a judge task, ``criterion`` is not one of its
            criteria, an upstream gate skips this row, or the prompt cannot be rendered for
            it (the message says why).
        ColumnsError: ``row`` is not in the index, or the suite names missing columns.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> df = pd.DataFrame({"q": ["2+2?"], "a": ["4"]})
        >>> suite = wb.Suite(name="demo", tasks=[wb.JudgeTask(id="j", prompt="Q: ${q}\\nA: ${a}",
        ...     mode="per_criterion", criteria=[wb.Criterion(name="right", description="Correct."),
        ...                                     wb.Criterion(name="short", description="Brief.")])])
        >>> msgs = render_messages(df, suite, "j", 0, criterion="short")
        >>> "## short" in msgs[0]["content"], "## right" in msgs[0]["content"]
        (True, False)
    """
    import numpy as np

    from .context import Context
    from .engine import run_assertions, skips
    from .runner import JudgeRunner

    task = _judge_task(suite, task_id)
    group = _group_index(task, criterion)
    config = JudgeConfig.build(judge, **options)
    sub, suite = prepare(df, suite, [row], columns)
    ctx = Context(sub)
    upstream = _upstream(suite, task)
    judged = [t for t in upstream if isinstance(suite.task(t), JudgeTask)]
    if judged:
        raise WorkbenchError(
            f"judge task {task_id!r} depends on judge task(s) {judged}: its prompt for a row is only known "
            "once those have run; read it from the requests of a run instead"
        )
    if upstream:
        run_assertions(
            Suite(name=suite.name, version=suite.version, tasks=[t for t in suite.tasks if t.id in upstream]),
            ctx,
        )
    skip = skips(task, suite, ctx, 1) if task.depends_on else np.full(1, None, dtype=object)
    if skip[0] is not None:
        raise WorkbenchError(
            f"row {row!r} is skipped by judge task {task_id!r} ({skip[0]}): no call is made for it"
        )
    runner = JudgeRunner(config)
    jobs = runner.plan(task, ctx, skip)
    messages = next(m for i, g, m, _ in jobs if g == group)
    if isinstance(messages, str):
        raise WorkbenchError(f"judge task {task_id!r} cannot render its prompt for row {row!r}: {messages}")
    return [dict(m) for m in messages]


def _judge_task(suite: Suite, task_id: str) -> JudgeTask:
    judges = [t.id for t in suite.tasks if isinstance(t, JudgeTask)]
    if task_id not in suite.task_ids or task_id not in judges:
        what = "an assertion, not a judge task" if task_id in suite.task_ids else "not a task of this suite"
        raise WorkbenchError(
            f"{task_id!r} is {what}{did_you_mean(task_id, judges)}; judge tasks of suite "
            f"{suite.name!r} are {cap_list(judges)}"
        )
    task = suite.task(task_id)
    assert isinstance(task, JudgeTask)
    return task


def _group_index(task: JudgeTask, criterion: str | None) -> int:
    names = [c.name for c in task.criteria]
    if criterion is None:
        return 0
    if criterion not in names:
        raise WorkbenchError(
            f"judge task {task.id!r} has no criterion {criterion!r}{did_you_mean(criterion, names)}; "
            f"its criteria are {cap_list(names)}"
        )
    return names.index(criterion) if task.mode == "per_criterion" else 0


def _upstream(suite: Suite, task: JudgeTask) -> list[str]:
    """Ids of every task ``task`` depends on, transitively, in suite order."""
    seen: set[str] = set()
    todo = list(task.depends_on)
    while todo:
        t = todo.pop()
        if t not in seen:
            seen.add(t)
            todo += suite.task(t).depends_on
    return [t for t in suite.task_ids if t in seen]
