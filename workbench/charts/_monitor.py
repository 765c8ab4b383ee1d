"""Monitored traffic over time: each record's value of a check, its rolling mean, and the
alerts the monitor raised, marked where they fired and where they resolved."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from ..errors import DataError, WorkbenchError, shorten
from ._data import OKABE_ITO, as_float, palette, require
from ._trend_data import (
    Value,
    as_window,
    check_keys,
    monitored_frame,
    trend_data,
    window_text,
)

__all__ = ["ALERT_COLOURS", "monitor_trend"]

ALERT_COLOURS = {"firing": OKABE_ITO[5], "resolved": OKABE_ITO[2]}
"""Vermilion where an alert fired, bluish green where it resolved (told apart by dash and
shape too)."""

_TITLES = {"score": "Score", "pass_rate": "Pass rate", "error_rate": "Error rate"}
_WHAT = {"score": "score", "pass_rate": "pass (100%) or fail (0%)", "error_rate": "error (100%) or not (0%)"}
_LINE = {"score": "mean score", "pass_rate": "pass rate", "error_rate": "error rate"}
_ALERT_COLUMNS = ["time", "state", "rule", "target", "value", "bound", "message", "records"]


def _thin(frame: pd.DataFrame, most: int) -> pd.DataFrame:
    """At most ``most`` rows, evenly spread over the frame, its last row kept."""
    if len(frame) <= most:
        return frame
    keep = np.unique(np.linspace(0, len(frame) - 1, most).round().astype(int))
    return frame.iloc[keep]


def _alerts_frame(alerts: Any) -> pd.DataFrame:
    """``wb.alerts.history(...)`` or a list of alerts as one frame of :data:`_ALERT_COLUMNS`."""
    if alerts is None:
        return pd.DataFrame(columns=_ALERT_COLUMNS)
    if isinstance(alerts, pd.DataFrame):
        require(
            alerts,
            ["time", "state", "rule", "target", "value", "message"],
            "monitor_trend",
            "Pass alerts=wb.alerts.history(store=..., name=...), or the alerts a callback received.",
        )
        frame = alerts.copy()
        if "bound" not in frame:
            frame["bound"] = np.nan
        if "records" not in frame:
            frame["records"] = 0
        frame["records"] = [len(r) if isinstance(r, list | tuple) else r for r in frame["records"]]
        return frame[_ALERT_COLUMNS]
    items = list(alerts) if isinstance(alerts, Sequence) and not isinstance(alerts, str) else None
    if items is None or not all(hasattr(a, "state") and hasattr(a, "time") for a in items):
        raise WorkbenchError(
            f"monitor_trend(): alerts= takes wb.alerts.history(...) or a list of alerts, not "
            f"{type(alerts).__name__}."
        )
    return pd.DataFrame(
        [
            {
                "time": a.time,
                "state": a.state,
                "rule": a.rule,
                "target": a.target,
                "value": a.value,
                "bound": a.bound,
                "message": a.message,
                "records": len(a.records),
            }
            for a in items
        ],
        columns=_ALERT_COLUMNS,
    )


def _markers(alerts: Any, data: pd.DataFrame, all_checks: set[str], all_tasks: set[str]) -> pd.DataFrame:
    """The alerts to mark on a chart of ``data``: those on a drawn check or its task, and those
    on every cell or a record's metric (latency, cost); each with the record at its time."""
    frame = _alerts_frame(alerts)
    if frame.empty:
        return frame.assign(record=pd.Series(dtype=str))
    drawn = set(data["check"])
    drawn_tasks = {c.split(".", 1)[0] for c in drawn}
    target = frame["target"].astype(str)
    named = target.isin(all_checks | all_tasks)  # a check or task of this monitor ...
    shown = ~named | target.isin(drawn | drawn_tasks)  # ... is marked only where it is drawn
    frame = frame[shown.to_numpy()].copy()
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    low, high = data["time"].min(), data["time"].max()
    frame = frame[((frame["time"] >= low) & (frame["time"] <= high)).to_numpy()]
    if frame.empty:
        return frame.assign(record=pd.Series(dtype=str))
    # an alert's time is that of the record it was judged at: name that record
    stamps = data[["time", "record"]].drop_duplicates("time").sort_values("time")
    frame = frame.sort_values("time", kind="stable")
    found = pd.merge_asof(
        frame[["time"]].reset_index(),
        stamps,
        on="time",
        direction="nearest",
        tolerance=pd.Timedelta(milliseconds=1),
    ).set_index("index")
    frame["record"] = found["record"].fillna("").astype(str)
    frame["value"] = as_float(frame["value"])
    frame["bound"] = as_float(frame["bound"])
    frame["message"] = frame["message"].astype(str).map(lambda m: shorten(m, 300))
    frame["state"] = frame["state"].astype(str)
    return frame


