"""Paired comparison of two runs: per (task, criterion) deltas, intervals and tests.

Rows are matched on ``row``; each shared (task, criterion) gets the paired mean delta with a
bootstrap interval, the Wilcoxon signed-rank test for scores, the exact McNemar test for
pass/fail, Holm-adjusted p-values and win/tie/loss counts. Rows that flipped between pass
and fail are listed with both reasons.

The steps live in their own modules, in the order :func:`compare` runs them: ``_sides``
(a side's results frame and its cells as arrays), ``_pairing`` (shared checks, rows matched
on their labels, cells matched per row and check), ``_table`` (the statistics per check,
with the tests of ``_stats``), ``_flips``; ``_comparison`` is the result and its display.

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

from ..errors import CompareError
from ._compare import compare
from ._comparison import Comparison
from ._sides import REQUIRED_COLUMNS as REQUIRED_COLUMNS

__all__ = ["CompareError", "Comparison", "compare"]
