"""``wb.consistency``: the same rows judged k times at a temperature above 0.

Each repeat is one ``wb.evaluate`` with the same judge configuration but for its sampling
temperature and its cache namespace (``consistency/<i>``): the repeats miss the plain run's
cache entries and each other's, and are cached themselves, so an interrupted or repeated
diagnosis resumes (and ``k=8`` after ``k=5`` makes only three new repeats). The request sent
is the plain one at that temperature: the namespace never reaches the provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import JudgeConfig
from ..display import findings_html
from ..errors import WorkbenchError
from ..frame import evaluate_async, run_sync
from ..run import Run
from ..specs import Suite

__all__ = ["CONSISTENCY_COLUMNS", "ROW_COLUMNS", "Consistency", "consistency", "icc_oneway"]

CONSISTENCY_COLUMNS: tuple[str, ...] = (
    "task",
    "criterion",
    "k",
    "rows",
    "score_sd",
    "score_range",
    "score_changed",
    "n_pass_fail",
    "flip_rate",
    "icc",
    "icc_low",
    "icc_high",
    "errors",
)
"""The columns of ``Consistency.table``, one row per judged (task, criterion)."""

ROW_COLUMNS: tuple[str, ...] = (
    "row",
    "task",
    "criterion",
    "repeats",
    "mean",
    "sd",
    "min",
    "max",
    "passed",
    "failed",
    "flipped",
    "labels",
    "errors",
)
"""The columns of ``Consistency.rows``, one row per (row, task, criterion)."""

_USABLE = ("passed", "failed", "scored")


def icc_oneway(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """ICC(1,1), the one-way random-effects intraclass correlation of an (n rows x k repeats)
    array with no missing value, and its F-distribution interval (Shrout and Fleiss 1979):
    how much of the score's variance lies between rows rather than between repeats of a row.
    1: every repeat of a row gives the same score; 0 or below: repeats vary as much as rows.
    NaN when it cannot be computed (fewer than 2 rows or repeats, or no variance at all).

    Example:
        >>> import numpy as np
        >>> icc_oneway(np.array([[1, 1], [3, 3], [5, 5]]))[0]
        1.0
        >>> round(icc_oneway(np.array([[1, 2], [3, 3], [5, 4]]))[0], 4)
        0.8621
    """
    x = np.asarray(values, dtype=np.float64)
    nan = float("nan")
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        return nan, nan, nan
    n, k = x.shape
    means = x.mean(axis=1)
    ms_between = k * ((means - x.mean()) ** 2).sum() / (n - 1)
    ms_within = ((x - means[:, None]) ** 2).sum() / (n * (k - 1))
    denominator = ms_between + (k - 1) * ms_within
    if denominator == 0:
        return nan, nan, nan
    icc = float((ms_between - ms_within) / denominator)
    if ms_within == 0:
        return icc, nan, nan
    from scipy import stats  # on first use: import workbench stays fast

    f = ms_between / ms_within
    tail = 1 - (1 - confidence) / 2
    f_low = f / stats.f.ppf(tail, n - 1, n * (k - 1))
    f_high = f * stats.f.ppf(tail, n * (k - 1), n - 1)
    return icc, float((f_low - 1) / (f_low + k - 1)), float((f_high - 1) / (f_high + k - 1))


@dataclass(eq=False)
class Consistency:
    """How consistent a judge is with itself: what :func:`consistency` returns.

    Attributes:
        table: one row per judged (task, criterion), the columns of
            :data:`CONSISTENCY_COLUMNS`: ``k`` repeats; ``rows`` with two or more usable
            repeats; ``score_sd`` (the mean over rows of the repeats' standard deviation),
            ``score_range`` (mean of max - min) and ``score_changed`` (share of rows whose
            score was not the same in every repeat); ``n_pass_fail`` rows with two or more
            pass/fail verdicts and ``flip_rate``, the share of them whose verdict flipped
            between pass and fail; ``icc`` (ICC(1,1), over the rows with every repeat usable)
            with its interval; ``errors``, error cells over all repeats (left out).
        rows: per (row, task, criterion) (:data:`ROW_COLUMNS`): usable ``repeats``, the
            scores' ``mean``, ``sd``, ``min``, ``max``, ``passed``/``failed`` counts,
            ``flipped``, the distinct ``labels`` given (joined by ``|``) and ``errors``; sort
            by ``sd`` or ``flipped`` to find the rows the judge is unsure of.
        repeats: every repeat's results stacked, with a ``repeat`` column (0 to k-1).
        temperature: the sampling temperature of the repeats.
        confidence: level of the ICC interval.

    Example:
        >>> import pandas as pd
        >>> from workbench.reliability import Consistency
        >>> repeats = pd.DataFrame({"row": [0, 1, 0, 1], "task": "q", "criterion": "tone",
        ...     "kind": "judge", "status": ["passed", "failed", "failed", "failed"],
        ...     "passed": [True, False, False, False], "score": [4.0, 2.0, 3.0, 2.0],
        ...     "label": None, "repeat": [0, 0, 1, 1]})
        >>> Consistency.of(repeats, temperature=1.0).table[["criterion", "k", "rows", "flip_rate"]]
          criterion  k  rows  flip_rate
        0      tone  2     2        0.5
    """

    table: pd.DataFrame
    rows: pd.DataFrame
    repeats: pd.DataFrame
    temperature: float
    confidence: float = 0.95

    @classmethod
    def of(cls, repeats: pd.DataFrame, temperature: float, confidence: float = 0.95) -> Consistency:
        """The figures of stacked repeat results (``run.results`` of each repeat with a
        ``repeat`` column); judge cells only."""
        judged = repeats[repeats["kind"].astype(str) == "judge"] if "kind" in repeats else repeats
        k = int(repeats["repeat"].nunique()) if len(repeats) else 0
        table, per_row = [], []
        keys = judged[["task", "criterion"]].astype(str)
        for (task, criterion), part in judged.groupby([keys["task"], keys["criterion"]], sort=False):
            figures, rows = _figures(part, k, confidence)
            table.append({"task": task, "criterion": criterion, "k": k, **figures})
            per_row.append(rows.assign(task=str(task), criterion=str(criterion)))
        out = _typed(pd.DataFrame(table), CONSISTENCY_COLUMNS)
        rows_frame = (
            pd.concat(per_row, ignore_index=True)[list(ROW_COLUMNS)]
            if per_row
            else pd.DataFrame(columns=list(ROW_COLUMNS))
        )
        return cls(out, _typed(rows_frame, ROW_COLUMNS), repeats, float(temperature), confidence)

    def _lines(self) -> list[str]:
        k = int(self.table["k"].max()) if len(self.table) else 0
        lines = [f"Consistency of the judge over {k} repeats at temperature {self.temperature:g}"]
        for r in self.table.to_dict("records"):
            name = f"{r['task']}.{r['criterion']}"
            parts = [f"{r['rows']} rows"]
            if pd.notna(r["score_sd"]):
                parts.append(f"score sd {r['score_sd']:.2f}, changed in {r['score_changed']:.0%} of rows")
            if pd.notna(r["flip_rate"]):
                parts.append(f"pass/fail flipped in {r['flip_rate']:.0%} of {r['n_pass_fail']} rows")
            if pd.notna(r["icc"]):
                interval = f" [{r['icc_low']:.2f}, {r['icc_high']:.2f}]" if pd.notna(r["icc_low"]) else ""
                parts.append(f"ICC {r['icc']:.2f}{interval}")
            if r["errors"]:
                parts.append(f"{r['errors']} error cells left out")
            lines.append(f"  {name}: " + ", ".join(parts))
        return lines

    def __repr__(self) -> str:
        return "\n".join(self._lines())

    def _repr_html_(self) -> str:
        return findings_html(self._lines(), self.table, 3)


def _figures(part: pd.DataFrame, k: int, confidence: float) -> tuple[dict[str, Any], pd.DataFrame]:
    status = part["status"].astype(str).to_numpy()
    usable = np.isin(status, _USABLE)
    cells = pd.DataFrame(
        {
            "row": part["row"].to_numpy(),
            "repeat": part["repeat"].to_numpy(),
            "usable": usable,
            "error": status == "error",
            "score": part["score"].to_numpy(dtype=np.float64, na_value=np.nan),
            "passed": part["passed"].astype("boolean").to_numpy(dtype=np.float64, na_value=np.nan),
            "label": part["label"].astype(object).where(part["label"].notna(), None).to_numpy()
            if "label" in part
            else None,
        }
    )
    ok = cells[cells["usable"]]
    by_row = ok.groupby("row", sort=False)
    order = pd.unique(cells["row"])
    rows = pd.DataFrame(index=pd.Index(order, name="row"))
    rows["repeats"] = by_row.size().reindex(order, fill_value=0)
    scores = ok.dropna(subset=["score"]).groupby("row", sort=False)["score"]
    rows["mean"] = scores.mean().reindex(order)
    rows["sd"] = scores.std(ddof=1).reindex(order)
    rows["min"] = scores.min().reindex(order)
    rows["max"] = scores.max().reindex(order)
    verdicts = ok.dropna(subset=["passed"]).groupby("row", sort=False)["passed"]
    rows["passed"] = verdicts.sum().reindex(order, fill_value=0)
    rows["failed"] = verdicts.count().reindex(order, fill_value=0) - rows["passed"]
    rows["flipped"] = (rows["passed"] > 0) & (rows["failed"] > 0)
    labelled = ok.dropna(subset=["label"])
    rows["labels"] = (
        labelled.groupby("row", sort=False)["label"].agg(lambda v: "|".join(dict.fromkeys(map(str, v))))
    ).reindex(order)
    rows["errors"] = cells.groupby("row", sort=False)["error"].sum().reindex(order, fill_value=0)
    rows = rows.reset_index()

    n_scores = scores.count().reindex(order, fill_value=0).to_numpy()
    spread = n_scores >= 2
    sd = rows["sd"].to_numpy(dtype=np.float64)
    width = (rows["max"] - rows["min"]).to_numpy(dtype=np.float64)
    changed = width > 0
    n_verdicts = (rows["passed"] + rows["failed"]).to_numpy()
    verdicts_known = n_verdicts >= 2
    # ICC needs every repeat of a row: rows with an error (or no score) in some repeat are left out
    full = scores.count().reindex(order, fill_value=0).to_numpy() == k
    matrix = (
        ok.dropna(subset=["score"])
        .pivot_table(index="row", columns="repeat", values="score", aggfunc="first", sort=False)
        .reindex(pd.Index(order)[full])
        .to_numpy(dtype=np.float64)
    )
    icc, low, high = icc_oneway(matrix, confidence) if k >= 2 else (np.nan, np.nan, np.nan)
    figures = {
        "rows": int(((rows["repeats"] >= 2).to_numpy()).sum()),
        "score_sd": float(sd[spread].mean()) if spread.any() else np.nan,
        "score_range": float(width[spread].mean()) if spread.any() else np.nan,
        "score_changed": float(changed[spread].mean()) if spread.any() else np.nan,
        "n_pass_fail": int(verdicts_known.sum()),
        "flip_rate": float(rows["flipped"].to_numpy(dtype=bool)[verdicts_known].mean())
        if verdicts_known.any()
        else np.nan,
        "icc": icc,
        "icc_low": low,
        "icc_high": high,
        "errors": int(cells["error"].sum()),
    }
    return figures, rows


_INTS = {"k", "rows", "n_pass_fail", "errors", "repeats", "passed", "failed"}
_TEXT = {"task", "criterion", "labels"}


def _typed(frame: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    out = pd.DataFrame(index=range(len(frame)))
    for c in names:
        values = frame[c] if c in frame.columns else pd.Series([None] * len(frame))
        if c == "row":
            out[c] = values.to_numpy(dtype=object)
        elif c in _TEXT:
            out[c] = pd.array(values.to_numpy(dtype=object), dtype="string")
        elif c in _INTS:
            out[c] = pd.array(values.to_numpy(dtype=object), dtype="Int64")
        elif c == "flipped":
            out[c] = pd.array(values.to_numpy(dtype=object), dtype="boolean")
        else:
            v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
            out[c] = pd.arrays.FloatingArray(np.nan_to_num(v), np.isnan(v))
    return out


def consistency(
    df: pd.DataFrame,
    suite: Suite | str | Path,
    k: int = 5,
    *,
    temperature: float = 1.0,
    rows: Any = None,
    columns: Mapping[str, str] | None = None,
    judge: JudgeConfig | None = None,
    model: str | None = None,
    progress: bool | Callable[[Any], Any] = False,
    confidence: float = 0.95,
    **options: Any,
) -> Consistency:
    """Judge each row ``k`` times at ``temperature`` and measure how much the verdicts move.

    Every repeat runs the whole suite as :func:`~workbench.evaluate` would (assertions cost
    nothing; judge tasks gated by them are skipped alike) with the judge configuration
    given, its temperature set to ``temperature`` and its cache namespace to
    ``consistency/<i>``: the repeats never reuse the plain run's cached verdicts nor each
    other's, and each is cached, so running it again (or with a larger ``k``) calls only
    what is missing. Nothing is saved in the run store.

    Args:
        df: the rows (never modified); pick a few with ``rows=``.
        suite: a :class:`~workbench.Suite` or the path of one.
        k: repeats per row (at least 2).
        temperature: the repeats' sampling temperature, above 0 (at 0 a judge gives the same
            verdict every time, which measures nothing).
        rows, columns: as in :func:`~workbench.evaluate`.
        judge, model, **options: how judge calls are made, as in :func:`~workbench.evaluate`
            (``api_base=``, ``concurrency=``, ``cache_dir=``...).
        progress: show each repeat's progress bar.
        confidence: level of the ICC interval.

    Returns:
        A :class:`Consistency`: ``.table`` per criterion (score spread, pass/fail flip rate,
        intraclass correlation), ``.rows`` per row, ``.repeats`` the raw cells.

    Raises:
        WorkbenchError: ``k`` below 2 or ``temperature`` not above 0, or a temperature also
            given as a judge option (``params={"temperature": ...}``).
        ColumnsError, ConfigError: as :func:`~workbench.evaluate`.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> from workbench.testing import JudgeServer
        >>> suite = wb.Suite(name="qa", tasks=[wb.JudgeTask(id="q", prompt="${answer}", threshold=3,
        ...     criteria=[wb.Criterion(name="accuracy", description="Facts are right.")])])
        >>> df = pd.DataFrame({"answer": ["Paris.", "Lyon."]})
        >>> with JudgeServer() as server:  # its verdicts depend on the prompt only: no flips
        ...     c = wb.consistency(df, suite, k=3, model=server.model, **server.litellm_kwargs,
        ...                        use_cache=False)
        >>> c.table[["criterion", "k", "rows", "score_sd", "flip_rate"]]
          criterion  k  rows  score_sd  flip_rate
        0  accuracy  3     2       0.0        0.0
    """
    problems = []
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        problems.append(f"k={k!r} must be an integer of at least 2 (repeats per row)")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        problems.append(
            f"temperature={temperature!r} must be above 0: at 0 the judge repeats itself, which "
            "measures nothing"
        )
    if "temperature" in options or "temperature" in (options.get("params") or {}):
        problems.append(
            "give the repeats' temperature as consistency(temperature=...), not as a judge option"
        )
    if problems:
        raise WorkbenchError("consistency() got bad parameters: " + "; ".join(problems) + ".")
    config = JudgeConfig.build(judge, model=model, **options)
    configs = [
        config.model_copy(
            update={
                "params": {**config.params, "temperature": float(temperature)},
                "cache_namespace": f"consistency/{i}",
            }
        )
        for i in range(int(k))
    ]

    async def repeats() -> list[Run]:
        # one after another: each repeat already runs its calls concurrently, and a fixed order
        # keeps the n-th call of a row in the n-th repeat
        return [
            await evaluate_async(
                df, suite, rows=rows, columns=columns, judge=c, progress=progress, save=False
            )
            for c in configs
        ]

    runs = run_sync(repeats)
    stacked = pd.concat([r.results.assign(repeat=i) for i, r in enumerate(runs)], ignore_index=True)
    return Consistency.of(stacked, float(temperature), confidence)
