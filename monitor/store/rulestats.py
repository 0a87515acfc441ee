"""A rule's record for the workspace: its hits by triage state, when they came, and the
texts of its hits' articles (title and body, with the hit's state) that the web layer
mines for suggested exclusions (``monitor.web.rulestats``). Three queries, one
transaction; the texts are the newest ``TEXTS_MAX`` hits', each cut at ``TEXT_CHARS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from monitor.store import schema as t
from monitor.store.base import StoreBase
from monitor.store.codec import as_utc

TEXTS_MAX = 1000
"""Hits whose articles' texts are read (the newest)."""
TEXT_CHARS = 20_000
"""Characters of each article's body read."""


@dataclass(frozen=True, slots=True)
class RuleRecord:
    """What ``Store.rule_record`` reads of one rule."""

    rule_id: int
    query: str
    states: dict[str, int]  # triage state -> hits in it
    seen: list[datetime]  # first_seen of each hit since the date asked for
    texts: list[tuple[str, str]]  # (hit state, title + body of its article), newest first


class RuleStatsMixin(StoreBase):
    """One rule's record."""

    def rule_record(self, rule_id: int, since: datetime) -> RuleRecord | None:
        """The rule's hits by state, their first_seen since ``since``, and its hits'
        articles' texts (None: no such rule)."""
        h, a, r = t.hits.c, t.articles.c, t.rules.c
        with self._begin() as conn:
            query = conn.execute(select(r.query).where(r.id == rule_id)).scalar()
            if query is None:
                return None
            states = {str(s): int(n) for s, n in conn.execute(
                select(h.state, func.count()).where(h.rule_id == rule_id).group_by(h.state))}
            seen = [as_utc(row.first_seen) for row in conn.execute(
                select(h.first_seen).where(h.rule_id == rule_id, h.first_seen >= since))]
            texts = [(str(row.state), f"{row.title}\n{row.body}") for row in conn.execute(
                select(h.state, a.title, func.substr(a.text, 1, TEXT_CHARS).label("body"))
                .join_from(t.hits, t.articles, a.id == h.article_id)
                .where(h.rule_id == rule_id)
                .order_by(h.first_seen.desc(), h.id.desc()).limit(TEXTS_MAX))]
        return RuleRecord(rule_id, str(query), states, seen, texts)
