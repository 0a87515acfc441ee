"""Where a match's alerts go: each rule's channels, now or at a digest time, rate limits
applied.

Pure decision code: it takes the config, the matches, the time and a count the storing
transaction answers (``AlertedSince``), and returns data. It touches no network,
database, file or clock; its one side effect is the log line of a rate limit it applies.
The store asks a ``Router`` (``monitor.models``) inside the transaction that stores the
matches; the pipeline makes one from a ``Routing`` and its clock.

A rule's alert goes to each of its channels: at once, or at the next fire time of the
rule's ``digest`` (else the channel's). An item published longer ago than the rule's
``max_age`` (else its feed's) alerts nobody (``too_old``): a feed re-publishing old news.
A rule that has used up its ``max_alerts_per_hour`` (stories alerted in the last hour)
sends the rest to its digest, or, with none, to ``OVERFLOW_DIGEST``: the top of the next
hour.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor.config import Config, FeedSettings, WatchSettings, cron_trigger
from monitor.models import AlertedSince, Match, RuleChannels
from monitor.timeutil import utc

log = logging.getLogger(__name__)

OVERFLOW_DIGEST = "0 * * * *"
"""Where a rate-limited rule's alerts go when neither it nor its channel has a digest."""


@dataclass(frozen=True, slots=True)
class Routing:
    """The routing table of one config: the rules by name, each channel's digest, and the
    time zone digest times are read in."""

    watches: Mapping[str, WatchSettings]
    digests: Mapping[str, str | None]  # channel -> its digest cron (None: at once)
    timezone: str = "UTC"

    @classmethod
    def from_config(cls, config: Config) -> Routing:
        """The routing of ``config``'s rules and channels."""
        return cls({w.name: w for w in config.watches},
                   {name: s.digest for name, s in config.channels.items()},
                   config.monitor.timezone)

    def route(self, matches: Sequence[Match], alerted: AlertedSince,
              now: datetime) -> RuleChannels:
        """Rule -> [(channel, digest time or None for "now")], rate limits applied."""
        out: dict[str, list[tuple[str, datetime | None]]] = {}
        for m in matches:
            watch = self.watches[m.rule]
            over = over_rate(watch, now, alerted)
            targets = []
            for name in watch.channels:
                cron = watch.digest or self.digests.get(name)
                if over and not cron:
                    cron = OVERFLOW_DIGEST
                targets.append((name, digest_time(cron, self.timezone, now)))
            out[m.rule] = targets
        return out


def too_old(watch: WatchSettings, feed: FeedSettings, published: datetime | None,
            now: datetime) -> bool:
    """Whether an item of ``feed`` published at ``published`` is past ``watch``'s age limit
    (``WatchSettings.age_limit``); an undated item never is."""
    limit = watch.age_limit(feed)
    return bool(limit) and published is not None and (now - published).total_seconds() > limit


def no_alerts(matches: Sequence[Match], alerted: AlertedSince) -> RuleChannels:
    """The router of a first poll's backfill: the matches are stored, nobody is alerted."""
    return {}


def over_rate(watch: WatchSettings, now: datetime, alerted: AlertedSince) -> bool:
    """Whether ``watch`` has used up its ``max_alerts_per_hour``: the rest go to a digest."""
    if not watch.max_alerts_per_hour:
        return False
    sent = alerted(watch.name, now - timedelta(hours=1))
    if sent >= watch.max_alerts_per_hour:
        log.warning("event=rate_limited rule=%r max_alerts_per_hour=%d", watch.name,
                    watch.max_alerts_per_hour)
        return True
    return False


def digest_time(cron: str | None, timezone: str, now: datetime) -> datetime | None:
    """The next time the digest ``cron`` fires after ``now`` (None: alert immediately)."""
    if not cron:
        return None
    fire: Any = cron_trigger(cron, timezone).get_next_fire_time(
        None, now.astimezone(ZoneInfo(timezone)))
    return utc(fire) if fire else None
