"""The exception family of workbench, and helpers that make messages say what to do.

Every error a user can cause derives from :class:`WorkbenchError`; each subclass also
derives from the built-in it refines, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

__all__ = [
    "ColumnsError",
    "DataError",
    "EvaluationError",
    "JudgeParseError",
    "MissingDependencyError",
    "SpecError",
    "WorkbenchError",
]


class WorkbenchError(Exception):
    """Base class of every error workbench raises on purpose.

    Example:
        >>> import workbench as wb
        >>> issubclass(wb.SpecError, wb.WorkbenchError) and issubclass(wb.ColumnsError, wb.WorkbenchError)
        True
    """


class SpecError(WorkbenchError, ValueError):
    """A suite, task or criterion is invalid. The message lists every problem found.

    Example:
        >>> import workbench as wb
        >>> try:
        ...     wb.AssertionTask(id="t", path="x", op="equalz", expected=1)
        ... except wb.SpecError as e:
        ...     print(str(e).splitlines()[1])
          - task 't': unknown operator 'equalz'; did you mean 'equals'?
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems)


class ColumnsError(WorkbenchError, ValueError):
    """The DataFrame does not have the columns (or index) a suite needs.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="t", path="answr", op="is_string")])
        >>> try:
        ...     wb.evaluate(pd.DataFrame({"answer": ["hi"]}), suite)
        ... except wb.ColumnsError as e:
        ...     print(str(e).splitlines()[1])
          - task 't': path 'answr' starts with 'answr', which is neither a column nor a task; did you mean 'answer'?
    """


class DataError(WorkbenchError, ValueError):
    """A dataset file is missing, of an unknown format, or malformed.

    Example:
        >>> import workbench as wb
        >>> try:
        ...     wb.load_dataset("answers.xlsx")
        ... except wb.DataError as e:
        ...     print("unsupported" in str(e) or "does not exist" in str(e))
        True
    """


class EvaluationError(WorkbenchError):
    """Raised by ``evaluate(..., strict=True)`` for the first cell that errored.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="t", path="x", op="gt", expected=1)])
        >>> try:
        ...     wb.evaluate(pd.DataFrame({"x": ["five"]}), suite, strict=True)
        ... except wb.EvaluationError as e:
        ...     print(str(e)[:39])
        task 't' errored at row 0: greater_than
    """


class JudgeParseError(WorkbenchError, ValueError):
    """A judge's reply could not be parsed into a valid verdict.

    The message says what was wrong (criterion, value, what is allowed); ``raw`` keeps the
    reply exactly as the model sent it, for the error cell and the repair call.

    Example:
        >>> e = JudgeParseError("criterion 'tone' is missing", raw='{"accuracy": 4}')
        >>> str(e), e.raw
        ("criterion 'tone' is missing", '{"accuracy": 4}')
    """

    def __init__(self, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.raw: str = raw


class MissingDependencyError(WorkbenchError, ImportError):
    """An optional package a feature needs is not installed; the message names the
    ``pip install`` that fixes it.

    Example:
        >>> import workbench as wb
        >>> str(wb.MissingDependencyError("charts need altair: pip install altair"))
        'charts need altair: pip install altair'
    """


def closest(name: str, options: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` of ``options`` that look like ``name``: the best match, and
    others nearly as good (best first)."""
    options = list(options)
    by_lower = {o.lower(): o for o in options}
    hits = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.6)
    if not hits:
        return []
    ratio = lambda h: difflib.SequenceMatcher(None, name.lower(), h).ratio()
    best = ratio(hits[0])
    return [by_lower[h] for h in hits if ratio(h) >= best - 0.05]


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` or ``""`` when nothing is close."""
    hits = closest(name, options)
    if not hits:
        return ""
    return "; did you mean " + " or ".join(repr(h) for h in hits) + "?"


def cap_list(items: Sequence[object], limit: int = 10) -> str:
    """Render a list for a message: the first ``limit`` items, then ``+N more``."""
    shown = ", ".join(repr(i) for i in items[:limit])
    more = len(items) - limit
    return f"[{shown}{f', ... +{more} more' if more > 0 else ''}]"


def shorten(text: str, limit: int = 80) -> str:
    """Cut ``text`` in the middle so it fits ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    keep = max(limit - 20, 10)
    head, tail = text[: keep // 2], text[-(keep - keep // 2) :]
    return f"{head}[... {len(text) - keep} chars ...]{tail}"
