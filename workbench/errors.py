"""The exception family of workbench, and helpers that make messages say what to do.

Every error a user can cause derives from :class:`WorkbenchError`; each subclass also
derives from the built-in it refines, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "AgreementError",
    "CacheError",
    "CacheWarning",
    "ColumnsError",
    "CompareError",
    "ConfigError",
    "DataError",
    "EvaluationError",
    "JudgeParseError",
    "LeanConnectionError",
    "LeanHTTPError",
    "MissingDependencyError",
    "NotebookError",
    "ReportError",
    "SpecError",
    "SpecWarning",
    "StoreError",
    "StoreWarning",
    "UnknownRunError",
    "UnknownTaskError",
    "UsageError",
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
    """A suite, task or criterion is invalid. The message lists every problem found;
    ``problems`` holds them one per item.

    Example:
        >>> import workbench as wb
        >>> try:
        ...     wb.Suite(name="s", tasks=[wb.AssertionTask(id="t", path="x", op="equalz", expected=1)])
        ... except wb.SpecError as e:
        ...     print(str(e).splitlines()[1])
          - task 't': unknown operator 'equalz'; did you mean 'equals'?
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems)


class SpecWarning(UserWarning):
    """A spec was accepted with a change worth knowing, e.g. an ``expected`` value that a
    unary operator ignores (Scouter's suites write ``expected_value: true`` for those).

    Example:
        >>> import warnings, workbench as wb
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     task = wb.AssertionTask(id="mail", path="x", op="is_email", expected=True)
        >>> task.expected, caught[0].category is wb.SpecWarning
        (None, True)
    """


class UnknownTaskError(WorkbenchError, KeyError):
    """A suite has no task with this id; the message lists the closest ids and the others.

    Also a ``KeyError``, so ``except KeyError`` around ``suite.task(id)`` keeps working.

    Example:
        >>> import workbench as wb
        >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="quality", path="x", op="is_json")])
        >>> try:
        ...     suite.task("qualty")
        ... except wb.UnknownTaskError as e:
        ...     print(e)
        no task 'qualty' in suite 's'; did you mean 'quality'? Its tasks are ['quality'].
    """

    def __str__(self) -> str:
        # KeyError's own str() is the repr of its argument, quotes and escapes included
        return str(self.args[0]) if self.args else ""


class ColumnsError(WorkbenchError, ValueError):
    """The DataFrame does not have the columns (or index) a suite needs.

    Example:
        >>> import pandas as pd, workbench as wb
        >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="t", path="answr", op="is_string")])
        >>> try:
        ...     wb.evaluate(pd.DataFrame({"answer": ["hi"]}), suite)
        ... except wb.ColumnsError as e:
        ...     print(str(e).splitlines()[1])
          - task 't': path 'answr' starts with 'answr', ...; did you mean 'answer'?
    """


class ConfigError(WorkbenchError, ValueError):
    """A judge option is unknown, out of range, or given twice with different values.

    Example:
        >>> import workbench as wb
        >>> try:
        ...     wb.JudgeConfig(concurrency=0)
        ... except wb.ConfigError as e:
        ...     print(e)
        judge option concurrency=0 is not allowed: Input should be greater than or equal to 1
    """


