"""The feeds area: the feeds table synced from the config, claimed for polls, the outcome
of each poll, the entry dates adaptive polling and health checks read, and feed health."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import Connection

from monitor.config import FeedSettings
from monitor.models import Notice
from monitor.store import schema as t
from monitor.store.articles import entry_rows
from monitor.store.codec import as_utc, feed_state
from monitor.store.outbox import insert_notices
from monitor.store.records import FeedState, PollRecord, PollWrite

if TYPE_CHECKING:
    from monitor.store.base import StoreBase
else:
    StoreBase = object

SYNC_LOCK = 4242002  # nodes starting together would both insert the new feeds


class FeedsMixin(StoreBase):
    """Feeds, their polls and their health."""

    def sync_feeds(self, feeds: Sequence[FeedSettings], now: datetime) -> None:
        """Make the feeds table match the config (by name); feeds removed become inactive."""
        with self._begin() as conn:
            self._lock(conn, SYNC_LOCK)
            rows = {r.name: r for r in conn.execute(select(t.feeds))}
            for f in feeds:
                if f.name in rows:
                    conn.execute(update(t.feeds).where(t.feeds.c.name == f.name).values(
                        url=f.url, interval=f.interval, active=True))
                else:
                    conn.execute(t.feeds.insert().values(
                        name=f.name, url=f.url, interval=f.interval, next_poll_at=now,
                        state="new", error_count=0, items_seen=0, first_poll_done=False,
                        active=True))
            gone = set(rows) - {f.name for f in feeds}
            if gone:
                conn.execute(update(t.feeds).where(t.feeds.c.name.in_(gone)).values(active=False))

    def claim_due_feeds(self, node: str, now: datetime, limit: int, lease: float,
                        force: bool = False) -> list[FeedState]:
        """Claim up to ``limit`` active feeds that are due (any, with ``force``) and not
        leased by a live node."""
        f = t.feeds.c
        due = select(f.id).where(
            f.active.is_(True), or_(f.lease_until.is_(None), f.lease_until < now),
        ).order_by(f.next_poll_at).limit(limit)
        if not force:
            due = due.where(or_(f.next_poll_at.is_(None), f.next_poll_at <= now))
        if self.postgres:
            due = due.with_for_update(skip_locked=True)
        stmt = (update(t.feeds).where(f.id.in_(due.scalar_subquery()))
                .values(claimed_by=node, lease_until=now + timedelta(seconds=lease))
                .returning(*t.feeds.c))
        with self._begin() as conn:
            return [feed_state(r._mapping) for r in conn.execute(stmt)]

    def finish_poll(self, feed_id: int, node: str, record: PollRecord, now: datetime) -> None:
        """Write what a poll found and release the feed's lease.

        A parse warning is replaced only by a poll that parsed new content (``parsed``):
        a 304, an unchanged body or an error keep the last one. A ``postponed`` poll (its
        host asked for a pause) only moves the next poll and releases the lease."""
        with self._begin() as conn:
            conn.execute(_finish_statement(feed_id, node, record, now))

    def finish_polls(self, writes: Sequence[PollWrite]) -> None:
        """``finish_poll`` for each of ``writes``, with the entries each marks seen, in ONE
        transaction (one commit): all are written, or none (``monitor.store.writer``)."""
        with self._begin() as conn:
            for w in writes:
                if w.seen:
                    conn.execute(self._insert(t.entries).on_conflict_do_nothing(),
                                 entry_rows(w.feed_id, w.seen, w.now))
                conn.execute(_finish_statement(w.feed_id, w.node, w.record, w.now))

    def poll_now(self, names: Sequence[str], now: datetime) -> list[str]:
        """Make the active feeds named ``names`` due at ``now``; the names found.

        Every node's dispatcher claims due feeds each second, so this works from any
        process sharing the database, while daemons run."""
        f = t.feeds.c
        with self._begin() as conn:
            found = conn.execute(update(t.feeds).where(f.name.in_(list(names)),
                                                       f.active.is_(True))
                                 .values(next_poll_at=now).returning(f.name))
            return sorted(found.scalars())

    def feeds(self) -> list[FeedState]:
        """Every active feed."""
        with self._begin() as conn:
            rows = conn.execute(select(t.feeds).where(t.feeds.c.active.is_(True))
                                .order_by(t.feeds.c.name))
            return [feed_state(r._mapping) for r in rows]

    # -- what polling and health checks read of the entries --------------------------------

    def recent_entry_times(self, feed_id: int, since: datetime, limit: int) -> list[datetime]:
        """When the newest ``limit`` entries of ``feed_id`` first seen after ``since`` were
        published (when first seen, for entries without a date): adaptive polling's input."""
        e = t.entries.c
        q = (select(func.coalesce(e.published, e.seen_at))
             .where(e.feed_id == feed_id, e.seen_at > since)
             .order_by(e.seen_at.desc()).limit(limit))
        with self._begin() as conn:
            return [as_utc(v) for (v,) in conn.execute(q)]

    def entry_history(self, per_feed: int) -> dict[int, tuple[datetime, list[datetime]]]:
        """Feed id -> (when its newest entry was first seen, the dates of its newest
        ``per_feed`` entries): what health checks need, for every feed with entries."""
        e = t.entries.c
        rank = func.row_number().over(partition_by=e.feed_id, order_by=e.seen_at.desc())
        ranked = select(e.feed_id, e.seen_at, func.coalesce(e.published, e.seen_at)
                        .label("at"), rank.label("n")).subquery()
        q = select(ranked.c.feed_id, ranked.c.seen_at, ranked.c.at).where(ranked.c.n <= per_feed)
        out: dict[int, tuple[datetime, list[datetime]]] = {}
        with self._begin() as conn:
            for feed_id, seen_at, at in conn.execute(q):
                last, times = out.setdefault(feed_id, (as_utc(seen_at), []))
                out[feed_id] = (max(last, as_utc(seen_at)), times)
                times.append(as_utc(at))
        return out

    # -- feed health ------------------------------------------------------------------------

    def health_alerted(self) -> dict[str, str]:
        """Feed name -> the health event last raised for it (failing | silent)."""
        with self._begin() as conn:
            return {r.name: r.kind for r in conn.execute(select(t.feed_health))}

    def mark_health(self, feed: str, expected: str | None, kind: str | None,
                    now: datetime, notices: Sequence[Notice] = ()) -> bool:
        """Move ``feed``'s raised event from ``expected`` to ``kind`` (None: none raised) if
        it still is ``expected``, and put ``notices`` in the outbox in the same transaction;
        False (and no notice) when another node moved it first."""
        with self._begin() as conn:
            moved = _move_mark(self, conn, feed, expected, kind, now)
            if moved:
                insert_notices(self, conn, notices)
            return moved


