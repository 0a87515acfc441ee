"""monitor.health: failing, silent and recovered feeds, each raised once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.health import (
    FeedHealth,
    HealthEvent,
    format_duration,
    health_events,
    remember,
    typical_gap,
)

NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
HOUR, DAY = 3600.0, 86400.0
FAILING_AFTER, SILENT_FACTOR = 6 * HOUR, 5.0


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def failing(hours: float, error: str = "HTTP 503") -> FeedHealth:
    return FeedHealth("f", "failing", failing_since=ago(hours * HOUR), last_error=error,
                      last_entry_at=ago(hours * HOUR), typical_gap_seconds=HOUR)


def quiet(hours: float, gap: float | None = HOUR) -> FeedHealth:
    return FeedHealth("f", "ok", last_entry_at=ago(hours * HOUR), typical_gap_seconds=gap)


def kinds(feed: FeedHealth, raised: str | None) -> list[str]:
    events = health_events([feed], NOW, failing_after=FAILING_AFTER,
                           silent_factor=SILENT_FACTOR,
                           already_alerted={} if raised is None else {"f": raised})
    assert all(e.feed == "f" for e in events)
    return [e.kind for e in events]


CASES = [
    # (feed, already raised, expected event kinds)
    (failing(7), None, ["failing"]),
    (failing(7), "failing", []),  # raised once only
    (failing(5), None, []),  # not failing for long enough yet
    (failing(6), None, []),  # exactly failing_after is not longer than it
    (failing(5), "silent", []),  # briefly failing is not "recovered" from silence
    (failing(7), "silent", ["failing"]),  # a new condition is raised
    (FeedHealth("f", "failing", failing_since=None), None, []),  # no start time: cannot tell
    (quiet(25), None, ["silent"]),  # hourly feed quiet for 25 h (> 1 day > 5 x 1 h)
    (quiet(23), None, []),  # 5 x the gap passed, but not a day yet
    (quiet(25), "silent", []),
    (quiet(2 * 24, gap=12 * HOUR), None, []),  # a day passed, but 48 h < 5 x 12 h
    (quiet(59, gap=12 * HOUR), None, []),
    (quiet(61, gap=12 * HOUR), None, ["silent"]),
    (quiet(1000, gap=None), None, []),  # cadence unknown: never called silent
    (FeedHealth("f", "ok", typical_gap_seconds=HOUR), None, []),  # no entry ever
    (FeedHealth("f", "new"), None, []),
    (quiet(1), "failing", ["recovered"]),
    (quiet(1), "silent", ["recovered"]),
    (quiet(25), "failing", ["silent"]),  # answers again, but says nothing new
    (quiet(1), None, []),
]


@pytest.mark.parametrize(("feed", "raised", "expected"), CASES, ids=[
    "failing-long", "failing-already-raised", "failing-short", "failing-exactly-threshold",
    "failing-short-after-silent", "failing-after-silent", "failing-no-start",
    "silent-hourly", "quiet-under-a-day", "silent-already-raised", "quiet-4d-12h-gap-is-silent",
    "quiet-2d-12h-gap", "silent-12h-gap", "cadence-unknown", "no-entry-ever", "new-feed",
    "recovered-from-failing", "recovered-from-silent", "failing-to-silent", "ok-nothing-raised",
])
def test_health_events(feed: FeedHealth, raised: str | None, expected: list[str]) -> None:
    assert kinds(feed, raised) == expected


def test_messages_are_one_line_and_say_what_and_since_when() -> None:
    feeds = [FeedHealth("AP", "failing", failing_since=ago(7 * HOUR + 300),
                        last_error="HTTP 503\nService Unavailable"),
             FeedHealth("Reuters", "ok", last_entry_at=ago(3 * DAY + 4 * HOUR),
                        typical_gap_seconds=2 * HOUR),
             FeedHealth("BBC", "ok", last_entry_at=ago(60), typical_gap_seconds=HOUR)]
    events = health_events(feeds, NOW, failing_after=FAILING_AFTER,
                           silent_factor=SILENT_FACTOR, already_alerted={"BBC": "failing"})
    assert events == [
        HealthEvent("AP", "failing", "feed 'AP' failing for 7h 5m: HTTP 503 Service Unavailable"),
        HealthEvent("Reuters", "silent",
                    "feed 'Reuters' silent: no new entry for 3d 4h (usually one every 2h)"),
        HealthEvent("BBC", "recovered", "feed 'BBC' recovered (was failing)"),
    ]


def test_min_silence_is_configurable() -> None:
    events = health_events([quiet(6)], NOW, failing_after=FAILING_AFTER,
                           silent_factor=SILENT_FACTOR, already_alerted={},
                           min_silence=HOUR)
    assert [e.kind for e in events] == ["silent"]


def test_remember_then_check_again_raises_nothing_new() -> None:
    feeds = [failing(7), FeedHealth("g", "ok", last_entry_at=ago(30 * HOUR),
                                    typical_gap_seconds=HOUR)]
    args = {"failing_after": FAILING_AFTER, "silent_factor": SILENT_FACTOR}
    first = health_events(feeds, NOW, already_alerted={}, **args)
    state = remember({}, first)
    assert state == {"f": "failing", "g": "silent"}
    assert health_events(feeds, NOW, already_alerted=state, **args) == []
    healed = [quiet(1), feeds[1]]
    second = health_events(healed, NOW, already_alerted=state, **args)
    assert [(e.feed, e.kind) for e in second] == [("f", "recovered")]
    assert remember(state, second) == {"g": "silent"}


GAPS = [
    ([], None),
    ([NOW, NOW - timedelta(hours=1)], None),  # one gap is not a habit
    ([NOW - timedelta(hours=h) for h in (0, 1, 2, 3)], HOUR),
    ([NOW - timedelta(hours=h) for h in (0, 1, 2, 50)], HOUR),  # median, not mean
    ([NOW, NOW, NOW, NOW - timedelta(hours=2), NOW - timedelta(hours=4)], 2 * HOUR),  # repeats
]


@pytest.mark.parametrize(("times", "expected"), GAPS,
                         ids=["none", "two-times", "hourly", "outlier", "same-time-repeats"])
def test_typical_gap(times: list[datetime], expected: float | None) -> None:
    assert typical_gap(times) == expected


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (45, "45s"), (420, "7m"), (3900, "1h 5m"), (7200, "2h"),
    (3 * DAY + 4 * HOUR + 59, "3d 4h"), (-5, "0s"),
], ids=["zero", "seconds", "minutes", "hours-minutes", "whole-hours", "days-hours", "negative"])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
