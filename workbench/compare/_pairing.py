"""Pairing two sides: the checks they share, their rows matched on ``row``, then their cells
matched per (row, check)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CompareError, cap_list
from ._columns import check_frame, check_name
from ._sides import SideCells, first_appearance


@dataclass(frozen=True)
class SharedChecks:
    """The checks both sides have, and those only one side has (different suite versions)."""

    shared: pd.MultiIndex
    """(task, criterion) of the checks both sides have, in A's order."""
    only_a: pd.DataFrame
    """``task, criterion`` of the checks only A has."""
    only_b: pd.DataFrame
    """``task, criterion`` of the checks only B has."""


def share_checks(cells_a: SideCells, cells_b: SideCells, name_a: str, name_b: str) -> SharedChecks:
    """The checks of A that B has too; at least one, or a :class:`CompareError` naming both sides' checks."""
    a_in_b, b_in_a = cells_a.checks.isin(cells_b.checks), cells_b.checks.isin(cells_a.checks)
    shared = cells_a.checks[a_in_b]
    if len(shared) == 0:

        def names(checks: pd.MultiIndex) -> str:
            return cap_list([check_name(*c) for c in checks])

        raise CompareError(
            f"compare(): {name_a!r} and {name_b!r} share no (task, criterion): A has "
            f"{names(cells_a.checks)}, B has {names(cells_b.checks)}. "
            "Compare runs of the same suite (or versions that keep some task ids)."
        )
    return SharedChecks(shared, check_frame(cells_a.checks[~a_in_b]), check_frame(cells_b.checks[~b_in_a]))


