"""The outcome of :func:`workbench.agreement`: tables of figures, the paired rows, confusion matrices."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..display import findings_html
from ..errors import AgreementError, cap_list, did_you_mean
from ._scale import Scale

__all__ = ["EXCLUDED_COLUMNS", "PAIR_COLUMNS", "TABLE_COLUMNS", "Agreement"]

TABLE_COLUMNS: tuple[str, ...] = (
    "task",
    "criterion",
    "criterion_fingerprint",
    "current_text",
    "scale",
    "n",
    "exact",
    "within_one",
    "kappa",
    "human_kappa",
    "spearman",
    "spearman_low",
    "spearman_high",
    "human_spearman",
    "kendall",
    "kendall_low",
    "kendall_high",
    "groups",
    "spearman_grouped",
    "spearman_grouped_low",
    "spearman_grouped_high",
    "kendall_grouped",
    "kendall_grouped_low",
    "kendall_grouped_high",
    "n_pass_fail",
    "mcc",
    "f1",
    "precision",
    "recall",
    "false_pass_rate",
    "false_fail_rate",
    "annotators",
    "alpha",
    "excluded",
)
"""The columns of ``Agreement.table``, one row per (task, criterion[, criterion_fingerprint])."""

PAIR_COLUMNS: tuple[str, ...] = (
    "row",
    "task",
    "criterion",
    "criterion_fingerprint",
    "judge_score",
    "human_score",
    "difference",
    "judge_label",
    "human_label",
    "judge_passed",
    "human_passed",
    "annotators",
    "human_spread",
    "reason",
    "group",
    "disagrees",
)
"""The columns of ``Agreement.pairs``, one row per paired (row, task, criterion)."""

EXCLUDED_COLUMNS: tuple[str, ...] = (
    "judge_error",
    "judge_skipped",
    "no_judge_cell",
    "not_in_run",
    "human_skipped",
    "no_majority",
)
"""Why labelled rows were left out, counted per check in ``Agreement.excluded``."""

_SUMMARY = (
    "task",
    "criterion",
    "scale",
    "n",
    "exact",
    "kappa",
    "human_kappa",
    "spearman",
    "spearman_low",
    "spearman_high",
    "human_spearman",
    "mcc",
    "alpha",
    "excluded",
)


@dataclass(frozen=True)
class Cells:
    """One check's paired categories, for its confusion matrices."""

    scale: Scale
    judge: np.ndarray
    human: np.ndarray
    judge_passed: np.ndarray
    human_passed: np.ndarray


