"""Tidy frames for the chart builders: accepting runs and tables, checking columns, combining runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeGuard

import altair as alt
import pandas as pd

from ..errors import ColumnsError, WorkbenchError, cap_list, did_you_mean

__all__ = ["OKABE_ITO", "combine", "is_runs", "named_runs", "results_of"]

OKABE_ITO: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)
"""The Okabe-Ito palette (blue first): distinguishable with the common colour-vision deficiencies."""

NOT_SIGNIFICANT = "#8C8C8C"
REASON_CHARS = 200
"""Reasons are cut to this many characters in chart data: tooltips stay readable and the
notebook small."""

Runs = Mapping[str, Any] | Sequence[Any]
"""Several runs: ``{"v1": run1, "v2": run2}`` or ``[run1, run2]`` (runs or results frames)."""


def is_runs(obj: object) -> TypeGuard[Runs]:
    if isinstance(obj, Mapping):
        return True
    return isinstance(obj, (list, tuple)) and bool(obj) and not isinstance(obj[0], str)


def _run_name(obj: object, position: int) -> str:
    if not isinstance(obj, pd.DataFrame):  # a frame's .label and .id would be its columns
        for attr in ("label", "id"):
            name = getattr(obj, attr, None)
            if isinstance(name, str) and name:
                return name
    return f"run {position + 1}"


def named_runs(runs: Runs, who: str) -> list[tuple[str, Any]]:
    if isinstance(runs, Mapping):
        items = [(str(k), v) for k, v in runs.items()]
    elif isinstance(runs, (list, tuple)):
        items = [(_run_name(r, i), r) for i, r in enumerate(runs)]
    else:
        raise WorkbenchError(
            f"{who}() needs runs as a dict {{name: run}} or a list of runs, not {type(runs).__name__}."
        )
    if not items:
        raise WorkbenchError(f"{who}() got no runs; pass e.g. {{'v1': run1, 'v2': run2}}.")
    seen: dict[str, int] = {}
    named = []
    for name, run in items:  # two runs labelled alike stay apart: "v1", "v1 (2)"
        seen[name] = seen.get(name, 0) + 1
        named.append((name if seen[name] == 1 else f"{name} ({seen[name]})", run))
    return named


def results_of(obj: object, who: str) -> pd.DataFrame:
    if isinstance(obj, pd.DataFrame):
        return obj
    results = getattr(obj, "results", None)
    if isinstance(results, pd.DataFrame):
        return results
    raise WorkbenchError(
        f"{who}() needs a results DataFrame or a wb.Run, not {type(obj).__name__}. "
        "Pass run.results, a run, or charts.combine({'v1': run1, 'v2': run2})."
    )


def combine(runs: Runs) -> pd.DataFrame:
    """Stack the results of several runs into one frame with a ``run`` column.

    ``run`` is categorical, its categories in the order given, so charts keep that order.
    A list names each run by its ``label`` or ``id`` when it has one, else ``run 1``,
    ``run 2``, ...; names that repeat get `` (2)``, `` (3)``.

    Args:
        runs: ``{"v1": run1, "v2": run2}`` or ``[run1, run2]``; each a ``wb.Run`` or its
            results frame.

    Returns:
        A new long results frame: the run's columns plus ``run``, first.

    Raises:
        ColumnsError: a results frame already has a ``run`` column.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> from workbench import charts
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
        >>> v1 = wb.evaluate(pd.DataFrame({"x": [1, -2]}), suite)
        >>> v2 = wb.evaluate(pd.DataFrame({"x": [1, 2]}), suite)
        >>> both = charts.combine({"v1": v1, "v2": v2})
        >>> both[["run", "row", "task", "passed"]]
          run  row task  passed
        0  v1    0  pos    True
        1  v1    1  pos   False
        2  v2    0  pos    True
        3  v2    1  pos    True
        >>> list(both["run"].cat.categories)
        ['v1', 'v2']
    """
    named = named_runs(runs, "combine")
    frames = []
    for name, run in named:
        results = results_of(run, "combine")
        if "run" in results.columns:
            raise ColumnsError(
                f"combine(): the results of {name!r} already have a 'run' column, which combine() would "
                "overwrite. Drop or rename it first: results.drop(columns='run')."
            )
        frames.append(results.assign(run=name))
    out = pd.concat(frames, ignore_index=True)
    out["run"] = pd.Categorical(out["run"], categories=[n for n, _ in named], ordered=False)
    return out[["run", *[c for c in out.columns if c != "run"]]]


def require(frame: pd.DataFrame, needed: Iterable[str], who: str, hint: str) -> None:
    """Raise :class:`ColumnsError` naming the columns ``frame`` lacks, what it has, and ``hint``."""
    missing = [c for c in needed if c not in frame.columns]
    if not missing:
        return
    have = [str(c) for c in frame.columns]
    near = "".join(did_you_mean(m, have) for m in missing[:3])
    raise ColumnsError(
        f"{who}() needs the column{'s' if len(missing) > 1 else ''} {cap_list(missing)}, which the frame "
        f"lacks{near}.\nColumns in the frame: {cap_list(have)}.\n{hint}"
    )


def checks(frame: pd.DataFrame) -> pd.Series:
    """``task`` for assertions, ``task · criterion`` for judge criteria: one name per check."""
    task = frame["task"].astype(str)
    crit = frame["criterion"].astype("string").fillna("").astype(str) if "criterion" in frame else None
    if crit is None:
        return task
    return task.where(crit == "", task + " · " + crit)


def check_order(frame: pd.DataFrame) -> list[str]:
    """Checks in the order the frame first names them (the suite's order)."""
    return list(dict.fromkeys(frame["check"].tolist()))


def run_order(frame: pd.DataFrame) -> list[str]:
    """The runs of a frame with a ``run`` column: categorical order, else first appearance."""
    if "run" not in frame.columns:
        return []
    col = frame["run"]
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.dropna().astype(str))
        return [str(c) for c in col.cat.categories if str(c) in present]
    return list(dict.fromkeys(col.dropna().astype(str).tolist()))


def palette(n: int) -> dict[str, Any]:
    """``alt.Scale`` arguments for ``n`` categories: Okabe-Ito up to 8, then tableau20."""
    return {"range": list(OKABE_ITO[:n])} if n <= len(OKABE_ITO) else {"scheme": "tableau20"}


def run_color(runs: list[str]) -> alt.Color:
    """Colour by ``run``, in the runs' order, from the colour-blind-safe palette."""
    return alt.Color("run:N", title="Run", sort=runs, scale=alt.Scale(domain=runs, **palette(len(runs))))


def short_reason(values: pd.Series) -> pd.Series:
    """Reasons as plain strings for tooltips: missing -> ``""``, long ones cut with ``…``."""
    text = values.astype("string").fillna("").astype(str)
    long = text.str.len() > REASON_CHARS
    return text.where(~long, text.str.slice(0, REASON_CHARS - 1) + "…")


def as_float(values: pd.Series) -> pd.Series:
    """Nullable numbers as plain float64 (``NaN`` for missing), as vega-lite wants them."""
    return pd.to_numeric(values, errors="coerce").astype("float64")
