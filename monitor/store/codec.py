"""Turn Articles and matched terms into JSON for the database, and rows back into typed
rows. Pure. The only place that reads a stored row's columns or a payload's keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from monitor.models import Article, Explanation, Notice, Snippet, Span, TermHit
from monitor.store.records import (
    AlertRow,
    FeedState,
    HitRow,
    NoticeRow,
    RuleRow,
    StoredArticle,
)

RowMap = Mapping[Any, Any]
"""A database row's mapping (``row._mapping``): column name -> value."""


def dt_to_str(value: datetime | None) -> str | None:
    """ISO-8601 in UTC, or None."""
    return None if value is None else as_utc(value).isoformat()


def dt_from_str(value: str | None) -> datetime | None:
    """The inverse of ``dt_to_str``."""
    return None if not value else as_utc(datetime.fromisoformat(value))


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime (naive values from SQLite are UTC already)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def article_to_json(article: Article) -> dict[str, Any]:
    """An Article as a JSON-able dict."""
    return {"url": article.url, "title": article.title, "text": article.text,
            "author": article.author, "published": dt_to_str(article.published),
            "language": article.language, "source": article.source,
            "from_feed": article.from_feed, "partial": article.partial}


def article_from_json(data: dict[str, Any]) -> Article:
    """The inverse of ``article_to_json``."""
    return Article(url=data["url"], title=data["title"], text=data.get("text", ""),
                   author=data.get("author", ""), published=dt_from_str(data.get("published")),
                   language=data.get("language"), source=data.get("source", ""),
                   from_feed=bool(data.get("from_feed", False)),
                   partial=bool(data.get("partial", False)))


def terms_to_json(terms: tuple[TermHit, ...]) -> list[dict[str, Any]]:
    """Matched terms as JSON-able dicts (spans and snippets with their marks, and each
    span's explanation as ``[text, form, kind]`` when there are some)."""
    return [_term_to_json(t) for t in terms]


def _term_to_json(t: TermHit) -> dict[str, Any]:
    found: dict[str, Any] = {
        "term": t.term, "count": t.count, "spans": [[s.field, s.start, s.end] for s in t.spans],
        "snippets": [{"text": s.text, "marks": [list(m) for m in s.marks]} for s in t.snippets]}
    if t.explained:
        found["explained"] = [[e.text, e.form, e.kind] for e in t.explained]
    return found


def terms_from_json(data: list[dict[str, Any]]) -> tuple[TermHit, ...]:
    """The inverse of ``terms_to_json``."""
    return tuple(
        TermHit(term=t["term"], count=t["count"],
                spans=tuple(Span(f, a, b) for f, a, b in t.get("spans", [])),
                snippets=tuple(Snippet(s["text"], tuple((a, b) for a, b in s.get("marks", [])))
                               for s in t.get("snippets", [])),
                explained=tuple(Explanation(*e) for e in t.get("explained", [])))
        for t in data)


def alert_payload(query: str, article: Article, terms: tuple[TermHit, ...],
                  rule: str) -> dict[str, Any]:
    """What an outbox row stores of its match (``alerts.payload``)."""
    return {"rule": rule, "query": query, "article": article_to_json(article),
            "terms": terms_to_json(terms)}


# -- rows ---------------------------------------------------------------------------------


def article_from_row(m: RowMap) -> Article:
    """The Article of an ``articles`` row, its date aware UTC."""
    return Article(url=m["url"], title=m["title"], text=m["text"], author=m["author"] or "",
                   published=utc_or_none(m["published"]), language=m["language"],
                   source=m["source"] or "", from_feed=bool(m["from_feed"]),
                   partial=bool(m.get("partial", False)))


def stored_article(m: RowMap) -> StoredArticle:
    """An ``articles`` row as a StoredArticle."""
    return StoredArticle(id=m["id"], story_id=m["story_id"] or m["id"],
                         article=article_from_row(m), stored_at=as_utc(m["created_at"]))