class UsageError(WorkbenchError, ValueError):
    """A command-line argument is invalid (the ``workbench`` command exits with code 2).

    Example:
        >>> from workbench.errors import UsageError
        >>> issubclass(UsageError, ValueError)
        True
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


class CompareError(WorkbenchError, ValueError):
    """Two results cannot be compared: not a run, nothing shared, or bad parameters.

    Example:
        >>> import workbench as wb
        >>> try:
        ...     wb.compare([1, 2], [3])
        ... except wb.CompareError as e:
        ...     print(str(e).split(":")[0])
        compare() cannot use a of type list
    """


class AgreementError(WorkbenchError, ValueError):
    """Human labels cannot be set against a judge: labels of unknown tasks or criteria,
    values outside a criterion's scale, repeated labels, no labelled row in the run, or bad
    parameters. The message lists what exists and how to fix it.

    Example:
        >>> import workbench as wb
        >>> issubclass(wb.AgreementError, ValueError)
        True
    """


class ReportError(WorkbenchError, ValueError):
    """Bad input to a report: a notebook that is missing or not a notebook, an output path
    that cannot be written, a kernel that is not installed, a timeout that is not positive.

    Example:
        >>> from workbench.report import ReportError, report
        >>> try:
        ...     report("no_such_notebook.ipynb")
        ... except ReportError as e:
        ...     print(str(e).split(" (")[0])
        notebook 'no_such_notebook.ipynb' does not exist
    """


class NotebookError(WorkbenchError, RuntimeError):
    """A cell of the notebook raised, timed out, or killed its kernel.

    Attributes:
        notebook: the notebook's path (or ``"<notebook>"`` when it was given in memory).
        cell: the failing cell's 1-based position among all cells of the notebook.
        execution_count: the ``[n]`` the cell got, if it got one.
        source: the failing cell's source.
        ename: the exception's class name (``"CellTimeoutError"`` for a timeout,
            ``"DeadKernelError"`` when the kernel died).
        evalue: the exception's message.
        traceback: the traceback as plain text (no colour codes).
        timed_out: whether the overall timeout ran out in this cell.
        timeout: the overall timeout in seconds.
        partial: the partial report (outputs up to the failing cell), when one was written.
        executed: the notebook as far as it ran, with the failing cell's outputs.

    Example:
        >>> from workbench.errors import NotebookError
        >>> e = NotebookError(notebook="nb.ipynb", cell=3, execution_count=2, source="1 / 0",
        ...                   ename="ZeroDivisionError", evalue="division by zero")
        >>> print(str(e).splitlines()[0])
        notebook 'nb.ipynb' failed in cell 3 (code cell [2]): ZeroDivisionError: division by zero
    """

    def __init__(
        self,
        *,
        notebook: str,
        cell: int,
        execution_count: int | None,
        source: str,
        ename: str,
        evalue: str,
        traceback: str = "",
        timed_out: bool = False,
        timeout: float | None = None,
        executed: Any = None,
    ) -> None:
        super().__init__(notebook, cell, ename, evalue)
        self.notebook = notebook
        self.cell = cell
        self.execution_count = execution_count
        self.source = source
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback
        self.timed_out = timed_out
        self.timeout = timeout
        self.executed = executed
        self.partial: Path | None = None

    def __str__(self) -> str:
        where = f"cell {self.cell}" + (
            f" (code cell [{self.execution_count}])" if self.execution_count else ""
        )
        first = next((line for line in self.source.splitlines() if line.strip()), "")
        if self.timed_out:
            head = f"notebook {self.notebook!r} timed out: {where} was still running when the overall timeout"
            lines = [f"{head} of {self.timeout:g} s ran out", f"  > {shorten(first, 100)}"]
        else:
            lines = [
                f"notebook {self.notebook!r} failed in {where}: {self.ename}: {shorten(self.evalue, 300)}",
                f"  > {shorten(first, 100)}",
            ]
            tb = [line for line in self.traceback.splitlines() if line.strip()]
            if len(tb) > 1:
                shown = tb[-_NOTEBOOK_TRACEBACK_LINES:]
                lines.append(
                    "Traceback" + (f" (last {len(shown)} lines)" if len(tb) > len(shown) else "") + ":"
                )
                lines += ["    " + line for line in shown]
        if self.partial is not None:
            lines.append(f"Partial report, with the outputs up to this cell: {self.partial}")
        if self.timed_out:
            lines.append(
                "Give it more time with timeout=... (CLI: --timeout SECONDS), or make the cell faster."
            )
        else:
            lines.append("Fix the cell and run the report again; the notebook itself was not changed.")
        return "\n".join(lines)


class StoreError(WorkbenchError):
    """The run store cannot be used: the file is not a workbench store, was written by a
    newer workbench, or a run cannot be stored. The message says what to do.

    Example:
        >>> import workbench as wb
        >>> from workbench.store import StoreError
        >>> issubclass(StoreError, wb.WorkbenchError)
        True
    """


class UnknownRunError(StoreError, LookupError):
    """No run in the store has this id or label; the message lists the closest ones.

    Example:
        >>> from workbench.store import UnknownRunError
        >>> issubclass(UnknownRunError, LookupError)
        True
    """


class StoreWarning(UserWarning):
    """A run could not be saved; the run itself is returned complete and can be saved
    later with ``run.save(store=...)``.

    Example:
        >>> from workbench.store import StoreWarning
        >>> issubclass(StoreWarning, UserWarning)
        True
    """


class CacheError(WorkbenchError):
    """The judge cache cannot be opened: its database file is damaged or is not one. The
    message names the file and the fix (nothing has been spent when it is raised).

    Example:
        >>> import workbench as wb
        >>> from workbench.errors import CacheError
        >>> issubclass(CacheError, wb.WorkbenchError)
        True
    """


class CacheWarning(UserWarning):
    """The judge cache could not be written (a full disk, a read-only folder): the run goes
    on and keeps every verdict, but those verdicts are not cached on disk. The message names
    the folder and what to do.

    Example:
        >>> from workbench.errors import CacheWarning
        >>> issubclass(CacheWarning, UserWarning)
        True
    """


class LeanHTTPError(WorkbenchError):
    """A judge call over the lean transport got an error reply: an HTTP error status, or a
    2xx body that is not a chat completion (``status`` 200).

    ``message`` is the provider's own (from OpenAI's error JSON, else the body's head) with
    credentials scrubbed; ``retry_after`` the seconds a ``Retry-After``/``retry-after-ms``
    header asked for. :attr:`retryable` says whether another attempt may succeed.

    Example:
        >>> e = LeanHTTPError(401, "Incorrect API key provided.", url="https://api.example.com/v1/chat/completions")
        >>> str(e), e.retryable
        ('HTTP 401 from https://api.example.com/v1/chat/completions: Incorrect API key provided.', False)
    """

    def __init__(self, status: int, message: str, *, retry_after: float | None = None, url: str = "") -> None:
        where = f" from {url}" if url else ""
        super().__init__(f"HTTP {status}{where}: {message}")
        self.status: int = status
        self.message: str = message
        self.retry_after: float | None = retry_after
        self.url: str = url

    @property
    def retryable(self) -> bool:
        """True for 408, 409, 429, 5xx and a malformed 2xx body (as litellm retries them);
        False for the rest: authentication and permission (401, 403), an unknown model
        (404) and a bad request (400) fail the same way every time."""
        return self.status in (408, 409, 429) or self.status >= 500 or 200 <= self.status < 300


class LeanConnectionError(WorkbenchError, ConnectionError):
    """A judge call over the lean transport could not connect, or the connection broke
    before the reply was complete. Worth retrying.

    Example:
        >>> issubclass(LeanConnectionError, ConnectionError)
        True
    """


_NOTEBOOK_TRACEBACK_LINES = 12
"""How much of a failing cell's traceback a NotebookError shows."""


