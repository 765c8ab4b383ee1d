"""Paired comparison of two runs: per (task, criterion) deltas, intervals and tests.

Rows are matched on ``row``; each shared (task, criterion) gets the paired mean delta with a
bootstrap interval, the Wilcoxon signed-rank test for scores, the exact McNemar test for
pass/fail, Holm-adjusted p-values and win/tie/loss counts. Rows that flipped between pass
and fail are listed with both reasons.

Example:
    >>> import pandas as pd, workbench as wb
    >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
    >>> v1 = wb.evaluate(pd.DataFrame({"x": [1, -1, 2]}), suite)
    >>> v2 = wb.evaluate(pd.DataFrame({"x": [1, 3, -2]}), suite)
    >>> wb.compare(v1, v2).flips[["row", "task", "direction"]]
       row task     direction
    0    1  pos  fail_to_pass
    1    2  pos  pass_to_fail
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ColumnsError, CompareError, cap_list, did_you_mean
from ..results import STATUSES
from ..run import _nullable_float as _nullable
from ._stats import _bootstrap, _holm, _mcnemar, _wilcoxon

__all__ = ["CompareError", "Comparison", "compare"]

REQUIRED_COLUMNS: tuple[str, ...] = ("row", "task", "criterion", "status", "passed", "score")
"""Columns a results frame needs for :func:`compare`; ``kind`` and ``reason`` are used when present."""

_COUNTED = ("passed", "failed", "scored")
"""A multinomial draw per distinct value costs about as much as this many resampled indices."""


@dataclass(eq=False)
class Comparison:
    """The outcome of :func:`compare`: B against A, paired on ``row``.

    Attributes:
        name_a, name_b: names of the two sides (a run's label or id, else ``"A"``/``"B"``).
        table: one row per shared (task, criterion): ``task, criterion, kind, metric, n,
            mean_a, mean_b, delta, ci_low, ci_high, pass_rate_a, pass_rate_b, p_wilcoxon,
            p_mcnemar, p_value, p_holm, significant, wins, ties, losses, excluded``.
        flips: rows that went ``pass_to_fail`` or ``fail_to_pass``, with both scores and reasons.
        unmatched: rows present on one side only (``row``, ``side`` = ``'a'``/``'b'``).
        only_a, only_b: (task, criterion) pairs only one side has (different suite versions).
        confidence: level of the bootstrap intervals.
        alpha: significance level applied to the Holm-adjusted p-values.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
        >>> a = wb.evaluate(pd.DataFrame({"x": [1, -1, 2, 5]}), suite)
        >>> b = wb.evaluate(pd.DataFrame({"x": [1, 3, 2, 5]}, index=[0, 1, 2, 9]), suite)
        >>> c = wb.compare(a, b)
        >>> c.table[["task", "metric", "n", "mean_a", "mean_b", "wins", "ties", "losses"]]
          task     metric  n    mean_a  mean_b  wins  ties  losses
        0  pos  pass_rate  3  0.666667     1.0     1     2       0
        >>> c.unmatched
           row side
        0    3    a
        1    9    b
    """

    name_a: str
    name_b: str
    table: pd.DataFrame
    flips: pd.DataFrame
    unmatched: pd.DataFrame
    only_a: pd.DataFrame
    only_b: pd.DataFrame
    confidence: float = 0.95
    alpha: float = 0.05

    def summary(self) -> pd.DataFrame:
        """The table in reading order: significant changes first (smallest adjusted p),
        with a ``change`` column (``better``/``worse`` for B, or ``-``) and flip counts."""
        t = self.table
        flips = self.flips.groupby(["task", "criterion", "direction"], observed=True).size()
        count = lambda d: pd.array(
            [int(flips.get((tk, cr, d), 0)) for tk, cr in zip(t["task"], t["criterion"])], dtype="Int64"
        )
        sig = t["significant"].fillna(False).to_numpy(dtype=bool)
        delta = t["delta"].to_numpy(dtype=float, na_value=np.nan)
        change = np.where(sig & (delta > 0), "better", np.where(sig & (delta < 0), "worse", "-"))
        out = t[
            ["task", "criterion", "metric", "n", "mean_a", "mean_b", "delta", "ci_low", "ci_high", "p_holm"]
        ].copy()
        out.insert(0, "change", pd.array(change, dtype="string"))
        out["pass_to_fail"], out["fail_to_pass"] = count("pass_to_fail"), count("fail_to_pass")
        order = np.lexsort((t["p_holm"].to_numpy(dtype=float, na_value=np.inf), ~sig))
        return out.iloc[order].reset_index(drop=True)

    def _lines(self) -> list[str]:
        t = self.table
        n_rows = int(t["n"].max()) if len(t) and t["n"].notna().any() else 0
        side = lambda name, letter: letter if name == letter else f"{name!r} ({letter})"
        lines = [
            f"Comparison of {side(self.name_a, 'A')} and {side(self.name_b, 'B')}: {len(t)} shared "
            f"{'criterion' if len(t) == 1 else 'criteria'}, "
            f"up to {n_rows:,} paired rows"
        ]
        sig = t[t["significant"].fillna(False).to_numpy(dtype=bool)]
        if len(sig):
            lines.append(
                f"  changed significantly (Holm-adjusted p < {self.alpha:g}, {self.confidence:.0%} intervals):"
            )
            for r in sig.itertuples(index=False):
                who = "B better" if r.delta > 0 else "B worse"
                lines.append(
                    f"    {_name(r.task, r.criterion)} ({r.metric}): {r.mean_a:.3g} -> {r.mean_b:.3g}, "
                    f"delta {r.delta:+.3g} [{r.ci_low:+.3g}, {r.ci_high:+.3g}], p_holm={r.p_holm:.2g}, {who}"
                )
        rest = t[~t["significant"].fillna(False).to_numpy(dtype=bool)]
        if len(rest):
            lines.append(f"  no significant change: {_names(rest)}")
        directions = self.flips["direction"].value_counts()
        lines.append(
            f"  flips: {int(directions.get('pass_to_fail', 0))} pass->fail, "
            f"{int(directions.get('fail_to_pass', 0))} fail->pass (see .flips)"
        )
        excluded = int(t["excluded"].sum()) if len(t) else 0
        if excluded:
            lines.append(f"  excluded cells (error or skipped on a side): {excluded:,}")
        sides = self.unmatched["side"].value_counts()
        if len(self.unmatched):
            lines.append(
                f"  unmatched rows: {int(sides.get('a', 0))} only in A, {int(sides.get('b', 0))} only in B (see .unmatched)"
            )
        lines += [
            f"  {label}: {_names(f)}"
            for label, f in (("only in A", self.only_a), ("only in B", self.only_b))
            if len(f)
        ]
        return lines

    def __repr__(self) -> str:
        return "\n".join(self._lines())

    def _repr_html_(self) -> str:
        head, *rest = self._lines()
        items = "".join(f"<li>{escape(line.strip())}</li>" for line in rest)
        table = self.summary().to_html(index=False, na_rep="", escape=True, float_format=lambda x: f"{x:.4g}")
        return f"<p><b>{escape(head)}</b></p><ul>{items}</ul>{table}"


def compare(
    a: Any,
    b: Any,
    *,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    store: Any = None,
) -> Comparison:
    """Compare run ``b`` against run ``a``, paired on the input rows.

    Cells are paired per (row, task, criterion). A pair counts when its status is
    ``passed``, ``failed`` or ``scored`` on both sides; errors and skips on either side
    (and cells that have no partner in a matched row) are counted in ``excluded``. The
    metric is ``score`` when the criterion has scores, else ``pass_rate`` (passed as 1/0).

    Args:
        a, b: a :class:`~workbench.Run`, a long results frame (the columns of
            :data:`~workbench.RESULT_COLUMNS`; at least ``row, task, criterion, status,
            passed, score``), or a run id or label, loaded from ``store``.
        confidence: level of the paired percentile bootstrap interval of the mean delta.
        n_boot: bootstrap resamples (seeded by ``seed`` and the criterion's name, so a
            criterion's interval does not change when others are added).
        seed: bootstrap seed.
        alpha: a row of the table is ``significant`` when its Holm-adjusted p < alpha.
        store: the run store string references are loaded from (a directory, a
            ``.sqlite`` file or a ``wb.Store``; default as in ``wb.load_run``).

    Returns:
        A :class:`Comparison`. The p-value of a row is the Wilcoxon signed-rank test
        (``scipy.stats.wilcoxon``, zero differences dropped) for scores, the exact McNemar
        test (``scipy.stats.binomtest`` on the discordant pairs) for pass rates.

    Raises:
        CompareError: ``a`` or ``b`` is not a run, frame or reference; the two share no
            (task, criterion) or no row; a (row, task, criterion) appears twice; or a
            parameter is out of range.
        ColumnsError: a frame lacks required columns.
        workbench.store.UnknownRunError: a string names no run in the store.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="short", path="answer",
        ...                                       op="has_length_less_than", expected=6)])
        >>> v1 = wb.evaluate(pd.DataFrame({"answer": ["yes", "no", "a long answer", "ok"]}), suite)
        >>> v2 = wb.evaluate(pd.DataFrame({"answer": ["yes", "a long no", "short", "ok"]}), suite)
        >>> c = wb.compare(v1, v2)
        >>> c.table[["task", "n", "delta", "p_mcnemar", "wins", "ties", "losses"]]
            task  n  delta  p_mcnemar  wins  ties  losses
        0  short  4    0.0        1.0     1     2       1
    """
    problems = []
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        problems.append(f"confidence={confidence!r} must be between 0 and 1 (e.g. 0.95)")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        problems.append(f"alpha={alpha!r} must be between 0 and 1 (e.g. 0.05)")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        problems.append(f"n_boot={n_boot!r} must be a positive integer (e.g. 2000)")
    if problems:
        raise CompareError("compare() got bad parameters: " + "; ".join(problems) + ".")
    ra, name_a = _resolve(a, "a", "A", store)
    rb, name_b = _resolve(b, "b", "B", store)
    return _compare(ra, rb, name_a, name_b, float(confidence), int(n_boot), int(seed), float(alpha))


def _resolve(x: Any, side: str, default: str, store: Any) -> tuple[pd.DataFrame, str]:
    """The results frame and name of one side."""
    if isinstance(x, str):
        from ..store import load_run

        x = load_run(x, store=store)
    results = getattr(x, "results", None)
    if isinstance(results, pd.DataFrame) and not isinstance(x, pd.DataFrame):
        name = getattr(x, "label", None) or getattr(x, "id", None) or default
        frame = results
    elif isinstance(x, pd.DataFrame):
        name, frame = default, x
    else:
        raise CompareError(
            f"compare() cannot use {side} of type {type(x).__name__}: pass a wb.Run, its .results "
            "DataFrame, or a run id or label saved in the store."
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        hints = "".join(did_you_mean(m, [str(c) for c in frame.columns]) for m in missing)
        raise ColumnsError(
            f"compare(): the results frame given as {side} lacks the columns {cap_list(missing)}{hints}. "
            f"It has {cap_list([str(c) for c in frame.columns])}; pass run.results (or a frame with "
            f"the columns of wb.RESULT_COLUMNS)."
        )
    return frame, str(name)


def _factor(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and their labels (str; a missing value is ``""``), fast for categoricals."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes, labels = s.cat.codes.to_numpy().astype(np.int64), s.cat.categories
    else:
        codes, labels = pd.factorize(s)
    text = np.append(np.asarray(pd.Index(labels).astype(str), dtype=object), "")
    return np.where(codes < 0, len(text) - 1, codes), text


def _floats(s: pd.Series, side: str) -> np.ndarray:
    try:
        return s.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as e:
        raise ColumnsError(
            f"compare(): column {s.name!r} of {side} must hold numbers or booleans: {e}"
        ) from None


@dataclass
class _Side:
    """One side's cells as arrays: (task, criterion) key per cell, and the values compare() reads."""

    keys: pd.MultiIndex  # unique (task, criterion), in order of first appearance
    key: np.ndarray  # position in ``keys`` of each cell
    kind: np.ndarray  # kind label of each key
    counted: np.ndarray
    passed: np.ndarray
    score: np.ndarray


