"""The criteria editor: edit a judge task's criteria, scale, guidelines and prompt; preview the
exact messages for a row; apply the edit as a new suite version."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..errors import ColumnsError, SpecError, WorkbenchError
from ..specs import Criterion, JudgeTask, Suite
from ._common import (
    TABLE_STYLE,
    esc,
    message_html,
    messages_html,
    parse_scale,
    parse_threshold,
    scale_text,
    threshold_text,
)
from ._view import row

if TYPE_CHECKING:
    from ._controller import PanelController, PanelEvent

_FIELDS = ("name", "description", "scale", "threshold")
_DESCRIPTION_FLEX = "1 1 28em"


def _text(value: str = "", placeholder: str = "", width: str = "8em", cls: str = "") -> w.Text:
    t = w.Text(value=value, placeholder=placeholder, layout=w.Layout(width=width, flex="0 0 auto"))
    if cls:
        t.add_class(cls)
    return t


class CriteriaEditor(w.VBox):
    """Edits the judge tasks of the controller's current version (see :class:`~workbench.Workbench`).

    The widgets of each criterion are in dicts keyed by the criterion's name when the
    version was loaded (``"new_1"``, ``"new_2"``... for added ones): ``name``,
    ``description``, ``criterion_scale``, ``criterion_threshold`` and ``remove``. Edits of
    several tasks are kept as drafts while switching ``task``; ``apply_button`` turns them
    all into one new version.
    """

    def __init__(self, controller: PanelController) -> None:
        self._ctl = controller
        self._drafts: dict[str, dict[str, Any]] = {}
        self._added = 0
        judges = [t.id for t in controller.current.suite.tasks if isinstance(t, JudgeTask)]
        self.version = w.Dropdown(description="version", options=[controller.current.label])
        self.version.add_class("wb-version")
        self.fingerprint = w.HTML()
        self.fingerprint.add_class("wb-fingerprint")
        self.versions_table = w.HTML()
        self.versions_table.add_class("wb-versions")
        self.task = w.Dropdown(description="judge task", options=judges, value=judges[0] if judges else None)
        self.task.add_class("wb-task")
        self.prompt = w.Textarea(description="prompt", layout=w.Layout(width="95%", height="7em"))
        self.prompt.add_class("wb-prompt")
        self.guidelines = w.Textarea(description="guidelines", layout=w.Layout(width="95%", height="4em"))
        self.guidelines.add_class("wb-guidelines")
        self.scale = _text(placeholder="1..5", cls="wb-task-scale")
        self.threshold = _text(placeholder="none", cls="wb-task-threshold")
        self.mode = w.Dropdown(options=["joint", "per_criterion"], layout=w.Layout(width="10em"))
        self.mode.add_class("wb-mode")
        self.name: dict[str, w.Text] = {}
        self.description: dict[str, w.Textarea] = {}
        self.criterion_scale: dict[str, w.Text] = {}
        self.criterion_threshold: dict[str, w.Text] = {}
        self.remove: dict[str, w.Button] = {}
        self.criteria_box = w.VBox()
        self.criteria_box.add_class("wb-criteria")
        self.add_button = w.Button(description="Add criterion", icon="plus")
        self.add_button.add_class("wb-add-criterion")
        self.apply_button = w.Button(
            description="Apply as new version", button_style="primary", layout=w.Layout(width="auto")
        )
        self.apply_button.add_class("wb-apply")
        self.discard_button = w.Button(description="Discard edits")
        self.discard_button.add_class("wb-discard")
        self.error = w.HTML()
        self.error.add_class("wb-editor-error")
        rows = list(controller.df.index)
        self.preview_row = w.Dropdown(
            description="row", options=[(str(r), r) for r in rows[:2000]], value=rows[0] if rows else None
        )
        self.preview_row.add_class("wb-preview-row")
        self.preview_criterion = w.Dropdown(description="criterion", options=[])
        self.preview_criterion.add_class("wb-preview-criterion")
        self.preview_button = w.Button(description="Show prompt", layout=w.Layout(width="auto"))
        self.preview_button.add_class("wb-preview-button")
        self.preview = w.HTML()
        self.preview.add_class("wb-preview")

        self._loading = False
        self.version.observe(
            lambda ch: None if self._loading else controller.select(ch["new"]), names="value"
        )
        self.task.observe(self._switch_task, names="value")
        self.add_button.on_click(lambda _: self.add_criterion())
        self.apply_button.on_click(lambda _: self.apply())
        self.discard_button.on_click(lambda _: self.load())
        self.preview_button.on_click(lambda _: self.render_preview())
        self.preview_row.observe(lambda _: self.render_preview(), names="value")
        self.preview_criterion.observe(lambda _: self.render_preview(), names="value")

        task_row = row(
            [w.Label("scale"), self.scale, w.Label("threshold"), self.threshold, w.Label("mode"), self.mode]
        )
        header = w.HBox(
            [
                w.Label("name", layout=w.Layout(width="10em", flex="0 0 auto")),
                w.Label("description", layout=w.Layout(flex=_DESCRIPTION_FLEX, min_width="10em")),
                w.Label("scale", layout=w.Layout(width="6em", flex="0 0 auto")),
                w.Label("threshold", layout=w.Layout(width="9em", flex="0 0 auto")),
            ]
        )
        body: list[w.Widget] = [
            w.HBox([self.version, self.fingerprint]),
            self.versions_table,
            self.task,
            self.prompt,
            self.guidelines,
            task_row,
            header,
            self.criteria_box,
            row([self.add_button, self.apply_button, self.discard_button]),
            self.error,
            w.HTML("<b>Rendered prompt</b> (the exact messages the judge receives)"),
            row([self.preview_row, self.preview_criterion, self.preview_button]),
            self.preview,
        ]
        if not judges:
            body = [
                w.HBox([self.version, self.fingerprint]),
                self.versions_table,
                w.HTML(message_html("This suite has no judge task: nothing to edit.", "info")),
            ]
        super().__init__(body)
        self.add_class("wb-editor")
        self.load()
        controller.subscribe(self._on_change)

    def _on_change(self, event: PanelEvent) -> None:
        if event.kind == "selected":
            self.load()
        else:
            self.show_versions()

    # --- loading -----------------------------------------------------------------------------

    def load(self) -> None:
        """Show the controller's current version, dropping every unapplied edit."""
        self._drafts.clear()
        self.error.value = ""
        self.show_versions()
        if self.task.value is not None:
            self._show(self._task_draft(self.task.value))
            self.render_preview()

    def show_versions(self) -> None:
        """Redraw the version picker, the fingerprint and the table of versions."""
        ctl = self._ctl
        labels = [v.label for v in ctl.versions]
        self._loading = True
        try:
            if list(self.version.options) != labels:
                self.version.options = labels
            self.version.value = ctl.current.label
        finally:
            self._loading = False
        cur = ctl.current
        self.fingerprint.value = f'<code class="wb-fp">fingerprint {esc(cur.fingerprint)}</code>'
        rows = "".join(
            f"<tr><td>{'▶' if v is cur else ''}</td><td>{esc(v.label)}</td>"
            f"<td><code>{esc(v.fingerprint)}</code></td><td>{esc(v.parent or '')}</td>"
            f"<td>{0 if v.results is None else v.results['row'].nunique()}</td></tr>"
            for v in ctl.versions
        )
        self.versions_table.value = (
            f"{TABLE_STYLE}<table class='wb-versions-table'><tr><th></th><th>version</th><th>fingerprint</th>"
            f"<th>edited from</th><th>rows run</th></tr>{rows}</table>"
        )

    def _task_draft(self, task_id: str) -> dict[str, Any]:
        if task_id in self._drafts:
            return self._drafts[task_id]
        t = self._ctl.current.suite.task(task_id)
        assert isinstance(t, JudgeTask)
        return {
            "prompt": t.prompt,
            "guidelines": t.guidelines,
            "scale": scale_text(t.scale),
            "threshold": threshold_text(t.threshold),
            "mode": t.mode,
            "criteria": [
                {
                    "key": c.name,
                    "name": c.name,
                    "description": c.description,
                    "scale": scale_text(c.scale),
                    "threshold": threshold_text(c.threshold),
                }
                for c in t.criteria
            ],
        }

    def _show(self, draft: dict[str, Any]) -> None:
        self.prompt.value, self.guidelines.value = draft["prompt"], draft["guidelines"]
        self.scale.value, self.threshold.value, self.mode.value = (
            draft["scale"],
            draft["threshold"],
            draft["mode"],
        )
        for d in (self.name, self.description, self.criterion_scale, self.criterion_threshold, self.remove):
            d.clear()
        self.criteria_box.children = [self._criterion_row(c) for c in draft["criteria"]]
        self._update_preview_criteria()

    def _criterion_row(self, c: dict[str, Any]) -> w.HBox:
        key = c["key"]
        self.name[key] = _text(c["name"], "name", "10em", "wb-criterion-name")
        # the description takes the width left over: the row fits a narrow notebook column
        self.description[key] = w.Textarea(
            value=c["description"], layout=w.Layout(flex=_DESCRIPTION_FLEX, min_width="10em", height="3.2em")
        )
        self.description[key].add_class("wb-criterion-description")
        self.criterion_scale[key] = _text(c["scale"], "task's", "6em", "wb-criterion-scale")
        self.criterion_threshold[key] = _text(c["threshold"], "task's", "6em", "wb-criterion-threshold")
        self.remove[key] = w.Button(
            description="", icon="trash", tooltip="remove this criterion", layout=w.Layout(width="3em")
        )
        self.remove[key].add_class("wb-remove-criterion")
        self.remove[key].on_click(lambda _, key=key: self.remove_criterion(key))
        self.name[key].observe(lambda _: self._update_preview_criteria(), names="value")
        line = w.HBox(
            [
                self.name[key],
                self.description[key],
                self.criterion_scale[key],
                self.criterion_threshold[key],
                self.remove[key],
            ]
        )
        line.add_class("wb-criterion")
        return line

    def _capture(self) -> dict[str, Any]:
        """The shown task's fields as a draft."""
        keys = list(self.name)
        return {
            "prompt": self.prompt.value,
            "guidelines": self.guidelines.value,
            "scale": self.scale.value,
            "threshold": self.threshold.value,
            "mode": self.mode.value,
            "criteria": [
                {
                    "key": k,
                    "name": self.name[k].value,
                    "description": self.description[k].value,
                    "scale": self.criterion_scale[k].value,
                    "threshold": self.criterion_threshold[k].value,
                }
                for k in keys
            ],
        }

    def _switch_task(self, change: dict[str, Any]) -> None:
        if change["old"] is not None:
            self._drafts[change["old"]] = self._capture()
        if change["new"] is not None:
            self._show(self._task_draft(change["new"]))
            self.render_preview()

    # --- editing -----------------------------------------------------------------------------

    def add_criterion(self) -> str:
        """Add an empty criterion row; returns its key (``new_1``...)."""
        self._added += 1
        key = f"new_{self._added}"
        row = self._criterion_row(
            {
                "key": key,
                "name": f"criterion_{len(self.name) + 1}",
                "description": "",
                "scale": "",
                "threshold": "",
            }
        )
        self.criteria_box.children = (*self.criteria_box.children, row)
        self._update_preview_criteria()
        return key

    def remove_criterion(self, key: str) -> None:
        """Remove the criterion row ``key`` (applied with the rest of the edit)."""
        if key not in self.name:
            return
        kept = [row for row in self.criteria_box.children if row.children[0] is not self.name[key]]
        for d in (self.name, self.description, self.criterion_scale, self.criterion_threshold, self.remove):
            d.pop(key)
        self.criteria_box.children = kept
        self._update_preview_criteria()

    def draft_suite(self, version: str | None = None) -> Suite:
        """The suite the edits describe (every task's draft applied), not yet a version.

        Raises:
            SpecError: every problem of the edited tasks, named by task and criterion.
        """
        base = self._ctl.current.suite
        drafts = dict(self._drafts)
        if self.task.value is not None:
            drafts[self.task.value] = self._capture()
        tasks: list[Any] = []
        problems: list[str] = []
        for t in base.tasks:
            if t.id not in drafts:
                tasks.append(t)
                continue
            assert isinstance(t, JudgeTask)
            try:
                tasks.append(_build_task(t, drafts[t.id]))
            except SpecError as e:
                problems += e.problems or [str(e)]
        if problems:
            n = len(problems)
            raise SpecError(
                f"{n} problem{'s' if n != 1 else ''} in the edit:\n"
                + "\n".join(f"  - {p}" for p in problems),
                problems,
            )
        return Suite(
            name=base.name, version=version or base.version, tasks=tasks, description=base.description
        )

    def apply(self) -> bool:
        """Make the edits a new version and select it; on a problem, show it and keep the edits.

        Returns:
            True when a new version was made.
        """
        ctl = self._ctl
        try:
            suite = self.draft_suite()
            if suite.fingerprint() == ctl.current.fingerprint:
                self.error.value = message_html(
                    "Nothing changed: the edit gives the current version's tasks.", "info"
                )
                return False
            if len(ctl.df):
                self._check_columns(suite)
        except (SpecError, ColumnsError) as e:
            self.error.value = message_html(ctl.redact(str(e)))
            self.render_preview()  # not a stale prompt beside a refused edit
            return False
        ctl.add_version(suite)
        return True

    def _check_columns(self, suite: Suite) -> None:
        for t in suite.tasks:
            if isinstance(t, JudgeTask):
                try:
                    self._ctl.messages(suite, t.id, self._ctl.df.index[0])
                except ColumnsError:
                    raise
                except WorkbenchError:  # a gate or an unrenderable row is no reason to refuse the edit
                    pass

    # --- preview -----------------------------------------------------------------------------

    def _update_preview_criteria(self) -> None:
        names = [t.value for t in self.name.values()]
        if list(self.preview_criterion.options) != names:
            old = self.preview_criterion.value
            self.preview_criterion.options = names
            self.preview_criterion.value = old if old in names else (names[0] if names else None)

    def render_preview(self) -> None:
        """Render the messages of the edited task for ``preview_row`` (errors shown inline)."""
        if self.task.value is None or not len(self._ctl.df):
            self.preview.value = ""
            return
        try:
            suite = self.draft_suite()
            messages = self._ctl.messages(
                suite,
                self.task.value,
                self.preview_row.value,
                self.preview_criterion.value if self.mode.value == "per_criterion" else None,
            )
        except WorkbenchError as e:
            self.preview.value = message_html(self._ctl.redact(str(e)))
            return
        self.preview.value = messages_html(messages)


