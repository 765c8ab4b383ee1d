"""Deterministic sampling by record id: one hash per record, so a replay of the same ids
samples the same records and a lower rate selects a subset of a higher one.

A record's point is ``xxh3_64(id) / 2**64`` in ``[0, 1)``; a task runs on it when the point is
below the task's rate. A task that runs needs its dependencies, so a dependency's rate is
raised to the highest rate of the tasks that depend on it (``is_json`` at 100% under a judge
at 5% stays at 100%; a gate at 5% under a check at 100% runs at 100%). Tasks a record was
not sampled for have no cells at all in its results: absent, not ``skipped``, so pass rates
and means count only the records each task ran on.

Example:
    >>> import workbench as wb
    >>> from workbench.monitor import Sampler
    >>> suite = wb.Suite(name="s", tasks=[
    ...     wb.AssertionTask(id="cheap", path="answer", op="is_not_empty"),
    ...     wb.AssertionTask(id="costly", path="answer", op="is_string"),
    ... ])
    >>> sampler = Sampler(suite, sample_ratio=1.0, sample={"costly": 0.05})
    >>> sampler.rates
    {'cheap': 1.0, 'costly': 0.05}
    >>> ids = [f"r{i}" for i in range(2000)]
    >>> costly = [i for i in ids if sampler.tasks(i) is None]  # None: every task runs
    >>> 60 < len(costly) < 140, all(sampler.tasks(i) == '["cheap"]' for i in ids if i not in costly)
    (True, True)
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Mapping

import xxhash

from ..errors import ConfigError
from ..specs import Suite

__all__ = ["Sampler", "sample_point"]

_SCALE = 2.0**-64


def sample_point(record_id: str) -> float:
    """Where a record id falls in ``[0, 1)``: the same on every machine and in every process.

    Example:
        >>> from workbench.monitor import sample_point
        >>> p = sample_point("order-1234")
        >>> 0 <= p < 1 and p == sample_point("order-1234")
        True
    """
    return xxhash.xxh3_64_intdigest(record_id.encode("utf-8", "surrogatepass")) * _SCALE


class Sampler:
    """Which tasks of ``suite`` run on a record, from its id alone.

    Args:
        suite: the monitor's suite.
        sample_ratio: the share of records every task runs on, in ``[0, 1]``.
        sample: per-task rates overriding ``sample_ratio`` (``{"quality": 0.05}``).

    Raises:
        ConfigError: a rate outside ``[0, 1]``, or ``sample`` names a task the suite does
            not have (the message lists its tasks).

    Example:
        >>> import workbench as wb
        >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="t", path="x", op="is_positive")])
        >>> sampler = Sampler(suite, sample_ratio=0.5)
        >>> [sampler.tasks(i) is None for i in ("a", "b", "c")] == [sample_point(i) < 0.5 for i in "abc"]
        True
    """

    def __init__(
        self, suite: Suite, sample_ratio: float = 1.0, sample: Mapping[str, float] | None = None
    ) -> None:
        own = {t.id: _rate(sample_ratio, "sample_ratio") for t in suite.tasks}
        unknown = sorted(set(sample or {}) - set(own))
        if unknown:
            raise ConfigError(
                f"sample= names {unknown}, which are not tasks of suite {suite.name!r}; its tasks are "
                f"{suite.task_ids}. Give a rate per task id, e.g. sample={{{suite.task_ids[0]!r}: 0.05}}."
            )
        for task_id, ratio in (sample or {}).items():
            own[task_id] = _rate(ratio, f"sample[{task_id!r}]")
        rates = dict(own)
        # dependents come after their dependencies: walk back, lifting each dependency
        for task in reversed([t for stage in suite.stages() for t in stage]):
            for dep in task.depends_on:
                rates[dep] = max(rates[dep], rates[task.id])
        self.rates: dict[str, float] = {t.id: rates[t.id] for t in suite.tasks}
        """Each task's effective rate (its own, raised by the tasks that depend on it)."""
        self.top = max(self.rates.values(), default=0.0)
        """The share of records sampled at all."""
        self._levels = sorted(set(self.rates.values()))
        everything = len(self.rates)
        self._sets: list[str | None] = []
        for level in self._levels:
            ids = [t for t, r in self.rates.items() if r >= level]
            self._sets.append(None if len(ids) == everything else json.dumps(ids))

    def tasks(self, record_id: str) -> str | bool | None:
        """The tasks to run on this record: ``None`` for all of them, a JSON list of ids for
        some, ``False`` when the record is not sampled."""
        point = sample_point(record_id)
        if point >= self.top:
            return False
        return self._sets[bisect.bisect_right(self._levels, point)]

    def describe(self) -> str:
        """The rates as JSON text, as the store keeps them."""
        return json.dumps(self.rates)


def _rate(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(f"{name}={value!r} must be a share of records between 0 and 1 (0.05 is 5%)")
    return float(value)
