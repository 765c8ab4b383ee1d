"""Charts of a judge's agreement with people: a confusion heatmap, agreement per criterion with
intervals and the human ceiling, and the judge's scores against the people's."""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from ..agreement import Agreement
from ..errors import AgreementError, DataError, cap_list
from ._data import OKABE_ITO, as_float, short_reason

__all__ = ["agreement_by_criterion", "confusion_heatmap", "judge_vs_human"]

HUMAN_GREY = "#8C8C8C"
DISAGREE = OKABE_ITO[5]  # vermilion
_METRICS: dict[str, tuple[str, str | None, str | None, tuple[float, float]]] = {
    # metric: (title, the table's interval prefix, the human ceiling in .humans, axis domain)
    "spearman": ("Spearman's rho", "spearman", "human_spearman", (-1, 1)),
    "kendall": ("Kendall's tau-b", "kendall", None, (-1, 1)),
    "spearman_grouped": ("Spearman's rho per group, averaged", "spearman_grouped", None, (-1, 1)),
    "kendall_grouped": ("Kendall's tau-b per group, averaged", "kendall_grouped", None, (-1, 1)),
    "kappa": ("Cohen's kappa", None, "human_kappa", (-1, 1)),
    "mcc": ("Matthews correlation (pass/fail)", None, None, (-1, 1)),
    "exact": ("Exact agreement", None, None, (0, 1)),
    "within_one": ("Agreement within one point", None, None, (0, 1)),
    "f1": ("F1 (pass/fail)", None, None, (0, 1)),
    "precision": ("Precision (pass/fail)", None, None, (0, 1)),
    "recall": ("Recall (pass/fail)", None, None, (0, 1)),
}

_NEEDS = {
    "spearman": "an ordered scale",
    "kendall": "an ordered scale",
    "within_one": "an ordinal scale",
    "spearman_grouped": "by= groups",
    "kendall_grouped": "by= groups",
    "mcc": "pass/fail",
    "f1": "pass/fail",
    "precision": "pass/fail",
    "recall": "pass/fail",
}
"""What a metric needs, for the message when no check has it."""


def _agreement_of(obj: Any, who: str) -> Agreement:
    if isinstance(obj, Agreement):
        return obj
    raise AgreementError(f"{who}() needs the result of wb.agreement(run, labels), not {type(obj).__name__}.")


def _check_name(task: str, criterion: str, fingerprint: Any = None) -> str:
    name = f"{task} · {criterion}" if criterion else task
    return f"{name} @{fingerprint}" if isinstance(fingerprint, str) and fingerprint else name


def _one_check(ag: Agreement, task: str | None, criterion: str | None, who: str) -> tuple[str, str]:
    checks = list(dict.fromkeys(zip(ag.table["task"].astype(str), ag.table["criterion"].astype(str))))
    if task is None:
        if len(checks) == 1:
            return checks[0]
        shown = [f"{t}.{c}" if c else t for t, c in checks]
        raise AgreementError(
            f"{who}() draws one check, and {len(checks)} were labelled ({cap_list(shown)}); name one, "
            f"e.g. {who}(ag, {checks[0][0]!r}, {checks[0][1]!r})."
        )
    hits = [k for k in checks if k[0] == task and (criterion is None or k[1] == criterion)]
    if len(hits) != 1:
        shown = [f"{t}.{c}" if c else t for t, c in checks]
        what = "several criteria; name one" if hits else "no labels"
        raise AgreementError(f"{who}(): {task!r} {criterion or ''} has {what}. Labelled: {cap_list(shown)}.")
    return hits[0]


