"""The stories area: one item per story some rule hit, for the workspace's main view.

A story's hits (one per rule) are grouped by ``story_id``; a page is ordered by the
story's latest hit (its newest ``first_seen``), newest first, then by story id, and is
read in a fixed number of queries whatever its size: the page of story ids (filters
and the cursor applied; a text filter asks the full-text index, ``monitor.store.fulltext``,
inside it), their hits with their rules' names, their articles (each
copy once, with the name of one feed that listed it), and the matches' terms the
best snippet is chosen from (``StoryPage`` hands the terms over; the web layer picks).

A story's *outlet* is an article's ``source`` (the name its feed gives the item's
origin), or the host of its URL when the source is empty: ``outlet_of``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql import Select

from monitor.models import TermHit
from monitor.store import schema as t
from monitor.store.base import StoreBase
from monitor.store.codec import as_utc, terms_from_json
from monitor.store.fulltext import all_of

COPIES_MAX = 50
"""Copies listed per story (``outlets`` counts them all)."""


def outlet_of(source: str, url: str) -> str:
    """Who published an article: its ``source``, else its URL's host (lower case)."""
    if source.strip():
        return source.strip()
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


@dataclass(frozen=True, slots=True)
class StoryFilter:
    """What ``Store.stories`` keeps: every field None (or empty) keeps everything."""

    rule_id: int | None = None
    feeds: tuple[str, ...] | None = None  # names: a story with an article one listed
    state: str | None = None  # a story with a hit in this triage state
    since: datetime | None = None  # the story's latest hit first seen at or after
    until: datetime | None = None  # ... before
    after: datetime | None = None  # ... strictly after (polling for new stories)
    text: str | None = None  # a substring of a title or text, any case (see ``words``)
    # each word of a text filter as the full-text index is asked for it (a prefilter:
    # alternatives, each a conjunction of encoded terms): a story with an indexed article
    # having every word; given, ``text`` is not looked at
    words: tuple[tuple[tuple[str, ...], ...], ...] | None = None
    before: tuple[datetime, int] | None = None  # the cursor: (latest, story id) of the last


@dataclass(frozen=True, slots=True)
class StoryHit:
    """One rule's hit on a story, with its triage."""

    id: int
    rule_id: int
    rule: str
    state: str
    note: str
    article_id: int
    first_seen: datetime
    last_seen: datetime
    story_id: int = 0


@dataclass(frozen=True, slots=True)
class StoryCopy:
    """One article of a story (no text)."""

    id: int
    url: str
    source: str
    title: str
    feed: str
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class Story:
    """A story: its first article, its hits, its other copies, the terms that fired."""

    id: int
    latest: datetime  # its newest hit's first_seen: the order of the page
    first_seen: datetime
    last_seen: datetime
    lead: StoryCopy
    hits: tuple[StoryHit, ...]
    copies: tuple[StoryCopy, ...]  # the others, oldest first, at most COPIES_MAX
    outlets: int
    terms: tuple[TermHit, ...] = field(default=())  # of every match of its hits' rules


