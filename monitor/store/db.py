"""The Store: every query monitor runs, on SQLite or PostgreSQL."""

from __future__ import annotations

import functools
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    Engine,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from monitor.config import FeedSettings
from monitor.errors import StorageError
from monitor.models import Entry, Match
from monitor.store import schema as t
from monitor.store.codec import article_to_json, as_utc, terms_to_json
from monitor.store.records import (
    AlertRow,
    ChannelState,
    FeedState,
    NewArticle,
    PollRecord,
)

log = logging.getLogger(__name__)

SameStory = Callable[[int, int], bool]
SYNC_LOCK = 4242002  # pg_advisory_xact_lock keys (migrate uses 4242001)
STORY_LOCK = 4242003
RuleChannels = Mapping[str, Sequence[tuple[str, datetime | None]]]
# (rule, since) -> stories the rule alerted on since then, as the transaction sees it
AlertedSince = Callable[[str, datetime], int]
# (matches, alerted since) -> where each matched rule's alerts go (rate limits applied)
Router = Callable[[Sequence[Match], AlertedSince], RuleChannels]
# One article to store: feed id, feed name, the article, the router that decides inside
# the transaction where its alerts go, now
ArticleWrite = tuple[int, str, NewArticle, Router, datetime]


def key_hash(value: str) -> str:
    """A fixed-length key for long strings (entry keys, canonical URLs)."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def entry_version(entry: Entry) -> str:
    """A hash of what the feed says about an entry; it changes when the item is edited."""
    published = entry.published.isoformat() if entry.published else ""
    return key_hash("\x1f".join((entry.title, entry.summary, published)))[:32]


def _signed64(value: int | None) -> int | None:
    return None if value is None else (value - (1 << 64) if value >= 1 << 63 else value)


def _unsigned64(value: int | None) -> int | None:
    return None if value is None else value & ((1 << 64) - 1)


class Store:
    """All reads and writes of monitor's state."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine: Engine = _make_engine(url)
        except (SQLAlchemyError, ValueError, OSError) as e:
            raise StorageError(f"cannot open database: {e}") from e
        self.postgres = self.engine.dialect.name == "postgresql"

    def close(self) -> None:
        """Release every connection."""
        self.engine.dispose()

    def _begin(self) -> Any:
        return _Transaction(self.engine)

    def migrate(self) -> int:
        """Create or upgrade the schema; safe when several nodes start at once."""
        with self._begin() as conn:
            if self.postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
            return t.migrate(conn)

    def ping(self) -> None:
        """Raise StorageError unless the database answers."""
        with self._begin() as conn:  # a real read: SELECT 1 never touches a SQLite file
            conn.execute(select(t.schema_version.c.version)).first()

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if self.postgres else sqlite.insert)(table)

    # -- feeds ---------------------------------------------------------------------------

    def sync_feeds(self, feeds: Sequence[FeedSettings], now: datetime) -> None:
        """Make the feeds table match the config (by name); feeds removed become inactive."""
        with self._begin() as conn:
            if self.postgres:  # nodes starting together would both insert the new feeds
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SYNC_LOCK})
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
            return [_feed_state(r) for r in conn.execute(stmt)]

    def finish_poll(self, feed_id: int, node: str, record: PollRecord, now: datetime) -> None:
        """Write what a poll found and release the feed's lease.

        A parse warning is replaced only by a poll that parsed new content (status ``ok``):
        a 304, an unchanged body or an error keep the last one. A ``postponed`` poll (its
        host asked for a pause) only moves the next poll and releases the lease."""
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
            if record.status == "ok":
                values["warning"] = record.warning
            for key in ("etag", "last_modified", "content_hash", "publisher_ask"):
                if getattr(record, key) is not None:
                    values[key] = getattr(record, key)
        with self._begin() as conn:
            conn.execute(update(t.feeds).where(t.feeds.c.id == feed_id,
                                               t.feeds.c.claimed_by == node).values(**values))

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
            return [_feed_state(r) for r in rows]

    # -- entries and articles ------------------------------------------------------------

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

    def health_alerted(self) -> dict[str, str]:
        """Feed name -> the health event last raised for it (failing | silent)."""
        with self._begin() as conn:
            return {r.name: r.kind for r in conn.execute(select(t.feed_health))}

    def mark_health(self, feed: str, expected: str | None, kind: str | None,
                    now: datetime) -> bool:
        """Move ``feed``'s raised event from ``expected`` to ``kind`` (None: none raised) if
        it still is ``expected``; False when another node moved it first."""
        h = t.feed_health.c
        with self._begin() as conn:
            if expected is None:
                stmt = self._insert(t.feed_health).values(name=feed, kind=kind, raised_at=now)
                inserted = stmt.on_conflict_do_nothing().returning(h.name)
                return conn.execute(inserted).first() is not None
            match = (h.name == feed) & (h.kind == expected)
            if kind is None:
                return bool(conn.execute(delete(t.feed_health).where(match)).rowcount == 1)
            return bool(conn.execute(update(t.feed_health).where(match)
                                     .values(kind=kind, raised_at=now)).rowcount == 1)

    def known_keys(self, feed_id: int, keys: Sequence[str]) -> set[str]:
        """The entry keys of ``feed_id`` among ``keys`` that were seen before."""
        return set(self.known_versions(feed_id, keys))

    def known_versions(self, feed_id: int, keys: Sequence[str]) -> dict[str, str | None]:
        """Entry key -> stored version, for the keys of ``feed_id`` seen before."""
        hashes = {key_hash(k): k for k in keys}
        found: dict[str, str | None] = {}
        e = t.entries.c
        with self._begin() as conn:
            for chunk in _chunks(list(hashes), 500):
                q = select(e.key_hash, e.version).where(e.feed_id == feed_id,
                                                        e.key_hash.in_(chunk))
                found.update((hashes[h], v) for h, v in conn.execute(q))
        return found

    def record_entries(self, feed_id: int, entries: Sequence[Entry], now: datetime) -> None:
        """Remember entries without fetching or alerting (the first poll of a feed)."""
        if not entries:
            return
        rows = [{"feed_id": feed_id, "key_hash": key_hash(e.key), "key": e.key, "url": e.url,
                 "title": e.title[:1000], "seen_at": now, "version": entry_version(e),
                 "published": e.published}
                for e in entries]
        with self._begin() as conn:
            conn.execute(self._insert(t.entries).on_conflict_do_nothing(), rows)

    @functools.cached_property
    def _article_sql(self) -> dict[str, Any]:
        """The statements ``store_article`` runs, built once: values come as parameters,
        so SQLAlchemy finds each compiled form in its cache without rebuilding clauses."""
        a, e = t.articles.c, t.entries
        entry = self._insert(e)
        m = t.matches.c
        return {
            "by_url": select(a.id, a.story_id).where(a.url_hash == bindparam("url_hash_")),
            "recent_prints": select(a.fingerprint, a.story_id).distinct().join_from(
                t.articles, t.matches, m.article_id == a.id).where(
                m.created_at >= bindparam("since_"), a.fingerprint.is_not(None)),
            "update_article": update(t.articles).where(a.id == bindparam("id_")),
            "insert_article": t.articles.insert().returning(a.id),
            "upsert_entry": entry.on_conflict_do_update(
                index_elements=["feed_id", "key_hash"],
                set_={"version": entry.excluded.version,
                      "article_id": entry.excluded.article_id}),
            "insert_match": self._insert(t.matches).on_conflict_do_nothing(),
            "insert_alert": self._insert(t.alerts).on_conflict_do_nothing()
                                .returning(t.alerts.c.id),
        }

    def store_article(self, feed_id: int, feed_name: str, new: NewArticle,
                      rule_channels: RuleChannels, now: datetime,
                      same_story: SameStory | None = None) -> list[str]:
        """Store an entry, its article, its matches and their alerts in ONE transaction.

        Returns the ids of the alerts created; (rule, story, channel) is unique, so a story
        seen before (same URL, or a near-identical text) adds no second alert.
        """
        def route(matches: Sequence[Match], alerted: AlertedSince) -> RuleChannels:
            return rule_channels

        return self.store_articles([(feed_id, feed_name, new, route, now)], same_story)[0]

    def store_articles(self, batch: Sequence[ArticleWrite],
                       same_story: SameStory | None = None) -> list[list[str]]:
        """``store_article`` for several articles in one transaction (one commit, one
        fsync): all are stored, or none. Returns each one's alert ids, in order.

        Each write's router is asked inside the transaction, after the writes before it,
        so a rate limit counts every alert stored before, this batch's included; on
        PostgreSQL the story lock makes that exact across nodes too."""
        with self._begin() as conn:
            if self.postgres:  # two nodes must not both start a story, or both insert a URL
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": STORY_LOCK})
            return [self._store_one(conn, *write, same_story) for write in batch]

    def _store_one(self, conn: Connection, feed_id: int, feed_name: str, new: NewArticle,
                   route: Router, now: datetime, same_story: SameStory | None) -> list[str]:
        sql = self._article_sql
        rule_channels = route(new.matches, functools.partial(_stories_alerted_since, conn))
        article_id, story_id = self._save_article(conn, new, now, same_story)
        conn.execute(sql["upsert_entry"], {
            "feed_id": feed_id, "key_hash": key_hash(new.entry.key), "key": new.entry.key,
            "url": new.entry.url, "title": new.entry.title[:1000], "seen_at": now,
            "article_id": article_id, "version": entry_version(new.entry),
            "published": new.entry.published})
        created: list[str] = []
        for match in new.matches:
            conn.execute(sql["insert_match"], [{
                "rule": match.rule, "article_id": article_id, "story_id": story_id,
                "terms": terms_to_json(match.terms), "created_at": now}])
            payload = {"rule": match.rule, "query": match.query,
                       "article": article_to_json(new.article),
                       "terms": terms_to_json(match.terms)}
            for channel, digest_at in rule_channels.get(match.rule, ()):
                alert_id = str(uuid.uuid4())
                inserted = conn.execute(sql["insert_alert"], {
                    "id": alert_id, "rule": match.rule, "story_id": story_id,
                    "article_id": article_id, "feed": feed_name, "channel": channel,
                    "payload": payload, "status": "pending", "digest_at": digest_at,
                    "attempts": 0, "next_attempt_at": digest_at or now,
                    "created_at": now}).scalar()
                if inserted is not None:
                    created.append(alert_id)
        return created

    def _save_article(self, conn: Connection, new: NewArticle, now: datetime,
                      same_story: SameStory | None) -> tuple[int, int]:
        sql = self._article_sql
        art = new.article
        row = conn.execute(sql["by_url"], {"url_hash_": new.url_hash}).first()
        if row is not None:  # the same page again, maybe edited in place: same story
            conn.execute(sql["update_article"], {
                "id_": row.id, "title": art.title, "text": art.text, "author": art.author,
                "published": art.published, "fingerprint": _signed64(new.fingerprint)})
            return int(row.id), int(row.story_id)
        story_id = (self._find_story(conn, new.fingerprint, now, same_story)
                    if new.matches else None)
        article_id = conn.execute(sql["insert_article"], {
            "url": art.url, "url_hash": new.url_hash, "title": art.title, "author": art.author,
            "published": art.published, "language": art.language, "source": art.source,
            "text": art.text, "from_feed": art.from_feed,
            "fingerprint": _signed64(new.fingerprint), "story_id": story_id,
            "created_at": now}).scalar_one()
        if story_id is None:
            story_id = article_id
            conn.execute(sql["update_article"], {"id_": article_id, "story_id": story_id})
        return int(article_id), int(story_id)

    def _find_story(self, conn: Connection, fingerprint: int | None, now: datetime,
                    same_story: SameStory | None) -> int | None:
        """The story of a recent near-identical article, or None.

        Only stories that matched a rule are candidates: stories exist to make alerts
        precise, and a copy of a story that matched nothing matches nothing either. This
        keeps the scan to the week's matched articles, not every article.
        """
        if fingerprint is None or same_story is None:
            return None
        recent = conn.execute(self._article_sql["recent_prints"],
                              {"since_": now - timedelta(days=7)})
        for other, story in recent:
            if same_story(fingerprint, _unsigned64(other) or 0):
                return int(story)
        return None

    def also_seen_at(self, story_id: int, article_id: int) -> list[str]:
        """URLs of the story's other articles, oldest first."""
        with self._begin() as conn:
            q = (select(t.articles.c.url).where(t.articles.c.story_id == story_id,
                                                t.articles.c.id != article_id)
                 .order_by(t.articles.c.id))
            return list(conn.execute(q).scalars())

    def iter_articles(self, since: datetime | None = None, limit: int | None = None
                      ) -> Iterator[dict[str, Any]]:
        """Stored articles, newest first (for backtests and the dashboard)."""
        q = select(t.articles).order_by(t.articles.c.id.desc())
        if since is not None:
            q = q.where(t.articles.c.created_at >= since)
        if limit is not None:
            q = q.limit(limit)
        with self._begin() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
        yield from rows

    # -- outbox --------------------------------------------------------------------------

    def claim_due_alerts(self, node: str, now: datetime, limit: int,
                         lease: float) -> list[AlertRow]:
        """Claim up to ``limit`` pending alerts that are due on enabled channels."""
        c = t.alerts.c
        disabled = select(t.channel_state.c.name).where(t.channel_state.c.disabled.is_(True))
        due = select(c.id).where(
            c.status == "pending", c.next_attempt_at <= now,
            or_(c.lease_until.is_(None), c.lease_until < now),
            c.channel.not_in(disabled.scalar_subquery()),
        ).order_by(c.next_attempt_at).limit(limit)
        if self.postgres:
            due = due.with_for_update(skip_locked=True)
        stmt = (update(t.alerts).where(c.id.in_(due.scalar_subquery()))
                .values(claimed_by=node, lease_until=now + timedelta(seconds=lease))
                .returning(*t.alerts.c))
        with self._begin() as conn:
            rows = sorted((_alert_row(r) for r in conn.execute(stmt)),
                          key=lambda r: (r.created_at or now, r.id))
            # An attempt still "sending" belongs to a node that stopped before it knew the
            # outcome (its lease ran out): say so, the alert is sent again now.
            d = t.deliveries.c
            for chunk in _chunks([r.id for r in rows if r.attempts], 500):
                conn.execute(update(t.deliveries).where(
                    d.alert_id.in_(chunk), d.outcome == "sending").values(
                    outcome="interrupted", finished_at=now,
                    detail="the node stopped before the outcome was known"))
            return rows

    @functools.cached_property
    def _delivery_sql(self) -> dict[str, Any]:
        """The statements of every delivery attempt, built once (see ``_article_sql``)."""
        a, d = t.alerts.c, t.deliveries.c
        return {
            "count_attempt": update(t.alerts).where(a.id == bindparam("id_"))
                             .values(attempts=a.attempts + 1).returning(a.attempts),
            "insert_delivery": t.deliveries.insert().returning(d.id),
            "finish_delivery": update(t.deliveries).where(d.id == bindparam("id_")),
            "update_alert": update(t.alerts).where(a.id == bindparam("id_")),
        }

    def start_delivery(self, alert_id: str, node: str, now: datetime) -> int:
        """Write the attempt before sending; return its id."""
        sql = self._delivery_sql
        with self._begin() as conn:
            attempts = conn.execute(sql["count_attempt"], {"id_": alert_id}).scalar_one()
            return int(conn.execute(sql["insert_delivery"], {
                "alert_id": alert_id, "attempt": attempts, "node": node, "started_at": now,
                "outcome": "sending"}).scalar_one())

    def finish_delivery(self, delivery_id: int, alert_id: str, outcome: str, now: datetime,
                        detail: str | None = None, retry_at: datetime | None = None) -> None:
        """Record the outcome (sent | retry | failed) of an attempt; release the claim."""
        status = {"sent": "sent", "retry": "pending", "failed": "failed"}[outcome]
        values: dict[str, Any] = {"id_": alert_id, "status": status, "claimed_by": None,
                                  "lease_until": None,
                                  "last_error": detail if outcome != "sent" else None}
        if outcome == "sent":
            values["sent_at"] = now
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        sql = self._delivery_sql
        with self._begin() as conn:
            conn.execute(sql["finish_delivery"], {"id_": delivery_id, "outcome": outcome,
                                                  "finished_at": now, "detail": detail})
            conn.execute(sql["update_alert"], values)

    def list_alerts(self, status: str | Sequence[str] | None = None, limit: int | None = 50,
                    channel: str | None = None, ids: Sequence[str] | None = None
                    ) -> list[AlertRow]:
        """Recent alerts, newest first, optionally of some statuses, one channel or some ids."""
        c = t.alerts.c
        q = select(t.alerts).order_by(c.created_at.desc(), c.id).limit(limit)
        if status:
            q = q.where(c.status.in_([status] if isinstance(status, str) else status))
        if channel is not None:
            q = q.where(c.channel == channel)
        if ids is not None:
            q = q.where(c.id.in_(ids))
        with self._begin() as conn:
            return [_alert_row(r) for r in conn.execute(q)]

    def retry_alert(self, alert_id: str, now: datetime) -> bool:
        """Put a failed (or pending) alert back in the queue now; False if unknown."""
        with self._begin() as conn:
            result = conn.execute(update(t.alerts).where(
                t.alerts.c.id == alert_id, t.alerts.c.status != "sent").values(
                status="pending", next_attempt_at=now, claimed_by=None, lease_until=None))
            return bool(result.rowcount)

    def disable_channel(self, name: str, reason: str, now: datetime,
                        config_hash: str | None = None) -> None:
        """Stop delivering on a channel whose receiver is gone (HTTP 410), remembering the
        hash of the settings it failed under (a change of them re-enables it)."""
        values = {"disabled": True, "reason": reason, "changed_at": now,
                  "config_hash": config_hash}
        with self._begin() as conn:
            stmt = self._insert(t.channel_state).values(name=name, **values)
            conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=values))

    def enable_channel(self, name: str, now: datetime) -> bool:
        """Deliver on ``name`` again; False if it was not disabled."""
        cs = t.channel_state.c
        with self._begin() as conn:
            result = conn.execute(update(t.channel_state).where(
                cs.name == name, cs.disabled.is_(True)).values(
                disabled=False, reason=None, changed_at=now, config_hash=None))
            return bool(result.rowcount)

    def enable_changed_channels(self, hashes: Mapping[str, str], now: datetime) -> list[str]:
        """Re-enable each disabled channel whose settings hash is no longer the one it was
        disabled under; return their names. One disabled without a hash stays disabled."""
        changed = [s.name for s in self.channel_states().values()
                   if s.disabled and s.config_hash is not None and s.name in hashes
                   and hashes[s.name] != s.config_hash]
        cs = t.channel_state.c
        with self._begin() as conn:
            for name in changed:
                conn.execute(update(t.channel_state).where(
                    cs.name == name, cs.config_hash != hashes[name]).values(
                    disabled=False, reason=None, changed_at=now, config_hash=None))
        return changed

    def channel_states(self) -> dict[str, ChannelState]:
        """Every channel with a recorded state (enabled again, or disabled), by name."""
        with self._begin() as conn:
            return {r.name: ChannelState(r.name, bool(r.disabled), r.reason or "",
                                         as_utc(r.changed_at) if r.changed_at else None,
                                         r.config_hash)
                    for r in conn.execute(select(t.channel_state))}

    def disabled_channels(self) -> dict[str, str]:
        """Disabled channels with the reason."""
        return {n: s.reason for n, s in self.channel_states().items() if s.disabled}

    def count_alerts(self) -> dict[str, int]:
        """Number of alerts by status."""
        with self._begin() as conn:
            rows = conn.execute(select(t.alerts.c.status, func.count())
                                .group_by(t.alerts.c.status))
            return {status: int(n) for status, n in rows}

    def count_alerts_by_channel(self) -> dict[str, dict[str, int]]:
        """Number of alerts by channel, then by status."""
        c = t.alerts.c
        out: dict[str, dict[str, int]] = {}
        with self._begin() as conn:
            for channel, status, n in conn.execute(
                    select(c.channel, c.status, func.count()).group_by(c.channel, c.status)):
                out.setdefault(channel, {})[status] = int(n)
        return out

    # -- nodes ---------------------------------------------------------------------------

    def heartbeat(self, node: str, now: datetime) -> None:
        """Say this node is alive."""
        with self._begin() as conn:
            stmt = self._insert(t.nodes).values(id=node, started_at=now, heartbeat_at=now)
            conn.execute(stmt.on_conflict_do_update(index_elements=["id"],
                                                    set_={"heartbeat_at": now}))

    def renew_leases(self, node: str, now: datetime, lease: float,
                     feed_ids: Sequence[int] = (), alert_ids: Sequence[str] = ()
                     ) -> tuple[int, int]:
        """Extend this node's leases on the feeds and alerts it is still working on, so a
        poll or a delivery that outlasts ``lease`` is not taken over while it runs. A lease
        that has run out is not renewed: another node may hold the row by now. Returns how
        many feed and alert leases were renewed."""
        if not feed_ids and not alert_ids:
            return 0, 0
        until = now + timedelta(seconds=lease)
        with self._begin() as conn:
            def renew(table: Any, ids: Sequence[Any]) -> int:
                return sum(conn.execute(update(table).where(
                    table.c.id.in_(chunk), table.c.claimed_by == node,
                    table.c.lease_until >= now).values(lease_until=until)).rowcount
                    for chunk in _chunks(ids, 500))

            return renew(t.feeds, feed_ids), renew(t.alerts, alert_ids)

    def forget_node(self, node: str) -> None:
        """A node stopping cleanly leaves the list of live nodes at once."""
        with self._begin() as conn:
            conn.execute(delete(t.nodes).where(t.nodes.c.id == node))

    def nodes(self, now: datetime, alive_within: float) -> list[dict[str, Any]]:
        """Nodes seen within ``alive_within`` seconds, with the feeds and alerts they hold."""
        cutoff = now - timedelta(seconds=alive_within)
        with self._begin() as conn:
            rows = conn.execute(select(t.nodes).where(t.nodes.c.heartbeat_at >= cutoff))
            out = []
            for r in rows:
                feeds = conn.execute(select(func.count()).where(and_(
                    t.feeds.c.claimed_by == r.id, t.feeds.c.lease_until >= now))).scalar()
                alerts = conn.execute(select(func.count()).where(and_(
                    t.alerts.c.claimed_by == r.id, t.alerts.c.lease_until >= now))).scalar()
                out.append({"id": r.id, "started_at": as_utc(r.started_at),
                            "heartbeat_at": as_utc(r.heartbeat_at),
                            "feeds_claimed": int(feeds or 0), "alerts_claimed": int(alerts or 0)})
            return out

    # -- dashboard -----------------------------------------------------------------------

    def match_counts(self, since: datetime) -> dict[str, dict[str, int]]:
        """Matches per rule per UTC day (``YYYY-MM-DD``) since ``since``."""
        c = t.matches.c
        day = (func.to_char(func.timezone("UTC", c.created_at), "YYYY-MM-DD") if self.postgres
               else func.strftime("%Y-%m-%d", c.created_at))
        q = select(c.rule, day, func.count()).where(c.created_at >= since).group_by(c.rule, day)
        out: dict[str, dict[str, int]] = {}
        with self._begin() as conn:
            for rule, when, n in conn.execute(q):
                out.setdefault(rule, {})[str(when)] = int(n)
        return out

    def match_totals(self) -> dict[str, int]:
        """Matches per rule, all time."""
        c = t.matches.c
        with self._begin() as conn:
            rows = conn.execute(select(c.rule, func.count()).group_by(c.rule))
            return {rule: int(n) for rule, n in rows}

    def oldest_due_alert(self, now: datetime) -> datetime | None:
        """When the longest-waiting pending alert became due (its digest time, else creation)."""
        c = t.alerts.c
        due = func.coalesce(c.digest_at, c.created_at)
        with self._begin() as conn:
            found = conn.execute(select(func.min(due)).where(c.status == "pending",
                                                             due <= now)).scalar()
        return as_utc(found) if found is not None else None


