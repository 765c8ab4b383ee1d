"""ipywidgets panels for tuning judges in a notebook: :class:`Workbench`.

``wb.Workbench(df, suite, model=...)`` shows four tabs: the criteria editor, the subset
runner, the results explorer and the charts. Each child widget is an attribute with a stable
name, so tests drive it without a browser (set ``.value``, call ``.click()``, read state):
``panel.editor.description["accuracy"]``, ``panel.runner.subset``, ``panel.runner.run_button``.

The panel's state (versions, what ran under each, the run arguments) and every call it makes
are ``panel.controller``, a :class:`PanelController` with no widget in it; the tabs take the
controller, never the panel, and redraw when it tells them something changed.

:class:`Labeler` (``wb.Labeler(df, suite, task=..., store=...)``) is the keyboard-first
labeling widget: its state and the labels it writes are a :class:`LabelerController`.

:class:`MonitorView` (``wb.MonitorView(monitor, target=..., refresh_s=...)``) is a monitor,
live: its trend with the alerts marked, the latest alerts and a drill-down to the records,
refreshed from the store while the kernel is idle; its reads are a :class:`MonitorController`.

CSS classes, for browser tests (``.wb-...``):

* panel: ``wb-workbench``, ``wb-header``, ``wb-current-version``, ``wb-tabs``
* editor (``wb-editor``): ``wb-version``, ``wb-fingerprint``, ``wb-versions``, ``wb-task``,
  ``wb-prompt``, ``wb-guidelines``, ``wb-task-scale``, ``wb-task-threshold``, ``wb-mode``,
  ``wb-criteria``, ``wb-criterion`` (one row), ``wb-criterion-name``,
  ``wb-criterion-description``, ``wb-criterion-scale``, ``wb-criterion-threshold``,
  ``wb-remove-criterion``, ``wb-add-criterion``, ``wb-apply``, ``wb-discard``,
  ``wb-editor-error``, ``wb-preview-row``, ``wb-preview-criterion``, ``wb-preview-button``,
  ``wb-preview`` (holding ``wb-chat-message`` blocks)
* runner (``wb-runner``): ``wb-subset``, ``wb-sample-n``, ``wb-seed``, ``wb-query``,
  ``wb-picked``, ``wb-estimate-button``, ``wb-estimate`` (text in ``wb-estimate-text``),
  ``wb-run``, ``wb-cancel``, ``wb-progress``, ``wb-run-status`` (text in ``wb-progress-text``)
* explorer (``wb-explorer``): ``wb-filter-task``, ``wb-filter-criterion``,
  ``wb-filter-status``, ``wb-filter-score``, ``wb-count``, ``wb-table``, ``wb-row``,
  ``wb-detail`` (with ``wb-sent-prompt`` sections, and a ``wb-row-trace`` span tree per trace
  column: ``wb-span-tree``, one ``wb-span`` per span, ``wb-span-error`` for failed ones)
* monitor view (``wb-monitor-view``): ``wb-monitor-header`` (with ``wb-monitor-records``,
  ``wb-monitor-evaluated``, ``wb-monitor-waiting``, ``wb-monitor-alert-count``,
  ``wb-monitor-open-count``, ``wb-monitor-read-at``, ``wb-monitor-state``),
  ``wb-monitor-target``, ``wb-monitor-refresh``, ``wb-monitor-live``, ``wb-monitor-message``,
  ``wb-monitor-trend``, ``wb-monitor-alerts`` (one ``wb-monitor-alert`` row per alert),
  ``wb-monitor-alert-pick``, ``wb-monitor-alert-records``, ``wb-monitor-record-pick``,
  ``wb-monitor-record`` (with ``wb-monitor-record-id``)
* charts (``wb-charts``): ``wb-charts-message``, ``wb-distributions``, ``wb-saved-runs``,
  ``wb-reload-runs``, ``wb-compare``, ``wb-compare-message``, ``wb-comparison``,
  ``wb-comparison-table``; inline messages are ``wb-message`` with ``wb-error``, ``wb-info``
  or ``wb-ok``

Example:
    >>> import pandas as pd, workbench as wb
    >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="short", path="a", op="has_length_less_than",
    ...                                                       expected=5)])
    >>> panel = wb.Workbench(pd.DataFrame({"a": ["ok", "far too long"]}), suite, save=False)
    >>> panel.runner.run_button.click()
    >>> panel.runner.subset.value = "failing"
    >>> panel.runner.selected_rows()
    [1]
"""

from __future__ import annotations

from ._charts import ChartsPanel
from ._common import Version
from ._controller import PanelController, PanelEvent
from ._editor import CriteriaEditor
from ._explorer import ResultsExplorer
from ._labeler import Labeler
from ._labeling import LabelerController
from ._monitor import MonitorView
from ._monitoring import MonitorController, MonitorSnapshot
from ._panel import Workbench
from ._runner import SUBSETS, SubsetRunner
from ._trace import span_tree, trace_html

__all__ = [
    "SUBSETS",
    "ChartsPanel",
    "CriteriaEditor",
    "Labeler",
    "LabelerController",
    "MonitorController",
    "MonitorSnapshot",
    "MonitorView",
    "PanelController",
    "PanelEvent",
    "ResultsExplorer",
    "SubsetRunner",
    "Version",
    "Workbench",
    "span_tree",
    "trace_html",
]
