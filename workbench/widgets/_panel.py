"""The :class:`Workbench` panel: the four tabs on one :class:`PanelController`."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from ..config import JudgeConfig
from ..run import Run
from ..specs import Suite
from ._charts import ChartsPanel
from ._common import Version
from ._controller import PanelController, PanelEvent
from ._editor import CriteriaEditor
from ._explorer import ResultsExplorer
from ._runner import SubsetRunner


class Workbench(w.VBox):
    """A notebook panel to tune a suite's judges: edit criteria, rerun subsets, explore, chart.

    It holds no evaluation logic: its state (versions, what ran under each, the run arguments)
    is ``controller``, a :class:`~workbench.widgets.PanelController` with no widget in it,
    whose methods call the public API (:func:`~workbench.evaluate`, :func:`~workbench.estimate`,
    :func:`~workbench.compare`) as a user would; the tabs take that controller, never the
    panel. Four tabs:

    * ``editor`` (:class:`CriteriaEditor`): each judge task's criteria (name, description,
      scale, threshold; add, remove), guidelines, prompt template, scale, threshold and mode,
      with the exact messages for a chosen row. Applying makes a new version (``v2``, ``v3``...)
      with its fingerprint; old versions are kept and can be selected again.
    * ``runner`` (:class:`SubsetRunner`): all rows, failing, errored, rows the edit changes, a
      seeded sample, a ``df.query`` string or picked rows; calls cached/new and the estimated
      cost before running; progress (done, cached, errors, dollars) and Cancel while running.
    * ``explorer`` (:class:`ResultsExplorer`): the current version's cells by task, criterion,
      status and score; one row's input, verdicts with reasons and prompts sent.
    * ``charts`` (:class:`ChartsPanel`): distributions beside the previous version; the
      comparison with a saved run (the newest other run is preselected).

    Args:
        df: the rows to evaluate (never modified).
        suite: a :class:`~workbench.Suite` (or a YAML/JSON path); its version is the first one.
        model: the judge model, a litellm model string.
        judge: how judge calls are made (:class:`~workbench.JudgeConfig`); ``model=`` and
            the judge keywords of ``**options`` build one, as :func:`~workbench.evaluate` does.
        **options: the run arguments of :func:`~workbench.evaluate` (``columns``, ``store``,
            ``save``, ``strict``, ``label``) and its judge keywords (``cache_dir``, ``api_base``,
            ``api_key``, ``concurrency``...). Credentials are passed through and never shown or
            stored in widget state.

    Raises:
        WorkbenchError: ``df`` is not a DataFrame, or ``rows=``/``progress=`` was given (the
            panel chooses those).
        ColumnsError: ``df``'s index repeats a label.
        ConfigError: an unknown or invalid judge option.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> df = pd.DataFrame({"answer": ["Paris.", "Lyon."]})
        >>> suite = wb.Suite(name="demo", version="v1", tasks=[wb.JudgeTask(id="q",
        ...     prompt="Answer: ${answer}", threshold=4,
        ...     criteria=[wb.Criterion(name="accuracy", description="Facts are right.")])])
        >>> panel = wb.Workbench(df, suite, model="openai/gpt-4o-mini", use_cache=False)
        >>> panel.editor.criterion_threshold["accuracy"].value = "9"
        >>> panel.editor.apply_button.click()
        >>> "threshold 9 is outside the scale 1..5" in panel.editor.error.value
        True
        >>> panel.editor.criterion_threshold["accuracy"].value = "5"
        >>> panel.editor.apply_button.click()
        >>> [v.label for v in panel.versions], panel.current.suite.task("q").criteria[0].threshold
        (['v1', 'v2'], 5.0)
    """

    def __init__(
        self,
        df: pd.DataFrame,
        suite: Suite | str | Path,
        model: str | None = None,
        *,
        judge: JudgeConfig | None = None,
        **options: Any,
    ) -> None:
        self.controller = PanelController(df, suite, model, judge=judge, **options)
        """The panel's state and the calls it makes (no widgets): what the tabs take."""
        self.header = w.HTML()
        self.header.add_class("wb-header")
        self.editor = CriteriaEditor(self.controller)
        self.runner = SubsetRunner(self.controller)
        self.explorer = ResultsExplorer(self.controller)
        self.charts = ChartsPanel(self.controller)
        self.tabs = w.Tab(
            children=[self.editor, self.runner, self.explorer, self.charts],
            titles=("Criteria", "Run", "Results", "Charts"),
        )
        self.tabs.add_class("wb-tabs")
        super().__init__([self.header, self.tabs])
        self.add_class("wb-workbench")
        self.controller.subscribe(self._on_change)
        self._draw_header()
        self.runner.refresh()

    # --- the controller's state, as the notebooks and the README use it ----------------------

    @property
    def df(self) -> pd.DataFrame:
        """The rows the panel evaluates."""
        return self.controller.df

    @property
    def judge(self) -> JudgeConfig:
        """How the panel's judge calls are made."""
        return self.controller.judge

    @property
    def model(self) -> str | None:
        """The judge model."""
        return self.controller.model

    @property
    def versions(self) -> list[Version]:
        """Every version, oldest first."""
        return self.controller.versions

    @property
    def current(self) -> Version:
        """The version the editor shows and the runner runs."""
        return self.controller.current

    @property
    def store(self) -> Any:
        """The run store given as ``store=`` (``None``: the default store)."""
        return self.controller.store

    def version(self, label: str) -> Version | None:
        """The version labelled ``label``, if any."""
        return self.controller.version(label)

    def select(self, label: str) -> None:
        """Make version ``label`` the current one and redraw every tab.

        Raises:
            WorkbenchError: no such version; the message lists them.
        """
        self.controller.select(label)

    async def wait(self) -> Run | None:
        """Wait for the run in flight (in a notebook, runs do not block the kernel)."""
        return await self.runner.wait()

    def _on_change(self, event: PanelEvent) -> None:
        self._draw_header()

    def _draw_header(self) -> None:
        cur = self.controller.current
        self.header.value = (
            f"<b>{html.escape(cur.suite.name)}</b> · version "
            f"<b class='wb-current-version'>{html.escape(cur.label)}</b> "
            f"<code>{html.escape(cur.fingerprint)}</code> · {len(self.df):,} rows · judge model "
            f"<code>{html.escape(self.model or 'none')}</code>"
        )

    def __repr__(self) -> str:
        cur = self.controller.current
        return (
            f"Workbench(suite={cur.suite.name!r}, version={cur.label!r}, "
            f"versions={[v.label for v in self.versions]}, rows={len(self.df)})"
        )
