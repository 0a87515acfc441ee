"""The Store: every query monitor runs, on SQLite or PostgreSQL, one mixin per area."""

from __future__ import annotations

from monitor.store.articles import ArticlesMixin
from monitor.store.base import StoreBase
from monitor.store.cluster import ClusterMixin
from monitor.store.entries import EntriesMixin
from monitor.store.feeds import FeedsMixin
from monitor.store.hits import HitsMixin
from monitor.store.outbox import OutboxMixin
from monitor.store.retention import RetentionMixin
from monitor.store.ruleedits import RuleEditsMixin
from monitor.store.rulestats import RuleStatsMixin
from monitor.store.sessions import SessionsMixin
from monitor.store.spikes import SpikesMixin
from monitor.store.stats import StatsMixin
from monitor.store.stories import StoriesMixin
from monitor.store.triage import TriageMixin


class Store(FeedsMixin, EntriesMixin, ArticlesMixin, HitsMixin, OutboxMixin, ClusterMixin,
            RetentionMixin, StatsMixin, RuleEditsMixin, StoriesMixin, TriageMixin,
            RuleStatsMixin, SpikesMixin, SessionsMixin, StoreBase):
    """All reads and writes of monitor's state.

    One class, split by area as lemon24/reader splits its storage: ``feeds`` (the feeds
    table, polls, feed health), ``rules`` (the rules table, stable ids), ``articles``
    (entries, articles, stories, matches, hits and the alerts written with them; it
    builds on ``rules``), ``hits`` (reading and triaging them), ``outbox`` (alerts and
    notices: claims, deliveries, the listings, channel state), ``cluster`` (nodes,
    heartbeats, leases), ``entries`` (items seen, by GUID or content), ``retention``
    (pruning old articles and entries, the database's size), ``stats`` (counts),
    ``ruleedits`` (rules made through the API, their audit log, the rules version),
    ``stories`` (pages of stories for the workspace), ``triage`` (verdicts, mutes),
    ``rulestats`` (a rule's hits by state and day, its articles' texts), ``spikes`` (hits
    per hour, spikes raised, per-rule feeds' hits and secret) and ``sessions`` (dashboard sessions
    signed out, shared by every node), over
    ``base`` (engine, transactions, migrate, ping). A new query goes in its area's module.
    """
