"""One backtest: a query run over the newest stored articles.

``monitor backtest``, the dashboard's search box (and /api/search) and the preview
(/api/preview) all run this: the query is checked and compiled once, then ``run`` reads
the stored articles lazily, newest first, a page at a time, and yields ``(StoredArticle,
Match)`` for each one the query would have alerted on. An article without a published date
is matched as if published when it was stored (for ``published:``).

With ``prefilter`` (the default) and a query that has one (``monitor.rules.prefilter``),
only the articles the database's full-text index picks are read and matched: a superset of
the hits, so the hits are the same as a scan's. First up to ``CATCH_UP`` articles stored
before the index existed (or edited since) are indexed. ``scanned`` counts the articles
the backtest covers, ``read`` those it read and matched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace

from monitor.models import Match
from monitor.rules import Rule, article_terms, check_query, compile_rules, prefilter
from monitor.store import Store, StoredArticle

log = logging.getLogger(__name__)

CATCH_UP = 2000
"""Articles without known terms indexed per backtest (the rest are read and matched)."""


class Backtest:
    """``query`` compiled once; raises QueryError (with its column) when it is invalid."""

    def __init__(self, query: str, *, case_sensitive: bool = False) -> None:
        check_query(query, case_sensitive=case_sensitive)  # the error without a rule name
        self.rules = compile_rules([Rule(query, query, case_sensitive)])
        self.alternatives = prefilter(self.rules)
        self._scanned: int | Callable[[], int] = 0
        self.read = 0

    @property
    def scanned(self) -> int:
        """How many stored articles the last run covers (counted when first asked)."""
        if callable(self._scanned):
            self._scanned = self._scanned()
        return self._scanned

    @property
    def prefiltered(self) -> bool:
        """Whether the query has a full-text prefilter (else every article is read)."""
        return self.alternatives is not None

    def run(self, store: Store, scan: int | None = None, *, use_prefilter: bool = True
            ) -> Iterator[tuple[StoredArticle, Match]]:
        """The hits among the ``scan`` newest stored articles (all, with None), newest first."""
        if use_prefilter and self.alternatives is not None:
            indexed = store.index_pending(article_terms, CATCH_UP)
            if indexed:
                log.info("event=articles_indexed count=%d", indexed)
            if scan is None:  # all of them: counted only if asked
                floor, self._scanned = 0, lambda: store.newest_window(None)[0]
            else:
                self._scanned, floor = store.newest_window(scan)
            stored_articles = store.iter_candidates(self.alternatives, floor)
        else:
            stored_articles = self._counted(store.iter_articles(limit=scan))
        for stored in stored_articles:
            self.read += 1
            article = stored.article
            if article.published is None:
                article = replace(article, published=stored.stored_at)
            for match in self.rules.match(article):
                yield stored, match

    def _counted(self, articles: Iterator[StoredArticle]) -> Iterator[StoredArticle]:
        self._scanned = 0
        for stored in articles:
            self._scanned += 1
            yield stored
