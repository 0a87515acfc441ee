"""A database error during a poll is the store's, not the feed's (issue 16 item 7): the
feed's error count and state stay, one ERROR line is logged (no CRITICAL traceback), and
the claim is released for a retry ``STORE_RETRY`` seconds later, once the store is back."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor import daemon as daemon_module
from monitor.daemon import Daemon, load
from monitor.errors import StorageError
from monitor.pipeline import STORE_RETRY
from monitor.store import Store
from monitor.testing import NewsServer
from tests.helpers import write_config


def fail_first(monkeypatch: pytest.MonkeyPatch, store: Store, method: str,
               times: int) -> list[int]:
    """Make ``store.method`` raise StorageError on its first ``times`` calls; the calls."""
    real = getattr(store, method)
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) <= times:
            raise StorageError("database unavailable: connection refused")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, method, flaky)
    return calls


async def poll_with_failing(method: str, times: int, tmp_path: Path, news: NewsServer,
                            monkeypatch: pytest.MonkeyPatch,
                            caplog: pytest.LogCaptureFixture) -> tuple[Daemon, list[int]]:
    path = write_config(tmp_path, news, None, None, watches="")
    daemon = Daemon(load(str(path)), str(path))
    store = daemon.services.store
    (feed,) = store.claim_due_feeds(daemon.node, datetime.now(UTC), 10, lease=300)
    calls = fail_first(monkeypatch, store, method, times)
    with caplog.at_level(logging.INFO):
        await daemon._poll(feed)
    return daemon, calls


def assert_released_for_retry(daemon: Daemon, before: datetime,
                              caplog: pytest.LogCaptureFixture) -> None:
    (state,) = daemon.services.store.feeds()
    assert (state.state, state.error_count, state.last_error) == ("new", 0, None)
    assert state.claimed_by is None and state.next_poll_at is not None
    wait = (state.next_poll_at - before).total_seconds()
    assert STORE_RETRY - 1 <= wait <= STORE_RETRY + 60  # soon, not after the lease
    assert not [r for r in caplog.records if r.levelno >= logging.CRITICAL]
    failed = [r.getMessage() for r in caplog.records if "poll_store_failed" in r.getMessage()]
    assert len(failed) == 1 and "feed=Demo News" in failed[0], failed


@pytest.mark.parametrize("method", ["finish_poll", "seen_entries"])
async def test_a_store_error_releases_the_feed_without_blaming_it(
        method: str, tmp_path: Path, news: NewsServer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    before = datetime.now(UTC)
    daemon, calls = await poll_with_failing(method, 1, tmp_path, news, monkeypatch, caplog)
    try:
        assert calls, f"{method} was never called"
        assert any("poll_store_failed" in r.getMessage() and "connection refused"
                   in r.getMessage() for r in caplog.records)
        assert_released_for_retry(daemon, before, caplog)
    finally:
        await daemon.close()


async def test_an_article_write_failing_mid_poll_is_the_stores_error(
        tmp_path: Path, news: NewsServer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    path = write_config(tmp_path, news, None, None, watches="")
    daemon = Daemon(load(str(path)), str(path))
    try:
        store = daemon.services.store
        before = datetime.now(UTC)
        (feed,) = store.claim_due_feeds(daemon.node, before, 10, lease=300)
        writer = daemon.pipeline.writer

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise StorageError("database error: disk I/O error")

        monkeypatch.setattr(writer, "write", broken)
        with caplog.at_level(logging.INFO):
            await daemon._poll(feed)
        (state,) = store.feeds()
        assert (state.state, state.error_count, state.first_poll_done) == ("new", 0, False)
        assert state.claimed_by is None and state.next_poll_at is not None
        assert (state.next_poll_at - before).total_seconds() <= STORE_RETRY + 60
        assert not [r for r in caplog.records if r.levelno >= logging.CRITICAL]
        assert any("poll_store_failed" in r.getMessage() and "disk I/O error" in r.getMessage()
                   for r in caplog.records)
    finally:
        await daemon.close()


async def test_the_release_is_retried_until_the_store_is_back(
        tmp_path: Path, news: NewsServer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # the poll's finish_poll fails, then the release fails twice more: the store is still
    # down; the third release works and frees the feed without waiting out the lease
    monkeypatch.setattr(daemon_module, "RELEASE_RETRY", 0.05)
    before = datetime.now(UTC)
    daemon, calls = await poll_with_failing("finish_poll", 3, tmp_path, news, monkeypatch,
                                            caplog)
    try:
        assert len(calls) == 4
        assert_released_for_retry(daemon, before, caplog)
        release_logs = [r for r in caplog.records if "poll_release_failed" in r.getMessage()]
        assert len(release_logs) == 1  # one line per feed, however long the outage
    finally:
        await daemon.close()


async def test_a_real_locked_sqlite_file_mid_poll(
        tmp_path: Path, news: NewsServer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # another connection holds the write lock while the poll writes: SQLite says "database
    # is locked" (busy timeout cut to 0.2 s), a StorageError; once the lock goes the feed is
    # released for a retry soon and keeps its error count
    import sqlite3

    from sqlalchemy import event

    monkeypatch.setattr(daemon_module, "RELEASE_RETRY", 0.2)
    path = write_config(tmp_path, news, None, None, watches="")
    daemon = Daemon(load(str(path)), str(path))
    store = daemon.services.store
    event.listen(store.engine, "connect", _short_busy)  # after the store's own pragmas
    store.engine.dispose()  # new connections take the short timeout
    locker = sqlite3.connect(tmp_path / "monitor.db", isolation_level=None,
                             check_same_thread=False)
    try:
        before = datetime.now(UTC)
        (feed,) = store.claim_due_feeds(daemon.node, before, 10, lease=300)
        locker.execute("BEGIN IMMEDIATE")  # the write lock, until the release is retried
        real = store.finish_poll

        def finish_then_unlock(*args: Any, **kwargs: Any) -> None:
            try:
                real(*args, **kwargs)
            finally:
                if locker.in_transaction:
                    locker.execute("ROLLBACK")

        monkeypatch.setattr(store, "finish_poll", finish_then_unlock)
        with caplog.at_level(logging.INFO):
            await daemon._poll(feed)
        assert any("locked" in r.getMessage() for r in caplog.records
                   if "poll_store_failed" in r.getMessage())
        assert_released_for_retry(daemon, before, caplog)
    finally:
        locker.close()
        await daemon.close()


def _short_busy(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA busy_timeout=200")


async def test_the_release_gives_up_after_one_lease(
        tmp_path: Path, news: NewsServer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # the store never comes back: the poll task ends anyway (``run --once`` returns) and
    # the feed is left to its lease, still claimed, its error count untouched
    monkeypatch.setattr(daemon_module, "RELEASE_RETRY", 0.05)
    path = write_config(tmp_path, news, None, None, watches="", extra_monitor='lease = "1s"')
    daemon = Daemon(load(str(path)), str(path))
    store = daemon.services.store
    try:
        (feed,) = store.claim_due_feeds(daemon.node, datetime.now(UTC), 10, lease=300)
        calls = fail_first(monkeypatch, store, "finish_poll", 10**6)
        with caplog.at_level(logging.INFO):
            await asyncio.wait_for(daemon._poll(feed), 10)
        assert len(calls) >= 3
        (state,) = store.feeds()
        assert (state.state, state.error_count, state.claimed_by) == ("new", 0, daemon.node)
    finally:
        await daemon.close()
