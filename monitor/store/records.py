"""Frozen rows passed in and out of the Store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.models import Article, Entry, Match


@dataclass(frozen=True, slots=True)
class FeedState:
    """A feed as the database knows it: fetch state and schedule."""

    id: int
    name: str
    url: str
    interval: float
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    state: str = "new"
    error_count: int = 0
    first_poll_done: bool = False
    last_error: str | None = None
    last_polled_at: datetime | None = None
    next_poll_at: datetime | None = None
    items_seen: int = 0
    failing_since: datetime | None = None
    warning: str | None = None
    claimed_by: str | None = None
    publisher_ask: float | None = None  # seconds the feed asked between polls, last we saw

    @property
    def health(self) -> str:
        """``state``, except that an ok feed whose last parse left a warning (items may
        have been lost) is ``degraded``: new | ok | degraded | failing."""
        return "degraded" if self.state == "ok" and self.warning else self.state


@dataclass(frozen=True, slots=True)
class PollRecord:
    """What one poll found, written back to the feed's row."""

    status: str  # ok | not_modified | unchanged | error | postponed (the host asked a pause)
    next_poll_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    error: str | None = None
    warning: str | None = None  # replaces the stored one only when status is ok (parsed)
    new_items: int = 0
    publisher_ask: float | None = None  # None: keep what is stored


@dataclass(frozen=True, slots=True)
class NewArticle:
    """A new feed item with its article and the rules it matched, stored together."""

    entry: Entry
    article: Article
    url_hash: str
    fingerprint: int | None = None
    matches: tuple[Match, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One outbox row claimed for delivery."""

    id: str
    rule: str
    channel: str
    story_id: int
    article_id: int
    feed: str
    payload: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    created_at: datetime | None = None
    digest_at: datetime | None = None
    status: str = "pending"
    last_error: str | None = None
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChannelState:
    """A channel's delivery state: enabled, or disabled (by an HTTP 410) since when and why."""

    name: str
    disabled: bool = False
    reason: str = ""
    changed_at: datetime | None = None
    config_hash: str | None = None  # of the settings it was disabled under (None: unknown)