def _build_task(base: JudgeTask, draft: dict[str, Any]) -> JudgeTask:
    """The judge task a draft describes; fields the editor does not show are kept from ``base``.

    Raises:
        SpecError: every problem, each named by the task and, if it is one, the criterion.
    """
    problems: list[str] = []
    old = {c.name: c for c in base.criteria}
    criteria = []
    for c in draft["criteria"]:
        label = f"task {base.id!r}: criterion {c['name']!r}"
        try:
            scale = parse_scale(c["scale"])
        except ValueError as e:
            problems.append(f"{label}: {e}")
            continue
        keep = (
            old[c["key"]].model_dump(exclude={"name", "description", "scale", "threshold"})
            if c["key"] in old
            else {}
        )
        try:
            criteria.append(
                Criterion(
                    name=c["name"].strip(),
                    description=c["description"],
                    scale=scale,
                    threshold=parse_threshold(c["threshold"]),
                    **keep,
                )
            )
        except SpecError as e:
            problems += [
                p if p.startswith("task ") else f"task {base.id!r}: {p}" for p in e.problems or [str(e)]
            ]
    try:
        scale = parse_scale(draft["scale"]) or (1, 5)
    except ValueError as e:
        problems.append(f"task {base.id!r}: {e}")
        scale = base.scale
    if not draft["criteria"]:
        problems.append(f"task {base.id!r}: a judge task needs at least one criterion; add one")
    if problems:
        raise SpecError("\n".join(problems), problems)
    data = base.model_dump(exclude={"prompt", "guidelines", "scale", "threshold", "mode", "criteria"})
    return JudgeTask(
        **data,
        prompt=draft["prompt"],
        guidelines=draft["guidelines"],
        scale=scale,
        threshold=parse_threshold(draft["threshold"]),
        mode=draft["mode"],
        criteria=criteria,
    )
