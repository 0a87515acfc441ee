"""Proposed wiring: entry dates, the publisher's ask, health marks; migration from v2."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy

from monitor.config import FeedSettings
from monitor.daemon import Daemon, load
from monitor.models import Entry
from monitor.store import PollRecord, Store
from monitor.store import schema as t
from monitor.testing import NewsServer, WebhookReceiver
from monitor.web import create_app
from tests.helpers import SECRET, write_config

NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)


def test_upgrade_from_v2_adds_polite_polling(db_url: str) -> None:
    engine = sqlalchemy.create_engine(db_url)
    with engine.begin() as conn:  # a version-2 database: the first two steps only
        t.schema_version.create(conn)
        conn.execute(t.schema_version.insert().values(version=2))
        for table in ("feeds", "entries"):
            conn.execute(sqlalchemy.text(f"DROP TABLE IF EXISTS {table}"))
        old = sqlalchemy.MetaData()
        for table in (t.feeds, t.articles, t.entries):
            cols = [c._copy() for c in table.columns
                    if c.name not in ("published", "publisher_ask")]
            sqlalchemy.Table(table.name, old, *cols)
        old.create_all(conn)
    engine.dispose()
    store = Store(db_url)
    assert store.migrate() == t.CURRENT_VERSION
    store.sync_feeds([FeedSettings("a", "http://127.0.0.1/a", 60)], NOW)
    feed = store.feeds()[0]
    store.record_entries(feed.id, [Entry("k", "http://127.0.0.1/1", "T",
                                         published=NOW - timedelta(days=2))], NOW)
    assert store.recent_entry_times(feed.id, NOW - timedelta(days=7), 10) == [
        NOW - timedelta(days=2)]


def test_entry_times_history_and_publisher_ask(db_url: str) -> None:
    store = Store(db_url)
    store.migrate()
    store.sync_feeds([FeedSettings("a", "http://127.0.0.1/a", 60),
                      FeedSettings("b", "http://127.0.0.1/b", 60)], NOW)
    a, b = store.feeds()
    dated = [Entry(f"k{i}", f"http://127.0.0.1/{i}", "T", published=NOW - timedelta(hours=i))
             for i in range(5)]
    store.record_entries(a.id, dated + [Entry("undated", "http://127.0.0.1/u", "U")],
                         NOW - timedelta(minutes=5))
    store.record_entries(a.id, [Entry("old", "http://127.0.0.1/o", "O")], NOW - timedelta(days=9))
    times = store.recent_entry_times(a.id, NOW - timedelta(days=7), 100)
    assert sorted(times) == sorted([e.published for e in dated if e.published]
                                   + [NOW - timedelta(minutes=5)])
    assert len(store.recent_entry_times(a.id, NOW - timedelta(days=7), 3)) == 3
    history = store.entry_history(per_feed=4)
    assert set(history) == {a.id}
    assert history[a.id][0] == NOW - timedelta(minutes=5) and len(history[a.id][1]) == 4
    claimed = store.claim_due_feeds("n", NOW, 10, lease=60)
    assert {f.id for f in claimed} == {a.id, b.id}
    store.finish_poll(a.id, "n", PollRecord("ok", NOW, publisher_ask=3600.0), NOW)
    store.finish_poll(b.id, "n", PollRecord("ok", NOW), NOW)
    asks = {f.name: f.publisher_ask for f in store.feeds()}
    assert asks == {"a": 3600.0, "b": None}


def test_mark_health_is_compare_and_set(db_url: str) -> None:
    store = Store(db_url)
    store.migrate()
    assert store.mark_health("a", None, "failing", NOW)
    assert not store.mark_health("a", None, "failing", NOW)  # another node raised it
    assert store.health_alerted() == {"a": "failing"}
    assert not store.mark_health("a", "silent", None, NOW)
    assert store.mark_health("a", "failing", "silent", NOW)
    assert store.mark_health("a", "silent", None, NOW)
    assert store.health_alerted() == {}


async def test_daemon_raises_failing_once_then_recovered(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    feeds = '[[feeds]]\nname = "Dead"\nurl = "http://127.0.0.1:1/feed.xml"\n'
    path = write_config(tmp_path, news, None, hook, feeds=feeds, extra_monitor=(
        'health_channel = "hook"\nfailing_after = "1h"\nsilent_factor = 5'))
    clock = [NOW]
    daemon = Daemon(load(str(path)), str(path), clock=lambda: clock[0])
    try:
        await daemon.run_once()
        assert daemon.services.store.feeds()[0].state == "failing"
        await daemon.check_health()
        await daemon.deliver()
        assert hook.received == []  # not failing for an hour yet
        clock[0] = NOW + timedelta(hours=2)
        await daemon.check_health()
        await daemon.check_health()
        store = daemon.services.store
        (row,) = store.list_notices()  # a notice is an outbox row, raised once
        assert (row.status, row.notice.kind, row.channel) == ("pending", "failing", "hook")
        await daemon.deliver()
        (notice,) = hook.bodies()
        assert notice["type"] == "monitor.health" and notice["state"] == "failing"
        assert notice["id"] == row.id
        assert notice["message"].startswith("feed 'Dead' failing for 2h")
        assert notice["feed"] == {"name": "Dead", "url": "http://127.0.0.1:1/feed.xml"}
        assert [r.status for r in store.list_notices()] == ["sent"]
        (feed,) = store.claim_due_feeds("fix", clock[0], 10, lease=60, force=True)
        store.finish_poll(feed.id, "fix", PollRecord("ok", clock[0]), clock[0])
        await daemon.check_health()
        await daemon.deliver()
        assert [(b["state"], b["message"]) for b in hook.bodies()][1:] == [
            ("recovered", "feed 'Dead' recovered (was failing)")]
        assert store.health_alerted() == {}
    finally:
        await daemon.close()


async def test_poll_honours_the_feeds_ttl_and_remembers_it(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from aiohttp import web

    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    rss = ('<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><ttl>180</ttl>'
           '<item><title>One</title><link>http://127.0.0.1:1/1</link></item></channel></rss>')

    async def feed(request: web.Request) -> web.Response:
        return web.Response(text=rss, content_type="application/rss+xml",
                            headers={"Cache-Control": "public, max-age=60"})

    app = web.Application()
    app.router.add_get("/ttl.xml", feed)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    feeds = f'[[feeds]]\nname = "TTL"\nurl = "{base}/ttl.xml"\n'
    path = write_config(tmp_path, news, None, hook, feeds=feeds,
                        extra_monitor='alert_on_first_poll = false')
    path.write_text(path.read_text().replace("alert_on_first_poll = true\n", "", 1))
    daemon = Daemon(load(str(path)), str(path), clock=lambda: NOW)
    try:
        await daemon.run_once()
        (state,) = daemon.services.store.feeds()
        assert state.publisher_ask == 3 * 3600.0
        assert state.next_poll_at is not None
        assert 3 * 3600 <= (state.next_poll_at - NOW).total_seconds() <= 3 * 3600 * 1.1
    finally:
        await daemon.close()
        await runner.cleanup()


async def test_a_feeds_own_interval_caps_the_adaptive_schedule(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.pipeline import JITTER

    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    feeds = f"""
