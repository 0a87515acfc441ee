"""Frozen rows passed in and out of the Store, and the shapes of an article write.

Every read returns one of these, decoded inside ``monitor.store``: datetimes are aware
UTC, stored JSON is an ``Article`` and its ``TermHit``s again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from monitor.models import Article, Entry, Match, TermHit


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
class StoredArticle:
    """An article as stored: its row id, its story (the id of the story's first article)
    and when it was stored."""

    id: int
    story_id: int
    article: Article
    stored_at: datetime


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One outbox row: an alert of ``rule`` on ``channel``, with the article and the terms
    that matched as they were when it was stored, and its delivery state."""

    id: str
    rule: str
    channel: str
    story_id: int
    article_id: int
    feed: str
    article: Article
    terms: tuple[TermHit, ...] = ()
    query: str = ""
    attempts: int = 0
    created_at: datetime | None = None
    digest_at: datetime | None = None
    status: str = "pending"
    last_error: str | None = None
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None
    hit_id: int = 0


@dataclass(frozen=True, slots=True)
class RuleRow:
    """A rule as stored: its id is stable (a rename keeps it, see ``Store.sync_rules``),
    ``origin`` says where it is defined (``config``: the TOML; ``web``: the workspace)
    and ``enabled`` whether it is still defined there."""

    id: int
    name: str
    query: str
    case_sensitive: bool = False
    origin: str = "config"
    enabled: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None


HIT_STATES = ("new", "relevant", "dismissed")
"""A hit's triage states; every hit starts ``new``."""


@dataclass(frozen=True, slots=True)
class HitRow:
    """One (rule, story): when the rule first and last matched the story, its triage, the
    story's first article the rule matched with the terms that fired there, and its
    alerts, one per channel."""

    id: int
    rule_id: int
    rule: str  # the rule's name today
    story_id: int
    article_id: int
    article: Article
    first_seen: datetime
    last_seen: datetime
    terms: tuple[TermHit, ...] = ()
    state: str = "new"
    note: str = ""
    alerts: tuple[AlertRow, ...] = ()


@dataclass(frozen=True, slots=True)
class ChannelState:
    """A channel's delivery state: enabled, or disabled (by an HTTP 410) since when and why."""

    name: str
    disabled: bool = False
    reason: str = ""
    changed_at: datetime | None = None
    config_hash: str | None = None  # of the settings it was disabled under (None: unknown)


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A live node: when it started, its last heartbeat, the feeds and alerts it holds."""

    id: str
    started_at: datetime
    heartbeat_at: datetime
    feeds_claimed: int = 0
    alerts_claimed: int = 0


# -- an article write (see monitor.store.writer) ------------------------------------------

SameStory = Callable[[int, int], bool]
"""(fingerprint, fingerprint) -> whether two texts are the same story."""
RuleChannels = Mapping[str, Sequence[tuple[str, datetime | None]]]
"""Rule -> [(channel, digest time, or None to send now)]."""
AlertedSince = Callable[[str, datetime], int]
"""(rule, since) -> stories the rule alerted on since then, as the transaction sees it."""
Router = Callable[[Sequence[Match], AlertedSince], RuleChannels]
"""(matches, alerted since) -> where each matched rule's alerts go (rate limits applied)."""


class ArticleWrite(NamedTuple):
    """One article to store, and the router that decides, inside the transaction that
    stores it, where its alerts go."""

    feed_id: int
    feed_name: str
    new: NewArticle
    route: Router
    now: datetime
