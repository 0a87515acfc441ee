"""A health notice is an outbox row: SIGKILL the daemon while the receiver holds the notice's
request, restart it, and the notice is delivered once more with the same webhook-id."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from monitor.config import FeedSettings
from monitor.store import PollRecord, Store
from tests.conftest import ServeApp
from tests.helpers import SECRET, start_daemon

ROOT = Path(__file__).resolve().parent.parent
DEAD = "http://127.0.0.1:1/feed.xml"


class HoldingReceiver:
    """Holds every request open while ``holding``; answers 200 once it stops holding."""

    def __init__(self) -> None:
        self.holding = True
        self.held: list[tuple[str, dict[str, object]]] = []  # (webhook-id, body)
        self.delivered: list[tuple[str, dict[str, object]]] = []
        self.release = asyncio.Event()

    async def hook(self, request: web.Request) -> web.Response:
        arrival = (request.headers["webhook-id"], json.loads(await request.read()))
        if self.holding:
            self.held.append(arrival)
            await self.release.wait()  # the sender is killed meanwhile
            return web.Response(status=503)
        self.delivered.append(arrival)
        return web.Response(text="ok")


def seed_failing_feed(db: str) -> None:
    """A feed failing for two hours, not due again for a month (no poll gets in the way)."""
    store = Store(db)
    store.migrate()
    now = datetime.now(UTC)
    store.sync_feeds([FeedSettings("Dead", DEAD, 3600)], now)
    (feed,) = store.claim_due_feeds("seed", now, 10, lease=60)
    store.finish_poll(feed.id, "seed", PollRecord("error", now + timedelta(days=30),
                                                  error="HTTP 503"), now - timedelta(hours=2))
    store.close()


def notice_rows(db: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("select id, status, attempts from notices").fetchall()


def attempts(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("select outcome from notice_deliveries order by id")]


async def until(check: Callable[[], object], seconds: float) -> bool:
    for _ in range(int(seconds / 0.1)):
        if check():
            return True
        await asyncio.sleep(0.1)
    return bool(check())


@pytest.mark.slow
async def test_a_notice_being_sent_when_the_daemon_is_killed_is_delivered_once_after_restart(
        tmp_path: Path, serve_app: ServeApp) -> None:
    receiver = HoldingReceiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.hook)
    hook_url = await serve_app(app) + "/hook"
    db = tmp_path / "monitor.db"
    seed_failing_feed(f"sqlite:///{db}")
    config = tmp_path / "monitor.toml"
    config.write_text(f"""
[monitor]
database = "sqlite:///{db}"
web = ""
delivery_interval = "200ms"
lease = "1s"
extract_workers = 1
health_channel = "hook"
failing_after = "1h"
health_interval = "1s"

[[feeds]]
name = "Dead"
url = "{DEAD}"
interval = "1h"

[channels.hook]
type = "webhook"
url = "{hook_url}"
secret_env = "E2E_WEBHOOK_SECRET"
""")
    env = {**os.environ, "E2E_WEBHOOK_SECRET": SECRET}
    log = (tmp_path / "daemon.log").open("ab")


    try:
        first = await start_daemon(config, env, log)
        try:
            assert await until(lambda: receiver.held, 30), (tmp_path / "daemon.log").read_text()
        finally:
            first.send_signal(signal.SIGKILL)  # mid-request: the outcome is never recorded
            await first.wait()
        ((held_id, held_body),) = receiver.held
        assert held_body["type"] == "monitor.health" and held_body["state"] == "failing"
        assert notice_rows(db) == [(held_id, "pending", 1)]  # claimed, attempted, not done
        assert attempts(db) == ["sending"]
        receiver.holding = False
        second = await start_daemon(config, env, log)
        try:
            assert await until(lambda: receiver.delivered and notice_rows(db)[0][1] == "sent",
                               30), (tmp_path / "daemon.log").read_text()
            await asyncio.sleep(1.5)  # more health checks and deliveries: nothing new
        finally:
            second.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(second.wait(), 30) == 0
    finally:
        receiver.release.set()
        log.close()
    ((delivered_id, body),) = receiver.delivered  # delivered once, with the same id
    assert delivered_id == held_id and body == held_body
    assert body["feed"] == {"name": "Dead", "url": DEAD}
    assert str(body["message"]).startswith("feed 'Dead' failing for 2h")
    assert notice_rows(db) == [(held_id, "sent", 2)]
    assert attempts(db) == ["interrupted", "sent"]  # the killed attempt, then the retry
