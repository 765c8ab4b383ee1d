"""Batch mode: judge a large dataset at the providers' batch price (about half), resumable
across processes.

``wb.evaluate(df, suite, model=..., batch=True)`` serves cached cells as always and submits
the uncached judge calls as provider batches (one JSONL request per call, its ``custom_id``
the cache key's), records each batch and the cells it covers in the run store the moment the
provider accepts it, then waits with the provider's counts on a bar and reads the replies into
the judge cache line by line. ``wait=False`` returns a :class:`PendingRun` at once; the same
``evaluate`` again, in any process, or :func:`workbench.resume`, picks the batches up instead of
submitting new ones. :func:`batches` lists the batches a store knows.

Example:
    >>> import workbench as wb
    >>> wb.BatchOptions(max_requests=1000).poll_s
    5.0
"""

from ._inputs import decode_inputs
from ._options import BatchOptions
from ._pending import PendingRun
from ._session import BatchSession, add_batch_prices, batch_request, check_models, open_session
from ._status import batches

__all__ = [
    "BatchOptions",
    "BatchSession",
    "PendingRun",
    "add_batch_prices",
    "batch_request",
    "batches",
    "check_models",
    "decode_inputs",
    "open_session",
]
