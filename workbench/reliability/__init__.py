"""How far a judge can be trusted on its own: does it agree with itself, and does it prefer a position?

* :func:`consistency` judges the same rows k times at a temperature above 0 (each repeat in
  its own cache namespace, so the repeats are resumable) and reports, per criterion, the
  score spread, the pass/fail flip rate and the intraclass correlation.
* :class:`PairwiseTask` asks which of two outputs is better, in both orders, and reports the
  position-swap inconsistency and B's win rate with its interval; ``wb.compare`` reads it.
* :func:`rows_to_label` orders rows for people to label: where the judge is least sure, or
  where two judge versions disagree most.

Example:
    >>> import pandas as pd, workbench as wb
    >>> from workbench.testing import JudgeServer
    >>> suite = wb.Suite(name="qa", tasks=[wb.JudgeTask(id="q", prompt="${answer}",
    ...     criteria=[wb.Criterion(name="accuracy", description="Facts are right.")])])
    >>> with JudgeServer() as server:
    ...     c = wb.consistency(pd.DataFrame({"answer": ["Paris.", "Lyon."]}), suite, k=2,
    ...                        model=server.model, **server.litellm_kwargs, use_cache=False)
    >>> c.table["icc"].tolist()  # the local server answers from the prompt alone
    [1.0]
"""

from __future__ import annotations

from ._consistency import CONSISTENCY_COLUMNS, ROW_COLUMNS, Consistency, consistency, icc_oneway
from ._pairwise import PAIRWISE_COLUMNS, PAIRWISE_TABLE_COLUMNS, Pairwise, PairwiseTask
from ._pick import PICKS, rows_to_label

__all__ = [
    "CONSISTENCY_COLUMNS",
    "PAIRWISE_COLUMNS",
    "PAIRWISE_TABLE_COLUMNS",
    "PICKS",
    "ROW_COLUMNS",
    "Consistency",
    "Pairwise",
    "PairwiseTask",
    "consistency",
    "icc_oneway",
    "rows_to_label",
]
