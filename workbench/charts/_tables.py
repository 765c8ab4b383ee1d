"""Charts drawn from summary tables: pass rates, a comparison of two runs, a trend over runs
(monitored traffic over time is :mod:`._monitor`'s)."""

from __future__ import annotations

from typing import Any, Literal

import altair as alt
import pandas as pd

from ..errors import DataError, WorkbenchError
from ._data import (
    NOT_SIGNIFICANT,
    OKABE_ITO,
    Runs,
    as_float,
    check_order,
    checks,
    is_runs,
    named_runs,
    palette,
    require,
    run_color,
    run_order,
)

__all__ = ["comparison", "pass_rates", "trend"]

_SUMMARY_COLUMNS = ["task", "criterion", "pass_rate", "pass_rate_low", "pass_rate_high"]
_COMPARISON_COLUMNS = ["task", "criterion", "metric", "delta", "ci_low", "ci_high", "significant", "p_holm"]
_METRICS = {"score": "Mean score", "pass_rate": "Pass rate"}


def _summary_of(obj: Any, who: str) -> pd.DataFrame:
    """A summary frame from a summary, a results frame, a run, or several runs (with ``run``)."""
    from ..run import summarize  # the core; charts sit above it

    if is_runs(obj):
        parts = [_summary_of(run, who).assign(run=name) for name, run in named_runs(obj, who)]
        out = pd.concat(parts, ignore_index=True)
        out["run"] = pd.Categorical(out["run"], categories=list(dict.fromkeys(out["run"])))
        return out
    if isinstance(obj, pd.DataFrame):
        if "pass_rate" in obj.columns or "status" not in obj.columns:
            return obj
        if "run" in obj.columns:  # a combined results frame: one summary per run
            groups = obj.groupby("run", sort=False, observed=True)
            return _summary_of({str(k): g.drop(columns="run") for k, g in groups}, who)
        return summarize(obj)
    if callable(getattr(obj, "summary", None)) and isinstance(getattr(obj, "results", None), pd.DataFrame):
        return obj.summary()
    raise WorkbenchError(
        f"{who}() needs a summary frame (run.summary()), a results frame, a wb.Run or several runs, "
        f"not {type(obj).__name__}."
    )


def _text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    data = pd.DataFrame(
        {
            "task": frame["task"].astype(str).to_numpy(),
            "criterion": frame["criterion"].astype("string").fillna("").astype(str).to_numpy(),
        }
    )
    data["check"] = checks(data)
    return data


def _copy_numbers(data: pd.DataFrame, frame: pd.DataFrame, names: list[str]) -> list[str]:
    present = [c for c in names if c in frame.columns]
    for c in present:
        data[c] = as_float(frame[c]).to_numpy()
    return present