def _side(frame: pd.DataFrame, side: str) -> _Side:
    s_codes, s_text = _factor(frame["status"])
    used = np.unique(s_codes)
    unknown = sorted(str(x) for x in set(s_text[used]) - set(STATUSES))
    if unknown:
        raise CompareError(
            f"compare(): the results frame given as {side} has unknown statuses {cap_list(unknown)}"
            f"{did_you_mean(unknown[0], STATUSES)}; allowed: {cap_list(list(STATUSES))}."
        )
    t_codes, t_text = _factor(frame["task"])
    c_codes, c_text = _factor(frame["criterion"])
    uniq, first, key = _in_order(t_codes * len(c_text) + c_codes)
    keys = pd.MultiIndex.from_arrays(
        [t_text[uniq // len(c_text)], c_text[uniq % len(c_text)]], names=["task", "criterion"]
    )
    if "kind" in frame.columns:
        k_codes, k_text = _factor(frame["kind"])
        kind = k_text[k_codes[first]]
    else:
        kind = np.full(len(uniq), "", dtype=object)
    return _Side(
        keys,
        key,
        kind,
        np.isin(s_text, _COUNTED)[s_codes],
        _floats(frame["passed"], side),
        _floats(frame["score"], side),
    )


def _key_frame(index: pd.MultiIndex) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "task": pd.array(np.asarray(index.get_level_values(0), dtype=object), dtype="string"),
            "criterion": pd.array(np.asarray(index.get_level_values(1), dtype=object), dtype="string"),
        }
    )


