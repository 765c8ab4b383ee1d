"""Krippendorff's alpha for several annotators' raw labels (scipy has no function for it).

Alpha is ``1 - D_o / D_e``: the disagreement observed between values given to the same unit,
over the disagreement expected between any two pairable values. Here both are sums over
pairs of values, computed from per-unit sums in O(values) instead of a values x values
coincidence matrix:

* nominal: ``delta = [c != k]``, so the ordered pairs of different values in a unit are
  ``m_u**2 - sum_c N_uc**2``;
* interval: ``delta = (c - k)**2``, and the squared differences of a unit's ordered pairs sum
  to ``2 * (m_u * sum(v**2) - sum(v)**2)``;
* ordinal: Krippendorff's ordinal metric ``(sum_{g=c..k} n_g - (n_c + n_k) / 2)**2`` equals
  the interval metric on each value's mid-cumulative frequency ``N_{<c} + n_c / 2`` (the
  frequencies of the pairable values), so it is the interval formula on those positions.

Each unit's pairs are weighted by ``1 / (m_u - 1)``; units with fewer than two values are not
pairable and are left out, as in Krippendorff's definition.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import AgreementError

__all__ = ["LEVELS", "Level", "krippendorff_alpha"]

Level = Literal["nominal", "ordinal", "interval"]
"""The metric of Krippendorff's alpha: unordered categories, ranks, or differences of numbers."""

LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval")
"""Every level :func:`krippendorff_alpha` computes."""


def krippendorff_alpha(data: Any, level: Level = "ordinal") -> float:
    """Krippendorff's alpha of a reliability table: one row per unit, one column per annotator.

    A missing cell (``NaN``, ``None``, ``pd.NA``) is an annotator who did not label that
    unit. Units with fewer than two values cannot be paired and are left out. Alpha is 1 for
    perfect agreement, 0 for agreement at chance level, negative below chance.

    Args:
        data: a DataFrame or a 2-D array-like, e.g.
            ``labels.pivot(index="row", columns="annotator", values="score")``. ``nominal``
            takes any hashable values (labels); ``ordinal`` and ``interval`` need numbers.
        level: ``"nominal"`` (categories), ``"ordinal"`` (ranks; Krippendorff's ordinal
            metric) or ``"interval"`` (squared differences).

    Returns:
        Alpha as a float; ``NaN`` when no unit has two values, or when every pairable value
        is the same (no disagreement is possible, so alpha is undefined).

    Raises:
        AgreementError: ``level`` is unknown, ``data`` is not two-dimensional, or an ordinal or
            interval table holds values that are not numbers.

    Example:
        Krippendorff's own example (4 observers, 12 units; "Computing Krippendorff's
        Alpha-Reliability", 2011), here with the units as rows:

        >>> import numpy as np
        >>> nan = np.nan
        >>> table = np.array([
        ...     [1, 1, nan, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
        ...     [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [nan, 5, 5, 5], [nan, nan, 1, 1],
        ...     [nan, 3, nan, nan]])
        >>> [round(krippendorff_alpha(table, level), 3) for level in ("nominal", "ordinal", "interval")]
        [0.743, 0.815, 0.849]
    """
    if level not in LEVELS:
        raise AgreementError(
            f"krippendorff_alpha(): level={level!r} is not one of {list(LEVELS)}; "
            "use 'nominal' for labels, 'ordinal' for ranked scores, 'interval' for numbers."
        )
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(_two_d(data))
    values = frame.to_numpy(dtype=object).ravel()
    units = np.repeat(np.arange(len(frame)), frame.shape[1])
    present = ~pd.isna(values)
    values, units = values[present], units[present]
    if level == "nominal":
        codes, _ = pd.factorize(values)
        return alpha_of(units, codes.astype(np.float64), "nominal")
    try:
        numbers = values.astype(np.float64)
    except (TypeError, ValueError) as e:
        raise AgreementError(
            f"krippendorff_alpha(): level={level!r} needs numbers, but the table holds "
            f"{_first_non_number(values)!r}; use level='nominal' for labels."
        ) from e
    return alpha_of(units, numbers, level)


def alpha_of(units: np.ndarray, values: np.ndarray, level: Level) -> float:
    """Alpha from long arrays: the unit (any integer codes) and the value of each label.

    ``values`` are numbers; for ``nominal`` only their equality matters. Missing labels must
    already be left out.

    Example:
        >>> alpha_of(np.array([0, 0, 1, 1]), np.array([1.0, 1.0, 2.0, 3.0]), "nominal")
        0.4
    """
    _, unit = np.unique(units, return_inverse=True)
    unit = unit.ravel()
    m = np.bincount(unit)
    pairable = m[unit] >= 2
    unit, v = unit[pairable], values[pairable]
    n = len(v)
    if n < 2:
        return float("nan")
    _, unit = np.unique(unit, return_inverse=True)
    unit = unit.ravel()
    m = np.bincount(unit).astype(np.float64)
    if level == "nominal":
        _, code = np.unique(v, return_inverse=True)
        code = code.ravel()
        k = int(code.max()) + 1
        within = np.bincount(unit * k + code, minlength=len(m) * k).reshape(len(m), k)
        observed = float(((m * m - (within.astype(np.float64) ** 2).sum(axis=1)) / (m - 1)).sum())
        totals = np.bincount(code).astype(np.float64)
        expected = float(n * n - (totals**2).sum())
    else:
        if level == "ordinal":
            v = _mid_cumulative(v)
        # centred values: the sums of squares below subtract nearly equal numbers otherwise
        v = v - v.mean()
        s1 = np.bincount(unit, weights=v)
        s2 = np.bincount(unit, weights=v * v)
        observed = float((2 * (m * s2 - s1 * s1) / (m - 1)).sum())
        expected = float(2 * (n * (v * v).sum() - v.sum() ** 2))
    if expected <= 0:
        return float("nan")
    return 1.0 - (n - 1) * observed / expected


def _mid_cumulative(v: np.ndarray) -> np.ndarray:
    """Each value's ``N_{<c} + n_c / 2`` among the values, the position the ordinal metric uses."""
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    below = np.cumsum(counts) - counts
    return (below + counts / 2.0)[inverse.ravel()].astype(np.float64)


def _two_d(data: Any) -> np.ndarray:
    array = np.asarray(data, dtype=object)
    if array.ndim != 2:
        raise AgreementError(
            f"krippendorff_alpha() needs a table with one row per unit and one column per "
            f"annotator, not an array of {array.ndim} dimension{'s' if array.ndim != 1 else ''}; "
            "e.g. labels.pivot(index='row', columns='annotator', values='score')."
        )
    return array


def _first_non_number(values: np.ndarray) -> Any:
    for x in values:
        try:
            float(x)
        except (TypeError, ValueError):
            return x
    return values[0] if len(values) else None
