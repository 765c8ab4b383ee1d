"""The :class:`Labeler`: a keyboard-first widget for people to label rows, one criterion at a time."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import pandas as pd

from ..specs import Suite
from ._common import esc, message_html, pre_html
from ._labeling import Item, LabelerController, value_text

__all__ = ["Labeler"]


class Labeler(w.VBox):
    """Label rows by hand, keyboard first; every label is saved in the run store as it is entered.

    It shows one row's fields (those the judge reads) and the criterion's text, and takes a
    key in the box below them: a digit gives a score (or the n-th label of a label scale),
    ``p``/``f`` pass or fail, ``s`` skips, ``b`` goes back; the note field beside it is
    saved with the next label. The judge's verdict of a row stays hidden until the row is
    labelled (no anchoring): it is shown after, for the row just labelled. Each label is
    written to the store at once, with the annotator, the time and the criterion's
    fingerprint, so closing the notebook loses nothing, and a labeler opened again resumes
    at the first row this person has not labelled under the current criterion text.

    The state and every write are ``controller``, a
    :class:`~workbench.widgets.LabelerController` (no widget in it). CSS classes, for
    browser tests: ``wb-labeler``, ``wb-labeler-progress``, ``wb-labeler-criterion``,
    ``wb-labeler-fields``, ``wb-labeler-keys``, ``wb-labeler-note``, ``wb-labeler-buttons``,
    ``wb-labeler-key-<key>`` (one button per key), ``wb-labeler-message``,
    ``wb-labeler-verdict``.

    Args:
        df: the rows to label.
        suite: the suite whose task is labelled (or a YAML/JSON path).
        task: the id of the task.
        store: the run store the labels go to (default: the default store).
        **options: ``criteria``, ``annotator``, ``rows``, ``run`` (the judge's run, whose
            verdicts are revealed after labelling), ``pick`` (``"uncertainty"`` or
            ``"disagreement"``), ``other``, ``consistency``: see
            :class:`~workbench.widgets.LabelerController`.

    Example:
        >>> import tempfile, pandas as pd, workbench as wb
        >>> tmp = tempfile.TemporaryDirectory()
        >>> suite = wb.Suite(name="qa", tasks=[wb.JudgeTask(id="q", prompt="${answer}", threshold=4,
        ...     criteria=[wb.Criterion(name="accuracy", description="Facts are right.")])])
        >>> df = pd.DataFrame({"answer": ["Paris.", "Lyon."]}, index=["a1", "a2"])
        >>> labeler = wb.Labeler(df, suite, task="q", store=tmp.name, annotator="ana")
        >>> labeler.key_box.value = "4"          # what typing 4 in the key box does
        >>> labeler.key_box.value = "s"
        >>> wb.load_labels(suite, store=tmp.name)[["row", "score"]]
          row  score
        0  a1    4.0
        1  a2   <NA>
        >>> tmp.cleanup()
    """

    def __init__(
        self,
        df: pd.DataFrame,
        suite: Suite | str,
        task: str,
        *,
        store: Any = None,
        **options: Any,
    ) -> None:
        self.controller = LabelerController(df, suite, task, store=store, **options)
        """The labeler's state and the labels it writes (no widgets)."""
        self.progress = _html("wb-labeler-progress")
        self.criterion = _html("wb-labeler-criterion")
        self.fields = _html("wb-labeler-fields")
        self.key_box = w.Text(
            placeholder="type a key here", continuous_update=True, layout=w.Layout(width="16em")
        )
        self.key_box.add_class("wb-labeler-keys")
        self.note = w.Text(placeholder="note (saved with the next label)", layout=w.Layout(width="28em"))
        self.note.add_class("wb-labeler-note")
        self.buttons = w.HBox()
        self.buttons.add_class("wb-labeler-buttons")
        self.message = _html("wb-labeler-message")
        self.verdict = _html("wb-labeler-verdict")
        self.key_box.observe(self._on_keys, names="value")
        super().__init__(
            [
                self.progress,
                self.criterion,
                self.fields,
                w.HBox([self.key_box, self.note]),
                self.buttons,
                self.message,
                self.verdict,
            ]
        )
        self.add_class("wb-labeler")
        self._draw()

    # --- input ----------------------------------------------------------------------------

    def press(self, key: str) -> None:
        """Do what ``key`` does, as if typed in the key box."""
        note = self.note.value
        before = self.controller.labelled
        said = self.controller.press(key, note=note)
        if self.controller.labelled != before or key == "s":
            self.note.value = ""
        self.message.value = message_html(said, "ok" if "(saved)" in said else "info")
        self._draw()

    def _on_keys(self, change: dict[str, Any]) -> None:
        typed = str(change["new"])
        if not typed:
            return
        self.key_box.value = ""  # the box stays empty: every keystroke is one command
        for key in typed:
            self.press(key)

    # --- drawing --------------------------------------------------------------------------

    def _draw(self) -> None:
        ctl = self.controller
        total = len(ctl.items)
        item = ctl.current
        who = html.escape(ctl.annotator)
        self.progress.value = (
            f"<b>{html.escape(ctl.suite.name)}</b> · task <code>{html.escape(ctl.task.id)}</code> · "
            f"<span class='wb-labeler-count'>{ctl.labelled} of {total}</span> labelled by {who}"
            + (f" · row <code>{esc(item.row)}</code>" if item is not None else " · <b>all done</b>")
        )
        if item is None:
            self.criterion.value = ""
            self.fields.value = message_html(
                "Every row is labelled under the current criterion text. Press b to go back.", "ok"
            )
            self.buttons.children = [self._button(k) for k in ("b",)]
            self._draw_verdict()
            return
        fp = ctl.fingerprints[item.criterion]
        self.criterion.value = (
            f"<div><b>{esc(item.criterion or ctl.task.id)}</b> "
            f"<code title='criterion fingerprint'>{fp}</code>"
            f"{pre_html(ctl.text(item.criterion))}</div>"
        )
        rows = "".join(
            f"<tr><th style='text-align:left;vertical-align:top;padding-right:1em;width:1%;"
            f"white-space:nowrap'>{esc(k)}</th>"
            f"<td>{pre_html(v, 4000, max_height='18em')}</td></tr>"
            for k, v in ctl.fields(item.row).items()
        )
        given = ctl.given(item)
        was = (
            f"<div class='wb-labeler-given'>Your label: <b>{esc(_given_text(given))}</b></div>"
            if given
            else ""
        )
        self.fields.value = f"<table style='width:100%'>{rows}</table>{was}"
        keys = ctl.keys(item.criterion)
        self.key_box.placeholder = "type a key: " + ", ".join(k.key for k in keys)
        self.buttons.children = [self._button(k.key, k.text) for k in keys]
        self._draw_verdict()

    def _draw_verdict(self) -> None:
        ctl = self.controller
        shown: list[tuple[str, Item]] = []
        if ctl.last is not None:
            shown.append(("Row just labelled", ctl.last))
        current = ctl.current
        if current is not None and ctl.given(current) and current != ctl.last:
            shown.append(("This row", current))
        parts = []
        for title, item in shown:
            verdict = ctl.verdict(item)
            if verdict is None:
                continue
            value = value_text(verdict["score"], verdict["label"], verdict["passed"])
            status = "" if verdict["status"] in ("passed", "failed", "scored") else f" ({verdict['status']})"
            parts.append(
                f"<div><b>{html.escape(title)}</b> <code>{esc(item.row)}</code>: you said "
                f"<b>{esc(_given_text(ctl.given(item)))}</b>, the judge said <b>{esc(value)}</b>{esc(status)}"
                f"{pre_html(verdict['reason'], 600)}</div>"
            )
        self.verdict.value = "".join(parts)

    def _button(self, key: str, text: str | None = None) -> w.Button:
        shown = text or key
        button = w.Button(
            description=shown if shown == key else f"{shown} ({key})",
            tooltip=f"key {key}",
            layout=w.Layout(width="auto"),
        )
        button.add_class(f"wb-labeler-key-{key}")
        button.on_click(lambda _: self.press(key))
        return button

    def __repr__(self) -> str:
        ctl = self.controller
        return (
            f"Labeler(suite={ctl.suite.name!r}, task={ctl.task.id!r}, annotator={ctl.annotator!r}, "
            f"labelled={ctl.labelled}/{len(ctl.items)})"
        )


def _html(css: str) -> w.HTML:
    box = w.HTML()
    box.add_class(css)
    return box


def _given_text(given: dict[str, Any] | None) -> str:
    if not given:
        return ""
    return value_text(given.get("score"), given.get("label"), given.get("passed"))
