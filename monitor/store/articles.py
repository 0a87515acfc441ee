"""The articles area: entries seen, articles with their stories and matches, the hits
(one per rule and story) and the alerts a match creates, all written in one transaction
per article (or per group commit).

Stories: an article joins the story of a stored article with the same canonical URL, or
of a recent matched article whose text fingerprint is near enough (``same_story``); a
match adds the story to its rule's hit, and the outbox key (hit, channel) then makes every
story alert once per rule and channel. A rule that muted the story (a ``muted`` hit) or
the article's outlet (``rule_mutes``) stores its match and hit but makes no alert
(``monitor.store.triage``).
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection

from monitor.dedup import content_key, entry_version, key_hash
from monitor.models import Entry
from monitor.store import schema as t
from monitor.store.base import STORY_LOCK, chunks
from monitor.store.codec import alert_payload, stored_article, terms_to_json, utc_or_none
from monitor.store.fulltext import FullTextMixin
from monitor.store.records import (
    ArticleWrite,
    NewArticle,
    RuleChannels,
    SameStory,
    StoredArticle,
)
from monitor.store.rules import RulesMixin
from monitor.store.triage import muted_rules

log = logging.getLogger(__name__)

STORY_WINDOW = timedelta(days=7)
PAGE = 200
"""Articles read per transaction by ``iter_articles``."""


class ArticlesMixin(RulesMixin, FullTextMixin):
    """Entries, articles, stories, matches, hits, and the alerts written with them."""

    def known_versions(self, feed_id: int, keys: Sequence[str]) -> dict[str, str | None]:
        """Entry key -> stored version, for the keys of ``feed_id`` seen before."""
        hashes = {key_hash(k): k for k in keys}
        found: dict[str, str | None] = {}
        e = t.entries.c
        with self._begin() as conn:
            for chunk in chunks(list(hashes)):
                q = select(e.key_hash, e.version).where(e.feed_id == feed_id,
                                                        e.key_hash.in_(chunk))
                found.update((hashes[h], v) for h, v in conn.execute(q))
        return found

    def record_entries(self, feed_id: int, entries: Sequence[Entry], now: datetime) -> None:
        """Remember entries without fetching or alerting (the first poll of a feed)."""
        if not entries:
            return
        with self._begin() as conn:
            conn.execute(self._insert(t.entries).on_conflict_do_nothing(),
                         entry_rows(feed_id, entries, now))

    def store_articles(self, batch: Sequence[ArticleWrite],
                       same_story: SameStory | None = None) -> list[list[str]]:
        """Store each write's entry, article, matches, hits and their alerts, all in ONE
        transaction (one commit, one fsync): all are stored, or none. Returns each one's
        alert ids, in order; a hit is one (rule, story) and (hit, channel) is unique, so a
        story seen before (same URL, or a near-identical text) adds no second alert.

        Each write's router is asked inside the transaction, after the writes before it,
        so a rate limit counts every alert stored before, this batch's included; on
        PostgreSQL the story lock makes that exact across nodes too."""
        learned: dict[str, int] = {}
        with self._begin() as conn:
            self._lock(conn, STORY_LOCK)
            created = [self._store_one(conn, write, same_story, learned) for write in batch]
        self._rule_ids.update(learned)
        return created

    def also_seen_at(self, story_id: int, article_id: int) -> list[str]:
        """URLs of the story's other articles, oldest first."""
        with self._begin() as conn:
            q = (select(t.articles.c.url).where(t.articles.c.story_id == story_id,
                                                t.articles.c.id != article_id)
                 .order_by(t.articles.c.id))
            return list(conn.execute(q).scalars())

    def iter_articles(self, limit: int | None = None) -> Iterator[StoredArticle]:
        """Stored articles, newest first (backtests, the search box), read lazily: a page
        of ``PAGE`` per transaction, so a long scan holds neither a transaction nor every
        article's text at once."""
        a = t.articles.c
        left, before = limit, None
        while left is None or left > 0:
            size = PAGE if left is None else min(PAGE, left)
            q = select(t.articles).order_by(a.id.desc()).limit(size)
            if before is not None:
                q = q.where(a.id < before)
            with self._begin() as conn:
                page = [stored_article(r._mapping) for r in conn.execute(q)]
            yield from page
            if len(page) < size:
                return
            before = page[-1].id
            left = None if left is None else left - size

    # -- one article, inside the batch's transaction ---------------------------------------

    @functools.cached_property
    def _article_sql(self) -> dict[str, Any]:
        """The statements ``store_articles`` runs, built once: values come as parameters,
        so SQLAlchemy finds each compiled form in its cache without rebuilding clauses."""
        a, e = t.articles.c, t.entries
        entry, hit = self._insert(e), self._insert(t.hits)
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
                      "article_id": entry.excluded.article_id,
                      "content_key": entry.excluded.content_key,
                      "last_seen": entry.excluded.last_seen}),
            "insert_match": self._insert(t.matches).on_conflict_do_nothing(),
            "upsert_hit": hit.on_conflict_do_update(
                index_elements=["rule_id", "story_id"],
                set_={"last_seen": hit.excluded.last_seen}).returning(t.hits.c.id,
                                                                      t.hits.c.state),
            "insert_alert": self._insert(t.alerts).on_conflict_do_nothing()
                                .returning(t.alerts.c.id),
        }

    def _store_one(self, conn: Connection, write: ArticleWrite, same_story: SameStory | None,
                   learned: dict[str, int]) -> list[str]:
        sql, new, now = self._article_sql, write.new, write.now
        rule_ids = {m.rule: self._rule_id(conn, m, now, learned) for m in new.matches}
        rule_channels: RuleChannels = write.route(
            new.matches, functools.partial(_stories_alerted_since, conn, rule_ids))
        article_id, story_id = self._save_article(conn, new, now, same_story)
        conn.execute(sql["upsert_entry"], {
            "feed_id": write.feed_id, "key_hash": key_hash(new.entry.key),
            "key": new.entry.key, "url": new.entry.url, "title": new.entry.title[:1000],
            "seen_at": now, "article_id": article_id, "version": entry_version(new.entry),
            "published": utc_or_none(new.entry.published),
            "content_key": content_key(new.entry), "last_seen": now})
        created: list[str] = []
        alerting = {rule_ids[r] for r, targets in rule_channels.items() if targets}
        muted = (muted_rules(conn, alerting, new.article.source, new.article.url)
                 if alerting else set())
        for match in new.matches:
            rule_id = rule_ids[match.rule]
            conn.execute(sql["insert_match"], [{
                "rule_id": rule_id, "article_id": article_id, "story_id": story_id,
                "terms": terms_to_json(match.terms), "created_at": now}])
            hit_id, state = conn.execute(sql["upsert_hit"], {
                "rule_id": rule_id, "story_id": story_id, "article_id": article_id,
                "first_seen": now, "last_seen": now, "state": "new", "note": ""}).one()
            if rule_channels.get(match.rule) and (state == "muted" or rule_id in muted):
                log.info("event=muted rule=%r hit_id=%d by=%s url=%s", match.rule, hit_id,
                         "story" if state == "muted" else "source", new.article.url)
                continue
            payload = alert_payload(match.query, new.article, match.terms, match.rule)
            for channel, digest_at in rule_channels.get(match.rule, ()):
                alert_id = str(uuid.uuid4())
                inserted = conn.execute(sql["insert_alert"], {
                    "id": alert_id, "hit_id": hit_id,
                    "article_id": article_id, "feed": write.feed_name, "channel": channel,
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
                "published": utc_or_none(art.published),
                "fingerprint": _signed64(new.fingerprint)})
            self._write_terms(conn, int(row.id), None)  # its URL, source may differ from new's
            return int(row.id), int(row.story_id)
        story_id = (self._find_story(conn, new.fingerprint, now, same_story)
                    if new.matches else None)
        article_id = conn.execute(sql["insert_article"], {
            "url": art.url, "url_hash": new.url_hash, "title": art.title, "author": art.author,
            "published": utc_or_none(art.published), "language": art.language,
            "source": art.source,
            "text": art.text, "from_feed": art.from_feed, "partial": art.partial,
            "fingerprint": _signed64(new.fingerprint), "story_id": story_id,
            "created_at": now}).scalar_one()
        self._write_terms(conn, int(article_id), new.terms)
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
                              {"since_": now - STORY_WINDOW})
        for other, story in recent:
            if same_story(fingerprint, _unsigned64(other) or 0):
                return int(story)
        return None


