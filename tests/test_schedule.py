"""monitor.schedule: adaptive cadence, the publisher's ask, error backoff, jitter."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.schedule import (
    MAX_BACKOFF,
    MAX_HONOURED,
    adaptive_interval,
    entries_needed,
    next_poll_delay,
    parse_cache_control_max_age,
)

NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
MIN, MAX = 60.0, 4 * 3600.0
HOUR, DAY = 3600.0, 86400.0


def every(step: timedelta, count: int) -> list[datetime]:
    """``count`` entry times, ``step`` apart, the newest a moment ago."""
    return [NOW - step * i - timedelta(seconds=1) for i in range(count)]


def delay(**kwargs: Any) -> float:
    """``next_poll_delay`` with the test's limits and no jitter unless given."""
    options: dict[str, Any] = {"interval": 600.0, "min_interval": MIN, "max_interval": MAX,
                               "recent_entry_times": None, "now": NOW, "jitter": 0.0}
    return next_poll_delay(**(options | kwargs))


MINUTELY = every(timedelta(minutes=1), 7 * 24 * 60)
HOURLY = every(timedelta(hours=1), 7 * 24)
LAST_WEEK_ONCE = [NOW - timedelta(days=6)]
OLD_ONLY = [NOW - timedelta(days=8), NOW - timedelta(days=30)]

CADENCE = [
    # (entry times, expected delay)
    (MINUTELY, MIN),  # half a minute, clamped up to min_interval
    (HOURLY, 1800.0),  # half the hourly gap
    (every(timedelta(hours=6), 28), 3 * HOUR),
    (LAST_WEEK_ONCE, MAX),  # 3.5 days, clamped down to max_interval
    (OLD_ONLY, MAX),  # nothing in the window
    ([], MAX),  # polled before, nothing ever published
    (None, 600.0),  # no history yet: the configured interval
]


@pytest.mark.parametrize(("times", "expected"), CADENCE,
                         ids=["minutely", "hourly", "6-hourly", "once-last-week",
                              "only-older-than-window", "history-empty", "no-history"])
def test_cadence(times: Sequence[datetime] | None, expected: float) -> None:
    assert delay(recent_entry_times=times) == pytest.approx(expected)


def test_busy_feed_polled_sooner_than_quiet_one_both_within_limits() -> None:
    busy, quiet = delay(recent_entry_times=MINUTELY), delay(recent_entry_times=LAST_WEEK_ONCE)
    assert MIN <= busy < quiet <= MAX


@pytest.mark.parametrize(("interval", "expected"), [(5.0, MIN), (DAY, MAX), (900.0, 900.0)],
                         ids=["below-min", "above-max", "within"])
def test_configured_interval_is_clamped_without_history(interval: float,
                                                        expected: float) -> None:
    assert delay(interval=interval) == expected


@pytest.mark.parametrize("min_interval", [60.0, 120.0, 300.0, 7.0],
                         ids=["1m", "2m", "5m", "7s"])
def test_the_newest_entries_needed_tell_the_cadence(min_interval: float) -> None:
    limits = {"min_interval": min_interval, "max_interval": MAX}
    for step in (timedelta(seconds=30), timedelta(minutes=3), timedelta(minutes=20)):
        week = every(step, int(timedelta(days=7) / step) - 1)
        newest = week[:entries_needed(min_interval)]
        assert adaptive_interval(newest, NOW, **limits) == adaptive_interval(week, NOW, **limits)


def test_a_feed_gone_quiet_slows_down() -> None:
    burst = [NOW - timedelta(days=3, minutes=i) for i in range(20)]  # then silence
    assert adaptive_interval(burst, NOW, min_interval=MIN, max_interval=MAX) == MAX


def test_entries_dated_in_the_future_do_not_count() -> None:
    # entries dated ahead of now (clock skew) are outside (now - 7 d, now]
    future = [NOW + timedelta(hours=i) for i in range(1, 200)]
    assert adaptive_interval(future, NOW, min_interval=MIN, max_interval=MAX) == MAX


CEILING = [
    # (entry times, ceiling, expected): the feed's own interval caps the adaptive cadence
    (LAST_WEEK_ONCE, 300.0, 300.0),  # max_interval (4 h) without it
    (HOURLY, 300.0, 300.0),  # 30 min without it
    (HOURLY, 2 * HOUR, 1800.0),  # a ceiling above the cadence changes nothing
    (MINUTELY, 300.0, MIN),
    (LAST_WEEK_ONCE, 10.0, MIN),  # below min_interval: the floor still holds
    (None, 300.0, 300.0),
]


@pytest.mark.parametrize(("times", "ceiling", "expected"), CEILING,
                         ids=["quiet", "hourly", "above-cadence", "busy", "below-min",
                              "no-history"])
def test_the_feeds_own_interval_is_a_ceiling(times: Sequence[datetime] | None, ceiling: float,
                                              expected: float) -> None:
    assert delay(recent_entry_times=times, interval=ceiling,
                 ceiling=ceiling) == pytest.approx(expected)


def test_the_ceiling_yields_to_the_publisher_and_to_backoff() -> None:
    # order: cadence, capped by the ceiling; then the publisher's ask; then backoff; jitter
    assert delay(recent_entry_times=HOURLY, ceiling=300.0, feed_ttl=HOUR) == HOUR
    assert delay(recent_entry_times=HOURLY, ceiling=300.0, retry_after=2 * HOUR) == 2 * HOUR
    assert delay(recent_entry_times=HOURLY, ceiling=300.0, error_count=3) == 1200.0
    for seed in range(50):
        got = delay(recent_entry_times=LAST_WEEK_ONCE, ceiling=300.0, jitter=0.1,
                    rng=random.Random(seed))
        assert 270.0 <= got <= 330.0

