"""The webhook channel against a real aiohttp receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from aiohttp import web

from monitor.alerts import Channel, WebhookChannel, sign, verify
from monitor.alerts.base import classify_http_status
from monitor.alerts.render import webhook_payload
from monitor.alerts.webhook import secret_key
from monitor.errors import DeliveryError
from monitor.fetch import Fetcher
from monitor.models import Alert, Article, Digest, Snippet, Span, TermHit
from monitor.retryafter import parse_retry_after

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OTHER = "a plain shared secret"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers POST /hook/<status>; ?retry_after=X adds Retry-After; /hook/0 hangs."""

    base: str = ""
    received: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.path,
                                      {k.lower(): v for k, v in request.headers.items()},
                                      await request.read()))
        status = int(request.match_info["status"])
        if status == 0:
            await self.release.wait()
            return web.Response(status=200)
        headers = {"Location": "/elsewhere"} if 300 <= status < 400 else {}
        if "retry_after" in request.query:
            headers["Retry-After"] = request.query["retry_after"]
        text = None if status == 204 else f"answer {status}"
        return web.Response(status=status, text=text, headers=headers)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook/{status}", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield rec
    rec.release.set()
    await runner.cleanup()



def make_alert(alert_id: str = "01JWEBHOOK") -> Alert:
    text = "officials may invoke the Defense Production Act, he wrote"
    start = text.index("Defense")
    article = Article(url="https://news.example/dpa", title="Talks \u201cstall\u201d", text=text,
                      author="", published=None, language="en", source="AP")
    term = TermHit("defense production act", 1, (Span("body", start, start + 22),),
                   (Snippet(text, ((start, start + 22),)),))
    return Alert(id=alert_id, created_at=datetime(2026, 2, 26, 12, tzinfo=UTC), rule="DPA",
                 query='"Defense Production Act"', article=article, terms=(term,))


def independent_signatures(secret: str, headers: dict[str, str],
                           body: bytes) -> tuple[str, list[str]]:
    """The Standard Webhooks algorithm, written again from the spec for the test."""
    key = (base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_")
           else secret.encode("utf-8"))
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    offered = [s.partition(",")[2] for s in headers["webhook-signature"].split(" ")
               if s.startswith("v1,")]
    return expected, offered


async def test_alert_body_headers_and_signature(receiver: Receiver,
                                                client: httpx.AsyncClient) -> None:
    channel = WebhookChannel("hook", f"{receiver.base}/hook/200", [SECRET], client)
    assert isinstance(channel, Channel)
    alert = make_alert()
    await channel.send(alert)
    (got,) = receiver.received
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"].startswith("monitor/")
    assert got.headers["webhook-id"] == alert.id
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 600
    body = json.loads(got.body)
    assert body == webhook_payload(alert)
    assert body["type"] == "monitor.alert" and body["article"]["published"] is None
    assert body["matches"][0]["snippets"] == [alert.terms[0].snippets[0].text]
    expected, offered = independent_signatures(SECRET, got.headers, got.body)
    assert offered == [expected]
    assert verify([SECRET], got.headers, got.body)
    assert not verify([OTHER], got.headers, got.body)
    assert not verify([SECRET], got.headers, got.body + b" ")


async def test_two_secrets_two_signatures_each_verifies(receiver: Receiver,
                                                        client: httpx.AsyncClient) -> None:
    channel = WebhookChannel("hook", f"{receiver.base}/hook/204", [SECRET, OTHER], client)
    await channel.send(make_alert())
    await channel.send(make_alert())
    first, retry = receiver.received
    assert first.headers["webhook-id"] == retry.headers["webhook-id"] == "01JWEBHOOK"
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    for secret in (SECRET, OTHER):
        expected, offered = independent_signatures(secret, first.headers, first.body)
        assert expected in offered
        assert verify([secret], first.headers, first.body)


async def test_digest_body(receiver: Receiver, client: httpx.AsyncClient) -> None:
    channel = WebhookChannel("hook", f"{receiver.base}/hook/200", [SECRET], client)
    alerts = (make_alert("a1"), make_alert("a2"))
    await channel.send_digest(Digest("dg-1", datetime(2026, 2, 27, tzinfo=UTC), "hook", alerts))
    (got,) = receiver.received
    body = json.loads(got.body)
    assert got.headers["webhook-id"] == "dg-1"
    assert body["type"] == "monitor.digest" and body["channel"] == "hook"
    assert [a["id"] for a in body["alerts"]] == ["a1", "a2"]
    assert verify([SECRET], got.headers, got.body)


def _in_two_minutes() -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)


# path, permanent (None = delivered), disable, retry_after range
CASES = [
    ("200", None, False, None),
    ("204", None, False, None),
    ("301", True, False, None),
    ("400", True, False, None),
    ("404", True, False, None),
    ("408", False, False, None),
    ("410", True, True, None),
    ("429?retry_after=2", False, False, (2.0, 2.0)),
    ("503?retry_after={date}", False, False, (60.0, 121.0)),
    ("500", False, False, None),
    ("0", False, False, None),
]


@pytest.mark.parametrize(("path", "permanent", "disable", "retry_after"), CASES,
                         ids=["200", "204", "301", "400", "404", "408", "410-disable",
                              "429-retry-after", "503-http-date", "500", "timeout"])
