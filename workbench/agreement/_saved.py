"""Labels kept in the run store: :func:`save_labels` and :func:`load_labels`.

Each saved label carries who gave it, when, and the fingerprint (and text) of the criterion
it was given under, so ``wb.agreement`` reports each criterion version apart and flags labels
given under a text the judged suite no longer has.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..specs import Suite
from ..store import Store
from ._labels import Target, labels_frame

__all__ = ["load_labels", "save_labels"]

StoreLike = Store | str | os.PathLike[str] | None
"""A run store: a :class:`~workbench.Store`, a directory or ``.sqlite`` path, or ``None`` for
the default store."""


def _store(store: StoreLike) -> Store:
    return store if isinstance(store, Store) else Store(store)


def save_labels(
    labels: pd.DataFrame,
    suite: Suite,
    *,
    columns: Mapping[str, Target] | None = None,
    annotator: str | None = None,
    store: StoreLike = None,
) -> int:
    """Save human labels of ``suite``'s tasks in the run store; returns how many were written.

    ``labels`` is a long or a wide frame, as :func:`~workbench.agreement.labels_frame` reads
    them (a ``note`` and a ``labelled_at`` column of a long frame are kept). Each label is
    stored with its annotator, the time and the fingerprint and text of the criterion it was
    given under (the suite's current text, unless the frame names another fingerprint).
    Saving a (row, task, criterion, annotator) again under the same text replaces it.

    Args:
        labels: the labels.
        suite: the suite whose tasks and criteria they label.
        columns: for a wide frame: ``{column: "task.criterion"}`` (see ``labels_frame``).
        annotator: who gave the labels whose ``annotator`` is missing.
        store: the run store (default: the default store, where runs are saved).

    Raises:
        AgreementError: a task or criterion the suite lacks, or a value outside its scale.
        ColumnsError: a long frame lacks a required column.
        StoreError: the store cannot be written.

    Example:
        >>> import tempfile, pandas as pd, workbench as wb
        >>> tmp = tempfile.TemporaryDirectory()
        >>> suite = wb.Suite(name="qa", tasks=[wb.JudgeTask(id="q", prompt="${answer}",
        ...     criteria=[wb.Criterion(name="accuracy", description="Facts are right.")])])
        >>> experts = pd.DataFrame({"accuracy": [5, 2]}, index=["a1", "a2"])
        >>> wb.save_labels(experts, suite, columns={"accuracy": "q.accuracy"}, annotator="ana",
        ...                store=tmp.name)
        2
        >>> wb.load_labels(suite, store=tmp.name)[["row", "criterion", "annotator", "score"]]
          row criterion annotator  score
        0  a1  accuracy       ana    5.0
        1  a2  accuracy       ana    2.0
        >>> tmp.cleanup()
    """
    canon = labels_frame(labels, columns)
    return _store(store).save_labels(canon, suite, annotator=annotator)


def load_labels(
    suite: Suite | str | None = None,
    *,
    task: str | Sequence[str] | None = None,
    criterion: str | Sequence[str] | None = None,
    annotator: str | Sequence[str] | None = None,
    store: StoreLike = None,
) -> pd.DataFrame:
    """The labels saved in the run store, oldest first: the canonical columns
    (:data:`~workbench.agreement.LABEL_COLUMNS`), then ``suite``, ``criterion_text``, ``note``
    and ``labelled_at`` (UTC). Pass the frame to ``wb.agreement`` as it is; it keeps the
    criterion versions apart.

    Args:
        suite: only this suite's labels (a Suite or its name).
        task, criterion, annotator: only these (a name or a list of names).
        store: the run store (default: the default store).

    Example:
        >>> import tempfile, workbench as wb
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     print(len(wb.load_labels(store=tmp)), list(wb.load_labels(store=tmp).columns[:4]))
        0 ['row', 'task', 'criterion', 'annotator']
    """
    return _store(store).labels(suite, task=task, criterion=criterion, annotator=annotator)


def stored_labels(suite: Suite | None, store: Any) -> pd.DataFrame:
    """The labels ``wb.agreement`` reads when it is given none: the suite's, from ``store``."""
    return _store(store).labels(suite)
