"""The labeling widget's controller: which (row, criterion) comes next, what each key does,
and every label written to the run store as it is entered. No widget in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..agreement import save_labels
from ..errors import WorkbenchError, cap_list, did_you_mean
from ..inputs import check_index, load_suite
from ..paths import template_paths
from ..reliability import rows_to_label
from ..specs import AssertionTask, Criterion, JudgeTask, Suite
from ..store import Store, criterion_fingerprint, criterion_text

__all__ = ["Item", "Key", "LabelerController", "value_text"]

Action = Literal["score", "label", "passed", "skip", "back"]
"""What a key does."""

_USABLE = ("passed", "failed", "scored")


@dataclass(frozen=True)
class Key:
    """One key of the labeler and what it enters."""

    key: str
    action: Action
    value: Any = None
    text: str = ""
    """How the key is shown (``4``, ``pass``, ``skip``...)."""


@dataclass(frozen=True)
class Item:
    """One thing to label: a row under one criterion (``""`` for an assertion)."""

    row: Any
    criterion: str


class LabelerController:
    """The state of a :class:`~workbench.Labeler` and the labels it writes, without widgets.

    Args:
        df: the rows to label (never modified).
        suite: the suite (or a YAML/JSON path) whose task is labelled.
        task: the id of the task to label.
        criteria: the criteria to label (default: every criterion of the task).
        store: the run store the labels go to (default: the default store).
        annotator: who labels (default: the login name); labels are kept per person.
        rows: only these rows, in this order (index labels).
        run: the judge's run (a :class:`~workbench.Run` or its results): its verdict of a row
            is shown once the row is labelled, never before; ``pick="uncertainty"`` reads it.
        pick: the order of the rows: ``None`` (the DataFrame's), ``"uncertainty"`` (from
            ``consistency``, else from ``run``: least sure first) or ``"disagreement"``
            (where ``run`` and ``other`` disagree most).
        other: the other judge version for ``pick="disagreement"``.
        consistency: a ``wb.consistency`` result for ``pick="uncertainty"``.

    Items already labelled by this annotator under the current criterion text are skipped:
    a labeler opened again resumes where the last one stopped.

    Raises:
        WorkbenchError: an unknown task or criterion, a pick without what it needs, or rows
            the DataFrame lacks.
    """

    def __init__(
        self,
        df: pd.DataFrame,
        suite: Suite | str,
        task: str,
        *,
        criteria: Sequence[str] | None = None,
        store: Any = None,
        annotator: str | None = None,
        rows: Sequence[Any] | None = None,
        run: Any = None,
        pick: str | None = None,
        other: Any = None,
        consistency: Any = None,
    ) -> None:
        if not isinstance(df, pd.DataFrame):
            raise WorkbenchError(f"Labeler needs a pandas DataFrame, got {type(df).__name__}")
        check_index(df)
        self.df = df
        self.suite: Suite = load_suite(suite)
        ids = self.suite.task_ids
        if task not in ids:
            raise WorkbenchError(
                f"suite {self.suite.name!r} has no task {task!r}{did_you_mean(task, ids)}; "
                f"its tasks: {cap_list(ids)}"
            )
        self.task = self.suite.task(task)
        names = [c.name for c in self.task.criteria] if isinstance(self.task, JudgeTask) else [""]
        chosen = list(criteria) if criteria is not None else names
        unknown = [c for c in chosen if c not in names]
        if unknown:
            raise WorkbenchError(
                f"task {task!r} has no criteria {cap_list(unknown)}{did_you_mean(unknown[0], names)}; "
                f"its criteria: {cap_list(names)}"
            )
        self.criteria: list[str] = chosen
        self.store = store if isinstance(store, Store) else Store(store)
        self.annotator = annotator or _login()
        self.run = run
        self.items = [Item(r, c) for r in self._rows(rows, pick, run, other, consistency) for c in chosen]
        self.fingerprints = {c: criterion_fingerprint(self.suite, task, c) for c in chosen}
        self.saved: dict[Item, dict[str, Any]] = self._load()
        self.position = self._next_open(0)
        self.last: Item | None = None
        """The item labelled last (its judge verdict may be shown)."""

    # --- what to label ----------------------------------------------------------------------

    def _rows(self, rows: Any, pick: str | None, run: Any, other: Any, consistency: Any) -> list[Any]:
        index = list(self.df.index)
        if rows is not None:
            missing = [r for r in rows if r not in self.df.index]
            if missing:
                raise WorkbenchError(
                    f"rows= names {cap_list(missing)}, which the DataFrame lacks; its rows start "
                    f"{cap_list(index[:5], 5)}"
                )
            index = list(rows)
        if pick is None:
            return index
        source = consistency if pick == "uncertainty" and consistency is not None else run
        if source is None:
            raise WorkbenchError(
                f"pick={pick!r} orders rows by the judge: pass run= (and other= for 'disagreement', or "
                "consistency= for 'uncertainty')"
            )
        ordered = rows_to_label(source, self.task.id, by=pick, other=other)  # type: ignore[arg-type]
        wanted = set(index)
        picked = [r for r in ordered if r in wanted]
        return picked + [r for r in index if r not in set(picked)]

    def _load(self) -> dict[Item, dict[str, Any]]:
        saved = self.store.labels(self.suite, task=self.task.id, annotator=self.annotator)
        out: dict[Item, dict[str, Any]] = {}
        for r in saved.to_dict("records"):
            c = str(r["criterion"])
            if c in self.fingerprints and r["criterion_fingerprint"] == self.fingerprints[c]:
                out[Item(r["row"], c)] = {str(k): v for k, v in r.items()}
        return out

    def _next_open(self, start: int) -> int:
        for i in list(range(start, len(self.items))) + list(range(start)):
            if self.items[i] not in self.saved:
                return i
        return len(self.items)

    @property
    def current(self) -> Item | None:
        """The item shown (``None`` when every item is labelled)."""
        return self.items[self.position] if self.position < len(self.items) else None

    @property
    def labelled(self) -> int:
        """Items labelled (or skipped) by this annotator under the current criterion texts."""
        return sum(1 for i in self.items if i in self.saved)

    def fields(self, row: Any) -> dict[str, Any]:
        """The row's values the judge reads (the columns its templates name), else every column."""
        paths = (
            template_paths(self.task.prompt) if isinstance(self.task, JudgeTask) else [self.task.path or ""]
        )
        roots = [p.split(".")[0].split("[")[0] for p in paths]
        columns = [c for c in dict.fromkeys(roots) if c in self.df.columns] or list(self.df.columns)
        values = self.df.loc[row]
        return {str(c): values[c] for c in columns}

    def criterion(self, name: str) -> Criterion | None:
        """The criterion ``name`` of the task (``None`` for an assertion)."""
        if isinstance(self.task, AssertionTask):
            return None
        return next(c for c in self.task.criteria if c.name == name)

    def text(self, name: str) -> str:
        """The criterion's text as the person sees it (and the fingerprint is taken of)."""
        return criterion_text(self.suite, self.task.id, name)

    def keys(self, name: str) -> list[Key]:
        """The keys for criterion ``name``: its points (digits), pass/fail, skip and back."""
        out: list[Key] = []
        scale = self._scale(name)
        if isinstance(scale, tuple) and scale[0] >= 0 and scale[1] <= 9:
            out += [Key(str(v), "score", float(v), str(v)) for v in range(scale[0], scale[1] + 1)]
        elif isinstance(scale, (list, dict)) and len(scale) <= 9:
            out += [Key(str(i + 1), "label", label, label) for i, label in enumerate(scale)]
        out += [Key("p", "passed", True, "pass"), Key("f", "passed", False, "fail")]
        out += [Key("s", "skip", None, "skip"), Key("b", "back", None, "back")]
        return out

    def _scale(self, name: str) -> Any:
        if isinstance(self.task, AssertionTask):
            return "binary"
        c = self.criterion(name)
        assert c is not None
        return c.scale if c.scale is not None else self.task.scale

    # --- entering labels --------------------------------------------------------------------

    def press(self, key: str, note: str = "") -> str:
        """What ``key`` does to the current item; returns a line saying what happened."""
        item = self.current
        if key == "b":
            return self.back()
        if item is None:
            return "Every row is labelled. Press b to go back."
        found = next((k for k in self.keys(item.criterion) if k.key == key.lower()), None)
        if found is None:
            shown = ", ".join(f"{k.key} {k.text}" for k in self.keys(item.criterion))
            return f"Key {key!r} does nothing here. Keys: {shown}."
        if found.action == "skip":
            return self.enter(note=note)
        return self.enter(**{found.action: found.value}, note=note)

    def enter(
        self,
        *,
        score: float | None = None,
        label: str | None = None,
        passed: bool | None = None,
        note: str = "",
    ) -> str:
        """Save a label of the current item (all values ``None``: skipped) and move on."""
        item = self.current
        if item is None:
            return "Every row is labelled."
        skipped = score is None and label is None and passed is None
        if self._scale(item.criterion) == "binary" and passed is not None and label is None:
            label = "pass" if passed else "fail"
        frame = pd.DataFrame(
            {
                "row": pd.Series([item.row], dtype=object),
                "task": [self.task.id],
                "criterion": [item.criterion],
                "annotator": [self.annotator],
                "score": pd.array([score], dtype="Float64"),
                "label": pd.array([label], dtype="string"),
                "passed": pd.array([passed], dtype="boolean"),
                "note": [note.strip() or None],
            }
        )
        save_labels(frame, self.suite, store=self.store)
        self.saved[item] = {"score": score, "label": label, "passed": passed, "note": note.strip() or None}
        self.last = item
        self.position = self._next_open(self.position + 1)
        given = "skipped" if skipped else f"labelled {value_text(score, label, passed)}"
        return f"Row {item.row!r}{_of(item.criterion)}: {given} (saved)."

    def back(self) -> str:
        """Show the item before the current one again (to see or change its label)."""
        if self.position == 0:
            return "This is the first row."
        self.position -= 1
        item = self.items[self.position]
        return f"Back to row {item.row!r}{_of(item.criterion)}."

    def given(self, item: Item) -> dict[str, Any] | None:
        """The label this annotator gave ``item`` (``None``: not labelled yet)."""
        return self.saved.get(item)

    def verdict(self, item: Item) -> dict[str, Any] | None:
        """The judge's verdict of ``item``, only once it is labelled (no anchoring), and only
        with a ``run``: ``status``, ``score``, ``label``, ``passed``, ``reason``."""
        if item not in self.saved or self.run is None:
            return None
        results = getattr(self.run, "results", self.run)
        if not isinstance(results, pd.DataFrame):
            return None
        cells = results[
            (results["task"].astype(str) == self.task.id)
            & (results["criterion"].astype(str) == item.criterion)
        ]
        hit = cells[cells["row"].to_numpy(dtype=object) == np.array([item.row] * len(cells), dtype=object)]
        if not len(hit):
            return None
        cell = hit.iloc[0]
        usable = str(cell["status"]) in _USABLE
        return {
            "status": str(cell["status"]),
            "score": cell["score"] if usable else None,
            "label": cell.get("label") if usable else None,
            "passed": cell["passed"] if usable else None,
            "reason": cell.get("reason") if usable else cell.get("error"),
        }


def _of(criterion: str) -> str:
    return f" ({criterion})" if criterion else ""


def value_text(score: Any, label: Any, passed: Any) -> str:
    """A label as a short text (``4``, ``pass``, ``skipped``)."""
    score, label, passed = (None if v is None or pd.isna(v) else v for v in (score, label, passed))
    parts = []
    if score is not None:
        parts.append(f"{score:g}")
    if label is not None:
        parts.append(str(label))
    if passed is not None and label not in ("pass", "fail"):
        parts.append("pass" if passed else "fail")
    return " / ".join(parts) or "skipped"


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container without a passwd entry)
        return "me"