def _time_format(times: pd.Series) -> str:
    """Axis labels that say enough for the span: times of day, or days too."""
    span = times.max() - times.min() if len(times) else pd.Timedelta(0)
    if span <= pd.Timedelta(days=1):
        return "%H:%M"
    return "%b %d %H:%M" if span <= pd.Timedelta(days=7) else "%Y-%m-%d"


def _corners(line: pd.DataFrame) -> pd.DataFrame:
    """The line's points where it bends: a run of equal means (a pass rate at 100% all day)
    keeps its two ends, which draw the same line with a fraction of the data."""
    value, check = line["rolling"].to_numpy(), line["check"].to_numpy()
    if len(line) < 3:
        return line
    same_before = np.r_[False, (value[1:] == value[:-1]) & (check[1:] == check[:-1])]
    same_after = np.r_[(value[:-1] == value[1:]) & (check[:-1] == check[1:]), False]
    return line[~(same_before & same_after)]


def _panel(
    dots: pd.DataFrame,
    line: pd.DataFrame,
    markers: pd.DataFrame,
    metric: str,
    width: int,
    height: int,
    time_format: str,
) -> alt.LayerChart:
    checks = list(dict.fromkeys([*dots["check"], *line["check"]]))
    names = {c: c.replace(".", " · ", 1) for c in checks}
    dots = dots.assign(check=dots["check"].map(names))
    line = line.assign(check=line["check"].map(names))
    shown = [names[c] for c in checks]
    pct = metric != "score"
    x = alt.X(
        "time:T",
        title="Time (UTC)",
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(format=time_format, labelOverlap=True),
    )
    y_scale = alt.Scale(domain=[0, 1]) if pct else alt.Scale(zero=False)
    y_axis = alt.Axis(format="%" if pct else "~g")
    colour = alt.Color(
        "check:N",
        title="Check",
        sort=shown,
        scale=alt.Scale(domain=shown, **palette(len(shown))),
        legend=alt.Legend(symbolOpacity=1),
    )
    when = alt.Tooltip("time:T", title="Time (UTC)", format="%Y-%m-%d %H:%M:%S", formatType="utc")
    fmt = ".1%" if pct else ".3~f"
    dots = (
        alt.Chart(dots[["time", "record", "check", "value", "status", "reason"]])
        .mark_circle(size=16, opacity=0.35)
        .encode(
            x=x,
            y=alt.Y("value:Q", title=_TITLES[metric], scale=y_scale, axis=y_axis),
            color=colour,
            tooltip=[
                alt.Tooltip("record:N", title="Record"),
                when,
                alt.Tooltip("check:N", title="Check"),
                alt.Tooltip(
                    "value:Q",
                    title=_TITLES[metric] if metric == "score" else "Value (1 = yes)",
                    format=".3~f",
                ),
                alt.Tooltip("status:N", title="Status"),
                alt.Tooltip("reason:N", title="Reason"),
            ],
        )
    )
    line = (
        alt.Chart(line[["time", "record", "check", "rolling", "n"]])
        .mark_line(strokeWidth=2, interpolate="monotone")
        .encode(
            x=x,
            y=alt.Y("rolling:Q"),
            color=colour,
            tooltip=[
                alt.Tooltip("record:N", title="Record"),
                when,
                alt.Tooltip("check:N", title="Check"),
                alt.Tooltip("rolling:Q", title=f"{_TITLES[metric]}, rolling", format=fmt),
                alt.Tooltip("n:Q", title="Values in the window", format=",d"),
            ],
        )
    )
    layers: list[Any] = [dots, line]
    if not markers.empty:
        states = alt.Scale(
            domain=["firing", "resolved"], range=[ALERT_COLOURS["firing"], ALERT_COLOURS["resolved"]]
        )
        tips = [
            alt.Tooltip("state:N", title="Alert"),
            alt.Tooltip("time:T", title="Time (UTC)", format="%Y-%m-%d %H:%M:%S", formatType="utc"),
            alt.Tooltip("record:N", title="Record"),
            alt.Tooltip("rule:N", title="Rule"),
            alt.Tooltip("value:Q", title="Value", format=".3~g"),
            alt.Tooltip("bound:Q", title="Bound", format=".3~g"),
            alt.Tooltip("records:Q", title="Records that raised it", format=",d"),
            alt.Tooltip("message:N", title="Message"),
        ]
        marks = alt.Chart(
            markers[["time", "state", "record", "rule", "value", "bound", "records", "message"]]
        )
        legend = alt.Legend(title="Alert")
        layers.append(
            marks.mark_rule(strokeWidth=1.5, opacity=0.9).encode(
                x="time:T",
                stroke=alt.Stroke(
                    "state:N", scale=states, legend=legend
                ),  # null would drop the merged legend
                strokeDash=alt.StrokeDash(
                    "state:N",
                    scale=alt.Scale(domain=["firing", "resolved"], range=[[1, 0], [5, 3]]),
                    legend=None,
                ),
                tooltip=tips,
            )
        )
        layers.append(
            marks.mark_point(filled=True, size=110, opacity=1, yOffset=7).encode(
                x="time:T",
                y=alt.value(0),
                fill=alt.Fill("state:N", scale=states, legend=legend),
                shape=alt.Shape(
                    "state:N",
                    scale=alt.Scale(domain=["firing", "resolved"], range=["triangle-down", "circle"]),
                    legend=legend,
                ),
                tooltip=tips,
            )
        )
    return alt.LayerChart(layer=layers).properties(width=width, height=height)


