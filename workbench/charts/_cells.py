"""Charts drawn from a long results frame, one mark per cell: score distributions, cost against score."""

from __future__ import annotations

from typing import Any, Literal

import altair as alt
import numpy as np
import pandas as pd

from ..errors import DataError
from ._data import (
    OKABE_ITO,
    as_float,
    check_order,
    checks,
    combine,
    is_runs,
    require,
    results_of,
    run_color,
    run_order,
    short_reason,
)

__all__ = ["cost_vs_score", "distributions"]

_RESULTS_HINT = (
    "Pass a long results frame (run.results, or charts.combine({'v1': run1, 'v2': run2}) for several "
    "runs), with the columns of wb.RESULT_COLUMNS."
)
_MAX_LEVELS = 21
"""More distinct scores than this in one check are put into 20 bins before stacking."""


def _results(results: pd.DataFrame | Any, who: str) -> pd.DataFrame:
    frame = combine(results) if is_runs(results) else results_of(results, who)
    require(frame, ["row", "task", "criterion", "score", "reason"], who, _RESULTS_HINT)
    return frame


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    """The plain-typed columns every per-cell chart shows in its tooltip."""
    data = pd.DataFrame(
        {
            "row": frame["row"].astype(str).to_numpy(),
            "task": frame["task"].astype(str).to_numpy(),
            "criterion": frame["criterion"].astype("string").fillna("").astype(str).to_numpy(),
            "score": as_float(frame["score"]).to_numpy(),
            "reason": short_reason(frame["reason"]).to_numpy(),
        }
    )
    data["check"] = checks(data)
    if "label" in frame.columns and frame["label"].notna().any():
        data["label"] = frame["label"].astype("string").fillna("").astype(str).to_numpy()
    if "run" in frame.columns:
        data["run"] = frame["run"].astype(str).to_numpy()
    return data


