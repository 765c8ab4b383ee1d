"""Online evaluation: sample live traffic, persist it, evaluate it in the background with the
offline suites, engine and cache, and read the results back as the offline results frame.

``wb.Monitor(suite, model=...)`` takes records from the application (:meth:`Monitor.submit`,
or a function wrapped with :meth:`Monitor.watch`) without ever slowing it down or raising
into it; a writer thread persists them in group commits; workers (threads of the monitor, or
``workbench monitor serve`` processes, several per store if needed) claim them under a
lease, evaluate them, retry failed judge calls, and store each record's cells once.
``wb.monitor_results`` reads them back, from any process.

Example:
    >>> import tempfile, workbench as wb
    >>> tmp = tempfile.TemporaryDirectory()
    >>> suite = wb.Suite(name="support", tasks=[wb.AssertionTask(id="polite", path="answer",
    ...                                                          op="contains", expected="please")])
    >>> with wb.Monitor(suite, store=tmp.name, sample_ratio=1.0) as monitor:
    ...     for i in range(20):
    ...         _ = monitor.submit({"id": f"t{i}", "answer": "please wait" if i % 4 else "no"})
    ...     _ = monitor.flush(timeout=30)
    >>> results = wb.monitor_results(store=tmp.name, name="support")
    >>> len(results), int(results["passed"].sum())
    (20, 15)
    >>> tmp.cleanup()
"""

from ._monitor import Monitor
from ._options import WHEN_FULL, MonitorOptions, Observer
from ._records import monitor_records
from ._results import MONITOR_COLUMNS, monitor_results
from ._sampling import Sampler, sample_point
from ._serve import serve
from ._worker import RETRIED_ERRORS

__all__ = [
    "MONITOR_COLUMNS",
    "RETRIED_ERRORS",
    "WHEN_FULL",
    "Monitor",
    "MonitorOptions",
    "Observer",
    "Sampler",
    "monitor_records",
    "monitor_results",
    "sample_point",
    "serve",
]
