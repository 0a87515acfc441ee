"""The channel contract, and the helpers that classify a delivery outcome.

A channel delivers one alert (or one digest, or one notice) exactly once per call. It never
retries, sleeps or backs off: that lives only in the outbox. A call either
returns (delivered) or raises :class:`~monitor.errors.DeliveryError` saying
whether another attempt can help::

    DeliveryError(msg, permanent=False)                 try again later (4yz, 5xx, 429, timeout)
    DeliveryError(msg, permanent=False, retry_after=s)  ... and the receiver asked for ``s`` s
    DeliveryError(msg, permanent=True)                  a retry gets the same answer (4xx, 5yz)
    DeliveryError(msg, permanent=True, disable=True)    the receiver is gone (HTTP 410)

The helpers here are pure: they take a status or a header value and return data.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Protocol, runtime_checkable

from monitor.errors import DeliveryError
from monitor.models import Alert, Digest, Notice
from monitor.retryafter import parse_retry_after

TRANSIENT_HTTP = frozenset({408, 429})
"""4xx statuses that mean "later", not "never" (5xx are all transient)."""

_DIGITS = re.compile(r"[0-9]+")


@runtime_checkable
class Channel(Protocol):
    """One configured destination (an email list, a webhook URL, a set of Apprise URLs)."""

    name: str

    async def send(self, alert: Alert) -> None:
        """Deliver one alert once; raise ``DeliveryError`` when it was not delivered."""
        ...

    async def send_digest(self, digest: Digest) -> None:
        """Deliver several alerts as one message; raise ``DeliveryError`` as ``send`` does."""
        ...

    async def send_notice(self, notice: Notice) -> None:
        """Deliver one notice (feed health) once; raise ``DeliveryError`` as ``send`` does."""
        ...



def classify_http_status(status: int, retry_after: str | None = None, detail: str = "",
                         now: datetime | None = None) -> DeliveryError | None:
    """The error an HTTP answer means for a delivery, or None for 2xx (delivered).

    408, 429 and 5xx are transient and carry the parsed ``Retry-After``; 410 disables
    the channel; every other status (3xx, which are not followed, and 4xx) is permanent.
    """
    if 200 <= status < 300:
        return None
    said = f"receiver answered {status}" + (f": {detail}" if detail else "")
    if status == 410:
        return DeliveryError("receiver answered 410 Gone" + (f": {detail}" if detail else ""),
                             permanent=True, disable=True)
    if status in TRANSIENT_HTTP or 500 <= status < 600:
        return DeliveryError(said, permanent=False,
                             retry_after=parse_retry_after(retry_after, now))
    if 300 <= status < 400:
        return DeliveryError(f"{said} (redirects are not followed: configure the final URL)",
                             permanent=True)
    return DeliveryError(said, permanent=True)


def classify_smtp_code(code: int, message: str = "") -> DeliveryError:
    """The error an SMTP reply means: 5yz permanent, anything else (4yz) transient."""
    said = f"SMTP server answered {code}" + (f" {message}" if message else "")
    return DeliveryError(said, permanent=500 <= code < 600)