def alert_row(m: RowMap) -> AlertRow:
    """An ``alerts`` row as an AlertRow, its payload decoded."""
    payload = m["payload"]
    return AlertRow(id=m["id"], rule=m["rule"], channel=m["channel"], story_id=m["story_id"],
                    article_id=m["article_id"], feed=m["feed"],
                    article=article_from_json(payload["article"]),
                    terms=terms_from_json(payload.get("terms", [])),
                    query=payload.get("query", ""),
                    attempts=m["attempts"], status=m["status"], last_error=m["last_error"],
                    created_at=utc_or_none(m["created_at"]),
                    digest_at=utc_or_none(m["digest_at"]),
                    sent_at=utc_or_none(m["sent_at"]),
                    next_attempt_at=utc_or_none(m["next_attempt_at"]), hit_id=m["hit_id"])


def rule_row(m: RowMap) -> RuleRow:
    """A ``rules`` row as a RuleRow."""
    return RuleRow(id=m["id"], name=m["name"], query=m["query"],
                   case_sensitive=bool(m["case_sensitive"]), origin=m["origin"],
                   enabled=bool(m["enabled"]), created_at=utc_or_none(m["created_at"]),
                   updated_at=utc_or_none(m["updated_at"]))


def hit_row(m: RowMap, alerts: tuple[AlertRow, ...]) -> HitRow:
    """A ``hits`` row joined with its rule's name, its article and its match (``terms``)."""
    return HitRow(id=m["id"], rule_id=m["rule_id"], rule=m["rule"], story_id=m["story_id"],
                  article_id=m["article_id"], article=article_from_row(m),
                  first_seen=as_utc(m["first_seen"]), last_seen=as_utc(m["last_seen"]),
                  terms=terms_from_json(m["terms"] or []), state=m["state"],
                  note=m["note"] or "", alerts=alerts)


def notice_to_row(notice: Notice) -> dict[str, Any]:
    """The columns of a new ``notices`` row for ``notice``: pending, due at once."""
    return {"id": notice.id, "kind": notice.kind, "feed": notice.feed, "url": notice.url,
            "message": notice.message, "channel": notice.channel, "rule": notice.rule,
            "status": "pending",
            "attempts": 0, "next_attempt_at": notice.created_at,
            "created_at": notice.created_at}


def notice_row(m: RowMap) -> NoticeRow:
    """A ``notices`` row as a NoticeRow."""
    notice = Notice(id=m["id"], created_at=as_utc(m["created_at"]), kind=m["kind"],
                    feed=m["feed"], message=m["message"], url=m["url"] or "",
                    channel=m["channel"], rule=m["rule"] or "")
    return NoticeRow(notice, attempts=m["attempts"], status=m["status"],
                     last_error=m["last_error"], sent_at=utc_or_none(m["sent_at"]),
                     next_attempt_at=utc_or_none(m["next_attempt_at"]))


def feed_state(m: RowMap) -> FeedState:
    """A ``feeds`` row as a FeedState."""
    dt = {k: utc_or_none(m[k]) for k in ("last_polled_at", "next_poll_at", "failing_since")}
    return FeedState(id=m["id"], name=m["name"], url=m["url"], interval=m["interval"],
                     etag=m["etag"], last_modified=m["last_modified"],
                     content_hash=m["content_hash"], state=m["state"],
                     error_count=m["error_count"], first_poll_done=bool(m["first_poll_done"]),
                     last_error=m["last_error"], items_seen=m["items_seen"],
                     warning=m["warning"], claimed_by=m["claimed_by"],
                     publisher_ask=m["publisher_ask"], **dt)


def utc_or_none(value: datetime | None) -> datetime | None:
    """``as_utc``, passing None through. Dates are written in UTC too: SQLite keeps no
    offset, so 14:00+02:00 written as is would read back as 14:00 UTC."""
    return as_utc(value) if value else None
