"""Notices in the outbox: stored with the health mark that raises them, delivered with the
same leases, retries, channel states and metrics as alerts, listed by ``monitor alerts``."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import httpx
import pytest

from monitor.alerts.apprise_channel import render_notice_markdown
from monitor.alerts.outbox import Outbox, RetryPolicy
from monitor.alerts.render import notice_payload, render_notice_email
from monitor.alerts.webhook import WebhookChannel
from monitor.cli import main
from monitor.config import FeedSettings
from monitor.errors import StorageError
from monitor.metrics import Metrics
from monitor.models import Article, Entry, Match, Notice, TermHit
from monitor.store import NewArticle, Store
from monitor.testing import WebhookReceiver
from tests.helpers import Clock
from tests.store_helpers import store_article

NOW = datetime.now(UTC).replace(microsecond=0)
URL = "http://127.0.0.1:1/feed.xml"


def notice(ident: str = "n-1", kind: str = "failing", at: datetime = NOW,
           message: str = "feed 'Dead' failing for 7h: HTTP 503") -> Notice:
    return Notice(ident, at, kind, "Dead", message, URL, "hook")




def test_a_health_mark_and_its_notice_are_stored_together(db_url: str) -> None:
    store = Store(db_url)
    store.migrate()
    assert store.mark_health("Dead", None, "failing", NOW, [notice("n-1")])
    assert not store.mark_health("Dead", None, "failing", NOW, [notice("n-2")])  # lost race
    (row,) = store.list_notices()
    assert (row.notice, row.status, row.attempts, row.next_attempt_at) == (
        notice("n-1"), "pending", 0, NOW)
    broken = notice("n-3", message=None)  # type: ignore[arg-type]
    with pytest.raises(StorageError):  # the notice cannot be stored: nor is the mark moved
        store.mark_health("Dead", "failing", None, NOW, [broken])
    assert store.health_alerted() == {"Dead": "failing"}
    assert [r.id for r in store.list_notices()] == ["n-1"]
    # the generic door, for later producers: a notice's id is its identity
    assert store.enqueue_notices([notice("n-1"), notice("n-4", at=NOW + timedelta(1))]) == [
        "n-4"]
    assert [r.id for r in store.list_notices()] == ["n-4", "n-1"]
    store.close()


def test_the_outbox_listing_holds_alerts_and_notices_newest_first(db_url: str) -> None:
    store = Store(db_url)
    store.migrate()
    store.sync_feeds([FeedSettings("wire", "http://127.0.0.1/feed", 60)], NOW)
    (feed,) = store.feeds()
    article = Article("http://127.0.0.1/a", "Defense Production Act invoked", "text")
    new = NewArticle(Entry("k", article.url, article.title), article, "h", None,
                     (Match("dpa", "dpa", (TermHit("dpa", 1),)),))
    (alert_id,) = store_article(store, feed.id, "wire", new, {"dpa": [("hook", None)]}, NOW)
    store.enqueue_notices([notice("old", at=NOW - timedelta(minutes=1)),
                           notice("new", at=NOW + timedelta(minutes=1))])
    assert [r.id for r in store.list_outbox()] == ["new", alert_id, "old"]
    assert [r.id for r in store.list_outbox(limit=2)] == ["new", alert_id]
    assert [r.id for r in store.list_outbox(ids=["old", alert_id])] == [alert_id, "old"]
    assert store.list_outbox(status="sent") == []
    store.close()


async def test_notices_are_delivered_with_leases_retries_and_metrics(
        db_url: str, hook: WebhookReceiver, client: httpx.AsyncClient) -> None:
    store = Store(db_url)
    store.migrate()
    store.enqueue_notices([notice()])
    clock, metrics = Clock(NOW), Metrics(store, clock=Clock(NOW))
    outbox = Outbox(store, {"hook": WebhookChannel("hook", hook.url, ["s"], client)},
                    node="b", policy=RetryPolicy(base=60.0), clock=clock, metrics=metrics)
    assert b"monitor_outbox_depth 1.0" in metrics.render()
    (held,) = store.claim_due_notices("a", NOW, 10, lease=10)  # node a is sending it
    assert store.renew_leases("a", NOW + timedelta(seconds=5), 10, alert_ids=[held.id]) == (
        0, 1)
    clock.now = NOW + timedelta(seconds=12)  # past a's first lease, not its renewed one
    assert await outbox.drain() == 0 and hook.received == []
    hook.script = [503]
    clock.now = NOW + timedelta(seconds=16)  # a's lease ran out: b sends, the receiver fails
    assert await outbox.drain() == 0
    (row,) = store.list_notices()
    assert (row.status, row.attempts, row.last_error) == (
        "pending", 1, "receiver answered 503: ok")
    assert row.next_attempt_at is not None and row.next_attempt_at > clock.now
    clock.now = row.next_attempt_at
    assert await outbox.drain() == 1
    (row,) = store.list_notices()
    assert (row.status, row.attempts, row.sent_at) == ("sent", 2, clock.now)
    assert [h["webhook-id"] for h, _ in hook.received] == ["n-1", "n-1"]
    assert hook.bodies()[1] == {"type": "monitor.health", "id": "n-1",
                                "created_at": NOW.isoformat().replace("+00:00", "Z"),
                                "feed": {"name": "Dead", "url": URL}, "state": "failing",
                                "message": "feed 'Dead' failing for 7h: HTTP 503"}
    scraped = metrics.render().decode()
    assert 'monitor_alerts_total{channel="hook",state="retry"} 1.0' in scraped
    assert 'monitor_alerts_total{channel="hook",state="sent"} 1.0' in scraped
    assert "monitor_outbox_depth 0.0" in scraped
    store.close()


async def test_a_gone_receiver_disables_the_channel_and_the_notice_waits(
        tmp_path: Path, hook: WebhookReceiver, client: httpx.AsyncClient) -> None:
    store = Store(f"sqlite:///{tmp_path / 'm.db'}")
    store.migrate()
    store.enqueue_notices([notice()])
    hook.script = [410]
    outbox = Outbox(store, {"hook": WebhookChannel("hook", hook.url, [], client)},
                    clock=Clock(NOW))
    await outbox.drain()
    (row,) = store.list_notices()
    assert row.status == "pending" and store.disabled_channels() == {"hook": row.last_error}
    assert store.claim_due_notices("n", NOW + timedelta(days=1), 10, lease=30) == []
    store.enable_channel("hook", NOW)
    await outbox.drain()
    assert [r.status for r in store.list_notices()] == ["sent"]
    store.close()


def test_notice_renders_as_health_webhook_email_and_markdown() -> None:
    n = Notice("01JNOTICE", datetime(2026, 3, 11, 12, 0, tzinfo=UTC), "silent", "<b>Wire</b>",
               "feed '<b>Wire</b>' silent: no new entry for 3d 4h (usually one every 2h)",
               "https://news.example/feed?a=1&b=2", "ops")
    assert notice_payload(n)["type"] == "monitor.health"
    assert notice_payload(n)["state"] == "silent"
    msg = render_notice_email(n, "monitor@example.org", ["desk@example.org"])
    assert msg["Subject"] == ("[monitor] feed health: silent: feed '<b>Wire</b>' silent: no "
                              "new entry for 3d 4h (usually one every 2h)")
    assert msg["Message-ID"] == "<notice.01JNOTICE@example.org>"
    assert msg["X-Monitor-Notice-Id"] == "01JNOTICE"
    assert msg["List-Id"] == "monitor ops <monitor.ops.local>"
    parsed = email.message_from_bytes(msg.as_bytes(), policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None and html is not None
    assert "no new entry for 3d 4h" in text.get_content()
    assert "https://news.example/feed?a=1&b=2" in text.get_content()
    assert "<b>Wire</b>" not in html.get_content()  # feed text is data, never markup
    assert "&lt;b&gt;Wire&lt;/b&gt;" in html.get_content()
    assert '<a href="https://news.example/feed?a=1&amp;b=2">' in html.get_content()
    title, body = render_notice_markdown(n)
    assert title == msg["Subject"]
    assert "\\<b\\>Wire\\</b\\>" in body and "<b>" not in body


def test_monitor_alerts_lists_notices_and_retries_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'monitor.db'}"
    config = tmp_path / "monitor.toml"
    config.write_text(f'[monitor]\ndatabase = "{db}"\nweb = ""\n\n'
                      f'[[feeds]]\nname = "Dead"\nurl = "{URL}"\n\n'
                      '[[watch]]\nname = "dpa"\nquery = "dpa"\nchannels = ["hook"]\n\n'
                      '[channels.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:9/hook"\n')
    store = Store(db)
    store.migrate()
    store.enqueue_notices([notice()])
    delivery = store.start_notice_delivery("n-1", "n", NOW)
    store.finish_notice_delivery(delivery, "n-1", "failed", NOW, "receiver answered 400")
    assert main(["alerts", "-c", str(config)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("n-1  failed  channel=hook created=")
    assert (" attempts=1 notice=failing feed='Dead' url=http://127.0.0.1:1/feed.xml "
            "message=\"feed 'Dead' failing for 7h: HTTP 503\" "
            "error='receiver answered 400'") in line
    assert main(["alerts", "-c", str(config), "retry", "--failed"]) == 0
    assert capsys.readouterr().out == "notice n-1 queued for delivery on hook\n"
    assert [r.status for r in store.list_notices()] == ["pending"]
    store.close()