def pass_rates(summary: pd.DataFrame | Any, *, width: int = 360) -> alt.LayerChart:
    """Pass rate per (task, criterion) with its 95% interval, runs side by side when several.

    A dot is the pass rate (passed / (passed + failed)), the bar through it the Wilson 95%
    interval from :meth:`Run.summary`. Checks without a pass/fail (threshold-less scores,
    all errors) are left out.

    Args:
        summary: a ``run.summary()`` frame (columns ``task, criterion, pass_rate,
            pass_rate_low, pass_rate_high``, optional ``run``), a results frame, a ``wb.Run``,
            or several runs (``{"v1": run1, "v2": run2}`` or a list).
        width: width of the chart in pixels; the height grows with the number of checks.

    Raises:
        ColumnsError: the summary lacks one of the columns named.
        DataError: no check has a pass rate.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> from workbench import charts
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
        >>> run = wb.evaluate(pd.DataFrame({"x": [1, -2, 3]}), suite)
        >>> spec = charts.pass_rates(run).to_dict()
        >>> [layer["mark"]["type"] for layer in spec["layer"]], spec["layer"][1]["encoding"]["x"]["field"]
        (['rule', 'point'], 'pass_rate')
    """
    frame = _summary_of(summary, "pass_rates")
    require(
        frame,
        _SUMMARY_COLUMNS,
        "pass_rates",
        "Pass run.summary(), a results frame or a run; for several runs, {'v1': run1, 'v2': run2}.",
    )
    frame = frame[frame["pass_rate"].notna().to_numpy()]
    if frame.empty:
        raise DataError(
            "pass_rates() found no check with a pass rate: every cell errored, was skipped, or "
            "was scored without a threshold. Give the judge a threshold, or chart "
            "charts.distributions(run)."
        )
    data = _text_columns(frame)
    _copy_numbers(data, frame, ["pass_rate", "pass_rate_low", "pass_rate_high"])
    counts = _copy_numbers(data, frame, ["n", "passed", "failed"])
    runs = run_order(frame)
    tips = [alt.Tooltip("task:N", title="Task"), alt.Tooltip("criterion:N", title="Criterion")]
    encoding: dict[str, Any] = {"y": alt.Y("check:N", title=None, sort=check_order(data))}
    if len(runs) > 1:
        data["run"] = frame["run"].astype(str).to_numpy()
        tips.append(alt.Tooltip("run:N", title="Run"))
        encoding["yOffset"] = alt.YOffset("run:N", sort=runs)
        encoding["color"] = run_color(runs)
    else:
        encoding["color"] = alt.value(OKABE_ITO[0])
    tips += [
        alt.Tooltip("pass_rate:Q", title="Pass rate", format=".1%"),
        alt.Tooltip("pass_rate_low:Q", title="95% interval from", format=".1%"),
        alt.Tooltip("pass_rate_high:Q", title="95% interval to", format=".1%"),
    ]
    tips += [alt.Tooltip(f"{c}:Q", title=c.capitalize(), format=",d") for c in counts]
    x_scale = alt.Scale(domain=[0, 1])
    base = alt.Chart(data).encode(tooltip=tips, **encoding)
    interval = base.mark_rule(strokeWidth=2).encode(
        x=alt.X(
            "pass_rate_low:Q",
            title="Pass rate (95% interval)",
            scale=x_scale,
            axis=alt.Axis(format="%", values=[0, 0.2, 0.4, 0.6, 0.8, 1]),
        ),
        x2="pass_rate_high:Q",
    )
    point = base.mark_point(filled=True, size=60, opacity=1).encode(x=alt.X("pass_rate:Q", scale=x_scale))
    return alt.LayerChart(layer=[interval, point]).properties(
        width=width,
        height=alt.Step(14) if len(runs) > 1 else alt.Step(22),  # with yOffset: per run
        title=alt.Title(
            "Pass rate per check", subtitle="Dot: pass rate; bar: its 95% interval (Wilson).", anchor="start"
        ),
    )


