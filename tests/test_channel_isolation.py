"""One bad channel delays only itself: an SMTP server that accepts and never greets, or a
webhook that never answers, holds its own channel's round while the others' alerts go out,
round after round; the stuck alerts time out and are retried, not lost. Real servers on
127.0.0.1, bounded in time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from monitor import metrics as metrics_module
from monitor.alerts.email import EmailChannel
from monitor.alerts.outbox import Outbox
from monitor.alerts.webhook import WebhookChannel
from monitor.config import FeedSettings
from monitor.daemon import Daemon, load
from monitor.errors import DeliveryError
from monitor.metrics import Metrics
from monitor.models import Alert, Article, Entry, Match, TermHit
from monitor.store import NewArticle, Store
from monitor.testing import MailServer, NewsServer, WebhookReceiver
from monitor.web import create_app
from tests.helpers import SECRET, Clock, write_config
from tests.store_helpers import store_article

NOW = datetime.now(UTC).replace(microsecond=0)




@pytest.fixture
async def silent() -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 that accepts and never says a word (no SMTP greeting, no
    HTTP response); the port."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


class Articles:
    """Stores articles whose match alerts every given channel."""

    def __init__(self, tmp_path: Path, store: Store | None = None) -> None:
        if store is None:
            store = Store(f"sqlite:///{tmp_path / 'm.db'}")
            store.migrate()
            store.sync_feeds([FeedSettings("wire", "http://127.0.0.1/feed", 60)], NOW)
        self.store = store
        self.feed = store.feeds()[0]
        self.count = 0

    def add(self, n: int, channels: tuple[str, ...]) -> None:
        for _ in range(n):
            self.count += 1
            url = f"http://127.0.0.1/a{self.count}"
            article = Article(url, f"Story number {self.count}", "text " * 60)
            new = NewArticle(Entry(f"k{self.count}", url, article.title), article,
                             f"h{self.count}", None,
                             (Match("dpa", '"story"', (TermHit("story", 1),)),))
            store_article(self.store, self.feed.id, self.feed.name, new,
                          {"dpa": [(c, None) for c in channels]}, NOW)

    def sent(self, channel: str) -> int:
        return sum(1 for a in self.store.list_alerts("sent", limit=None)
                   if a.channel == channel)


async def rounds(outbox: Outbox, check: Callable[[], bool], within: float) -> float:
    """Run the daemon's delivery job (``drain(wait=False)``) every 0.1 s until ``check()``
    holds; the seconds it took. Fails after ``within``."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < within, "timed out waiting"
        assert await outbox.drain(wait=False) == 0  # starts the rounds, returns at once
        await asyncio.sleep(0.1)
    return time.monotonic() - start


def gauge(metrics: Metrics, name: str, channel: str) -> float:
    value = metrics.registry.get_sample_value(name, {"channel": channel})
    assert value is not None
    return value


async def test_smtp_that_never_greets_delays_only_its_own_channel(
        tmp_path: Path, client: httpx.AsyncClient, silent: int, hook: WebhookReceiver) -> None:
    articles = Articles(tmp_path)
    articles.add(12, ("mail", "hook"))
    mail = EmailChannel("mail", ["ops@example.org"], "monitor@example.org", "127.0.0.1",
                        silent, timeout=1.0)
    metrics = Metrics()
    outbox = Outbox(articles.store, {"mail": mail,
                                     "hook": WebhookChannel("hook", hook.url, [], client)},
                    clock=Clock(NOW), metrics=metrics, concurrency=4)

    await rounds(outbox, lambda: articles.sent("hook") == 12, within=3.0)
    assert articles.sent("mail") == 0 and "mail" in outbox.lanes  # mail still stuck

    # The next round: mail's round is still under way, the webhook's new alerts go at once.
    articles.add(12, ("mail", "hook"))
    await rounds(outbox, lambda: articles.sent("hook") == 24, within=3.0)
    assert articles.sent("mail") == 0 and "mail" in outbox.lanes
    # The stuck channel shows in /metrics: four sends under way (its cap), for a while.
    assert gauge(metrics, "monitor_channel_inflight", "mail") == 4
    assert gauge(metrics, "monitor_channel_inflight", "hook") == 0
    assert gauge(metrics, "monitor_channel_oldest_send_seconds", "mail") > 0
    assert b'monitor_channel_inflight{channel="mail"} 4.0' in metrics.render()

    # Every SMTP greeting times out after 1 s: the first round's alerts are retried later.
    await outbox.drain()  # waits for every round under way
    mails = [a for a in articles.store.list_alerts(limit=None) if a.channel == "mail"]
    retried = [a for a in mails if a.attempts == 1]
    assert len(retried) >= 12 and all(a.status == "pending" for a in mails)
    assert all("timed out" in (a.last_error or "") for a in retried)
    assert all(a.next_attempt_at is not None and a.next_attempt_at > NOW for a in retried)
    assert gauge(metrics, "monitor_channel_failures_in_a_row", "mail") >= 12
    assert gauge(metrics, "monitor_channel_failures_in_a_row", "hook") == 0
    assert gauge(metrics, "monitor_channel_inflight", "mail") == 0


