"""Hostile and flaky servers through the whole daemon: each ends within its bound, alone."""

from __future__ import annotations

import asyncio
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiohttp import web

from monitor.daemon import Daemon, load
from monitor.testing import NewsServer, WebhookReceiver
from tests.conftest import ServeApp
from tests.helpers import SECRET, Clock, write_config

MB = 1 << 20


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")



def rss(base: str, items: list[tuple[str, datetime]]) -> str:
    body = "".join(f"<item><title>{t}</title><link>{base}/a/{t}.html</link><guid>{t}</guid>"
                   f"<pubDate>{format_datetime(d)}</pubDate>"
                   f"<description>About the Defense Production Act.</description></item>"
                   for t, d in items)
    return f"<rss version='2.0'><channel><title>x</title>{body}</channel></rss>"


@pytest.fixture
async def hostile(serve_app: ServeApp) -> str:
    zeros = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = zeros.compress(b"\0" * (16 * MB))  # 16 MB of zeros -> a few KB on the wire

    async def bomb(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Encoding": "gzip",
                                           "Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        for _ in range(640):  # 10 GB decompressed, if anyone inflated it all
            await resp.write(chunk)
        return resp

    async def trickle(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        for _ in range(600):
            await resp.write(b"<")
            await asyncio.sleep(1)
        return resp

    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        while True:
            await resp.write(b"<item>" * 10_000)

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound(str(request.url))

    async def big_feed(request: web.Request) -> web.Response:
        base = f"http://127.0.0.1:{request.url.port}"
        return web.Response(text=rss(base, [("big", datetime.now(UTC))]),
                            content_type="application/rss+xml")

    async def big_article(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/html"})
        await resp.prepare(request)
        block = b"<p>" + b"filler words " * 80_000 + b"</p>"  # ~1 MB
        for _ in range(200):  # 200 MB
            await resp.write(block)
        return resp

    app = web.Application()
    for path, handler in [("/bomb.xml", bomb), ("/trickle.xml", trickle),
                          ("/endless.xml", endless), ("/loop.xml", loop),
                          ("/big.xml", big_feed), ("/a/big.html", big_article)]:
        app.router.add_get(path, handler)
    return await serve_app(app, shutdown_timeout=0.1)


async def test_hostile_servers_end_within_their_bounds(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, hostile: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    feeds = "".join(f'[[feeds]]\nname = "{n}"\nurl = "{hostile}/{n}.xml"\n'
                    for n in ("bomb", "trickle", "endless", "loop", "big"))
    feeds += f'[[feeds]]\nname = "good"\nurl = "{news.base}/feed.xml"\n'
    path = write_config(tmp_path, news, None, hook, feeds=feeds, extra_monitor=(
        'max_feed_bytes = 2_000_000\nmax_article_bytes = 2_000_000\nfetch_deadline = "2s"'))
    daemon = Daemon(load(str(path)), str(path))
    before = rss_mb()
    try:
        await asyncio.wait_for(daemon.run_once(), 60)
        states = {f.name: f for f in daemon.services.store.feeds()}
    finally:
        await daemon.close()
    assert rss_mb() - before < 150, "memory grew with the hostile bodies"
    errors = {n: (states[n].state, states[n].last_error or "") for n in states}
    assert errors["bomb"][0] == "failing" and "2000000" in errors["bomb"][1]
    assert errors["trickle"][0] == "failing" and "deadline" in errors["trickle"][1]
    assert errors["endless"][0] == "failing" and "2000000" in errors["endless"][1]
    assert errors["loop"][0] == "failing" and "redirects" in errors["loop"][1]
    # the 200 MB article is cut at the cap; its feed item's own text still matches
    assert errors["big"] == ("ok", "")
    assert errors["good"] == ("ok", "")
    titles = {b["article"]["title"] for b in hook.bodies()}
    assert "big" in titles and any(t.startswith("Anthropic") for t in titles)


@pytest.fixture
async def flaky(serve_app: ServeApp) -> tuple[str, dict[str, object]]:
    state: dict[str, object] = {"fail": True, "hits": 0}
    now = datetime.now(UTC)
    busy = [(f"b{i}", now - timedelta(minutes=i)) for i in range(20)]
    quiet = [("q0", now - timedelta(days=6))]

    async def feed(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name == "flaky":
            state["hits"] = int(state["hits"]) + 1  # type: ignore[call-overload]
            if state["fail"]:
                return web.Response(status=500)
        base = f"http://127.0.0.1:{request.url.port}"
        items = {"busy": busy, "quiet": quiet, "flaky": quiet}[name]
        return web.Response(text=rss(base, items), content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/{name}.xml", feed)
    return await serve_app(app), state


POLITE = 'min_poll_interval = "1m"\nmax_poll_interval = "2h"'


async def poll(daemon: Daemon) -> None:
    await daemon.poll_due()
    await asyncio.gather(*daemon.polls)


async def test_failing_feed_backs_off_then_recovers_by_itself(
        tmp_path: Path, news: NewsServer, flaky: tuple[str, dict[str, object]]) -> None:
    base, state = flaky
    feeds = f'[[feeds]]\nname = "flaky"\nurl = "{base}/flaky.xml"\ninterval = "5m"\n'
    path = write_config(tmp_path, news, None, None, feeds=feeds, watches="",
                        extra_monitor=POLITE)
    clock = Clock()
    daemon = Daemon(load(str(path)), str(path), clock=clock)
    delays = []
    try:
        for _ in range(5):
            await poll(daemon)
            (feed,) = daemon.services.store.feeds()
            assert feed.state == "failing" and feed.next_poll_at is not None
            delays.append((feed.next_poll_at - clock.now).total_seconds())
            clock.now = feed.next_poll_at
        assert state["hits"] == 5
        assert all(b > a for a, b in zip(delays, delays[1:], strict=False)), delays
        assert delays[-1] <= 6 * 3600 * 1.1
        state["fail"] = False  # the server recovers; nobody touches the feed
        await poll(daemon)
        (feed,) = daemon.services.store.feeds()
        assert (feed.state, feed.error_count, feed.failing_since) == ("ok", 0, None)
    finally:
        await daemon.close()


async def test_busy_feed_is_polled_more_often_than_a_quiet_one(
        tmp_path: Path, news: NewsServer, flaky: tuple[str, dict[str, object]]) -> None:
    base, _ = flaky
    feeds = "".join(f'[[feeds]]\nname = "{n}"\nurl = "{base}/{n}.xml"\n' for n in ("busy", "quiet"))
    path = write_config(tmp_path, news, None, None, feeds=feeds, watches="",
                        extra_monitor=POLITE)
    clock = Clock()
    daemon = Daemon(load(str(path)), str(path), clock=clock)
    try:
        await daemon.run_once()  # first poll: the entries are recorded
        await daemon.run_once()  # second poll: now the history tells the cadence
        gaps = {f.name: (f.next_poll_at - clock.now).total_seconds()  # type: ignore[operator]
                for f in daemon.services.store.feeds()}
    finally:
        await daemon.close()
    assert 60 * 0.9 <= gaps["busy"] < gaps["quiet"] <= 2 * 3600 * 1.1, gaps
