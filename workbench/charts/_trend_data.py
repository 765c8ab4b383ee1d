"""The table a monitored trend draws: each record's value of a check, in time order, with the
rolling mean of an alert rule's window up to it. Pure pandas: no altair."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import DataError, WorkbenchError, cap_list, did_you_mean
from ._data import as_float, require, short_reason

__all__ = [
    "MIN_WINDOW_RECORDS",
    "Value",
    "as_window",
    "check_keys",
    "monitored_frame",
    "trend_data",
    "window_text",
]

Value = Literal["auto", "score", "pass_rate", "error_rate"]
"""What a check's trend shows: ``score`` (the judge's score), ``pass_rate`` (passed among
passed and failed), ``error_rate`` (errored among evaluated), or ``auto`` (the score when the
check has scores, else the pass rate)."""

MIN_WINDOW_RECORDS = 10
"""The rolling line starts once its window holds this many records (or the whole window, when
smaller): the mean of the first two records is no trend."""

_NEEDED = ["record", "time", "task", "criterion", "status", "score", "passed"]
_HINT = (
    "Pass monitored results: wb.monitor_results(store=..., name=...) or monitor.results() (the "
    "columns of wb.RESULT_COLUMNS plus record and time)."
)
_REASON_CHARS = 120
"""Reasons are cut to this many characters in a trend's tooltips: a day of records stays a
small chart."""


def monitored_frame(results: Any) -> pd.DataFrame:
    """The monitored results frame in ``results`` (a frame, or a monitor's stored results).

    Raises:
        WorkbenchError: ``results`` holds no frame.
        ColumnsError: the frame lacks ``record``, ``time`` or a result column (a run's results).
    """
    if isinstance(results, pd.DataFrame):
        frame = results
    elif callable(getattr(results, "results", None)):  # a wb.Monitor: its stored results
        frame = results.results()
    elif isinstance(getattr(results, "results", None), pd.DataFrame):
        frame = results.results  # a wb.Run: refused below, it has no record times
    else:
        raise WorkbenchError(
            f"monitor_trend() needs monitored results (a DataFrame) or a wb.Monitor, not "
            f"{type(results).__name__}. {_HINT}"
        )
    require(frame, _NEEDED, "monitor_trend", _HINT)
    return frame


def check_keys(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: its check as alert rules name it (``task`` or ``task.criterion``) and its task."""
    task = frame["task"].astype(str).to_numpy(dtype=object)
    crit = frame["criterion"].astype("string").fillna("").astype(str).to_numpy(dtype=object)
    key = np.where(crit == "", task, task + "." + crit)
    return key, task


def _targets(target: str | Sequence[str] | None, keys: list[str], tasks: list[str]) -> list[str]:
    """The checks ``target`` names, in the frame's order."""
    if target is None:
        return keys
    wanted = [target] if isinstance(target, str) else list(target)
    chosen: list[str] = []
    for t in wanted:
        if not isinstance(t, str):
            raise DataError(f"monitor_trend(): target {t!r} must be a string such as 'quality.accuracy'.")
        name = t[: -len(".score")] if t.endswith(".score") and t.count(".") == 2 else t
        if name in keys:
            found = [name]
        elif name in tasks:
            found = [k for k in keys if k == name or k.startswith(name + ".")]
        else:
            raise DataError(
                f"monitor_trend(): no check {t!r} in the results{did_you_mean(name, keys + tasks)}. "
                f"Checks in the results: {cap_list(keys)}. Name a 'task' or a 'task.criterion'."
            )
        chosen += [k for k in found if k not in chosen]
    return [k for k in keys if k in chosen]


def _short(reasons: pd.Series) -> pd.Series:
    text = short_reason(reasons)
    return text.where(text.str.len() <= _REASON_CHARS, text.str.slice(0, _REASON_CHARS - 1) + "…")


def _values(cells: pd.DataFrame, value: str) -> np.ndarray:
    """Each cell's value under ``value``: NaN where the cell says nothing about it."""
    status = cells["status"].astype("string").fillna("").to_numpy(dtype=object)
    if value == "score":
        return as_float(cells["score"]).to_numpy()
    if value == "pass_rate":  # errors, skips and threshold-less scores decide nothing
        out = np.full(len(cells), np.nan)
        out[status == "passed"] = 1.0
        out[status == "failed"] = 0.0
        return out
    return np.where(status == "skipped", np.nan, (status == "error").astype(float))


def _rolling(times: pd.Series, values: np.ndarray, window: int | timedelta) -> tuple[np.ndarray, np.ndarray]:
    """The mean of the values in each cell's window and how many values it pooled. A window
    of ``n`` is the last ``n`` cells of the check, as an alert rule's count window is; a time
    span, those within it before the cell. As a rule does, a window is judged once it holds
    enough records (cells without a value count, an error say) and at least one value."""
    least = MIN_WINDOW_RECORDS if isinstance(window, timedelta) else min(window, MIN_WINDOW_RECORDS)

    def summed(a: np.ndarray) -> np.ndarray:
        return np.asarray(pd.Series(a, index=times).rolling(window, min_periods=1).sum().to_numpy())

    total = summed(np.nan_to_num(values, nan=0.0))
    n = summed((~np.isnan(values)).astype(float))
    held = summed(np.ones(len(values)))
    mean = np.divide(total, n, out=np.full(len(n), np.nan), where=(held >= least) & (n > 0))
    return mean, n


def as_window(window: Any) -> int | timedelta:
    """A window as alert rules take it: a number of records, or a positive time span
    (a ``timedelta`` or pandas offset text such as ``"10min"``).

    Raises:
        DataError: neither (the message shows both forms).

    Example:
        >>> as_window("10min"), as_window(50)
        (datetime.timedelta(seconds=600), 50)
    """
    span = window
    if isinstance(window, str):
        with contextlib.suppress(ValueError):
            span = pd.Timedelta(window).to_pytimedelta()
    if isinstance(span, timedelta) and span > timedelta(0):  # pandas' Timedelta is one
        return pd.Timedelta(span).to_pytimedelta()
    if isinstance(window, int | np.integer) and not isinstance(window, bool) and window >= 1:
        return int(window)
    raise DataError(
        f"monitor_trend(): window={window!r} is neither a number of records (1 or more) nor a positive "
        "time span; write e.g. window=50 (the last 50 records, as wb.alerts rules count) or window='10min'."
    )


def window_text(window: int | timedelta) -> str:
    """A window in words, as chart subtitles say it.

    Example:
        >>> window_text(40), window_text(as_window("30min"))
        ('the last 40 records', 'the last 30 minutes')
    """
    if isinstance(window, timedelta):
        seconds = window.total_seconds()
        for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute"), (1, "second")):
            if seconds >= size and (seconds / size).is_integer():
                n = int(seconds // size)
                return f"the last {unit}" if n == 1 else f"the last {n:,} {unit}s"
        return f"the last {seconds:g} seconds"
    return "the last record" if window == 1 else f"the last {window:,} records"


def trend_data(
    results: pd.DataFrame,
    target: str | Sequence[str] | None = None,
    *,
    window: int | timedelta | str = 50,
    value: Value = "auto",
) -> pd.DataFrame:
    """The table :func:`monitor_trend` draws: one row per (record, check) with a value, in
    time order, with the check's rolling mean up to that record.

    Columns: ``time``, ``record``, ``check`` (``task`` or ``task.criterion``, as alert rules
    name it), ``metric`` (``score``, ``pass_rate`` or ``error_rate``), ``value`` (the cell's:
    the score, or 1/0), ``rolling`` (the window's mean; NaN until the window holds
    :data:`MIN_WINDOW_RECORDS` records), ``n`` (values in the window), ``status``, ``reason``.

    Raises:
        ColumnsError: the results lack ``record``, ``time`` or a result column.
        DataError: an unknown target or window, or no cell with a value to draw.

    Example:
        >>> import pandas as pd
        >>> from workbench.charts import trend_data
        >>> cells = pd.DataFrame({"record": ["a", "b", "c"], "task": "polite", "criterion": "",
        ...     "time": pd.date_range("2026-03-02 09:00", periods=3, freq="min", tz="UTC"),
        ...     "status": ["passed", "failed", "passed"], "score": None, "passed": [True, False, True]})
        >>> trend_data(cells, window=2)[["record", "metric", "value", "rolling"]]
          record     metric  value  rolling
        0      a  pass_rate    1.0      NaN
        1      b  pass_rate    0.0      0.5
        2      c  pass_rate    1.0      0.5
    """
    frame = monitored_frame(results)
    if value not in ("auto", "score", "pass_rate", "error_rate"):
        raise DataError(
            f"monitor_trend(): value={value!r} is not one of 'auto', 'score', 'pass_rate', 'error_rate'."
        )
    span = as_window(window)
    keys, tasks = check_keys(frame)
    order = list(dict.fromkeys(keys.tolist()))
    chosen = _targets(target, order, list(dict.fromkeys(tasks.tolist())))
    times = pd.to_datetime(frame["time"], utc=True)
    parts = []
    for check in chosen:
        mine = np.flatnonzero(keys == check)
        cells = frame.iloc[mine]
        when = times.iloc[mine]
        by_time = np.lexsort((cells["record"].astype(str).to_numpy(), when.to_numpy()))
        cells, when = cells.iloc[by_time], when.iloc[by_time]
        metric = value
        if metric == "auto":
            metric = "score" if cells["score"].notna().any() else "pass_rate"
        values = _values(cells, metric)
        if np.isnan(values).all():
            continue
        rolling, n = _rolling(when.reset_index(drop=True), values, span)
        part = pd.DataFrame(
            {
                "time": when.to_numpy(),
                "record": cells["record"].astype(str).to_numpy(),
                "check": check,
                "metric": metric,
                "value": values,
                "rolling": rolling,
                "n": n,
                "status": cells["status"].astype(str).to_numpy(),
                "reason": _short(cells["reason"]).to_numpy()
                if "reason" in cells
                else np.full(len(cells), ""),
            }
        )
        parts.append(part)
    if not parts:
        what = "scores" if value == "score" else "passed or failed cells" if value == "pass_rate" else "cells"
        raise DataError(
            f"monitor_trend() found no {what} to draw for {cap_list(chosen)}: every cell errored, was "
            "skipped, or the monitor evaluated none yet. Try value='error_rate', or another target."
        )
    out = pd.concat(parts, ignore_index=True)
    out["time"] = pd.to_datetime(out["time"], utc=True)
    return out
