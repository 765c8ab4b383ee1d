"""``report()``: execute a notebook and write it as one self-contained HTML file."""

from __future__ import annotations

import os
import secrets
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import cap_list
from ._execute import NotebookError, ReportError, execute_notebook, read_notebook
from ._export import export_html, external_references, redact_secrets

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["report"]


def report(
    notebook: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    timeout: float = 600,
    cwd: str | os.PathLike[str] | None = None,
    save_runs: bool = False,
) -> Path:
    """Execute a notebook top to bottom in a fresh kernel and write it as one HTML file.

    The notebook file itself is not changed. When a cell fails, the report is not written
    (an older report at ``output`` stays as it was); a partial report with the outputs up to
    the failing cell goes to ``<output stem>.partial.html`` instead, and is removed by the
    next successful report.

    The kernel sees the run store and the judge cache (cached calls stay free, and the calls
    it makes are cached), but its ``wb.evaluate`` calls save no run: a report does not add a
    run to the store each time it is made, unless ``save_runs``.

    Args:
        notebook: the ``.ipynb`` file.
        output: the HTML file to write, or an existing folder to write it into; default
            ``reports/<notebook name>.html`` beside the notebook, in a folder that git
            ignores (created with a ``.gitignore`` of ``*``).
        timeout: seconds for the whole notebook, kernel start included.
        cwd: the kernel's working directory; default the notebook's folder.
        save_runs: keep the runs the notebook saves in the run store.

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
        executed = execute_notebook(src, timeout=timeout, cwd=cwd, save_runs=save_runs)
    except NotebookError as e:
        if e.executed is not None:
            _write(partial, _render(e.executed, src))
            e.partial = partial
        raise
    _write(out, _render(executed, src))
    partial.unlink(missing_ok=True)
    return out


REPORTS = "reports"
"""The folder beside a notebook that its reports go to by default."""
_IGNORE_ALL = (
    "# Written by `workbench report`: generated reports are not committed.\n"
    "# Delete this file to commit them.\n*\n"
)


def _default_output(src: Path) -> Path:
    """``reports/<stem>.html`` beside the notebook; a ``reports/`` created here ignores itself
    in git (as ``.pytest_cache`` does), so it works in any repository without editing its
    ``.gitignore``. A ``reports/`` that already exists is used as it is."""
    folder = src.parent / REPORTS
    if not folder.exists() and src.parent.is_dir():
        try:
            folder.mkdir()
            (folder / ".gitignore").write_text(_IGNORE_ALL, encoding="utf-8")
        except OSError as e:
            raise ReportError(
                f"cannot create the reports folder '{folder}' ({e.strerror or e}); pass output= "
                "(workbench report -o OUT) to write the report elsewhere"
            ) from e
    return folder / src.with_suffix(".html").name


def _output_path(src: Path, output: str | os.PathLike[str] | None) -> Path:
    out = _default_output(src) if output is None else Path(output)
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


def _render(nb: NotebookNode, src: Path) -> str:
    html = export_html(nb, name=src.stem, path=str(src.parent))
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
