"""Alerts on monitored traffic: :class:`Alerts` watches the results of each committed batch,
judges its rules over rolling windows, raises one alert per incident and reports its
recovery once, and calls ``on_fail`` for every record whose cells failed.

How an incident goes:

* records are judged in the order their results are observed (a batch's own records in time
  order); a retried record counts when its cells arrive, so errors that took three retries
  still raise their alert. A count window holds the last ``n`` records observed; a time
  window the records whose time lies within the span before the newest time observed (the
  watermark), which is also the cooldown's clock;
* at each record every rule is judged over its window ending there (a window too small to
  judge is skipped); the first breach opens an incident: one ``firing`` alert, stored with the
  records that raised it (those in the window below the bound, failed, errored, or the
  anomaly itself);
* breaches while it is open raise nothing; once the rule has been clear for ``cooldown_s``
  the incident closes with one ``resolved`` alert, so a value flapping around the bound
  raises one alert, not one per crossing (``cooldown_s=0`` resolves at the first clear point).

State lives in the store's alert tables and every observation is one write transaction:
several worker processes observing one store share one order of records and raise one alert
per incident between them. Alerts go to their targets after the transaction commits:
callables, ``"log"`` (logger ``workbench.monitor``), webhook URLs (a JSON POST from a
background sender).
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..errors import ColumnsError, ConfigError, SpecError, cap_list, shorten
from ..results import RESULT_COLUMNS
from ..secrets import known_secrets, redact
from ..store import AlertLog, AlertWriter, NewAlert, RuleState, Store
from ._events import Alert, RecordFailure
from ._factories import suite_problems
from ._rules import RULE_TYPES, Rule, ZScore
from ._tally import ALL, SUMMED, Tallies, Verdict, Verdicts, tally
from ._webhook import WebhookSender, check_url

if TYPE_CHECKING:
    from ..specs import Suite

__all__ = ["Alert", "Alerts", "RecordFailure", "history", "records"]

log = logging.getLogger("workbench.monitor")

KEEP_SEEN = 10_000
"""How many of the latest records are remembered to tell a record observed twice (a lease
that expired while its results were being stored) from a new one."""

MAX_RECORDS = 1000
"""The most records stored and sent with one alert (the latest of those that raised it)."""

_COLUMNS = (*RESULT_COLUMNS, "record", "time")


@dataclass(frozen=True, kw_only=True)
class _Batch:
    """The records of one observation not seen before, as stored."""

    rows: dict[str, list[tuple[Any, ...]]]
    """Per target, the tallies of the new records in observation order."""
    first: int
    """The observation number of the first of them."""
    newest: int | None
    """The newest record time observed before them (µs)."""


class Alerts:
    """Rules over monitored results, their alerts and where the alerts go.

    Args:
        rules: what to watch: :func:`~workbench.monitor.alerts.mean_below`,
            :func:`~workbench.monitor.alerts.pass_rate_below`,
            :func:`~workbench.monitor.alerts.error_rate_above`,
            :func:`~workbench.monitor.alerts.zscore`.
        dispatch: where alerts go: a callable (called with the :class:`Alert`), ``"log"``
            (logger ``workbench.monitor``: firing as a warning, resolved as info) or a
            webhook URL (JSON POST, sent in the background, retried; never credentials).
        on_fail: called with a :class:`RecordFailure` for each new record one of whose
            cells failed or errored.
        cooldown_s: how long (by the newest record time observed) a rule must stay clear before its
            incident resolves; breaches in that time belong to the same incident.
        store_path: the store that keeps alerts, rule state and windows (a store folder or
            ``.sqlite`` file), shared by every process observing it; ``None`` keeps them in
            this process's memory.
        name: the name the alerts are kept under (the monitor's name).
        suite: when given, every rule's target is checked against it now.
        secrets: values never to put in an alert, besides the credential-like environment
            variables (e.g. the judge's ``api_key``).

    Raises:
        SpecError: a rule that is not a rule, two rules with one id, a target the suite lacks.
        ConfigError: an unknown dispatch target, a negative cooldown, an empty name.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="is_json", path="r", op="is_json")])
        >>> df = pd.DataFrame({"r": ['{"a": 1}', "{}", "oops", "nope"]}, index=["a", "b", "c", "d"])
        >>> results = wb.evaluate(df, suite, save=False).results
        >>> times = pd.date_range("2026-01-05", periods=4, tz="UTC")
        >>> results = results.assign(record=results["row"], time=times)
        >>> raised = []
        >>> alerts = wb.alerts.Alerts([wb.alerts.pass_rate_below("is_json", 0.75, window=4)],
        ...                           dispatch=[raised.append], cooldown_s=0)
        >>> [a.state for a in alerts.observe(results)], raised[0].records
        (['firing'], ('c', 'd'))
        >>> print(raised[0].message)
        pass rate of is_json over the last 4 records (2 of 4 cells passed, 4 records) is 50.0%, below 75.0%
        >>> alerts.close()
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        dispatch: Sequence[str | Callable[[Alert], Any]] = (),
        on_fail: Callable[[RecordFailure], Any] | None = None,
        cooldown_s: float = 300.0,
        store_path: str | Path | Store | None = None,
        name: str = "default",
        suite: Suite | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self.rules: tuple[Rule, ...] = _checked_rules(rules, suite)
        if not isinstance(cooldown_s, int | float) or not cooldown_s >= 0 or math.isinf(cooldown_s):
            raise ConfigError(f"cooldown_s={cooldown_s!r} must be a number of seconds, 0 or more")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"name={name!r} must be a non-empty string: the alerts are kept under it")
        if on_fail is not None and not callable(on_fail):
            raise ConfigError(
                f"on_fail must be a function of one RecordFailure, got {type(on_fail).__name__}"
            )
        self.name = name
        self.cooldown_s = float(cooldown_s)
        self._secrets = [s for s in secrets if isinstance(s, str) and s]
        self._targets: list[Callable[[Alert], Any] | str] = []
        self._senders: dict[str, WebhookSender] = {}
        for target in [dispatch] if isinstance(dispatch, str) else dispatch:
            self._targets.append(self._dispatch_target(target))
        self._on_fail = on_fail
        self._log = AlertLog(store_path)
        self._lock = threading.Lock()
        self._counts = {"records": 0, "alerts": 0, "callback_errors": 0}
        self._closed = False

    def _dispatch_target(self, target: object) -> Callable[[Alert], Any] | str:
        if callable(target):
            return target
        if target == "log":
            return "log"
        if isinstance(target, str) and target.startswith(("http://", "https://")):
            url = check_url(target)
            self._senders.setdefault(url, WebhookSender(url, secrets=self._secrets))
            return url
        raise ConfigError(
            f"dispatch target {target!r} is not one workbench knows: give a function of one Alert, "
            "'log' (the logging module, logger 'workbench.monitor'), or a webhook URL starting with "
            "http:// or https://"
        )

    def __repr__(self) -> str:
        where = self._log.path or "memory"
        return f"Alerts({self.name!r}, {len(self.rules)} rules, store={str(where)!r})"

    def __enter__(self) -> Alerts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- observing --------------------------------------------------------------------

    def observe(self, results: pd.DataFrame) -> list[Alert]:
        """Judge the rules at each new record of one committed batch; store and send the
        alerts raised, call ``on_fail`` for the new records that failed. Returns the alerts
        this call raised, in time order.

        Args:
            results: the long results frame of the batch: the columns of
                ``wb.RESULT_COLUMNS`` plus ``record`` (the record id) and ``time`` (UTC; a
                naive time is taken as UTC). Rows without a record id or time are left out
                (logged); a record observed before is not judged again.

        Raises:
            ColumnsError: a column is missing.
            ConfigError: this object was closed.
            StoreError: the store cannot be written (read-only, full, damaged); nothing was
                stored or sent.
        """
        if self._closed:
            raise ConfigError(f"{self!r} is closed; make a new Alerts to observe more results")
        missing = [c for c in _COLUMNS if c not in results.columns]
        if missing:
            raise ColumnsError(
                f"the results to observe lack the columns {cap_list(missing)}; they have "
                f"{cap_list(list(map(str, results.columns)))}. Pass a batch's long results frame "
                "(wb.RESULT_COLUMNS) with 'record' (the record id) and 'time' columns."
            )
        results = _usable(results)
        if results.empty:
            return []
        record = results["record"].astype("string").to_numpy(dtype=object)
        time = _micros(results["time"])
        targets = [ALL, *(r.target_key for r in self.rules)]
        tallies = tally(record, time, results, targets)
        with self._lock:
            with self._log.writing() as tx:
                batch = self._add(tx, tallies)
                raised = [a for rule in self.rules for a in self._judge(tx, rule, batch, results)]
                self._prune(tx)
            new = {row[0] for row in batch.rows[ALL]}
            self._counts["records"] += len(new)
            self._counts["alerts"] += len(raised)
        raised.sort(key=lambda a: (a.time, a.id))
        for alert in raised:
            self._send(alert)
        if self._on_fail is not None and new:
            self._record_failures(results, record, new)
        return raised

    def _add(self, tx: AlertWriter, tallies: dict[str, list[tuple[Any, ...]]]) -> _Batch:
        """Number the records not seen before in time order, after every record observed so
        far, and store their tallies."""
        seen = tx.seen(self.name, [row[0] for row in tallies[ALL]])
        fresh = sorted((row for row in tallies[ALL] if row[0] not in seen), key=lambda r: (r[1], r[0]))
        last, newest = tx.position(self.name)
        seq = {row[0]: last + 1 + i for i, row in enumerate(fresh)}
        rows: dict[str, list[tuple[Any, ...]]] = {}
        for target, found in tallies.items():
            rows[target] = sorted((r for r in found if r[0] in seq), key=lambda r: seq[r[0]])
            tx.add_tallies(self.name, target, rows[target], [seq[r[0]] for r in rows[target]])
        return _Batch(rows=rows, first=last + 1, newest=newest)

    def _judge(self, tx: AlertWriter, rule: Rule, batch: _Batch, results: pd.DataFrame) -> list[Alert]:
        rows = batch.rows[rule.target_key]
        if not rows:
            return []
        state = tx.rule_state(self.name, rule.rule_id)
        t = self._window(tx, rule, rows, batch)
        verdicts = rule.judge(t, np.flatnonzero(t.new))
        raised: list[Alert] = []
        quiet = state.clear_since is None and bool(
            verdicts.breached.all() if state.incident is not None else not verdicts.breached.any()
        )  # nothing opens or closes in this batch: skip the walk (the usual case)
        for i in range(0 if quiet else len(verdicts)):
            state, alert = self._step(tx, rule, state, t, verdicts, i, results)
            if alert is not None:
                raised.append(alert)
        tx.set_rule_state(self.name, rule.rule_id, state)
        return raised

    def _window(self, tx: AlertWriter, rule: Rule, rows: list[tuple[Any, ...]], batch: _Batch) -> Tallies:
        """The tallies the rule's windows over this batch reach: the batch's, and before them
        the last ``n`` observed (a count window, a z-score's baseline) or those within the span
        of a point's window; of those, the ones no window of this batch leaves are read as one
        sum (a ten-minute window at a thousand records a second is 600,000 tallies)."""
        key = rule.target_key
        count, span, valued = rule.context()
        floor = batch.newest if batch.newest is not None else -(2**62)
        marks = [max(floor, r[1]) for r in rows]  # the newest time observed at each of the batch's
        if span is None:
            before = tx.last(self.name, key, count, before=batch.first, valued=valued)
            return Tallies.of_rows(
                before + rows,
                [False] * len(before) + [True] * len(rows),
                watermark=[r[1] for r in before] + marks,
                batch_seq=batch.first,
            )
        low, high = marks[0] - span, marks[-1] - span  # where the first and the last window start
        leaving = tx.between(self.name, key, low, high, before=batch.first) if high > low else []
        summed = tx.sums(self.name, key, max(low, high), before=batch.first)
        middle = [(SUMMED, max(low, high) + 1, *summed[1:], None)] if summed[0] else []
        old = leaving + middle
        return Tallies.of_rows(
            old + rows,
            [False] * len(old) + [True] * len(rows),
            watermark=[r[1] for r in old] + marks,
            weight=[1] * len(leaving) + [summed[0]] * len(middle) + [1] * len(rows),
            batch_seq=batch.first,
        )

    def _step(
        self,
        tx: AlertWriter,
        rule: Rule,
        state: RuleState,
        t: Tallies,
        verdicts: Verdicts,
        i: int,
        results: pd.DataFrame,
    ) -> tuple[RuleState, Alert | None]:
        now = int(t.watermark[verdicts.position[i]])  # the cooldown's clock: the newest time seen
        if verdicts.breached[i]:
            if state.incident is not None:
                return RuleState(incident=state.incident), None
            alert = self._raise(tx, rule, t, verdicts[i], "firing", None, results)
            return RuleState(incident=alert.id), alert
        if state.incident is None:
            return state, None
        since = state.clear_since if state.clear_since is not None else now
        if now - since < self.cooldown_s * 1e6:
            return RuleState(incident=state.incident, clear_since=since), None
        alert = self._raise(tx, rule, t, verdicts[i], "resolved", state.incident, results)
        return RuleState(), alert

    def _raise(
        self,
        tx: AlertWriter,
        rule: Rule,
        t: Tallies,
        v: Verdict,
        state: Literal["firing", "resolved"],
        incident: int | None,
        results: pd.DataFrame,
    ) -> Alert:
        firing = state == "firing"
        records = tuple(self._offenders(tx, rule, t, v)) if firing else (str(t.record[v.position]),)
        message = rule.message(t, v, firing)
        if firing and rule.kind == "error_rate_above":
            message += _latest_error(results, records)
        message = redact(message, known_secrets(None) + self._secrets)
        bound = rule.k if isinstance(rule, ZScore) else rule.bound
        time = pd.Timestamp(int(t.time[v.position]), unit="us", tz="UTC")
        new = NewAlert(
            name=self.name,
            rule=rule.rule_id,
            kind=rule.kind,
            target=rule.target_key,
            state=state,
            value=v.value,
            bound=float(bound),
            window=rule.window_text(),
            time=time.to_pydatetime(),
            message=message,
            records=records,
            incident=incident,
        )
        alert_id, opened, raised_at = tx.add_alert(new)
        return Alert(
            id=alert_id,
            incident=opened,
            name=self.name,
            rule=rule.rule_id,
            kind=rule.kind,
            target=rule.target_key,
            state=state,
            value=v.value,
            bound=float(bound),
            window=rule.window_text(),
            time=time,
            records=records,
            message=message,
            raised_at=raised_at,
        )

    def _offenders(self, tx: AlertWriter, rule: Rule, t: Tallies, v: Verdict) -> list[str]:
        """The records that raised a firing alert, the latest :data:`MAX_RECORDS`; those of the
        window's summed stretch are read from the store."""
        found = rule.offenders(t, v)
        summed = np.flatnonzero(~t.real)
        if not len(summed) or isinstance(rule, ZScore):
            return found[-MAX_RECORDS:]
        at = int(summed[0])  # it stands for the records observed before the batch after its time - 1
        older = {str(r) for r in t.record[:at]}
        middle = tx.records_where(
            self.name,
            rule.target_key,
            rule.offends,
            int(t.time[at]) - 1,
            before=t.batch_seq,
            bound=rule.bound,
            last=MAX_RECORDS,
        )
        split = sum(1 for r in found if r in older)
        return (found[:split] + middle + found[split:])[-MAX_RECORDS:]

    def _prune(self, tx: AlertWriter) -> None:
        keep: dict[str, tuple[int, int | None]] = {ALL: (KEEP_SEEN, None)}
        for rule in self.rules:
            count, span, _ = rule.context()
            old_count, old_span = keep.get(rule.target_key, (0, None))
            spans = [s for s in (old_span, span) if s is not None]
            keep[rule.target_key] = (max(old_count, 2 * count + 100), max(spans) * 2 if spans else None)
        for target, (count, span) in keep.items():
            tx.prune(self.name, target, keep=count, span=span)

    # --- sending ----------------------------------------------------------------------

    def _send(self, alert: Alert) -> None:
        for target in self._targets:
            if isinstance(target, str) and target == "log":
                level = logging.WARNING if alert.state == "firing" else logging.INFO
                log.log(level, "alert %s (%s): %s [%s]", alert.state, alert.name, alert.message, alert.rule)
            elif isinstance(target, str):
                self._senders[target].send(alert.to_json())
            else:
                self._call(target, alert, "a dispatch callback")

    def _call(self, fn: Callable[[Any], Any], arg: object, what: str) -> None:
        try:
            fn(arg)
        except Exception:  # one bad callback never stops the monitor
            self._counts["callback_errors"] += 1
            log.exception("%s of %r raised on %r", what, self, arg)

    def _record_failures(self, results: pd.DataFrame, record: np.ndarray, new: set[str]) -> None:
        status = results["status"].astype("string").to_numpy(dtype=object, na_value="")
        bad = np.isin(status, ["failed", "error"]) & np.isin(record, list(new))
        if not bad.any():
            return
        cells = results[bad]
        order = np.argsort(_micros(cells["time"]), kind="stable")
        cells = cells.iloc[order]
        assert self._on_fail is not None
        for rec, group in cells.groupby(cells["record"].astype("string"), sort=False):
            time = pd.Timestamp(group["time"].iloc[0])
            time = time.tz_convert("UTC") if time.tzinfo else time.tz_localize("UTC")
            failure = RecordFailure(record=str(rec), time=time, cells=group.reset_index(drop=True))
            self._call(self._on_fail, failure, "on_fail")

    # --- reading, closing -------------------------------------------------------------

    def history(self) -> pd.DataFrame:
        """The alerts kept under this name, oldest first (see :func:`history`)."""
        return self._log.alerts(self.name)

    def stats(self) -> dict[str, int]:
        """Counts: records observed (new ones), alerts raised here, callback errors, and the
        webhooks' sent, failed, retried, dropped and queued alerts."""
        out = dict(self._counts)
        for key in ("sent", "failed", "retried", "dropped", "queued"):
            out[f"webhook_{key}"] = sum(s.stats()[key] for s in self._senders.values())
        return out

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every alert queued for a webhook was sent or given up."""
        return all(s.flush(timeout) for s in self._senders.values())

    def close(self, timeout: float | None = 10.0) -> None:
        """Send what the webhooks still hold (waiting up to ``timeout`` seconds), then stop."""
        if self._closed:
            return
        self._closed = True
        for sender in self._senders.values():
            sender.close(timeout)
        self._log.close()


def _checked_rules(rules: Sequence[Rule], suite: Suite | None) -> tuple[Rule, ...]:
    if isinstance(rules, RULE_TYPES):
        rules = [rules]
    rules = list(rules)
    problems = [
        f"rule {i}: {r!r} is not an alert rule; build one with wb.alerts.mean_below, pass_rate_below, "
        "error_rate_above or zscore"
        for i, r in enumerate(rules)
        if not isinstance(r, RULE_TYPES)
    ]
    ids = [r.rule_id for r in rules if isinstance(r, RULE_TYPES)]
    problems += [
        f"two rules are named {i!r}: give one another id=..." for i in dict.fromkeys(ids) if ids.count(i) > 1
    ]
    if suite is not None and not problems:
        problems += suite_problems(rules, suite)
    if problems:
        head = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        raise SpecError(f"{head} in the alert rules:\n" + "\n".join(f"  - {p}" for p in problems), problems)
    return tuple(rules)


def _usable(results: pd.DataFrame) -> pd.DataFrame:
    """The rows with a record id and a time; the others are logged and left out."""
    bad = results["record"].isna() | (results["record"].astype("string") == "") | results["time"].isna()
    if bad.any():
        log.warning("%d result rows have no record id or no time and were not observed", int(bad.sum()))
        results = results[~bad]
    return results


def _micros(times: pd.Series) -> np.ndarray:
    """Times as int64 microseconds since the epoch (UTC; a naive time is taken as UTC)."""
    t = pd.to_datetime(times, utc=True)
    return t.dt.tz_localize(None).to_numpy(dtype="datetime64[us]").astype(np.int64)


def _latest_error(results: pd.DataFrame, records: Sequence[str]) -> str:
    errors = results[(results["status"].astype("string") == "error") & results["record"].isin(records)]
    if errors.empty:
        return ""
    text = errors["error"].dropna()
    return f"; latest error: {shorten(str(text.iloc[-1]), 200)}" if len(text) else ""


def history(
    store: Store | str | os.PathLike[str] | None = None,
    name: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> pd.DataFrame:
    """The alerts kept in a store, oldest first: one row per alert (id, incident, name, rule,
    kind, target, state, value, bound, window, time, raised_at, message, records: how many
    records raised it). ``since``/``until`` filter by the time of the record that raised it.

    Example:
        >>> import tempfile, workbench as wb
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     print(list(wb.alerts.history(store=tmp).columns[:7]))
        ['id', 'incident', 'name', 'rule', 'kind', 'target', 'state']
    """
    return AlertLog(Store(store)).alerts(name, _time(since), _time(until))


def records(
    store: Store | str | os.PathLike[str] | None = None,
    name: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> pd.DataFrame:
    """The records that raised each alert in a store: one row per (alert, record), with the
    alert's id, rule and state; join it to :func:`history` on ``alert`` = ``id``.

    Example:
        >>> import tempfile, workbench as wb
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     print(list(wb.alerts.records(store=tmp).columns))
        ['alert', 'rule', 'state', 'record']
    """
    return AlertLog(Store(store)).alert_records(name, _time(since), _time(until))


def _time(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    t = pd.Timestamp(value)
    utc: datetime = (t.tz_convert("UTC") if t.tzinfo else t.tz_localize("UTC")).to_pydatetime()
    return utc
