"""Human labels in the run store: who gave each one, when, and under which criterion text.

One table, ``labels``, beside the runs in the same SQLite file (created with ``CREATE TABLE IF
NOT EXISTS`` on the first save, so a store of any schema version takes labels). A label is
keyed by (suite, task, criterion, row, annotator, criterion fingerprint): saving it again
replaces it (a person who goes back and changes a label keeps one label), and the same row
labelled under another criterion text is another label, kept beside the old one, so
agreement can be reported per criterion version.

Rows are the evaluated DataFrame's index labels, stored as JSON that keeps their type (the
row ``3`` and the row ``"3"`` stay apart; tuples of a MultiIndex and timestamps come back as
they were).
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AgreementError, ColumnsError, cap_list, did_you_mean
from ..specs import AssertionTask, JudgeTask, Suite
from ._schema import LABELS_DDL

__all__ = [
    "LABELS_DDL",
    "LABEL_COLUMNS",
    "STORED_COLUMNS",
    "criterion_fingerprint",
    "criterion_text",
    "decode_row",
    "encode_row",
    "read_labels",
    "write_labels",
]

LABEL_COLUMNS: tuple[str, ...] = (
    "row",
    "task",
    "criterion",
    "annotator",
    "score",
    "label",
    "passed",
    "criterion_fingerprint",
)
"""The columns of the canonical labels frame, in order. ``row`` is the input row's index label
(as in ``run.results``); ``criterion`` is ``""`` for an assertion; ``annotator`` says who gave
the label (missing: one unnamed person); one of ``score`` (Float64), ``label`` (string) and
``passed`` (boolean) holds the label itself (all missing: the person skipped the row);
``criterion_fingerprint`` identifies the criterion text the label was given under (missing
when unknown). Other columns of a long frame are kept after these."""

STORED_COLUMNS: tuple[str, ...] = (*LABEL_COLUMNS, "suite", "criterion_text", "note", "labelled_at")
"""The columns of a labels frame read from the store: :data:`LABEL_COLUMNS`, then the suite's
name, the criterion's text the label was given under, the person's free-text note and when
the label was given (UTC)."""

_ANONYMOUS = ""
"""The stored annotator of a label whose person is not named (NOT NULL keeps the key unique)."""


# --- criterion versions ---------------------------------------------------------------------------


def _task(suite: Suite, task: str) -> AssertionTask | JudgeTask:
    ids = [t.id for t in suite.tasks]
    if task not in ids:
        raise AgreementError(
            f"suite {suite.name!r} has no task {task!r}{did_you_mean(task, ids)}. Its tasks: {cap_list(ids)}."
        )
    found = suite.tasks[ids.index(task)]
    assert isinstance(found, (AssertionTask, JudgeTask))
    return found


def criterion_text(suite: Suite, task: str, criterion: str = "") -> str:
    """The text a person labels a criterion by (and the judge is asked): its description, its
    worked examples and its scale; for an assertion, its operator, path, expected value and
    description.

    Raises:
        AgreementError: the suite has no such task or criterion (the message lists them).

    Example:
        >>> import workbench as wb
        >>> suite = wb.Suite(name="s", tasks=[wb.JudgeTask(id="q", prompt="${a}",
        ...     criteria=[wb.Criterion(name="accuracy", description="Facts are right.")])])
        >>> print(criterion_text(suite, "q", "accuracy"))
        Facts are right.
        Scale: 1..5
    """
    t = _task(suite, task)
    if isinstance(t, AssertionTask):
        expected = "" if t.expected is None else f" {json.dumps(t.expected, default=str, sort_keys=True)}"
        lines = [f"{t.op}{expected} at {t.path or '(the row)'}", t.description]
        return "\n".join(line for line in lines if line)
    names = [c.name for c in t.criteria]
    if criterion not in names:
        raise AgreementError(
            f"task {task!r} has no criterion {criterion!r}{did_you_mean(criterion, names)}. "
            f"Its criteria: {cap_list(names)}."
        )
    c = t.criteria[names.index(criterion)]
    scale = c.scale if c.scale is not None else t.scale
    lines = [c.description, *(f"Example: {e}" for e in c.examples), f"Scale: {_scale_text(scale)}"]
    return "\n".join(lines)


def _scale_text(scale: Any) -> str:
    if isinstance(scale, tuple):
        return f"{scale[0]}..{scale[1]}"
    if isinstance(scale, list):
        return ", ".join(scale)
    if isinstance(scale, dict):
        return ", ".join(f"{k}={v:g}" for k, v in scale.items())
    return str(scale)


def criterion_fingerprint(suite: Suite, task: str, criterion: str = "") -> str:
    """A short hash of :func:`criterion_text`: labels given under one text share it, and an
    edited description (or examples, or scale) gives another, so labels given under an older
    text are told apart instead of mixed in. Names and thresholds do not enter it.

    Raises:
        AgreementError: the suite has no such task or criterion.

    Example:
        >>> import workbench as wb
        >>> def suite(description):
        ...     return wb.Suite(name="s", tasks=[wb.JudgeTask(id="q", prompt="${a}", threshold=4,
        ...         criteria=[wb.Criterion(name="accuracy", description=description)])])
        >>> a = criterion_fingerprint(suite("Facts are right."), "q", "accuracy")
        >>> len(a), a == criterion_fingerprint(suite("Facts are right."), "q", "accuracy")
        (12, True)
        >>> a == criterion_fingerprint(suite("Every fact is right and sourced."), "q", "accuracy")
        False
    """
    return hashlib.sha256(criterion_text(suite, task, criterion).encode()).hexdigest()[:12]


# --- rows as text ---------------------------------------------------------------------------------


def encode_row(row: Any) -> str:
    """A row label as JSON that keeps its type: ``3`` and ``"3"`` differ, a tuple (a MultiIndex
    row) and a timestamp come back as they were from :func:`decode_row`.

    Raises:
        AgreementError: the label is missing or of a type a row label cannot have here.

    Example:
        >>> [encode_row(r) for r in (3, "3", ("a", 1))]
        ['3', '"3"', '{"tuple":["a",1]}']
        >>> decode_row(encode_row(("a", 1))), decode_row("3")
        (('a', 1), 3)
    """
    return json.dumps(_plain_row(row), separators=(",", ":"), ensure_ascii=False)


def _plain_row(row: Any) -> Any:
    if isinstance(row, np.generic):
        row = row.item()
    if isinstance(row, bool) or row is None:
        raise AgreementError(
            f"a label's row is {row!r}; rows are the evaluated DataFrame's index labels (strings, "
            "numbers, tuples or timestamps)."
        )
    if isinstance(row, float) and math.isnan(row):
        raise AgreementError("a label's row is missing (NaN); give every label the row it belongs to.")
    if isinstance(row, (int, float, str)):
        return row
    if isinstance(row, tuple):
        return {"tuple": [_plain_row(r) for r in row]}
    if isinstance(row, (pd.Timestamp, datetime)):
        return {"timestamp": pd.Timestamp(row).isoformat()}
    raise AgreementError(
        f"a label's row is a {type(row).__name__} ({row!r}); rows are the evaluated DataFrame's index "
        "labels: strings, numbers, tuples or timestamps."
    )


def decode_row(text: str) -> Any:
    """The row label :func:`encode_row` wrote."""
    return _from_plain(json.loads(text))


def _from_plain(value: Any) -> Any:
    if isinstance(value, dict):
        if "tuple" in value:
            return tuple(_from_plain(v) for v in value["tuple"])
        return pd.Timestamp(value["timestamp"])
    return value


# --- writing and reading --------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _time_text(value: Any) -> str:
    t = pd.Timestamp(value)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return str(t.isoformat(timespec="microseconds"))


def _records(labels: pd.DataFrame, suite: Suite, annotator: str | None) -> list[tuple[Any, ...]]:
    missing = [c for c in LABEL_COLUMNS if c not in labels.columns]
    if missing:
        have = [str(c) for c in labels.columns]
        raise ColumnsError(
            f"labels to save lack the columns {cap_list(missing)}; they have {cap_list(have)}. Pass the "
            "canonical long frame of workbench.agreement.labels_frame() (wb.save_labels converts wide "
            "frames)."
        )
    problems: list[str] = []
    texts: dict[tuple[str, str], tuple[str, str]] = {}
    for task, criterion in dict.fromkeys(zip(labels["task"].astype(str), labels["criterion"].astype(str))):
        try:
            text = criterion_text(suite, task, criterion)
        except AgreementError as e:
            problems.append(str(e))
            continue
        texts[(task, criterion)] = (hashlib.sha256(text.encode()).hexdigest()[:12], text)
        problems += _value_problems(labels, suite, task, criterion)
    if problems:
        raise AgreementError(
            f"{len(problems)} problem{'s' if len(problems) > 1 else ''} with the labels to save for suite "
            f"{suite.name!r}:\n" + "\n".join(f"  - {p}" for p in problems[:20])
        )
    now = _now()
    has_note, has_time = "note" in labels.columns, "labelled_at" in labels.columns
    out = []
    for _i, r in enumerate(labels.to_dict("records")):
        key = (str(r["task"]), str(r["criterion"]))
        fingerprint, text = texts[key]
        given = r["criterion_fingerprint"]
        if not pd.isna(given) and given != fingerprint:
            text = ""  # labelled under another text, which the frame does not carry
            fingerprint = str(given)
        who = r["annotator"] if not pd.isna(r["annotator"]) else annotator
        note = r["note"] if has_note and not pd.isna(r["note"]) else None
        when = _time_text(r["labelled_at"]) if has_time and not pd.isna(r["labelled_at"]) else now
        out.append(
            (
                suite.name,
                key[0],
                key[1],
                encode_row(r["row"]),
                _ANONYMOUS if who is None else str(who),
                fingerprint,
                text,
                None if pd.isna(r["score"]) else float(r["score"]),
                None if pd.isna(r["label"]) else str(r["label"]),
                None if pd.isna(r["passed"]) else int(bool(r["passed"])),
                None if note is None else str(note),
                when,
            )
        )
    return out


def _value_problems(labels: pd.DataFrame, suite: Suite, task: str, criterion: str) -> list[str]:
    t = _task(suite, task)
    if not isinstance(t, JudgeTask):
        return []
    c = next(c for c in t.criteria if c.name == criterion)
    scale = c.scale if c.scale is not None else t.scale
    part = labels[(labels["task"].astype(str) == task) & (labels["criterion"].astype(str) == criterion)]
    scores = part["score"].dropna().astype(float)
    name = f"{task}.{criterion}"
    if isinstance(scale, tuple):
        outside = scores[(scores < scale[0]) | (scores > scale[1])]
        if len(outside):
            return [
                (
                    f"{name} is on the scale {scale[0]}..{scale[1]}, but {len(outside)} labels are "
                    f"outside it: {cap_list(sorted(set(outside.tolist())), 5)}"
                )
            ]
    allowed = list(scale) if isinstance(scale, (list, dict)) else []
    if allowed:
        given = part["label"].dropna().astype(str)
        bad = sorted(set(given) - set(allowed))
        if bad:
            return [f"{name} takes the labels {allowed}, but the labels give {cap_list(bad, 5)}"]
    return []


def write_labels(
    con: sqlite3.Connection, labels: pd.DataFrame, suite: Suite, annotator: str | None = None
) -> int:
    """Insert or replace ``labels`` (the canonical long frame, optionally with ``note`` and
    ``labelled_at``) for ``suite`` in one transaction the caller holds; returns how many.

    A label without a ``criterion_fingerprint`` gets the suite's current one (and its text);
    one with another fingerprint keeps it (labels imported from an older text). ``annotator``
    fills labels whose ``annotator`` is missing.
    """
    records = _records(labels, suite, annotator)
    for statement in LABELS_DDL.split(";"):
        if statement.strip():
            con.execute(statement)
    con.executemany(
        "INSERT INTO labels (suite, task, criterion, row, annotator, criterion_fingerprint, criterion_text, "
        "score, label, passed, note, labelled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (suite, task, criterion, row, annotator, criterion_fingerprint) DO UPDATE SET "
        "score = excluded.score, label = excluded.label, passed = excluded.passed, note = excluded.note, "
        "labelled_at = excluded.labelled_at, "
        "criterion_text = CASE WHEN excluded.criterion_text = '' THEN criterion_text "
        "ELSE excluded.criterion_text END",
        records,
    )
    return len(records)


def _where(filters: Mapping[str, str | Sequence[str] | None]) -> tuple[str, list[Any]]:
    clauses, args = [], []
    for column, value in filters.items():
        if value is None:
            continue
        values = [value] if isinstance(value, str) else list(value)
        clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
        args += values
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def read_labels(
    con: sqlite3.Connection | None, filters: Mapping[str, str | Sequence[str] | None]
) -> pd.DataFrame:
    """The stored labels matching ``filters`` (column -> value or values), oldest first, as
    a frame of :data:`STORED_COLUMNS`."""
    rows: Iterable[tuple[Any, ...]] = []
    if (
        con is not None
        and con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'labels'").fetchone()
    ):
        where, args = _where(filters)
        rows = con.execute(
            "SELECT row, task, criterion, annotator, score, label, passed, criterion_fingerprint, suite, "
            f"criterion_text, note, labelled_at FROM labels{where} ORDER BY labelled_at, rowid",
            args,
        ).fetchall()
    fetched = list(rows)
    frame = pd.DataFrame.from_records(fetched, columns=list(STORED_COLUMNS))
    return pd.DataFrame(
        {
            "row": pd.Series([decode_row(r) for r in frame["row"]], dtype=object),
            "task": frame["task"].astype("string"),
            "criterion": frame["criterion"].astype("string"),
            "annotator": frame["annotator"].astype("string").replace(_ANONYMOUS, pd.NA),
            "score": pd.array(pd.to_numeric(frame["score"]).to_numpy(dtype=float), dtype="Float64"),
            "label": frame["label"].astype("string"),
            "passed": pd.array([None if pd.isna(v) else bool(v) for v in frame["passed"]], dtype="boolean"),
            "criterion_fingerprint": frame["criterion_fingerprint"].astype("string"),
            "suite": frame["suite"].astype("string"),
            "criterion_text": frame["criterion_text"].astype("string").replace("", pd.NA),
            "note": frame["note"].astype("string"),
            "labelled_at": pd.to_datetime(frame["labelled_at"], utc=True, format="ISO8601").astype(
                "datetime64[us, UTC]"
            ),
        }
    )
