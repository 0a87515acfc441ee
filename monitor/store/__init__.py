"""Persistence: SQLAlchemy Core on SQLite (one node) or PostgreSQL (several nodes).

``Store`` is the only way the rest of monitor touches the database, and this package's
names are its only public face: nothing outside ``monitor/store/`` imports its modules
(tests/test_layers.py checks). Every read returns a typed row (``FeedState``,
``StoredArticle``, ``AlertRow``, ``NoticeRow``, ``RuleRow``, ``HitRow``, ``NodeInfo``,
``ChannelState``) with aware UTC datetimes; stored JSON is decoded here. Work is claimed
with leases (``claimed_by``, ``lease_until``); on PostgreSQL the claims use ``FOR UPDATE
SKIP LOCKED`` so several daemons share feeds and alerts without doubling any.
``ArticleWriter`` stores the articles of concurrent polls a few per transaction, and
``PollWriter`` their outcomes (group commit).
"""

from monitor.store.db import Store
from monitor.store.records import (
    HIT_STATES,
    AlertedSince,
    AlertRow,
    ArticleWrite,
    ChannelState,
    FeedState,
    HitRow,
    NewArticle,
    NodeInfo,
    NoticeRow,
    PollRecord,
    PollWrite,
    Router,
    RuleChannels,
    RuleRow,
    SameStory,
    StoredArticle,
)
from monitor.store.ruleedits import AuditEntry, WebRule
from monitor.store.spikes import SpikeRow
from monitor.store.startwait import (
    WaitStatus,
    hide_password,
    migrate_once,
    open_database,
    wait_for_database,
    wait_interruptibly,
)
from monitor.store.stories import Story, StoryCopy, StoryFilter, StoryHit, outlet_of
from monitor.store.triage import TRIAGE_ACTIONS
from monitor.store.writer import ArticleWriter, PollWriter

__all__ = [
    "HIT_STATES",
    "TRIAGE_ACTIONS",
    "AlertRow",
    "AuditEntry",
    "AlertedSince",
    "ArticleWrite",
    "ArticleWriter",
    "ChannelState",
    "FeedState",
    "HitRow",
    "NewArticle",
    "NodeInfo",
    "NoticeRow",
    "PollRecord",
    "PollWrite",
    "PollWriter",
    "RuleChannels",
    "RuleRow",
    "SpikeRow",
    "Router",
    "SameStory",
    "Store",
    "StoredArticle",
    "Story",
    "StoryCopy",
    "StoryFilter",
    "StoryHit",
    "WaitStatus",
    "WebRule",
    "hide_password",
    "migrate_once",
    "outlet_of",
    "open_database",
    "wait_for_database",
    "wait_interruptibly",
]
