"""``Retry-After`` header values (RFC 9110 §10.2.3), shared by fetching and delivery. Pure."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from monitor.timeutil import utc

MAX_RETRY_AFTER = 86400.0
"""Upper bound (seconds) on a server's ``Retry-After``: a day, whatever it asks."""

_DIGITS = re.compile(r"[0-9]+")


def parse_retry_after(value: str | None, now: datetime | None = None,
                      cap: float = MAX_RETRY_AFTER) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP date).

    The result is clamped to ``[0, cap]``; a date in the past gives 0. None when
    the header is absent or is neither form (RFC 9110 §10.2.3).
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if _DIGITS.fullmatch(value):
        seconds = float(int(value))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        # a naive time ("-0000": UTC of unknown origin) is UTC
        seconds = (utc(when) - utc(now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), cap)