async def test_classification(receiver: Receiver, client: httpx.AsyncClient, path: str,
                              permanent: bool | None, disable: bool,
                              retry_after: tuple[float, float] | None) -> None:
    url = f"{receiver.base}/hook/{path.format(date=_in_two_minutes())}"
    channel = WebhookChannel("hook", url, [SECRET], client, timeout=0.5)
    if permanent is None:
        await channel.send(make_alert())
        assert len(receiver.received) == 1
        return
    with pytest.raises(DeliveryError) as info:
        await channel.send(make_alert())
    error = info.value
    assert (error.permanent, error.disable) == (permanent, disable)
    if retry_after is None:
        assert error.retry_after is None
    else:
        assert error.retry_after is not None
        assert retry_after[0] <= error.retry_after <= retry_after[1]
    if disable:
        assert str(error) == "receiver answered 410 Gone: answer 410"
    if path == "0":
        assert "timed out" in str(error)
    assert len(receiver.received) == 1  # one attempt: the channel never retries


async def test_connection_refused_is_transient(client: httpx.AsyncClient) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    channel = WebhookChannel("hook", f"http://127.0.0.1:{port}/hook", [SECRET], client)
    with pytest.raises(DeliveryError) as info:
        await channel.send(make_alert())
    assert not info.value.permanent and "connection failed" in str(info.value)


async def test_a_refused_connection_is_not_called_a_timeout_on_the_daemons_client() -> None:
    # httpx over aiohttp (the daemon's client) raises httpx.ConnectTimeout for a refused
    # connection: the channel said "webhook timed out after 10s" at once
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fetcher = Fetcher(user_agent="test")
    channel = WebhookChannel("hook", f"http://127.0.0.1:{port}/hook", [SECRET], fetcher.client)
    try:
        with pytest.raises(DeliveryError) as info:
            await channel.send(make_alert())
    finally:
        await fetcher.aclose()
    assert not info.value.permanent
    assert str(info.value).startswith("webhook connection failed: ConnectionRefusedError")
    assert "timed out" not in str(info.value)


async def test_a_receiver_that_never_answers_is_a_timeout_on_the_daemons_client(
        receiver: Receiver) -> None:
    fetcher = Fetcher(user_agent="test")
    channel = WebhookChannel("hook", f"{receiver.base}/hook/0", [SECRET], fetcher.client,
                             timeout=0.3)
    try:
        with pytest.raises(DeliveryError) as info:
            await channel.send(make_alert())
    finally:
        await fetcher.aclose()
    assert str(info.value) == "webhook timed out after 0.3s"


def test_spec_test_vector() -> None:
    # The published Standard Webhooks example (secret, id, timestamp, body -> signature).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected
    headers = {"Webhook-Id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "Webhook-Timestamp": "1614265330",
               "Webhook-Signature": f"v1,bm9wZQ== {expected}"}
    assert verify([secret], headers, body, now=1614265330 + 299)
    assert not verify([secret], headers, body, now=1614265330 + 301)  # replay window
    assert not verify([secret], {**headers, "Webhook-Timestamp": "x"}, body, now=1614265330)
    assert not verify([secret], {"webhook-id": "msg"}, body)


@pytest.mark.parametrize("bad", ["", "whsec_", "whsec_not base64!"],
                         ids=["empty", "empty-key", "not-base64"])
def test_bad_secrets_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        secret_key(bad)


def test_raw_secret_signs_with_its_utf8_bytes() -> None:
    assert secret_key("pässword") == "pässword".encode()


NOW = datetime(2026, 2, 26, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("", None), ("  ", None), ("soon", None), ("-5", None), ("1.5", None),
    ("0", 0.0), (" 120 ", 120.0), ("999999", 86400.0),
    ("Thu, 26 Feb 2026 12:01:30 GMT", 90.0),
    ("Thu, 26 Feb 2026 11:00:00 GMT", 0.0),
    ("Sun, 01 Mar 2026 12:00:00 GMT", 86400.0),
    ("Thursday, 26-Feb-26 12:00:10 GMT", 10.0),
], ids=["absent", "empty", "blank", "junk", "negative", "fraction", "zero", "seconds",
        "capped", "date", "past-date", "far-date", "rfc850-date"])
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_custom_cap() -> None:
    assert parse_retry_after("7200", cap=3600.0) == 3600.0


@pytest.mark.parametrize(("status", "permanent", "disable"), [
    (200, None, False), (299, None, False), (302, True, False), (401, True, False),
    (408, False, False), (410, True, True), (429, False, False), (502, False, False),
], ids=["200", "299", "302", "401", "408", "410", "429", "502"])
def test_classify_http_status(status: int, permanent: bool | None, disable: bool) -> None:
    error = classify_http_status(status, "30")
    if permanent is None:
        assert error is None
        return
    assert error is not None
    assert (error.permanent, error.disable) == (permanent, disable)
    assert error.retry_after == (None if permanent else 30.0)


async def test_credentials_in_the_url_go_as_basic_auth(receiver: Receiver) -> None:
    # a receiver behind Basic auth, its token in the URL (percent-encoded characters too),
    # through the daemon's own client: httpx put them in a header and left them in the URL,
    # which aiohttp refused (every delivery crashed with ValueError)
    port = receiver.base.rsplit(":", 1)[1]
    url = f"http://hook%40user:t%3Aok3n@127.0.0.1:{port}/hook/200?token=q"
    fetcher = Fetcher(user_agent="test")
    channel = WebhookChannel("hook", url, [SECRET], fetcher.client)
    try:
        await channel.send(make_alert())
    finally:
        await fetcher.aclose()
    (got,) = receiver.received
    assert got.path == "/hook/200"
    expected = base64.b64encode(b"hook@user:t:ok3n").decode()
    assert got.headers["authorization"] == f"Basic {expected}"
    assert verify([SECRET], got.headers, got.body)
    assert "t:ok3n" not in repr(channel)