def confusion_heatmap(
    agreement: Agreement,
    task: str | None = None,
    criterion: str | None = None,
    *,
    passed: bool = False,
    criterion_fingerprint: str | None = None,
    width: int = 260,
) -> alt.LayerChart:
    """The confusion matrix of one check as a heatmap: the judge's category down (best at the
    top), the people's across, each cell's count written in it; cells where both agree are
    outlined.

    Args:
        agreement: the result of ``wb.agreement(run, labels)``.
        task, criterion: the check; may be left out when only one was labelled.
        passed: the pass/fail matrix instead of the scale's.
        criterion_fingerprint: the criterion version, when the labels had several.
        width: width (and height) of the square in pixels.

    Raises:
        AgreementError: no such check, several and none named, or a check without points
            on a scale (use ``passed=True``).

    Example:
        >>> import pandas as pd, workbench as wb
        >>> from workbench import charts
        >>> results = pd.DataFrame({"row": [0, 1, 2, 3], "task": "q", "criterion": "tone",
        ...     "status": "scored", "passed": pd.NA, "score": [1, 2, 3, 3]})
        >>> people = pd.DataFrame({"row": [0, 1, 2, 3], "task": "q", "criterion": "tone",
        ...     "score": [1, 3, 3, 3]})
        >>> spec = charts.confusion_heatmap(wb.agreement(results, people)).to_dict()
        >>> [layer["mark"]["type"] for layer in spec["layer"]], spec["layer"][0]["encoding"]["x"]["field"]
        (['rect', 'text'], 'human')
    """
    ag = _agreement_of(agreement, "confusion_heatmap")
    task, criterion = _one_check(ag, task, criterion, "confusion_heatmap")
    matrix = ag.confusion(task, criterion, passed=passed, criterion_fingerprint=criterion_fingerprint)
    names = [str(n) for n in matrix.index]
    k = len(names)
    data = pd.DataFrame(
        {
            "judge": np.repeat(names, k),
            "human": np.tile(names, k),
            "count": matrix.to_numpy().ravel().astype(int),
        }
    )
    per_judge = data.groupby("judge")["count"].transform("sum")
    data["share"] = np.where(per_judge > 0, data["count"] / per_judge.where(per_judge > 0, 1), 0.0)
    data["agree"] = data["judge"] == data["human"]
    top = max(int(data["count"].max()), 1)
    data["dark"] = data["count"] > top / 2
    x = alt.X("human:N", title="People", sort=names, axis=alt.Axis(labelAngle=0))
    y = alt.Y("judge:N", title="Judge", sort=list(reversed(names)))
    tips = [
        alt.Tooltip("judge:N", title="Judge"),
        alt.Tooltip("human:N", title="People"),
        alt.Tooltip("count:Q", title="Rows", format=",d"),
        alt.Tooltip("share:Q", title="Share of the judge's row", format=".0%"),
    ]
    base = alt.Chart(data).encode(x=x, y=y, tooltip=tips)
    cells = base.mark_rect().encode(
        color=alt.Color("count:Q", title="Rows", scale=alt.Scale(scheme="blues", domainMin=0)),
        stroke=alt.condition("datum.agree", alt.value("#000000"), alt.value(None)),
        strokeWidth=alt.condition("datum.agree", alt.value(1.5), alt.value(0)),
    )
    counts = base.mark_text(fontSize=12).encode(
        text=alt.Text("count:Q", format=",d"),
        color=alt.condition("datum.dark", alt.value("#FFFFFF"), alt.value("#000000")),
    )
    what = "pass/fail" if passed else "categories"
    return alt.LayerChart(layer=[cells, counts]).properties(
        width=width,
        height=width,
        title=alt.Title(
            f"Judge against people: {_check_name(task, criterion, criterion_fingerprint)}",
            subtitle=f"Rows by {what}; outlined cells agree.",
            anchor="start",
        ),
    )


