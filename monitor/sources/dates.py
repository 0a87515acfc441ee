"""Dates as sources write them, to aware UTC datetimes. Pure.

RFC 3339 / W3C datetime (sitemaps, JSON APIs; a bare ``YYYY-MM-DD`` is midnight UTC),
RFC 822 (RSS), GDELT's ``YYYYMMDDTHHMMSSZ``, and Unix seconds; naive times are UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from monitor.timeutil import utc

_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T?(\d{2})(\d{2})(\d{2})?)?Z?$")
_EPOCH_RANGE = (0, 10_000_000_000)  # Unix seconds up to the year 2286


def parse_date(value: object) -> datetime | None:
    """``value`` as an aware UTC datetime, or None when it is no date monitor reads."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _epoch(float(value))
    text = str(value or "").strip()
    if not text:
        return None
    if m := _COMPACT.match(text):
        return _parts(m.groups())
    for parse in (datetime.fromisoformat, parsedate_to_datetime):
        try:
            return utc(parse(text))
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
    return None


def _epoch(seconds: float) -> datetime | None:
    if not _EPOCH_RANGE[0] <= seconds < _EPOCH_RANGE[1]:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def _parts(groups: tuple[str | None, ...]) -> datetime | None:
    year, month, day, hour, minute, second = (int(g or 0) for g in groups)
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
