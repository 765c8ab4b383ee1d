"""Shared pieces of the widgets: HTML escaping helpers, scale text, versions and result merging."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import shorten
from ..results import STATUSES
from ..run import Run
from ..specs import AssertionTask, JudgeTask, Suite

NOT_RUN = "not run"
"""Status shown for a cell its version has not evaluated yet."""


def esc(value: Any, limit: int | None = None) -> str:
    """``value`` as escaped HTML text (missing values as an empty string)."""
    if value is None or (not isinstance(value, (list, dict, tuple)) and pd.isna(value)):
        return ""
    text = value if isinstance(value, str) else str(value)
    return html.escape(shorten(text, limit) if limit else text)


TABLE_STYLE = (
    "<style>.wb-cells td, .wb-cells th, .wb-input td, .wb-input th, .wb-versions-table td, "
    ".wb-versions-table th {padding: 2px 10px; text-align: left; vertical-align: top}</style>"
)


def table_html(frame: pd.DataFrame, css_class: str = "wb-cells") -> str:
    """``frame`` as an HTML table: every value escaped, missing values blank, floats to 4 digits."""
    shown = frame.astype(object).where(frame.notna(), "")  # to_html's na_rep misses <NA> and None
    shown = shown.map(lambda v: f"{v:.4g}" if isinstance(v, float) else v)
    table = str(shown.to_html(index=False, escape=True, classes=css_class, border=0))
    # a wide table scrolls inside the panel instead of running past the output area
    return f'{TABLE_STYLE}<div style="overflow-x:auto;max-width:100%">{table}</div>'


def message_html(text: str, kind: str = "error") -> str:
    """An inline message box; the text is escaped and keeps its line breaks."""
    colour = {"error": "#b00020", "ok": "#1b5e20", "info": "#555"}[kind]
    return (
        f'<div class="wb-message wb-{kind}" style="color:{colour};white-space:pre-wrap;'
        f'font-family:monospace;font-size:12px">{html.escape(text)}</div>'
    )


# --- scales and thresholds as text ------------------------------------------------------------

_RANGE = re.compile(r"^\(?\s*(-?\d+)\s*(?:\.\.|-|,|to)\s*(-?\d+)\s*\)?$")


def scale_text(scale: Any) -> str:
    """How a scale is written in the editor: ``1..5``, ``binary``, ``a, b, c`` or JSON."""
    if scale is None:
        return ""
    if isinstance(scale, tuple):
        return f"{scale[0]}..{scale[1]}"
    if isinstance(scale, list):
        return ", ".join(scale)
    if isinstance(scale, dict):
        return json.dumps(scale)
    return str(scale)


def parse_scale(text: str) -> Any:
    """The inverse of :func:`scale_text`; ``""`` is ``None`` (inherit the task's scale).

    Raises:
        ValueError: JSON that is not a mapping of labels to numbers.
    """
    text = text.strip()
    if not text:
        return None
    if text == "binary":
        return "binary"
    m = _RANGE.match(text)
    if m:
        return (int(m.group(1)), int(m.group(2)))
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(
                f"scale {text!r} is not valid JSON: {e.msg}; write e.g. "
                '{"bad": 0, "good": 1}, 1..5, binary or labels a, b, c'
            ) from None
        if not isinstance(value, dict):
            raise ValueError(f"scale {text!r} must map labels to scores")
        return value
    return [part.strip() for part in text.split(",") if part.strip()]


def threshold_text(threshold: Any) -> str:
    if threshold is None:
        return ""
    if isinstance(threshold, float) and threshold.is_integer():
        return str(int(threshold))
    return str(threshold)


def parse_threshold(text: str) -> float | str | None:
    """``""`` is no threshold; a number is a score; anything else is a label."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text


# --- versions ---------------------------------------------------------------------------------


@dataclass(eq=False)
class Version:
    """One version of the suite in a :class:`~workbench.Workbench` and what ran under it."""

    label: str
    suite: Suite
    parent: str | None = None
    """The version this one was edited from."""
    results: pd.DataFrame | None = None
    """Cells of the rows run under this version (the latest run of each row)."""
    runs: list[Run] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        return self.suite.fingerprint()

    def run(self, model: str | None = None) -> Run | None:
        """The results of this version as one :class:`Run` (``None`` before any run)."""
        if self.results is None:
            return None
        return Run(
            suite=self.suite, results=self.results, model=model, label=f"{self.suite.name} {self.label}"
        )


def next_label(labels: list[str]) -> str:
    """``v<n+1>`` after the highest ``v<n>``-style label (``v2`` after ``1`` or ``v1``)."""
    numbers = [int(m.group(1)) for x in labels if (m := re.match(r"^v?(\d+)$", x))]
    n = max(numbers, default=len(labels)) + 1
    while f"v{n}" in labels:
        n += 1
    return f"v{n}"


def cells_of(suite: Suite) -> list[tuple[str, str]]:
    """The (task, criterion) cells a suite produces per row, in results order."""
    out: list[tuple[str, str]] = []
    for t in suite.tasks:
        if isinstance(t, AssertionTask):
            out.append((t.id, ""))
        else:
            assert isinstance(t, JudgeTask)
            out += [(t.id, c.name) for c in t.criteria] + ([(t.id, "overall")] if t.overall else [])
    return out


def merge_results(old: pd.DataFrame | None, new: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """``old`` with the rows of ``new`` replaced by ``new``'s cells, ordered as a run orders
    them (task by task, rows in ``index`` order), with the result dtypes kept."""
    if old is None or not len(old):
        return new.reset_index(drop=True)
    kept = old[~old["row"].isin(pd.unique(new["row"]))]
    frame = pd.concat([kept.astype(object), new.astype(object)], ignore_index=True)
    for col in ("task", "criterion", "kind", "status"):
        cats = list(dict.fromkeys([*_categories(old[col]), *_categories(new[col])]))
        if col == "status":
            cats = list(STATUSES)
        frame[col] = pd.Categorical(frame[col], categories=cats)
    for col in new.columns:
        if col not in ("task", "criterion", "kind", "status"):
            frame[col] = frame[col].astype(new[col].dtype)
    order = (
        pd.DataFrame(
            {
                "t": frame["task"].cat.codes,
                "c": frame["criterion"].cat.codes,
                "r": index.get_indexer(pd.Index(frame["row"].tolist())),
            }
        )
        .sort_values(["t", "c", "r"], kind="stable")
        .index
    )
    return frame.loc[order].reset_index(drop=True)


def _categories(s: pd.Series) -> list[Any]:
    return list(s.cat.categories) if isinstance(s.dtype, pd.CategoricalDtype) else list(pd.unique(s))


PRE_STYLE = (
    "white-space:pre-wrap;word-break:normal;overflow-wrap:anywhere;"
    "max-width:100%;box-sizing:border-box;overflow-x:hidden;margin:0.2em 0;"
    "font-family:var(--jp-code-font-family,monospace);font-size:var(--jp-code-font-size,13px);"
    "line-height:1.35"
)
"""Inline style of every ``pre`` the widgets show: text keeps its spaces and line breaks, in a
monospace font, and long lines wrap at spaces. JupyterLab's output area (and the reports made
from it) gives ``pre`` ``word-break: break-all``, which breaks lines inside words, and a
report's widget manager gives it the widgets' font and a 28px line; ``overflow-wrap:
anywhere`` still breaks a token that fits no line (a long URL) instead of overflowing."""


def pre_html(text: Any, limit: int | None = None, max_height: str | None = None) -> str:
    """``text`` escaped in a ``pre`` styled with :data:`PRE_STYLE` (scrolling down past
    ``max_height``, e.g. ``"24em"``)."""
    tall = f";max-height:{max_height};overflow-y:auto" if max_height else ""
    return f'<pre style="{PRE_STYLE}{tall}">{esc(text, limit)}</pre>'


def messages_html(messages: list[dict[str, str]]) -> str:
    """Chat messages as escaped HTML, one block per message."""
    return "".join(
        f'<div class="wb-chat-message wb-role-{html.escape(m["role"])}"><b>{html.escape(m["role"])}</b>'
        f"{pre_html(m['content'], max_height='24em')}</div>"
        for m in messages
    )
