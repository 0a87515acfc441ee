"""The email channel: one multipart (text + HTML) message per alert or per digest.

Sent with aiosmtplib, one connection per message, at most ``max_connections`` at once.
SMTP replies classify the outcome: 250 is delivered, 4yz and connection trouble are
transient, 5yz is permanent.
A retry renders the same Message-ID, so receiving systems can spot the duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from email.message import EmailMessage

import aiosmtplib

from monitor.alerts.base import classify_smtp_code
from monitor.alerts.render import render_digest_email, render_email, render_notice_email
from monitor.config import EmailSettings, email_problems
from monitor.errors import DeliveryError
from monitor.models import Alert, Digest, Notice

log = logging.getLogger(__name__)


def classify_smtp_error(exc: Exception) -> DeliveryError:
    """The ``DeliveryError`` an aiosmtplib (or socket) exception means.

    A refusal of every recipient is permanent only when every refusal is 5yz;
    missing server features (STARTTLS, AUTH) are permanent; timeouts, lost or
    refused connections and anything else are transient.
    """
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = ", ".join(f"{r.recipient} ({r.code})" for r in exc.recipients)
        permanent = all(500 <= r.code < 600 for r in exc.recipients)
        return DeliveryError(f"SMTP server refused every recipient: {refused}",
                             permanent=permanent)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return classify_smtp_code(exc.code, exc.message)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return DeliveryError(f"SMTP server lacks a needed feature: {exc}", permanent=True)
    if isinstance(exc, TimeoutError):
        return DeliveryError(f"SMTP timed out: {exc}")
    return DeliveryError(f"SMTP connection failed: {type(exc).__name__}: {exc}")


class EmailChannel:
    """Mails each alert (or digest) to a fixed list of recipients."""

    def __init__(self, name: str, to: Sequence[str], sender: str, smtp_host: str,
                 smtp_port: int, starttls: bool = False, use_tls: bool = False,
                 username: str | None = None, password: str | None = None,
                 timeout: float = 30.0, max_connections: int = 4) -> None:
        if problems := email_problems(to, starttls, use_tls, username is not None,
                                      password is not None):
            raise ValueError(problems[0])
        self.name = name
        self.to = tuple(to)
        self.sender = sender
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.starttls = starttls
        self.use_tls = use_tls
        self.username = username
        self._password = password
        self.timeout = timeout
        self._slots = asyncio.Semaphore(max_connections)  # a burst must not flood the server

    @classmethod
    def from_settings(cls, s: EmailSettings, client: object = None) -> EmailChannel:
        """The channel of a ``type = "email"`` table (EmailSettings checked its options);
        reads the password now. ConfigError when it cannot be read."""
        return cls(s.name, s.to, s.sender, s.smtp_host, s.smtp_port, starttls=s.starttls,
                   use_tls=s.tls, username=s.username, password=s.password.read(),
                   timeout=s.timeout)

    def __repr__(self) -> str:
        return (f"EmailChannel(name={self.name!r}, to={list(self.to)!r}, "
                f"smtp={self.smtp_host}:{self.smtp_port})")

    async def send(self, alert: Alert) -> None:
        """Mail one alert."""
        msg = render_email(alert, self.sender, self.to, channel=self.name)
        await self._deliver(msg, alert.id)

    async def send_digest(self, digest: Digest) -> None:
        """Mail a digest as one message, alerts grouped by rule."""
        msg = render_digest_email(digest, self.sender, self.to, channel=self.name)
        await self._deliver(msg, digest.id)

    async def send_notice(self, notice: Notice) -> None:
        """Mail one notice, its message in the subject."""
        msg = render_notice_email(notice, self.sender, self.to, channel=self.name)
        await self._deliver(msg, notice.id)

    async def _deliver(self, msg: EmailMessage, msg_id: str) -> None:
        try:
            async with self._slots:
                refused, reply = await aiosmtplib.send(
                    msg, sender=self.sender, recipients=list(self.to), hostname=self.smtp_host,
                    port=self.smtp_port, username=self.username, password=self._password,
                    timeout=self.timeout, use_tls=self.use_tls, start_tls=self.starttls)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
            error = classify_smtp_error(e)
            log.debug("event=deliver_failed channel=%s type=email id=%s permanent=%s error=%s",
                      self.name, msg_id, error.permanent, error)
            raise error from e
        if refused:
            # Some recipients took it: a retry would duplicate it for them. Report and move on.
            log.warning("event=deliver_partial channel=%s type=email id=%s refused=%s",
                        self.name, msg_id, ",".join(sorted(refused)))
        log.debug("event=deliver channel=%s type=email id=%s reply=%s", self.name, msg_id,
                  reply)
