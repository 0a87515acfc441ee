"""When to poll a feed next: adaptive to how often it publishes, polite, backing off on errors.

Pure decision code: it takes numbers and timestamps and returns seconds. It touches no
network, database, file or clock (``now`` is an argument); randomness comes from ``rng``.

:func:`next_poll_delay` decides in this order:

1. **Cadence.** With no history yet (``recent_entry_times`` is None: the feed has not been
   polled successfully), the configured ``interval``. Otherwise, like Miniflux's
   entry-frequency scheduler, from the entries seen in the last :data:`WINDOW` (7 days)::

       times = entry times in (now - 7 days, now]
       gap   = (newest - oldest) / (count - 1)     # the average gap between them
       gap   = max(gap, now - newest)              # a feed gone quiet slows down
       delay = gap / ADAPTIVE_FACTOR               # half the gap
       delay = max_interval                        # when count == 0

   The gap is measured over what was observed, not the whole window: a feed listing its
   last 20 items a minute apart publishes every minute, though we saw only 20 minutes.

   and the result is clamped to ``[min_interval, max_interval]``. A feed that publishes
   every hour is polled about every 30 minutes (average latency 15 minutes); one that
   published once last week is polled every ``max_interval``.

   A feed's own ``interval``, when the operator set one (``ceiling``), caps the cadence:
   the adaptive schedule never waits longer than it, though ``min_interval`` stays the
   floor (a ceiling below ``min_interval`` polls every ``min_interval``).
2. **The publisher's ask.** Never sooner than the feed's own ``<ttl>``/``sy:updatePeriod``
   (``feed_ttl``), its ``Cache-Control: max-age`` (``cache_max_age``) or a ``Retry-After``
   (``retry_after``). The publisher's ask wins over ``max_interval`` -- polling a server more
   often than it asks is impolite -- but only up to ``max_honoured`` (24 hours), so a
   misconfigured ``<ttl>`` or a CDN's year-long ``max-age`` cannot park a feed. It
   also wins over the ``ceiling``: the publisher's ask is a request, the ceiling ours.
3. **Errors.** After ``error_count`` consecutive failures (this poll's included), the delay
   from steps 1-2 doubles per failure: ``delay * 2 ** (error_count - 1)``, capped at
   ``max_backoff`` (6 hours). Backoff never shortens the normal delay, and a failing feed is
   never parked for good: it is retried at least every ``max(max_backoff, normal delay)``.
   Backoff, too, may exceed the ``ceiling``.
4. **Jitter.** The delay is multiplied by a uniform factor in ``[1 - jitter, 1 + jitter]``
   so feeds added together drift apart; it never makes a poll sooner than ``min_interval``
   or the publisher's ask.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

WINDOW = timedelta(days=7)
"""How far back entries count towards a feed's publishing frequency."""

ADAPTIVE_FACTOR = 2.0
"""Poll this many times per average gap between entries (Miniflux's factor, default 1)."""

MAX_BACKOFF = 6 * 3600.0
"""Longest wait between retries of a failing feed, in seconds."""

MAX_HONOURED = 24 * 3600.0
"""Longest wait a publisher can ask for (``<ttl>``, ``max-age``, ``Retry-After``), in seconds."""

_RNG = random.Random()
_MAX_AGE = re.compile(r'^\s*max-age\s*=\s*"?(\d+)"?\s*$', re.IGNORECASE)
_NO_CACHE = re.compile(r"^\s*(no-cache|no-store)\b", re.IGNORECASE)


