"""The alert rules as a user writes them: ``mean_below``, ``pass_rate_below``,
``error_rate_above`` and ``zscore`` build the rule models of :mod:`._rules`, checked on the
spot (one :class:`~workbench.SpecError` naming the call and what to write), and
:func:`suite_problems` checks their targets against a suite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import SpecError, cap_list, did_you_mean
from ._rules import ErrorRateAbove, MeanBelow, PassRateBelow, Rule, ZScore
from ._tally import ALL, METRICS, split_target

if TYPE_CHECKING:
    from ..specs import Suite

__all__ = ["error_rate_above", "mean_below", "pass_rate_below", "suite_problems", "zscore"]

R = TypeVar("R", bound=BaseModel)


def _build(cls: type[R], call: str, **fields: Any) -> R:
    try:
        return cls(**fields)
    except ValidationError as e:
        problems = [_problem(err) for err in e.errors()]
        raise SpecError(f"{call}: " + "; ".join(problems), problems) from None


def _problem(err: Mapping[str, Any]) -> str:
    where = ".".join(str(p) for p in err.get("loc", ()))
    text = str(err.get("msg", "")).removeprefix("Value error, ")
    return text if where and where in text else f"{where}: {text}" if where else text


def mean_below(
    target: str,
    bound: float,
    *,
    window: int | str | timedelta = 50,
    min_records: int | None = None,
    id: str | None = None,
) -> MeanBelow:
    """Alert when the mean score of ``target`` over a window falls below ``bound``.

    Args:
        target: ``"task.criterion"`` (``"quality.accuracy"``; ``.score`` may follow), or
            ``"task"`` to pool the scores of all its criteria.
        bound: the mean below which the rule fires.
        window: the last ``n`` records (an int), or a time span (``"10min"``, a
            ``timedelta``) back from the newest record time observed.
        min_records: the fewest records before the rule is judged (default: the whole
            count window; 10 for a time span).
        id: the rule's name in alerts and in the store (default: its description).

    Raises:
        SpecError: a target that is no task path, a window that is not positive.

    Example:
        >>> import workbench as wb
        >>> wb.alerts.mean_below("quality.accuracy", 3.5, window=50).rule_id
        'mean_below(quality.accuracy, 3.5, window=50)'
    """
    call = f"mean_below({target!r}, {bound!r})"
    return _build(MeanBelow, call, target=target, bound=bound, window=window, min_records=min_records, id=id)


def pass_rate_below(
    target: str,
    bound: float,
    *,
    window: int | str | timedelta = 50,
    min_records: int | None = None,
    id: str | None = None,
) -> PassRateBelow:
    """Alert when the pass rate of ``target`` over a window falls below ``bound`` (0 to 1).

    The pass rate is passed cells over passed and failed ones: an errored or skipped cell
    decides nothing (watch errors with :func:`error_rate_above`).

    Args:
        target: ``"task"`` (an assertion, or every criterion of a judge) or ``"task.criterion"``.
        bound: the pass rate below which the rule fires, from 0 to 1.
        window: the last ``n`` records, or a time span such as ``"10min"``.
        min_records: the fewest records before the rule is judged (default: the whole
            count window; 10 for a time span).
        id: the rule's name in alerts and in the store.

    Raises:
        SpecError: a bound outside 0..1, a bad target or window.

    Example:
        >>> import workbench as wb
        >>> wb.alerts.pass_rate_below("is_json", 0.9, window="10min").rule_id
        'pass_rate_below(is_json, 0.9, window=10min)'
    """
    call = f"pass_rate_below({target!r}, {bound!r})"
    return _build(
        PassRateBelow, call, target=target, bound=bound, window=window, min_records=min_records, id=id
    )


def error_rate_above(
    bound: float,
    *,
    target: str = ALL,
    window: int | str | timedelta = 100,
    min_records: int | None = None,
    id: str | None = None,
) -> ErrorRateAbove:
    """Alert when the share of cells that errored over a window rises above ``bound`` (0 to 1).

    Args:
        bound: the error rate above which the rule fires, from 0 to 1.
        target: ``"*"`` (every cell, the default), ``"task"`` or ``"task.criterion"``.
        window: the last ``n`` records, or a time span such as ``"10min"``.
        min_records: the fewest records before the rule is judged.
        id: the rule's name in alerts and in the store.

    Raises:
        SpecError: a bound outside 0..1, a bad target or window.

    Example:
        >>> import workbench as wb
        >>> wb.alerts.error_rate_above(0.05, window=100).rule_id
        'error_rate_above(0.05, window=100)'
    """
    call = f"error_rate_above({bound!r})"
    return _build(
        ErrorRateAbove, call, target=target, bound=bound, window=window, min_records=min_records, id=id
    )


def zscore(
    target: str,
    *,
    k: float = 2.0,
    n: int = 100,
    side: Literal["both", "high", "low"] = "both",
    min_records: int | None = None,
    id: str | None = None,
) -> ZScore:
    """Alert when a record's value is more than ``k`` standard deviations from the mean of the
    ``n`` records before it: the 2-sigma rule on a score, on latency or on cost.

    Args:
        target: ``"task.criterion"`` or ``"task"`` (the record's mean score),
            ``"record_latency_s"`` (the application's latency, when records carry one),
            ``"latency_s"`` (the record's slowest judge cell), ``"cost_usd"`` or ``"tokens"``
            (summed over its cells).
        k: the distance, in standard deviations, beyond which a record is an anomaly.
        n: the size of the baseline (the last ``n`` records with a value).
        side: ``"both"`` (``|z| > k``), ``"high"`` or ``"low"``.
        min_records: the fewest baseline records before the rule is judged (default ``n``).
        id: the rule's name in alerts and in the store.

    Raises:
        SpecError: ``k`` not positive, ``n`` below 2, an unknown side or a bad target.

    Example:
        >>> import workbench as wb
        >>> wb.alerts.zscore("latency_s", k=3, n=200, side="high").rule_id
        'zscore(latency_s, k=3, n=200, side=high)'
    """
    call = f"zscore({target!r})"
    return _build(ZScore, call, target=target, k=k, n=n, side=side, min_records=min_records, id=id)


def suite_problems(rules: Sequence[Rule], suite: Suite) -> list[str]:
    """What is wrong with each rule's target in ``suite``: an unknown task or criterion, or a
    mean or z-score of a task that gives no scores.

    Example:
        >>> import workbench as wb
        >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="is_json", path="r", op="is_json")])
        >>> print(suite_problems([wb.alerts.pass_rate_below("is_jsn", 0.9)], suite)[0])
        pass_rate_below(is_jsn, 0.9, window=50): no task 'is_jsn' in suite 's'; did you mean 'is_json'? ...
    """
    tasks = {t.id: t for t in suite.tasks}
    problems = []
    for rule in rules:
        key = rule.target_key
        if key == ALL or key in METRICS:
            continue
        task_id, criterion = split_target(key)
        task = tasks.get(task_id)
        head = f"{rule.rule_id}: "
        if task is None:
            hint = did_you_mean(task_id, tasks)
            problems.append(
                f"{head}no task {task_id!r} in suite {suite.name!r}{hint}{' ' if hint else '. '}"
                f"Its tasks are {cap_list(list(tasks))}."
            )
            continue
        names = [c.name for c in getattr(task, "criteria", [])]
        if criterion is not None and criterion not in names:
            has = f"its criteria are {cap_list(names)}" if names else "it is an assertion, with no criteria"
            problems.append(
                f"{head}task {task_id!r} has no criterion {criterion!r}{did_you_mean(criterion, names)}; "
                f"{has}. Write {task_id!r} for the whole task."
            )
        elif isinstance(rule, MeanBelow | ZScore) and not names:
            problems.append(
                f"{head}task {task_id!r} is an assertion and gives no scores; watch it with "
                f"wb.alerts.pass_rate_below({task_id!r}, 0.9)"
            )
    return problems
