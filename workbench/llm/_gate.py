"""A gate every judge call passes through: an optional async context manager that
:class:`~workbench.llm.LLM` enters around each attempt it sends, set for a stretch of code
with :func:`gated`.

The LLM's own limiter bounds the calls in flight per model and run; a gate adds a bound it
cannot know about, such as a cap across the workers of a Dask cluster (a
``distributed.Semaphore``). It is a context variable, so it reaches every task the gated
code starts (``asyncio`` copies the context into each) and nothing outside it.

Example:
    >>> import asyncio, contextlib
    >>> from workbench.llm import call_gate, gated
    >>> entered = []
    >>> @contextlib.asynccontextmanager
    ... async def count():
    ...     entered.append(1)
    ...     yield
    >>> async def one_call():
    ...     async with call_gate():  # what LLM does around each attempt
    ...         pass
    >>> with gated(count):
    ...     asyncio.run(one_call())
    >>> asyncio.run(one_call())  # outside: no gate
    >>> len(entered)
    1
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar

__all__ = ["CallGate", "call_gate", "gated"]

CallGate = Callable[[], AbstractAsyncContextManager[object]]
"""Makes the async context manager one judge call attempt is sent inside."""

_GATE: ContextVar[CallGate | None] = ContextVar("workbench_call_gate", default=None)


def call_gate() -> AbstractAsyncContextManager[object]:
    """The gate in force here, entered once per attempt; a no-op when none is set.

    Example:
        >>> import asyncio
        >>> async def send():
        ...     async with call_gate():
        ...         return "sent"
        >>> asyncio.run(send())
        'sent'
    """
    gate = _GATE.get()
    return contextlib.nullcontext() if gate is None else gate()


@contextlib.contextmanager
def gated(gate: CallGate | None) -> Iterator[None]:
    """Put ``gate`` in force for the code in the ``with`` block (and the tasks it starts).

    Example:
        >>> with gated(None):
        ...     pass
    """
    token = _GATE.set(gate)
    try:
        yield
    finally:
        _GATE.reset(token)
