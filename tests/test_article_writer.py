"""Group commit: concurrent articles share a transaction, and a bad one fails alone."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import FeedSettings
from monitor.errors import StorageError
from monitor.models import Article, Entry, Match, TermHit
from monitor.store import (
    AlertedSince,
    ArticleWrite,
    ArticleWriter,
    NewArticle,
    RuleChannels,
    SameStory,
    Store,
)
from tests.conftest import pg_schema, postgres_available
from tests.store_helpers import known_keys

NOW = datetime(2026, 2, 26, 12, 0, tzinfo=UTC)


class CountingStore(Store):
    """A real store that counts its transactions and refuses one poisoned article."""

    def __init__(self, url: str, poison: str | None = None) -> None:
        super().__init__(url)
        self.batches: list[int] = []
        self.poison = poison

    def store_articles(self, batch: Sequence[ArticleWrite],
                       same_story: SameStory | None = None) -> list[list[str]]:
        if any(write.new.entry.key == self.poison for write in batch):
            raise StorageError("database error: poisoned")
        self.batches.append(len(batch))
        return super().store_articles(batch, same_story)


def article(key: str, rules: tuple[str, ...] = ("r",)) -> NewArticle:
    a = Article(f"http://127.0.0.1/{key}", f"title {key}", f"text of {key} " * 30)
    return NewArticle(Entry(key, a.url, a.title), a, f"hash-{key}", None,
                      tuple(Match(r, "q", (TermHit("t", 1),)) for r in rules))


def route_now(matches: Sequence[Match], alerted: AlertedSince) -> RuleChannels:
    return {m.rule: [("hook", None)] for m in matches}


def route_one_per_hour(matches: Sequence[Match], alerted: AlertedSince) -> RuleChannels:
    """Each rule's first story of the hour now, the rest to a digest at the top of it."""
    top = NOW.replace(minute=0) + timedelta(hours=1)
    return {m.rule: [("hook", None if alerted(m.rule, NOW - timedelta(hours=1)) < 1
                      else top)] for m in matches}


def make(db_url: str, poison: str | None = None) -> tuple[CountingStore, int]:
    store = CountingStore(db_url, poison)
    store.migrate()
    store.sync_feeds([FeedSettings("a", "http://127.0.0.1/feed", 60)], NOW)
    return store, store.feeds()[0].id


async def test_concurrent_articles_share_one_commit(db_url: str) -> None:
    store, feed = make(db_url)
    writer = ArticleWriter(store, route_now)
    try:
        results = await asyncio.gather(*(writer.write(feed, "a", article(f"k{i}"), NOW)
                                         for i in range(10)))
        assert store.batches == [10]
        assert all(len(alerts) == 1 for alerts in results)
        assert len({a for alerts in results for a in alerts}) == 10
        assert store.count_alerts() == {"pending": 10}
        assert known_keys(store, feed, [f"k{i}" for i in range(10)]) == {
            f"k{i}" for i in range(10)}
    finally:
        store.close()


async def test_a_failing_article_fails_alone(db_url: str) -> None:
    store, feed = make(db_url, poison="k2")
    writer = ArticleWriter(store, route_now)
    try:
        results = await asyncio.gather(*(writer.write(feed, "a", article(f"k{i}"), NOW)
                                         for i in range(4)), return_exceptions=True)
        assert isinstance(results[2], StorageError)
        assert [len(r) for i, r in enumerate(results) if i != 2] == [1, 1, 1]  # type: ignore[arg-type]
        assert known_keys(store, feed, ["k0", "k1", "k2", "k3"]) == {"k0", "k1", "k3"}
    finally:
        store.close()


async def test_a_cancelled_caller_still_has_its_article_stored(db_url: str) -> None:
    store, feed = make(db_url)
    writer = ArticleWriter(store, route_now)
    try:
        task = asyncio.create_task(writer.write(feed, "a", article("k0"), NOW))
        await asyncio.sleep(0)  # queued, the batch window still open
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(ArticleWriter.WINDOW * 3)
        assert known_keys(store, feed, ["k0"]) == {"k0"}
    finally:
        store.close()


async def test_routing_counts_alerts_earlier_in_the_batch(db_url: str) -> None:
    """A rate limit sees the batch's own alerts: routing runs inside the transaction."""
    store, feed = make(db_url)
    seen: list[int] = []

    def route(matches: Sequence[Match], alerted: AlertedSince) -> RuleChannels:
        seen.append(alerted("r", NOW - timedelta(hours=1)))
        return route_now(matches, alerted)

    writer = ArticleWriter(store, route)
    try:
        await asyncio.gather(*(writer.write(feed, "a", article(f"k{i}"), NOW)
                               for i in range(3)))
        assert store.batches == [3] and seen == [0, 1, 2]
    finally:
        store.close()


@pytest.mark.postgres
@pytest.mark.skipif(not postgres_available(),
                    reason="no PostgreSQL server reachable at 127.0.0.1:5432")
def test_a_rate_limit_holds_across_nodes() -> None:
    """Four nodes (PostgreSQL; SQLite runs one) store articles of one rule limited to one
    alert an hour at once: one alert goes out now, every other one waits for the digest."""
    with pg_schema() as url:
        rate_limit_across_nodes(url)


def rate_limit_across_nodes(db_url: str) -> None:
    stores = [make(db_url)[0] for _ in range(4)]
    feed = stores[0].feeds()[0].id
    start = threading.Barrier(len(stores))

    def node(n: int) -> None:
        start.wait()
        for i in range(5):
            write = ArticleWrite(feed, "a", article(f"n{n}-{i}"), route_one_per_hour, NOW)
            stores[n].store_articles([write])

    threads = [threading.Thread(target=node, args=(n,)) for n in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        rows = stores[0].list_alerts(limit=100)
        assert len(rows) == 20
        assert sum(r.digest_at is None for r in rows) == 1
    finally:
        for store in stores:
            store.close()
