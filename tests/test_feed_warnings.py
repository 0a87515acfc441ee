"""A parse warning stays until a poll parses new content cleanly; it is shown everywhere.

A real local feed server, SQLite and the daemon's own ``run_once``: a malformed feed
warns, a 304 and a byte-identical body keep the warning, a clean new body clears it. The
warning is shown by ``monitor feeds``, the dashboard and ``/api/feeds``, and ``/metrics``
counts the feed as degraded meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from monitor.cli import main
from monitor.daemon import Daemon, load
from monitor.testing import NewsServer, WebhookReceiver
from monitor.web import create_app
from tests.conftest import ServeApp
from tests.helpers import SECRET, write_config

BROKEN = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
          b"<item><title>Fish & chips</title><link>/gone/1</link><guid>1</guid></item>"
          b"</channel></rss>")
FIXED = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
         b"<item><title>Fish &amp; chips</title><link>/gone/1</link><guid>1</guid></item>"
         b"<item><title>Two</title><link>/gone/2</link><guid>2</guid></item>"
         b"</channel></rss>")


@dataclass
class FeedSite:
    """One feed; ``etag`` None serves it without an ETag (so never a 304)."""

    body: bytes = BROKEN
    etag: str | None = '"v1"'
    statuses: list[int] = field(default_factory=list)
    base: str = ""

    async def feed(self, request: web.Request) -> web.Response:
        if self.etag and request.headers.get("If-None-Match") == self.etag:
            self.statuses.append(304)
            return web.Response(status=304, headers={"ETag": self.etag})
        self.statuses.append(200)
        headers = {"ETag": self.etag} if self.etag else {}
        return web.Response(body=self.body, content_type="application/rss+xml",
                            headers=headers)


@pytest.fixture
async def site(serve_app: ServeApp) -> AsyncIterator[FeedSite]:
    found = FeedSite()
    app = web.Application()
    app.router.add_get("/feed.xml", found.feed)
    found.base = await serve_app(app)
    yield found


def feed_states(text: str) -> dict[str, float]:
    return {s.labels["state"]: s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == "monitor_feeds"}


async def test_a_warning_lasts_until_a_clean_parse_and_is_shown(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, site: FeedSite,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = write_config(tmp_path, news, None, hook,
                        feeds=f'[[feeds]]\nname = "Chippy"\nurl = "{site.base}/feed.xml"\n')
    daemon = Daemon(load(str(path)), str(path))
    store = daemon.services.store
    app = create_app(store, lambda: daemon.config)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    try:
        await daemon.run_once()
        (feed,) = store.feeds()
        assert feed.warning and "not well-formed" in feed.warning
        assert (feed.state, feed.health) == ("ok", "degraded")
        warning = feed.warning

        await daemon.run_once()  # 304: nothing parsed, the warning stays
        site.etag = None
        await daemon.run_once()  # the same bytes again: not parsed, the warning stays
        assert site.statuses == [200, 304, 200]
        (feed,) = store.feeds()
        assert feed.warning == warning and feed.health == "degraded"

        capsys.readouterr()
        assert main(["feeds", "-c", str(path)]) == 0
        out = capsys.readouterr().out
        assert "state=degraded" in out and f"warning={warning!r}" in out
        (listed,) = (await http.get("/api/feeds")).json()["feeds"]
        assert (listed["warning"], listed["health"], listed["state"]) == (
            warning, "degraded", "ok")
        page = (await http.get("/")).text
        assert 'data-state="degraded"' in page and "not well-formed" in page
        assert feed_states((await http.get("/metrics")).text)["degraded"] == 1

        site.body, site.etag = FIXED, '"v2"'  # fixed, with a new item: parsed cleanly
        await daemon.run_once()
        (feed,) = store.feeds()
        assert (feed.warning, feed.health, feed.items_seen) == (None, "ok", 2)
        states = feed_states((await http.get("/metrics")).text)
        assert (states["degraded"], states["ok"]) == (0, 1)
        capsys.readouterr()
        main(["feeds", "-c", str(path)])
        assert "warning=" not in capsys.readouterr().out
    finally:
        await http.aclose()
        await daemon.close()
