"""``workbench.batch.batches()``: the batches a run store knows, for the panel and the curious."""

from __future__ import annotations

import os

import pandas as pd

from ..store import Store
from ..store.batches import batch_rows
from ._pending import batches_frame

__all__ = ["batches"]


def batches(store: Store | str | os.PathLike[str] | None = None, *, open_only: bool = False) -> pd.DataFrame:
    """The provider batches recorded in ``store``, newest first, with their last known status
    (``batch``, ``provider``, ``model``, ``status``, ``requests``, ``completed``, ``failed``,
    ``created_at``, ``message``); ``open_only=True`` keeps those not finished yet. A row with
    status ``submitting`` (its id ``claim-...``) is a submission whose batch id is not known yet.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     list(batches(tmp).columns[:4]), len(batches(tmp))
        (['batch', 'provider', 'model', 'status'], 0)
    """
    target = store if isinstance(store, Store) else Store(store)
    return batches_frame(batch_rows(target.path, open_only=open_only))
