"""One poll of one feed, end to end: fetch, parse, fetch articles, extract, match, store.

``poll_feed`` reads top to bottom as the pipeline. Its collaborators (store, fetcher,
extractor, rule set, config) come in through ``Pipeline``, so tests can pass real local
ones or fakes. Alerts are written to the outbox in the transaction that records the
match; delivery is the outbox's job, not this module's.

The first poll of a feed stores its newest ``backfill`` items (fetched, extracted and
matched, so backtests and the search box see them) without alerting, unless
``alert_on_first_poll``; the items past the backfill are only remembered as seen. A poll
refused because the feed's host asked every client for a pause (``FetchPostponed``) is
postponed, not failed: the feed's error count and state stay as they were. So is a poll
the store failed (``StorageError``): it propagates, and the caller releases the feed with
``release_after_store_error`` for a retry ``STORE_RETRY`` seconds later. The poll's
database calls (and rule matching, ``match_article``) run in threads: a slow or frozen
database holds the poll, not the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.alerts.routing import Routing, no_alerts, too_old
from monitor.collaborators import ExtractorLike, FetcherLike, RendererLike, RuleSetLike
from monitor.config import Config, FeedSettings, WatchSettings
from monitor.config.requestopts import request_options
from monitor.dedup import article_hash, entry_version, fingerprint
from monitor.errors import (
    ExtractError,
    FetchError,
    FetchPostponed,
    MonitorError,
    NotModified,
    ParseError,
    StorageError,
)
from monitor.extract import article_from_entry
from monitor.hardpages import past_the_wall
from monitor.language import article_language
from monitor.metrics import Metrics
from monitor.models import (
    AlertedSince,
    Article,
    Entry,
    FetchResult,
    Match,
    Router,
    RuleChannels,
)
from monitor.rules import Rule, article_terms
from monitor.schedule import (
    WINDOW,
    entries_needed,
    next_poll_delay,
    parse_cache_control_max_age,
)
from monitor.sources import is_opaque
from monitor.sources.follow import parse_document, read_children, resolve_opaque
from monitor.store import (
    ArticleWriter,
    FeedState,
    NewArticle,
    PollRecord,
    PollWriter,
    Store,
)
from monitor.timeutil import utc

log = logging.getLogger(__name__)

JITTER = 0.1
STORE_RETRY = 30.0  # seconds: a poll the database failed is retried this soon
_EPOCH = utc(datetime.min)


@dataclass
class Pipeline:
    """Everything one poll needs; the daemon builds one and swaps it on reload."""

    config: Config
    store: Store
    fetcher: FetcherLike
    extractor: ExtractorLike
    rules: RuleSetLike
    node: str = "local"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    article_concurrency: int = 4
    metrics: Metrics | None = None
    renderer: RendererLike | None = None  # for feeds with render = "browser"
    matching: Executor | None = None  # where rules run; None: the loop's default executor
    batch_polls: bool = True  # False: each poll's outcome commits alone (bench/poll.py)
    routing: Routing = field(init=False)
    writer: ArticleWriter = field(init=False)
    polls: PollWriter = field(init=False)

    def __post_init__(self) -> None:
        self.routing = Routing.from_config(self.config)
        self.writer = ArticleWriter(self.store, self.route)
        self.polls = PollWriter(self.store, batch=self.batch_polls)

    def route(self, matches: Sequence[Match], alerted: AlertedSince) -> RuleChannels:
        """Where the alerts of ``matches`` go now (the writer asks in its transaction)."""
        return self.routing.route(matches, alerted, self.clock())


async def poll_feed(p: Pipeline, feed: FeedState) -> PollRecord:
    """Poll ``feed`` once (the caller has claimed it); record the outcome and return it.

    The outcome is committed with those of other polls ending at the same time
    (``PollWriter``), the feed's claim released in the same statement. StorageError
    propagates, recorded nowhere: the store failed, not the feed."""
    started = time.monotonic()
    settings = _settings(p, feed)
    seen: list[Entry] = []  # a first poll's items past the backfill, written with its record
    try:
        record = await _poll(p, feed, settings, seen)
    except FetchPostponed as e:  # the host asked for a pause after another feed's request
        record = PollRecord("postponed", p.clock() + timedelta(seconds=e.retry_after or 0),
                            error=str(e))
    except StorageError:
        raise
    except MonitorError as e:
        retry_after = getattr(e, "retry_after", None)  # FetchHTTPStatus on 429/503
        record = PollRecord("error", await asyncio.to_thread(
            _next_poll, p, feed, settings, failed=True, retry_after=retry_after), error=str(e))
    record = replace(record, duration_ms=int((time.monotonic() - started) * 1000))
    await p.polls.finish(feed.id, p.node, record, p.clock(), seen if record.parsed else ())
    _log_outcome(feed.name, record)
    if p.metrics:
        p.metrics.poll(feed.name, record.status, record.duration_ms / 1000)
    return record


def record_crash(p: Pipeline, feed: FeedState, error: BaseException) -> PollRecord:
    """Record a poll that raised something unexpected (the daemon logged it): a failure
    like any other, so the feed backs off as a failing one does (``monitor.schedule``)."""
    record = PollRecord("error", _next_poll(p, feed, _settings(p, feed), failed=True),
                        error=f"internal error: {type(error).__name__}")
    p.store.finish_poll(feed.id, p.node, record, p.clock())
    return record


def release_after_store_error(p: Pipeline, feed: FeedState) -> None:
    """Give back ``feed``, whose poll the database failed, for a poll ``STORE_RETRY``
    seconds from now; its state and error count stay as they were. StorageError while the
    database is still down."""
    record = PollRecord("postponed", p.clock() + timedelta(seconds=STORE_RETRY),
                        error="database error")
    p.store.finish_poll(feed.id, p.node, record, p.clock())


def _settings(p: Pipeline, feed: FeedState) -> FeedSettings:
    return p.config.feed(feed.name) or FeedSettings(feed.name, feed.url, feed.interval)


async def _poll(p: Pipeline, feed: FeedState, settings: FeedSettings,
                seen: list[Entry]) -> PollRecord:
    fetch = p.config.monitor.fetch
    result = await p.fetcher.fetch_if_changed(  # a 304 returned, not raised: most polls
        feed.url, etag=feed.etag, last_modified=feed.last_modified, trusted=True,
        allow_private=settings.allow_private_networks, max_bytes=fetch.max_feed_bytes,
        options=request_options(settings))
    if isinstance(result, NotModified):
        return PollRecord("not_modified", await asyncio.to_thread(_next_poll, p, feed, settings))
    digest = hashlib.sha256(result.content).hexdigest()
    cache: dict[str, Any] = {"etag": result.etag, "last_modified": result.last_modified,
                             "content_hash": digest}
    if digest == feed.content_hash:  # same bytes: the <ttl> stored last time still holds
        ask = max(_max_age(result), feed.publisher_ask or 0.0)
        return PollRecord("unchanged", await asyncio.to_thread(
            _next_poll, p, feed, settings, ask=ask), **cache)
    parsed = await parse_document(settings.kind, result.content, result.url,  # large: a thread
                                  content_type=result.content_type,
                                  max_items=p.config.monitor.poll.max_items_per_feed,
                                  now=p.clock(), options=settings.options)
    if parsed.children:  # an index: its children are read on every poll, so it keeps no cache
        cache = {"publisher_ask": None}
        parsed = await read_children(
            p.fetcher, parsed, kind=settings.kind, options=settings.options,
            allow_private=settings.allow_private_networks, max_bytes=fetch.max_feed_bytes,
            max_items=p.config.monitor.poll.max_items_per_feed, now=p.clock(),
            request=request_options(settings))
    ask = max(float(parsed.ttl_seconds or 0), _max_age(result))
    cache["publisher_ask"] = ask
    entries = _unique(parsed.entries)
    # seen before by GUID or by content (a re-dated item, a fresh GUID)
    known = await asyncio.to_thread(p.store.seen_entries, feed.id, entries, p.clock())
    new = [e for e in entries if e.key not in known]
    edited = [e for e in entries if known.get(e.key, None) not in (None, entry_version(e))]
    if parsed.warning:
        log.warning("event=feed_warning feed=%s warning=%r", feed.name, parsed.warning)
    first = not feed.first_poll_done and not settings.alert_on_first_poll
    if first:
        counts = await _backfill(p, feed.id, settings, new + edited, seen)
    else:
        counts = await _process_entries(p, feed.id, settings, new + edited)
    return PollRecord("first_poll" if first else "ok",
                      await asyncio.to_thread(_next_poll, p, feed, settings, ask=ask),
                      warning=parsed.warning, new_items=len(new), matched=counts[0],
                      alerts=counts[1], **cache)


async def _backfill(p: Pipeline, feed_id: int, feed: FeedSettings,
                    entries: Sequence[Entry], seen: list[Entry]) -> tuple[int, int]:
    """A feed's first poll: store its newest ``feed.backfill`` entries without alerting,
    and remember the rest as ``seen`` (written with the poll's record, which ends the first
    poll), so none of them alerts later."""
    ordered = newest_first(entries)
    stored = ordered[:feed.backfill]
    seen.extend(ordered[feed.backfill:])
    return await _process_entries(p, feed_id, feed, stored, alert=False)


def newest_first(entries: Sequence[Entry]) -> list[Entry]:
    """``entries`` by published date, newest first; undated ones last, in feed order."""
    dated = sorted((e for e in entries if e.published), reverse=True,
                   key=lambda e: e.published or _EPOCH)
    return dated + [e for e in entries if not e.published]


async def _process_entries(p: Pipeline, feed_id: int, feed: FeedSettings,
                           entries: Sequence[Entry], alert: bool = True) -> tuple[int, int]:
    gate = asyncio.Semaphore(p.article_concurrency)

    async def one(entry: Entry) -> tuple[int, int]:
        async with gate:
            return await process_entry(p, feed_id, feed, entry, alert=alert)

    results = await asyncio.gather(*(one(e) for e in entries))
    return sum(r[0] for r in results), sum(r[1] for r in results)


async def process_entry(p: Pipeline, feed_id: int, feed: FeedSettings,
                        entry: Entry, alert: bool = True) -> tuple[int, int]:
    """Fetch, extract, match and store one new entry; return (rules matched, alerts made).

    With ``alert`` False (a first poll's backfill) the matches are stored, no alert is."""
    article = await fetch_article(p, feed, entry)
    # in a thread: the detector's first call loads its model (half a second)
    article = replace(article, language=await asyncio.to_thread(article_language, article, entry))
    dated = article if article.published else replace(article, published=p.clock())
    matches = await match_article(p, dated, feed)
    # only matched articles are compared for stories (the store says why); skip the rest
    text_print = fingerprint(article.text) if matches and len(article.text) >= 200 else None
    terms = await asyncio.get_running_loop().run_in_executor(p.matching, article_terms, article)
    new = NewArticle(entry, article, article_hash(article.url, entry.key, feed.url),
                     text_print, tuple(matches), terms)
    old = _too_old(p, feed, article, matches) if alert else set()
    route = no_alerts if not alert else _except(p.route, old) if old else None
    alerts = await p.writer.write(feed_id, feed.name, new, p.clock(), route=route)
    for m in matches:
        if p.metrics:
            p.metrics.matched(m.rule)
        log.info("event=match feed=%s rule=%r url=%s terms=%s", feed.name, m.rule, article.url,
                 ",".join(t.term for t in m.terms))
    return len(matches), len(alerts)


async def match_article(p: Pipeline, article: Article, feed: FeedSettings) -> list[Match]:
    """The rules watching ``feed`` that ``article`` matches, with the variants that fired,
    in the ``p.matching`` thread, off the event loop (``bench/loopstall.py``). A reload swaps
    the daemon's pipeline: a match under way finishes on the rules it began with."""
    rules = p.rules

    def run() -> list[Match]:
        watching = [m for m in rules.match(article) if _watches_feed(p, m.rule, feed)]
        return rules.explain(article, watching)  # which variant fired, for alerts and hits

    return await asyncio.get_running_loop().run_in_executor(p.matching, run)


async def fetch_article(p: Pipeline, feed: FeedSettings, entry: Entry) -> Article:
    """The entry's page as an Article; the feed item's own text when the page fails, or
    when its link is an opaque redirect (``resolve_redirects`` off, or it failed)."""
    if is_opaque(entry.url) and feed.options.resolve_redirects:
        entry = await resolve_opaque(p.fetcher, entry, allow_private=feed.allow_private_networks,
                                     max_bytes=p.config.monitor.fetch.max_article_bytes,
                                     request=request_options(feed))
    source = entry.source or feed.name  # the publisher a search feed names, else the feed
    if not entry.url or is_opaque(entry.url):
        if entry.url:
            log.info("event=article_fallback feed=%s url=%s reason=%r", feed.name, entry.url,
                     "opaque redirect link")
        if p.metrics:
            p.metrics.extracted("feed_fallback")
        return article_from_entry(entry, source)
    try:
        if feed.render == "browser" and p.renderer:
            page = await p.renderer.render(entry.url, allow_private=feed.allow_private_networks,
                                           options=request_options(feed))
        else:
            page = await p.fetcher.fetch(entry.url, allow_private=feed.allow_private_networks,
                                         html_only=True,
                                         max_bytes=p.config.monitor.fetch.max_article_bytes,
                                         options=request_options(feed))
        started = time.monotonic()
        article = await p.extractor.extract(page.content, page.url, entry=entry, source=source)
    except (FetchError, ExtractError, NotModified) as e:
        log.warning("event=article_fallback feed=%s url=%s reason=%r", feed.name, entry.url,
                    str(e) or type(e).__name__)
        if p.metrics:
            p.metrics.extracted("feed_fallback")
        return article_from_entry(entry, source)
    article, wall = past_the_wall(article, entry)
    if wall:
        log.info("event=article_partial feed=%s url=%s reason=%s", feed.name, entry.url, wall)
    if p.metrics:
        p.metrics.extracted("partial" if wall else "page", time.monotonic() - started)
    return article


def _too_old(p: Pipeline, feed: FeedSettings, article: Article,
             matches: Sequence[Match]) -> set[str]:
    """The matched rules for which ``article`` is too old to alert (``max_age``)."""
    now = p.clock()
    old = {m.rule for m in matches if (watch := p.routing.watches.get(m.rule)) is not None
           and too_old(watch, feed, article.published, now)}
    if old:
        log.info("event=too_old feed=%s url=%s published=%s rules=%s", feed.name, article.url,
                 article.published.isoformat() if article.published else "", ",".join(sorted(old)))
    return old


def _except(route: Router, rules: set[str]) -> Router:
    """``route`` for the matches of rules other than ``rules``."""
    def routed(matches: Sequence[Match], alerted: AlertedSince) -> RuleChannels:
        return route([m for m in matches if m.rule not in rules], alerted)
    return routed


def rule_for(watch: WatchSettings) -> Rule:
    """The matcher's rule of a ``[[watch]]``: with ``languages``, it matches only articles in
    them and reads its query's words in them too."""
    rule = Rule(watch.name, watch.query, watch.case_sensitive, watch.exact)
    if watch.languages:
        rule = replace(rule, languages=watch.languages, article_languages=watch.languages)
    return rule


def _watches_feed(p: Pipeline, rule: str, feed: FeedSettings) -> bool:
    watch = p.routing.watches.get(rule)
    return watch is not None and watch.applies_to(feed)


def _next_poll(p: Pipeline, feed: FeedState, settings: FeedSettings, *, failed: bool = False,
               ask: float | None = None, retry_after: float | None = None) -> datetime:
    """When to poll ``feed`` again (monitor.schedule decides); ``ask``: the publisher's
    <ttl>/max-age in seconds, None to reuse the one stored (a 304 carries neither). The
    feed's own ``interval``, when set in its [[feeds]] table, is a ceiling."""
    m, now = p.config.monitor.poll, p.clock()
    history = None  # no history until the first poll has recorded the feed's entries
    if feed.first_poll_done:
        history = p.store.recent_entry_times(feed.id, now - WINDOW,
                                             entries_needed(m.min_poll_interval))
    delay = next_poll_delay(
        interval=feed.interval, min_interval=m.min_poll_interval,
        max_interval=m.max_poll_interval, recent_entry_times=history, now=now,
        feed_ttl=feed.publisher_ask if ask is None else ask, retry_after=retry_after,
        error_count=feed.error_count + 1 if failed else 0, jitter=JITTER,
        ceiling=settings.interval if settings.interval_set else None)
    return now + timedelta(seconds=delay)


def _max_age(result: FetchResult) -> float:
    """The response's Cache-Control max-age in seconds, 0 when it asks for none."""
    value = ", ".join(v for k, v in result.headers if k.lower() == "cache-control")
    return parse_cache_control_max_age(value) or 0.0


def _unique(entries: Sequence[Entry]) -> list[Entry]:
    seen: dict[str, Entry] = {}
    for e in entries:
        seen.setdefault(e.key, e)
    return list(seen.values())


def _log_outcome(feed: str, r: PollRecord) -> None:
    if r.status == "postponed":
        log.info("event=poll status=postponed feed=%s reason=%r", feed, r.error)
    elif r.status == "error":
        log.error("event=poll status=error feed=%s error=%r duration_ms=%d", feed, r.error,
                  r.duration_ms)
    else:
        log.info("event=poll status=%s feed=%s new=%d matched=%d alerts=%d duration_ms=%d",
                 r.status, feed, r.new_items, r.matched, r.alerts, r.duration_ms)


__all__ = ["ExtractorLike", "FetcherLike", "ParseError", "Pipeline", "RendererLike",
           "RuleSetLike", "fetch_article", "match_article", "newest_first",
           "poll_feed", "process_entry", "record_crash", "release_after_store_error",
           "rule_for"]
