"""How the store writes times: ISO 8601 text in UTC, read back as aware datetimes.

Example:
    >>> from datetime import datetime, timezone
    >>> from workbench.store._time import parse_time, utc_iso
    >>> t = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
    >>> utc_iso(t), parse_time(utc_iso(t)) == t
    ('2026-12-01T09:30:00.000000+00:00', True)
"""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["parse_time", "utc_iso"]


def utc_iso(t: datetime) -> str:
    """``t`` in UTC as ISO 8601 text (a naive time is taken as UTC)."""
    t = t.astimezone(timezone.utc) if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)
    return t.isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    """The aware time :func:`utc_iso` wrote (a time without zone is taken as UTC)."""
    t = datetime.fromisoformat(text)
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)
