"""The run store: every run saved in an embedded SQLite database, listed, loaded and deleted.

``wb.evaluate`` saves each run by default (``save=False`` does not touch disk), in
``$WORKBENCH_HOME/runs.sqlite`` or ``.workbench/runs.sqlite`` in the working directory, or
where ``store=`` says. Results come back with the dtypes they had; credentials never reach
the file.

Example:
    >>> import tempfile, pandas as pd, workbench as wb
    >>> tmp = tempfile.TemporaryDirectory()
    >>> suite = wb.Suite(name="demo", version="v1", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
    >>> first = wb.evaluate(pd.DataFrame({"x": [1, -2]}), suite, label="baseline", store=tmp.name)
    >>> wb.runs(store=tmp.name)[["label", "suite", "version", "passed", "failed"]]
          label suite version  passed  failed
    0  baseline  demo      v1       1       1
    >>> again = wb.load_run("baseline", store=tmp.name)
    >>> again.id == first.id and again.results.equals(first.results)
    True
    >>> tmp.cleanup()
"""

from __future__ import annotations

from ..errors import StoreError, StoreWarning, UnknownRunError
from ._fingerprint import data_fingerprint
from ._schema import SCHEMA_VERSION
from ._store import Store, default_path, delete_run, load_run, runs, save_or_warn, save_run

__all__ = [
    "SCHEMA_VERSION",
    "Store",
    "StoreError",
    "StoreWarning",
    "UnknownRunError",
    "data_fingerprint",
    "default_path",
    "delete_run",
    "load_run",
    "runs",
    "save_or_warn",
    "save_run",
]
