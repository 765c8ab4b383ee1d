""":func:`compare`: the steps in order (read both sides, share checks, pair rows, pair cells,
statistics, flips)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CompareError
from ._comparison import Comparison
from ._flips import find_flips
from ._pairing import pair_cells, pair_rows, share_checks
from ._sides import read_cells, resolve_side
from ._table import check_statistics


def _check_parameters(confidence: object, n_boot: object, alpha: object) -> None:
    """Every out-of-range parameter in one :class:`CompareError`."""
    problems = []
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        problems.append(f"confidence={confidence!r} must be between 0 and 1 (e.g. 0.95)")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        problems.append(f"alpha={alpha!r} must be between 0 and 1 (e.g. 0.05)")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        problems.append(f"n_boot={n_boot!r} must be a positive integer (e.g. 2000)")
    if problems:
        raise CompareError("compare() got bad parameters: " + "; ".join(problems) + ".")


def compare(
    a: Any,
    b: Any = None,
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
            passed, score``), or a run id or label, loaded from ``store``. Or ``a`` alone: a
            pairwise judgment (what ``wb.PairwiseTask(...).evaluate`` returns), read as B
            against A with each side's preference share as its score (``delta``: how much
            more B is preferred; ``wins``: rows B won in both orders).
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
        workbench.UnknownRunError: a string names no run in the store.

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
    _check_parameters(confidence, n_boot, alpha)
    if b is None:
        sides = getattr(a, "sides", None)
        if not callable(sides):
            raise CompareError(
                "compare() needs two runs (compare(a, b)); one argument alone must be a pairwise judgment "
                f"(wb.PairwiseTask(...).evaluate(df)), not {type(a).__name__}."
            )
        a, b = sides()
    results_a, name_a = resolve_side(a, "a", "A", store)
    results_b, name_b = resolve_side(b, "b", "B", store)
    cells_a, cells_b = read_cells(results_a, "a"), read_cells(results_b, "b")
    checks = share_checks(cells_a, cells_b, name_a, name_b)
    rows = pair_rows(results_a["row"], results_b["row"], name_a, name_b)
    pairs = pair_cells(cells_a, cells_b, checks.shared, rows, results_a["row"], results_b["row"])
    table = check_statistics(pairs, checks.shared, float(confidence), int(n_boot), int(seed), float(alpha))
    flips = find_flips(pairs, checks.shared, results_a, results_b)
    return Comparison(
        name_a,
        name_b,
        table,
        flips,
        rows.unmatched,
        checks.only_a,
        checks.only_b,
        float(confidence),
        float(alpha),
    )
