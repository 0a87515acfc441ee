"""Feeds that stamp every item with the request time, or give it a fresh GUID on every
request: items are recognised by content (link and title), not by date or GUID, so a
second poll fetches nothing and alerts on nothing it already had; a new item alerts once."""

from __future__ import annotations

import html
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiohttp import web

from monitor.daemon import Daemon, load
from monitor.dedup import content_key, dated_entry_version, entry_version, key_hash
from monitor.models import Entry
from monitor.sources import parse_source
from monitor.store import Store
from monitor.testing import NewsServer, SeedArticle, WebhookReceiver, article_page, load_seeds
from tests.conftest import ServeApp
from tests.helpers import SECRET, write_config
from tests.store_helpers import write_old_database

CORPUS = Path(__file__).parent / "data" / "feeds" / "corpus"
NEW = SeedArticle("port-strike", "Dockworkers strike at three ports",
                  "2026-03-02", "The strike at three container ports raised fears of a "
                  "supply chain risk for retailers, union leaders said on Monday. " * 6)


class StampingFeed:
    """A feed whose every item carries the request time, and (``fresh_guids``) a GUID
    made up on each request; its articles' pages, with the requests made for them."""

    def __init__(self, fresh_guids: bool, shared_guid: str = "") -> None:
        self.fresh_guids = fresh_guids
        self.shared_guid = shared_guid  # every item's GUID, when given
        self.items = load_seeds()
        self.article_requests: list[str] = []
        self.base = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/feed.xml", self.feed)
        app.router.add_get("/articles/{slug}.html", self.article)
        return app

    async def feed(self, request: web.Request) -> web.Response:
        stamp = format_datetime(datetime.now(UTC))
        items = "".join(
            f"<item><title>{html.escape(a.title)}</title>"
            f"<link>{self.base}/articles/{a.slug}.html</link>"
            f"<guid isPermaLink=\"false\">"
            f"{self.shared_guid or (uuid.uuid4() if self.fresh_guids else a.slug)}</guid>"
            f"<pubDate>{stamp}</pubDate><description>{html.escape(a.body[:200])}"
            f"</description></item>" for a in self.items)
        body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Stamped</title><link>{self.base}/</link><lastBuildDate>{stamp}"
                f"</lastBuildDate>{items}</channel></rss>")
        return web.Response(text=body, content_type="application/rss+xml")

    async def article(self, request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        self.article_requests.append(slug)
        found = next((a for a in self.items if a.slug == slug), None)
        if found is None:
            raise web.HTTPNotFound()
        return web.Response(text=article_page(found), content_type="text/html")


@pytest.mark.parametrize(("fresh_guids", "alert_first"), [
    (True, True), (True, False), (False, False)])
async def test_a_feed_restamping_its_items_is_not_refetched_nor_realerted(
        fresh_guids: bool, alert_first: bool, tmp_path: Path, news: NewsServer,
        hook: WebhookReceiver, serve_app: ServeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    stamping = StampingFeed(fresh_guids)
    stamping.base = await serve_app(stamping.app())
    feeds = f"""
[[feeds]]
name = "Stamped"
url = "{stamping.base}/feed.xml"
alert_on_first_poll = {str(alert_first).lower()}
"""
    path = write_config(tmp_path, news, None, hook, feeds=feeds)
    daemon = Daemon(load(str(path)), str(path))
    store = daemon.services.store
    try:
        await daemon.run_once()
        first_alerts = len(store.list_alerts(None, None, "hook"))
        first_fetches = len(stamping.article_requests)
        assert first_fetches == len(stamping.items)  # the backfill, or all of them
        assert first_alerts == (2 if alert_first else 0)

        await daemon.run_once()  # every item re-dated (and renamed): nothing is new
        assert len(stamping.article_requests) == first_fetches
        assert len(store.list_alerts(None, None, "hook")) == first_alerts
        assert store.feeds()[0].last_error is None

        stamping.items.insert(0, NEW)
        await daemon.run_once()
        assert stamping.article_requests[first_fetches:] == [NEW.slug]
        alerts = store.list_alerts(None, None, "hook")
        assert len(alerts) == first_alerts + 1
        assert sum(a.article.title == NEW.title for a in alerts) == 1
        await daemon.run_once()
        assert len(store.list_alerts(None, None, "hook")) == first_alerts + 1
        assert stamping.article_requests[first_fetches:] == [NEW.slug]
    finally:
        await daemon.close()


async def test_items_sharing_one_guid_are_each_fetched_and_alerted_once(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, serve_app: ServeApp,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a CMS that gives every item the site's address as its GUID: the items after the
    # first were dropped as duplicates, on every poll, so they never alerted
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    stamping = StampingFeed(fresh_guids=False)
    stamping.base = await serve_app(stamping.app())
    stamping.shared_guid = f"{stamping.base}/"
    stamping.items.insert(0, SeedArticle(
        "rail-strike", "Rail freight halted by strike", "2026-03-01",
        "Freight trains stood still across the north as drivers walked out, and shippers "
        "warned of a supply chain risk for factories waiting on parts this week. " * 6))
    feeds = f"""
[[feeds]]
name = "One GUID"
url = "{stamping.base}/feed.xml"
"""
    path = write_config(tmp_path, news, None, hook, feeds=feeds)
    daemon = Daemon(load(str(path)), str(path))
    store = daemon.services.store
    try:
        await daemon.run_once()
        assert sorted(stamping.article_requests) == sorted(a.slug for a in stamping.items)
        first = [a.article.title for a in store.list_alerts(None, None, "hook")]
        assert "Rail freight halted by strike" in first and len(first) == 3

        stamping.items.insert(0, NEW)  # a new item on top, the same GUID again
        await daemon.run_once()
        await daemon.run_once()
        assert stamping.article_requests[len(stamping.items) - 1:] == [NEW.slug]
        titles = [a.article.title for a in store.list_alerts(None, None, "hook")]
        assert sorted(titles) == sorted([*first, NEW.title])
    finally:
        await daemon.close()


def test_the_corpus_feed_redating_its_items_keeps_their_versions() -> None:
    """The aggregator of the corpus stamps every item with the build time: two builds a
    minute apart are the same items, unedited, by version and by content key."""
    raw = (CORPUS / "redated-every-poll.xml").read_bytes()
    later = raw.replace(b"11:59:58 GMT", b"12:00:58 GMT")
    assert later != raw
    one, two = (parse_source("feed", doc, "https://aggregator.example/rss").entries
                for doc in (raw, later))
    assert [e.published for e in one] != [e.published for e in two]
    assert [entry_version(e) for e in one] == [entry_version(e) for e in two]
    assert [content_key(e) for e in one] == [content_key(e) for e in two]
    assert len({content_key(e) for e in one}) == len(one)


def test_content_keys_tell_items_apart_by_link_and_title() -> None:
    a = Entry("guid-1", "https://ex.org/a?utm_source=x", "Storm closes schools")
    assert content_key(a) == content_key(Entry("guid-2", "https://ex.org/a", "storm  closes "
                                                "SCHOOLS"))
    assert content_key(a) != content_key(Entry("guid-1", "https://ex.org/b", a.title))
    assert content_key(a) != content_key(Entry("guid-1", a.url, "Storm closes roads"))
    linkless = Entry("g", "", "Daily briefing", "Monday's briefing")
    assert content_key(linkless) != content_key(Entry("h", "", "Daily briefing",
                                                      "Tuesday's briefing"))
    assert content_key(Entry("g", "")) is None


def test_entries_stored_before_the_upgrade_are_known_by_content_and_unedited(
        db_url: str) -> None:
    """Schema 8 fills the content keys of the entries stored before it, and a version
    stored with the item's date still counts as unedited: no re-fetch after an upgrade."""
    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    one = Entry("guid-1", "https://ex.org/a", "Storm closes schools", "Schools shut.", "", t0)
    two = Entry("guid-2", "https://ex.org/b", "Stocks edge higher", "Oil falls.", "", t0)
    write_old_database(db_url, 4, [
        ("schema_version", {"version": 4}),
        ("feeds", {"name": "wire", "url": "https://ex.org/rss", "interval": 600.0,
                   "state": "ok", "error_count": 0, "items_seen": 2, "first_poll_done": True,
                   "active": True}),
        *(("entries", {"feed_id": 1, "key_hash": key_hash(e.key), "key": e.key, "url": e.url,
                       "title": e.title, "seen_at": t0, "version": dated_entry_version(e)})
          for e in (one, two))])
    store = Store(db_url)
    try:
        store.migrate()
        renamed = replace(two, key="guid-2-again", published=t0 + timedelta(hours=1))
        found = store.seen_entries(1, [one, renamed], t0 + timedelta(days=2))
        assert found == {one.key: entry_version(one), renamed.key: entry_version(renamed)}
        assert store.seen_entries(1, [replace(one, key="new", title="Other")], t0) == {}
    finally:
        store.close()
