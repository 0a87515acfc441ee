"""A frozen database does not freeze the daemon (issue 16 item 4).

* PostgreSQL stops answering: a proxy in front of it drops its connections and from then
  on accepts new ones and never says a word (a black hole, as a server under SIGSTOP
  looks to a new client). A database call hangs in connect, in a thread: /healthz answers
  meanwhile (before that call's connect timeout is logged: had the call run on the
  loop, the loop would wait in it), /readyz says 503 and why, the connect timeout is one
  log line, and once the database is back /readyz says 200 again.
* PostgreSQL freezes under a pooled connection (it stays open and silent): the call on
  it fails after ``database_timeout`` plus ``WATCH_GRACE``, with one line, instead of
  waiting forever.
* A lock held by another session (``LOCK TABLE`` on PostgreSQL, an exclusive transaction
  on SQLite): the claim gives up after ``database_timeout``, one line is logged and the
  daemon polls once the lock is gone.
* A full disk (SQLite's SQLITE_FULL) fails the writes while reads work: /readyz says 503
  with the store's last error. A failed write is cleared by the next write that works
  (a lock held elsewhere, then let go): /readyz is ready at once, not a minute later.

In the first test PostgreSQL freezes while the daemon's first poll may still be under way:
its database calls, too, run in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import event

from monitor.config import Config, FeedSettings, MonitorSettings
from monitor.daemon import Daemon, load
from monitor.errors import StorageError
from monitor.store import Store
from monitor.testing import NewsServer
from monitor.web import create_app, ready
from tests.conftest import postgres_available
from tests.helpers import running, until, write_config
from tests.pgproxy import proxied_schema

WAIT = 60.0  # seconds any awaited state may take at most (a generous bound)


def timeouts_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if "event=claim_failed" in r.getMessage() and "timeout" in r.getMessage()]




@pytest.mark.postgres
async def test_a_frozen_postgresql_leaves_healthz_up_and_readyz_saying_why(
        tmp_path: Path, news: NewsServer, caplog: pytest.LogCaptureFixture) -> None:
    if not postgres_available():
        pytest.skip("no PostgreSQL server reachable at 127.0.0.1:5432")
    # back to ready once the database works again: no waiting out STORE_ERROR_RECENT
    with proxied_schema() as (switch, url):
        path = write_config(tmp_path, news, None, None, watches="", database=url,
                            extra_monitor='database_connect_timeout = "8s"\n'
                                          'database_timeout = "5s"')
        path.write_text(path.read_text().replace('web = ""', 'web = "127.0.0.1:0"'))
        daemon = Daemon(load(str(path)), str(path))
        async with running(daemon):
            await until(lambda: daemon.web is not None, WAIT, "the web server listens")
            assert daemon.web is not None
            async with httpx.AsyncClient(base_url=daemon.web.url, timeout=WAIT,
                                         trust_env=False) as http:
                async def ready_again() -> bool:
                    return (await http.get("/readyz")).status_code == 200

                for _ in range(int(WAIT)):  # ready before the freeze (the start is over)
                    if await ready_again():
                        break
                    await asyncio.sleep(1)
                assert await ready_again()
                with caplog.at_level(logging.INFO):
                    switch.freeze()
                    await until(lambda: switch.held, WAIT, "a call hangs in connect")
                    alive = await http.get("/healthz")
                    early = timeouts_logged(caplog)
                    unready = await http.get("/readyz")
                    await until(lambda: timeouts_logged(caplog), WAIT, "a timeout logged")
                assert alive.status_code == 200 and not early, early
                assert unready.status_code == 503, unready.text
                assert unready.json()["failing"][0] == "database"
                assert unready.json()["checks"]["database"].startswith(
                    ("no answer within", "unavailable:")), unready.text
                switch.thaw()
                for _ in range(int(WAIT)):
                    if await ready_again():
                        break
                    await asyncio.sleep(1)
                assert await ready_again()


@pytest.mark.postgres
async def test_a_connection_to_a_frozen_server_is_dropped_after_the_bound(
        caplog: pytest.LogCaptureFixture) -> None:
    if not postgres_available():
        pytest.skip("no PostgreSQL server reachable at 127.0.0.1:5432")
    with proxied_schema() as (switch, url):
        store = Store(url, connect_timeout=2, timeout=1)
        try:
            store.migrate()
            switch.freeze(drop=False)  # the pooled connection stays open, unanswered
            with caplog.at_level(logging.INFO), pytest.raises(StorageError):
                # without the watchdog: forever (neither side's timeouts fire)
                await asyncio.wait_for(asyncio.to_thread(store.feeds), WAIT)
            frozen = [r.getMessage() for r in caplog.records
                      if "event=database_frozen" in r.getMessage()]
            assert len(frozen) == 1, frozen
            switch.thaw()
            store.feeds()  # a new connection, once the server answers again
        finally:
            store.close()


@contextlib.contextmanager
def lock_held(db_url: str, mode: str = "ACCESS EXCLUSIVE") -> Iterator[None]:
    """Another session holds the feeds table (PostgreSQL, in ``mode``: EXCLUSIVE lets
    reads through) or the write lock (SQLite, where reads go on in WAL mode)."""
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.split("///", 1)[1], isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as pg:
        pg.execute(f"LOCK TABLE feeds IN {mode} MODE")
        try:
            yield
        finally:
            pg.rollback()


async def test_a_lock_held_elsewhere_times_out_with_one_line(
        tmp_path: Path, news: NewsServer, db_url: str,
        caplog: pytest.LogCaptureFixture) -> None:
    path = write_config(tmp_path, news, None, None, watches="", database=db_url,
                        extra_monitor='database_timeout = "1s"')
    daemon = Daemon(load(str(path)), str(path))
    try:
        with lock_held(db_url), caplog.at_level(logging.INFO):
            caplog.clear()  # the daemon's start-up lines, when an earlier test left INFO on
            await daemon.poll_due(force=True)
        failed = [r.getMessage() for r in caplog.records if "event=" in r.getMessage()]
        assert len(failed) == 1 and "event=claim_failed" in failed[0], failed
        assert any(why in failed[0] for why in (
            "lock timeout", "statement timeout", "database is locked")), failed
        assert not daemon.polls
        await daemon.run_once()  # the lock is gone: the daemon lives on and polls
        (feed,) = daemon.services.store.feeds()
        assert feed.last_polled_at is not None and feed.error_count == 0
    finally:
        await daemon.close()


async def test_readyz_fails_while_a_full_disk_fails_the_writes(tmp_path: Path) -> None:
    # SQLite's own "disk is full" (SQLITE_FULL), from a page limit at the database's
    # size: reads work, every write that grows the file fails
    db = tmp_path / "monitor.db"
    store = Store(f"sqlite:///{db}")
    store.migrate()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    event.listen(store.engine, "connect",
                 lambda dbapi_conn, _: dbapi_conn.execute(f"PRAGMA max_page_count={pages}"))
    store.engine.dispose()
    config = Config(MonitorSettings(database=f"sqlite:///{db}"))
    app = create_app(store, lambda: config)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1") as http:
            assert (await http.get("/readyz")).status_code == 200
            feeds = [FeedSettings(f"f{i}", f"https://news.example.org/{i}.xml", 600.0)
                     for i in range(2000)]
            with pytest.raises(StorageError, match="full"):
                store.sync_feeds(feeds, datetime.now(UTC))
            store.feeds()  # reads still work: the database check must not take them for ok
            full = await http.get("/readyz")
        assert full.status_code == 503, full.text
        verdict = full.json()["checks"]["database"]
        assert verdict.startswith("failing: ") and "full" in verdict, verdict
    finally:
        store.close()


async def test_readyz_is_ready_again_as_soon_as_a_write_works_after_a_failed_one(
        db_url: str) -> None:
    assert ready.STORE_ERROR_RECENT >= 60  # the default: recovery is not the error aging
    store = Store(db_url, timeout=0.5)
    store.migrate()
    config = Config(MonitorSettings(database=db_url))
    app = create_app(store, lambda: config)
    feeds = [FeedSettings("f", "https://news.example.org/f.xml", 600.0)]
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1") as http:
            assert (await http.get("/readyz")).status_code == 200
            with lock_held(db_url, "EXCLUSIVE"), pytest.raises(StorageError):
                await asyncio.to_thread(store.sync_feeds, feeds, datetime.now(UTC))
            read_only = await http.get("/readyz")  # its read works: not enough after a write
            await asyncio.to_thread(store.heartbeat, "n1", datetime.now(UTC))  # a write works
            recovered = await http.get("/readyz")
            await asyncio.to_thread(store.sync_feeds, feeds, datetime.now(UTC))
    finally:
        store.close()
    assert read_only.status_code == 503, read_only.text
    assert read_only.json()["checks"]["database"].startswith("failing: "), read_only.text
    assert recovered.status_code == 200, recovered.text
    assert [f.name for f in store.feeds()] == ["f"]  # nothing lost: the sync, done again
