"""The flips step: paired cells that passed on one side and failed on the other."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._columns import nullable_float, strings
from ._pairing import CellPairs


def _reasons(results: pd.DataFrame, cells: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """The ``reason`` of the given cells exactly as the run holds it (never shortened again
    here: a display that must fit a width cuts it once), missing without a reason column."""
    if "reason" not in results.columns:
        return strings(np.full(len(cells), None, dtype=object))
    reasons = results["reason"].iloc[cells].astype(object)
    return strings(reasons.where(reasons.notna(), None).to_numpy(dtype=object))


def find_flips(
    pairs: CellPairs, shared: pd.MultiIndex, results_a: pd.DataFrame, results_b: pd.DataFrame
) -> pd.DataFrame:
    """The pairs whose ``passed`` differs between the sides, in the order of the table's
    checks: ``row, task, criterion, direction`` (``pass_to_fail`` or ``fail_to_pass``),
    both scores and both reasons."""
    flipped = np.flatnonzero(pairs.passes_known & (pairs.passed_a != pairs.passed_b))
    check = pairs.check[flipped]
    cell_a, cell_b = pairs.cell_a[flipped], pairs.cell_b[flipped]
    return pd.DataFrame(
        {
            "row": results_a["row"].iloc[cell_a].reset_index(drop=True),
            "task": strings(np.asarray(shared.get_level_values(0), dtype=object)[check]),
            "criterion": strings(np.asarray(shared.get_level_values(1), dtype=object)[check]),
            "direction": strings(np.where(pairs.passed_a[flipped] == 1, "pass_to_fail", "fail_to_pass")),
            "score_a": nullable_float(pairs.score_a[flipped]),
            "score_b": nullable_float(pairs.score_b[flipped]),
            "reason_a": _reasons(results_a, cell_a),
            "reason_b": _reasons(results_b, cell_b),
        }
    )
