"""Frozen rows passed in and out of the Store, and the shapes of an article write.

Every read returns one of these, decoded inside ``monitor.store``: datetimes are aware
UTC, stored JSON is an ``Article`` and its ``TermHit``s again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from monitor.models import AlertedSince as AlertedSince
from monitor.models import Article, Entry, Match, Notice, TermHit
from monitor.models import Router as Router
from monitor.models import RuleChannels as RuleChannels


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
    """What one poll did: the pipeline returns it, the store writes it back to the feed's
    row, and the poll's log line and metrics read it."""

    # ok | first_poll (stored, not alerted) | not_modified | unchanged | error |
    # postponed (the host asked every client for a pause)
    status: str
    next_poll_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    error: str | None = None
    warning: str | None = None  # replaces the stored one only when the poll parsed the feed
    new_items: int = 0
    publisher_ask: float | None = None  # None: keep what is stored
    matched: int = 0  # rules matched, over all the items stored
    alerts: int = 0  # alerts written to the outbox
    duration_ms: int = 0

    @property
    def parsed(self) -> bool:
        """Whether the poll parsed new content (``ok`` or ``first_poll``)."""
        return self.status in ("ok", "first_poll")


@dataclass(frozen=True, slots=True)
class NewArticle:
    """A new feed item with its article and the rules it matched, stored together."""

    entry: Entry
    article: Article
    url_hash: str
    fingerprint: int | None = None
    matches: tuple[Match, ...] = ()
    terms: str | None = None  # for the full-text index (``monitor.store.fulltext``)


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


HIT_STATES = ("new", "relevant", "dismissed", "muted")
"""A hit's triage states; every hit starts ``new``; a ``muted`` one alerts nobody again
(``monitor.store.triage``)."""


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
class NoticeRow:
    """One outbox row holding a notice (feed health) for one channel, with its delivery
    state; ``id``, ``channel`` and ``created_at`` are the notice's."""

    notice: Notice
    attempts: int = 0
    status: str = "pending"
    last_error: str | None = None
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None

    @property
    def id(self) -> str:
        """The notice's id (its webhook-id)."""
        return self.notice.id

    @property
    def channel(self) -> str:
        """The channel it goes to."""
        return self.notice.channel

    @property
    def created_at(self) -> datetime:
        """When it was raised."""
        return self.notice.created_at


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
    alerts_claimed: int = 0  # alerts and notices: the outbox's rows


# -- an article write (see monitor.store.writer) ------------------------------------------

SameStory = Callable[[int, int], bool]
"""(fingerprint, fingerprint) -> whether two texts are the same story."""
# Router, AlertedSince and RuleChannels (what the transaction calls) are defined in
# monitor.models, below both the store and monitor.alerts.routing, which answers them;
# they are named here too for the store's modules.


class ArticleWrite(NamedTuple):
    """One article to store, and the router that decides, inside the transaction that
    stores it, where its alerts go."""

    feed_id: int
    feed_name: str
    new: NewArticle
    route: Router
    now: datetime


class PollWrite(NamedTuple):
    """What one poll writes back: its record and the entries it only marks seen (a first
    poll's items past the backfill), with the release of the feed's claim."""

    feed_id: int
    node: str
    record: PollRecord
    now: datetime
    seen: tuple[Entry, ...] = ()
