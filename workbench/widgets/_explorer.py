"""The results explorer: filter the current version's cells, pick a row, see everything about it.

Everything taken from the data or from a model's output is escaped before it reaches an
HTML widget: reports embed widget state, and a ``<script>`` in an answer must stay text.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import numpy as np
import pandas as pd

from ..errors import WorkbenchError
from ..results import STATUSES
from ..specs import JudgeTask
from ..traces import looks_like_trace
from ._common import NOT_RUN, cells_of, esc, message_html, messages_html, pre_html, table_html
from ._trace import trace_html
from ._view import row

if TYPE_CHECKING:
    from ._controller import PanelController, PanelEvent

ALL = "(all)"
SHOWN = 200
"""Most cells listed in the table at once."""
_COLUMNS = ["row", "task", "criterion", "status", "score", "label", "reason", "error"]


class ResultsExplorer(w.VBox):
    """Filters and inspects the cells of the controller's current version (rows it has not run
    show as ``not run``, never as another version's verdict)."""

    def __init__(self, controller: PanelController) -> None:
        self._ctl = controller
        self.task = w.Dropdown(description="task", options=[ALL])
        self.task.add_class("wb-filter-task")
        self.criterion = w.Dropdown(description="criterion", options=[ALL])
        self.criterion.add_class("wb-filter-criterion")
        self.status = w.Dropdown(description="status", options=[ALL, *STATUSES, NOT_RUN])
        self.status.add_class("wb-filter-status")
        self.score = w.FloatRangeSlider(
            description="score", min=0.0, max=1.0, value=(0.0, 1.0), step=0.5, continuous_update=False
        )
        self.score.add_class("wb-filter-score")
        self.count = w.HTML()
        self.count.add_class("wb-count")
        self.table = w.HTML()
        self.table.add_class("wb-table")
        self.row = w.Dropdown(description="row", options=[])
        self.row.add_class("wb-row")
        self.detail = w.HTML()
        self.detail.add_class("wb-detail")
        self._frame = pd.DataFrame(columns=_COLUMNS)
        self._busy = False
        for widget in (self.task, self.criterion, self.status, self.score):
            widget.observe(lambda _: self.update(), names="value")
        self.row.observe(lambda _: self.show_row(), names="value")
        super().__init__(
            [
                row([self.task, self.criterion, self.status]),
                self.score,
                self.count,
                self.table,
                w.HTML("<b>One row</b>"),
                self.row,
                self.detail,
            ]
        )
        self.add_class("wb-explorer")
        self.refresh()
        controller.subscribe(self._on_change)

    def _on_change(self, event: PanelEvent) -> None:
        if event.kind == "selected" or event.version is self._ctl.current:
            self.refresh()

    def cells(self) -> pd.DataFrame:
        """Every (row, task, criterion) cell of the current version; not-run cells included."""
        ctl = self._ctl
        version = ctl.current
        grid = pd.MultiIndex.from_tuples(
            [(r, t, c) for t, c in cells_of(version.suite) for r in ctl.df.index],
            names=["row", "task", "criterion"],
        )
        frame = pd.DataFrame(index=grid).reset_index()
        if version.results is None:
            res = pd.DataFrame(columns=_COLUMNS)
        else:
            res = version.results[_COLUMNS].astype({"task": object, "criterion": object, "status": object})
        out = frame.merge(res, on=["row", "task", "criterion"], how="left")
        out["status"] = out["status"].fillna(NOT_RUN)
        out["score"] = pd.to_numeric(out["score"], errors="coerce")
        return out

    def refresh(self) -> None:
        """Reload after a run or a version change, keeping the filters that still apply."""
        self._frame = self.cells()
        f = self._frame
        tasks = [ALL, *dict.fromkeys(f["task"].tolist())]
        self._set_options(self.task, tasks)
        scores = f["score"].dropna()
        lo, hi = (float(scores.min()), float(scores.max())) if len(scores) else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1.0
        if (self.score.min, self.score.max) != (lo, hi):
            self._busy = True
            try:  # widen first: the slider clamps its value to min..max at every step
                self.score.min, self.score.max = min(lo, self.score.min), max(hi, self.score.max)
                self.score.value = (lo, hi)
                self.score.min, self.score.max = lo, hi
            finally:
                self._busy = False
        self.update()

    def filtered(self) -> pd.DataFrame:
        """The cells the filters keep."""
        f = self._frame
        crits = (
            [ALL, *dict.fromkeys(f.loc[f["task"] == self.task.value, "criterion"].tolist())]
            if self.task.value != ALL
            else [ALL, *dict.fromkeys(c for c in f["criterion"].tolist() if c)]
        )
        self._set_options(self.criterion, crits)
        keep = np.ones(len(f), dtype=bool)
        if self.task.value != ALL:
            keep &= (f["task"] == self.task.value).to_numpy()
        if self.criterion.value != ALL:
            keep &= (f["criterion"] == self.criterion.value).to_numpy()
        if self.status.value != ALL:
            keep &= (f["status"] == self.status.value).to_numpy()
        lo, hi = self.score.value
        if (lo, hi) != (self.score.min, self.score.max):  # a narrowed range keeps scored cells only
            s = f["score"].to_numpy(dtype=float, na_value=math.nan)
            keep &= (s >= lo) & (s <= hi)
        return f[keep]

    def update(self) -> None:
        """Redraw the table and the row picker from the filters."""
        if self._busy:  # setting a dropdown's options below fires its observer again
            return
        self._busy = True
        try:
            self._update()
        finally:
            self._busy = False

    def _update(self) -> None:
        f = self.filtered()
        shown = f.head(SHOWN)
        self.count.value = (
            f"<span class='wb-count-text'>{len(f):,} cells"
            + (f", the first {SHOWN} shown" if len(f) > SHOWN else "")
            + "</span>"
        )
        self.table.value = _table(shown)
        rows = list(dict.fromkeys(f["row"].tolist()))
        self._set_options(self.row, [(str(r), r) for r in rows[:2000]], keep=True)
        self.show_row()

    def show_row(self) -> None:
        """Show the picked row: its input, every verdict with its reason, the prompts sent."""
        ctl = self._ctl
        if self.row.value is None or self.row.value not in ctl.df.index:
            self.detail.value = ""
            return
        row = self.row.value
        values = ctl.df.loc[row]
        inputs = "".join(f"<tr><th>{esc(k)}</th><td>{_input_cell(v)}</td></tr>" for k, v in values.items())
        # a trace column reads as its span tree, not as pages of OTLP JSON
        traces = "".join(
            f"<details open class='wb-row-trace'><summary>trace: {esc(k)}</summary>{trace_html(v)}</details>"
            for k, v in values.items()
            if looks_like_trace(v)
        )
        mine = self._frame[self._frame["row"] == row]
        verdicts = _table(mine.drop(columns=["row"]), limit=None)
        prompts = []
        suite = ctl.current.suite
        for t in suite.tasks:
            if not isinstance(t, JudgeTask):
                continue
            ran = mine[(mine["task"] == t.id) & ~mine["status"].isin([NOT_RUN, "skipped"])]
            if not len(ran):
                continue
            names = [c.name for c in t.criteria] if t.mode == "per_criterion" else [None]
            for name in names:
                title = t.id + (f" · {name}" if name else "")
                try:
                    body = messages_html(ctl.messages(suite, t.id, row, name))
                except WorkbenchError as e:
                    body = message_html(ctl.redact(str(e)))
                prompts.append(
                    f"<details class='wb-sent-prompt'><summary>prompt sent: {esc(title)}</summary>"
                    f"{body}</details>"
                )
        self.detail.value = (
            f"<div class='wb-row-detail'><h4>row {esc(row)} · version {esc(ctl.current.label)}</h4>"
            f"<b>input</b><table class='wb-input'>{inputs}</table>{traces}<b>verdicts</b>{verdicts}"
            f"{''.join(prompts)}</div>"
        )

    @staticmethod
    def _set_options(dropdown: w.Dropdown, options: list[Any], keep: bool = True) -> None:
        values = [o[1] if isinstance(o, tuple) else o for o in options]
        if (
            list(dropdown.options) == options
            or [o[1] if isinstance(o, tuple) else o for o in dropdown.options] == values
        ):
            return
        old = dropdown.value
        dropdown.options = options
        dropdown.value = old if keep and old in values else (values[0] if values else None)


def _input_cell(value: Any) -> str:
    return "(its span tree is below)" if looks_like_trace(value) else pre_html(value, 4000)


def _table(frame: pd.DataFrame, limit: int | None = 300) -> str:
    """Cells as an HTML table; every value escaped (``to_html(escape=True)``), long text cut."""
    shown = frame.copy()
    for col in ("reason", "error", "label"):
        if col in shown and limit:
            shown[col] = shown[col].map(
                lambda v: v if not isinstance(v, str) or len(v) <= limit else v[:limit] + "…"
            )
    return table_html(shown)
