"""Source health: which feeds an operator should hear about -- failing, silent, recovered.

Pure decision code: it takes feed states and the time, and returns events. It touches no
network, database, file or clock; ``monitor.alerts.notices`` reads the states from the
store and puts each event in the outbox as a notice, with the mark of what it raised.

A feed is, for health purposes, exactly one of:

- **failing**: its polls have failed without a break for longer than ``failing_after``;
- **silent**: its polls succeed, but no new entry has appeared for more than
  ``silent_factor`` times its typical gap between entries, and at least ``min_silence``
  (a day), so a feed that publishes hourly is not called silent over a quiet night;
- **pending**: failing, but not for long enough to say so; nothing changes;
- **ok**: anything else, including feeds whose cadence is not known yet.

:func:`health_events` raises each condition once: ``failing``/``silent`` when the feed
enters it (``already_alerted`` says what was raised before), and ``recovered`` once when a
feed that had an event raised is ok again. A feed that goes from failing to silent (it
answers again, but says nothing new) gets a ``silent`` event, which replaces the first.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Kind = Literal["failing", "silent", "recovered"]
Condition = Literal["failing", "pending", "silent", "ok"]

MIN_SILENCE = 86400.0
"""A feed is never called silent before this many seconds without a new entry."""


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """What health checks need to know of one feed (from the store's feed row and entries)."""

    name: str
    state: str  # new | ok | failing, as the store has it
    failing_since: datetime | None = None
    last_error: str | None = None
    last_entry_at: datetime | None = None  # when the newest entry was first seen
    typical_gap_seconds: float | None = None  # usual time between entries; None: unknown


@dataclass(frozen=True, slots=True)
class HealthEvent:
    """One thing to tell the operator about one feed; ``message`` is one line."""

    feed: str
    kind: Kind
    message: str


def health_events(feeds: Sequence[FeedHealth], now: datetime, *, failing_after: float,
                  silent_factor: float, already_alerted: Mapping[str, str],
                  min_silence: float = MIN_SILENCE) -> list[HealthEvent]:
    """The events to raise now, in ``feeds`` order; see the module docstring."""
    events = []
    for feed in feeds:
        condition = feed_condition(feed, now, failing_after=failing_after,
                                   silent_factor=silent_factor, min_silence=min_silence)
        event = _event(feed, condition, already_alerted.get(feed.name), now)
        if event is not None:
            events.append(event)
    return events


def feed_condition(feed: FeedHealth, now: datetime, *, failing_after: float,
                   silent_factor: float, min_silence: float = MIN_SILENCE) -> Condition:
    """``failing``, ``pending`` (failing, not for long yet), ``silent`` or ``ok``."""
    if feed.state == "failing":
        since = feed.failing_since
        long_enough = since is not None and (now - since).total_seconds() > failing_after
        return "failing" if long_enough else "pending"
    quiet = _quiet_for(feed, now)
    limit = silence_limit(feed.typical_gap_seconds, silent_factor, min_silence)
    return "silent" if quiet is not None and limit is not None and quiet > limit else "ok"


def silence_limit(typical_gap: float | None, silent_factor: float,
                  min_silence: float = MIN_SILENCE) -> float | None:
    """Seconds without an entry after which a feed is silent; None when its cadence is unknown."""
    if typical_gap is None or typical_gap <= 0:
        return None
    return max(silent_factor * typical_gap, min_silence)


def typical_gap(entry_times: Sequence[datetime]) -> float | None:
    """The median gap in seconds between distinct entry times; None with fewer than 3."""
    times = sorted(set(entry_times))
    if len(times) < 3:
        return None
    return statistics.median([(b - a).total_seconds() for a, b in itertools.pairwise(times)])


def remember(already_alerted: Mapping[str, str], events: Sequence[HealthEvent]) -> dict[str, str]:
    """``already_alerted`` after ``events`` were sent: raised kinds kept, recovered dropped."""
    out = dict(already_alerted)
    for event in events:
        if event.kind == "recovered":
            out.pop(event.feed, None)
        else:
            out[event.feed] = event.kind
    return out


def _event(feed: FeedHealth, condition: Condition, raised: str | None,
           now: datetime) -> HealthEvent | None:
    if (condition == "failing" or condition == "silent") and raised != condition:
        return HealthEvent(feed.name, condition, _message(feed, condition, now))
    if condition == "ok" and raised is not None:
        return HealthEvent(feed.name, "recovered",
                           f"feed {feed.name!r} recovered (was {raised})")
    return None


def _message(feed: FeedHealth, condition: str, now: datetime) -> str:
    if condition == "failing":
        since = feed.failing_since or now
        error = " ".join((feed.last_error or "unknown error").split())
        return (f"feed {feed.name!r} failing for {format_duration((now - since).total_seconds())}"
                f": {error}")
    quiet = _quiet_for(feed, now) or 0.0
    gap = feed.typical_gap_seconds or 0.0
    return (f"feed {feed.name!r} silent: no new entry for {format_duration(quiet)} "
            f"(usually one every {format_duration(gap)})")


def _quiet_for(feed: FeedHealth, now: datetime) -> float | None:
    if feed.last_entry_at is None:
        return None
    return (now - feed.last_entry_at).total_seconds()


def format_duration(seconds: float) -> str:
    """``3d 4h``, ``2h 5m``, ``7m``, ``45s``: the two largest units, for messages."""
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    left, parts = max(int(seconds), 0), list[str]()
    for name, size in units:
        if left >= size or (name == "s" and not parts):
            parts.append(f"{left // size}{name}")
            left %= size
        if len(parts) == 2:
            break
    return " ".join(parts)
