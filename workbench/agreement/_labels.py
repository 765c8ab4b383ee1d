"""Human labels in their one canonical form: a long frame, one row per (row, task, criterion,
annotator). Wide frames convert to it; the run store keeps labels in it (its columns,
:data:`LABEL_COLUMNS`, live with the store: ``workbench.store``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AgreementError, ColumnsError, cap_list, did_you_mean
from ..store import LABEL_COLUMNS

__all__ = ["LABEL_COLUMNS", "VALUE_COLUMNS", "is_long", "labels_frame", "object_values"]

VALUE_COLUMNS: tuple[str, ...] = ("score", "label", "passed")
"""The columns that can hold a label's value."""

Target = str | tuple[str, str] | tuple[str, str, str]
"""Where a wide column's values go: ``"task.criterion"`` (``"task"`` for an assertion),
``(task, criterion)`` or ``(task, criterion, annotator)``."""


def labels_frame(labels: pd.DataFrame, columns: Mapping[str, Target] | None = None) -> pd.DataFrame:
    """Human labels as the canonical long frame of :data:`LABEL_COLUMNS`.

    Two inputs are accepted:

    * a **long** frame with columns ``row``, ``task``, ``criterion`` and at least one of
      ``score``, ``label``, ``passed``; optional ``annotator`` and ``criterion_fingerprint``
      (other columns are kept);
    * a **wide** frame, one row per input row (its index holds the row labels, as the
      DataFrame that was evaluated), one column per (task, criterion) or per (task,
      criterion, annotator). ``columns`` maps column names to targets (``"task.criterion"``,
      ``(task, criterion)`` or ``(task, criterion, annotator)``); without it every column
      name must itself be ``task.criterion`` (or ``task`` for an assertion). A column of
      booleans holds ``passed``, one of numbers ``score``, one of strings ``label``.

    Args:
        labels: the long or wide frame.
        columns: for a wide frame, the columns to read and where they go.

    Returns:
        A new long frame with the columns of :data:`LABEL_COLUMNS` (and a long input's extra
        columns), ``score`` as Float64, ``label``, ``task``, ``criterion``, ``annotator``
        and ``criterion_fingerprint`` as string, ``passed`` as boolean.

    Raises:
        ColumnsError: a long frame lacks a required column, or ``columns`` names a column the
            frame does not have.
        AgreementError: ``labels`` is not a DataFrame, a target is malformed, or a column holds
            values that are neither numbers, booleans nor labels.

    Example:
        >>> import pandas as pd
        >>> wide = pd.DataFrame({"expert": [4, 2], "crowd": [5, None]}, index=["a1", "a2"])
        >>> labels_frame(wide, columns={"expert": ("quality", "accuracy", "expert"),
        ...                             "crowd": ("quality", "accuracy", "crowd")})[
        ...     ["row", "task", "criterion", "annotator", "score"]]
          row     task criterion annotator  score
        0  a1  quality  accuracy    expert    4.0
        1  a2  quality  accuracy    expert    2.0
        2  a1  quality  accuracy     crowd    5.0
        3  a2  quality  accuracy     crowd   <NA>
    """
    if not isinstance(labels, pd.DataFrame):
        raise AgreementError(
            f"labels must be a DataFrame, not {type(labels).__name__}: a long frame with columns "
            "row, task, criterion and score, label or passed, or a wide frame with columns={...}."
        )
    if columns is None and is_long(labels):
        return _from_long(labels)
    if columns is not None and is_long(labels):
        raise AgreementError(
            "columns= maps the columns of a wide labels frame, but this frame is already long "
            f"(it has {cap_list(_present(labels))}); drop columns=."
        )
    return _from_wide(labels, columns)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def object_values(values: pd.Series) -> np.ndarray:
    """The values as an object array, missing ones as ``None``."""
    # pandas takes na_value=None, which the stub's Scalar leaves out: hence the ignore
    return values.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]


