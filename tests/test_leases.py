"""A poll that outlasts its lease keeps its feed: the daemon's heartbeat renews it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from helpers import write_config

from monitor.daemon import Daemon, load
from monitor.store import Store
from monitor.testing import NewsServer, WebhookReceiver

LEASE = 1.0
PAGE_DELAY = 2.5  # each article page takes this long: the poll outlasts the lease


class SlowNews(NewsServer):
    """The seed articles, each page served after a delay."""

    async def _article(self, request: web.Request) -> web.Response:
        await asyncio.sleep(PAGE_DELAY)
        return await super()._article(request)


async def test_a_poll_longer_than_its_lease_keeps_its_feed(
        tmp_path: Path, hook: WebhookReceiver, db_url: str) -> None:
    news = await SlowNews().start()
    path = write_config(tmp_path, news, None, hook, database=db_url,
                        extra_monitor=f'lease = "{LEASE:g}s"')
    daemon = Daemon(load(str(path)), str(path))
    other = Store(db_url)  # a second node on the same database
    try:
        await daemon.poll_due(force=True)
        assert list(daemon.polls.values())  # the feed is being polled
        for _ in range(int(PAGE_DELAY / 0.25) - 1):  # well past the 1 s lease
            await asyncio.sleep(0.25)
            await daemon.heartbeat()
            now = datetime.now(UTC)
            assert other.claim_due_feeds("n2", now, 10, lease=LEASE) == [], \
                "the second node took over a feed still being polled"
        await asyncio.gather(*daemon.polls)
        assert not daemon.polls
        (feed,) = daemon.services.store.feeds()
        assert feed.claimed_by is None and feed.state == "ok"  # released when done
        assert feed.items_seen > 0
    finally:
        other.close()
        await daemon.close()
        await news.stop()