def next_poll_delay(*, interval: float, min_interval: float, max_interval: float,
                    recent_entry_times: Sequence[datetime] | None, now: datetime,
                    feed_ttl: float | None = None, cache_max_age: float | None = None,
                    retry_after: float | None = None, error_count: int = 0,
                    max_backoff: float = MAX_BACKOFF, max_honoured: float = MAX_HONOURED,
                    jitter: float = 0.1, rng: random.Random | None = None,
                    ceiling: float | None = None) -> float:
    """Seconds until the next poll of a feed; see the module docstring for the rules.

    ``recent_entry_times`` are when the feed's entries were published (or first seen) --
    None when the feed has no history yet. ``error_count`` counts consecutive failures
    including this poll's (0: this poll succeeded). ``ceiling``: the feed's own interval
    when the operator set one. Raises ValueError on inconsistent limits.
    """
    _check_limits(min_interval, max_interval, max_backoff, jitter, error_count)
    ask = _publisher_ask(feed_ttl, cache_max_age, retry_after, max_honoured)
    cadence = _cadence(interval, min_interval, max_interval, recent_entry_times, now)
    if ceiling is not None:
        cadence = max(min(cadence, ceiling), min_interval)
    delay = max(cadence, ask)
    delay = _backoff(delay, error_count, max_backoff)
    spread = (rng or _RNG).uniform(1 - jitter, 1 + jitter)
    return max(delay * spread, min_interval, ask)


def adaptive_interval(recent_entry_times: Sequence[datetime], now: datetime, *,
                      min_interval: float, max_interval: float) -> float:
    """The cadence delay: half the average gap between recent entries, clamped."""
    cutoff = now - WINDOW
    times = [t for t in recent_entry_times if cutoff < t <= now]
    if not times:
        return max_interval
    newest, oldest = max(times), min(times)
    gap = (newest - oldest).total_seconds() / max(1, len(times) - 1)
    gap = max(gap, (now - newest).total_seconds())
    return _clamp(gap / ADAPTIVE_FACTOR, min_interval, max_interval)


def entries_needed(min_interval: float) -> int:
    """How many of the newest entry times a store needs to read (its ``LIMIT``).

    A feed with this many entries in the window publishes at least every
    ``2 * min_interval`` on average, so its newest entries alone tell its cadence and a
    busy feed costs no more to schedule than a quiet one.
    """
    return math.ceil(WINDOW.total_seconds() / ADAPTIVE_FACTOR / min_interval)


def parse_cache_control_max_age(value: str | None) -> float | None:
    """Seconds of ``max-age`` in a ``Cache-Control`` value; None when absent or unusable.

    ``no-cache``/``no-store`` ask for nothing (None). ``s-maxage`` is for shared caches
    and ignored. When ``max-age`` appears twice the first wins (RFC 9111 section 4.2.1).
    """
    if not value:
        return None
    directives = value.split(",")
    if any(_NO_CACHE.match(d) for d in directives):
        return None
    for directive in directives:
        if match := _MAX_AGE.match(directive):
            return float(int(match[1]))
    return None


def _cadence(interval: float, min_interval: float, max_interval: float,
             recent_entry_times: Sequence[datetime] | None, now: datetime) -> float:
    if recent_entry_times is None:
        return _clamp(interval, min_interval, max_interval)
    return adaptive_interval(recent_entry_times, now, min_interval=min_interval,
                             max_interval=max_interval)


def _publisher_ask(feed_ttl: float | None, cache_max_age: float | None,
                   retry_after: float | None, max_honoured: float) -> float:
    asks = [a for a in (feed_ttl, cache_max_age, retry_after) if a is not None and a > 0]
    return min(max(asks), max_honoured) if asks else 0.0


def _backoff(delay: float, error_count: int, max_backoff: float) -> float:
    if error_count <= 0:
        return delay
    grown = delay * 2.0 ** min(error_count - 1, 64)  # 2**64 * any delay is past any cap
    return max(delay, min(grown, max_backoff))


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _check_limits(min_interval: float, max_interval: float, max_backoff: float,
                  jitter: float, error_count: int) -> None:
    if not 0 < min_interval <= max_interval:
        raise ValueError(f"need 0 < min_interval <= max_interval, got {min_interval!r} "
                         f"and {max_interval!r}")
    if not max_backoff > 0 or not 0 <= jitter < 1 or error_count < 0:
        raise ValueError("need max_backoff > 0, 0 <= jitter < 1 and error_count >= 0")
