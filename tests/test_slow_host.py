"""One slow response does not hold its host's other feeds (issue 16 item 5).

The feeds share one host limited to one request at a time (``per_host_connections = 1``,
the strictest politeness). The slow feed's answer is held until the test has seen the
five fast feeds polled: before the fix they queued behind it for its whole deadline. The
tests assert the order of events, not timings.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from monitor import fetch
from monitor.daemon import Daemon, load

HOLD = 20.0  # seconds the slow feed is held at most (a failing test waits this long)
FAST = 5
EMPTY_FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>
<link>http://example.org/</link><description>d</description></channel></rss>"""


async def test_a_slow_feed_does_not_hold_the_other_feeds_of_its_host(
        tmp_path: Path, serve_app: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "SLOW_AFTER", 0.2)
    events: list[str] = []
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        events.append("slow_started")
        try:
            await asyncio.wait_for(release.wait(), HOLD)
        except TimeoutError:
            pass
        events.append("slow_answered")
        return web.Response(text=EMPTY_FEED.format(name="slow"), content_type="application/xml")

    async def fast(request: web.Request) -> web.Response:
        return web.Response(text=EMPTY_FEED.format(name=request.match_info["n"]),
                            content_type="application/xml")

    app = web.Application()
    app.router.add_get("/slow.xml", slow)
    app.router.add_get("/fast{n}.xml", fast)
    base = await serve_app(app)  # type: ignore[operator]
    feeds = "".join(f'\n[[feeds]]\nname = "{n}"\nurl = "{base}/{n}.xml"\n'
                    for n in ["slow"] + [f"fast{i}" for i in range(FAST)])
    path = tmp_path / "monitor.toml"
    path.write_text(f"""
[monitor]
database = "sqlite:///{tmp_path / 'monitor.db'}"
allow_private_networks = true
per_host_connections = 1
web = ""
{feeds}""")
    daemon = Daemon(load(str(path)), str(path))
    store = daemon.services.store
    polling = asyncio.create_task(daemon.run_once())
    try:
        for _ in range(int(HOLD * 2 / 0.05)):
            polled = {f.name for f in store.feeds() if f.last_polled_at}
            if len(polled) >= FAST:
                break
            await asyncio.sleep(0.05)
        events.append(f"polled {','.join(sorted(polled))}")
        release.set()
        await polling
        fast_ones = ",".join(f"fast{i}" for i in range(FAST))
        assert events == ["slow_started", f"polled {fast_ones}", "slow_answered"], events
        assert {f.name: f.state for f in store.feeds()} == dict.fromkeys(
            ["slow"] + [f"fast{i}" for i in range(FAST)], "ok")
    finally:
        release.set()
        await daemon.close()
