"""Group commit: the writes of concurrent polls, a few per transaction.

Each write is a transaction, and with SQLite's synchronous=FULL each commit is an fsync
(run in a thread, off the event loop). Writes that arrive within ``WINDOW`` seconds of each
other are committed in one transaction instead. Every caller still gets its answer only
after its commit, so nothing is acknowledged before it is durable. If a batch fails, its
writes are tried one by one, so a bad one fails alone (unless the database cannot be
reached at all: then the rest fail with that error, untried).

``ArticleWriter`` stores articles (bench/pipeline.py: one commit per few articles);
``PollWriter`` records the outcome of polls and releases their feeds (bench/poll.py
``--store``: a round of 304s commits a few times, not once per feed). A feed's state and
the release of its lease are one statement, so no other node can claim the feed before
its state is durable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Generic, TypeVar

from monitor.dedup import same_story
from monitor.errors import StorageError
from monitor.models import Entry
from monitor.store.db import Store
from monitor.store.records import ArticleWrite, NewArticle, PollRecord, PollWrite, Router

log = logging.getLogger(__name__)

_W = TypeVar("_W")
_R = TypeVar("_R")
UNREACHABLE = "database unavailable"  # how Transaction names a failed connect


class GroupCommit(Generic[_W, _R]):
    """Commits the writes of many concurrent callers, a few per transaction."""

    WINDOW = 0.02
    MAX_BATCH = 64

    def __init__(self) -> None:
        self._queue: list[tuple[_W, asyncio.Future[_R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def _submit(self, write: _W) -> _R:
        future: asyncio.Future[_R] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)  # a cancelled caller's error is not "lost"
        self._queue.append((write, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await asyncio.shield(future)  # a cancelled caller leaves the batch alone

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(self.WINDOW)
        finally:  # cancelled (shutdown) or not, what was handed over is stored
            await self._drain()

    async def _drain(self) -> None:
        """Commit the queue a batch at a time, in a thread (a commit waits for the disk)."""
        while self._queue:
            batch, self._queue = self._queue[:self.MAX_BATCH], self._queue[self.MAX_BATCH:]
            outcomes = await asyncio.to_thread(self._store, [w for w, _ in batch])
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _store(self, batch: list[_W]) -> list[_R | Exception]:
        if len(batch) > 1:
            try:
                return list(self.commit(batch))
            except Exception:  # noqa: BLE001 - retried one by one, each gets its own error
                pass
        outcomes: list[_R | Exception] = []
        for write in batch:
            down = next((o for o in outcomes if isinstance(o, StorageError)
                         and str(o).startswith(UNREACHABLE)), None)
            outcomes.append(down if down is not None else self._store_one(write))
        return outcomes

    def _store_one(self, write: _W) -> _R | Exception:
        try:
            return self.commit_one(write)
        except Exception as e:  # noqa: BLE001 - handed to the one caller
            self.failed(write, e)
            return e

    def commit(self, batch: Sequence[_W]) -> Sequence[_R]:
        """Commit ``batch`` in one transaction; each write's result, in order."""
        raise NotImplementedError

    def commit_one(self, write: _W) -> _R:
        """Commit one write on its own."""
        return self.commit([write])[0]

    def failed(self, write: _W, error: Exception) -> None:
        """Log a write that failed on its own (its caller gets ``error``)."""


class ArticleWriter(GroupCommit[ArticleWrite, list[str]]):
    """Stores articles for many concurrent callers, a few per transaction."""

    def __init__(self, store: Store, route: Router) -> None:
        super().__init__()
        self.store = store
        self.route = route

    async def write(self, feed_id: int, feed_name: str, new: NewArticle,
                    now: datetime, route: Router | None = None) -> list[str]:
        """Store one article (its entry, matches and alerts); its alert ids.

        Where its alerts go (now, or a digest when a rule is over its rate) is decided
        inside the transaction that stores it (see ``Store.store_articles``), by ``route``
        if given, else by the writer's router."""
        return await self._submit(ArticleWrite(feed_id, feed_name, new, route or self.route,
                                               now))

    def commit(self, batch: Sequence[ArticleWrite]) -> list[list[str]]:
        return self.store.store_articles(batch, same_story)

    def failed(self, write: ArticleWrite, error: Exception) -> None:
        log.error("event=article_store_failed url=%s error=%r", write.new.article.url,
                  str(error))


class PollWriter(GroupCommit[PollWrite, None]):
    """Records the outcome of many concurrent polls, a few per transaction.

    ``batch`` False: each poll commits alone (``Store.finish_poll``), as before group
    commit; bench/poll.py measures one against the other."""

    def __init__(self, store: Store, batch: bool = True) -> None:
        super().__init__()
        self.store = store
        self.batch = batch

    async def finish(self, feed_id: int, node: str, record: PollRecord, now: datetime,
                     seen: Sequence[Entry] = ()) -> None:
        """Write what a poll found (and the entries it only marks ``seen``) and release the
        feed, once committed. StorageError if the commit failed: the feed is still claimed."""
        write = PollWrite(feed_id, node, record, now, tuple(seen))
        if not self.batch:
            await asyncio.to_thread(self.commit_one, write)
            return
        await self._submit(write)

    def commit(self, batch: Sequence[PollWrite]) -> list[None]:
        self.store.finish_polls(batch)
        return [None] * len(batch)

    def commit_one(self, write: PollWrite) -> None:
        if write.seen:
            self.store.finish_polls([write])
        else:  # the one-feed call, as release_after_store_error makes it
            self.store.finish_poll(write.feed_id, write.node, write.record, write.now)


def _retrieved(future: asyncio.Future[_R]) -> None:
    if not future.cancelled():
        future.exception()  # the caller logs it; if it was cancelled, nobody needs to
