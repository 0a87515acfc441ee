"""The retention area: old unmatched articles and old entries pruned in small batches, and
the database's size.

Each batch is its own short transaction (at most ``batch`` rows), so pruning never holds
a lock for long; between batches other writers get in. Every step is idempotent, and on
PostgreSQL a batch that finds another node's batch under way (``RETENTION_LOCK``) stops
this round, so several nodes never prune side by side.

What is kept:

* an article that matched a rule is kept whole (hits, alerts, stories and "also seen at"
  point at matched articles only). Any other article older than the cutoff is deleted,
  row and text: its entry stays (without the article), so the item never comes back as
  new. Deleting whole rows, oldest first, frees whole database pages, which SQLite reuses
  for new rows; cutting each text short in place left the article pages 60% empty and
  saved under a fifth of the space (bench/retention.py).
* an entry (the dedup key of a feed item) is deleted once not listed by its feed for the
  cutoff, never while the feed still lists it: each poll that lists an entry moves its
  ``last_seen`` forward (``monitor.store.entries``), and entries listed within
  ``TOUCH_EVERY`` of the feed's newest ``last_seen`` are kept whatever their age (a feed
  unchanged for months, answering 304, keeps its items).
* a spike (``spikes``: one row per rule and hour a spike was raised in) is deleted once its
  hour is older than the cutoff (``monitor.retention.SPIKES_DAYS``): only the chart of
  the rule's last days reads them, and raising looks back one hour. The spike's notice,
  an outbox row, is not touched.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, exists, func, select, text, tuple_, update
from sqlalchemy.engine import Connection

from monitor.store import schema as t
from monitor.store.base import STORY_LOCK
from monitor.store.codec import as_utc
from monitor.store.entries import TOUCH_EVERY

if TYPE_CHECKING:
    from monitor.store.base import StoreBase
else:
    StoreBase = object

RETENTION_LOCK = 4242007


class RetentionMixin(StoreBase):
    """Pruning in batches; the database's size."""

    def prune_articles(self, before: datetime, after_id: int,
                       batch: int) -> tuple[int, int | None]:
        """One batch: of the next ``batch`` articles (by id, after ``after_id``) created
        before ``before``, delete those that matched no rule (their entries stay, without
        the article). Returns (articles deleted, the last id looked at), or (0, None)
        when none is left to look at (None also while another node prunes)."""
        a = t.articles.c
        with self._begin() as conn:
            if not self._try_lock(conn):
                return 0, None
            self._lock(conn, STORY_LOCK)  # no article write adds a match meanwhile
            ids = list(conn.execute(
                select(a.id).where(a.id > after_id, a.created_at < before)
                .order_by(a.id).limit(batch)).scalars())
            if not ids:
                return 0, None
            matched = exists().where(t.matches.c.article_id == a.id)
            gone = list(conn.execute(select(a.id).where(a.id.in_(ids), ~matched)).scalars())
            if gone:
                conn.execute(update(t.entries).where(t.entries.c.article_id.in_(gone))
                             .values(article_id=None))
                conn.execute(delete(t.articles).where(a.id.in_(gone)))
            return len(gone), int(ids[-1])

    def entry_prune_limits(self, before: datetime) -> dict[int, datetime]:
        """Feed id -> the time before which its entries may go: ``before``, or earlier
        for a feed whose newest listing is older (what it lists now stays); only feeds
        with something to prune."""
        e = t.entries.c
        with self._begin() as conn:
            rows = conn.execute(select(e.feed_id, func.min(e.last_seen), func.max(e.last_seen))
                                .group_by(e.feed_id)).all()
        out = {}
        for feed_id, oldest, newest in rows:
            if oldest is None or newest is None:
                continue
            limit = min(before, as_utc(newest) - TOUCH_EVERY)
            if as_utc(oldest) < limit:
                out[int(feed_id)] = limit
        return out

    def prune_entries(self, feed_id: int, before: datetime, batch: int) -> int | None:
        """One batch: delete at most ``batch`` entries of ``feed_id`` last listed before
        ``before``; how many (None while another node prunes)."""
        e = t.entries.c
        with self._begin() as conn:
            if not self._try_lock(conn):
                return None
            ids = select(e.id).where(e.feed_id == feed_id, e.last_seen < before).limit(batch)
            done = conn.execute(delete(t.entries).where(e.id.in_(ids.scalar_subquery())))
            return max(done.rowcount, 0)

    def prune_spikes(self, before: datetime, batch: int) -> int | None:
        """One batch: delete at most ``batch`` spikes of hours before ``before``, oldest
        first; how many (None while another node prunes)."""
        s = t.spikes.c
        with self._begin() as conn:
            if not self._try_lock(conn):
                return None
            old = (select(s.rule_id, s.hour).where(s.hour < before)
                   .order_by(s.hour, s.rule_id).limit(batch))
            done = conn.execute(delete(t.spikes).where(tuple_(s.rule_id, s.hour).in_(old)))
            return max(done.rowcount, 0)

    def database_size(self) -> int:
        """Bytes the database takes: SQLite's pages (free ones included), or PostgreSQL's
        ``pg_database_size``."""
        with self._begin() as conn:
            if self.postgres:
                return int(conn.execute(text(
                    "SELECT pg_database_size(current_database())")).scalar_one())
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            return int(pages) * int(size)

    def _try_lock(self, conn: Connection) -> bool:
        """Start the batch: SQLite takes its write lock at once (a read turned write could
        fail on a busy database); PostgreSQL tries ``RETENTION_LOCK``."""
        if not self.postgres:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return True
        return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                 {"k": RETENTION_LOCK}).scalar())
