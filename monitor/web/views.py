"""What the dashboard and the JSON API show, read from the store and the config.

Each function takes the store (and the config, a clock value) and returns plain data;
nothing here knows about HTTP. Every call blocks on the database: the web app runs them
in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from monitor.backtest import Backtest
from monitor.config import Config, WatchSettings
from monitor.config.ruledata import stored_rule
from monitor.errors import QueryError
from monitor.jsonshape import hit_json
from monitor.metrics import Metrics
from monitor.models import Article, Match, TermHit
from monitor.rules import query_warnings
from monitor.store import AlertRow, ChannelState, FeedState, NodeInfo, Store, StoredArticle
from monitor.timeutil import iso

SEARCH_SCAN = 2000
"""How many of the newest stored articles a query-box search scans."""
SEARCH_HITS = 50
"""At most this many hits are shown."""
QUERY_MAX = 1000
CHART_DAYS = 14
BAR_WIDTH, BAR_GAP, CHART_HEIGHT = 10, 3, 32
READY_FACTOR = 3.0
"""/readyz fails when no feed was polled within this many times the longest interval."""


@dataclass(frozen=True, slots=True)
class HitView:
    """One hit, a (rule, story), with its alert's delivery on each channel."""

    rule: str
    feed: str
    created_at: datetime | None
    article: Article
    terms: tuple[TermHit, ...]
    deliveries: tuple[AlertRow, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A query-box search: the hits, or the query's error."""

    query: str
    error: str | None = None
    column: int = 0
    scanned: int = 0
    matched: int = 0  # all hits; ``hits`` holds the first SEARCH_HITS
    hits: tuple[tuple[StoredArticle, Match], ...] = ()
    warnings: tuple[str, ...] = ()  # valid but probably not meant (lowercase "or")


@dataclass(frozen=True, slots=True)
class Bar:
    """One day of a rule's chart (SVG geometry included)."""

    day: str
    count: int
    x: int
    y: int
    height: int


@dataclass(frozen=True, slots=True)
class RuleView:
    """A rule with its match counts."""

    watch: WatchSettings
    total: int
    recent: int
    bars: tuple[Bar, ...]
    id: int | None = None  # the stored rule's id (None: not stored yet)
    managed_by: str = "config"  # or "web": made through the API, stored in the database


# -- alerts ---------------------------------------------------------------------------------


def recent_alerts(store: Store, limit: int = 200) -> list[HitView]:
    """The newest hits that alerted, each with its channels' deliveries."""
    return [HitView(h.rule, h.alerts[0].feed if h.alerts else h.article.source,
                    h.first_seen, h.article, h.terms, h.alerts)
            for h in store.hits(limit, alerted=True)]


# -- channels -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelView:
    """A configured channel with its delivery state and its alerts by status."""

    name: str
    type: str
    state: ChannelState
    pending: int = 0
    failed: int = 0
    stalled: bool = False  # sends hang past the channel's timeout (this process's)
    oldest_send: float = 0.0  # seconds the oldest send under way has taken


def channel_views(store: Store, config: Config, metrics: Metrics | None = None
                  ) -> list[ChannelView]:
    """Every configured channel: enabled, or disabled (since when, why), with its counts
    and, from ``metrics``, whether its sends are stalled."""
    states, counts = store.channel_states(), store.count_alerts_by_channel()
    return [ChannelView(name, s.type, states.get(name, ChannelState(name)),
                        counts.get(name, {}).get("pending", 0),
                        counts.get(name, {}).get("failed", 0),
                        bool(metrics and metrics.stalled(name)),
                        metrics.oldest_send(name) if metrics else 0.0)
            for name, s in config.channels.items()]


def channel_json(view: ChannelView) -> dict[str, Any]:
    """One channel for /api/channels."""
    disabled = view.state.disabled
    return {"name": view.name, "type": view.type, "state": "disabled" if disabled else "enabled",
            "disabled_since": view.state.changed_at if disabled else None,
            "reason": view.state.reason if disabled else None,
            "pending": view.pending, "failed": view.failed, "stalled": view.stalled,
            "oldest_send_seconds": round(view.oldest_send, 1)}


# -- feeds and rules ------------------------------------------------------------------------


def feed_kinds(config: Config) -> dict[str, str]:
    """Each configured feed's source kind (``[[feeds]] kind``), by name."""
    return {f.name: f.kind for f in config.feeds}


def feed_tags(config: Config) -> dict[str, list[str]]:
    """Each configured feed's ``tags``, by name."""
    return {f.name: list(f.tags) for f in config.feeds}


def feed_json(feed: FeedState, kind: str = "unknown", tags: list[str] | None = None
              ) -> dict[str, Any]:
    """One feed for /api/feeds; ``kind``: its source kind (``unknown``: not configured),
    ``tags``: its config tags (the stories' ``tag`` filter)."""
    return {"name": feed.name, "url": feed.url, "kind": kind, "tags": tags or [],
            "state": feed.state,
            "health": feed.health,
            "interval": feed.interval, "last_polled_at": feed.last_polled_at,
            "next_poll_at": feed.next_poll_at, "last_error": feed.last_error,
            "error_count": feed.error_count, "failing_since": feed.failing_since,
            "items_seen": feed.items_seen, "warning": feed.warning}


def rule_views(store: Store, config: Config, now: datetime) -> list[RuleView]:
    """Every configured rule, then every enabled rule made through the API, with its
    total and its last ``CHART_DAYS`` days of matches."""
    start = (now - timedelta(days=CHART_DAYS - 1)).date()
    days = [(start + timedelta(days=i)).isoformat() for i in range(CHART_DAYS)]
    since = datetime.combine(start, datetime.min.time(), tzinfo=now.tzinfo)
    per_day = store.match_counts(since)
    totals = store.match_totals()
    ids = {r.name: r.id for r in store.rules() if r.enabled and r.origin == "config"}
    rules = [(w, ids.get(w.name, 0), "config") for w in config.watches]
    rules += [(replace(stored_rule(r.id, r.name, r.query, r.settings),
                       case_sensitive=r.case_sensitive), r.id, "web")
              for r in store.web_rules() if r.enabled]
    views = []
    for watch, rule_id, managed_by in rules:
        counts = [per_day.get(rule_id, {}).get(day, 0) for day in days]
        views.append(RuleView(watch, totals.get(rule_id, 0), sum(counts),
                              tuple(_bars(days, counts)), rule_id or None, managed_by))
    return views


def _bars(days: list[str], counts: list[int]) -> Iterable[Bar]:
    top = max(counts) or 1
    for i, (day, n) in enumerate(zip(days, counts, strict=True)):
        height = max(1, round(n / top * (CHART_HEIGHT - 2))) if n else 1
        yield Bar(day, n, i * (BAR_WIDTH + BAR_GAP), CHART_HEIGHT - height, height)


def rule_json(view: RuleView) -> dict[str, Any]:
    """One rule for /api/rules."""
    w = view.watch
    return {"id": view.id, "name": w.name, "query": w.query, "channels": list(w.channels),
            "feeds": list(w.feeds), "digest": w.digest, "case_sensitive": w.case_sensitive,
            "matches_total": view.total, "matches_recent": view.recent,
            "matches_by_day": {b.day: b.count for b in view.bars}}


# -- search ---------------------------------------------------------------------------------


def search(store: Store, query: str, case_sensitive: bool = False) -> SearchResult:
    """Backtest ``query`` over the newest stored articles; a bad query is an error."""
    if len(query) > QUERY_MAX:
        return SearchResult(query, f"the query is longer than {QUERY_MAX} characters")
    try:
        backtest = Backtest(query, case_sensitive=case_sensitive)
    except QueryError as e:
        return SearchResult(query, str(e), e.column)
    hits: list[tuple[StoredArticle, Match]] = []
    matched = 0
    for hit in backtest.run(store, SEARCH_SCAN):
        matched += 1
        if len(hits) < SEARCH_HITS:
            hits.append(hit)
    return SearchResult(query, scanned=backtest.scanned, matched=matched, hits=tuple(hits),
                        warnings=tuple(query_warnings(query)))


def search_json(result: SearchResult) -> dict[str, Any]:
    """A search for /api/search: its hits in the one hit shape (monitor.jsonshape)."""
    return {"query": result.query, "scanned": result.scanned, "matched": result.matched,
            "warnings": list(result.warnings),
            "hits": [hit_json(s.article, m.terms, s.stored_at) for s, m in result.hits]}


def node_json(node: NodeInfo) -> dict[str, Any]:
    """One live node for /api/nodes."""
    return {"id": node.id, "started_at": iso(node.started_at),
            "heartbeat_at": iso(node.heartbeat_at), "feeds_claimed": node.feeds_claimed,
            "alerts_claimed": node.alerts_claimed}


# -- readiness ------------------------------------------------------------------------------


def readiness(database: tuple[str, list[FeedState] | None], config: Config,
              scheduler_running: Callable[[], bool], now: datetime) -> dict[str, str]:
    """Each check's verdict: ``ok``, or why it fails (database, scheduler, polling);
    ``database``: ``monitor.web.ready.DatabaseProbe``'s verdict and the feeds it read."""
    checks: dict[str, str] = {}
    checks["database"], feeds = database
    checks["scheduler"] = "ok" if scheduler_running() else "not running"
    checks["polling"] = _polling(feeds, config, now) if feeds is not None \
        else "unknown: database unavailable"
    return checks


def reload_verdict(failure: tuple[str, datetime] | None) -> str:
    """``ok``, or ``failed: ERROR (at TIME); the previous config is running``."""
    if failure is None:
        return "ok"
    error, when = failure
    return (f"failed: {error} (at {when.isoformat(timespec='seconds')}); "
            "the previous config is running")


def _polling(feeds: list[FeedState], config: Config, now: datetime) -> str:
    polled = [f.last_polled_at for f in feeds if f.last_polled_at]
    if not polled:
        return "ok"  # nothing polled yet: nothing to be late for
    longest = max((f.interval for f in config.feeds), default=config.monitor.poll.poll_interval)
    bound = READY_FACTOR * longest
    age = (now - max(polled)).total_seconds()
    if age > bound:
        return f"stale: last poll {age:.0f}s ago, bound {bound:.0f}s"
    return "ok"
