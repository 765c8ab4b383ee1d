"""Beyond one machine: evaluate a Dask DataFrame on a Dask cluster.

``wb.evaluate(ddf, suite, ...)`` (or ``ddf.wb.evaluate(suite, ...)``) with a
``dask.dataframe.DataFrame`` runs one task per partition on the cluster of the running
``distributed.Client``; each evaluates its partition with the same engine as a pandas
DataFrame. The judge cache is shared through Redis (``cache="redis://host:port/db"``) so any
worker's rerun is warm, judge calls are capped per worker (``concurrency=``) and across the
cluster (``cluster_concurrency=``, a ``distributed.Semaphore``), progress comes from the
workers, and a saved run keeps its results as Parquet files beside the run store.

Importing this package does not import Dask; evaluating a Dask DataFrame does.

Example:
    >>> import pandas as pd
    >>> from workbench.distributed import is_dask_frame
    >>> is_dask_frame(pd.DataFrame({"x": [1]}))
    False
"""

from ._evaluate import evaluate_dask, evaluate_dask_async
from ._frames import import_dask, is_dask_frame
from ._progress import ClusterProgress
from ._run import DaskRun
from ._worker import WorkerGate

__all__ = [
    "ClusterProgress",
    "DaskRun",
    "WorkerGate",
    "evaluate_dask",
    "evaluate_dask_async",
    "import_dask",
    "is_dask_frame",
]
