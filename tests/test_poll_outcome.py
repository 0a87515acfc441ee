"""One poll, one outcome: ``poll_feed`` returns the record the store writes back, and a poll
that crashes backs off as a failing one does (``monitor.schedule``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from monitor.daemon import Daemon, load
from monitor.models import FetchResult
from monitor.pipeline import poll_feed
from monitor.testing import NewsServer, WebhookReceiver
from tests.conftest import ServeApp
from tests.helpers import SECRET, write_config

RSS = ('<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><ttl>180</ttl>'
       '<item><title>One</title><link>http://127.0.0.1:1/1</link></item></channel></rss>')


async def test_poll_feed_returns_what_the_store_records(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = write_config(tmp_path, news, None, hook)
    daemon = Daemon(load(str(path)), str(path))
    store = daemon.services.store
    try:
        (feed,) = store.claim_due_feeds(daemon.node, datetime.now(UTC), 10, lease=60)
        record = await poll_feed(daemon.pipeline, feed)
        (after,) = store.feeds()
        assert (record.status, record.new_items, record.matched, record.alerts) == (
            "ok", 4, 2, 2)
        assert after.items_seen == 4 and len(store.list_alerts(None, None)) == 2
        assert after.next_poll_at == record.next_poll_at and after.etag == record.etag
        (feed,) = store.claim_due_feeds(daemon.node, datetime.now(UTC), 10, lease=60,
                                        force=True)
        again = await poll_feed(daemon.pipeline, feed)
        assert (again.status, again.new_items, again.alerts) in {
            ("not_modified", 0, 0), ("unchanged", 0, 0)}
        assert store.feeds()[0].next_poll_at == again.next_poll_at
    finally:
        await daemon.close()


class Crashing:
    """A fetcher with a bug: every fetch raises something no stage expects."""

    async def fetch(self, url: str, **options: object) -> FetchResult:
        raise RuntimeError("a bug")

    fetch_if_changed = fetch


async def test_a_crashed_poll_backs_off_like_a_failing_one(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, serve_app: ServeApp,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(text=RSS, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/ttl.xml", feed)
    base = await serve_app(app)
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    feeds = f'[[feeds]]\nname = "TTL"\nurl = "{base}/ttl.xml"\n'  # polled every 10 minutes
    path = write_config(tmp_path, news, None, hook, feeds=feeds)
    daemon = Daemon(load(str(path)), str(path))
    store = daemon.services.store
    try:
        await daemon.run_once()
        assert store.feeds()[0].publisher_ask == 3 * 3600.0  # <ttl>180</ttl>
        daemon.pipeline.fetcher = Crashing()
        for crashes, least in ((1, 3 * 3600.0), (2, 2 * 3 * 3600.0 * 0.9)):
            before = datetime.now(UTC)
            await daemon.run_once()  # the crash is logged; the daemon lives on
            (state,) = store.feeds()
            assert (state.state, state.error_count, state.last_error) == (
                "failing", crashes, "internal error: RuntimeError")
            assert state.claimed_by is None and state.next_poll_at is not None
            # never sooner than the publisher asked, doubling per failure: as any failure
            assert (state.next_poll_at - before).total_seconds() >= least
    finally:
        await daemon.close()
