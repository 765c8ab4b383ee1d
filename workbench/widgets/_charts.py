"""The charts panel: score distributions of the current version (beside the version it was
edited from), and its comparison with any saved run, drawn with :mod:`workbench.charts`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..errors import DataError, WorkbenchError
from ._common import message_html, table_html
from ._controller import describe
from ._view import row

if TYPE_CHECKING:
    import altair as alt

    from ..compare import Comparison
    from ._controller import PanelController, PanelEvent

_TABLE_COLUMNS = (
    "task",
    "criterion",
    "metric",
    "n",
    "mean_a",
    "mean_b",
    "delta",
    "ci_low",
    "ci_high",
    "p_holm",
    "significant",
)


def show_chart(out: w.Output, chart: Any) -> None:
    """Put ``chart`` in ``out`` as display data rendered by the offline renderer.

    The output goes into the widget's state (not through a kernel message), so it also
    shows when the state is embedded in an exported report.
    """
    from .. import charts

    with charts.enable_offline():
        bundle = chart._repr_mimebundle_()
    data, meta = bundle if isinstance(bundle, tuple) else (bundle, {})
    out.outputs = ({"output_type": "display_data", "data": data, "metadata": meta or {}},)


class ChartsPanel(w.VBox):
    """Distributions of the current version and comparisons with saved runs.

    ``saved`` lists the store's runs, newest first, and is filled when the panel opens and
    after each run; it preselects the newest run that is not one of the current version's
    own. ``distribution_chart`` and ``comparison_chart`` hold the last altair charts drawn
    (for tests and for saving); they are shown in ``distributions_out`` and ``comparison_out``.
    """

    def __init__(self, controller: PanelController) -> None:
        self._ctl = controller
        self.distribution_chart: alt.TopLevelMixin | None = None
        self.comparison_chart: alt.TopLevelMixin | None = None
        self.comparison: Comparison | None = None
        self.message = w.HTML()
        self.message.add_class("wb-charts-message")
        self.distributions_out = w.Output()
        self.distributions_out.add_class("wb-distributions")
        self.saved = w.Dropdown(description="saved run", options=[], layout=w.Layout(width="32em"))
        self.saved.add_class("wb-saved-runs")
        self.reload_button = w.Button(description="Reload runs", icon="refresh")
        self.reload_button.add_class("wb-reload-runs")
        self.compare_button = w.Button(description="Compare with current", layout=w.Layout(width="auto"))
        self.compare_button.add_class("wb-compare")
        self.compare_message = w.HTML()
        self.compare_message.add_class("wb-compare-message")
        self.comparison_out = w.Output()
        self.comparison_out.add_class("wb-comparison")
        self.comparison_table = w.HTML()
        self.comparison_table.add_class("wb-comparison-table")
        self.reload_button.on_click(lambda _: self.reload_runs())
        self.compare_button.on_click(lambda _: self.compare())
        super().__init__(
            [
                w.HTML("<b>Score distributions</b>"),
                self.message,
                self.distributions_out,
                w.HTML("<b>Compare with a saved run</b>"),
                row([self.saved, self.reload_button, self.compare_button]),
                self.compare_message,
                self.comparison_out,
                self.comparison_table,
            ]
        )
        self.add_class("wb-charts")
        self.refresh()
        self.reload_runs()
        controller.subscribe(self._on_change)

    def _on_change(self, event: PanelEvent) -> None:
        if event.kind == "selected" or event.version is self._ctl.current:
            self.refresh()
        self.reload_runs()  # a run was saved, or another version's own runs are no longer "other"

    def refresh(self) -> None:
        """Redraw the distributions: the current version, beside the one it was edited from."""
        ctl = self._ctl
        cur = ctl.current
        if cur.results is None:
            self.message.value = message_html(f"{cur.label} has no results yet: run some rows.", "info")
            self.distributions_out.outputs = ()
            self.distribution_chart = None
            return
        from .. import charts  # altair is imported on first use: a panel opens faster

        runs: dict[str, Any] = {}
        chart: alt.TopLevelMixin
        parent = ctl.parent()
        if parent is not None and parent.results is not None:
            runs[parent.label] = parent.results
        runs[cur.label] = cur.results
        try:
            data = charts.combine(runs) if len(runs) > 1 else cur.results
            chart = charts.distributions(data)
            note = "" if len(runs) == 1 else f"{parent.label if parent else ''} beside {cur.label}"
        except DataError:  # no scores (assertions only, or every cell errored): pass rates instead
            try:
                chart = charts.pass_rates(runs if len(runs) > 1 else cur.results)
                note = "no scores to plot yet: pass rates instead"
            except WorkbenchError as e:
                self.message.value = message_html(ctl.redact(str(e)), "info")
                return
        except WorkbenchError as e:
            self.message.value = message_html(ctl.redact(str(e)))
            return
        self.distribution_chart = chart
        self.message.value = message_html(note, "info") if note else ""
        show_chart(self.distributions_out, chart)

    def reload_runs(self) -> None:
        """List the store's saved runs in ``saved`` (newest first) and preselect the newest
        run that is not one of the current version's own (a comparison with itself says nothing).
        """
        try:
            options, newest_other = self._ctl.run_choices()
        except Exception as e:  # noqa: BLE001  (a broken or locked store is shown, not raised)
            self.saved.options = []
            self.compare_message.value = message_html(self._ctl.redact(describe(e)))
            return
        self.saved.options = options
        self.saved.value = newest_other
        if not options:
            self.compare_message.value = message_html("No saved runs yet.", "info")
        elif newest_other is None:
            self.compare_message.value = message_html(
                f"Every saved run is one of {self._ctl.current.label}'s own.", "info"
            )
        else:
            self.compare_message.value = ""

    def compare(self) -> None:
        """Compare the chosen saved run (A) with the current version's results (B)."""
        from .. import charts

        ctl = self._ctl
        cur = ctl.current
        if self.saved.value is None:
            self.compare_message.value = message_html(
                "Pick a saved run first (Reload runs lists them).", "info"
            )
            return
        if cur.results is None:
            self.compare_message.value = message_html(
                f"{cur.label} has no results yet: run some rows.", "info"
            )
            return
        try:
            cmp = ctl.compare(self.saved.value)
            chart = charts.comparison(cmp)
        except Exception as e:  # noqa: BLE001
            self.compare_message.value = message_html(ctl.redact(describe(e)))
            return
        self.comparison, self.comparison_chart = cmp, chart
        self.compare_message.value = message_html(
            f"A = saved run {self.saved.label}; B = {cur.label}", "info"
        )
        show_chart(self.comparison_out, chart)
        cols = [c for c in _TABLE_COLUMNS if c in cmp.table.columns]
        self.comparison_table.value = table_html(cmp.table[cols])
