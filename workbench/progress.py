"""How a run shows its progress: a tqdm bar in a notebook or on a terminal, a few lines in a log.

``evaluate`` and the cluster path (:mod:`workbench.distributed`) both call
:func:`progress_display`; they differ only in what they say (:class:`View`).

Example:
    >>> import io, contextlib
    >>> from types import SimpleNamespace as P
    >>> view = View("judging", "judged", postfix=lambda p: f"errors={p.errors}",
    ...             fraction=lambda p: p.done / p.total)
    >>> lines = Lines(view)
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     for done in (0, 50, 100):
    ...         lines.update(P(done=done, total=100, errors=0))
    ...     lines.close()
    >>> print(err.getvalue().strip())
    judging: 0/100 calls (errors=0)
    judging: 50/100 calls (errors=0)
    judged: 100/100 calls (errors=0)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Bar", "Lines", "View", "judge_postfix", "progress_display"]


@dataclass(frozen=True)
class View:
    """What a progress display says about a progress object ``p`` (with ``done`` and ``total``)."""

    label: str
    """``judging``: the bar's title; a log line starts with it."""
    done_label: str
    """``judged``: the last log line starts with it."""
    postfix: Callable[[Any], str]
    """The counts after the numbers: cached, errors, dollars..."""
    fraction: Callable[[Any], float]
    """How far the run is, 0 to 1 (a log prints a line at each quarter)."""


def judge_postfix(p: Any) -> str:
    """Cached calls, errors, calls not sent and dollars (``cost unknown`` for an unpriced model).

    Example:
        >>> from types import SimpleNamespace as P
        >>> judge_postfix(P(cached=3, errors=1, unsent=0, unpriced=0, cost_usd=0.25))
        'cached=3, errors=1, $0.2500'
    """
    cost = "cost unknown" if p.unpriced else f"${p.cost_usd:.4f}"
    unreachable = f", provider unreachable: {p.unsent:,} not sent" if p.unsent else ""
    return f"cached={p.cached:,}, errors={p.errors:,}{unreachable}, {cost}"


class Bar:
    """A tqdm.auto bar (a widget in a notebook, a live line on a terminal), redrawn at most ten
    times a second and always at the end."""

    _EVERY_S = 0.1

    def __init__(self, view: View) -> None:
        from tqdm.auto import tqdm

        self._view = view
        self._bar = tqdm(total=0, unit="call", desc=view.label, leave=True)
        self._drawn = 0.0

    def update(self, p: Any) -> None:
        self._bar.total = p.total
        self._bar.n = p.done
        now = time.monotonic()
        if now - self._drawn >= self._EVERY_S or self._view.fraction(p) >= 1:
            self._bar.set_postfix_str(self._view.postfix(p), refresh=False)
            self._bar.refresh()
            self._drawn = now

    def close(self) -> None:
        self._bar.close()


class Lines:
    """Progress for a log (stderr piped to a file or a CI log): a line when the work starts, at
    each quarter, and at the end, never one per call."""

    def __init__(self, view: View) -> None:
        self._view = view
        self._quarter = -1
        self._last: Any = None

    def update(self, p: Any) -> None:
        self._last = p
        if not p.total:
            return
        fraction = self._view.fraction(p)
        quarter = min(3, int(4 * fraction))
        if quarter > self._quarter and fraction < 1:
            self._quarter = quarter
            self._print(p, self._view.label)

    def close(self) -> None:
        if self._last is not None and self._last.total:
            self._print(self._last, self._view.done_label)

    def _print(self, p: Any, verb: str) -> None:
        print(f"{verb}: {p.done:,}/{p.total:,} calls ({self._view.postfix(p)})", file=sys.stderr, flush=True)


def progress_display(
    progress: bool | Callable[[Any], Any], view: View
) -> tuple[Callable[[Any], Any] | None, Any]:
    """The hook to call with each progress object, and the display to ``close()`` at the end
    (None when ``progress`` is the caller's own callable or False).

    A bar in a notebook or on a terminal; :class:`Lines` when stderr is neither (a log file,
    a CI log), or when tqdm is missing.
    """
    if callable(progress):
        return progress, None
    if progress is not True:
        return None, None
    interactive = "ipykernel" in sys.modules or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
    display: Bar | Lines
    try:
        display = Bar(view) if interactive else Lines(view)
    except ImportError:  # tqdm comes with litellm; without it, lines
        display = Lines(view)
    return display.update, display
