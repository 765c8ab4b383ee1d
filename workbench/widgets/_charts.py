"""The charts panel: score distributions of the current version (beside the version it was
edited from), and its comparison with any saved run, drawn with :mod:`workbench.charts`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..errors import DataError, WorkbenchError
from ._common import message_html, table_html

if TYPE_CHECKING:
    import altair as alt

    from ..compare import Comparison
    from ._panel import Workbench


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

    ``distribution_chart`` and ``comparison_chart`` hold the last altair charts drawn (for
    tests and for saving); they are shown in ``distributions_out`` and ``comparison_out``.
    """

    def __init__(self, panel: Workbench) -> None:
        self._panel = panel
        self.distribution_chart: alt.TopLevelMixin | None = None
        self.comparison_chart: alt.TopLevelMixin | None = None
        self.comparison: Comparison | None = None
        self.message = w.HTML()
        self.message.add_class("wb-charts-message")
        self.distributions_out = w.Output()
        self.distributions_out.add_class("wb-distributions")
        self.saved = w.Dropdown(description="saved run", options=[])
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
                w.HBox([self.saved, self.reload_button, self.compare_button]),
                self.compare_message,
                self.comparison_out,
                self.comparison_table,
            ]
        )
        self.add_class("wb-charts")

    def refresh(self) -> None:
        """Redraw the distributions: the current version, beside the one it was edited from."""
        panel = self._panel
        cur = panel.current
        if cur.results is None:
            self.message.value = message_html(f"{cur.label} has no results yet: run some rows.", "info")
            self.distributions_out.outputs = ()
            self.distribution_chart = None
            return
        from .. import charts  # altair is imported on first use: a panel opens faster

        runs: dict[str, Any] = {}
        parent = panel.version(cur.parent) if cur.parent else None
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
                self.message.value = message_html(panel.redact(str(e)), "info")
                return
        except WorkbenchError as e:
            self.message.value = message_html(panel.redact(str(e)))
            return
        self.distribution_chart = chart
        self.message.value = message_html(note, "info") if note else ""
        show_chart(self.distributions_out, chart)

    def reload_runs(self) -> None:
        """List the saved runs of the store (newest first) in ``saved``."""
        panel = self._panel
        import workbench as wb

        runs_fn = getattr(wb, "runs", None)
        if runs_fn is None:
            self.compare_message.value = message_html(
                "No run store in this installation: nothing saved.", "info"
            )
            return
        try:
            table = runs_fn(store=panel.store)
        except Exception as e:  # noqa: BLE001  (a broken or locked store is shown, not raised)
            self.compare_message.value = message_html(panel.redact(f"{type(e).__name__}: {e}"))
            return
        options = []
        if len(table):
            order = table.sort_values("started_at", ascending=False) if "started_at" in table else table
            for _, r in order.iterrows():
                label = r.get("label") or ""
                when = r.get("started_at")
                text = " · ".join(str(x) for x in (label, r["id"], when) if x is not None and str(x) != "")
                options.append((text, str(r["id"])))
        self.saved.options = options
        self.compare_message.value = "" if options else message_html("No saved runs yet.", "info")

    def compare(self) -> None:
        """Compare the chosen saved run (A) with the current version's results (B)."""
        import workbench as wb

        from .. import charts

        panel = self._panel
        cur = panel.current
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
            mine = cur.run(panel.model)
            assert mine is not None
            cmp = wb.compare(self.saved.value, mine, store=panel.store)
            chart = charts.comparison(cmp)
        except Exception as e:  # noqa: BLE001
            self.compare_message.value = message_html(
                panel.redact(f"{type(e).__name__}: {e}" if not isinstance(e, WorkbenchError) else str(e))
            )
            return
        self.comparison, self.comparison_chart = cmp, chart
        self.compare_message.value = message_html(
            f"A = saved run {self.saved.label}; B = {cur.label}", "info"
        )
        show_chart(self.comparison_out, chart)
        cols = [
            c
            for c in (
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
            if c in cmp.table.columns
        ]
        self.comparison_table.value = table_html(cmp.table[cols])
