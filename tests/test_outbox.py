"""Delivery policy through the outbox, against real local receivers and a real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from monitor.alerts.email import EmailChannel
from monitor.alerts.outbox import Outbox, RetryPolicy
from monitor.alerts.webhook import WebhookChannel
from monitor.config import FeedSettings
from monitor.models import Article, Entry, Match, TermHit
from monitor.store import NewArticle, Store
from monitor.testing import MailServer, WebhookReceiver
from tests.conftest import ServeApp
from tests.helpers import Clock
from tests.store_helpers import store_article

NOW = datetime.now(UTC).replace(microsecond=0)




def store_with_alert(url: str, channel: str) -> tuple[Store, str]:
    store = Store(url)
    store.migrate()
    store.sync_feeds([FeedSettings("wire", "http://127.0.0.1/feed", 60)], NOW)
    (feed,) = store.feeds()
    article = Article("http://127.0.0.1/a", "Defense Production Act invoked", "text " * 60)
    new = NewArticle(Entry("k", article.url, article.title), article, "h", None,
                     (Match("dpa", '"Defense Production Act"', (TermHit("dpa", 1),)),))
    (alert_id,) = store_article(store, feed.id, "wire", new, {"dpa": [(channel, None)]}, NOW)
    return store, alert_id


HTTP_DATE_IN_90S = "<an HTTP date 90 s from when the receiver answers>"


@pytest.mark.parametrize(("status", "headers", "outcome", "min_delay"), [
    (200, {}, "sent", None),
    (204, {}, "sent", None),
    (500, {}, "pending", 0),
    (503, {"Retry-After": "120"}, "pending", 120),
    (503, {"Retry-After": HTTP_DATE_IN_90S}, "pending", 80),
    (429, {"Retry-After": "30"}, "pending", 30),
    (429, {"Retry-After": str(10 * 86400)}, "pending", 86400),
    (408, {}, "pending", 0),
    (301, {"Location": "/elsewhere"}, "failed", None),
    (400, {}, "failed", None),
    (404, {}, "failed", None),
    (410, {}, "pending", 0),  # held, unclaimed, until the channel is enabled again
], ids=["200", "204", "500", "503-seconds", "503-http-date", "429", "429-capped", "408", "301",
        "400", "404", "410"])
async def test_webhook_status_policy(tmp_path: Path, client: httpx.AsyncClient,
                                     serve_app: ServeApp, status: int,
                                     headers: dict[str, str], outcome: str,
                                     min_delay: float | None) -> None:
    async def answer(_: web.Request) -> web.Response:
        fresh = {k: format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
                 if v == HTTP_DATE_IN_90S else v for k, v in headers.items()}
        return web.Response(status=status, headers=fresh)

    app = web.Application()
    app.router.add_post("/hook", answer)
    base = await serve_app(app)
    store, alert_id = store_with_alert(f"sqlite:///{tmp_path / 'm.db'}", "hook")
    channel = WebhookChannel("hook", f"{base}/hook", ["s"], client)
    await Outbox(store, {"hook": channel}, policy=RetryPolicy(base=1.0), clock=Clock(NOW)).drain()
    (row,) = store.list_alerts()
    assert row.status == outcome
    if min_delay is not None:
        assert row.next_attempt_at is not None
        delay = (row.next_attempt_at - NOW).total_seconds()
        slack = 11 if min_delay == 80 else 1  # an HTTP date is read against the wall clock
        assert min_delay <= delay <= max(min_delay, 1.0) + slack, delay
        assert row.last_error
    if status == 410:
        assert store.disabled_channels() == {"hook": row.last_error}
        assert store.claim_due_alerts("n", NOW + timedelta(days=1), 10, lease=30) == []
    else:
        assert store.disabled_channels() == {}


async def test_webhook_timeout_retries(tmp_path: Path, client: httpx.AsyncClient,
                                       serve_app: ServeApp) -> None:
    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", slow)
    base = await serve_app(app)
    store, _ = store_with_alert(f"sqlite:///{tmp_path / 'm.db'}", "hook")
    channel = WebhookChannel("hook", f"{base}/hook", [], client, timeout=0.3)
    await Outbox(store, {"hook": channel}, clock=Clock(NOW)).drain()
    (row,) = store.list_alerts()
    assert row.status == "pending" and row.attempts == 1


@pytest.mark.parametrize(("reply", "outcome"), [
    (None, "sent"), ("451 4.3.0 try again later", "pending"),
    ("550 5.1.1 no such user", "failed"), ("421 4.3.2 shutting down", "pending"),
], ids=["250", "451", "550", "421"])
async def test_smtp_reply_policy(tmp_path: Path, mail: MailServer, reply: str | None,
                                 outcome: str) -> None:
    mail.handler.reply = reply
    store, _ = store_with_alert(f"sqlite:///{tmp_path / 'm.db'}", "mail")
    channel = EmailChannel("mail", ["desk@example.org"], "monitor@example.org", "127.0.0.1",
                           mail.port)
    await Outbox(store, {"mail": channel}, clock=Clock(NOW)).drain()
    (row,) = store.list_alerts()
    assert row.status == outcome
    assert len(mail.messages) == (1 if outcome == "sent" else 0)


async def test_gives_up_after_the_horizon(tmp_path: Path, hook: WebhookReceiver,
                                          client: httpx.AsyncClient) -> None:
    hook.script = [503] * 10
    store, _ = store_with_alert(f"sqlite:///{tmp_path / 'm.db'}", "hook")
    clock = Clock(NOW)
    outbox = Outbox(store, {"hook": WebhookChannel("hook", hook.url, [], client)},
                    policy=RetryPolicy(base=1.0, horizon=3600), clock=clock)
    await outbox.drain()
    assert store.list_alerts()[0].status == "pending"
    clock.now = NOW + timedelta(hours=2)
    await outbox.drain()
    (row,) = store.list_alerts()
    assert row.status == "failed" and row.attempts == 2
    ids = {h["webhook-id"] for h, _ in hook.received}
    assert ids == {row.id}


async def test_a_channel_this_node_lacks_waits_for_one_that_has_it(
        tmp_path: Path, hook: WebhookReceiver, client: httpx.AsyncClient) -> None:
    """Nodes reloaded one by one: a node whose config does not (yet) name a channel leaves
    its alerts pending and untried; a node that has the channel sends them."""
    store, alert_id = store_with_alert(f"sqlite:///{tmp_path / 'm.db'}", "new")
    await Outbox(store, {"old": WebhookChannel("old", hook.url, [], client)}, node="a",
                 clock=Clock(NOW)).drain()
    (row,) = store.list_alerts()
    assert (row.status, row.attempts, row.last_error) == ("pending", 0, None)
    assert hook.received == []
    await Outbox(store, {"new": WebhookChannel("new", hook.url, [], client)}, node="b",
                 clock=Clock(NOW)).drain()
    (row,) = store.list_alerts()
    assert row.status == "sent" and row.attempts == 1
    assert [h["webhook-id"] for h, _ in hook.received] == [alert_id]


def test_retry_keeps_the_lease_of_an_alert_being_sent(tmp_path: Path) -> None:
    """`monitor alerts retry` on an alert a node is sending right now must not hand it to a
    second node while the first still holds it (that would send it twice)."""
    store, alert_id = store_with_alert(f"sqlite:///{tmp_path / 'm.db'}", "hook")
    (row,) = store.claim_due_alerts("node-a", NOW, 10, lease=300)
    delivery = store.start_delivery(row.id, "node-a", NOW)
    assert store.retry_alert(alert_id, NOW)  # queued: due now, still node-a's for now
    assert store.claim_due_alerts("node-b", NOW, 10, lease=300) == []
    store.finish_delivery(delivery, alert_id, "retry", NOW, "receiver answered 500",
                          NOW + timedelta(seconds=10))
    assert store.retry_alert(alert_id, NOW)  # once released, a retry makes it due at once
    (again,) = store.claim_due_alerts("node-b", NOW, 10, lease=300)
    assert again.id == alert_id
