"""Shareable reports: execute a notebook and write it as one self-contained HTML file.

The file needs no network to open: charts carry their own JavaScript (``workbench.charts``),
the widgets manager and require.js are inlined (``workbench/_vendor``), MathJax is left out,
and the widgets' state is embedded, so the controls show as they were when the notebook ran.

Example:
    >>> from workbench.report import ReportError, report
    >>> try:
    ...     report("notebooks/no_such.ipynb", timeout=60)
    ... except ReportError as e:
    ...     print(str(e).split(" (")[0])
    notebook 'notebooks/no_such.ipynb' does not exist
"""

from __future__ import annotations

import os
import secrets
import warnings
from pathlib import Path

from ..errors import cap_list
from ._cli import main
from ._execute import NotebookError, ReportError, execute_notebook, read_notebook
from ._export import export_html, external_references, redact_secrets

__all__ = [
    "NotebookError",
    "ReportError",
    "execute_notebook",
    "export_html",
    "external_references",
    "main",
    "read_notebook",
    "redact_secrets",
    "report",
]


def report(
    notebook: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    timeout: float = 600,
    cwd: str | os.PathLike[str] | None = None,
) -> Path:
    """Execute a notebook top to bottom in a fresh kernel and write it as one HTML file.

    The notebook file itself is not changed. When a cell fails, the report is not written
    (an older report at ``output`` stays as it was); a partial report with the outputs up to
    the failing cell goes to ``<output stem>.partial.html`` instead, and is removed by the
    next successful report.

    Args:
        notebook: the ``.ipynb`` file.
        output: the HTML file to write, or an existing folder to write it into; default
            the notebook's path with ``.html``.
        timeout: seconds for the whole notebook, kernel start included.
        cwd: the kernel's working directory; default the notebook's folder.

    Returns:
        The path of the report.

    Raises:
        ReportError: the notebook cannot be read, the output folder does not exist, the
            kernel is not installed.
        NotebookError: a cell raised, killed the kernel or ran out the timeout; the
            message names the cell, the exception and the partial report.

    Example:
        >>> from workbench.report import ReportError, report
        >>> try:
        ...     report("README.md")
        ... except ReportError as e:
        ...     print(str(e).split(";")[0])
        'README.md' is not a notebook
    """
    src = Path(notebook)
    read_notebook(src)  # fail on a bad notebook before looking at the output
    out = _output_path(src, output)
    partial = out.with_name(out.stem + ".partial.html")
    try:
        executed = execute_notebook(src, timeout=timeout, cwd=cwd)
    except NotebookError as e:
        if e.executed is not None:
            _write(partial, _render(e.executed, src))
            e.partial = partial
        raise
    _write(out, _render(executed, src))
    partial.unlink(missing_ok=True)
    return out


def _output_path(src: Path, output: str | os.PathLike[str] | None) -> Path:
    out = src.with_suffix(".html") if output is None else Path(output)
    if out.is_dir():
        out = out / src.with_suffix(".html").name
    if out.suffix.lower() not in (".html", ".htm"):
        raise ReportError(
            f"output {str(out)!r} should be an .html file, got {out.suffix or 'no extension'!r}"
        )
    if not out.parent.is_dir():
        raise ReportError(
            f"output folder '{out.parent}' does not exist (current directory: {Path.cwd()}); create it first"
        )
    return out


def _render(nb: object, src: Path) -> str:
    html = export_html(nb, name=src.stem, path=str(src.parent))  # type: ignore[arg-type]
    html, leaked = redact_secrets(html)
    if leaked:
        warnings.warn(
            f"the report of {str(src)!r} showed the value of {cap_list(leaked)}; it was replaced by "
            "'[redacted]'. Do not print credentials in a notebook you share.",
            stacklevel=3,
        )
    fetched = external_references(html)
    if fetched:
        warnings.warn(
            f"the report of {str(src)!r} still loads {len(fetched)} resource(s) from the network, so it "
            f"will not render fully offline: {cap_list(fetched, 5)}",
            stacklevel=3,
        )
    return html


def _write(path: Path, text: str) -> None:
    """Write all or nothing: a temporary file in the same folder, then renamed over ``path``."""
    tmp = path.with_name(
        f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    )  # umask applies, unlike mkstemp
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
