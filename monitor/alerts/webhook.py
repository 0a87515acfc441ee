"""The webhook channel: a JSON POST signed as in the Standard Webhooks spec.

Every request carries::

    webhook-id: <alert or notice id>  the same on every retry, so receivers can drop duplicates
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")> [v1,... ...]

with one ``v1,`` signature per active secret (several during a rotation). A secret
in the spec's form ``whsec_<base64>`` signs with the decoded bytes; any other string
signs with its UTF-8 bytes, so receivers that were given a plain shared secret can
verify too. With no secret, the request is sent unsigned (no ``webhook-signature``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from monitor import __version__
from monitor.alerts.base import classify_http_status
from monitor.alerts.render import digest_payload, header_text, notice_payload, webhook_payload
from monitor.config import WebhookSettings
from monitor.errors import DeliveryError
from monitor.models import Alert, Digest, Notice

log = logging.getLogger(__name__)

USER_AGENT = f"monitor/{__version__} (webhook)"
SECRET_PREFIX = "whsec_"
_EXCERPT_BYTES = 512


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret: base64-decoded after ``whsec_``, else the UTF-8 bytes.

    Raises ValueError for an empty secret or a ``whsec_`` one that is not base64.
    """
    if not secret:
        raise ValueError("webhook secret is empty")
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError("webhook secret starts with whsec_ but the rest is not base64") from e
    if not key:
        raise ValueError("webhook secret is empty after whsec_")
    return key


def _signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``body`` for ``webhook-signature``."""
    return _signature(secret_key(secret), msg_id, timestamp, body)


def verify(secrets: Sequence[str], headers: Mapping[str, str], body: bytes,
           tolerance: float = 300, now: float | None = None) -> bool:
    """True when ``headers`` carry a valid signature of ``body`` by one of ``secrets``.

    The receiver's side of the scheme: all three headers present (any case), the
    timestamp within ``tolerance`` seconds of ``now``, and at least one ``v1,``
    signature matching one secret (compared in constant time).
    """
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp = lower.get("webhook-id"), lower.get("webhook-timestamp", "")
    offered = lower.get("webhook-signature", "").split()
    if not msg_id or not stamp.isascii() or not stamp.isdigit() or not offered:
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        return False
    expected = [sign(s, msg_id, int(stamp), body) for s in secrets]
    return any(hmac.compare_digest(o.encode(), e.encode()) for o in offered for e in expected)


def _root_cause(exc: BaseException) -> BaseException:
    """The end of ``exc``'s ``__cause__`` chain."""
    for _ in range(16):
        if exc.__cause__ is None:
            break
        exc = exc.__cause__
    return exc


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes that are signed and sent (compact UTF-8 JSON)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class WebhookChannel:
    """POSTs each alert (or digest) as signed JSON through the process's shared client."""

    def __init__(self, name: str, url: str, secrets: Sequence[str], client: httpx.AsyncClient,
                 timeout: float = 10.0) -> None:
        if timeout <= 0:
            raise ValueError("webhook timeout must be positive")
        self.name = name
        self.url = url
        self.timeout = timeout
        self._keys = tuple(secret_key(s) for s in secrets)
        self._client = client

    @classmethod
    def from_settings(cls, s: WebhookSettings, client: httpx.AsyncClient) -> WebhookChannel:
        """The channel of a ``type = "webhook"`` table; reads its secrets (space-separated
        during a rotation) now. ConfigError when they cannot be read."""
        return cls(s.name, s.url, (s.secret.read() or "").split(), client, timeout=s.timeout)

    def __repr__(self) -> str:
        # The URL may embed a token, the secrets are secret: show neither.
        return f"WebhookChannel(name={self.name!r}, secrets={len(self._keys)})"

    async def send(self, alert: Alert) -> None:
        """POST one alert; ``webhook-id`` is the alert id."""
        await self._post(alert.id, webhook_payload(alert))

    async def send_digest(self, digest: Digest) -> None:
        """POST a digest (``type: monitor.digest``); ``webhook-id`` is the digest id."""
        await self._post(digest.id, digest_payload(digest))

    async def send_notice(self, notice: Notice) -> None:
        """POST a notice (``type: monitor.health``); ``webhook-id`` is the notice id."""
        await self._post(notice.id, notice_payload(notice))

    def headers(self, msg_id: str, body: bytes, timestamp: int) -> dict[str, str]:
        """The request headers, signatures included."""
        headers = {"content-type": "application/json", "user-agent": USER_AGENT,
                   "webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
        if self._keys:
            headers["webhook-signature"] = " ".join(
                _signature(k, msg_id, timestamp, body) for k in self._keys)
        return headers

    async def _post(self, msg_id: str, payload: Mapping[str, Any]) -> None:
        body = encode_body(payload)
        headers = self.headers(msg_id, body, int(time.time()))
        try:
            async with asyncio.timeout(self.timeout):
                status, retry_after, detail = await self._exchange(body, headers)
        except (TimeoutError, httpx.TimeoutException) as e:
            root = _root_cause(e)
            if isinstance(root, OSError) and not isinstance(root, TimeoutError):
                # the daemon's client (httpx over aiohttp) reports a refused connection or a
                # failed DNS lookup as httpx.ConnectTimeout: only its cause tells them apart
                raise self._failed(msg_id, DeliveryError(
                    f"webhook connection failed: {type(root).__name__}: {root}")) from e
            raise self._failed(msg_id, DeliveryError(
                f"webhook timed out after {self.timeout:g}s")) from e
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as e:
            raise self._failed(msg_id, DeliveryError(
                f"webhook URL unusable: {e}", permanent=True)) from e
        except httpx.TransportError as e:
            raise self._failed(msg_id, DeliveryError(
                f"webhook connection failed: {type(e).__name__}: {e}")) from e
        error = classify_http_status(status, retry_after, detail)
        if error is not None:
            raise self._failed(msg_id, error)
        log.debug("event=deliver channel=%s type=webhook id=%s status=%d", self.name, msg_id,
                  status)

    async def _exchange(self, body: bytes, headers: dict[str, str]
                        ) -> tuple[int, str | None, str]:
        """Send; return the status, ``Retry-After`` and (on failure) the body's start.

        Credentials in the URL (``https://user:token@host/hook``) go as a Basic
        Authorization header on a URL without them: httpx would send both, which aiohttp
        (under the shared client) refuses."""
        url = httpx.URL(self.url)
        auth = None
        if url.userinfo:
            auth, url = httpx.BasicAuth(url.username, url.password), url.copy_with(userinfo=b"")
        async with self._client.stream("POST", url, content=body, headers=headers, auth=auth,
                                       timeout=self.timeout, follow_redirects=False) as resp:
            detail = ""
            if not resp.is_success:
                chunk = b""
                async for part in resp.aiter_bytes():
                    chunk += part
                    if len(chunk) >= _EXCERPT_BYTES:
                        break
                detail = header_text(chunk[:_EXCERPT_BYTES].decode("utf-8", "replace"), 200)
            return resp.status_code, resp.headers.get("retry-after"), detail

    def _failed(self, msg_id: str, error: DeliveryError) -> DeliveryError:
        log.debug("event=deliver_failed channel=%s type=webhook id=%s permanent=%s error=%s",
                  self.name, msg_id, error.permanent, error)
        return error
