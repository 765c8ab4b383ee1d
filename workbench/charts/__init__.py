"""Altair charts of runs, built from tidy frames, that render offline.

Every builder takes a frame (or, for convenience, the object holding it: a ``wb.Run``, a
``wb.compare`` result, or several runs) and returns an altair chart, so it can be styled
further (``.properties(width=...)``), layered, or saved:

* :func:`distributions`: score distributions per (task, criterion), one dot per cell.
* :func:`pass_rates`: pass rates with their 95% intervals.
* :func:`comparison`: the change from run A to run B per check, significant ones marked.
* :func:`cost_vs_score`: what each judge cell cost (or its tokens) against its score.
* :func:`trend`: mean score or pass rate per check across runs, oldest first.
* :func:`monitor_trend`: a check over time on monitored traffic (``wb.monitor_results``):
  each record, the rolling mean over a window, and the alerts where they fired and resolved.
* :func:`combine`: several runs into one results frame with a ``run`` column.
* :func:`confusion_heatmap`, :func:`agreement_by_criterion`, :func:`judge_vs_human`: a
  judge against human labels (``wb.agreement``): the confusion matrix, agreement per
  criterion with intervals and the human ceiling, the judge's scores against the people's.

**Renders anywhere, offline.** Importing this module registers the ``"workbench"`` altair
renderer and enables it, unless you enabled another renderer than altair's ``"default"``
before (your choice is kept); it applies to every altair chart, not only these. A chart's
output is the Vega-Lite 5 mime bundle (:func:`mimebundle`): the spec and data only, which
JupyterLab draws with its own vega, also in an untrusted notebook and inside ipywidgets,
with no network. Reports (:mod:`workbench.report`) turn it into HTML with vega's JavaScript
inlined once per page. :func:`enable_offline` turns the renderer on again (``html=True``:
HTML carrying vega's JavaScript, for front-ends without a Vega-Lite renderer);
:func:`save` writes PNG, SVG, PDF or HTML offline and :func:`to_html` makes a page of
several charts.

Colours are the Okabe-Ito palette, distinguishable with the common colour-vision
deficiencies; significance is shown by shape as well as colour.

Example:
    >>> import pandas as pd, workbench as wb
    >>> from workbench import charts
    >>> suite = wb.Suite(name="demo", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
    >>> v1 = wb.evaluate(pd.DataFrame({"x": [1, -2, 3]}), suite)
    >>> v2 = wb.evaluate(pd.DataFrame({"x": [1, 2, 3]}), suite)
    >>> chart = charts.pass_rates({"v1": v1, "v2": v2})
    >>> chart.to_dict()["layer"][1]["encoding"]["color"]["field"]
    'run'
"""

from __future__ import annotations

from ._agreement import agreement_by_criterion, confusion_heatmap, judge_vs_human
from ._cells import cost_vs_score, distributions
from ._data import OKABE_ITO, combine
from ._monitor import monitor_trend
from ._render import (
    RENDERER,
    VEGALITE_MIMETYPE,
    as_vegalite5,
    chart_html,
    enable_offline,
    enable_on_import,
    json_for_script,
    mimebundle,
    offline_html,
    save,
    to_html,
    vega_javascript,
)
from ._tables import comparison, pass_rates, trend
from ._trend_data import trend_data

__all__ = [
    "OKABE_ITO",
    "RENDERER",
    "VEGALITE_MIMETYPE",
    "agreement_by_criterion",
    "as_vegalite5",
    "chart_html",
    "combine",
    "comparison",
    "confusion_heatmap",
    "cost_vs_score",
    "distributions",
    "enable_offline",
    "json_for_script",
    "judge_vs_human",
    "mimebundle",
    "monitor_trend",
    "offline_html",
    "pass_rates",
    "save",
    "to_html",
    "trend",
    "trend_data",
    "vega_javascript",
]

enable_on_import()