def closest(name: str, options: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` of ``options`` that look like ``name``: the best match, and
    others nearly as good (best first)."""
    options = list(options)
    by_lower = {o.lower(): o for o in options}
    hits = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.6)
    if not hits:
        return []

    def ratio(hit: str) -> float:
        return difflib.SequenceMatcher(None, name.lower(), hit).ratio()

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


_CUT_MARKER = re.compile(r"\[\.\.\. \d[\d,]* chars(?: \.\.\.)?\]")
"""What :func:`shorten` (``[... N chars ...]``) and :func:`shorten_once` (``[... N chars]``) leave
where they cut."""


def shorten_once(text: str, limit: int = 100) -> str:
    """Fit ``text`` to about ``limit`` characters for a display, keeping its head, and never cut
    a text that was cut before.

    A text holding a cut marker (a reason whose value :func:`shorten` cut) comes back whole:
    cutting it again nests the markers and can cut away what the first cut kept, such as the
    number in ``'Yes, annual plans ar[... 89 chars ...]months.' has similarity 0.271``. A
    longer text keeps its head, where a reason leads with its verdict, ended at a word when
    one ends near the limit, then says how many characters were cut.

    Example:
        >>> shorten_once("fails: the answer invents a refund policy that the documents never mention", 50)
        'fails: the answer invents a refund [... 40 chars]'
        >>> reason = shorten("x" * 100, 30) + " (length 100) is not shorter than 80"
        >>> shorten_once(reason, 40) == reason
        True
    """
    if len(text) <= limit or _CUT_MARKER.search(text):
        return text
    keep = max(limit - 16, 10)  # room for " [... NNN chars]"
    word_end = text.rfind(" ", keep // 2, keep + 1)
    head = text[: word_end if word_end > 0 else keep].rstrip()
    return f"{head} [... {len(text) - len(head)} chars]"