async def test_stuck_mail_is_retried_and_delivered_once_the_server_works(
        tmp_path: Path, silent: int) -> None:
    articles = Articles(tmp_path)
    articles.add(3, ("mail",))
    clock = Clock(NOW)
    stuck = EmailChannel("mail", ["ops@example.org"], "monitor@example.org", "127.0.0.1",
                         silent, timeout=0.5)
    assert await Outbox(articles.store, {"mail": stuck}, clock=clock).drain() == 0
    server = MailServer().start()
    try:
        clock.now = NOW + timedelta(hours=1)  # past every retry's backoff
        works = EmailChannel("mail", ["ops@example.org"], "monitor@example.org",
                             "127.0.0.1", server.port, timeout=5.0)
        assert await Outbox(articles.store, {"mail": works}, clock=clock).drain() == 3
        assert len(server.messages) == 3
    finally:
        server.stop()
    assert articles.sent("mail") == 3


async def test_webhook_that_never_answers_does_not_delay_another(
        tmp_path: Path, client: httpx.AsyncClient, silent: int, hook: WebhookReceiver) -> None:
    articles = Articles(tmp_path)
    articles.add(6, ("dead", "live"))
    dead = WebhookChannel("dead", f"http://127.0.0.1:{silent}/hook", [], client, timeout=3.0)
    live = WebhookChannel("live", hook.url, [], client)
    metrics = Metrics()
    outbox = Outbox(articles.store, {"dead": dead, "live": live}, clock=Clock(NOW),
                    metrics=metrics)
    await rounds(outbox, lambda: articles.sent("live") == 6, within=2.0)
    assert "dead" in outbox.lanes
    articles.add(6, ("dead", "live"))  # the next rounds, while "dead" still waits for answers
    await rounds(outbox, lambda: articles.sent("live") == 12, within=2.0)
    assert "dead" in outbox.lanes and articles.sent("dead") == 0
    assert gauge(metrics, "monitor_channel_inflight", "dead") == 6
    await outbox.drain()
    deads = [a for a in articles.store.list_alerts(limit=None) if a.channel == "dead"]
    assert all(a.status == "pending" for a in deads)
    assert sum(a.attempts for a in deads) >= 6
    assert all("timed out" in (a.last_error or "") for a in deads if a.attempts)


async def stop(daemon: Daemon, running: asyncio.Task[int]) -> None:
    """Stop a running daemon whose stuck channel lanes would never end on their own."""
    daemon.stopping.set()
    await running
    lanes = list(daemon.outbox.lanes.values())
    for lane in lanes:
        lane.cancel()
    if lanes:
        await asyncio.wait(lanes)
    await daemon.close()


