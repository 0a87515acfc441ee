"""Bad input affects only itself: broken feeds, huge pages, bad rules."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from aiohttp import web

from monitor.daemon import Daemon, load
from monitor.testing import NewsServer, WebhookReceiver
from tests.conftest import ServeApp
from tests.helpers import SECRET, write_config

BROKEN_FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Broken</title>
<item><title>Defense Production Act invoked</title><link>/articles/dpa.html</link>
<description>The Defense Production Act was invoked today.</description></item>
<item><title>Unclosed item</title></channel>"""


@pytest.fixture
async def bad_site(serve_app: ServeApp) -> str:
    async def html_page(_: web.Request) -> web.Response:
        return web.Response(text="<html><body><h1>Not a feed</h1></body></html>",
                            content_type="text/html")

    async def broken(_: web.Request) -> web.Response:
        return web.Response(body=BROKEN_FEED, content_type="application/rss+xml")

    async def huge_feed(request: web.Request) -> web.Response:
        base = f"http://127.0.0.1:{request.url.port}"
        return web.Response(body=f"""<?xml version="1.0"?><rss version="2.0"><channel>
<title>Huge</title><item><title>A very long read</title><guid>{base}/huge.html</guid>
<link>{base}/huge.html</link><description>Summary mentioning the Defense Production Act.
</description></item></channel></rss>""".encode(), content_type="application/rss+xml")

    async def huge(_: web.Request) -> web.Response:
        return web.Response(text="<html><body>" + "<p>words words</p>" * 100_000 + "</body></html>",
                            content_type="text/html")

    app = web.Application()
    app.router.add_get("/page.html", html_page)
    app.router.add_get("/broken.xml", broken)
    app.router.add_get("/huge.xml", huge_feed)
    app.router.add_get("/huge.html", huge)
    return await serve_app(app)


async def test_bad_feeds_and_pages_affect_only_themselves(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, bad_site: str,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    feeds = f"""
[[feeds]]
name = "html"
url = "{bad_site}/page.html"
[[feeds]]
name = "broken"
url = "{bad_site}/broken.xml"
[[feeds]]
name = "huge"
url = "{bad_site}/huge.xml"
[[feeds]]
name = "good"
url = "{news.base}/feed.xml"
"""
    path = write_config(tmp_path, news, None, hook, feeds=feeds,
                        extra_monitor="max_article_bytes = 100_000")
    daemon = Daemon(load(str(path)), str(path))
    caplog.set_level(logging.INFO)
    try:
        await daemon.run_once()
        states = {f.name: f for f in daemon.services.store.feeds()}
    finally:
        await daemon.close()
    # the HTML page is one clear error on its feed
    assert states["html"].state == "failing"
    assert "not a feed" in (states["html"].last_error or "")
    # the broken feed yields what it can, with a warning
    assert states["broken"].state == "ok" and states["broken"].warning
    # the huge article falls back to the feed's own summary, and still matches
    assert any("event=article_fallback" in r.getMessage() and "huge.html" in r.getMessage()
               for r in caplog.records)
    titles = sorted({b["article"]["title"] for b in hook.bodies()})
    assert "A very long read" in titles
    # the good feed alerted as usual
    assert any(t.startswith("Anthropic") for t in titles)
    assert states["good"].state == "ok"
    errors = [r for r in caplog.records if "event=poll status=error" in r.getMessage()]
    assert len(errors) == 1 and "feed=html" in errors[0].getMessage()


async def test_bad_rule_on_reload_keeps_the_old_config(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = write_config(tmp_path, news, None, hook)
    daemon = Daemon(load(str(path)), str(path))
    try:
        path.write_text(path.read_text().replace('"supply chain risk"\'',
                                                 '"supply chain risk\''))
        daemon.reload()
        assert any("event=reload_failed" in r.getMessage() and "quote" in r.getMessage()
                   for r in caplog.records)
        await daemon.run_once()
        assert sorted(b["rule"]["name"] for b in hook.bodies()) == ["dpa", "scr"]
    finally:
        await daemon.close()
