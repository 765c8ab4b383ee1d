"""``wb.agreement``: a judge's results set against human labels, per (task, criterion)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from ..errors import AgreementError, ColumnsError, cap_list, did_you_mean
from ..specs import Suite
from ..store import Store, criterion_fingerprint
from ._humans import HUMAN_COLUMNS, human_figures
from ._labels import Target, is_long, labels_frame, object_values
from ._result import EXCLUDED_COLUMNS, PAIR_COLUMNS, TABLE_COLUMNS, Agreement, Cells
from ._saved import stored_labels
from ._scale import Scale, binary_scale, scale_of
from ._stats import (
    bootstrap_correlations,
    bootstrap_mean,
    cohen_kappa,
    confusion_counts,
    correlations,
    grouped_correlations,
    mean_or_nan,
    pass_metrics,
    rng_for,
)

__all__ = ["agreement"]

REQUIRED_COLUMNS: tuple[str, ...] = ("row", "task", "criterion", "status", "passed", "score")
"""Columns a results frame needs for :func:`agreement`; ``kind``, ``label`` and ``reason`` are used
when present."""

_USABLE = ("passed", "failed", "scored")
"""Judge statuses that carry a verdict; ``error`` and ``skipped`` cells are left out and counted."""


def agreement(
    run: Any,
    labels: pd.DataFrame | Store | None = None,
    *,
    columns: Mapping[str, Target] | None = None,
    by: Any = None,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    store: Any = None,
) -> Agreement:
    """Set a judge's results against human labels, per (task, criterion).

    Cells pair on (row, task, criterion). The judge's scale (from the run's suite) decides
    what is computed: ordinal scales (integer ranges, labels mapped to scores) get exact and
    within-one agreement, quadratic-weighted Cohen's kappa, Spearman's rho and Kendall's tau-b
    with bootstrap intervals; plain label lists get exact agreement and unweighted kappa;
    pass/fail (a binary scale, an assertion, or any criterion with a threshold) gets MCC, F1,
    precision, recall and the false-pass and false-fail rates. Without a suite (a bare results
    frame) integer scores are taken as an ordinal scale, other numbers as interval (rank
    correlations only), labels as nominal.

    Several annotators (an ``annotator`` column) are combined per row: the mean of their
    values on ordered scales (a mean between two points counts as the nearer point for exact
    agreement, kappa and the confusion matrix; halves go up), the majority label otherwise
    (a tie leaves the row out of that figure, counted as ``no_majority``). Their raw labels
    also give Krippendorff's alpha and the leave-one-out human ceiling (``.humans``).

    What is an error and what is counted:

    * **errors** (:class:`~workbench.errors.AgreementError`, raised before any statistic, all
      problems in one message): a label of a (task, criterion) the run does not have; a value
      outside the criterion's scale (a score beyond its range, a label it does not list, a
      score for a label scale); the same (row, task, criterion, annotator) labelled twice;
      pass/fail labels of a criterion whose judge has no threshold; no labelled row in the run.
    * **counted exclusions** (``.excluded``, and the table's ``excluded``): judge cells that
      errored or were skipped; labelled rows the run does not have, or that have no cell of
      that task; rows whose labels are all missing (the person skipped them); tied majorities.

    Args:
        run: a :class:`~workbench.Run`, its ``.results`` frame, or a saved run's id or label
            (loaded with ``wb.load_run`` from ``store``).
        labels: human labels: a long frame (``row``, ``task``, ``criterion`` and ``score``,
            ``label`` or ``passed``; optional ``annotator`` and ``criterion_fingerprint``), or
            a wide frame indexed like the evaluated DataFrame with ``columns=`` (see
            :func:`labels_frame`). ``None`` (or a :class:`~workbench.Store`): the labels of
            the run's suite saved in the run store (``store``, else the default store), as
            ``wb.Labeler`` and ``wb.save_labels`` write them. Labels with a
            ``criterion_fingerprint`` are reported per fingerprint (per criterion version);
            the table's ``current_text`` says whether that is the text the run's suite has
            (False: labelled under another, older or newer, text; kept apart, never mixed).
        columns: for a wide frame: ``{column: "task.criterion"}``, ``{column: (task,
            criterion)}`` or ``{column: (task, criterion, annotator)}``.
        by: groups for the grouped correlation (as G-Eval reports SummEval: correlate within
            each group, then average): a column of the labels frame, or a Series or dict from
            row label to group (``df["doc_id"]``); rows without a group are left out of the
            grouped figures, and a group needs two rows and no constant side to count. The
            pooled figures stay in ``spearman`` and ``kendall``.
        confidence: level of the bootstrap percentile intervals.
        n_resamples: bootstrap resamples (seeded by ``seed`` and the check's name, so a
            check's interval does not move when others are added).
        seed: bootstrap seed.
        store: the run store a string ``run`` is loaded from, and saved labels are read from.

    Returns:
        An :class:`Agreement`: ``.table`` (per check), ``.pairs``, ``.disagreements``,
        ``.humans``, ``.excluded`` and ``.confusion(task, criterion)``.

    Raises:
        AgreementError: see above; also a ``run`` that is not a run, frame or reference, and
            parameters out of range.
        ColumnsError: a results or labels frame lacks required columns.
        workbench.store.UnknownRunError: a string names no run in the store.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> results = pd.DataFrame({
        ...     "row": [0, 1, 2, 3, 4, 5], "task": "quality", "criterion": "accuracy",
        ...     "status": "scored", "passed": pd.NA, "score": [1, 2, 3, 4, 5, 5],
        ...     "reason": "why"})
        >>> people = pd.DataFrame({"row": [0, 1, 2, 3, 4, 5], "task": "quality",
        ...                        "criterion": "accuracy", "score": [1, 2, 4, 4, 5, 4]})
        >>> ag = wb.agreement(results, people)
        >>> ag.table[["criterion", "scale", "n", "exact", "within_one"]]
          criterion    scale  n     exact  within_one
        0  accuracy  ordinal  6  0.666667         1.0
        >>> ag.disagreements[["row", "judge_score", "human_score"]]
           row  judge_score  human_score
        0    2          3.0          4.0
        1    5          5.0          4.0
    """
    _check_parameters(confidence, n_resamples, seed)
    results, suite, name = _resolve_run(run, store)
    given: pd.DataFrame = (
        _saved_labels(suite, labels if labels is not None else store)
        if labels is None or isinstance(labels, Store)
        else labels
    )
    groups, split = _split_by(by, given, columns)
    canon = labels_frame(split, columns)
    return _agree(results, suite, name, canon, groups, float(confidence), int(n_resamples), int(seed))


def _check_parameters(confidence: Any, n_resamples: Any, seed: Any) -> None:
    problems = []
    if isinstance(confidence, bool) or not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        problems.append(f"confidence={confidence!r} must be between 0 and 1 (e.g. 0.95)")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        problems.append(f"n_resamples={n_resamples!r} must be a positive integer (e.g. 1000)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        problems.append(f"seed={seed!r} must be a non-negative integer")
    if problems:
        raise AgreementError("agreement() got bad parameters: " + "; ".join(problems) + ".")


def _resolve_run(run: Any, store: Any) -> tuple[pd.DataFrame, Suite | None, str]:
    if isinstance(run, str):
        from ..store import load_run

        run = load_run(run, store=store)
    results = getattr(run, "results", None)
    if isinstance(results, pd.DataFrame) and not isinstance(run, pd.DataFrame):
        suite = getattr(run, "suite", None)
        name = getattr(run, "label", None) or getattr(run, "id", None) or "judge"
        frame = results
    elif isinstance(run, pd.DataFrame):
        suite, name, frame = None, "judge", run
    else:
        raise AgreementError(
            f"agreement() cannot use a run of type {type(run).__name__}: pass a wb.Run, its .results "
            "DataFrame, or a run id or label saved in the store."
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        have = [str(c) for c in frame.columns]
        raise ColumnsError(
            f"agreement(): the results frame lacks the columns {cap_list(missing)}"
            f"{''.join(did_you_mean(m, have) for m in missing[:3])}. It has {cap_list(have)}; pass "
            "run.results (or a frame with the columns of wb.RESULT_COLUMNS)."
        )
    return frame, suite if isinstance(suite, Suite) else None, str(name)


def _saved_labels(suite: Suite | None, store: Any) -> pd.DataFrame:
    if suite is None:
        raise AgreementError(
            "agreement() without labels reads the labels saved in the run store for the run's suite, but "
            "a bare results frame has no suite: pass a wb.Run (or a saved run's id or label), or the "
            "labels themselves."
        )
    found = stored_labels(suite, store)
    if not len(found):
        where = store.path if isinstance(store, Store) else Store(store).path
        raise AgreementError(
            f"no labels of suite {suite.name!r} are saved in the run store at {where}. Label rows with "
            "wb.Labeler(df, suite, task=...), save labels with wb.save_labels(labels, suite), or pass "
            "labels= to agreement()."
        )
    return found


def _split_by(by: Any, labels: Any, columns: Any) -> tuple[pd.Series | None, Any]:
    """The group of each row label (a Series indexed by row), and the labels without a wide
    frame's group column."""
    if by is None:
        return None, labels
    if isinstance(by, pd.Series):
        return by, labels
    if isinstance(by, Mapping):
        return pd.Series(dict(by), dtype=object), labels
    if isinstance(by, str) and isinstance(labels, pd.DataFrame) and by in labels.columns:
        if is_long(labels) and columns is None:
            per_row = labels[["row", by]].drop_duplicates()
            clash = per_row["row"].duplicated(keep=False)
            if clash.any():
                first = per_row[clash].iloc[0]["row"]
                seen = per_row.loc[per_row["row"] == first, by].tolist()
                raise AgreementError(
                    f"by={by!r}: row {_plain(first)!r} has several values of {by!r} in the labels "
                    f"({cap_list(seen)}); a row belongs to one group."
                )
            return pd.Series(per_row[by].to_numpy(), index=per_row["row"].to_numpy()), labels
        return labels[by], labels if columns is not None else labels.drop(columns=by)
    if isinstance(by, str):
        have = [str(c) for c in labels.columns] if isinstance(labels, pd.DataFrame) else []
        raise AgreementError(
            f"by={by!r} is not a column of the labels frame{did_you_mean(by, have)}. Pass a column of the "
            "labels, or a Series from row label to group such as by=df['doc_id']."
        )
    raise AgreementError(
        f"by= must be a column name, a Series or a dict from row label to group, not {type(by).__name__}."
    )


@dataclass
class _Check:
    """One (task, criterion) of the run: its cells, indexed by row label."""

    task: str
    criterion: str
    kind: str
    cells: pd.DataFrame
    index: pd.Index


def _checks(results: pd.DataFrame) -> dict[tuple[str, str], _Check]:
    crit = results["criterion"].astype(object).where(results["criterion"].notna(), "")
    task = results["task"].astype(object)
    out: dict[tuple[str, str], _Check] = {}
    for (t, c), part in results.groupby([task, crit], sort=False, observed=True):
        kind = str(part["kind"].iloc[0]) if "kind" in part.columns else ("assertion" if c == "" else "judge")
        index = pd.Index(part["row"].to_numpy())
        if index.has_duplicates:
            raise AgreementError(
                f"agreement(): the results hold row {_plain(index[index.duplicated()][0])!r} of "
                f"{_name(str(t), str(c))!r} more than once; pass one run's results, not several concatenated."
            )
        out[(str(t), str(c))] = _Check(str(t), str(c), kind, part, index)
    return out


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds: messages show ``3``, not ``np.int64(3)``."""
    return value.item() if isinstance(value, np.generic) else value


def _plains(values: Any) -> list[Any]:
    return [_plain(v) for v in values]


def _name(task: str, criterion: str) -> str:
    return f"{task}.{criterion}" if criterion else task


def _agree(
    results: pd.DataFrame,
    suite: Suite | None,
    name: str,
    labels: pd.DataFrame,
    groups: pd.Series | None,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> Agreement:
    if groups is not None and groups.index.has_duplicates:
        dup = groups.index[groups.index.duplicated()][0]
        raise AgreementError(
            f"by= gives row {_plain(dup)!r} more than one group; pass one group per row label, "
            "e.g. df['doc_id']."
        )
    checks = _checks(results)
    named = labels[["task", "criterion"]].drop_duplicates()
    label_checks = list(zip(named["task"].astype(str), named["criterion"].astype(str)))
    unknown = [k for k in label_checks if k not in checks]
    if unknown:
        have = [_name(*k) for k in checks]
        shown = [_name(*k) for k in unknown]
        raise AgreementError(
            f"the labels name {len(unknown)} (task, criterion) the run does not have: {cap_list(shown)}"
            f"{did_you_mean(shown[0], have) or '.'}\nThe run has {cap_list(have)}. Fix the task or criterion "
            "names of the labels (an assertion's criterion is '')."
        )
    all_rows = pd.Index(pd.unique(results["row"].to_numpy()))
    in_run = all_rows.get_indexer(labels["row"].to_numpy()) >= 0
    if not in_run.any():
        raise AgreementError(
            "no labelled row is in the run: labels have rows "
            f"{cap_list(_plains(pd.unique(labels['row'].to_numpy())[:5]), 5)}, "
            f"the run has {cap_list(_plains(all_rows[:5]), 5)}. Rows are matched on the evaluated "
            "DataFrame's index labels: index the labels the same way."
        )
    _check_duplicates(labels)
    if groups is not None and not pd.Index(groups.index).isin(labels["row"].to_numpy()).any():
        raise AgreementError(
            f"by= has a group for no labelled row: its index holds {cap_list(_plains(groups.index[:5]), 5)}, "
            f"the labels have rows {cap_list(_plains(pd.unique(labels['row'].to_numpy())[:5]), 5)}. Pass a "
            "Series indexed like the evaluated DataFrame, e.g. by=df['doc_id']."
        )
    fingerprint = (
        labels["criterion_fingerprint"].astype(object).where(labels["criterion_fingerprint"].notna(), "")
    )
    units = labels.groupby(
        [labels["task"].astype(str), labels["criterion"].astype(str), fingerprint], sort=False
    ).indices
    order = {k: i for i, k in enumerate(checks)}
    problems: list[str] = []
    prepared = []
    keyed = [(cast(tuple[str, str, str], key), idx) for key, idx in units.items()]
    for (task, criterion, fp), idx in sorted(keyed, key=lambda kv: order[kv[0][:2]]):
        check = checks[(task, criterion)]
        part = labels.iloc[idx]
        scale = _scale(suite, check, part)
        x, passed = _human_values(part, scale, _name(task, criterion), problems)
        if np.isnan(x).all() and not np.isnan(passed).all() and check.cells["passed"].isna().all():
            problems.append(
                f"{_name(task, criterion)}: the labels give pass/fail, but the judge neither passes nor "
                "fails (the criterion has no threshold); set threshold= on the criterion, or label scores"
            )
        prepared.append((check, str(fp), part, scale, x, passed))
    if problems:
        raise AgreementError(
            f"{len(problems)} problem{'s' if len(problems) > 1 else ''} with the labels:\n"
            + "\n".join(f"  - {p}" for p in problems[:20])
            + (f"\n  ... +{len(problems) - 20} more" if len(problems) > 20 else "")
        )
    rows, pairs, humans, excluded, cells = [], [], [], [], {}
    for check, fp, part, scale, x, passed in prepared:
        unit = _Unit(check, fp, part, scale, x, passed, all_rows, groups)
        rows.append(
            {**unit.table_row(confidence, n_resamples, seed), "current_text": _current(suite, check, fp)}
        )
        pairs.append(unit.pairs())
        humans.append(
            {"task": check.task, "criterion": check.criterion, "criterion_fingerprint": fp, **unit.humans}
        )
        excluded.append(
            {"task": check.task, "criterion": check.criterion, "criterion_fingerprint": fp, **unit.excluded}
        )
        cells[(check.task, check.criterion, fp)] = unit.cells()
    return Agreement(
        name=name,
        table=_typed(pd.DataFrame(rows), TABLE_COLUMNS),
        pairs=pd.concat(pairs, ignore_index=True),
        humans=_typed(pd.DataFrame(humans), ("task", "criterion", "criterion_fingerprint", *HUMAN_COLUMNS)),
        excluded=_typed(
            pd.DataFrame(excluded), ("task", "criterion", "criterion_fingerprint", *EXCLUDED_COLUMNS)
        ),
        confidence=confidence,
        n_resamples=n_resamples,
        _cells=cells,
    )


def _current(suite: Suite | None, check: _Check, fingerprint: str) -> bool | None:
    """Whether labels given under ``fingerprint`` were given under the criterion text the
    run's suite has; ``None`` when either is unknown."""
    if suite is None or not fingerprint:
        return None
    try:
        return criterion_fingerprint(suite, check.task, check.criterion) == fingerprint
    except AgreementError:  # a cell the suite does not declare (a task's overall score)
        return None


_INT_COLUMNS = {"n", "n_pass_fail", "groups", "annotators", "units", "excluded", *EXCLUDED_COLUMNS}
_TEXT_COLUMNS = {"task", "criterion", "criterion_fingerprint", "scale"}


def _typed(frame: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    out = pd.DataFrame(index=range(len(frame)))
    for c in names:
        values = frame[c] if c in frame.columns else pd.Series([None] * len(frame))
        if c in _TEXT_COLUMNS:
            out[c] = pd.array(values.to_numpy(dtype=object), dtype="string")
        elif c == "current_text":
            out[c] = pd.array(values.to_numpy(dtype=object), dtype="boolean")
        elif c in _INT_COLUMNS:
            out[c] = pd.array(values.to_numpy(dtype=object), dtype="Int64")
        else:
            v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
            out[c] = pd.arrays.FloatingArray(np.nan_to_num(v), np.isnan(v))
    if "criterion_fingerprint" in out.columns:
        out["criterion_fingerprint"] = out["criterion_fingerprint"].replace("", pd.NA)
    return out


def _check_duplicates(labels: pd.DataFrame) -> None:
    key = ["row", "task", "criterion", "annotator", "criterion_fingerprint"]
    # integer codes per column (missing is a code of its own): duplicated() on ints is fast
    codes = pd.DataFrame({c: pd.factorize(labels[c], use_na_sentinel=False)[0] for c in key})
    dup = codes.duplicated(keep=False).to_numpy()
    if dup.any():
        first = labels[dup].iloc[0]
        who = "" if pd.isna(first["annotator"]) else f" by annotator {first['annotator']!r}"
        raise AgreementError(
            f"the labels hold {int(dup.sum())} repeated labels, e.g. row {_plain(first['row'])!r} of "
            f"{_name(first['task'], first['criterion'])!r}{who}. Keep one label per (row, task, criterion, "
            "annotator), or name who gave each label in an 'annotator' column."
        )


def _scale(suite: Suite | None, check: _Check, part: pd.DataFrame) -> Scale:
    usable = check.cells[check.cells["status"].astype(str).isin(_USABLE).to_numpy()]
    return scale_of(
        suite,
        check.task,
        check.criterion,
        check.kind,
        usable,
        part["score"].to_numpy(dtype=np.float64, na_value=np.nan),
        object_values(part["label"]),
    )


def _human_values(
    part: pd.DataFrame, scale: Scale, name: str, problems: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Each label's value on the scale (NaN: none) and its own ``passed`` as 1.0/0.0 (NaN: not
    given). A problem is added for every value the scale does not allow."""
    score = part["score"].to_numpy(dtype=np.float64, na_value=np.nan)
    label = object_values(part["label"])
    given = part["passed"].to_numpy(dtype=np.float64, na_value=np.nan)
    x = np.full(len(part), np.nan)
    has_score, has_label = ~np.isnan(score), pd.notna(label)
    if has_score.any():
        if scale.level == "nominal":
            problems.append(
                f"{name} is judged on {scale.described}, but the labels give it scores "
                f"({cap_list(_shown(score[has_score]), 5)}); put its labels in the 'label' column"
            )
        else:
            lo = -np.inf if scale.low is None else scale.low
            hi = np.inf if scale.high is None else scale.high
            outside = has_score & ((score < lo - 1e-9) | (score > hi + 1e-9))
            if outside.any():
                problems.append(
                    f"{name} is judged on {scale.described}, but {int(outside.sum())} labels are outside it: "
                    f"{cap_list(_shown(score[outside]), 5)}; rescale them to the judge's scale"
                )
            x = np.where(has_score, score, x)
    by_label = has_label & ~has_score
    if by_label.any():
        mapped = pd.Series(label[by_label], dtype=object).map(scale.label_values).to_numpy(dtype=np.float64)
        bad = np.isnan(mapped)
        if bad.any():
            allowed = list(scale.label_values) or "scores, not labels"
            problems.append(
                f"{name} is judged on {scale.described}, but the labels give it "
                f"{cap_list(sorted(set(map(str, label[by_label][bad]))), 5)}; allowed: {allowed}"
            )
        x[by_label] = mapped
    if scale.level == "binary":  # pass/fail is the scale itself: a passed label is its value
        fill = np.isnan(x) & ~np.isnan(given)
        x[fill] = given[fill]
    return x, given


def _shown(values: np.ndarray) -> list[Any]:
    return [int(v) if float(v).is_integer() else float(v) for v in pd.unique(values)[:5]]


class _Unit:
    """One (task, criterion, fingerprint): its labels aggregated per row and paired with the judge."""

    def __init__(
        self,
        check: _Check,
        fingerprint: str,
        part: pd.DataFrame,
        scale: Scale,
        x: np.ndarray,
        passed: np.ndarray,
        all_rows: pd.Index,
        groups: pd.Series | None,
    ) -> None:
        self.check, self.fingerprint, self.scale = check, fingerprint, scale
        label_rows = pd.Index(part["row"].to_numpy())
        cell = check.index.get_indexer(label_rows)
        in_run = all_rows.get_indexer(label_rows) >= 0
        has_any = ~np.isnan(x) | ~np.isnan(passed)

        def distinct(mask: np.ndarray) -> int:
            return int(label_rows[mask].nunique())

        self.excluded = {
            "not_in_run": distinct(~in_run),
            "no_judge_cell": distinct(in_run & (cell < 0)),
        }
        keep = cell >= 0
        cell, x, passed = cell[keep], x[keep], passed[keep]
        annotator = part["annotator"].to_numpy(dtype=object, na_value="")[keep]
        has_any = has_any[keep]
        # rows where every label is missing: the person skipped them
        any_value = np.zeros(len(check.index), bool)
        np.logical_or.at(any_value, cell, has_any)
        labelled = np.zeros(len(check.index), bool)
        labelled[cell] = True
        self.excluded["human_skipped"] = int((labelled & ~any_value).sum())
        status = check.cells["status"].astype(str).to_numpy()
        usable = np.isin(status, _USABLE)
        judged = labelled & any_value
        self.excluded["judge_error"] = int((judged & (status == "error")).sum())
        self.excluded["judge_skipped"] = int((judged & (status == "skipped")).sum())
        use_cells = np.flatnonzero(judged & usable)
        self.position = use_cells  # cell positions of the paired rows, in run order
        code = np.full(len(check.index), -1)
        code[use_cells] = np.arange(len(use_cells))
        self.row_code = code[cell]
        raw = self.row_code >= 0
        self.raw_row, self.raw_x, self.raw_passed = self.row_code[raw], x[raw], passed[raw]
        self.raw_annotator = pd.factorize(annotator[raw])[0]
        self._aggregate()
        self._judge()
        self.group = None
        if groups is not None:
            self.group = groups.reindex(check.index[use_cells]).to_numpy(dtype=object)
        self.humans = human_figures(
            self.raw_row,
            self.raw_annotator,
            self._human_scale_values(),
            self._human_scale(),
            self._human_judge(),
        )
        self.excluded["no_majority"] = int(self.tied.sum())

    # --- per row: the people's values and the judge's -----------------------------

    def _aggregate(self) -> None:
        """The people's value per row: mean (ordered scales) or majority (labels), the category
        it falls in, and passed: the majority of the labels' own pass/fail where they give one,
        else what the row's category (or mean) passes, so pass/fail figures agree with the
        confusion matrix."""
        k = len(self.position)
        r, x, p = self.raw_row, self.raw_x, self.raw_passed
        scale = self.scale
        has = ~np.isnan(x)
        m = np.bincount(r[has], minlength=k)
        self.m = np.bincount(r[has | ~np.isnan(p)], minlength=k)  # annotators who gave a label
        tied = np.zeros(k, bool)
        if scale.ordered:
            total = np.bincount(r[has], weights=x[has], minlength=k)
            lo, hi = np.full(k, np.inf), np.full(k, -np.inf)
            np.minimum.at(lo, r[has], x[has])
            np.maximum.at(hi, r[has], x[has])
            self.human_x = np.where(m > 0, total / np.maximum(m, 1), np.nan)
            self.human_cat = scale.category(self.human_x)
            self.spread = np.where(m > 0, hi - lo, np.nan)
        else:
            counts = np.zeros((k, len(scale.points)), np.int64)
            np.add.at(counts, (r[has], scale.category(x[has])), 1)
            top = counts.max(axis=1)
            tie = (m > 0) & ((counts == top[:, None]).sum(axis=1) > 1)
            self.human_cat = np.where((m > 0) & ~tie, counts.argmax(axis=1), -1)
            self.human_x = np.where(self.human_cat >= 0, scale.points[np.maximum(self.human_cat, 0)], np.nan)
            self.spread = np.where(m > 0, 1 - top / np.maximum(m, 1), np.nan)
            self.counts = counts
            tied |= tie
        votes = ~np.isnan(p)
        yes = np.bincount(r[votes], weights=p[votes], minlength=k)
        n_votes = np.bincount(r[votes], minlength=k)
        vote_tie = (n_votes > 0) & (2 * yes == n_votes)
        voted = np.where((n_votes > 0) & ~vote_tie, (2 * yes > n_votes).astype(float), np.nan)
        if scale.threshold is None:
            derived = np.full(k, np.nan)
        else:
            value = scale.points[np.maximum(self.human_cat, 0)] if len(scale.points) else self.human_x
            known = self.human_cat >= 0 if len(scale.points) else ~np.isnan(self.human_x)
            derived = np.where(known, (value >= scale.threshold).astype(float), np.nan)
        self.human_passed = np.where(n_votes > 0, voted, derived)
        self.pass_share = np.where(n_votes > 0, yes / np.maximum(n_votes, 1), np.nan)
        self.tied = tied | vote_tie
        show = len(scale.names) > 0 and (scale.level in ("nominal", "binary") or bool(scale.label_values))
        names = np.asarray(scale.names, dtype=object)
        self.human_label = (
            np.where(self.human_cat >= 0, names[np.maximum(self.human_cat, 0)], None)
            if show
            else np.full(k, None, dtype=object)
        )

    def _judge(self) -> None:
        cells = self.check.cells.iloc[self.position]
        scale = self.scale
        if scale.judge_field == "passed":
            jx = cells["passed"].to_numpy(dtype=np.float64, na_value=np.nan)
        elif scale.judge_field == "label":
            mapped = pd.Series(object_values(cells["label"]), dtype=object).map(scale.label_values)
            jx = mapped.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            jx = cells["score"].to_numpy(dtype=np.float64, na_value=np.nan)
        self.judge_x = jx
        self.judge_cat = scale.category(jx)
        self.judge_passed = cells["passed"].to_numpy(dtype=np.float64, na_value=np.nan)
        self.judge_score = cells["score"].to_numpy(dtype=np.float64, na_value=np.nan)
        none = np.full(len(cells), None, dtype=object)
        self.judge_label = object_values(cells["label"]) if "label" in cells else none
        self.reason = object_values(cells["reason"]) if "reason" in cells else none

    def _human_scale(self) -> Scale:
        if np.isnan(self.raw_x).all() and not np.isnan(self.raw_passed).all():
            return binary_scale("passed")
        return self.scale

    def _human_scale_values(self) -> np.ndarray:
        return self.raw_passed if self._human_scale() is not self.scale else self.raw_x

    def _human_judge(self) -> np.ndarray:
        return self.judge_passed if self._human_scale() is not self.scale else self.judge_x

    # --- the figures --------------------------------------------------------------

    def table_row(self, confidence: float, n_resamples: int, seed: int) -> dict[str, Any]:
        scale, nan = self.scale, float("nan")
        both = ~np.isnan(self.judge_x) & ~np.isnan(self.human_x)
        jx, hx = self.judge_x[both], self.human_x[both]
        row: dict[str, Any] = {
            "task": self.check.task,
            "criterion": self.check.criterion,
            "criterion_fingerprint": self.fingerprint,
            "scale": scale.level,
            "n": int(both.sum()),
        }
        if len(scale.points) and both.any():
            jc, hc = self.judge_cat[both], self.human_cat[both]
            row["exact"] = float((jc == hc).mean())
            if scale.level == "ordinal":
                row["within_one"] = float((np.abs(jc - hc) <= 1).mean())
            counts = confusion_counts(jc, hc, len(scale.points))
            row["kappa"] = cohen_kappa(counts, "quadratic" if scale.level == "ordinal" else "none")
        if scale.ordered and both.any():
            row["spearman"], row["kendall"] = correlations(jx, hx)
            rng = rng_for(seed, self.check.task, self.check.criterion, self.fingerprint)
            lo_r, hi_r, lo_t, hi_t = bootstrap_correlations(jx, hx, n_resamples, confidence, rng)
            row.update(spearman_low=lo_r, spearman_high=hi_r, kendall_low=lo_t, kendall_high=hi_t)
            if self.group is not None:
                row.update(self._grouped(both, confidence, n_resamples, seed))
        pp = ~np.isnan(self.judge_passed) & ~np.isnan(self.human_passed)
        row["n_pass_fail"] = int(pp.sum())
        if pp.any():
            row.update(pass_metrics(self.judge_passed[pp], self.human_passed[pp]))
        h = self.humans
        row["annotators"] = h["annotators"]
        level = (
            "ordinal" if scale.level == "ordinal" else "interval" if scale.level == "interval" else "nominal"
        )
        row["alpha"] = h[f"alpha_{level}"] if self._human_scale() is self.scale else h["alpha_nominal"]
        row["human_spearman"] = h["human_spearman"]
        row["human_kappa"] = h["human_kappa"]
        row["excluded"] = sum(self.excluded.values())
        for c in TABLE_COLUMNS:
            row.setdefault(c, nan)
        return row

    def _grouped(self, both: np.ndarray, confidence: float, n_resamples: int, seed: int) -> dict[str, Any]:
        assert self.group is not None
        known = both & pd.notna(self.group)
        codes, _ = pd.factorize(self.group[known])
        rho, tau = grouped_correlations(self.judge_x[known], self.human_x[known], codes)
        out: dict[str, Any] = {"groups": int((~np.isnan(rho)).sum())}
        rng = rng_for(seed, "by", self.check.task, self.check.criterion, self.fingerprint)
        for label, values in (("spearman", rho), ("kendall", tau)):
            ok = values[~np.isnan(values)]
            out[f"{label}_grouped"] = mean_or_nan(ok)
            low, high = bootstrap_mean(ok, n_resamples, confidence, rng)
            out[f"{label}_grouped_low"], out[f"{label}_grouped_high"] = low, high
        return out

    def pairs(self) -> pd.DataFrame:
        scale = self.scale
        jx, hx = self.judge_x, self.human_x
        if scale.ordered:
            difference = np.abs(jx - hx)
            differs = self.judge_cat != self.human_cat if len(scale.points) else difference > 0
        else:
            k = len(self.position)
            share = np.full(k, np.nan)
            ok = (self.judge_cat >= 0) & (self.m > 0)
            n_values = self.counts.sum(axis=1)
            share[ok] = 1 - self.counts[np.flatnonzero(ok), self.judge_cat[ok]] / np.maximum(n_values[ok], 1)
            difference = np.where(n_values > 0, share, np.nan)
            differs = difference > 0
        only_pass = np.isnan(difference)
        pass_diff = np.abs(self.judge_passed - self.pass_share)
        difference = np.where(only_pass, pass_diff, difference)
        differs = np.where(only_pass, pass_diff > 0, differs) & ~np.isnan(difference)
        keep = ~np.isnan(difference)
        k = int(keep.sum())
        rows = self.check.index[self.position][keep]
        judge_score = self.judge_x if scale.level != "nominal" else np.full(len(jx), np.nan)
        human_score = self.human_x if scale.level != "nominal" else np.full(len(jx), np.nan)
        if scale.level == "binary":  # the share of people who passed the row
            given = self.counts.sum(axis=1)
            human_score = np.where(given > 0, self.counts[:, 1] / np.maximum(given, 1), np.nan)
        frame = {
            "row": rows,
            "task": pd.array([self.check.task] * k, dtype="string"),
            "criterion": pd.array([self.check.criterion] * k, dtype="string"),
            "criterion_fingerprint": pd.array([self.fingerprint or None] * k, dtype="string"),
            "judge_score": _floats(judge_score[keep]),
            "human_score": _floats(human_score[keep]),
            "difference": _floats(difference[keep]),
            "judge_label": pd.array(self.judge_label[keep], dtype="string"),
            "human_label": pd.array(self.human_label[keep], dtype="string"),
            "judge_passed": _booleans(self.judge_passed[keep]),
            "human_passed": _booleans(self.human_passed[keep]),
            "annotators": pd.array(self.m[keep], dtype="Int64"),
            "human_spread": _floats(self.spread[keep]),
            "reason": pd.array(self.reason[keep], dtype="string"),
            "group": self.group[keep] if self.group is not None else np.full(k, None, dtype=object),
            "disagrees": differs[keep],
        }
        out = pd.DataFrame(frame)
        assert tuple(out.columns) == PAIR_COLUMNS
        return out

    def cells(self) -> Cells:
        return Cells(
            scale=self.scale,
            judge=self.judge_cat,
            human=self.human_cat,
            judge_passed=self.judge_passed,
            human_passed=self.human_passed,
        )


def _floats(values: np.ndarray) -> pd.arrays.FloatingArray:
    v = np.asarray(values, dtype=np.float64)
    return pd.arrays.FloatingArray(np.nan_to_num(v), np.isnan(v))


def _booleans(values: np.ndarray) -> pd.arrays.BooleanArray:
    v = np.asarray(values, dtype=np.float64)
    return pd.arrays.BooleanArray(v == 1, np.isnan(v))
