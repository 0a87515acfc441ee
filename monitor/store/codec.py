"""Turn Articles and matched terms into JSON for the database, and back. Pure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from monitor.models import Article, Snippet, Span, TermHit


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
            "from_feed": article.from_feed}


def article_from_json(data: dict[str, Any]) -> Article:
    """The inverse of ``article_to_json``."""
    return Article(url=data["url"], title=data["title"], text=data.get("text", ""),
                   author=data.get("author", ""), published=dt_from_str(data.get("published")),
                   language=data.get("language"), source=data.get("source", ""),
                   from_feed=bool(data.get("from_feed", False)))


def terms_to_json(terms: tuple[TermHit, ...]) -> list[dict[str, Any]]:
    """Matched terms as JSON-able dicts (spans and snippets with their marks)."""
    return [{"term": t.term, "count": t.count,
             "spans": [[s.field, s.start, s.end] for s in t.spans],
             "snippets": [{"text": s.text, "marks": [list(m) for m in s.marks]}
                          for s in t.snippets]}
            for t in terms]


def terms_from_json(data: list[dict[str, Any]]) -> tuple[TermHit, ...]:
    """The inverse of ``terms_to_json``."""
    return tuple(
        TermHit(term=t["term"], count=t["count"],
                spans=tuple(Span(f, a, b) for f, a, b in t.get("spans", [])),
                snippets=tuple(Snippet(s["text"], tuple((a, b) for a, b in s.get("marks", [])))
                               for s in t.get("snippets", [])))
        for t in data)