def agreement_by_criterion(
    agreement: Agreement, metric: str = "spearman", *, width: int = 360
) -> alt.LayerChart:
    """One agreement figure per check with its interval, and the human ceiling beside it.

    The judge's figure is a blue dot with its bootstrap interval (for Spearman and Kendall);
    when several annotators labelled a check, the people's leave-one-out figure (each
    annotator against the others, averaged) is a grey diamond with the range over the
    annotators: a judge dot inside that range agrees with people as well as they agree with
    each other. (The judge's dot is against the mean of all annotators; its tooltip also gives
    the judge against each annotator's leave-one-out references, the like-for-like figure.)

    Args:
        agreement: the result of ``wb.agreement(run, labels)``.
        metric: ``spearman`` (default), ``kendall``, ``spearman_grouped``,
            ``kendall_grouped``, ``kappa``, ``mcc``, ``exact``, ``within_one``, ``f1``,
            ``precision`` or ``recall``. A ceiling is shown for ``spearman`` and ``kappa``.
        width: width of the chart in pixels; the height grows with the number of checks.

    Raises:
        AgreementError: an unknown metric.
        DataError: no check has this figure.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> from workbench import charts
        >>> results = pd.DataFrame({"row": range(6), "task": "q", "criterion": "tone",
        ...     "status": "scored", "passed": pd.NA, "score": [1, 2, 3, 4, 5, 4]})
        >>> people = pd.DataFrame({"row": range(6), "task": "q", "criterion": "tone",
        ...     "score": [1, 3, 3, 4, 5, 5]})
        >>> spec = charts.agreement_by_criterion(wb.agreement(results, people)).to_dict()
        >>> [layer["mark"]["type"] for layer in spec["layer"]], spec["layer"][1]["encoding"]["x"]["field"]
        (['rule', 'point'], 'value')
    """
    ag = _agreement_of(agreement, "agreement_by_criterion")
    if metric not in _METRICS:
        raise AgreementError(f"agreement_by_criterion(): metric={metric!r} is not one of {list(_METRICS)}.")
    title, interval, ceiling, domain = _METRICS[metric]
    t, h = ag.table, ag.humans
    rows = []
    for i in range(len(t)):
        check = _check_name(
            str(t["task"].iloc[i]), str(t["criterion"].iloc[i]), t["criterion_fingerprint"].iloc[i]
        )
        value = t[metric].iloc[i]
        if pd.isna(value):
            continue
        low = t[f"{interval}_low"].iloc[i] if interval else value
        high = t[f"{interval}_high"].iloc[i] if interval else value
        # the judge against the same leave-one-out references as each annotator: the like-for-like figure
        loo = h[f"judge_{ceiling.removeprefix('human_')}_loo"].iloc[i] if ceiling else np.nan
        rows.append(
            {
                "check": check,
                "who": "Judge",
                "value": value,
                "low": low,
                "high": high,
                "n": t["n"].iloc[i],
                "loo": loo,
            }
        )
        if ceiling and pd.notna(h[ceiling].iloc[i]):
            rows.append(
                {
                    "check": check,
                    "who": "People (leave-one-out)",
                    "value": h[ceiling].iloc[i],
                    "low": h[f"{ceiling}_min"].iloc[i],
                    "high": h[f"{ceiling}_max"].iloc[i],
                    "n": h["units"].iloc[i],
                    "loo": np.nan,
                }
            )
    if not rows:
        needs = _NEEDS.get(metric, "paired rows")
        raise DataError(
            f"agreement_by_criterion(): no check has a {metric!r} figure (it needs {needs}); "
            "pick another metric."
        )
    data = pd.DataFrame(rows)
    for c in ("value", "low", "high", "loo"):
        data[c] = as_float(data[c])
    data["n"] = data["n"].astype("Int64").fillna(0).astype(int)
    order = list(dict.fromkeys(data["check"]))
    whos = ["Judge", "People (leave-one-out)"][: data["who"].nunique()]
    colour = alt.Color(
        "who:N",
        title=None,
        sort=whos,
        scale=alt.Scale(domain=whos, range=[OKABE_ITO[0], HUMAN_GREY][: len(whos)]),
    )
    shape = alt.Shape(
        "who:N", title=None, sort=whos, scale=alt.Scale(domain=whos, range=["circle", "diamond"][: len(whos)])
    )
    tips = [
        alt.Tooltip("check:N", title="Check"),
        alt.Tooltip("who:N", title="Who"),
        alt.Tooltip("value:Q", title=title, format=".3f"),
        alt.Tooltip("low:Q", title="From" if interval or ceiling else "Low", format=".3f"),
        alt.Tooltip("high:Q", title="To", format=".3f"),
        alt.Tooltip("n:Q", title="Rows", format=",d"),
    ]
    if data["loo"].notna().any():
        tips.append(alt.Tooltip("loo:Q", title="Judge against each annotator's references", format=".3f"))
    scale = alt.Scale(domain=list(domain))
    base = alt.Chart(data).encode(
        y=alt.Y("check:N", title=None, sort=order),
        yOffset=alt.YOffset("who:N", sort=whos),
        color=colour,
        tooltip=tips,
    )
    bars = base.mark_rule(strokeWidth=2).encode(x=alt.X("low:Q", title=title, scale=scale), x2="high:Q")
    dots = base.mark_point(filled=True, size=70, opacity=1).encode(
        x=alt.X("value:Q", scale=scale), shape=shape
    )
    pct = f"{ag.confidence:.0%}"
    subtitle = (
        f"Dot: the judge's figure; bar: its {pct} bootstrap interval."
        if interval
        else "Dot: the judge's figure."
    )
    if ceiling and len(whos) > 1:
        subtitle += " Diamond: people against each other, bar: from the lowest to the highest annotator."
    return alt.LayerChart(layer=[bars, dots]).properties(
        width=width,
        height=alt.Step(14 if len(whos) > 1 else 22),
        title=alt.Title(f"{title} of the judge with people, per check", subtitle=subtitle, anchor="start"),
    )


