"""Alerts on monitored traffic, as a notebook user writes them: ``wb.alerts.mean_below(...)``.

Rules watch rolling windows of the results a monitor stores (by count or by time): a mean
score below a bound, a pass rate below a bound, an error rate above one, and a z-score of a
record's score, latency or cost against the records before it. :class:`Alerts` judges them
batch by batch, raises one alert per incident, reports its recovery once, and sends alerts
to callables, the log or webhooks; :func:`history` and :func:`records` read them back.

Example:
    >>> import workbench as wb
    >>> rules = [
    ...     wb.alerts.mean_below("quality.accuracy", 3.5, window=50),
    ...     wb.alerts.pass_rate_below("is_json", 0.9, window="10min"),
    ...     wb.alerts.error_rate_above(0.05, window=100),
    ...     wb.alerts.zscore("latency_s", k=2, n=100, side="high"),
    ... ]
    >>> [r.rule_id for r in rules][-1]
    'zscore(latency_s, k=2, n=100, side=high)'
"""

from __future__ import annotations

from ._alerts import Alerts, history, records
from ._events import Alert, RecordFailure
from ._factories import error_rate_above, mean_below, pass_rate_below, zscore
from ._rules import ErrorRateAbove, MeanBelow, PassRateBelow, Rule, ZScore

__all__ = [
    "Alert",
    "Alerts",
    "ErrorRateAbove",
    "MeanBelow",
    "PassRateBelow",
    "RecordFailure",
    "Rule",
    "ZScore",
    "error_rate_above",
    "history",
    "mean_below",
    "pass_rate_below",
    "records",
    "zscore",
]