@dataclass(eq=False)
class Agreement:
    """How well a judge agrees with people, per (task, criterion): what :func:`agreement` returns.

    Attributes:
        name: the judge run's label or id (``"judge"`` for a bare results frame).
        table: one row per (task, criterion), or per criterion version when the labels carry
            a ``criterion_fingerprint``; the columns of :data:`TABLE_COLUMNS`:

            * ``current_text``: whether the labels of that row were given under the criterion
              text the run's suite has (False: under another text, reported apart; missing
              when the labels carry no fingerprint or the run no suite);
            * ``scale``: ``ordinal``, ``interval``, ``nominal`` or ``binary``; ``n``: the rows
              paired on the scale; ``exact``: share of rows in the same category;
              ``within_one``: at most one point apart (ordinal); ``kappa``: Cohen's kappa,
              quadratic-weighted on ordinal scales, unweighted otherwise;
            * ``spearman``, ``kendall`` (tau-b), from scipy, with ``_low``/``_high`` bootstrap
              percentile intervals (ordinal and interval scales);
            * with ``by=``: ``groups`` and the mean of the per-group correlations,
              ``spearman_grouped``/``kendall_grouped``, with intervals from resampling the groups;
            * ``n_pass_fail`` rows paired on pass/fail and ``mcc``, ``f1``, ``precision``,
              ``recall``, ``false_pass_rate``, ``false_fail_rate`` ("pass" is the positive class);
            * ``annotators``; with several: ``alpha`` (Krippendorff's, at the scale's level)
              and the leave-one-out human ceiling ``human_kappa``, ``human_spearman`` (see
              ``humans``);
            * ``excluded``: labelled rows left out of some figure (see ``excluded``).

            A figure that cannot be computed (too few rows, a constant side) is missing, never 0.
        pairs: every paired row: the judge's and the people's score, label and passed, their
            ``difference`` (points apart on ordered scales; the share of annotators who gave
            another label or pass/fail otherwise), ``annotators``, ``human_spread`` (how far the
            people were apart), the judge's ``reason``, the row's ``group`` and ``disagrees``.
        humans: per check, the annotators' agreement among themselves, on the rows paired with
            the judge (so it sits beside the judge's figures): ``units`` (rows with at least two
            labels), Krippendorff's ``alpha_nominal``, ``alpha_ordinal``,
            ``alpha_interval``; ``human_spearman``/``human_kappa``: each annotator against the
            mean (or majority) of the others, averaged, with ``_min``/``_max`` over annotators;
            ``judge_spearman_loo``/``judge_kappa_loo``: the judge against the same references.
        excluded: per check, labelled rows left out and why (:data:`EXCLUDED_COLUMNS`).
        confidence: the level of the intervals.
        n_resamples: the bootstrap resamples behind them.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> results = pd.DataFrame({"row": [0, 1, 2, 3], "task": "safe", "criterion": "",
        ...                         "status": ["passed", "passed", "failed", "error"],
        ...                         "passed": [True, True, False, None], "score": None})
        >>> people = pd.DataFrame({"row": [0, 1, 2, 3], "task": "safe", "criterion": "",
        ...                        "passed": [True, False, False, True]})
        >>> ag = wb.agreement(results, people)
        >>> ag.table[["task", "scale", "n", "exact", "precision", "recall", "false_pass_rate", "excluded"]]
           task   scale  n     exact  precision  recall  false_pass_rate  excluded
        0  safe  binary  3  0.666667        0.5     1.0              0.5         1
        >>> ag.confusion("safe")
        human  fail  pass
        judge
        fail      1     0
        pass      1     1
    """

    name: str
    table: pd.DataFrame
    pairs: pd.DataFrame
    humans: pd.DataFrame
    excluded: pd.DataFrame
    confidence: float = 0.95
    n_resamples: int = 1000
    _cells: dict[tuple[str, str, str], Cells] = field(default_factory=dict, repr=False)

    @property
    def disagreements(self) -> pd.DataFrame:
        """The paired rows where judge and people differ, most different first (then those
        where the people agreed among themselves first), with the judge's reason and the
        people's label: where to read the judge's mistakes, or the labels'."""
        d = self.pairs[self.pairs["disagrees"].to_numpy(dtype=bool)]
        spread = d["human_spread"].to_numpy(dtype=np.float64, na_value=np.inf)
        diff = d["difference"].to_numpy(dtype=np.float64, na_value=0.0)
        order = np.lexsort((spread, -diff))
        return d.iloc[order].drop(columns="disagrees").reset_index(drop=True)

    def confusion(
        self,
        task: str,
        criterion: str | None = None,
        *,
        passed: bool = False,
        criterion_fingerprint: str | None = None,
    ) -> pd.DataFrame:
        """Counts of the paired rows by the judge's category (down) and the people's (across),
        every point of the scale shown. ``passed=True`` gives the pass/fail matrix instead.

        ``criterion`` may be left out when the task has one labelled criterion (or is an
        assertion); ``criterion_fingerprint`` picks a criterion version when the labels had
        several.

        Raises:
            AgreementError: no such (task, criterion) was labelled, or it needs a fingerprint.
        """
        key = self._key(task, criterion, criterion_fingerprint)
        cells = self._cells[key]
        if passed:
            ok = ~np.isnan(cells.judge_passed) & ~np.isnan(cells.human_passed)
            judge, human = cells.judge_passed[ok].astype(np.int64), cells.human_passed[ok].astype(np.int64)
            names: tuple[str, ...] = ("fail", "pass")
        else:
            names = cells.scale.names
            if not names:
                raise AgreementError(
                    f"{_name(key[0], key[1])} is compared as numbers without points on a scale, so it has no "
                    "confusion matrix; use passed=True, or agreement.pairs for the values."
                )
            ok = (cells.judge >= 0) & (cells.human >= 0)
            judge, human = cells.judge[ok], cells.human[ok]
        k = len(names)
        counts = np.bincount(judge * k + human, minlength=k * k).reshape(k, k)
        return pd.DataFrame(
            counts,
            index=pd.Index(list(names), name="judge"),
            columns=pd.Index(list(names), name="human"),
        )

    def _key(self, task: str, criterion: str | None, fingerprint: str | None) -> tuple[str, str, str]:
        keys = list(self._cells)
        hits = [
            k
            for k in keys
            if k[0] == task
            and (criterion is None or k[1] == criterion)
            and (fingerprint is None or k[2] == fingerprint)
        ]
        checks = list(dict.fromkeys(_name(k[0], k[1]) for k in keys))
        wanted = _name(task, criterion or "")
        if not hits:
            raise AgreementError(
                f"no labelled {wanted!r}{did_you_mean(wanted, checks)}; labelled: {cap_list(checks)}."
            )
        if len({k[:2] for k in hits}) > 1:
            crits = [k[1] for k in hits]
            raise AgreementError(
                f"task {task!r} has several labelled criteria ({cap_list(crits)}); name one: "
                f"confusion({task!r}, {crits[0]!r})."
            )
        if len(hits) > 1:
            fps = [k[2] or "(none)" for k in hits]
            raise AgreementError(
                f"{wanted!r} was labelled under several criterion versions ({cap_list(fps)}); pick one with "
                "criterion_fingerprint=..."
            )
        return hits[0]

    def summary(self) -> pd.DataFrame:
        """The table's headline columns: scale, n, exact agreement, kappa, Spearman with its
        interval, MCC, and the human figures beside the judge's; with criterion versions
        (labels that carry a fingerprint), the fingerprint and ``current_text`` after the
        criterion."""
        columns = list(_SUMMARY)
        if self.table["criterion_fingerprint"].notna().any():
            columns[2:2] = ["criterion_fingerprint", "current_text"]
        return self.table[columns]

    def _lines(self) -> list[str]:
        t = self.table
        rows = self.pairs["row"].nunique() if len(self.pairs) else 0
        checks = "check" if len(t) == 1 else "checks"
        lines = [f"Agreement of {self.name!r} with human labels: {len(t)} {checks}, {rows:,} labelled rows"]
        pct = f"{self.confidence:.0%}"
        for r in t.to_dict("records"):
            parts = [f"n={r['n']}"]
            if pd.notna(r["exact"]):
                parts.append(f"exact {r['exact']:.2f}")
            if pd.notna(r["kappa"]):
                humans = f" (humans {r['human_kappa']:.2f})" if pd.notna(r["human_kappa"]) else ""
                parts.append(f"kappa {r['kappa']:.2f}{humans}")
            if pd.notna(r["spearman"]):
                low, high = r["spearman_low"], r["spearman_high"]
                interval = f" [{low:.2f}, {high:.2f}]" if pd.notna(low) else ""
                humans = f" (humans {r['human_spearman']:.2f})" if pd.notna(r["human_spearman"]) else ""
                parts.append(f"Spearman {r['spearman']:.2f}{interval}{humans}")
            if pd.notna(r["spearman_grouped"]):
                parts.append(f"per group {r['spearman_grouped']:.2f} over {r['groups']} groups")
            if pd.notna(r["mcc"]):
                parts.append(f"MCC {r['mcc']:.2f}")
            if pd.notna(r["alpha"]):
                parts.append(f"alpha {r['alpha']:.2f}")
            if r["excluded"]:
                parts.append(f"{r['excluded']} excluded")
            fp = r["criterion_fingerprint"]
            version = f" @{fp}" if pd.notna(fp) else ""
            if pd.notna(r["current_text"]) and not r["current_text"]:
                version += " (labelled under another criterion text)"
            name = _name(str(r["task"]), str(r["criterion"]))
            lines.append(f"  {name}{version} ({r['scale']}): " + ", ".join(parts))
        lines.append(f"  intervals: {pct} bootstrap percentile, {self.n_resamples:,} resamples")
        lines.append(f"  {int(self.pairs['disagrees'].sum()):,} disagreements (see .disagreements)")
        return lines

    def __repr__(self) -> str:
        return "\n".join(self._lines())

    def _repr_html_(self) -> str:
        return findings_html(self._lines(), self.summary(), 3)


def _name(task: str, criterion: str) -> str:
    return f"{task}.{criterion}" if criterion else task