def _levels(data: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per cell: the value it stacks on (its score, or its bin's centre when a check has more
    than 21 distinct scores) and the check's spacing between values."""
    value = data["score"].copy()
    gap = pd.Series(1.0, index=data.index)
    for idx in data.groupby("check", sort=False).groups.values():
        scores = data.loc[idx, "score"]
        distinct = np.unique(scores.to_numpy())
        if len(distinct) > _MAX_LEVELS:
            lo, hi = float(distinct[0]), float(distinct[-1])
            width = (hi - lo) / 20
            k = np.minimum(((scores - lo) / width).astype(int), 19)
            value.loc[idx] = lo + (k + 0.5) * width
            gap.loc[idx] = width
        elif len(distinct) > 1:
            gap.loc[idx] = float(np.diff(distinct).min())
    return value, gap


def _dodge(data: pd.DataFrame, runs: list[str], gap: pd.Series, share: float) -> pd.Series:
    """Offsets that place the runs side by side within ``share`` of the gap between values."""
    if len(runs) < 2:
        return pd.Series(0.0, index=data.index)
    position = data["run"].map({r: i for i, r in enumerate(runs)}).astype(float)
    return (position - (len(runs) - 1) / 2) * gap * share / len(runs)


def _stack(
    data: pd.DataFrame, group: list[str], runs: list[str], gap: pd.Series, width: int, height: int
) -> bool:
    """Place one dot per cell: adds ``x``, ``cells`` (height in cells) and ``dot`` (area in px²).

    While a single column of dots at least 3.5 px wide fits the tallest stack, every score
    is one column and all panels share the count axis. Otherwise each panel wraps its stacks
    into blocks ``c`` dots wide, as wide as the space between scores allows, sized so the
    tallest block fills the panel (then each panel has its own count axis). Returns whether
    the panels need their own count axis.
    """
    k = max(len(runs), 1)
    rank = data.groupby(group, sort=False).cumcount()
    centre = data["value"] + _dodge(data, runs, gap, 0.8)
    tallest = data.assign(n=rank + 1).groupby("check", sort=False)["n"].max()
    single = min(8.0, 0.9 * height / float(tallest.max()))
    if single >= 3.5:
        data["x"], data["cells"], data["dot"] = centre, rank + 1, round(np.pi / 4 * single**2, 1)
        return False
    x, cells, dot = centre.copy(), (rank + 1).astype(float), pd.Series(0.0, index=data.index)
    for check, idx in data.groupby("check", sort=False).groups.items():
        levels = np.unique(data.loc[idx, "value"].to_numpy())
        g = float(gap.loc[idx].iloc[0])
        unit_px = (width - 20) / (float(levels[-1] - levels[0]) + 0.8 * g)  # pixels per score unit
        room = unit_px * g * 0.8 / k  # pixels across one run's block
        m = float(tallest[check])
        d = float(np.clip(np.sqrt(room * 0.9 * height / m), 2.0, 8.0))
        c = max(1, int(np.ceil(d * m / (0.9 * height))))
        d = max(1.5, min(d, room / c))
        r = rank.loc[idx]
        cells.loc[idx] = (r // c + 0.5) * c
        x.loc[idx] = centre.loc[idx] + ((r % c) - (c - 1) / 2) * d / unit_px
        dot.loc[idx] = round(np.pi / 4 * d**2, 1)
    data["x"], data["cells"], data["dot"] = x, cells, dot
    return True


def _count_axis(data: pd.DataFrame, height: int, own_counts: bool) -> alt.Axis:
    """Whole numbers of cells: vega puts ticks at 0.5 steps on a short stack (``tickMinStep``
    is dropped by Vega-Lite 5 and not enforced by Vega 6), so fewer ticks are asked for where
    the panels share the axis, and any tick between whole numbers keeps no label."""
    options: dict[str, Any] = {"tickMinStep": 1, "format": "~s", "labelExpr": _WHOLE_LABELS}
    if not own_counts:
        options["tickCount"] = int(min(data["cells"].max(), np.ceil(height / 40)))
    return alt.Axis(**options)


_WHOLE_LABELS = "datum.value % 1 ? '' : datum.label"


def _tooltip(data: pd.DataFrame, *extra: alt.Tooltip) -> list[alt.Tooltip]:
    tips = [
        alt.Tooltip("row:N", title="Row"),
        alt.Tooltip("task:N", title="Task"),
        alt.Tooltip("criterion:N", title="Criterion"),
    ]
    if "run" in data.columns:
        tips.append(alt.Tooltip("run:N", title="Run"))
    tips += [alt.Tooltip("score:Q", title="Score", format="~r")]
    if "label" in data.columns:
        tips.append(alt.Tooltip("label:N", title="Label"))
    return tips + list(extra) + [alt.Tooltip("reason:N", title="Reason")]


def _color(runs: list[str]) -> Any:
    if len(runs) < 2:
        return alt.value(OKABE_ITO[0])
    return run_color(runs)


def _score_axis(data: pd.DataFrame) -> alt.Axis:
    """Ticks at the scores themselves when there are few (every panel keeps those in its
    domain), so a binary scale reads 0 and 1, not 0, 0.5, 1."""
    levels = np.unique(data["score"].to_numpy())
    if len(levels) <= 12 and np.all(np.mod(levels, 1) == 0):
        return alt.Axis(values=[float(v) for v in levels], format="~r")
    return alt.Axis(format="~r")


def _score_x(data: pd.DataFrame, field: str = "x") -> alt.X:
    """The score axis: ``x`` holds each mark's position (score plus its offset), or ``field``."""
    scale = alt.Scale(zero=False, nice=False, padding=10)
    return alt.X(f"{field}:Q", title="Score", scale=scale, axis=_score_axis(data))


def _first_rows(rows: pd.Series) -> str:
    more = f", … +{len(rows) - 5:,} more" if len(rows) > 5 else ""
    return ", ".join(rows.iloc[:5]) + more


_CHECK = "datum.criterion ? datum.task + ' · ' + datum.criterion : datum.task"
"""The check's name (:func:`checks`), computed in the chart: one column less per cell in the
notebook, where every cell of the data is a line of JSON."""


def _facet(chart: alt.Chart, order: list[str], columns: int, own_counts: bool = False) -> alt.FacetChart:
    """One panel per check, each with its own score axis (scales differ between tasks); the
    chart's data has ``task`` and ``criterion``, the check's name is computed from them."""
    faceted = chart.facet(
        facet=alt.Facet("check:N", title=None, sort=order, header=alt.Header(labelFontWeight="bold")),
        columns=columns,
    )
    resolved: alt.FacetChart = faceted.transform_calculate(check=_CHECK).resolve_scale(
        x="independent", y="independent" if own_counts else "shared"
    )
    return resolved


def distributions(
    results: pd.DataFrame | Any,
    *,
    max_cells: int = 5000,
    columns: int = 3,
    width: int = 200,
    height: int = 140,
) -> alt.FacetChart:
    """Score distributions, one panel per (task, criterion), coloured by run when there are several.

    Each scored cell (``score`` not missing; assertions and errors have none) is one dot,
    stacked above its score, so a panel reads like a histogram whose bars can be hovered
    cell by cell: the tooltip names the row, the score, the label and the judge's reason.
    Runs sit side by side at each score. A stack too tall for the panel wraps into a block
    several dots wide, as wide as the space between scores allows (the panels then get their
    own count axes), so 1-5, 1-10 and pass/fail scales stay readable at a few thousand cells.
    A check with more than 21 distinct scores is put into 20 bins first.

    Past ``max_cells`` scored cells (altair refuses to inline more than 5,000 rows by
    default, and a notebook carries every one), each (check, run, score) becomes one bar
    whose tooltip gives the count, the share and the first five rows instead.

    Args:
        results: a long results frame, a ``wb.Run``, or several runs
            (``{"v1": run1, "v2": run2}`` or a list; see :func:`combine`).
        max_cells: the most scored cells drawn one by one.
        columns: panels per line.
        width, height: size of one panel in pixels.

    Raises:
        ColumnsError: the frame lacks ``row``, ``task``, ``criterion``, ``score`` or ``reason``.
        DataError: no cell has a score.

    Example:
        >>> import pandas as pd
        >>> from workbench import charts
        >>> cells = pd.DataFrame({"row": ["q1", "q2", "q3"], "task": "quality", "criterion": "accuracy",
        ...                       "score": [4.0, 5.0, 4.0], "reason": ["ok", "exact", "minor slip"]})
        >>> spec = charts.distributions(cells).to_dict()
        >>> spec["spec"]["mark"]["type"], spec["facet"]["field"], spec["spec"]["encoding"]["y"]["field"]
        ('circle', 'check', 'cells')
    """
    frame = _results(results, "distributions")
    scored = frame[frame["score"].notna().to_numpy()]
    if scored.empty:
        raise DataError(
            f"distributions() found no scored cell among {len(frame):,}: assertions have no score and errors "
            "keep theirs missing. Chart pass/fail checks with charts.pass_rates(run) instead."
        )
    data = _cells(scored)
    if "status" in scored.columns:
        data["status"] = scored["status"].astype(str).to_numpy()
    runs = run_order(scored)
    value, gap = _levels(data)
    data["value"], data["gap"] = value, gap
    group = ["check", "run", "value"] if len(runs) > 1 else ["check", "value"]
    order = check_order(data)
    n = len(data)
    title = "Score distribution per criterion"
    independent = False
    if n > max_cells:
        counts = (
            data.groupby(group, sort=False)
            .agg(
                task=("task", "first"),
                criterion=("criterion", "first"),
                cells=("row", "size"),
                gap=("gap", "first"),
                examples=("row", _first_rows),
            )
            .reset_index()
        )
        counts["score"] = counts["value"]
        per = ["check", "run"] if len(runs) > 1 else ["check"]
        counts["share"] = counts["cells"] / counts.groupby(per)["cells"].transform("sum")
        half = counts["gap"] * 0.8 / max(len(runs), 1) / 2
        centre = counts["value"] + _dodge(counts, runs, counts["gap"], 0.8)
        counts["x"], counts["x2"] = centre - half, centre + half
        tips = [alt.Tooltip("task:N", title="Task"), alt.Tooltip("criterion:N", title="Criterion")]
        tips += [alt.Tooltip("run:N", title="Run")] if len(runs) > 1 else []
        tips += [
            alt.Tooltip("score:Q", title="Score", format="~r"),
            alt.Tooltip("cells:Q", title="Cells"),
            alt.Tooltip("share:Q", title="Share", format=".1%"),
            alt.Tooltip("examples:N", title="Rows"),
        ]
        bars = alt.Chart(counts.drop(columns=["gap", "value", "check"]), width=width, height=height)
        chart = bars.mark_bar().encode(
            x=_score_x(data),
            x2="x2:Q",
            y=alt.Y("cells:Q", title="Cells", axis=alt.Axis(tickMinStep=1, format="~s")),
            y2=alt.datum(0),  # x and x2 make the bar a range along x: its height needs a base too
            color=_color(runs),
            tooltip=tips,
        )
        subtitle = (
            f"{n:,} scored cells, more than max_cells={max_cells:,}: a bar counts the cells of one "
            "score; hover for the first rows."
        )
    else:
        independent = _stack(data, group, runs, gap, width, height)
        status = [alt.Tooltip("status:N", title="Status")] if "status" in data.columns else []
        # Columns that say nothing new are left out of the chart's data (a notebook saves each
        # value of each cell on a line of its own): x when every dot sits at its score, dot
        # (the area) when all dots are alike.
        at_score = bool((data["x"] == data["score"]).all())
        same_size = data["dot"].nunique() == 1
        size = (
            alt.value(float(data["dot"].iloc[0])) if same_size else alt.Size("dot:Q", scale=None, legend=None)
        )
        drop = ["value", "gap", "check", *(["x"] if at_score else []), *(["dot"] if same_size else [])]
        dots = alt.Chart(data.drop(columns=drop), width=width, height=height)
        chart = dots.mark_circle(opacity=0.85).encode(
            x=_score_x(data, "score" if at_score else "x"),
            y=alt.Y(
                "cells:Q",
                title="Cells",
                scale=alt.Scale(domainMin=0),
                axis=_count_axis(data, height, independent),
            ),
            size=size,
            color=_color(runs),
            tooltip=_tooltip(data, *status),
        )
        subtitle = "One dot per scored cell, stacked by score; hover for its row and the judge's reason."
        if independent:
            subtitle += " Tall stacks wrap into blocks; each panel has its own count axis."
    return _facet(chart, order, columns, own_counts=independent).properties(
        title=alt.Title(title, subtitle=subtitle, anchor="start")
    )


def cost_vs_score(
    results: pd.DataFrame | Any,
    *,
    measure: Literal["auto", "cost_usd", "tokens"] = "auto",
    max_points: int = 5000,
    columns: int = 3,
    width: int = 200,
    height: int = 160,
    seed: int = 0,
) -> alt.FacetChart:
    """What each judge cell cost against the score it got, one panel per (task, criterion).

    One dot per scored judge cell, spread a little sideways so equal scores do not hide each
    other; the tooltip names the row, the cost or tokens and the reason. ``measure="auto"``
    shows dollars when the calls made in the run have a price, else tokens (litellm does not
    know every model's price). Dollars leave out cached cells: they cost nothing in this run.
    More than ``max_points`` cells are sampled (seeded) and the subtitle says so.

    Args:
        results: a long results frame, a ``wb.Run``, or several runs (coloured by run).
        measure: ``"cost_usd"``, ``"tokens"`` or ``"auto"``.
        max_points: the most cells drawn.
        columns, width, height: panels per line and the size of one panel.
        seed: seed of the sideways spread and of the sample.

    Raises:
        ColumnsError: the frame lacks the columns named or the measure's column.
        DataError: no judge cell has a score and the measure.

    Example:
        >>> import pandas as pd
        >>> from workbench import charts
        >>> cells = pd.DataFrame({"row": [1, 2], "task": "quality", "criterion": "accuracy", "kind": "judge",
        ...                       "score": [3.0, 5.0], "reason": ["vague", "exact"], "tokens": [180, 240]})
        >>> spec = charts.cost_vs_score(cells).to_dict()
        >>> spec["spec"]["mark"]["type"], spec["spec"]["encoding"]["y"]["field"]
        ('circle', 'tokens')
    """
    frame = _results(results, "cost_vs_score")
    judged = frame[frame["score"].notna().to_numpy()]
    if "kind" in judged.columns:
        judged = judged[(judged["kind"].astype(str) == "judge").to_numpy()]
    cached = np.zeros(len(judged), bool)
    if "cached" in judged.columns:
        cached = judged["cached"].astype(bool).to_numpy()
    if measure == "auto":
        priced = "cost_usd" in judged.columns and judged.loc[~cached, "cost_usd"].notna().any()
        measure = "cost_usd" if priced or "tokens" not in judged.columns else "tokens"
    if measure not in ("cost_usd", "tokens"):
        raise DataError(f"cost_vs_score(): measure={measure!r} is not one of 'auto', 'cost_usd', 'tokens'.")
    require(frame, [measure], "cost_vs_score", _RESULTS_HINT)
    dropped = 0
    if measure == "cost_usd":
        dropped = int(cached.sum())
        judged = judged[~cached]
    judged = judged[judged[measure].notna().to_numpy()]
    if judged.empty:
        hint = "; cached cells are left out of dollars, try measure='tokens'" if dropped else ""
        raise DataError(
            f"cost_vs_score() found no scored judge cell with {measure!r}: it needs judge runs (assertions "
            f"cost nothing){hint}."
        )
    sampled = len(judged) > max_points
    if sampled:
        judged = judged.sample(n=max_points, random_state=seed).sort_index()
    data = _cells(judged)
    data[measure] = as_float(judged[measure]).to_numpy()
    runs = run_order(judged)
    _, gap = _levels(data)
    jitter = np.random.default_rng(seed).uniform(-0.18, 0.18, len(data))
    data["x"] = data["score"] + _dodge(data, runs, gap, 0.5) + jitter * gap / max(len(runs), 1)
    money = measure == "cost_usd"
    y_title = "Cost per cell (USD)" if money else "Tokens per cell"
    chart = (
        alt.Chart(data.drop(columns=["check"]), width=width, height=height)
        .mark_circle(size=36, opacity=0.7)
        .encode(
            x=_score_x(data),
            y=alt.Y(f"{measure}:Q", title=y_title, axis=alt.Axis(format="$~g" if money else "~s")),
            color=_color(runs),
            tooltip=_tooltip(
                data, alt.Tooltip(f"{measure}:Q", title=y_title, format="$.5f" if money else ",d")
            ),
        )
    )
    notes = ["One dot per scored judge cell; hover for its row and the judge's reason."]
    if dropped:
        notes.append(f"{dropped:,} cached cells are left out: they cost nothing in this run.")
    if sampled:
        notes.append(f"A seeded sample of {max_points:,} cells is shown.")
    title = "Judge cost against score" if money else "Judge tokens against score"
    return _facet(chart, check_order(data), columns).properties(
        title=alt.Title(title, subtitle=notes, anchor="start")
    )
