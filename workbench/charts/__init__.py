"""Altair charts of runs, built from tidy frames, that render offline.

Every builder takes a frame (or, for convenience, the object holding it: a ``wb.Run``, a
``wb.compare`` result, or several runs) and returns an altair chart, so it can be styled
further (``.properties(width=...)``), layered, or saved:

* :func:`distributions`: score distributions per (task, criterion), one dot per cell.
* :func:`pass_rates`: pass rates with their 95% intervals.
* :func:`comparison`: the change from run A to run B per check, significant ones marked.
* :func:`cost_vs_score`: what each judge cell cost (or its tokens) against its score.
* :func:`trend`: mean score or pass rate per check across runs, oldest first.
* :func:`combine`: several runs into one results frame with a ``run`` column.
* :func:`confusion_heatmap`, :func:`agreement_by_criterion`, :func:`judge_vs_human`: a
  judge against human labels (``wb.agreement``): the confusion matrix, agreement per
  criterion with intervals and the human ceiling, the judge's scores against the people's.

**Offline by default.** Importing this module registers the ``"workbench"`` altair
renderer and enables it, unless you enabled another renderer than altair's ``"default"``
before (your choice is kept). It inlines vega's JavaScript (from vl-convert) into each
chart's output, so charts render without internet in JupyterLab, inside ipywidgets,
in nbconvert HTML and in exported reports; it applies to every altair chart, not only
these. :func:`enable_offline` turns it on again; :func:`save` writes PNG, SVG, PDF or HTML
offline and :func:`to_html` makes a page of several charts.

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
from ._render import RENDERER, _enable_on_import, enable_offline, offline_html, save, to_html
from ._tables import comparison, pass_rates, trend

__all__ = [
    "OKABE_ITO",
    "RENDERER",
    "agreement_by_criterion",
    "combine",
    "comparison",
    "confusion_heatmap",
    "cost_vs_score",
    "distributions",
    "enable_offline",
    "judge_vs_human",
    "offline_html",
    "pass_rates",
    "save",
    "to_html",
    "trend",
]

_enable_on_import()
