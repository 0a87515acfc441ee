"""Group commit of poll outcomes (issue 17): polls ending together share a transaction,
each feed's state is durable before its claim is released, and a bad write fails alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from monitor.daemon import Daemon, load
from monitor.errors import StorageError
from monitor.store import PollRecord, PollWriter, Store
from monitor.testing import NewsServer, count_state_commits
from tests.conftest import ServeApp
from tests.helpers import write_config

FEEDS = 12
RSS = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {0}</title>'
       '<item><title>Item {0}</title><guid isPermaLink="false">item-{0}</guid>'
       "<description>Text of item {0}.</description></item></channel></rss>")


async def etag_feeds(serve_app: ServeApp) -> str:
    """``/feed/<i>.xml``: a one-item feed with an ETag, 304 when the client has it."""
    async def feed(request: web.Request) -> web.Response:
        number = request.match_info["number"]
        etag = f'"{number}-v1"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=RSS.format(number), content_type="application/rss+xml",
                            headers={"ETag": etag})

    app = web.Application()
    app.router.add_get("/feed/{number}.xml", feed)
    return await serve_app(app)


def feeds_config(base: str) -> str:
    return "".join(f'[[feeds]]\nname = "feed {i}"\nurl = "{base}/feed/{i}.xml"\n'
                   for i in range(FEEDS))


async def test_a_round_of_304s_commits_fewer_times_than_feeds(
        tmp_path: Path, news: NewsServer, serve_app: ServeApp, db_url: str) -> None:
    base = await etag_feeds(serve_app)
    path = write_config(tmp_path, news, None, None, watches="", database=db_url,
                        feeds=feeds_config(base))
    daemon = Daemon(load(str(path)), str(path))
    other = Store(db_url)  # another node: sees only what was committed
    try:
        await daemon.run_once()  # 200s: the ETags are stored
        assert all(f.etag for f in other.feeds())
        commits = count_state_commits(daemon.services.store.engine)
        started = datetime.now(UTC)
        await daemon.poll_due(force=True)
        claimed = len(commits)  # the claim itself is one commit
        records = await asyncio.gather(*daemon.polls)
        assert records and not daemon.polls
        assert 1 <= len(commits) - claimed < FEEDS, commits
        states = other.feeds()
        assert len(states) == FEEDS
        for state in states:  # durable, released, and a 304 round's outcome
            assert state.claimed_by is None and state.state == "ok"
            assert state.last_polled_at is not None and state.last_polled_at >= started
            assert state.next_poll_at is not None and state.next_poll_at > started
    finally:
        other.close()
        await daemon.close()


async def test_no_other_node_claims_a_feed_before_its_state_is_committed(
        tmp_path: Path, news: NewsServer, serve_app: ServeApp, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    base = await etag_feeds(serve_app)
    path = write_config(tmp_path, news, None, None, watches="", database=db_url,
                        feeds=feeds_config(base), extra_monitor='lease = "1s"')
    daemon = Daemon(load(str(path)), str(path))
    monkeypatch.setattr(PollWriter, "WINDOW", 1.5)  # the batch waits past the lease
    other = Store(db_url)
    try:
        await daemon.poll_due(force=True)
        writer = daemon.pipeline.polls
        for _ in range(200):  # every poll done, its outcome not yet written
            if len(writer._queue) == FEEDS:
                break
            await asyncio.sleep(0.05)
        assert len(writer._queue) == FEEDS, "the outcomes were not held for one commit"
        await daemon.heartbeat()  # as the daemon does while polls are under way
        assert other.claim_due_feeds("n2", datetime.now(UTC), 100, lease=60, force=True) == []
        assert {f.state for f in other.feeds()} == {"new"}  # nothing written yet
        await asyncio.gather(*daemon.polls)
        taken = other.claim_due_feeds("n2", datetime.now(UTC), 100, lease=60, force=True)
        assert len(taken) == FEEDS  # released, each with its state
        assert all(f.state == "ok" and f.etag and f.first_poll_done for f in taken)
    finally:
        other.close()
        await daemon.close()


class PoisonStore(Store):
    """A real store that refuses any batch holding one poisoned feed."""

    def __init__(self, url: str, poison: int) -> None:
        super().__init__(url)
        self.poison = poison
        self.batches: list[int] = []

    def finish_polls(self, writes: Any) -> None:
        self.batches.append(len(writes))
        if any(w.feed_id == self.poison for w in writes):
            raise StorageError("database error: poisoned")
        super().finish_polls(writes)

    def finish_poll(self, feed_id: int, *args: Any) -> None:
        if feed_id == self.poison:
            raise StorageError("database error: poisoned")
        super().finish_poll(feed_id, *args)


async def test_a_bad_write_fails_alone_and_an_unreachable_store_fails_the_rest(
        db_url: str) -> None:
    from monitor.config import FeedSettings

    setup = Store(db_url)
    setup.migrate()
    setup.sync_feeds([FeedSettings(f"f{i}", f"http://127.0.0.1:1/{i}", 600.0)
                      for i in range(4)], datetime.now(UTC))
    feeds = setup.claim_due_feeds("n1", datetime.now(UTC), 10, lease=60)
    setup.close()
    store = PoisonStore(db_url, poison=feeds[1].id)
    writer = PollWriter(store)
    now = datetime.now(UTC)
    try:
        results = await asyncio.gather(
            *(writer.finish(f.id, "n1", PollRecord("not_modified", now), now) for f in feeds),
            return_exceptions=True)
        assert [isinstance(r, StorageError) for r in results] == [False, True, False, False]
        assert store.batches == [4]  # one transaction tried, then one by one
        states = {f.id: f for f in store.feeds()}
        assert states[feeds[1].id].claimed_by == "n1"  # still claimed: the caller releases
        assert all(states[f.id].claimed_by is None and states[f.id].state == "ok"
                   for f in feeds if f.id != feeds[1].id)

        calls: list[int] = []

        def down(*args: Any) -> None:
            calls.append(1)
            raise StorageError("database unavailable: connection refused")

        store.finish_polls = down  # type: ignore[method-assign]
        store.finish_poll = down  # type: ignore[method-assign]
        results = await asyncio.gather(
            *(writer.finish(f.id, "n1", PollRecord("not_modified", now), now) for f in feeds),
            return_exceptions=True)
        assert all(isinstance(r, StorageError) for r in results)
        assert len(calls) == 2  # the batch, then one try: the rest are not tried in turn
    finally:
        store.close()
