"""How far to trust a judge: its agreement with human labels, per (task, criterion).

:func:`agreement` pairs a run's judge cells with people's labels on (row, task, criterion)
and reports, per criterion, what fits its scale: exact and within-one agreement, Cohen's
kappa, Spearman and Kendall correlations with bootstrap intervals (pooled, and per group as
G-Eval reports SummEval), and for pass/fail MCC, F1, precision, recall and the false-pass
and false-fail rates. With several annotators' raw labels it adds their agreement among
themselves (Krippendorff's alpha, :func:`krippendorff_alpha`) and the leave-one-out human
ceiling beside the judge's figure. Labels come as one canonical long frame
(:func:`labels_frame`, :data:`LABEL_COLUMNS`); wide frames convert to it. Labels kept in the
run store (:func:`save_labels`, :func:`load_labels`, ``wb.Labeler``) carry who gave them,
when, and the criterion text they were given under: each criterion version is reported apart.

Example:
    >>> import pandas as pd, workbench as wb
    >>> results = pd.DataFrame({"row": ["a", "b", "c", "d"], "task": "quality", "criterion": "tone",
    ...                         "status": "scored", "passed": pd.NA, "score": [1, 3, 4, 5]})
    >>> people = pd.DataFrame({"tone": [2, 3, 4, 5]}, index=["a", "b", "c", "d"])
    >>> ag = wb.agreement(results, people, columns={"tone": "quality.tone"})
    >>> ag.table[["criterion", "n", "exact", "within_one", "spearman"]]
      criterion  n  exact  within_one  spearman
    0      tone  4   0.75         1.0       1.0
"""

from __future__ import annotations

from ..errors import AgreementError
from ._agreement import REQUIRED_COLUMNS, agreement
from ._alpha import LEVELS, Level, krippendorff_alpha
from ._labels import LABEL_COLUMNS, labels_frame
from ._result import EXCLUDED_COLUMNS, PAIR_COLUMNS, TABLE_COLUMNS, Agreement
from ._saved import load_labels, save_labels

__all__ = [
    "EXCLUDED_COLUMNS",
    "LABEL_COLUMNS",
    "LEVELS",
    "PAIR_COLUMNS",
    "REQUIRED_COLUMNS",
    "TABLE_COLUMNS",
    "Agreement",
    "AgreementError",
    "Level",
    "agreement",
    "krippendorff_alpha",
    "labels_frame",
    "load_labels",
    "save_labels",
]
