"""The live monitor view: a monitor's trend with its alerts marked, the latest alerts, and a
drill-down from an alert to the records that raised it, refreshed from the store while the
kernel is idle."""

from __future__ import annotations

import asyncio
import html
import json
import math
import os
import weakref
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import ipywidgets as w
import pandas as pd

from ..errors import ConfigError
from ._charts import show_chart
from ._common import esc, message_html, pre_html, table_html
from ._controller import describe
from ._monitoring import MonitorController
from ._view import row

if TYPE_CHECKING:
    from ..monitor import Monitor
    from ..store import Store

EVERY_CHECK = "every check"
"""The label of the ``target`` dropdown's first option: chart every check."""

_STATE_STYLE = {
    "firing": "background:#D55E00;color:white",
    "resolved": "background:#009E73;color:white",
}


class MonitorView(w.VBox):
    """A monitor, live in a notebook: the trend of a check with the alerts marked where they
    fired and resolved (:func:`~workbench.charts.monitor_trend`), the latest alerts (open ones
    first in mind: marked ``open``), and a drill-down from an alert to the records that raised
    it and from a record to its fields and cells.

    In a notebook it refreshes itself every ``refresh_s`` seconds while the kernel is idle: a
    task on the kernel's event loop reads the store in a worker thread (records by state and
    the alerts first; the results only when those changed) and redraws only what changed, so
    the cells you run are never held up and a view of an idle monitor sends nothing to the
    browser. Its state and every read are ``controller``, a
    :class:`~workbench.widgets.MonitorController` with no widget in it. Without a running
    event loop (a script, a plain test) :meth:`refresh` (or the Refresh button) reads on demand.

    Args:
        source: a :class:`~workbench.Monitor`, or the store (folder, ``.sqlite`` file,
            :class:`~workbench.Store`) a monitor in any process writes to.
        name: the monitor's name in the store (default: the monitor's, or the store's only one).
        target: the check to chart (``"quality.accuracy"``, a task, or None for every check).
        window: the chart's rolling window: records (``50``) or a time span (``"10min"``).
        since: only records at or after this time (a ``timedelta``: that long before each refresh).
        refresh_s: seconds between refreshes; ``0`` or None: only on demand.
        latest: how many alerts the list shows.

    Raises:
        ConfigError: an unknown source, a bad window, ``latest`` or ``refresh_s``.
        StoreError: the store holds several monitors and no ``name``, or not this one.
        DataError: a ``target`` the monitor does not have.

    Example:
        >>> import tempfile, workbench as wb
        >>> suite = wb.Suite(name="support", tasks=[wb.AssertionTask(id="polite", path="answer",
        ...                                                          op="contains", expected="please")])
        >>> tmp = tempfile.TemporaryDirectory()
        >>> monitor = wb.Monitor(suite, store=tmp.name)
        >>> view = wb.MonitorView(monitor, target="polite", window=5, refresh_s=2)
        >>> _ = [monitor.submit({"id": f"r{i}", "answer": "please" if i % 3 else "no"}) for i in range(9)]
        >>> _ = monitor.flush(timeout=30)
        >>> view.refresh()  # in a notebook it happens by itself every refresh_s seconds
        True
        >>> print(view.controller.summary().split(" · ")[0])
        support: 9 records, 9 evaluated, 0 waiting
        >>> _ = monitor.close(); view.close(); tmp.cleanup()
    """

    _views: ClassVar[weakref.WeakSet[MonitorView]] = weakref.WeakSet()
    """Every view made in this process, for :meth:`stop_all`."""

    def __init__(
        self,
        source: Monitor | Store | str | os.PathLike[str],
        name: str | None = None,
        *,
        target: str | None = None,
        window: int | timedelta | str = 50,
        since: Any = None,
        refresh_s: float | None = 5.0,
        latest: int = 10,
    ) -> None:
        if refresh_s is not None and (
            isinstance(refresh_s, bool)
            or not isinstance(refresh_s, int | float)
            or not refresh_s >= 0
            or math.isinf(refresh_s)
        ):
            raise ConfigError(
                f"refresh_s={refresh_s!r} must be a number of seconds (0 or None: only on demand)"
            )
        self.controller = MonitorController(
            source, name, target=target, window=window, since=since, latest=latest
        )
        """The view's state and the reads it makes (no widgets)."""
        self.refresh_s: float = float(refresh_s or 0)
        self.task: asyncio.Task[None] | None = None
        """The refresh loop on the kernel's event loop while live."""
        self.chart: Any = None
        """The last chart drawn (an altair chart), for tests and for saving."""
        self.redraws = 0
        """How many times the chart and the alerts were drawn again (a refresh that found
        nothing new draws nothing)."""
        self.header = w.HTML()
        self.header.add_class("wb-monitor-header")
        self.target = w.Dropdown(description="check", options=[EVERY_CHECK], layout=w.Layout(width="24em"))
        self.target.add_class("wb-monitor-target")
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.refresh_button.add_class("wb-monitor-refresh")
        self.live = w.ToggleButton(
            value=False,
            description="Live",
            icon="circle",
            tooltip="refresh by itself while the kernel is idle",
        )
        self.live.add_class("wb-monitor-live")
        self.message = w.HTML()
        self.message.add_class("wb-monitor-message")
        self.trend = w.Output()
        self.trend.add_class("wb-monitor-trend")
        self.alerts = w.HTML()
        self.alerts.add_class("wb-monitor-alerts")
        self.alert_pick = w.Dropdown(description="alert", options=[], layout=w.Layout(width="44em"))
        self.alert_pick.add_class("wb-monitor-alert-pick")
        self.alert_records = w.HTML()
        self.alert_records.add_class("wb-monitor-alert-records")
        self.record_pick = w.Dropdown(description="record", options=[], layout=w.Layout(width="24em"))
        self.record_pick.add_class("wb-monitor-record-pick")
        self.record_detail = w.HTML()
        self.record_detail.add_class("wb-monitor-record")
        self._drawing = False  # set while the view fills its dropdowns: their events are not the user's
        super().__init__(
            [
                self.header,
                row([self.target, self.refresh_button, self.live]),
                self.message,
                self.trend,
                w.HTML("<b>Latest alerts</b>"),
                self.alerts,
                w.HTML("<b>Drill down</b>: the records that raised an alert, then one record"),
                self.alert_pick,
                self.alert_records,
                self.record_pick,
                self.record_detail,
            ]
        )
        self.add_class("wb-monitor-view")
        self.target.observe(lambda _: self._target_changed(), names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.live.observe(lambda change: self.start() if change["new"] else self.stop(), names="value")
        self.alert_pick.observe(lambda _: self._alert_changed(), names="value")
        self.record_pick.observe(lambda _: self._record_changed(), names="value")
        self._draw(changed=True)
        MonitorView._views.add(self)
        if self.refresh_s > 0:
            self.start()

    # --- refreshing ------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Read the store now (in this thread) and redraw what changed; True when something did.
        A store that cannot be read is shown in the view, never raised."""
        try:
            read = self._read()
        except Exception as e:  # noqa: BLE001 - shown inline; the next refresh tries again
            return self._failed(e)
        return self._show(*read)

    async def refresh_async(self) -> bool:
        """:meth:`refresh`, reading the store and building the chart in a worker thread so the
        event loop (the kernel's) keeps serving the notebook meanwhile; the widgets are drawn
        on the loop."""
        loop = asyncio.get_running_loop()
        try:
            read = await loop.run_in_executor(None, self._read)
        except Exception as e:  # noqa: BLE001
            return self._failed(e)
        return self._show(*read)

    def _read(self) -> tuple[bool, Any]:
        """Poll the store; when something changed, also build the chart (or the error saying
        why there is none), which is the slow part of a redraw."""
        if not self.controller.poll():
            return False, None
        try:
            return True, self.controller.chart()
        except Exception as e:  # noqa: BLE001 - shown where the chart would be
            return True, e

    def _failed(self, error: BaseException) -> bool:
        self.message.value = message_html(describe(error))
        self._draw_header()
        return False

    def _show(self, changed: bool, chart: Any) -> bool:
        try:
            self._draw(changed, chart)
        except Exception as e:  # noqa: BLE001 - a view that cannot draw says so and keeps refreshing
            self.message.value = message_html(f"the view could not be drawn: {describe(e)}")
        return changed

    def start(self) -> bool:
        """Refresh every ``refresh_s`` seconds (5 when it was 0) on the running event loop;
        False when there is none (outside a notebook): then call :meth:`refresh`."""
        if self.task is not None and not self.task.done():
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.live.value = False
            self._draw_header()
            return False
        if self.refresh_s <= 0:
            self.refresh_s = 5.0
        self.task = loop.create_task(self._run())
        self.live.value = True
        self._draw_header()
        return True

    def stop(self) -> None:
        """Stop refreshing by itself (the Live button; :meth:`refresh` still works)."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.task = None
        self.live.value = False
        self._draw_header()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            await self.refresh_async()

    @classmethod
    def stop_all(cls) -> int:
        """Stop every view of this kernel that refreshes by itself (a cell run again makes a new
        view; the old one, out of sight, keeps refreshing until stopped); how many were.

        Example:
            >>> MonitorView.stop_all()
            0
        """
        live = [v for v in list(cls._views) if v.running]
        for view in live:
            view.stop()
        return len(live)

    @property
    def running(self) -> bool:
        """True while the view refreshes by itself."""
        return self.task is not None and not self.task.done()

    def close(self) -> None:
        """Stop refreshing and close the widget."""
        task = getattr(self, "task", None)  # a view whose arguments were refused has none
        if task is not None and not task.done():
            task.cancel()
        self.task = None
        super().close()

    # --- drawing ---------------------------------------------------------------------------

    def _draw(self, changed: bool, chart: Any = None) -> None:
        self._draw_header()
        if not changed:
            return
        self.redraws += 1
        self.message.value = ""
        self._drawing = True
        try:
            self._fill_targets()
        finally:
            self._drawing = False
        self._draw_chart(chart)
        self._draw_alerts()

    def _draw_header(self) -> None:
        ctl = self.controller
        snap = ctl.snapshot
        where = html.escape(str(ctl.path))
        if snap.name is None:
            self.header.value = (
                f"<b>monitor</b> · no monitor in <code>{where}</code> yet: waiting for records"
                + self._live_text()
            )
            return
        open_n = len(snap.open_alerts)
        alerts_text = (
            f'<span class="wb-monitor-alert-count">{len(snap.alerts):,}</span> '
            f"alert{'s' if len(snap.alerts) != 1 else ''}"
        )
        if open_n:
            alerts_text += f' (<b class="wb-monitor-open-count" style="color:#D55E00">{open_n:,} open</b>)'
        self.header.value = (
            f"<b>{html.escape(snap.name)}</b> · "
            f'<span class="wb-monitor-records">{snap.records:,}</span> records: '
            f'<span class="wb-monitor-evaluated">{snap.evaluated:,}</span> evaluated, '
            f'<span class="wb-monitor-waiting">{snap.waiting:,}</span> waiting · {alerts_text} · '
            f'<span class="wb-monitor-read-at">read {snap.read_at:%H:%M:%S}</span> UTC'
            + self._live_text()
            + f' · <code style="font-size:11px">{where}</code>'
        )

    def _live_text(self) -> str:
        if self.running:
            return f' · <span class="wb-monitor-state">live, every {self.refresh_s:g} s</span>'
        return ' · <span class="wb-monitor-state">paused</span>'

    def _fill_targets(self) -> None:
        checks = list(self.controller.snapshot.checks)
        tasks = [t for t in dict.fromkeys(c.split(".", 1)[0] for c in checks) if t not in checks]
        options = [EVERY_CHECK, *checks, *tasks]
        if list(self.target.options) != options:
            self.target.options = options
        self.target.value = self.controller.target if self.controller.target in options else EVERY_CHECK

    def _target_changed(self) -> None:
        if self._drawing:
            return
        chosen = None if self.target.value == EVERY_CHECK else self.target.value
        try:
            self.controller.set_target(chosen)
        except Exception as e:  # noqa: BLE001
            self.message.value = message_html(describe(e))
            return
        self._draw_chart()

    def _draw_chart(self, chart: Any = None) -> None:
        """Show ``chart`` (an altair chart, or the exception that stopped it), or build it now."""
        try:
            if chart is None:
                chart = self.controller.chart()
            if isinstance(chart, Exception):
                raise chart
        except Exception as e:  # noqa: BLE001 - nothing to draw yet, say why
            self.message.value = message_html(describe(e), "info")
            self.trend.outputs = ()
            self.chart = None
            return
        if chart is None:
            self.message.value = message_html(
                "No evaluated records yet: the chart appears with the first.", "info"
            )
            self.trend.outputs = ()
            self.chart = None
            return
        self.chart = chart
        show_chart(self.trend, chart)

    def _draw_alerts(self) -> None:
        latest = self.controller.latest_alerts()
        if latest.empty:
            self.alerts.value = message_html("No alerts.", "info")
        else:
            rows = "".join(
                "<tr class='wb-monitor-alert'>"
                f"<td>{int(a['id'])}</td>"
                f"<td><span style='{_STATE_STYLE.get(str(a['state']), '')};padding:0 6px;border-radius:3px'>"
                f"{esc(a['state'])}</span>{' <b>open</b>' if a['open'] else ''}</td>"
                f"<td style='white-space:nowrap'>{pd.Timestamp(a['time']):%Y-%m-%d %H:%M:%S}</td>"
                f"<td style='white-space:nowrap'><code>{esc(a['rule'], 80)}</code></td>"
                f"<td>{_number(a['value'])}</td>"
                f"<td>{int(a['records']):,}</td>"
                "</tr>"
                # the message under its alert, the table's whole width: it is the longest part
                "<tr class='wb-monitor-alert-message'><td></td>"
                f"<td colspan='5' style='white-space:normal;color:#444;padding-bottom:6px'>"
                f"{esc(a['message'], 300)}</td></tr>"
                for a in latest.to_dict("records")
            )
            self.alerts.value = _compact(
                "<style>.wb-monitor-alerts-table td, .wb-monitor-alerts-table th {padding: 2px 8px; "
                "text-align: left; vertical-align: top}</style>"
                "<div style='overflow-x:auto;max-width:100%'><table class='wb-monitor-alerts-table'>"
                "<tr><th>id</th><th>state</th><th>time (UTC)</th><th>rule</th><th>value</th>"
                f"<th>records</th></tr>{rows}</table></div>"
            )
        options = [
            (f"#{int(a['id'])} {a['state']} {pd.Timestamp(a['time']):%H:%M} {a['rule']}", int(a["id"]))
            for a in latest.to_dict("records")
        ]
        keep = self.alert_pick.value
        self._drawing = True
        try:
            self.alert_pick.options = options
            ids = [v for _, v in options]
            if keep not in ids:  # something to drill into: the newest open alert, else the newest firing one
                keep = _first_alert(latest)
            self.alert_pick.value = keep
        finally:
            self._drawing = False
        self._alert_changed(force=True)

    def _alert_changed(self, force: bool = False) -> None:
        if self._drawing and not force:
            return
        alert_id = self.alert_pick.value
        if alert_id is None:
            self.alert_records.value = ""
            self.record_pick.options = []
            self.record_detail.value = ""
            return
        try:
            found = self.controller.alert_records(alert_id)
            alert = self.controller.alert(alert_id)
        except Exception as e:  # noqa: BLE001
            self.alert_records.value = message_html(describe(e))
            return
        table = _records_table(found)
        self.alert_records.value = _compact(
            f"<div>{esc(alert['message'])}</div>"
            f"<div>{len(found):,} record{'s' if len(found) != 1 else ''} raised it"
            f"{' (the latest shown)' if int(alert['records']) > len(found) else ''}:</div>"
            + table_html(table, "wb-cells wb-monitor-alert-records-table")
        )
        keep = self.record_pick.value
        ids = [str(i) for i in found.index]
        self._drawing = True
        try:
            self.record_pick.options = ids
            self.record_pick.value = keep if keep in ids else (ids[-1] if ids else None)
        finally:
            self._drawing = False
        self._record_changed(force=True)

    def _record_changed(self, force: bool = False) -> None:
        if self._drawing and not force:
            return
        record_id = self.record_pick.value
        if record_id is None:
            self.record_detail.value = ""
            return
        try:
            fields, cells = self.controller.record(record_id)
        except Exception as e:  # noqa: BLE001
            self.record_detail.value = message_html(describe(e))
            return
        items = "".join(
            f"<tr><th>{esc(k)}</th><td>{pre_html(_cell_text(v, None), max_height='16em')}</td></tr>"
            for k, v in fields.items()
            if _cell_text(v, None) != ""  # a record without tags or a trace id shows neither
        )
        self.record_detail.value = _compact(
            f"<div><b>record <code class='wb-monitor-record-id'>{esc(record_id)}</code></b></div>"
            f"<table class='wb-input'>{items}</table>" + table_html(cells)
        )

    def __repr__(self) -> str:
        state = f"live every {self.refresh_s:g} s" if self.running else "paused"
        return f"MonitorView({self.controller.summary()}; {state})"


_META = ("tags", "trace_id", "record_latency_s", "state", "claims", "attempts")
"""The metadata columns of ``monitor_records`` the drill-down leaves out (the record's own
``latency_s`` field, when it has one, says what ``record_latency_s`` says)."""


def _records_table(found: pd.DataFrame) -> pd.DataFrame:
    """The records of an alert as the drill-down lists them: their time to the second, their
    own fields as short text (structures as JSON), no store bookkeeping, no empty column."""
    hidden = {f"record_{m}" if f"record_{m}" in found.columns else m for m in _META}
    table = found.reset_index()
    table = table[[c for c in table.columns if c not in hidden]].copy()
    if "time" in table:
        table["time"] = pd.to_datetime(table["time"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S")
    for c in table.columns:
        if table[c].dtype == object:
            table[c] = table[c].map(_cell_text)
    empty = [c for c in table.columns if c != "record" and (table[c].isna() | (table[c] == "")).all()]
    return table.drop(columns=empty)


def _compact(markup: str) -> str:
    """``markup`` in a box with a reading line height: ipywidgets' HTML gives every line the
    height of a button (28 px), which makes a table three times as tall."""
    return f'<div style="line-height:1.4">{markup}</div>'


def _first_alert(latest: pd.DataFrame) -> int | None:
    """The alert the drill-down opens on: the newest open one, else the newest that fired
    (its records are the ones that raised it), else the newest."""
    if latest.empty:
        return None
    for mask in (latest["open"].to_numpy(dtype=bool), (latest["state"].astype(str) == "firing").to_numpy()):
        if mask.any():
            return int(latest["id"][mask].iloc[0])
    return int(latest["id"].iloc[0])


def _number(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(v) else f"{v:.3g}"


def _cell_text(value: Any, limit: int | None = 160) -> str:
    """A record's value as text: JSON for what the application returned as a structure."""
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, indent=None if limit else 2, default=str)
    elif value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    else:
        text = str(value)
    if limit and len(text) > limit:
        return text[: limit - 1] + "…"
    return text
