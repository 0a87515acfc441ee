"""The email channel against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import email
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from monitor.alerts import Channel, EmailChannel
from monitor.errors import DeliveryError
from monitor.models import Alert, Article, Digest, Snippet, Span, TermHit

SEED = Path(__file__).resolve().parent.parent / "seeds" / "ap-2026-02-26-anthropic-pentagon.txt"
PHRASE = "Defense Production Act"
TO = ("ops@example.org", "desk@example.org")


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Handler:
    """Collects messages; ``rcpt_reply``/``data_reply`` make it refuse instead."""

    received: list[Received] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data_reply:
            return self.data_reply
        msg = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(msg, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Handler, int]]:
    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def channel(port: int) -> EmailChannel:
    return EmailChannel("ops mail", TO, "monitor@example.org", "127.0.0.1", port, timeout=5.0)


def seed_alert(title: str = "Anthropic says it cannot accede to Pentagon's demands",
               alert_id: str = "01JEMAIL") -> Alert:
    text = SEED.read_text(encoding="utf-8")
    start = text.index(PHRASE)
    lo, hi = max(0, start - 90), start + len(PHRASE) + 60
    snippet = Snippet(text[lo:hi], ((start - lo, start - lo + len(PHRASE)),))
    article = Article(url="https://apnews.example/anthropic-pentagon", title=title, text=text,
                      author="AP", published=datetime(2026, 2, 26, 22, 5, tzinfo=UTC),
                      language="en", source="AP Top News")
    term = TermHit(PHRASE.lower(), text.count(PHRASE),
                   (Span("body", start, start + len(PHRASE)),), (snippet,))
    return Alert(id=alert_id, created_at=datetime(2026, 2, 26, 22, 10, tzinfo=UTC),
                 rule="DPA / supply chain risk",
                 query='"supply chain risk" OR "Defense Production Act"', article=article,
                 terms=(term,), channel="ops mail")


def bodies(msg: EmailMessage) -> tuple[str, str]:
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


async def test_alert_mail_is_multipart_with_highlights(smtp: tuple[Handler, int]) -> None:
    handler, port = smtp
    ch = channel(port)
    assert isinstance(ch, Channel)
    alert = seed_alert()
    await ch.send(alert)
    await ch.send(alert)  # a retry of the same alert
    first, retry = handler.received
    assert first.mail_from == "monitor@example.org"
    assert first.rcpt_tos == list(TO)
    msg = first.message
    assert msg["Subject"] == ("[monitor] DPA / supply chain risk: "
                              "Anthropic says it cannot accede to Pentagon's demands")
    assert msg["X-Monitor-Alert-Id"] == alert.id
    assert msg["List-Id"] == "monitor ops-mail <monitor.ops-mail.local>"
    assert msg["Message-ID"] == retry.message["Message-ID"] == "<alert.01JEMAIL@example.org>"
    assert msg["Date"] is not None
    text, html = bodies(msg)
    assert f"<mark>{PHRASE}</mark>" in html
    assert "Cold War-era law called the <mark>" in html
    assert f"**{PHRASE}**" in text
    assert "https://apnews.example/anthropic-pentagon" in text
    assert "AP Top News" in html and "2026-02-26 22:05 UTC" in html


async def test_hostile_title_arrives_inert(smtp: tuple[Handler, int]) -> None:
    handler, port = smtp
    title = ("Pentagon\r\nBcc: victim@evil.example\r\nX-Injected: yes\n"
             "<script>alert(1)</script> {{ 7*7 }}")
    await channel(port).send(seed_alert(title=title))
    (got,) = handler.received
    msg = got.message
    assert got.rcpt_tos == list(TO)
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    subject = str(msg["Subject"])
    assert "\n" not in subject and "\r" not in subject
    assert "X-Injected: yes" in subject  # kept as text, on the one Subject line
    text, html = bodies(msg)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert "{{ 7*7 }}" in html and "{{ 7*7 }}" in text and "{{ 7*7 }}" in subject
    assert "49" not in html and "49" not in text


async def test_digest_mail(smtp: tuple[Handler, int]) -> None:
    handler, port = smtp
    a1 = seed_alert(alert_id="a1")
    a2 = seed_alert(alert_id="a2", title="Second story")
    other = Article(url="https://news.example/b", title="Third", text="x", source="Wire")
    a2 = dataclasses.replace(a2, article=other, rule="Chips")
    a3 = dataclasses.replace(a1, id="a3", article=Article(url="https://news.example/c",
                                                          title="Fourth", text="y"))
    await channel(port).send_digest(Digest("dg-1", datetime.now(UTC), "ops mail", (a1, a2, a3)))
    (got,) = handler.received
    assert got.message["Subject"] == "[monitor] digest: 3 articles for 2 rules"
    text, html = bodies(got.message)
    assert text.index("== DPA / supply chain risk ==") < text.index("Fourth") \
        < text.index("== Chips ==") < text.index("Third")
    assert html.count(f"<mark>{PHRASE}</mark>") == 3


@pytest.mark.parametrize(("rcpt_reply", "data_reply", "permanent"), [
    (None, "451 try later", False),
    ("450 mailbox busy", None, False),
    ("550 no such user", None, True),
    (None, "554 rejected as spam", True),
], ids=["451-data", "450-rcpt", "550-rcpt", "554-data"])
async def test_smtp_refusals_are_classified(smtp: tuple[Handler, int], rcpt_reply: str | None,
                                            data_reply: str | None, permanent: bool) -> None:
    handler, port = smtp
    handler.rcpt_reply, handler.data_reply = rcpt_reply, data_reply
    with pytest.raises(DeliveryError) as info:
        await channel(port).send(seed_alert())
    assert info.value.permanent is permanent
    assert not info.value.disable
    assert (rcpt_reply or data_reply or "")[:3] in str(info.value)
    assert handler.received == []


async def test_no_server_is_transient() -> None:
    port = free_port()  # bound then closed: nothing listens there
    with pytest.raises(DeliveryError) as info:
        await channel(port).send(seed_alert())
    assert info.value.permanent is False


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="recipient"):
        EmailChannel("x", [], "m@example.org", "127.0.0.1", 25)
    with pytest.raises(ValueError, match="starttls"):
        EmailChannel("x", TO, "m@example.org", "127.0.0.1", 25, starttls=True, use_tls=True)


def test_repr_hides_the_password() -> None:
    ch = EmailChannel("x", TO, "m@example.org", "h", 25, username="u", password="hunter2")
    assert "hunter2" not in repr(ch)
