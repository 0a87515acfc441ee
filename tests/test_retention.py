"""Retention: old unmatched articles and old entries are pruned in small batches, keeping
the articles hits and alerts point at and every item a feed still lists; /metrics shows the
database's size and the rows pruned; the daemon runs the job on its own."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.daemon import Daemon, load
from monitor.retention import Retention
from monitor.store import Store
from monitor.testing import NewsServer, WebhookReceiver
from tests.helpers import SECRET, Clock, write_config

DAY = timedelta(days=1)


def texts(store: Store) -> dict[int, str]:
    return {a.id: a.article.text for a in store.iter_articles()}


def metric(daemon: Daemon, name: str) -> float:
    """The sample ``name`` of /metrics; 0 while it has none (a counter not yet counted)."""
    found = re.search(rf"^{re.escape(name)} (\S+)$", daemon.metrics.render().decode(), re.M)
    return float(found.group(1)) if found else 0.0


async def started(tmp_path: Path, news: NewsServer, hook: WebhookReceiver, db_url: str,
                  monkeypatch: pytest.MonkeyPatch, clock: Clock, extra: str = "") -> Daemon:
    """A daemon that polled the seed feed once, at ``clock``'s time."""
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = write_config(tmp_path, news, None, hook, database=db_url, extra_monitor=extra)
    daemon = Daemon(load(str(path)), str(path), clock=clock)
    await daemon.run_once()
    return daemon


async def test_old_unmatched_articles_go_in_batches_matched_ones_stay_whole(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    daemon = await started(tmp_path, news, hook, db_url, monkeypatch, clock)
    store = daemon.services.store
    try:
        before = texts(store)
        alerted = {a.article_id for a in store.list_alerts(None, None, "hook")}
        assert len(before) == 4 and len(alerted) == 1  # one article matched both rules
        settings = replace(daemon.config.monitor.retention, retention_batch=1)
        calls: list[tuple[int, int | None]] = []
        prune = store.prune_articles

        def counted(*args: Any) -> tuple[int, int | None]:
            calls.append(result := prune(*args))
            return result

        monkeypatch.setattr(store, "prune_articles", counted)
        job = Retention(store, clock, daemon.metrics)
        clock.now += 29 * DAY
        assert (await job.run(settings)).articles == 0  # not 30 days old yet
        assert texts(store) == before
        clock.now += 2 * DAY
        calls.clear()
        assert (await job.run(settings)).articles == 3

        assert texts(store) == {i: text for i, text in before.items() if i in alerted}
        # one article looked at per transaction, then one that finds none left
        assert [last for _, last in calls] == [*sorted(before), None]
        assert [n for n, _ in calls] == [int(i not in alerted) for i in sorted(before)] + [0]
        assert metric(daemon, 'monitor_retention_pruned_total{kind="articles"}') == 3
        assert metric(daemon, "monitor_database_bytes") > 0

        job = Retention(store, clock, daemon.metrics)  # as after a restart: all looked at again
        assert (await job.run(settings)).articles == 0
        alerts = store.list_alerts(None, None, "hook")
        assert {a.article_id for a in alerts} == alerted
        assert [a.id for a in store.iter_articles()] == sorted(alerted)

        news.articles = [*news.articles]  # a new document, the same items: none is new
        news.articles.append(replace(news.articles[0], slug="x", title="Other", body="Other."))
        asked = len(news.requests)
        await daemon.run_once()
        assert news.requests[asked:] == ["/feed.xml", "/articles/x.html"]
        assert len(store.list_alerts(None, None, "hook")) == len(alerts)
    finally:
        await daemon.close()


async def test_entries_go_once_their_feed_stops_listing_them_never_while_it_does(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    t0 = clock.now
    daemon = await started(tmp_path, news, hook, db_url, monkeypatch, clock)
    store = daemon.services.store
    try:
        (feed,) = store.feeds()
        keys = [f"{news.base}/articles/{a.slug}.html" for a in news.articles]
        alerts = len(store.list_alerts(None, None, "hook"))
        settings = replace(daemon.config.monitor.retention, article_text_days=0,
                           retention_batch=1)
        job = Retention(store, clock, daemon.metrics)
        clock.now = t0 + 500 * DAY  # the feed unchanged (304) since: all it lists stays
        assert (await job.run(settings)).entries == 0
        assert set(store.known_versions(feed.id, keys)) == set(keys)

        listed, dropped = news.articles[2:], news.articles[:2]
        news.articles = listed
        clock.now = t0 + 501 * DAY
        await daemon.run_once()  # still lists two items: they are marked as listed
        clock.now = t0 + 600 * DAY
        assert (await job.run(settings)).entries == 2
        kept = set(store.known_versions(feed.id, keys))
        assert kept == {f"{news.base}/articles/{a.slug}.html" for a in listed}
        assert metric(daemon, 'monitor_retention_pruned_total{kind="entries"}') == 2

        # the items still listed, in a new document: only the new item is fetched
        news.articles = [*listed, replace(listed[0], slug="other", title="Weather turns cold",
                                          body="Cold weather is expected all week.")]
        asked = len(news.requests)
        await daemon.run_once()
        assert news.requests[asked:] == ["/feed.xml", "/articles/other.html"]
        assert len(store.list_alerts(None, None, "hook")) == alerts
        assert dropped
    finally:
        await daemon.close()


async def test_the_daemon_runs_the_retention_job(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    daemon = await started(tmp_path, news, hook, db_url, monkeypatch, clock,
                           extra='retention_interval = "1s"\nretention_batch = 1')
    store = daemon.services.store
    before = texts(store)
    clock.now += 31 * DAY
    running = asyncio.create_task(daemon.run())
    try:
        for _ in range(200):
            counted = metric(daemon, 'monitor_retention_pruned_total{kind="articles"}')
            if counted == 3:  # counted once each batch's transaction returned
                break
            await asyncio.sleep(0.05)
        (kept,) = texts(store)
        assert {a.article_id for a in store.list_alerts(None, None, "hook")} == {kept}
        assert texts(store)[kept] == before[kept]
        assert metric(daemon, 'monitor_retention_pruned_total{kind="articles"}') == 3
    finally:
        daemon.stopping.set()
        assert await asyncio.wait_for(running, 30) == 0
        await daemon.close()