class _Transaction:
    """``with store._begin() as conn``: one transaction, errors become StorageError."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> Connection:
        try:
            self.ctx = self.engine.begin()
            return self.ctx.__enter__()
        except SQLAlchemyError as e:
            raise StorageError(f"database unavailable: {_short(e)}") from e

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> Literal[False]:
        try:
            self.ctx.__exit__(kind, exc, tb)
        except SQLAlchemyError as e:
            raise StorageError(f"database error: {_short(e)}") from e
        if isinstance(exc, SQLAlchemyError):
            raise StorageError(f"database error: {_short(exc)}") from exc
        return False


def _short(e: BaseException) -> str:
    return str(e).splitlines()[0][:300]


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000",
                   "foreign_keys=ON"):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def _stories_alerted_since(conn: Connection, rule: str, since: datetime) -> int:
    """How many stories ``rule`` alerted on (any channel) since ``since``."""
    c = t.alerts.c
    q = select(func.count(func.distinct(c.story_id))).where(c.rule == rule,
                                                            c.created_at >= since)
    return int(conn.execute(q).scalar() or 0)


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield list(items[i:i + size])


def _feed_state(r: Any) -> FeedState:
    m = r._mapping
    dt = {k: as_utc(m[k]) if m[k] else None
          for k in ("last_polled_at", "next_poll_at", "failing_since")}
    return FeedState(id=m["id"], name=m["name"], url=m["url"], interval=m["interval"],
                     etag=m["etag"], last_modified=m["last_modified"],
                     content_hash=m["content_hash"], state=m["state"],
                     error_count=m["error_count"], first_poll_done=bool(m["first_poll_done"]),
                     last_error=m["last_error"], items_seen=m["items_seen"],
                     warning=m["warning"], claimed_by=m["claimed_by"],
                     publisher_ask=m["publisher_ask"], **dt)


def _alert_row(r: Any) -> AlertRow:
    m = r._mapping
    return AlertRow(id=m["id"], rule=m["rule"], channel=m["channel"], story_id=m["story_id"],
                    article_id=m["article_id"], feed=m["feed"], payload=m["payload"],
                    attempts=m["attempts"], status=m["status"], last_error=m["last_error"],
                    created_at=as_utc(m["created_at"]) if m["created_at"] else None,
                    digest_at=as_utc(m["digest_at"]) if m["digest_at"] else None,
                    sent_at=as_utc(m["sent_at"]) if m["sent_at"] else None,
                    next_attempt_at=as_utc(m["next_attempt_at"]))
