"""The :class:`Workbench` panel: versions of a suite, and the four tabs that work on them."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from ..config import JudgeConfig
from ..errors import WorkbenchError, cap_list
from ..inputs import check_index, load_suite
from ..run import Run
from ..secrets import known_secrets, redact
from ..specs import Suite
from ._charts import ChartsPanel
from ._common import Version, merge_results, next_label
from ._editor import CriteriaEditor
from ._explorer import ResultsExplorer
from ._runner import SubsetRunner

_RUN_OPTIONS = frozenset({"save", "store", "strict", "columns", "label"})
"""evaluate() arguments that are about the run, not the judge calls (the rest build the
panel's JudgeConfig)."""
_PANEL_OWNED = frozenset({"rows", "progress"})
"""evaluate() arguments the panel sets itself."""


class Workbench(w.VBox):
    """A notebook panel to tune a suite's judges: edit criteria, rerun subsets, explore, chart.

    It holds no evaluation logic: every action calls the public API (:func:`~workbench.evaluate`,
    :func:`~workbench.estimate`, :func:`~workbench.compare`, :mod:`workbench.charts`) as a user
    would. Four tabs:

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
      comparison with a saved run.

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
        WorkbenchError: ``rows=`` or ``progress=`` was given (the panel chooses those).
        ConfigError: an unknown or invalid judge option.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> df = pd.DataFrame({"answer": ["Paris.", "Lyon."]})
        >>> suite = wb.Suite(name="demo", version="v1", tasks=[wb.JudgeTask(id="q", prompt="Answer: ${answer}",
        ...     threshold=4, criteria=[wb.Criterion(name="accuracy", description="Facts are right.")])])
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
        if not isinstance(df, pd.DataFrame):
            raise WorkbenchError(f"Workbench needs a pandas DataFrame, got {type(df).__name__}")
        owned = sorted(_PANEL_OWNED & set(options))
        if owned:
            raise WorkbenchError(
                f"Workbench chooses {owned} itself (the Run tab picks the rows and draws the progress); "
                f"remove {', '.join(f'{k}=' for k in owned)} from the call"
            )
        check_index(df)
        first = load_suite(suite)
        self.df = df
        self._run_options = {k: v for k, v in options.items() if k in _RUN_OPTIONS}
        self.judge = JudgeConfig.build(
            judge, model=model, **{k: v for k, v in options.items() if k not in _RUN_OPTIONS}
        )
        self.model = self.judge.model
        self._secrets = known_secrets(self.judge.connection)
        self.versions: list[Version] = [Version(label=first.version, suite=first)]
        self._current = first.version
        self.header = w.HTML()
        self.header.add_class("wb-header")
        self.editor = CriteriaEditor(self)
        self.runner = SubsetRunner(self)
        self.explorer = ResultsExplorer(self)
        self.charts = ChartsPanel(self)
        self.tabs = w.Tab(
            children=[self.editor, self.runner, self.explorer, self.charts],
            titles=("Criteria", "Run", "Results", "Charts"),
        )
        self.tabs.add_class("wb-tabs")
        super().__init__([self.header, self.tabs])
        self.add_class("wb-workbench")
        self._draw_header()
        self.runner.refresh()
        self.charts.refresh()

    # --- versions ------------------------------------------------------------------------------

    @property
    def current(self) -> Version:
        """The version the editor shows and the runner runs."""
        found = self.version(self._current)
        assert found is not None
        return found

    @property
    def store(self) -> Any:
        """The run store given as ``store=`` (``None``: the default store)."""
        return self._run_options.get("store")

    def version(self, label: str) -> Version | None:
        """The version labelled ``label``, if any."""
        return next((v for v in self.versions if v.label == label), None)

    def select(self, label: str) -> None:
        """Make version ``label`` the current one and redraw every tab.

        Raises:
            WorkbenchError: no such version; the message lists them.
        """
        if self.version(label) is None:
            raise WorkbenchError(
                f"no version {label!r}; versions are {cap_list([v.label for v in self.versions])}"
            )
        self._current = label
        self.editor.load()
        self.explorer.refresh()
        self.runner.refresh()
        self.charts.refresh()
        self._draw_header()

    def add_version(self, suite: Suite) -> Version:
        """Add ``suite`` as a new version edited from the current one, labelled ``v<n>``, and select it."""
        label = next_label([v.label for v in self.versions])
        version = Version(
            label=label, suite=suite.model_copy(update={"version": label}), parent=self._current
        )
        self.versions.append(version)
        self.select(label)
        return version

    def known_results(self, version: Version | None = None) -> pd.DataFrame | None:
        """The latest cells of every row: the version's own, and for rows it has not run,
        those of the version it was edited from (and so on). ``None`` when nothing ran."""
        version = version or self.current
        frames, seen = [], set()
        v: Version | None = version
        while v is not None:
            if v.results is not None:
                part = v.results[~v.results["row"].isin(seen)]
                frames.append(
                    part.astype({"task": object, "criterion": object, "status": object, "kind": object})
                )
                seen |= set(part["row"].tolist())
            v = self.version(v.parent) if v.parent else None
        return pd.concat(frames, ignore_index=True) if frames else None

    def record(self, version: Version, run: Run) -> None:
        """Keep ``run``'s cells as ``version``'s latest for its rows, and redraw."""
        version.results = merge_results(version.results, run.results, self.df.index)
        version.runs.append(run)
        self.editor.show_versions()
        if version is self.current:
            self.explorer.refresh()
            self.charts.refresh()
        self.runner.refresh()
        self._draw_header()

    async def wait(self) -> Run | None:
        """Wait for the run in flight (in a notebook, runs do not block the kernel)."""
        return await self.runner.wait()

    # --- options for the public calls -----------------------------------------------------------

    def estimate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`workbench.estimate`."""
        return {"judge": self.judge, "columns": self._run_options.get("columns")}

    def run_kwargs(self, version: Version) -> dict[str, Any]:
        """Keyword arguments for :func:`workbench.evaluate` (rows and progress excepted)."""
        return {"judge": self.judge, "label": f"{version.suite.name} {version.label}", **self._run_options}

    @property
    def render_options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`workbench.prompts.render_messages`."""
        return {"judge": self.judge, "columns": self._run_options.get("columns")}

    def redact(self, text: str) -> str:
        """``text`` with every secret the panel knows (options, credential-like environment
        variables) replaced by ``[redacted]``."""
        return redact(text, self._secrets)

    def _draw_header(self) -> None:
        cur = self.current
        self.header.value = (
            f"<b>{html.escape(cur.suite.name)}</b> · version <b class='wb-current-version'>{html.escape(cur.label)}"
            f"</b> <code>{html.escape(cur.fingerprint)}</code> · {len(self.df):,} rows · judge model "
            f"<code>{html.escape(self.model or 'none')}</code>"
        )

    def __repr__(self) -> str:
        return (
            f"Workbench(suite={self.current.suite.name!r}, version={self._current!r}, "
            f"versions={[v.label for v in self.versions]}, rows={len(self.df)})"
        )
