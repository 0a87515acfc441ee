"""One JSON shape per model: what the CLI prints, the API answers and the webhook sends,
wherever they describe the same thing. Pure; README.md ("JSON shapes") writes them down.

Datetimes are ISO-8601 in UTC with a ``Z`` (or null)::

    article  {"url", "title", "source", "published", "author", "language", "partial"}
             ("partial": true when the page was a consent wall or paywall teaser and
             the text matched is the feed item's own)
             (+ "text" where the text itself is the point: ``monitor extract``)
    term     {"term", "count", "spans": [{"field", "start", "end"}],
              "snippets": [{"text", "marks": [[start, end], ...]}]}
             (+ "explain": [explained] when the hits were explained: alerts,
             ``monitor match --explain``)
    explained {"field", "start", "end", "text", "form", "kind"}: one per span, which
             variant of the term fired there (``models.Explanation``)
    hit      {"article": article, "stored_at", "terms": [term]}
             (``monitor backtest`` lines, /api/search "hits")
    alert    {"id", "rule", "query", "channel", "channel_disabled", "feed", "status",
              "attempts", "last_error", "created_at", "sent_at", "digest_at",
              "next_attempt_at", "article": article, "terms": [term]}   (/api/alerts)

The webhook body keeps DESIGN.md §6: its ``article`` is the article shape above, its
``matches`` the compact form of terms (``{"term", "count", "snippets": [text]}``, and
``"explain": [explained]`` when explained).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from monitor.models import Article, Explanation, Span, TermHit
from monitor.timeutil import iso


def article_json(article: Article, *, text: bool = False) -> dict[str, Any]:
    """An article; with ``text``, its text too."""
    out: dict[str, Any] = {"url": article.url, "title": article.title,
                           "source": article.source, "published": iso(article.published),
                           "author": article.author, "language": article.language,
                           "partial": article.partial}
    if text:
        out["text"] = article.text
    return out


def term_json(term: TermHit) -> dict[str, Any]:
    """A matched term: how often, where (``spans`` into the article's fields), the
    snippets around it (``marks`` are offsets into each snippet's text) and, when the hits
    were explained, which variant fired at each span (``explain``)."""
    out: dict[str, Any] = {
        "term": term.term, "count": term.count,
        "spans": [{"field": s.field, "start": s.start, "end": s.end} for s in term.spans],
        "snippets": [{"text": s.text, "marks": [[a, b] for a, b in s.marks]}
                     for s in term.snippets]}
    if term.explained:
        out["explain"] = explain_json(term)
    return out


def explain_json(term: TermHit) -> list[dict[str, Any]]:
    """Which variant of the term fired at each span (empty when not explained)."""
    return [_explained(span, e) for span, e in zip(term.spans, term.explained, strict=False)]


def _explained(span: Span, e: Explanation) -> dict[str, Any]:
    return {"field": span.field, "start": span.start, "end": span.end,
            "text": e.text, "form": e.form, "kind": e.kind}


def hit_json(article: Article, terms: Sequence[TermHit], stored_at: datetime | None
             ) -> dict[str, Any]:
    """A stored article a query matched (a backtest's or a search's hit)."""
    return {"article": article_json(article), "stored_at": iso(stored_at),
            "terms": [term_json(t) for t in terms]}


class OutboxRow(Protocol):
    """What ``alert_json`` reads of an outbox row (``monitor.store.AlertRow``)."""

    @property
    def id(self) -> str: ...
    @property
    def rule(self) -> str: ...
    @property
    def query(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def feed(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def created_at(self) -> datetime | None: ...
    @property
    def sent_at(self) -> datetime | None: ...
    @property
    def digest_at(self) -> datetime | None: ...
    @property
    def next_attempt_at(self) -> datetime | None: ...
    @property
    def article(self) -> Article: ...
    @property
    def terms(self) -> tuple[TermHit, ...]: ...


def alert_json(row: OutboxRow, channel_disabled: str | None = None) -> dict[str, Any]:
    """An outbox row; ``channel_disabled`` is why its channel is disabled (None: enabled)."""
    return {"id": row.id, "rule": row.rule, "query": row.query, "channel": row.channel,
            "channel_disabled": channel_disabled, "feed": row.feed, "status": row.status,
            "attempts": row.attempts, "last_error": row.last_error,
            "created_at": iso(row.created_at), "sent_at": iso(row.sent_at),
            "digest_at": iso(row.digest_at), "next_attempt_at": iso(row.next_attempt_at),
            "article": article_json(row.article), "terms": [term_json(t) for t in row.terms]}