[[feeds]]
name = "Capped"
url = "{news.base}/feed.xml"
interval = "3m"

[[feeds]]
name = "Adaptive"
url = "{news.base}/feed.xml?adaptive"
"""
    path = write_config(tmp_path, news, None, hook, feeds=feeds, extra_monitor=(
        'min_poll_interval = "1m"\nmax_poll_interval = "1h"\npoll_interval = "3m"'))
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # the seeds are 3 to 5 days old
    daemon = Daemon(load(str(path)), str(path), clock=lambda: now)
    try:
        for _ in range(3):  # the first poll has no history; the next ones adapt
            await daemon.run_once()
            polled = {f.name: f for f in daemon.services.store.feeds()}
            assert all(f.state == "ok" for f in polled.values())
            capped = (polled["Capped"].next_poll_at - now).total_seconds()  # type: ignore[operator]
            assert 60 <= capped <= 180 * (1 + JITTER)
        adaptive = (polled["Adaptive"].next_poll_at - now).total_seconds()  # type: ignore[operator]
        assert adaptive >= 3600 * (1 - JITTER)  # quiet for days: max_poll_interval
        # /api/feeds and the dashboard show the next poll the database holds
        app = create_app(daemon.services.store, lambda: daemon.config, clock=lambda: now)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://t") as http:
            listed = {f["name"]: f for f in (await http.get("/api/feeds")).json()["feeds"]}
            page = (await http.get("/")).text
        for name, feed in polled.items():
            assert feed.next_poll_at is not None
            assert listed[name]["next_poll_at"] == feed.next_poll_at.isoformat().replace(
                "+00:00", "Z")
        minutes = int(capped // 60)
        assert f'title="{polled["Capped"].next_poll_at:%Y-%m-%d %H:%M} UTC">in {minutes}m' in page
    finally:
        await daemon.close()


async def test_a_429_pauses_the_host_without_failing_its_other_feeds(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from aiohttp import web

    from monitor.pipeline import poll_feed

    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    rss = ('<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
           '<item><title>One</title><link>http://127.0.0.1:1/1</link></item></channel></rss>')
    limited, seen = [False], []

    async def feed(request: web.Request) -> web.Response:
        seen.append(request.path)
        if limited[0] and request.path == "/a.xml":
            return web.Response(status=429, text="slow down", headers={"Retry-After": "120"})
        return web.Response(text=rss, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/{name}.xml", feed)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    feeds = "".join(f'[[feeds]]\nname = "{n.upper()}"\nurl = "{base}/{n}.xml"\n\n' for n in "ab")
    path = write_config(tmp_path, news, None, hook, feeds=feeds)
    daemon = Daemon(load(str(path)), str(path))
    store = daemon.services.store
    try:
        await daemon.run_once()
        assert {f.name: f.state for f in store.feeds()} == {"A": "ok", "B": "ok"}
        limited[0], seen[:] = True, []
        now = datetime.now(UTC)
        a, b = store.claim_due_feeds(daemon.node, now, 10, lease=60, force=True)
        assert (await poll_feed(daemon.pipeline, a)).status == "error"
        summary = await poll_feed(daemon.pipeline, b)
        assert summary.status == "postponed" and "pause" in (summary.error or "")
        assert seen == ["/a.xml"]  # B's request was never sent
        after = {f.name: f for f in store.feeds()}
        assert (after["A"].state, after["A"].error_count) == ("failing", 1)
        assert after["A"].last_error == "HTTP 429"
        b_now = after["B"]
        assert (b_now.state, b_now.error_count, b_now.last_error) == ("ok", 0, None)
        assert b_now.claimed_by is None and b_now.next_poll_at is not None
        assert 100 <= (b_now.next_poll_at - now).total_seconds() <= 121  # when the pause ends
        assert b_now.last_polled_at == b.last_polled_at  # not polled: postponed
    finally:
        await daemon.close()
        await runner.cleanup()