def judge_vs_human(
    agreement: Agreement,
    task: str | None = None,
    criterion: str | None = None,
    *,
    width: int = 280,
    height: int = 280,
    seed: int = 0,
) -> alt.Chart | alt.LayerChart | alt.FacetChart:
    """The judge's value against the people's, one jittered dot per paired row, rows where they
    disagree in vermilion; the row, both values and the judge's reason in the tooltip.

    Scores (ordered scales, pass/fail as 1/0) are drawn on numeric axes with a diagonal where
    judge and people agree; labels on category axes. Without ``task``, every check with
    scores gets a panel.

    Args:
        agreement: the result of ``wb.agreement(run, labels)``.
        task, criterion: the check; without them, all checks with scores, faceted.
        width, height: size of one panel in pixels.
        seed: the jitter's seed (the jitter is in the data, so a chart is reproducible).

    Raises:
        AgreementError: no such check; or checks of labels and none named.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> from workbench import charts
        >>> results = pd.DataFrame({"row": ["a", "b", "c"], "task": "q", "criterion": "tone",
        ...     "status": "scored", "passed": pd.NA, "score": [1, 2, 3]})
        >>> people = pd.DataFrame({"row": ["a", "b", "c"], "task": "q", "criterion": "tone",
        ...     "score": [1, 3, 3]})
        >>> spec = charts.judge_vs_human(wb.agreement(results, people), "q").to_dict()
        >>> spec["layer"][1]["encoding"]["x"]["field"], spec["layer"][1]["encoding"]["tooltip"][0]["field"]
        ('human_x', 'row')
    """
    ag = _agreement_of(agreement, "judge_vs_human")
    pairs = ag.pairs
    if task is not None:
        task, criterion = _one_check(ag, task, criterion, "judge_vs_human")
        pairs = pairs[(pairs["task"] == task).to_numpy() & (pairs["criterion"] == criterion).to_numpy()]
    numeric = pairs["judge_score"].notna().to_numpy() & pairs["human_score"].notna().to_numpy()
    if task is None:
        pairs = pairs[numeric]
        if pairs.empty:
            raise AgreementError(
                "judge_vs_human(): no labelled check has scores on both sides; name a check of labels, "
                "e.g. judge_vs_human(ag, 'task', 'criterion')."
            )
    elif pairs.empty:
        raise DataError(f"judge_vs_human(): {task}.{criterion} has no paired rows.")
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "row": pairs["row"].astype(str).to_numpy(),
            "check": [
                _check_name(t, c, f)
                for t, c, f in zip(pairs["task"], pairs["criterion"], pairs["criterion_fingerprint"])
            ],
            "judge": as_float(pairs["judge_score"]).to_numpy(),
            "human": as_float(pairs["human_score"]).to_numpy(),
            "judge_label": pairs["judge_label"].astype("string").fillna("").astype(str).to_numpy(),
            "human_label": pairs["human_label"].astype("string").fillna("").astype(str).to_numpy(),
            "difference": as_float(pairs["difference"]).to_numpy(),
            "annotators": pairs["annotators"].astype("Int64").fillna(0).astype(int).to_numpy(),
            "reason": short_reason(pairs["reason"]).to_numpy(),
            "agreement": np.where(pairs["disagrees"].to_numpy(dtype=bool), "Disagree", "Agree"),
        }
    )
    by_score = bool(np.all(~np.isnan(data["judge"]) & ~np.isnan(data["human"])))
    colour = alt.Color(
        "agreement:N", title=None, sort=["Agree", "Disagree"],
        scale=alt.Scale(domain=["Agree", "Disagree"], range=[OKABE_ITO[0], DISAGREE]),
    )  # fmt: skip
    tips = [
        alt.Tooltip("row:N", title="Row"),
        alt.Tooltip("check:N", title="Check"),
        alt.Tooltip("judge:Q" if by_score else "judge_label:N", title="Judge"),
        alt.Tooltip("human:Q" if by_score else "human_label:N", title="People"),
        alt.Tooltip("difference:Q", title="Difference", format=".2f"),
        alt.Tooltip("annotators:Q", title="Annotators"),
        alt.Tooltip("reason:N", title="Judge's reason"),
    ]
    title = alt.Title(
        "The judge against people, one dot per row",
        subtitle="Jittered; vermilion: they disagree.",
        anchor="start",
    )
    if by_score:
        gap = _gap(data["judge"].to_numpy())  # the judge's points: people's means fall between them
        data["judge_y"] = data["judge"] + rng.uniform(-0.2, 0.2, len(data)) * gap
        data["human_x"] = data["human"] + rng.uniform(-0.2, 0.2, len(data)) * gap
        base = alt.Chart(data)
        diagonal = (
            base.transform_aggregate(
                lo="min(human)", hi="max(human)", jlo="min(judge)", jhi="max(judge)", groupby=["check"]
            )
            .transform_calculate(a="min(datum.lo, datum.jlo)", b="max(datum.hi, datum.jhi)")
            .mark_rule(color=HUMAN_GREY, strokeDash=[4, 3])
            .encode(x="a:Q", y="a:Q", x2="b:Q", y2="b:Q")
        )
        dots = base.mark_circle(size=36, opacity=0.7).encode(
            x=alt.X("human_x:Q", title="People", scale=alt.Scale(zero=False)),
            y=alt.Y("judge_y:Q", title="Judge", scale=alt.Scale(zero=False)),
            color=colour,
            tooltip=tips,
        )
        layered = alt.LayerChart(layer=[diagonal, dots]).properties(width=width, height=height)
        if task is None and data["check"].nunique() > 1:
            panels = alt.Facet("check:N", title=None, sort=list(dict.fromkeys(data["check"])))
            faceted: alt.FacetChart = layered.facet(facet=panels, columns=3).resolve_scale(
                x="independent", y="independent"
            )
            return faceted.properties(title=title)
        return layered.properties(title=title)
    data["jx"] = rng.uniform(-0.3, 0.3, len(data))
    data["jy"] = rng.uniform(-0.3, 0.3, len(data))
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_circle(size=36, opacity=0.7)
        .encode(
            x=alt.X("human_label:N", title="People", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("jx:Q", scale=alt.Scale(domain=[-0.5, 0.5])),
            y=alt.Y("judge_label:N", title="Judge"),
            yOffset=alt.YOffset("jy:Q", scale=alt.Scale(domain=[-0.5, 0.5])),
            color=colour,
            tooltip=tips,
        )
        .properties(width=width, height=height, title=title)
    )
    return chart


def _gap(values: np.ndarray) -> float:
    """The smallest distance between distinct values (1 for integer scores), for the jitter."""
    distinct = np.unique(values[~np.isnan(values)])
    return float(np.diff(distinct).min()) if len(distinct) > 1 else 1.0
