"""Group commit for the articles of concurrent polls.

Each stored article is a transaction, and with SQLite's synchronous=FULL each commit is an
fsync (run in a thread, off the event loop). Articles that finish within ``WINDOW`` seconds of each
other are stored in one transaction instead (bench/pipeline.py: one commit per few
articles). Every caller still gets its answer only after its commit, so nothing is
acknowledged before it is durable. If a batch fails, its articles are stored one by one,
so a bad one fails alone.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from monitor.dedup import same_story
from monitor.store.db import Store
from monitor.store.records import ArticleWrite, NewArticle, Router

log = logging.getLogger(__name__)


class ArticleWriter:
    """Stores articles for many concurrent callers, a few per transaction."""

    WINDOW = 0.02
    MAX_BATCH = 64

    def __init__(self, store: Store, route: Router) -> None:
        self.store = store
        self.route = route
        self._queue: list[tuple[ArticleWrite, asyncio.Future[list[str]]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, feed_id: int, feed_name: str, new: NewArticle,
                    now: datetime, route: Router | None = None) -> list[str]:
        """Store one article (its entry, matches and alerts); its alert ids.

        Where its alerts go (now, or a digest when a rule is over its rate) is decided
        inside the transaction that stores it (see ``Store.store_articles``), by ``route``
        if given, else by the writer's router."""
        future: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)  # a cancelled caller's error is not "lost"
        write = ArticleWrite(feed_id, feed_name, new, route or self.route, now)
        self._queue.append((write, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await asyncio.shield(future)  # a cancelled poll leaves the batch alone

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(self.WINDOW)
        finally:  # cancelled (shutdown) or not, what was handed over is stored
            await self._drain()

    async def _drain(self) -> None:
        """Store the queue a batch at a time, in a thread (a commit waits for the disk)."""
        while self._queue:
            batch, self._queue = self._queue[:self.MAX_BATCH], self._queue[self.MAX_BATCH:]
            outcomes = await asyncio.to_thread(self._store, [w for w, _ in batch])
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _store(self, batch: list[ArticleWrite]) -> list[list[str] | Exception]:
        try:
            return list(self.store.store_articles(batch, same_story))
        except Exception:  # noqa: BLE001 - retried one by one, each gets its own error
            return [self._store_one(write) for write in batch]

    def _store_one(self, write: ArticleWrite) -> list[str] | Exception:
        try:
            return self.store.store_articles([write], same_story)[0]
        except Exception as e:  # noqa: BLE001 - handed to the one caller
            log.error("event=article_store_failed url=%s error=%r", write.new.article.url,
                      str(e))
            return e


def _retrieved(future: asyncio.Future[list[str]]) -> None:
    if not future.cancelled():
        future.exception()  # the caller logs it; if it was cancelled, nobody needs to