def _scalar(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, so messages print ``0``, not ``np.int64(0)``."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class RowPairing:
    """The rows of both sides in one code space: one integer code per distinct row label."""

    row_code_a: np.ndarray
    """The code of each A cell's row."""
    row_code_b: np.ndarray
    """The code of each B cell's row."""
    row_in_a: np.ndarray
    """Per code: A has cells in that row."""
    row_in_b: np.ndarray
    """Per code: B has cells in that row."""
    unmatched: pd.DataFrame
    """The rows only one side has: ``row`` and ``side`` (``'a'`` or ``'b'``)."""


def pair_rows(rows_a: pd.Series, rows_b: pd.Series, name_a: str, name_b: str) -> RowPairing:
    """Match the two sides' rows on their labels (the ``row`` columns); at least one row of A
    must be in B, or a :class:`CompareError` shows the first labels of each.

    Example:
        >>> import pandas as pd
        >>> rows = pair_rows(pd.Series([0, 0, 1]), pd.Series([1, 2]), "A", "B")
        >>> rows.row_code_a.tolist(), rows.row_code_b.tolist(), rows.unmatched.to_dict("list")
        ([0, 0, 1], [1, 2], {'row': [0, 2], 'side': ['a', 'b']})
    """
    # a missing label gets a code of its own: the default sentinel -1 would index the last row
    codes, labels = pd.factorize(pd.concat([rows_a, rows_b], ignore_index=True), use_na_sentinel=False)
    row_code_a, row_code_b = codes[: len(rows_a)], codes[len(rows_a) :]
    row_in_a, row_in_b = np.zeros(len(labels), bool), np.zeros(len(labels), bool)
    row_in_a[row_code_a], row_in_b[row_code_b] = True, True
    rows_of_a, first_cell_a, _ = first_appearance(row_code_a)
    rows_of_b, first_cell_b, _ = first_appearance(row_code_b)
    if not row_in_b[rows_of_a].any():

        def show(rows: pd.Series, first_cells: np.ndarray) -> str:
            return cap_list([_scalar(r) for r in rows.iloc[first_cells[:5]]], 5)

        raise CompareError(
            f"compare(): no row of {name_a!r} is in {name_b!r}, so nothing can be paired: A has rows "
            f"{show(rows_a, first_cell_a)}, B has {show(rows_b, first_cell_b)}. Rows are matched on the "
            "input's index labels: evaluate both versions on the same DataFrame index."
        )
    # each unmatched row is listed once, at its first cell
    only_in_a = first_cell_a[~row_in_b[rows_of_a]]
    only_in_b = first_cell_b[~row_in_a[rows_of_b]]
    unmatched = pd.DataFrame(
        {
            "row": pd.concat([rows_a.iloc[only_in_a], rows_b.iloc[only_in_b]], ignore_index=True),
            "side": pd.array(["a"] * len(only_in_a) + ["b"] * len(only_in_b), dtype="string"),
        }
    )
    return RowPairing(row_code_a, row_code_b, row_in_a, row_in_b, unmatched)


@dataclass(frozen=True)
class CellPairs:
    """Cells paired across the sides, sorted by their shared check, and what the statistics
    need to know of each shared check.

    Per pair: ``check``, ``cell_a``, ``cell_b``, ``score_*``, ``passed_*``, ``scores_known``,
    ``passes_known``. Per shared check: ``partnerless``, ``scored_check``, ``check_kind``.
    """

    check: np.ndarray
    """Position in ``shared`` of each pair's check (ascending)."""
    cell_a: np.ndarray
    """Position of each pair's A cell in A's results frame."""
    cell_b: np.ndarray
    """Position of each pair's B cell in B's results frame."""
    score_a: np.ndarray
    score_b: np.ndarray
    passed_a: np.ndarray
    """1.0 / 0.0, NaN when missing."""
    passed_b: np.ndarray
    scores_known: np.ndarray
    """Counted on both sides (not an error or a skip), with a score on both."""
    passes_known: np.ndarray
    """Counted on both sides, with ``passed`` known on both."""
    partnerless: np.ndarray
    """Per shared check: cells in rows both sides have whose partner cell is missing."""
    scored_check: np.ndarray
    """Per shared check: some cell of either side has a score (the metric is then ``score``)."""
    check_kind: np.ndarray
    """Per shared check: its ``kind`` on side A."""


@dataclass(frozen=True)
class _KeyedCells:
    """One side's cells of shared checks, each keyed by (row, check) as one integer."""

    cell: np.ndarray
    """Positions in the side's results frame."""
    check: np.ndarray
    """Position in ``shared`` of each cell's check."""
    key: np.ndarray
    """``row code * number of shared checks + check``: equal keys are the same (row, check)."""
    by_key: np.ndarray
    """The order that sorts ``key`` (stable)."""


def _key_cells(
    cells: SideCells, shared: pd.MultiIndex, row_code: np.ndarray, rows: pd.Series, side: str
) -> _KeyedCells:
    """Key the cells of shared checks; a (row, check) seen twice is a :class:`CompareError`."""
    shared_check_of_cell = shared.get_indexer(cells.checks)[cells.check_of_cell]  # -1: not shared
    cell = np.flatnonzero(shared_check_of_cell >= 0)
    check = shared_check_of_cell[cell]
    key = row_code[cell].astype(np.int64) * len(shared) + check
    by_key = np.argsort(key, kind="stable")
    sorted_key = key[by_key]
    repeated = np.flatnonzero(sorted_key[1:] == sorted_key[:-1])
    if len(repeated):
        at = by_key[repeated[0] + 1]
        raise CompareError(
            f"compare(): the results given as {side} hold {len(repeated)} repeated "
            f"(row, task, criterion) cells, e.g. row {_scalar(rows.iloc[cell[at]])!r} of "
            f"{check_name(*shared[check[at]])!r}; pass one run's results, not several concatenated."
        )
    return _KeyedCells(cell, check, key, by_key)


def pair_cells(
    cells_a: SideCells,
    cells_b: SideCells,
    shared: pd.MultiIndex,
    rows: RowPairing,
    rows_a: pd.Series,
    rows_b: pd.Series,
) -> CellPairs:
    """Pair each A cell of a shared check with the B cell of the same (row, check)."""
    keyed_a = _key_cells(cells_a, shared, rows.row_code_a, rows_a, "a")
    keyed_b = _key_cells(cells_b, shared, rows.row_code_b, rows_b, "b")
    sorted_key_b = keyed_b.key[keyed_b.by_key]
    at = np.minimum(np.searchsorted(sorted_key_b, keyed_a.key), max(len(sorted_key_b) - 1, 0))
    found = sorted_key_b[at] == keyed_a.key if len(sorted_key_b) else np.zeros(len(keyed_a.key), bool)
    by_check = np.argsort(keyed_a.check[found], kind="stable")
    check = keyed_a.check[found][by_check]
    cell_a = keyed_a.cell[found][by_check]
    cell_b = keyed_b.cell[keyed_b.by_key[at[found]]][by_check]

    n_shared = len(shared)
    in_matched_row_a = rows.row_in_b[rows.row_code_a[keyed_a.cell]]
    in_matched_row_b = rows.row_in_a[rows.row_code_b[keyed_b.cell]]
    partnerless = (
        np.bincount(keyed_a.check[in_matched_row_a], minlength=n_shared)
        + np.bincount(keyed_b.check[in_matched_row_b], minlength=n_shared)
        - 2 * np.bincount(check, minlength=n_shared)
    )
    scored_check = (
        np.bincount(keyed_a.check[~np.isnan(cells_a.score[keyed_a.cell])], minlength=n_shared)
        + np.bincount(keyed_b.check[~np.isnan(cells_b.score[keyed_b.cell])], minlength=n_shared)
    ) > 0

    counted = cells_a.counted[cell_a] & cells_b.counted[cell_b]
    score_a, score_b = cells_a.score[cell_a], cells_b.score[cell_b]
    passed_a, passed_b = cells_a.passed[cell_a], cells_b.passed[cell_b]
    return CellPairs(
        check=check,
        cell_a=cell_a,
        cell_b=cell_b,
        score_a=score_a,
        score_b=score_b,
        passed_a=passed_a,
        passed_b=passed_b,
        scores_known=counted & ~np.isnan(score_a) & ~np.isnan(score_b),
        passes_known=counted & ~np.isnan(passed_a) & ~np.isnan(passed_b),
        partnerless=partnerless,
        scored_check=scored_check,
        check_kind=cells_a.check_kind[cells_a.checks.get_indexer(shared)],
    )
