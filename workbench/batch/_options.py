"""How a batch-mode run submits and waits: :class:`BatchOptions`."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["BatchOptions"]


@dataclass(frozen=True, kw_only=True)
class BatchOptions:
    """How batch mode submits and waits; ``evaluate(..., batch=True)`` uses the defaults,
    ``batch=wb.BatchOptions(...)`` changes them.

    These are run options, not judge options: they decide how the run's calls are scheduled,
    never what a call sends, so they are not part of :class:`~workbench.JudgeConfig`, the
    cache key or the stored run parameters.

    Example:
        >>> import workbench as wb
        >>> wb.BatchOptions(max_requests=500, poll_s=1).max_requests
        500
        >>> try:
        ...     wb.BatchOptions(poll_s=0)
        ... except wb.ConfigError as e:
        ...     print(e)
        BatchOptions: poll_s=0 is not above 0 (the first wait between two polls, in seconds)
    """

    max_requests: int | None = None
    """Most requests in one batch (default: the provider's limit, 50,000 for OpenAI); a run
    with more uncached calls is split into several batches."""
    max_bytes: int | None = None
    """Largest batch input file in bytes (default: the provider's limit, 200 MB for OpenAI)."""
    poll_s: float = 5.0
    """The first wait between two polls of a batch's status; each wait is 1.5 times the last,
    up to ``max_poll_s``."""
    max_poll_s: float = 60.0
    """The longest wait between two polls."""
    timeout_s: float | None = None
    """Stop waiting after this many seconds and return a pending run (as ``wait=False`` does);
    None waits until the provider finishes (OpenAI: within the 24 h completion window)."""
    completion_window: str = "24h"
    """The completion window asked of the provider (OpenAI takes only ``24h``)."""
    offer_above: int = 1000
    """The Workbench panel offers batch mode for runs of more new calls than this."""

    def __post_init__(self) -> None:
        problems = []
        for name, what in (
            ("max_requests", "requests per batch"),
            ("max_bytes", "bytes per batch input file"),
        ):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                problems.append(f"{name}={value!r} is not a count >= 1 ({what})")
        if not self.poll_s > 0:
            problems.append(
                f"poll_s={self.poll_s!r} is not above 0 (the first wait between two polls, in seconds)"
            )
        if not self.max_poll_s >= self.poll_s:
            problems.append(f"max_poll_s={self.max_poll_s!r} is below poll_s={self.poll_s!r}")
        if self.timeout_s is not None and not self.timeout_s >= 0:
            problems.append(f"timeout_s={self.timeout_s!r} is negative")
        if self.offer_above < 0:
            problems.append(f"offer_above={self.offer_above!r} is negative")
        if problems:
            raise ConfigError("BatchOptions: " + "; ".join(problems))
