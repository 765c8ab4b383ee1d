"""The subset runner: pick rows, see what a run would cost, run it without blocking the kernel."""

from __future__ import annotations

import asyncio
import html
import math
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import pandas as pd

from ..run import Run
from ._common import Version, message_html
from ._controller import describe
from ._view import row

if TYPE_CHECKING:
    from ._controller import PanelController

SUBSETS: list[tuple[str, str]] = [
    ("all rows", "all"),
    ("failing rows", "failing"),
    ("rows with errors", "errored"),
    ("rows the edit changes", "changed"),
    ("random sample of N", "sample"),
    ("pandas query", "query"),
    ("picked rows", "picked"),
]
"""The subsets the runner offers, as (label, value) of its ``subset`` dropdown."""

_REDRAW_S = 0.1
"""Least time between two progress redraws (each one is a message to the browser)."""


class SubsetRunner(w.VBox):
    """Runs the controller's current version on a subset of rows (see :class:`~workbench.Workbench`).

    In a notebook the run is a task on the kernel's event loop, so the cell returns at once,
    the progress bar redraws and ``cancel_button`` works; ``last_task`` is that task and
    ``await runner.wait()`` waits for it. Without a running loop (a script, a plain test) a
    click runs synchronously.
    """

    def __init__(self, controller: PanelController) -> None:
        self._ctl = controller
        self.last_task: asyncio.Task[None] | None = None
        self.last_run: Run | None = None
        self.running = False
        self._drawn = 0.0
        df = controller.df
        self.subset = w.Dropdown(description="rows", options=SUBSETS, value="all")
        self.subset.add_class("wb-subset")
        self.sample_n = w.BoundedIntText(
            description="N",
            value=min(20, max(len(df), 1)),
            min=1,
            max=max(len(df), 1),
            layout=w.Layout(width="12em"),
        )
        self.sample_n.add_class("wb-sample-n")
        self.seed = w.IntText(description="seed", value=0, layout=w.Layout(width="12em"))
        self.seed.add_class("wb-seed")
        self.query = w.Text(
            description="query",
            placeholder="e.g. lang == 'en' and len(answer) > 200",
            continuous_update=False,
            layout=w.Layout(width="40em"),
        )
        self.query.add_class("wb-query")
        self.picked = w.SelectMultiple(
            description="rows", options=[(str(r), r) for r in df.index[:5000]], rows=8
        )
        self.picked.add_class("wb-picked")
        self.estimate_button = w.Button(description="Estimate", icon="calculator")
        self.estimate_button.add_class("wb-estimate-button")
        self.summary = w.HTML()
        self.summary.add_class("wb-estimate")
        self.run_button = w.Button(description="Run", button_style="success", icon="play")
        self.run_button.add_class("wb-run")
        self.cancel_button = w.Button(description="Cancel", button_style="danger", icon="stop", disabled=True)
        self.cancel_button.add_class("wb-cancel")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="calls")
        self.progress.add_class("wb-progress")
        self.status = w.HTML()
        self.status.add_class("wb-run-status")
        # batch mode: offered for large runs (the controller decides), with both prices shown
        self.batch_mode = w.Checkbox(description="batch mode", value=False, indent=False)
        self.batch_mode.add_class("wb-batch-mode")
        self.batch_text = w.HTML()
        self.batch_text.add_class("wb-batch-offer")
        self.batch_box = row([self.batch_mode, self.batch_text])
        self.pending = w.HTML()
        self.pending.add_class("wb-pending-batches")
        self.collect_button = w.Button(description="Collect batches", icon="download")
        self.collect_button.add_class("wb-collect")
        self.pending_box = row([self.collect_button, self.pending])
        self.offer: Any = None
        """The controller's :class:`BatchOffer` for the chosen rows, or None."""

        for widget in (self.subset, self.sample_n, self.seed, self.query, self.picked):
            widget.observe(lambda _: self._subset_changed(), names="value")
        self.estimate_button.on_click(lambda _: self.refresh())
        self.run_button.on_click(lambda _: self.run())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.collect_button.on_click(lambda _: self.collect())
        super().__init__(
            [
                row([self.subset, self.sample_n, self.seed]),
                self.query,
                self.picked,
                row([self.estimate_button, self.summary]),
                self.batch_box,
                row([self.run_button, self.cancel_button, self.progress]),
                self.status,
                self.pending_box,
            ]
        )
        self.batch_box.layout.display = "none"
        self.pending_box.layout.display = "none"
        self.add_class("wb-runner")
        self._show_inputs()
        controller.subscribe(lambda _: self.refresh())

    # --- choosing rows -----------------------------------------------------------------------

    def _show_inputs(self) -> None:
        kind = self.subset.value
        for widget, shown in (
            (self.sample_n, kind == "sample"),
            (self.seed, kind == "sample"),
            (self.query, kind == "query"),
            (self.picked, kind == "picked"),
        ):
            widget.layout.display = "" if shown else "none"

    def _subset_changed(self) -> None:
        self._show_inputs()
        self.refresh()

    def selected_rows(self) -> list[Any]:
        """Index labels of the rows the chosen subset holds, in the DataFrame's order
        (:meth:`PanelController.rows` of the widgets' values).

        Raises:
            WorkbenchError: the subset cannot be computed (no results yet, a bad query...).
        """
        return self._ctl.rows(
            self.subset.value,
            n=int(self.sample_n.value),
            seed=int(self.seed.value),
            query=self.query.value,
            picked=self.picked.value,
        )

    def refresh(self) -> None:
        """Recompute the subset and what running it would cost: calls cached and new, dollars."""
        try:
            rows = self.selected_rows()
            if not rows:
                self.summary.value = message_html("No rows in this subset.", "info")
                return
            est = self._ctl.estimate(rows)
        except Exception as e:  # noqa: BLE001  (shown inline; the panel stays usable)
            self.summary.value = message_html(self._ctl.redact(describe(e)))
            return
        total = est.iloc[-1]
        cost = total["cost_usd_est"]
        money = "cost unknown" if pd.isna(cost) else f"estimated ${float(cost):.4f}"
        self.summary.value = (
            f'<span class="wb-estimate-text">{len(rows):,} rows · {int(total["calls"]):,} judge calls: '
            f"{int(total['cached']):,} cached, {int(total['new']):,} new · {money}</span>"
        )
        self._show_offer(est)

    def _show_offer(self, est: pd.DataFrame) -> None:
        try:
            self.offer = self._ctl.batch_offer(est)
        except Exception:  # noqa: BLE001  (no offer rather than a broken tab)
            self.offer = None
        if self.offer is None:
            self.batch_box.layout.display = "none"
            self.batch_mode.value = False
            return
        o = self.offer

        def usd(x: float | None) -> str:
            return "unknown" if x is None else f"${x:.4f}"

        self.batch_text.value = (
            f'<span class="wb-batch-offer-text">{o.new_calls:,} new calls: {usd(o.batch_usd)} in provider '
            f"batches instead of {usd(o.direct_usd)} direct; results within 24 h (usually within an "
            "hour), collected here or by running the same evaluate again</span>"
        )
        self.batch_box.layout.display = ""

    # --- running -----------------------------------------------------------------------------

    def run(self) -> None:
        """Run the current version on the chosen subset (the Run button)."""
        if self.running:
            return
        ctl = self._ctl
        try:
            rows = self.selected_rows()
        except Exception as e:  # noqa: BLE001
            self.status.value = message_html(ctl.redact(describe(e)))
            return
        if not rows:
            self.status.value = message_html("No rows in this subset: nothing to run.", "info")
            return
        version = ctl.current
        self._started(len(rows))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if self.offer is not None and self.batch_mode.value:
            if loop is None:
                self._submitted(version, rows, asyncio.run(self._submit(version, rows)))
            else:
                self.last_task = loop.create_task(self._submit_async(version, rows))
            return
        if loop is None:  # no kernel loop (a script or a plain test): run here and now
            try:
                run = ctl.evaluate(rows, self._on_progress, version)
            except Exception as e:  # noqa: BLE001
                self._stopped(message_html(ctl.redact(describe(e))))
                return
            self._finished(version, run, rows)
            return
        self.last_task = loop.create_task(self._run_async(version, rows))

    async def _run_async(self, version: Version, rows: list[Any]) -> None:
        try:
            run = await self._ctl.evaluate_async(rows, self._on_progress, version)
        except asyncio.CancelledError:
            self._stopped(
                message_html(
                    f"Cancelled after {self.progress.value:,} of {self.progress.max:,} calls; the verdicts "
                    "that finished are cached, so running again resumes from there.",
                    "info",
                )
            )
            return
        except Exception as e:  # noqa: BLE001
            self._stopped(message_html(self._ctl.redact(describe(e))))
            return
        self._finished(version, run, rows)

    # --- batch mode ---------------------------------------------------------------------------

    async def _submit(self, version: Version, rows: list[Any]) -> Run | str:
        try:
            return await self._ctl.submit_batch(rows, version)
        except Exception as e:  # noqa: BLE001
            return message_html(self._ctl.redact(describe(e)))

    async def _submit_async(self, version: Version, rows: list[Any]) -> None:
        self._submitted(version, rows, await self._submit(version, rows))

    def _submitted(self, version: Version, rows: list[Any], run: Run | str) -> None:
        if isinstance(run, str):
            self._stopped(run)
            return
        if getattr(run, "waiting", 0):
            self.running = False
            self.run_button.disabled = False
            self.cancel_button.disabled = True
            self.status.value = message_html(
                f"Submitted {getattr(run, 'waiting', 0):,} judge calls of {version.label} in provider "
                "batches. "
                "Collect batches below (or run the same evaluate again, in any process) when they finish.",
                "info",
            )
            self.show_pending()
            return
        self._finished(version, run, rows)

    def show_pending(self) -> None:
        """Redraw the pending batches (the store's batches that have not finished)."""
        try:
            table = self._ctl.pending_batches()
        except Exception as e:  # noqa: BLE001
            self.pending.value = message_html(self._ctl.redact(describe(e)))
            self.pending_box.layout.display = ""
            return
        if not len(table) and not self._ctl.pending:
            self.pending_box.layout.display = "none"
            return
        items = "".join(
            f"<li><code>{html.escape(str(b['batch']))}</code> {html.escape(str(b['status']))}: "
            f"{int(b['completed']) + int(b['failed']):,}/"
            f"{int(b['requests']):,} requests done</li>"
            for b in table.to_dict("records")[:10]
        )
        waiting = sum(int(getattr(r, "waiting", 0)) for _, _, r in self._ctl.pending)
        self.pending.value = (
            f'<span class="wb-pending-text">{len(table)} pending batch{"es" if len(table) != 1 else ""}'
            f"; {waiting:,} judge calls of this panel wait</span><ul>{items}</ul>"
        )
        self.pending_box.layout.display = ""

    def collect(self) -> None:
        """Poll the pending batch-mode runs once; record those that finished (Collect batches)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self._collected(asyncio.run(self._collect()))
        else:
            self.last_task = loop.create_task(self._collect_async())

    async def _collect(self) -> list[tuple[Version, Run]] | str:
        try:
            return await self._ctl.collect()
        except Exception as e:  # noqa: BLE001
            return message_html(self._ctl.redact(describe(e)))

    async def _collect_async(self) -> None:
        self._collected(await self._collect())

    def _collected(self, done: list[tuple[Version, Run]] | str) -> None:
        if isinstance(done, str):
            self.status.value = done
        elif done:
            self.last_run = done[-1][1]
            self.status.value = message_html(
                f"Collected {len(done)} batch-mode run{'s' if len(done) != 1 else ''}: "
                + ", ".join(v.label for v, _ in done),
                "info",
            )
        else:
            self.status.value = message_html("The batches are still running; collect again later.", "info")
        self.show_pending()

    def cancel(self) -> None:
        """Stop the run in flight (the Cancel button); calls in flight are cancelled."""
        if self.last_task is not None and not self.last_task.done():
            self.last_task.cancel()

    async def wait(self) -> Run | None:
        """Wait for the run in flight, if any; the last finished run (``None`` if cancelled)."""
        if self.last_task is not None:
            await asyncio.wait([self.last_task])
        return self.last_run

    def _started(self, n: int) -> None:
        self.running = True
        self.last_run = None
        self.run_button.disabled = True
        self.cancel_button.disabled = False
        self.progress.value, self.progress.max = 0, 1
        self.progress.bar_style = ""
        self.status.value = message_html(f"Running {n:,} rows...", "info")

    def _on_progress(self, p: Any) -> None:
        now = time.monotonic()
        if now - self._drawn < _REDRAW_S and p.done < p.total:
            return
        self._drawn = now
        self.progress.max = max(p.total, 1)
        self.progress.value = min(p.done, self.progress.max)
        self.status.value = (
            f'<span class="wb-progress-text">done {p.done:,}/{p.total:,} · cached {p.cached:,} · '
            f"errors {p.errors:,} · ${p.cost_usd:.4f}"
            + (f" (+{p.unpriced:,} calls of unknown price)" if getattr(p, "unpriced", 0) else "")
            + "</span>"
        )

    def _stopped(self, message: str) -> None:
        self.running = False
        self.run_button.disabled = False
        self.cancel_button.disabled = True
        self.progress.bar_style = "warning"
        self.status.value = message

    def _finished(self, version: Version, run: Run, rows: list[Any]) -> None:
        self.last_run = run
        shown = ""
        try:  # results, explorer and charts first: "finished" means everything is drawn
            self._ctl.record(version, run)
        except Exception as e:  # noqa: BLE001  (the run is kept in last_run; the panel stays usable)
            shown = message_html(self._ctl.redact(f"the run finished but could not be shown: {describe(e)}"))
        self.running = False
        self.run_button.disabled = False
        self.cancel_button.disabled = True
        c = run.calls
        self.progress.max = max(int(c.get("calls", 0)), 1)
        self.progress.value = int(c.get("calls", 0))
        self.progress.bar_style = "success"
        cost = c.get("cost_usd")
        money = (
            "cost unknown"
            if cost is None or (isinstance(cost, float) and math.isnan(cost))
            else f"${cost:.4f}"
        )
        self.status.value = (
            f'<span class="wb-progress-text">finished {version.label}: {len(rows):,} rows · '
            f"done {int(c.get('calls', 0)):,} calls · cached {int(c.get('cache_hits', 0)):,} · "
            f"errors {int(c.get('errors', 0)):,} · {money}</span>"
        ) + shown