def _stories_alerted_since(conn: Connection, rule_ids: Mapping[str, int], rule: str,
                           since: datetime) -> int:
    """How many stories ``rule`` (a matched rule's name) alerted on, on any channel, since
    ``since``: its hits with an alert made since then."""
    c, h = t.alerts.c, t.hits.c
    q = (select(func.count(func.distinct(c.hit_id))).join_from(t.alerts, t.hits,
                                                               h.id == c.hit_id)
         .where(h.rule_id == rule_ids.get(rule, 0), c.created_at >= since))
    return int(conn.execute(q).scalar() or 0)


def _signed64(value: int | None) -> int | None:
    return None if value is None else (value - (1 << 64) if value >= 1 << 63 else value)


def _unsigned64(value: int | None) -> int | None:
    return None if value is None else value & ((1 << 64) - 1)


def entry_rows(feed_id: int, entries: Sequence[Entry], now: datetime) -> list[dict[str, Any]]:
    """The ``entries`` rows of items seen (not fetched) at ``now``."""
    return [{"feed_id": feed_id, "key_hash": key_hash(e.key), "key": e.key, "url": e.url,
             "title": e.title[:1000], "seen_at": now, "version": entry_version(e),
             "published": utc_or_none(e.published), "content_key": content_key(e),
             "last_seen": now}
            for e in entries]
