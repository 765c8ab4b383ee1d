"""Shareable reports: execute a notebook and write it as one self-contained HTML file.

The file needs no network to open: vega's JavaScript is inlined once when there are charts,
the widgets manager and require.js when there are widgets to render (``workbench/_vendor``;
a progress bar is shown as it ended, as static HTML), MathJax is left out, and the widgets'
state is embedded, so the controls show as they were when the notebook ran. Reports go to a
``reports/`` folder beside the notebook that git ignores, and the notebook's ``wb.evaluate``
calls save no run while the report executes it (``save_runs=True`` lets them).

Example:
    >>> from workbench.report import ReportError, report
    >>> try:
    ...     report("notebooks/no_such.ipynb", timeout=60)
    ... except ReportError as e:
    ...     print(str(e).split(" (")[0])
    notebook 'notebooks/no_such.ipynb' does not exist
"""

from __future__ import annotations

from ._cli import main
from ._execute import NotebookError, ReportError, execute_notebook, read_notebook
from ._export import export_html, external_references, redact_secrets
from ._report import report

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
