"""One backtest: a query run over the newest stored articles.

``monitor backtest`` and the dashboard's search box (and /api/search) both run this: the
query is checked and compiled once, then ``run`` reads the stored articles lazily, newest
first, a page at a time, and yields ``(StoredArticle, Match)`` for each one the query
would have alerted on; ``scanned`` counts the articles read. An article without a
published date is matched as if published when it was stored (for ``published:``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from monitor.models import Match
from monitor.rules import Rule, check_query, compile_rules
from monitor.store import Store, StoredArticle


class Backtest:
    """``query`` compiled once; raises QueryError (with its column) when it is invalid."""

    def __init__(self, query: str, *, case_sensitive: bool = False) -> None:
        check_query(query, case_sensitive=case_sensitive)  # the error without a rule name
        self.rules = compile_rules([Rule(query, query, case_sensitive)])
        self.scanned = 0

    def run(self, store: Store, scan: int | None = None) -> Iterator[tuple[StoredArticle, Match]]:
        """The hits among the ``scan`` newest stored articles (all, with None), newest first."""
        for stored in store.iter_articles(limit=scan):
            self.scanned += 1
            article = stored.article
            if article.published is None:
                article = replace(article, published=stored.stored_at)
            for match in self.rules.match(article):
                yield stored, match