def monitor_trend(
    results: pd.DataFrame | Any,
    target: str | Sequence[str] | None = None,
    *,
    alerts: Any = None,
    window: int | timedelta | str = 50,
    value: Value = "auto",
    max_points: int = 1000,
    width: int = 560,
    height: int = 200,
) -> alt.LayerChart | alt.VConcatChart:
    """A check's value on monitored traffic over time: a dot per record, the rolling mean over
    ``window`` as a line, and the alerts as marks where they fired (vermilion, solid, a
    triangle) and resolved (green, dashed, a circle). Hover a dot for its record, status and
    reason, an alert for its rule, value, message and the record it was judged at.

    Scores and rates have their own axes: a chart of both (``target=None`` on a suite of
    checks and a judge) stacks a panel for each, on one time axis. The rolling mean is that
    of an alert rule's window: the last ``n`` cells of the check (a count) or those within a
    time span; it starts once the window holds :data:`MIN_WINDOW_RECORDS` records (or the
    whole window, when smaller). More than ``max_points`` records per layer are thinned
    evenly for drawing (the means are computed on all of them) and the subtitle says so.

    Args:
        results: ``wb.monitor_results(store=..., name=...)``, ``monitor.results()`` or the
            :class:`~workbench.Monitor` itself.
        target: the check to draw, as alert rules name it: ``"task.criterion"`` (a trailing
            ``.score`` is accepted), ``"task"`` (every criterion of it, a line each), a list
            of those, or None (every check).
        alerts: ``wb.alerts.history(store=..., name=...)`` or the :class:`Alert` objects a
            callback received. Alerts on a check or task are marked on the chart of that
            check; alerts on every cell (``error_rate_above``) or a record's metric
            (latency, cost) on every chart. Alerts outside the records' times are left out.
        window: records (``50``) or a time span (``"10min"``, a ``timedelta``).
        value: ``"auto"`` (a judge's score, an assertion's pass rate), ``"score"``,
            ``"pass_rate"`` or ``"error_rate"``.
        max_points: the most dots, and line points, drawn per chart.
        width, height: the size of one panel in pixels.

    Raises:
        ColumnsError: the results lack ``record``, ``time`` or a result column, or the alerts
            frame lacks one of history's columns.
        DataError: an unknown target, value or window, or nothing to draw.

    Example:
        >>> import pandas as pd
        >>> from workbench import charts
        >>> times = pd.date_range("2026-03-02 09:00", periods=40, freq="min", tz="UTC")
        >>> cells = pd.DataFrame({"record": [f"r{i}" for i in range(40)], "time": times,
        ...     "task": "quality", "criterion": "accuracy", "status": "scored", "passed": None,
        ...     "score": [5.0] * 20 + [2.0] * 20, "reason": "checked"})
        >>> alerts = pd.DataFrame({"time": [times[24]], "state": ["firing"], "target": ["quality.accuracy"],
        ...     "rule": ["mean_below(quality.accuracy, 3.5, window=10)"], "value": [3.2],
        ...     "message": ["mean score of quality.accuracy ... is 3.2, below 3.5"]})
        >>> spec = charts.monitor_trend(cells, "quality.accuracy", alerts=alerts, window=10).to_dict()
        >>> [layer["mark"]["type"] for layer in spec["layer"]]
        ['circle', 'line', 'rule', 'point']
    """
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 2:
        raise DataError(f"monitor_trend(): max_points={max_points!r} must be a whole number, 2 or more.")
    frame = monitored_frame(results)
    span = as_window(window)
    data = trend_data(frame, target, window=span, value=value)
    keys, tasks = check_keys(frame)
    checks, task_ids = set(keys.tolist()), set(tasks.tolist())
    time_format = _time_format(data["time"])
    panels, thinned, marked = [], False, False
    for metric in dict.fromkeys(data["metric"]):
        part = data[(data["metric"] == metric).to_numpy()]
        markers = _markers(alerts, part, checks, task_ids)
        marked = marked or not markers.empty
        dots = part[part["value"].notna().to_numpy()]
        line = _corners(part[part["rolling"].notna().to_numpy()])
        shown_dots, shown_line = _thin(dots, max_points), _thin(line, max_points)
        thinned = thinned or len(shown_dots) < len(dots) or len(shown_line) < len(line)
        panels.append(_panel(shown_dots, shown_line, markers, str(metric), width, height, time_format))
    checks_drawn = list(dict.fromkeys(data["check"]))
    tasks_drawn = list(dict.fromkeys(c.split(".", 1)[0] for c in checks_drawn))
    if len(checks_drawn) == 1:
        title = f"{checks_drawn[0].replace('.', ' · ', 1)} over time"
    elif len(tasks_drawn) == 1:
        title = f"{tasks_drawn[0]} over time"
    else:
        title = "Monitored checks over time"
    metrics = list(dict.fromkeys(data["metric"]))
    dots_are = " or ".join(_WHAT[m] for m in metrics)
    lines_are = " or ".join(_LINE[m] for m in metrics)
    notes = [f"Dot: a record's {dots_are}; line: the {lines_are} over {window_text(span)}."]
    if marked:
        notes.append("Red triangle and line: an alert fired; green circle, dashed: it resolved.")
    if thinned:
        notes.append(f"Records thinned evenly to {max_points:,} per chart for drawing.")
    heading = alt.Title(title, subtitle=notes, anchor="start")
    if len(panels) == 1:
        return panels[0].properties(title=heading)
    return (
        alt.vconcat(*panels)
        .resolve_scale(x="shared", color="independent", y="independent")
        .properties(title=heading)
    )
