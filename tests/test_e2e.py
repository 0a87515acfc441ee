"""The core pipeline end to end: a real feed server, aiosmtpd, a webhook receiver, SQLite."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from monitor.alerts.outbox import RetryPolicy
from monitor.daemon import Daemon, load
from monitor.testing import MailServer, NewsServer, SeedArticle, WebhookReceiver
from tests.helpers import SECRET, verify_standard_webhook, write_config


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)


async def daemon_for(path: Path) -> Daemon:
    return Daemon(load(str(path)), str(path))


async def test_poll_match_deliver_then_304_then_new_item(
        tmp_path: Path, news: NewsServer, mail: MailServer, hook: WebhookReceiver,
        db_url: str) -> None:
    daemon = await daemon_for(write_config(tmp_path, news, mail, hook, database=db_url))
    try:
        await daemon.run_once()
        # the seed article matches both rules; the near miss and the others match none
        subjects = sorted(str(m["Subject"]) for m in mail.messages)
        assert len(subjects) == 2, subjects
        assert all("Anthropic" in s for s in subjects)
        bodies = hook.bodies()
        assert sorted(b["rule"]["name"] for b in bodies) == ["dpa", "scr"]
        for headers, body in hook.received:
            assert verify_standard_webhook(SECRET, headers, body)
        dpa = next(b for b in bodies if b["rule"]["name"] == "dpa")
        assert dpa["article"]["url"] == f"{news.base}/articles/anthropic-pentagon.html"
        assert dpa["matches"][0]["count"] == 2
        assert "Defense Production Act" in dpa["matches"][0]["snippets"][0]
        html = next(m for m in mail.messages if "dpa" in str(m["Subject"]))
        html_part = html.get_body(("html",)).get_content()
        assert "<mark>Defense Production Act</mark>" in html_part

        # unchanged feed: a 304 and nothing sent
        await daemon.run_once()
        assert news.statuses[-1] == 304
        assert len(mail.messages) == 2 and len(hook.received) == 2

        # a new matching item: one new alert per rule and channel
        news.articles.append(SeedArticle(
            "dpa-followup", "Pentagon weighs Defense Production Act order", "2026-02-27",
            "Officials said on Friday that the Defense Production Act could be invoked. " * 8))
        await daemon.run_once()
        assert news.statuses[-1] == 200
        assert len(hook.received) == 3 and len(mail.messages) == 3
        assert hook.bodies()[-1]["article"]["title"].startswith("Pentagon weighs")
    finally:
        await daemon.close()


async def test_smtp_down_then_back_delivers_once(
        tmp_path: Path, news: NewsServer, db_url: str) -> None:
    mail = MailServer().start()
    port = mail.port
    mail.stop()  # the SMTP server is down during the poll
    daemon = await daemon_for(write_config(tmp_path, news, mail, None, database=db_url))
    daemon.outbox.policy = RetryPolicy(base=0.01)
    try:
        await daemon.run_once()
        pending = daemon.services.store.list_alerts("pending")
        assert len(pending) == 2 and all(r.attempts == 1 for r in pending)
        back = MailServer(port=port).start()
        try:
            await asyncio.sleep(0.05)
            await daemon.deliver()
            await daemon.deliver()
            assert len(back.messages) == 2
            assert daemon.services.store.count_alerts() == {"sent": 2}
        finally:
            back.stop()
    finally:
        await daemon.close()


async def test_webhook_503_twice_then_200_keeps_its_id(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, db_url: str) -> None:
    hook.script = [503, 503]
    daemon = await daemon_for(write_config(
        tmp_path, news, None, hook, watches="""
[[watch]]
name = "dpa"
query = '"Defense Production Act"'
channels = CHANNELS
""", database=db_url))
    daemon.outbox.policy = RetryPolicy(base=0.01)
    try:
        await daemon.run_once()
        for _ in range(50):
            if daemon.services.store.count_alerts() == {"sent": 1}:
                break
            await asyncio.sleep(0.02)
            await daemon.deliver()
        assert daemon.services.store.count_alerts() == {"sent": 1}
        ids = [h["webhook-id"] for h, _ in hook.received]
        assert len(ids) == 3 and len(set(ids)) == 1
        assert all(verify_standard_webhook(SECRET, h, b) for h, b in hook.received)
        assert json.loads(hook.received[0][1]) == json.loads(hook.received[2][1])
    finally:
        await daemon.close()


def quiet_first_poll(path: Path, monitor_backfill: int | None,
                     feed_backfill: int | None) -> None:
    """Make the config written by ``write_config`` not alert on the first poll, with the
    given ``backfill`` settings (None: not set)."""
    text = path.read_text().replace("alert_on_first_poll = true\n", "", 1)
    if monitor_backfill is not None:
        text = text.replace("[monitor]\n", f"[monitor]\nbackfill = {monitor_backfill}\n", 1)
    if feed_backfill is not None:
        text = text.replace('name = "Demo News"\n',
                            f'name = "Demo News"\nbackfill = {feed_backfill}\n', 1)
    path.write_text(text)


# the seeds by date, newest first: anthropic-pentagon and council-budget (both 2026-02-26,
# in feed order), port-congestion (02-25), chip-export (02-24)
BACKFILL = [
    (None, None, ["anthropic-pentagon", "council-budget", "port-congestion", "chip-export"]),
    (2, None, ["anthropic-pentagon", "council-budget"]),
    (0, None, []),
    (0, 1, ["anthropic-pentagon"]),  # the feed's own setting wins
]


@pytest.mark.parametrize(("monitor_backfill", "feed_backfill", "stored"), BACKFILL,
                         ids=["default", "two-newest", "none", "feed-override"])
async def test_first_poll_stores_the_newest_items_without_alerting(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, db_url: str,
        monitor_backfill: int | None, feed_backfill: int | None, stored: list[str],
        capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.cli import main

    path = write_config(tmp_path, news, None, hook, database=db_url)
    quiet_first_poll(path, monitor_backfill, feed_backfill)
    daemon = await daemon_for(path)
    store = daemon.services.store
    try:
        await daemon.run_once()
        rows = list(store.iter_articles())
        urls = {f"{news.base}/articles/{slug}.html" for slug in stored}
        assert {r.article.url for r in rows} == urls
        fetched = {p for p in news.requests if p.startswith("/articles/")}
        assert fetched == {f"/articles/{slug}.html" for slug in stored}  # nothing else fetched
        for row in rows:  # the page's text, extracted; not the feed's 200-character summary
            assert not row.article.from_feed and len(row.article.text) > 500, row.article.url
        assert store.count_alerts() == {} and hook.received == []
        (feed,) = store.feeds()
        assert feed.items_seen == 4 and feed.state == "ok"

        capsys.readouterr()
        code = main(["backtest", "-c", str(path), "-q", '"Defense Production Act"'])
        hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        expected = [f"{news.base}/articles/anthropic-pentagon.html"] if (
            "anthropic-pentagon" in stored) else []
        assert [h["article"]["url"] for h in hits] == expected and code == (0 if expected else 1)

        # a new item on the next poll alerts; the items already seen never do
        news.articles.append(SeedArticle(
            "dpa-followup", "Pentagon weighs Defense Production Act order", "2026-02-27",
            "Officials said on Friday that the Defense Production Act could be invoked. " * 8))
        await daemon.run_once()
        bodies = hook.bodies()
        assert [b["article"]["url"] for b in bodies] == [
            f"{news.base}/articles/dpa-followup.html"]
        assert store.count_alerts() == {"sent": 1}
    finally:
        await daemon.close()