async def test_the_daemons_delivery_job_goes_on_while_smtp_never_greets(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, silent: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The running daemon (delivery job every 1 s): its mail channel's SMTP server never
    greets (the channel's timeout is the default 30 s); alerts written after the first
    round still reach the webhook within seconds."""
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    monkeypatch.setattr(metrics_module, "STALL_AFTER", 1.0)
    path = write_config(tmp_path, news, MailServer(port=silent), hook)
    daemon = Daemon(load(str(path)), str(path))
    store = daemon.services.store

    def sent(channel: str) -> int:
        return sum(1 for a in store.list_alerts("sent", limit=None) if a.channel == channel)

    running = asyncio.create_task(daemon.run())
    try:
        start = time.monotonic()
        while not (sent("hook") and "mail" in daemon.outbox.lanes):  # the first poll's
            assert time.monotonic() - start < 20, "the first alerts never reached the hook"
            await asyncio.sleep(0.1)
        first = sent("hook")
        assert len(store.list_alerts(limit=None)) == 2 * first  # one per channel
        Articles(tmp_path, store).add(5, ("mail", "hook"))  # as a later poll writes them
        start = time.monotonic()
        while sent("hook") < first + 5:
            assert time.monotonic() - start < 5, "the webhook waited for the mail channel"
            await asyncio.sleep(0.1)
        assert sent("mail") == 0 and "mail" in daemon.outbox.lanes  # still stuck
        assert daemon.delivering  # its claimed alerts' leases are renewed by the heartbeat
        # No send has failed yet (30 s timeout), but the channel shows stalled after
        # STALL_AFTER (shortened here) of sending without a success; the webhook does not.
        start = time.monotonic()
        while not daemon.metrics.stalled("mail"):
            assert time.monotonic() - start < 10, "the stuck channel never showed stalled"
            await asyncio.sleep(0.1)
        assert gauge(daemon.metrics, "monitor_channel_stalled", "mail") == 1
        assert gauge(daemon.metrics, "monitor_channel_failures_in_a_row", "mail") == 0
        assert gauge(daemon.metrics, "monitor_channel_stalled", "hook") == 0
    finally:
        await stop(daemon, running)


async def test_a_hanging_smtp_server_shows_as_stalled_on_metrics_and_dashboard(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, silent: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Sends to a server that never greets fail only at their timeout, so failures in a row
    lag behind; while the channel has been sending longer than its timeout without a
    success, /metrics and the dashboard call it stalled, and the webhook never is."""
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = write_config(tmp_path, news, MailServer(port=silent), hook)
    path.write_text(path.read_text().replace(f"smtp_port = {silent}\n",
                                             f"smtp_port = {silent}\ntimeout = \"1s\"\n"))
    daemon = Daemon(load(str(path)), str(path))
    Articles(tmp_path, daemon.services.store).add(16, ("mail",))  # four waves of four sends
    app = create_app(daemon.services.store, lambda: daemon.config, metrics=daemon.metrics)
    seen: dict[str, object] = {}
    running = asyncio.create_task(daemon.run())
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://testserver") as http:
            start = time.monotonic()
            while not seen:
                assert time.monotonic() - start < 20, "the mail channel never showed stalled"
                text = (await http.get("/metrics")).text
                if 'monitor_channel_stalled{channel="mail"} 1.0' in text:
                    channels = (await http.get("/api/channels")).json()["channels"]
                    seen = {"metrics": text, "page": (await http.get("/")).text,
                            "api": {c["name"]: c for c in channels}}
                await asyncio.sleep(0.05)
    finally:
        await stop(daemon, running)
    assert 'monitor_channel_stalled{channel="hook"} 0.0' in str(seen["metrics"])
    assert 'class="state state-failing channel-stalled">stalled' in str(seen["page"])
    api = seen["api"]
    assert isinstance(api, dict)
    assert api["mail"]["stalled"] is True and api["hook"]["stalled"] is False
    assert gauge(daemon.metrics, "monitor_channel_stalled", "mail") == 0  # none under way


@pytest.fixture
async def slow_smtp() -> AsyncIterator[int]:
    """An SMTP server on 127.0.0.1 that takes 0.3 s over each reply (greeting included) and
    otherwise accepts the message; the port."""
    async def reply(writer: asyncio.StreamWriter, line: bytes) -> None:
        await asyncio.sleep(0.3)
        writer.write(line)
        await writer.drain()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reply(writer, b"220 slow ESMTP\r\n")
            while command := await reader.readline():
                verb = command[:4].upper()
                if verb == b"DATA":
                    await reply(writer, b"354 go on\r\n")
                    while (await reader.readline()) not in (b".\r\n", b""):
                        pass
                    await reply(writer, b"250 queued\r\n")
                elif verb == b"QUIT":
                    await reply(writer, b"221 bye\r\n")
                    break
                else:
                    await reply(writer, b"250 ok\r\n")
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_smtp_exchange_is_bounded_as_a_whole(slow_smtp: int) -> None:
    """Each reply takes 0.3 s, within a 0.4 s step timeout, but the whole exchange
    (greeting, EHLO, MAIL, RCPT, DATA, message, QUIT: about 2 s) passes 4 × 0.4 s: it is
    cut at 1.6 s, a transient failure. With timeout 1.0 the same server delivers."""
    alert = _alert()
    works = EmailChannel("mail", ["ops@example.org"], "monitor@example.org", "127.0.0.1",
                         slow_smtp, timeout=1.0)
    await works.send(alert)  # each step and the whole fit: the server does work
    cut = EmailChannel("mail", ["ops@example.org"], "monitor@example.org", "127.0.0.1",
                       slow_smtp, timeout=0.4)
    with pytest.raises(DeliveryError, match="exchange took over 1.6s") as info:
        await cut.send(alert)  # the whole-exchange bound, not a step timeout, cut it
    assert not info.value.permanent


def _alert() -> Alert:
    article = Article("http://127.0.0.1/a", "Story", "text " * 60)
    return Alert(id="a1", created_at=NOW, rule="dpa", query='"story"', article=article,
                 terms=(TermHit("story", 1),), channel="mail")
