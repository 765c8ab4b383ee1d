"""The run store's exception and warning classes."""

from __future__ import annotations

from ..errors import WorkbenchError

__all__ = ["StoreError", "StoreWarning", "UnknownRunError"]


class StoreError(WorkbenchError):
    """The run store cannot be used: the file is not a workbench store, was written by a
    newer workbench, or a run cannot be stored. The message says what to do.

    Example:
        >>> import workbench as wb
        >>> from workbench.store import StoreError
        >>> issubclass(StoreError, wb.WorkbenchError)
        True
    """


class UnknownRunError(StoreError, LookupError):
    """No run in the store has this id or label; the message lists the closest ones.

    Example:
        >>> from workbench.store import UnknownRunError
        >>> issubclass(UnknownRunError, LookupError)
        True
    """


class StoreWarning(UserWarning):
    """A run could not be saved; the run itself is returned complete and can be saved
    later with ``run.save(store=...)``.

    Example:
        >>> from workbench.store import StoreWarning
        >>> issubclass(StoreWarning, UserWarning)
        True
    """