ASKS = [
    # (keyword arguments, expected delay); the cadence alone would give 1800 s (hourly)
    ({"feed_ttl": 2 * HOUR}, 2 * HOUR),  # <ttl> longer than the cadence wins
    ({"feed_ttl": 300.0}, 1800.0),  # a shorter <ttl> does not make us poll sooner
    ({"cache_max_age": 3 * HOUR}, 3 * HOUR),
    ({"cache_max_age": 0.0}, 1800.0),
    ({"feed_ttl": 2 * HOUR, "cache_max_age": 3 * HOUR}, 3 * HOUR),  # the longest ask
    ({"feed_ttl": 12 * HOUR}, 12 * HOUR),  # above max_interval: the publisher wins ...
    ({"cache_max_age": 365 * DAY}, MAX_HONOURED),  # ... up to a day
    ({"feed_ttl": 12 * HOUR, "max_honoured": MAX}, MAX),  # or up to what the caller says
    ({"retry_after": 5 * HOUR}, 5 * HOUR),
]


@pytest.mark.parametrize(("asks", "expected"), ASKS,
                         ids=["ttl-longer", "ttl-shorter", "max-age", "max-age-zero",
                              "longest-ask", "ttl-above-max", "max-age-capped-at-a-day",
                              "caller-cap", "retry-after"])
def test_publisher_ask(asks: dict[str, float], expected: float) -> None:
    assert delay(recent_entry_times=HOURLY, **asks) == pytest.approx(expected)


BACKOFF = [
    # (error_count, expected) for a feed whose normal delay is 600 s
    (0, 600.0),
    (1, 600.0),
    (2, 1200.0),
    (3, 2400.0),
    (6, 19200.0),
    (7, MAX_BACKOFF),  # 38400 s capped at 6 h
    (40, MAX_BACKOFF),
    (10_000, MAX_BACKOFF),  # no overflow, never parked for good
]


@pytest.mark.parametrize(("errors", "expected"), BACKOFF, ids=[f"errors={e}" for e, _ in BACKOFF])
def test_backoff_grows_and_caps(errors: int, expected: float) -> None:
    assert delay(error_count=errors) == expected


def test_backoff_never_shortens_a_long_normal_delay() -> None:
    # a feed asking for 12 h between polls is not polled every 6 h because it failed
    assert delay(error_count=3, feed_ttl=12 * HOUR) == 12 * HOUR


def test_backoff_respects_retry_after_and_its_own_cap() -> None:
    assert delay(error_count=2, retry_after=10 * HOUR) == 10 * HOUR
    assert delay(error_count=20, max_backoff=HOUR) == HOUR


@pytest.mark.parametrize("seed", range(20), ids=[f"seed={s}" for s in range(20)])
def test_jitter_stays_within_its_fraction(seed: int) -> None:
    got = delay(recent_entry_times=HOURLY, jitter=0.1, rng=random.Random(seed))
    assert 1800.0 * 0.9 <= got <= 1800.0 * 1.1


def test_jitter_spreads_and_is_deterministic_given_rng() -> None:
    draws = [delay(jitter=0.2, rng=random.Random(s)) for s in range(50)]
    again = [delay(jitter=0.2, rng=random.Random(s)) for s in range(50)]
    assert draws == again
    assert len(set(draws)) > 40


@pytest.mark.parametrize(("kwargs", "floor"),
                         [({"interval": MIN}, MIN), ({"feed_ttl": 2 * HOUR}, 2 * HOUR)],
                         ids=["min-interval", "feed-ttl"])
def test_jitter_never_undercuts_a_floor(kwargs: dict[str, float], floor: float) -> None:
    for seed in range(50):
        assert delay(jitter=0.5, rng=random.Random(seed), **kwargs) >= floor


@pytest.mark.parametrize("kwargs", [
    {"min_interval": 0.0}, {"min_interval": MAX + 1}, {"jitter": 1.0}, {"jitter": -0.1},
    {"error_count": -1}, {"max_backoff": 0.0},
], ids=["min-zero", "min-above-max", "jitter-one", "jitter-negative", "errors-negative",
        "backoff-zero"])
def test_inconsistent_limits_raise(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="need"):
        delay(**kwargs)


CACHE_CONTROL = [
    ("max-age=600", 600.0),
    ("public, max-age=300, must-revalidate", 300.0),
    ("Max-Age = 120", 120.0),
    ('max-age="90"', 90.0),
    ("s-maxage=900, max-age=60", 60.0),
    ("s-maxage=900", None),
    ("max-age=60, max-age=600", 60.0),  # the first occurrence
    ("no-cache, max-age=600", None),
    ("no-store", None),
    ("max-age=-5", None),
    ("max-age=soon", None),
    ("max-age", None),
    ("", None),
    (None, None),
]


@pytest.mark.parametrize(("value", "expected"), CACHE_CONTROL,
                         ids=[repr(v) for v, _ in CACHE_CONTROL])
def test_parse_cache_control_max_age(value: str | None, expected: float | None) -> None:
    assert parse_cache_control_max_age(value) == expected