class StoriesMixin(StoreBase):
    """Stories: pages of them, filtered."""

    def stories(self, where: StoryFilter, limit: int) -> tuple[list[Story], bool]:
        """A page of stories (newest first) and whether more follow it."""
        page = self._story_page(where, limit + 1)
        more = len(page) > limit
        page = page[:limit]
        if not page:
            return [], False
        ids = [story_id for story_id, _ in page]
        h, r, a, e, f, m = (t.hits.c, t.rules.c, t.articles.c, t.entries.c, t.feeds.c,
                            t.matches.c)
        with self._begin() as conn:
            hits = conn.execute(
                select(h.id, h.rule_id, r.name, h.state, h.note, h.article_id, h.story_id,
                       h.first_seen, h.last_seen)
                .join_from(t.hits, t.rules, r.id == h.rule_id)
                .where(h.story_id.in_(ids)).order_by(h.first_seen, h.id)).all()
            feed = (select(func.min(f.name)).join_from(t.entries, t.feeds, f.id == e.feed_id)
                    .where(e.article_id == a.id).scalar_subquery())
            articles = conn.execute(
                select(a.id, a.story_id, a.url, a.source, a.title, a.created_at,
                       feed.label("feed"))
                .where(a.story_id.in_(ids)).order_by(a.id)).all()
            matches = conn.execute(  # by article: matches are indexed by it
                select(m.story_id, m.terms).where(m.article_id.in_([r.id for r in articles]))
                .order_by(m.id)).all()
        return [_story(sid, latest, hits, articles, matches) for sid, latest in page], more

    def _story_page(self, where: StoryFilter, limit: int) -> list[tuple[int, datetime]]:
        h, utc = t.hits.c, _utc
        latest = func.max(h.first_seen)
        q: Select[Any] = (select(h.story_id, latest.label("latest")).group_by(h.story_id)
                          .order_by(latest.desc(), h.story_id.desc()).limit(limit))
        for story_ids in _story_sets(where, self.postgres):
            q = q.where(h.story_id.in_(story_ids))
        # a story's latest hit is at or after ``since`` when any of its hits is: ask the
        # first_seen index for those stories (polling with ``after`` reads a few rows)
        if where.since is not None:
            q = q.where(h.story_id.in_(select(t.hits.c.story_id).where(
                t.hits.c.first_seen >= utc(where.since))))
        if where.until is not None:
            q = q.having(latest < utc(where.until))
        if where.after is not None:
            q = q.where(h.story_id.in_(select(t.hits.c.story_id).where(
                t.hits.c.first_seen > utc(where.after))))
        if where.before is not None:
            at, story_id = utc(where.before[0]), where.before[1]
            q = q.having(or_(latest < at, and_(latest == at, h.story_id < story_id)))
        with self._begin() as conn:
            return [(int(row.story_id), as_utc(_datetime(row.latest)))
                    for row in conn.execute(q)]


def _story_sets(where: StoryFilter, postgres: bool) -> list[Select[Any]]:
    """Subqueries of story ids, one per filter given: a story must be in each."""
    h, a, e, f = t.hits.c, t.articles.c, t.entries.c, t.feeds.c
    out: list[Select[Any]] = []
    if where.rule_id is not None:
        out.append(select(h.story_id).where(h.rule_id == where.rule_id))
    if where.state:
        out.append(select(h.story_id).where(h.state == where.state))
    if where.feeds is not None:
        out.append(select(a.story_id).join_from(t.articles, t.entries, e.article_id == a.id)
                   .join(t.feeds, f.id == e.feed_id).where(f.name.in_(where.feeds)))
    if where.words:
        out.append(select(a.story_id).where(a.story_id.is_not(None),
                                            a.id.in_(all_of(where.words, postgres))))
    elif where.text:
        like = f"%{_escape_like(where.text.lower())}%"
        out.append(select(a.story_id).where(a.story_id.is_not(None), or_(
            func.lower(a.title).like(like, escape="\\"),
            func.lower(a.text).like(like, escape="\\"))))
    return out


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _datetime(value: Any) -> datetime:
    """SQLite hands an aggregate's datetime back as text when the type is lost."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _story(story_id: int, latest: datetime, hits: Sequence[Any], articles: Sequence[Any],
           matches: Sequence[Any]) -> Story:
    mine = [StoryHit(row.id, row.rule_id, row.name, row.state, row.note or "",
                     row.article_id, as_utc(row.first_seen), as_utc(row.last_seen), story_id)
            for row in hits if row.story_id == story_id]
    copies = [StoryCopy(row.id, row.url, row.source or "", row.title or "", row.feed or "",
                        as_utc(row.created_at))
              for row in articles if row.story_id == story_id]
    lead = next((c for c in copies if c.id == story_id), None) or (
        copies[0] if copies else StoryCopy(story_id, "", "", "", "", latest))
    terms = tuple(term for row in matches if row.story_id == story_id
                  for term in terms_from_json(row.terms or []))
    return Story(id=story_id, latest=latest,
                 first_seen=min(hit.first_seen for hit in mine),
                 last_seen=max(hit.last_seen for hit in mine), lead=lead, hits=tuple(mine),
                 copies=tuple(c for c in copies if c.id != lead.id)[:COPIES_MAX],
                 outlets=len({outlet_of(c.source, c.url) for c in copies}), terms=terms)
