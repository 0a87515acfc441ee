"""/api/preview: what a query would catch, while it is being written.

``GET /api/preview?q=QUERY[&cs=1][&limit=N]`` (read-only, behind the same token and host
checks as /api/search): a bad query is a 400 with its error and 1-based ``column``;
otherwise how many stored articles the query matches on each of the last ``DAYS`` days
(UTC, by when they were stored, oldest first), and its newest ``limit`` matches, each with
the one hit shape (``monitor.jsonshape.hit_json``) and its first snippet highlighted
(``html``: escaped text, each hit in ``<mark>``).

It is a backtest (``monitor.backtest``): the database's full-text prefilter picks the
candidates and the matcher settles them. The handler is a plain function, so Starlette
runs it in a worker thread, off the event loop, as it does /api/search.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from monitor.alerts.render import highlight_html
from monitor.backtest import Backtest
from monitor.errors import QueryError
from monitor.jsonshape import hit_json
from monitor.rules import query_warnings
from monitor.store import Store

DAYS = 30
LIMIT = 20
"""Newest matches listed by default (``limit``: 1 to ``LIMIT_MAX``)."""
LIMIT_MAX = 100
QUERY_MAX = 1000


def preview(store: Store, query: str, now: datetime, *, case_sensitive: bool = False,
            limit: int = LIMIT, use_prefilter: bool = True) -> dict[str, Any]:
    """The preview of ``query`` at ``now``; raises QueryError when it is invalid."""
    backtest = Backtest(query, case_sensitive=case_sensitive)
    first = (now - timedelta(days=DAYS - 1)).date()
    days = {(first + timedelta(days=i)).isoformat(): 0 for i in range(DAYS)}
    hits: list[dict[str, Any]] = []
    for stored, match in backtest.run(store, use_prefilter=use_prefilter):
        day = stored.stored_at.date().isoformat()
        if day in days:
            days[day] += 1
        elif len(hits) >= limit and stored.stored_at.date() < first:
            break  # newest first: older than the window, and the page is full
        if len(hits) < limit:
            hit = hit_json(stored.article, match.terms, stored.stored_at)
            snippets = [s for term in match.terms for s in term.snippets]
            hit["html"] = str(highlight_html(snippets[0])) if snippets else ""
            hits.append(hit)
    return {"query": query, "prefiltered": backtest.prefiltered and use_prefilter,
            "scanned": backtest.scanned, "read": backtest.read,
            "days": [{"day": d, "count": n} for d, n in days.items()],
            "matched": sum(days.values()), "hits": hits,
            "warnings": query_warnings(query)}


def first_page(store: Store, query: str, *, limit: int = LIMIT,
               use_prefilter: bool = True) -> list[dict[str, Any]]:
    """Only the newest ``limit`` matches of ``query`` (what the preview shows first)."""
    backtest = Backtest(query)
    hits = []
    for stored, match in backtest.run(store, use_prefilter=use_prefilter):
        hits.append(hit_json(stored.article, match.terms, stored.stored_at))
        if len(hits) >= limit:
            break
    return hits


def route(store: Store, clock: Callable[[], datetime]) -> Route:
    """The /api/preview route over ``store``."""

    def api_preview(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        if not query:
            return _json({"error": "missing query: /api/preview?q=QUERY", "column": 0}, 400)
        if len(query) > QUERY_MAX:
            return _json({"error": f"the query is longer than {QUERY_MAX} characters",
                          "column": QUERY_MAX + 1}, 400)
        try:
            limit = min(LIMIT_MAX, max(1, int(request.query_params.get("limit", LIMIT))))
        except ValueError:
            return _json({"error": "limit: not a whole number", "column": 0}, 400)
        try:
            found = preview(store, query, clock(), limit=limit,
                            case_sensitive=request.query_params.get("cs") == "1")
        except QueryError as e:
            return _json({"error": str(e), "column": e.column}, 400)
        return _json(found)

    return Route("/api/preview", api_preview)


def _json(content: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse(content, status, headers={"Cache-Control": "no-store"})

