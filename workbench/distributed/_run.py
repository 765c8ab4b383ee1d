"""A run evaluated on a Dask cluster: its results a Dask DataFrame, its summary computed on the
cluster, saved as Parquet partitions beside the run store.

Example:
    >>> import workbench as wb
    >>> from workbench.distributed import DaskRun
    >>> issubclass(DaskRun, wb.Run)
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import StoreError
from ..results import STATUSES
from ..run import Run

__all__ = ["DaskRun"]


@dataclass(eq=False, repr=False)
class DaskRun(Run):
    """The outcome of ``wb.evaluate(ddf, suite)`` for a Dask DataFrame ``ddf``: a
    :class:`~workbench.Run` whose ``results`` is a Dask DataFrame, one partition per input
    partition, lazy: ``run.results.compute()`` gathers it (partition by partition), and
    :meth:`compute` gives the pandas :class:`~workbench.Run` the rest of the API knows, its
    results in the order a pandas run has them, cell for cell equal to evaluating the same rows
    with pandas. :meth:`summary` was computed on the cluster as the partitions ended.

    A saved run (``save=True``, the default) reads its results from the Parquet files its
    workers wrote beside the run store; an unsaved one holds them in the workers' memory until
    the run is dropped.

    Attributes:
        partitions: the input's partitions (one task each).
        rows: the input rows evaluated.
        meta: the empty results frame (the columns, dtypes and categories of every partition).

    Example:
        >>> import dask.dataframe as dd, pandas as pd, workbench as wb
        >>> from distributed import Client
        >>> client = Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None)
        >>> suite = wb.Suite(name="s", tasks=[wb.AssertionTask(id="pos", path="x", op="is_positive")])
        >>> ddf = dd.from_pandas(pd.DataFrame({"x": [1, -2, 3]}), npartitions=2)
        >>> run = wb.evaluate(ddf, suite, save=False)
        >>> run  # doctest: +ELLIPSIS
        DaskRun(suite 's' version '1', 3 rows in 2 partitions, 3 cells: 2 passed, 1 failed, ...s)
        >>> run.compute().results["status"].tolist()
        ['passed', 'failed', 'passed']
        >>> run.summary()[["task", "n", "passed", "failed"]]
          task  n  passed  failed
        0  pos  3       2       1
        >>> client.close()
    """

    partitions: int = 0
    rows: int = 0
    meta: pd.DataFrame | None = None
    cluster_summary: pd.DataFrame | None = None
    """The summary, computed on the cluster when the run ended."""
    tokens: int = 0
    """Judge tokens of the whole run."""
    store_path: Path | None = field(default=None, repr=False)
    """The store file the run is saved in, once it is."""

    def summary(self) -> pd.DataFrame:
        """Per (task, criterion): counts by status, mean score and the pass rate with its Wilson
        95% interval, as :meth:`Run.summary` gives them: added up from each partition's counts,
        computed on its worker, so nothing is gathered."""
        if self.cluster_summary is None:
            raise StoreError("this DaskRun has no summary: it was not made by wb.evaluate")
        summary: pd.DataFrame = self.cluster_summary.copy()
        return summary

    def compute(self) -> Run:
        """The pandas :class:`~workbench.Run`: every cell gathered from the cluster (or read from
        its Parquet files), in the order a pandas run gives them (see the class's example)."""
        from ..store import in_run_order

        lazy: Any = self.results  # a Dask DataFrame
        results = in_run_order(lazy.compute())
        return Run(
            suite=self.suite,
            results=results,
            model=self.model,
            started_at=self.started_at,
            duration_s=self.duration_s,
            calls=dict(self.calls),
            id=self.id,
            label=self.label,
            data_fingerprint=self.data_fingerprint,
            params=dict(self.params),
        )

    def cost(self) -> pd.DataFrame:
        """:meth:`Run.cost` of the gathered results (see :meth:`compute`)."""
        return self.compute().cost()

    def wide(self, values: str | Any = "passed") -> pd.DataFrame:
        """:meth:`Run.wide` of the gathered results (see :meth:`compute`)."""
        return self.compute().wide(values)

    def save(self, store: Any = None, label: str | None = None) -> str:
        """Save the run in the run store: its results as one Parquet file per partition in
        ``results/<run id>/`` beside the store (written by the workers), the run registered in
        the store. Returns the id (also set on ``run.id``). A run already saved there only
        gets its label changed.

        Raises:
            StoreError: the store or its results folder cannot be written.
        """
        from dask.base import compute as dask_compute
        from dask.delayed import delayed

        from ..secrets import env_secrets
        from ..store import Store, new_run_id, register_parquet_run, relabel, results_folder

        target = store if isinstance(store, Store) else Store(store)
        label = label if label is not None else self.label
        if self.id is not None and self.store_path == target.path and relabel(target.path, self.id, label):
            self.label = label
            return self.id
        if self.meta is None or self.cluster_summary is None:
            raise StoreError("this DaskRun cannot be saved: it was not made by wb.evaluate")
        run_id = new_run_id(self.started_at)
        folder = results_folder(target.path, run_id)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(
                f"cannot write the run's results in {folder} ({type(e).__name__}: {e})"
            ) from None
        secrets = list(env_secrets().values())
        lazy: Any = self.results  # a Dask DataFrame
        write: Any = delayed(_write_redacted, pure=False)
        compute: Any = dask_compute  # untyped
        parts = list(
            compute(*[write(str(folder), i, part, secrets) for i, part in enumerate(lazy.to_delayed())])
        )
        self.id = run_id
        try:
            register_parquet_run(
                target.path,
                self,
                self.meta,
                parts,
                self.cluster_summary,
                {"rows": self.rows, "tokens": self.tokens},
                label,
            )
        except BaseException:
            self.id = None
            raise
        self.store_path = target.path
        return run_id

    def __repr__(self) -> str:
        """``DaskRun(suite 'demo' version '1', 10,000 rows in 8 partitions, 20,000 cells: ...)``."""
        s = self.cluster_summary
        counts = dict.fromkeys(STATUSES, 0)
        if s is not None and len(s):
            for st, col in zip(STATUSES, ("passed", "failed", "errors", "skipped", "scored")):
                counts[st] = int(s[col].sum())
        cells = int(s["n"].sum()) if s is not None and len(s) else 0
        parts = ", ".join(f"{n:,} {st}" for st, n in counts.items() if n)
        return (
            f"DaskRun(suite {self.suite.name!r} version {self.suite.version!r}, {self.rows:,} rows in "
            f"{self.partitions:,} partitions, {cells:,} cells: {parts or 'none'}, {self.duration_s:.2f}s)"
        )


def _write_redacted(folder: str, index: int, results: pd.DataFrame, secrets: list[str]) -> Any:
    """On a worker: one partition's results, credentials redacted, as its Parquet file."""
    from ..secrets import redact_frame
    from ..store import write_part

    return write_part(Path(folder), index, redact_frame(results, secrets))
