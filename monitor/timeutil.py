"""Time in one place: aware UTC datetimes and the text monitor writes them as. Pure.

Every datetime monitor keeps is aware and in UTC. A naive one (SQLite hands them back so,
some feeds write them so) is taken to be UTC already, never local time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def now() -> datetime:
    """The current time, aware, in UTC (the default clock)."""
    return datetime.now(UTC)


def utc(when: datetime) -> datetime:
    """``when`` in UTC; a naive datetime is taken to be UTC already."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@overload
def iso(when: datetime) -> str: ...
@overload
def iso(when: None) -> None: ...
def iso(when: datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z`` (``2026-02-26T22:05:00Z``), or None."""
    return None if when is None else utc(when).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """An ISO-8601 time (``Z``, an offset, or naive as UTC) in UTC; ValueError if it is not."""
    return utc(datetime.fromisoformat(text))


def human(when: datetime) -> str:
    """``2026-02-26 22:05 UTC``: how a person reads a time in an alert or on the dashboard."""
    return utc(when).strftime("%Y-%m-%d %H:%M UTC")
