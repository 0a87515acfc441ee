"""Notices: what the operator hears that no rule made, put in the outbox like alerts.

:func:`raise_health_notices` is the feed-health producer. It reads the feeds and their
entry history from the store, lets ``monitor.health`` decide which events to raise, and for
each one moves the feed's health mark and enqueues the event's notice in ONE transaction
(``Store.mark_health``): of several nodes checking at once exactly one raises it, and a
notice raised is never lost, since from then on it is an outbox row that the outbox
delivers with the same leases, retries and metrics as an alert. Later producers (spikes)
enqueue through ``Store.enqueue_notices``; a notice's id is its identity there, so
enqueuing the same notice twice sends it once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from monitor.config import HealthSettings
from monitor.health import FeedHealth, HealthEvent, health_events, typical_gap
from monitor.models import Notice
from monitor.store import FeedState, Store

log = logging.getLogger(__name__)

HEALTH_HISTORY = 20
"""Entries per feed that tell its usual cadence."""


def raise_health_notices(store: Store, settings: HealthSettings, channel: str,
                         now: datetime) -> list[Notice]:
    """Raise the feed-health events due now as notices on ``channel``: the ones this node
    raised (another node may have raised some first)."""
    feeds = store.feeds()
    history = store.entry_history(HEALTH_HISTORY)
    states = [feed_health(f, history.get(f.id)) for f in feeds]
    raised = store.health_alerted()
    urls = {f.name: f.url for f in feeds}
    out = []
    for event in health_events(states, now, failing_after=settings.failing_after,
                               silent_factor=settings.silent_factor, already_alerted=raised):
        notice = health_notice(event, urls.get(event.feed, ""), channel, now)
        after = None if event.kind == "recovered" else event.kind
        if store.mark_health(event.feed, raised.get(event.feed), after, now, [notice]):
            log.warning("event=feed_health feed=%s kind=%s notice=%s message=%r", event.feed,
                        event.kind, notice.id, event.message)
            out.append(notice)
    return out


def health_notice(event: HealthEvent, url: str, channel: str, now: datetime) -> Notice:
    """The notice of ``event`` on ``channel``; its id is derived from what it says."""
    key = "\x1f".join((event.feed, event.kind, now.isoformat(), channel))
    return Notice(id=str(uuid.uuid5(uuid.NAMESPACE_URL, key)), created_at=now,
                  kind=event.kind, feed=event.feed, message=event.message, url=url,
                  channel=channel)


def feed_health(feed: FeedState,
                history: tuple[datetime, list[datetime]] | None) -> FeedHealth:
    """What health checks need of a stored feed and its newest entries' dates."""
    last, times = history or (None, [])
    return FeedHealth(feed.name, feed.state, feed.failing_since, feed.last_error, last,
                      typical_gap(times))