def is_long(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` is a long labels frame (``row``, ``task`` and a value column)."""
    return {"row", "task"} <= set(frame.columns) and any(c in frame.columns for c in VALUE_COLUMNS)


def _present(frame: pd.DataFrame) -> list[str]:
    return [c for c in ("row", "task", "criterion", *VALUE_COLUMNS) if c in frame.columns]


def _from_long(labels: pd.DataFrame) -> pd.DataFrame:
    if "criterion" not in labels.columns:
        have = [str(c) for c in labels.columns]
        raise ColumnsError(
            f"the labels frame needs a 'criterion' column{did_you_mean('criterion', have)}. "
            f"Columns in the frame: {cap_list(have)}. Use '' as the criterion of an assertion."
        )
    n = len(labels)
    none = pd.Series([None] * n, index=labels.index, dtype=object)
    out = pd.DataFrame(
        {
            "row": labels["row"].to_numpy(),
            "task": _text(labels["task"], "task"),
            "criterion": _text(labels["criterion"], "criterion").fillna(""),
            "annotator": _text(labels.get("annotator", none), "annotator"),
            "score": _scores(labels.get("score", none), "score"),
            "label": _text(labels.get("label", none), "label"),
            "passed": _booleans(labels.get("passed", none), "passed"),
            "criterion_fingerprint": _text(
                labels.get("criterion_fingerprint", none), "criterion_fingerprint"
            ),
        }
    )
    for c in labels.columns:
        if c not in LABEL_COLUMNS:
            out[c] = labels[c].to_numpy()
    return out


def _target(name: Any, target: Any) -> tuple[str, str, str | None]:
    if isinstance(target, str):
        task, _, criterion = target.partition(".")
        return task, criterion, None
    if isinstance(target, tuple) and len(target) in (2, 3) and all(isinstance(t, str) for t in target):
        return target[0], target[1], target[2] if len(target) == 3 else None
    raise AgreementError(
        f"columns={{{name!r}: {target!r}}}: a target is 'task.criterion', (task, criterion) or "
        "(task, criterion, annotator), e.g. {'expert_accuracy': ('quality', 'accuracy', 'expert')}."
    )


def _from_wide(labels: pd.DataFrame, columns: Mapping[str, Target] | None) -> pd.DataFrame:
    if columns is None:
        mapping: dict[Any, Any] = {c: str(c) for c in labels.columns}
    elif isinstance(columns, Mapping):
        mapping = dict(columns)
    else:
        raise AgreementError(
            f"columns= must be a dict {{column: 'task.criterion'}}, not {type(columns).__name__}."
        )
    missing = [c for c in mapping if c not in labels.columns]
    if missing:
        have = [str(c) for c in labels.columns]
        near = "".join(did_you_mean(str(m), have) for m in missing[:3])
        raise ColumnsError(
            f"columns= names {cap_list(missing)}, which the labels frame lacks{near}.\n"
            f"Columns in the frame: {cap_list(have)}."
        )
    if not mapping:
        raise AgreementError(
            "the labels frame has no columns to read; pass columns={column: 'task.criterion'}."
        )
    rows = labels.index.to_flat_index() if isinstance(labels.index, pd.MultiIndex) else labels.index
    parts = []
    for name, target in mapping.items():
        task, criterion, annotator = _target(name, target)
        values = labels[name]
        kind = _value_kind(values, name)
        n = len(values)
        part = {
            "row": rows.to_numpy(),
            "task": pd.array([task] * n, dtype="string"),
            "criterion": pd.array([criterion] * n, dtype="string"),
            "annotator": pd.array([annotator] * n, dtype="string"),
            "score": _scores(values, name) if kind == "score" else pd.array([None] * n, dtype="Float64"),
            "label": _text(values, name) if kind == "label" else pd.array([None] * n, dtype="string"),
            "passed": _booleans(values, name) if kind == "passed" else pd.array([None] * n, dtype="boolean"),
            "criterion_fingerprint": pd.array([None] * n, dtype="string"),
        }
        parts.append(pd.DataFrame(part))
    return pd.concat(parts, ignore_index=True)


def _value_kind(values: pd.Series, name: Any) -> str:
    if pd.api.types.is_bool_dtype(values.dtype):
        return "passed"
    if pd.api.types.is_numeric_dtype(values.dtype):
        return "score"
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred == "boolean":
        return "passed"
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal", "empty"):
        return "score"
    if inferred == "string":
        return "label"
    raise AgreementError(
        f"column {name!r} of the labels frame mixes kinds of values ({inferred}, e.g. "
        f"{cap_list([_plain(v) for v in values.dropna().unique()[:4]], 4)}); a column holds numbers "
        "(scores), booleans (passed) or strings (labels)."
    )


def _text(values: pd.Series, name: str) -> pd.api.extensions.ExtensionArray:
    if pd.api.types.is_string_dtype(values.dtype) or isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype("string").array  # Arrow-backed strings convert without a Python loop
    arr = values.to_numpy(dtype=object)
    missing = pd.isna(arr)
    if missing.all():
        return pd.array([None] * len(arr), dtype="string")
    text = arr.astype(str).astype(object)
    text[missing] = None
    return pd.array(text, dtype="string")


def _scores(values: pd.Series, name: Any) -> pd.arrays.FloatingArray:
    if pd.api.types.is_bool_dtype(values.dtype):
        raise AgreementError(
            f"column {name!r} of the labels frame holds booleans where scores belong; "
            "put pass/fail labels in 'passed'."
        )
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values[numbers.isna().to_numpy() & values.notna().to_numpy()]
    if len(bad):
        raise AgreementError(
            f"column {name!r} of the labels frame must hold numbers, but holds "
            f"{cap_list([_plain(v) for v in pd.unique(bad.to_numpy(dtype=object))[:10]])}; "
            "put text labels in 'label'."
        )
    return pd.array(numbers.to_numpy(dtype=np.float64, na_value=np.nan), dtype="Float64")


def _booleans(values: pd.Series, name: Any) -> pd.arrays.BooleanArray:
    if pd.api.types.is_bool_dtype(values.dtype):  # bool or boolean: nothing to check
        return pd.array(object_values(values), dtype="boolean")
    arr = values.to_numpy(dtype=object)
    missing = pd.isna(arr)
    if missing.all():
        return pd.array([None] * len(arr), dtype="boolean")
    number = (int, float, np.integer, np.floating)
    ok = np.array(
        [isinstance(x, (bool, np.bool_)) or (isinstance(x, number) and x in (0, 1)) for x in arr], bool
    )
    bad = arr[~missing & ~ok]
    if len(bad):
        raise AgreementError(
            f"column {name!r} of the labels frame must hold True/False (or 1/0), but holds "
            f"{cap_list([_plain(v) for v in pd.unique(bad)[:10]])}."
        )
    return pd.arrays.BooleanArray(np.where(missing, False, arr).astype(bool), missing.astype(bool))
