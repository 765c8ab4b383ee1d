"""The run store: every run saved in an embedded SQLite database, listed, loaded and deleted.

``wb.evaluate`` saves each run by default (``save=False`` does not touch disk), in
``runs.sqlite`` in :func:`home` (``$WORKBENCH_HOME``, else the nearest ``.workbench/`` in
the working directory or above it, as git finds a repository, else ``.workbench/`` in the
working directory), or where ``store=`` says. The judge cache lives in the same folder
(``cache/``). Results come back with the dtypes they had, checked against the checksum
written with them; credentials never reach the file.

Example:
    >>> import tempfile, pandas as pd, workbench as wb
    >>> tmp = tempfile.TemporaryDirectory()
    >>> pos = wb.AssertionTask(id="pos", path="x", op="is_positive")
    >>> suite = wb.Suite(name="demo", version="v1", tasks=[pos])
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
from ..files import home
from ._alerts import ALERTS_DDL, AlertLog, AlertWriter, NewAlert, RuleState
from ._fingerprint import data_fingerprint
from ._labels import (
    LABEL_COLUMNS,
    LABELS_DDL,
    STORED_COLUMNS,
    criterion_fingerprint,
    criterion_text,
    decode_row,
    encode_row,
)
from ._monitor import (
    CELL_FIELDS,
    Claimed,
    NewRecord,
    RecordStore,
    monitor_names,
    read_monitor,
    read_records,
    read_results,
)
from ._nearby import nearby_stores
from ._parquet import (
    ParquetPart,
    in_run_order,
    new_run_id,
    read_part,
    register_parquet_run,
    relabel,
    remove_folder,
    results_folder,
    write_part,
)
from ._schema import SCHEMA_VERSION
from ._store import Store, default_path, delete_run, load_run, runs, save_or_warn, save_run

__all__ = [
    "ALERTS_DDL",
    "CELL_FIELDS",
    "LABELS_DDL",
    "LABEL_COLUMNS",
    "SCHEMA_VERSION",
    "STORED_COLUMNS",
    "AlertLog",
    "AlertWriter",
    "Claimed",
    "NewAlert",
    "NewRecord",
    "ParquetPart",
    "RecordStore",
    "RuleState",
    "Store",
    "StoreError",
    "StoreWarning",
    "UnknownRunError",
    "criterion_fingerprint",
    "criterion_text",
    "data_fingerprint",
    "decode_row",
    "default_path",
    "delete_run",
    "encode_row",
    "home",
    "in_run_order",
    "load_run",
    "monitor_names",
    "nearby_stores",
    "new_run_id",
    "read_monitor",
    "read_part",
    "read_records",
    "read_results",
    "register_parquet_run",
    "relabel",
    "remove_folder",
    "results_folder",
    "runs",
    "save_or_warn",
    "save_run",
    "write_part",
]
