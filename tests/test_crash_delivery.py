"""SIGKILL the daemon at 20 random moments while it delivers 50 alerts to a slow receiver."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from monitor.config import FeedSettings
from monitor.models import Article, Entry, Match, TermHit
from monitor.store import NewArticle, Store
from tests.conftest import ServeApp
from tests.helpers import SECRET, start_daemon
from tests.store_helpers import store_article

ROOT = Path(__file__).resolve().parent.parent
ALERTS = 50
KILLS = 20


class SlowReceiver:
    """Answers one request at a time, slowly, so a kill always finds deliveries in flight."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[str, str]] = []  # (webhook-id, article url)
        self.lock = asyncio.Lock()

    async def hook(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.arrivals.append((request.headers["webhook-id"], body["article"]["url"]))
        async with self.lock:
            await asyncio.sleep(0.15)
        return web.Response(text="ok")


def seed_outbox(db: str) -> set[str]:
    store = Store(db)
    store.migrate()
    now = datetime.now(UTC)
    store.sync_feeds([FeedSettings("wire", "http://127.0.0.1:9/feed", 3600)], now)
    (feed,) = store.feeds()
    ids: set[str] = set()
    for i in range(ALERTS):
        article = Article(f"http://127.0.0.1:9/a/{i}", f"Story {i}", "Defense Production Act")
        new = NewArticle(Entry(f"k{i}", article.url, article.title), article, f"h{i}", None,
                         (Match("dpa", '"Defense Production Act"', (TermHit("dpa", 1),)),))
        ids.update(store_article(store, feed.id, "wire", new, {"dpa": [("hook", None)]}, now))
    store.close()
    return ids


def sent(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute("select count(*) from alerts where status='sent'").fetchone()[0]


@pytest.mark.slow
async def test_no_alert_lost_across_20_sigkills(tmp_path: Path, serve_app: ServeApp) -> None:
    receiver = SlowReceiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.hook)
    hook_url = await serve_app(app) + "/hook"
    db = tmp_path / "monitor.db"
    ids = seed_outbox(f"sqlite:///{db}")
    config = tmp_path / "monitor.toml"
    config.write_text(f"""
[monitor]
database = "sqlite:///{db}"
web = ""
delivery_interval = "200ms"
lease = "1s"
extract_workers = 1

[[feeds]]
name = "wire"
url = "http://127.0.0.1:9/feed"
interval = "1h"

[[watch]]
name = "dpa"
query = '"Defense Production Act"'
channels = ["hook"]

[channels.hook]
type = "webhook"
url = "{hook_url}"
secret_env = "E2E_WEBHOOK_SECRET"
""")
    rng = random.Random(20261126)
    env = {**os.environ, "E2E_WEBHOOK_SECRET": SECRET}
    log = (tmp_path / "daemon.log").open("ab")


    try:
        kills = 0
        while kills < KILLS and sent(db) < ALERTS:
            proc = await start_daemon(config, env, log)
            before = len(receiver.arrivals)
            for _ in range(100):  # wait until this run is delivering
                if len(receiver.arrivals) > before:
                    break
                await asyncio.sleep(0.15)
            await asyncio.sleep(rng.uniform(0.0, 0.4))
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            kills += 1
        final = await start_daemon(config, env, log)
        for _ in range(300):
            if sent(db) == ALERTS:
                break
            await asyncio.sleep(0.1)
        final.send_signal(signal.SIGTERM)
        await asyncio.wait_for(final.wait(), 30)
    finally:
        log.close()
    assert kills == KILLS, "the daemon finished before it could be killed 20 times"
    assert sent(db) == ALERTS
    by_url: dict[str, set[str]] = defaultdict(set)
    for webhook_id, url in receiver.arrivals:
        by_url[url].add(webhook_id)
    assert len(by_url) == ALERTS  # every alert arrived at least once
    assert all(len(v) == 1 for v in by_url.values())  # duplicates keep their first id
    assert {i for v in by_url.values() for i in v} == ids
