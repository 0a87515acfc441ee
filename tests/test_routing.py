"""monitor.alerts.routing: where a match's alerts go, now or at a digest, rate limits applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerts.routing import OVERFLOW_DIGEST, Routing, digest_time, no_alerts
from monitor.config import WatchSettings
from monitor.models import AlertedSince, Match

NOW = datetime(2026, 3, 11, 12, 20, tzinfo=UTC)  # 13:20 in Berlin
NEXT_HOUR = datetime(2026, 3, 11, 13, 0, tzinfo=UTC)
BERLIN_8AM = datetime(2026, 3, 12, 7, 0, tzinfo=UTC)  # 08:00 CET the next morning


def routing(**watch: object) -> Routing:
    rule = WatchSettings("r", "x", channels=("hook", "mail"), **watch)  # type: ignore[arg-type]
    return Routing({"r": rule}, {"hook": None, "mail": "0 8 * * *"}, "Europe/Berlin")


def counted(n: int, calls: list[tuple[str, datetime]]) -> AlertedSince:
    def alerted(rule: str, since: datetime, /) -> int:
        calls.append((rule, since))
        return n
    return alerted


CASES = [
    # (rule settings, stories alerted in the last hour, expected (channel, digest time))
    ({}, 0, [("hook", None), ("mail", BERLIN_8AM)]),  # now; the channel's own digest
    ({"digest": "0 * * * *"}, 0, [("hook", NEXT_HOUR), ("mail", NEXT_HOUR)]),  # rule's wins
    ({"max_alerts_per_hour": 3}, 2, [("hook", None), ("mail", BERLIN_8AM)]),  # under the rate
    ({"max_alerts_per_hour": 3}, 3, [("hook", NEXT_HOUR), ("mail", BERLIN_8AM)]),  # overflow
    ({"max_alerts_per_hour": 3, "digest": "0 8 * * *"}, 5,
     [("hook", BERLIN_8AM), ("mail", BERLIN_8AM)]),  # over: to the rule's own digest
]


@pytest.mark.parametrize(("watch", "sent", "expected"), CASES, ids=[
    "now-and-channel-digest", "rule-digest", "under-rate", "over-rate-overflow-digest",
    "over-rate-rule-digest"])
def test_route(watch: dict[str, object], sent: int,
               expected: list[tuple[str, datetime | None]]) -> None:
    calls: list[tuple[str, datetime]] = []
    routes = routing(**watch).route([Match("r", "x")], counted(sent, calls), NOW)
    assert routes == {"r": expected}
    limited = "max_alerts_per_hour" in watch
    assert calls == ([("r", NOW - timedelta(hours=1))] if limited else [])


def test_overflow_is_the_top_of_the_next_hour() -> None:
    assert digest_time(OVERFLOW_DIGEST, "UTC", NOW) == NEXT_HOUR
    assert digest_time(None, "UTC", NOW) is None


def test_no_alerts_routes_nothing() -> None:
    assert no_alerts([Match("r", "x")], counted(0, [])) == {}


# -- max_age: items older than the rule's (else the feed's) limit alert nobody -------------

DAY = 86400.0


@pytest.mark.parametrize(("feed_age", "rule_age", "published", "expected"), [
    (7 * DAY, None, NOW - timedelta(days=8), True),
    (7 * DAY, None, NOW - timedelta(days=6), False),
    (7 * DAY, 30 * DAY, NOW - timedelta(days=8), False),  # the rule's own limit wins
    (30 * DAY, 1 * DAY, NOW - timedelta(days=2), True),
    (7 * DAY, 0.0, NOW - timedelta(days=400), False),  # the rule says "off"
    (0.0, None, NOW - timedelta(days=400), False),  # the feed says "off"
    (7 * DAY, None, None, False),  # undated: never too old
    (7 * DAY, None, NOW + timedelta(hours=3), False),  # dated in the future
], ids=["older", "younger", "rule-longer", "rule-shorter", "rule-off", "feed-off", "undated",
        "future"])
def test_too_old(feed_age: float, rule_age: float | None, published: datetime | None,
                 expected: bool) -> None:
    from monitor.alerts.routing import too_old
    from monitor.config import FeedSettings

    feed = FeedSettings("f", "https://example.org/feed", 600.0, max_age=feed_age)
    rule = WatchSettings("r", "x", max_age=rule_age)
    assert too_old(rule, feed, published, NOW) is expected