def _name(task: str, criterion: str) -> str:
    return f"{task}.{criterion}" if criterion else str(task)


def _names(keys: pd.DataFrame, limit: int = 12) -> str:
    names = [_name(t, c) for t, c in zip(keys["task"], keys["criterion"])]
    return ", ".join(names[:limit]) + (f" ... +{len(names) - limit} more" if len(names) > limit else "")


def _scalar(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


def _in_order(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct codes in order of first appearance, where each first appears, and the
    position of each element's code in that order."""
    uniq, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return uniq[order], first[order], rank[inverse.ravel()]


def _compare(
    ra: pd.DataFrame,
    rb: pd.DataFrame,
    name_a: str,
    name_b: str,
    confidence: float,
    n_boot: int,
    seed: int,
    alpha: float,
) -> Comparison:
    a, b = _side(ra, "a"), _side(rb, "b")
    in_b_keys, in_a_keys = a.keys.isin(b.keys), b.keys.isin(a.keys)
    shared = a.keys[in_b_keys]
    only_a, only_b = _key_frame(a.keys[~in_b_keys]), _key_frame(b.keys[~in_a_keys])
    if len(shared) == 0:
        raise CompareError(
            f"compare(): {name_a!r} and {name_b!r} share no (task, criterion): A has "
            f"{cap_list([_name(*k) for k in a.keys])}, B has {cap_list([_name(*k) for k in b.keys])}. "
            "Compare runs of the same suite (or versions that keep some task ids)."
        )
    # rows: one integer code per distinct label across both sides
    row_a, row_b = ra["row"], rb["row"]
    codes, labels = pd.factorize(pd.concat([row_a, row_b], ignore_index=True))
    code_a, code_b = codes[: len(row_a)], codes[len(row_a) :]
    has_a, has_b = np.zeros(len(labels), bool), np.zeros(len(labels), bool)
    has_a[code_a], has_b[code_b] = True, True
    rows_a, first_a, _ = _in_order(code_a)
    rows_b, first_b, _ = _in_order(code_b)
    if not has_b[rows_a].any():
        show = lambda s, f: cap_list([_scalar(x) for x in s.iloc[f[:5]]], 5)
        raise CompareError(
            f"compare(): no row of {name_a!r} is in {name_b!r}, so nothing can be paired: A has rows "
            f"{show(row_a, first_a)}, B has {show(row_b, first_b)}. Rows are matched on the "
            "input's index labels: evaluate both versions on the same DataFrame index."
        )
    lone_a, lone_b = first_a[~has_b[rows_a]], first_b[~has_a[rows_b]]
    unmatched = pd.DataFrame(
        {
            "row": pd.concat([row_a.iloc[lone_a], row_b.iloc[lone_b]], ignore_index=True),
            "side": pd.array(["a"] * len(lone_a) + ["b"] * len(lone_b), dtype="string"),
        }
    )

    # cells: pair (row, shared key) across the sides
    n_keys = len(shared)
    k_a, k_b = shared.get_indexer(a.keys)[a.key], shared.get_indexer(b.keys)[b.key]
    ids = []
    for side, k, code, row in (("a", k_a, code_a, row_a), ("b", k_b, code_b, row_b)):
        pos = np.flatnonzero(k >= 0)
        cid = code[pos].astype(np.int64) * n_keys + k[pos]
        order = np.argsort(cid, kind="stable")
        dup = np.flatnonzero(cid[order][1:] == cid[order][:-1])
        if len(dup):
            at = pos[order[dup[0] + 1]]
            raise CompareError(
                f"compare(): the results given as {side} hold {len(dup)} repeated (row, task, criterion) cells, "
                f"e.g. row {_scalar(row.iloc[at])!r} of {_name(*shared[k[at]])!r}; pass one run's results, "
                "not several concatenated."
            )
        ids.append((pos, cid, order))
    (pos_a, cid_a, _), (pos_b, cid_b, order_b) = ids
    sorted_b = cid_b[order_b]
    at = np.minimum(np.searchsorted(sorted_b, cid_a), max(len(sorted_b) - 1, 0))
    hit = sorted_b[at] == cid_a if len(sorted_b) else np.zeros(len(cid_a), bool)
    ia, ib = pos_a[hit], pos_b[order_b[at[hit]]]
    by_key = np.argsort(k_a[ia], kind="stable")
    ia, ib = ia[by_key], ib[by_key]
    k = k_a[ia]
    # cells of rows both sides have, but with no partner cell on the other side
    lonely = (
        np.bincount(k_a[pos_a][has_b[code_a[pos_a]]], minlength=n_keys)
        + np.bincount(k_b[pos_b][has_a[code_b[pos_b]]], minlength=n_keys)
        - 2 * np.bincount(k, minlength=n_keys)
    )
    has_score = (
        np.bincount(k_a[pos_a][~np.isnan(a.score[pos_a])], minlength=n_keys)
        + np.bincount(k_b[pos_b][~np.isnan(b.score[pos_b])], minlength=n_keys)
    ) > 0
    kinds = a.kind[a.keys.get_indexer(shared)]

    counted = a.counted[ia] & b.counted[ib]
    sa, sb, pa, pb = a.score[ia], b.score[ib], a.passed[ia], b.passed[ib]
    pairs = _Pairs(
        k, sa, sb, pa, pb, counted & ~np.isnan(sa) & ~np.isnan(sb), counted & ~np.isnan(pa) & ~np.isnan(pb)
    )
    table = _stats(pairs, shared, has_score, lonely, confidence, n_boot, seed)
    table.insert(2, "kind", pd.array(np.asarray(kinds, dtype=object), dtype="string"))
    p_holm = _holm(table["p_value"].to_numpy(dtype=float, na_value=np.nan))
    table.insert(table.columns.get_loc("p_value") + 1, "p_holm", _nullable(p_holm))
    table.insert(
        table.columns.get_loc("p_holm") + 1,
        "significant",
        pd.array(np.nan_to_num(p_holm, nan=1.0) < alpha, dtype="boolean"),
    )
    flips = _flips(pairs, shared, ra, rb, ia, ib)
    return Comparison(name_a, name_b, table, flips, unmatched, only_a, only_b, confidence, alpha)


@dataclass
class _Pairs:
    """Paired cells sorted by shared key ``k``: scores and passed (as 1/0) of both sides."""

    k: np.ndarray
    sa: np.ndarray
    sb: np.ndarray
    pa: np.ndarray
    pb: np.ndarray
    score_pair: np.ndarray  # counted on both sides, with a score on both
    pass_pair: np.ndarray  # counted on both sides, with passed known on both


_INTS = ("n", "wins", "ties", "losses", "excluded")


def _stats(
    pairs: _Pairs,
    shared: pd.MultiIndex,
    has_score: np.ndarray,
    lonely: np.ndarray,
    confidence: float,
    n_boot: int,
    seed: int,
) -> pd.DataFrame:
    """One row of statistics per shared key: loops over keys, each one vectorised."""
    from scipy.stats import binomtest, wilcoxon

    bounds = np.searchsorted(pairs.k, np.arange(len(shared) + 1))
    rows, nan = [], float("nan")
    for i, (task, criterion) in enumerate(shared):
        sl = slice(bounds[i], bounds[i + 1])
        sa, sb, pa, pb = pairs.sa[sl], pairs.sb[sl], pairs.pa[sl], pairs.pb[sl]
        score_pair, pass_pair = pairs.score_pair[sl], pairs.pass_pair[sl]
        is_score = bool(has_score[i])
        use = score_pair if is_score else pass_pair
        xa, xb = (sa if is_score else pa)[use], (sb if is_score else pb)[use]
        d, n = xb - xa, int(use.sum())
        pass_a, pass_b = pa[pass_pair], pb[pass_pair]
        p_w = _wilcoxon((sb - sa)[score_pair], wilcoxon) if is_score and score_pair.any() else nan
        p_m = _mcnemar(pass_a, pass_b, binomtest) if len(pass_a) else nan
        low, high = _bootstrap(d, confidence, n_boot, seed, f"{task}\x1f{criterion}")
        rows.append(
            {
                "metric": "score" if is_score else "pass_rate",
                "n": n,
                "mean_a": xa.mean() if n else nan,
                "mean_b": xb.mean() if n else nan,
                "delta": d.mean() if n else nan,
                "ci_low": low,
                "ci_high": high,
                "pass_rate_a": pass_a.mean() if len(pass_a) else nan,
                "pass_rate_b": pass_b.mean() if len(pass_b) else nan,
                "p_wilcoxon": p_w,
                "p_mcnemar": p_m,
                "p_value": p_w if is_score else p_m,
                "wins": int((d > 0).sum()),
                "ties": int((d == 0).sum()),
                "losses": int((d < 0).sum()),
                "excluded": int(bounds[i + 1] - bounds[i] - n + lonely[i]),
            }
        )
    table = _key_frame(shared)
    for c in rows[0]:
        values = [r[c] for r in rows]
        table[c] = (
            pd.array(values, dtype="string")
            if c == "metric"
            else pd.array(values, dtype="Int64")
            if c in _INTS
            else _nullable(np.asarray(values, dtype=float))
        )
    return table


def _flips(
    pairs: _Pairs, shared: pd.MultiIndex, ra: pd.DataFrame, rb: pd.DataFrame, ia: np.ndarray, ib: np.ndarray
) -> pd.DataFrame:
    flipped = np.flatnonzero(pairs.pass_pair & (pairs.pa != pairs.pb))
    k = pairs.k[flipped]
    at_a, at_b = ia[flipped], ib[flipped]
    reason = lambda r, at: (
        pd.array(r["reason"].iloc[at].to_numpy(dtype=object, na_value=None), dtype="string")
        if "reason" in r.columns
        else pd.array([None] * len(at), dtype="string")
    )
    return pd.DataFrame(
        {
            "row": ra["row"].iloc[at_a].reset_index(drop=True),
            "task": pd.array(np.asarray(shared.get_level_values(0), dtype=object)[k], dtype="string"),
            "criterion": pd.array(np.asarray(shared.get_level_values(1), dtype=object)[k], dtype="string"),
            "direction": pd.array(
                np.where(pairs.pa[flipped] == 1, "pass_to_fail", "fail_to_pass"), dtype="string"
            ),
            "score_a": _nullable(pairs.sa[flipped]),
            "score_b": _nullable(pairs.sb[flipped]),
            "reason_a": reason(ra, at_a),
            "reason_b": reason(rb, at_b),
        }
    )