def comparison(table: pd.DataFrame | Any, *, width: int = 360) -> alt.LayerChart | alt.FacetChart:
    """The change from A to B per (task, criterion), with its interval; significant ones marked.

    A dot is the change (``delta`` = B - A: mean score, or pass rate for pass/fail checks),
    the bar its bootstrap interval, the dashed line zero. Significant changes (Holm-adjusted
    p below alpha) are drawn as vermilion diamonds, the others as grey circles. When the
    table mixes score and pass-rate checks, each metric gets its own panel and axis.

    Args:
        table: a ``wb.compare(a, b)`` result or its ``.table`` (columns ``task, criterion,
            metric, delta, ci_low, ci_high, significant, p_holm``).
        width: width of the chart in pixels; the height grows with the number of checks.

    Raises:
        ColumnsError: the table lacks one of the columns named.

    Example:
        >>> import pandas as pd
        >>> from workbench import charts
        >>> table = pd.DataFrame({"task": ["quality", "quality"], "criterion": ["accuracy", "clarity"],
        ...     "metric": "score", "delta": [0.5, 0.02], "ci_low": [0.3, -0.1], "ci_high": [0.7, 0.14],
        ...     "significant": [True, False], "p_holm": [0.001, 0.7]})
        >>> spec = charts.comparison(table).to_dict()
        >>> [layer["mark"]["type"] for layer in spec["layer"]]
        ['rule', 'rule', 'point']
    """
    frame = table.table if isinstance(getattr(table, "table", None), pd.DataFrame) else table
    if not isinstance(frame, pd.DataFrame):
        raise WorkbenchError(
            f"comparison() needs wb.compare(a, b) or its .table, not {type(table).__name__}."
        )
    require(frame, _COMPARISON_COLUMNS, "comparison", "Pass the result of wb.compare(a, b), or its .table.")
    name_a, name_b = getattr(table, "name_a", "A"), getattr(table, "name_b", "B")
    data = _text_columns(frame)
    _copy_numbers(data, frame, ["delta", "ci_low", "ci_high", "p_holm"])
    extra = _copy_numbers(data, frame, ["n", "mean_a", "mean_b", "p_value", "wins", "ties", "losses"])
    data["metric"] = frame["metric"].astype(str).map(lambda m: _METRICS.get(m, m)).to_numpy()
    significant = frame["significant"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    data["significance"] = (
        pd.Series(significant).map({True: "Significant", False: "Not significant"}).to_numpy()
    )
    data = data[data["delta"].notna()]
    tips = [
        alt.Tooltip("task:N", title="Task"),
        alt.Tooltip("criterion:N", title="Criterion"),
        alt.Tooltip("metric:N", title="Metric"),
    ]
    fmt = {"n": ",d", "wins": ",d", "ties": ",d", "losses": ",d", "p_value": ".3g"}
    titles = {"n": "Paired rows", "mean_a": f"Mean {name_a}", "mean_b": f"Mean {name_b}", "p_value": "p"}
    tips += [
        alt.Tooltip(f"{c}:Q", title=titles.get(c, c.capitalize()), format=fmt.get(c, ".3~f"))
        for c in extra
        if c in ("n", "mean_a", "mean_b")
    ]
    tips += [
        alt.Tooltip("delta:Q", title=f"Change ({name_b} − {name_a})", format="+.3~f"),
        alt.Tooltip("ci_low:Q", title="Interval from", format="+.3~f"),
        alt.Tooltip("ci_high:Q", title="Interval to", format="+.3~f"),
    ]
    tips += [
        alt.Tooltip(f"{c}:Q", title=titles.get(c, c.capitalize()), format=fmt[c])
        for c in extra
        if c in ("p_value", "wins", "ties", "losses")
    ]
    tips += [
        alt.Tooltip("p_holm:Q", title="p (Holm-adjusted)", format=".3g"),
        alt.Tooltip("significance:N", title="Result"),
    ]
    marks = alt.Scale(domain=["Significant", "Not significant"], range=[OKABE_ITO[5], NOT_SIGNIFICANT])
    shapes = alt.Scale(domain=["Significant", "Not significant"], range=["diamond", "circle"])
    legend = alt.Legend(title="Holm-adjusted test")
    metrics = list(dict.fromkeys(data["metric"]))
    x_title = f"Change, {name_b} − {name_a} (95% interval)"
    y = alt.Y("check:N", title=None, sort=check_order(data))
    zero = alt.Chart().mark_rule(color="#555555", strokeDash=[4, 3]).encode(x=alt.datum(0))
    interval = (
        alt.Chart()
        .mark_rule(strokeWidth=2)
        .encode(
            y=y,
            x=alt.X("ci_low:Q", title=x_title),
            x2="ci_high:Q",
            color=alt.Color("significance:N", scale=marks, legend=legend),
            tooltip=tips,
        )
    )
    point = (
        alt.Chart()
        .mark_point(filled=True, size=80, opacity=1)
        .encode(
            y=y,
            x="delta:Q",
            color=alt.Color("significance:N", scale=marks, legend=legend),
            shape=alt.Shape("significance:N", scale=shapes, legend=legend),
            tooltip=tips,
        )
    )
    title = alt.Title(
        f"Change per check: {name_b} against {name_a}",
        subtitle="Dot: change in the mean; bar: its bootstrap interval; dashed line: no change.",
        anchor="start",
    )
    layered = alt.layer(zero, interval, point)
    if len(metrics) < 2:
        return layered.properties(data=data, width=width, height=alt.Step(22), title=title)
    return (
        layered.properties(width=width, height=alt.Step(22))
        .facet(
            row=alt.Row(
                "metric:N",
                title=None,
                sort=metrics,
                header=alt.Header(labelFontWeight="bold", labelAngle=0, labelAlign="left"),
            ),
            data=data,
        )
        .resolve_scale(x="independent", y="independent")
        .properties(title=title)
    )


def _trend_frame(runs: Runs) -> pd.DataFrame:
    parts = []
    for name, run in named_runs(runs, "trend"):
        if not callable(getattr(run, "summary", None)) or getattr(run, "started_at", None) is None:
            raise WorkbenchError(
                f"trend(): {name!r} is a {type(run).__name__}, not a wb.Run: a trend needs each run's "
                "summary() and started_at. Pass runs, or a frame with columns run, started_at, task, "
                "criterion, mean."
            )
        parts.append(run.summary().assign(run=name, started_at=pd.Timestamp(run.started_at)))
    return pd.concat(parts, ignore_index=True)


def _monitored(frame: object) -> bool:
    """Monitored results (or the monitor): each row a record's cell with its time, no runs."""
    if callable(getattr(frame, "results", None)) and callable(getattr(frame, "submit", None)):
        return True
    return (
        isinstance(frame, pd.DataFrame)
        and {"record", "time", "status"} <= set(frame.columns)
        and "started_at" not in frame.columns
    )


def trend(
    frame: pd.DataFrame | Runs,
    *,
    value: Literal["mean", "pass_rate"] = "mean",
    width: int = 420,
    height: int = 220,
) -> alt.LayerChart | alt.VConcatChart:
    """A criterion's mean score (or pass rate) across runs, oldest first: one line per criterion.

    Given monitored results (``wb.monitor_results(...)``, or the ``wb.Monitor``) it draws
    them over time instead, with :func:`~workbench.charts.monitor_trend`'s defaults; call that
    for a target, a window and the alerts as markers.

    Args:
        frame: one row per (run, task, criterion) with columns ``run`` (id or label),
            ``started_at``, ``task``, ``criterion`` and ``value`` (optionally ``pass_rate``,
            ``n``); or runs (``{"v1": run1, "v2": run2}`` or a list), summarised here; or
            monitored results.
        value: ``"mean"`` (mean score) or ``"pass_rate"``.
        width, height: size of the chart in pixels.

    Raises:
        ColumnsError: the frame lacks one of the columns named.
        DataError: no row has the value.

    Example:
        >>> import pandas as pd
        >>> from workbench import charts
        >>> frame = pd.DataFrame({"run": ["v1", "v2"], "task": "quality", "criterion": "accuracy",
        ...     "started_at": pd.to_datetime(["2026-01-02", "2026-01-05"]), "mean": [3.1, 3.6]})
        >>> spec = charts.trend(frame).to_dict()
        >>> [layer["mark"]["type"] for layer in spec["layer"]], spec["layer"][0]["encoding"]["x"]["sort"]
        (['line', 'point'], ['v1', 'v2'])
    """
    if value not in ("mean", "pass_rate"):
        raise DataError(f"trend(): value={value!r} is not one of 'mean', 'pass_rate'.")
    if _monitored(frame):  # records over time, not runs: the monitor's chart, with its defaults
        from ._monitor import monitor_trend

        return monitor_trend(frame, value="auto" if value == "mean" else "pass_rate")
    table: pd.DataFrame = frame if isinstance(frame, pd.DataFrame) else _trend_frame(frame)
    require(
        table,
        ["run", "started_at", "task", "criterion", value],
        "trend",
        "Pass one row per (run, task, criterion), e.g. run.summary() with run and started_at added, "
        "or the runs themselves: trend({'v1': run1, 'v2': run2}).",
    )
    table = table[table[value].notna().to_numpy()]
    if table.empty:
        other = "pass_rate" if value == "mean" else "mean"
        raise DataError(f"trend() found no row with a {value!r}; try value={other!r}.")
    data = _text_columns(table)
    data["run"] = table["run"].astype(str).to_numpy()
    data["started_at"] = pd.to_datetime(table["started_at"], utc=True).to_numpy()
    numbers = _copy_numbers(data, table, ["mean", "pass_rate", "n"])
    order = data.groupby("run", sort=False)["started_at"].min().sort_values(kind="stable").index.tolist()
    checks_ = check_order(data)
    pct = value == "pass_rate"
    tips = [
        alt.Tooltip("run:N", title="Run"),
        alt.Tooltip("started_at:T", title="Started", format="%Y-%m-%d %H:%M"),
        alt.Tooltip("task:N", title="Task"),
        alt.Tooltip("criterion:N", title="Criterion"),
    ]
    tips += [
        alt.Tooltip(
            f"{c}:Q",
            title={"mean": "Mean score", "pass_rate": "Pass rate", "n": "Cells"}[c],
            format={"mean": ".3~f", "pass_rate": ".1%", "n": ",d"}[c],
        )
        for c in numbers
    ]
    base = alt.Chart(data).encode(
        x=alt.X("run:N", title="Run (oldest first)", sort=order, axis=alt.Axis(labelAngle=-30)),
        y=alt.Y(
            f"{value}:Q",
            title="Pass rate" if pct else "Mean score",
            scale=alt.Scale(zero=False),
            axis=alt.Axis(format="%" if pct else "~g"),
        ),
        color=alt.Color(
            "check:N", title="Check", sort=checks_, scale=alt.Scale(domain=checks_, **palette(len(checks_)))
        ),
        tooltip=tips,
    )
    title = "Pass rate per check over runs" if pct else "Mean score per check over runs"
    return alt.LayerChart(layer=[base.mark_line(), base.mark_point(filled=True, size=50)]).properties(
        width=width,
        height=height,
        title=alt.Title(title, subtitle="Runs in the order they started.", anchor="start"),
    )