def _finish_statement(feed_id: int, node: str, record: PollRecord, now: datetime) -> Any:
    """The feed's row updated with what a poll found, its claim released (if still ours)."""
    values: dict[str, Any] = {"next_poll_at": record.next_poll_at, "claimed_by": None,
                              "lease_until": None}
    if record.status == "error":
        values.update(last_polled_at=now, state="failing", last_error=record.error,
                      error_count=t.feeds.c.error_count + 1,
                      failing_since=func.coalesce(t.feeds.c.failing_since, now))
    elif record.status != "postponed":
        values.update(state="ok", last_error=None, error_count=0, failing_since=None,
                      first_poll_done=True, last_polled_at=now,
                      items_seen=t.feeds.c.items_seen + record.new_items)
        if record.parsed:
            values["warning"] = record.warning
        for key in ("etag", "last_modified", "content_hash", "publisher_ask"):
            if getattr(record, key) is not None:
                values[key] = getattr(record, key)
    return update(t.feeds).where(t.feeds.c.id == feed_id,
                                 t.feeds.c.claimed_by == node).values(**values)


def _move_mark(store: StoreBase, conn: Connection, feed: str, expected: str | None,
               kind: str | None, now: datetime) -> bool:
    h = t.feed_health.c
    if expected is None:
        stmt = store._insert(t.feed_health).values(name=feed, kind=kind, raised_at=now)
        inserted = stmt.on_conflict_do_nothing().returning(h.name)
        return conn.execute(inserted).first() is not None
    match = (h.name == feed) & (h.kind == expected)
    if kind is None:
        return bool(conn.execute(delete(t.feed_health).where(match)).rowcount == 1)
    return bool(conn.execute(update(t.feed_health).where(match)
                             .values(kind=kind, raised_at=now)).rowcount == 1)
