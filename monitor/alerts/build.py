"""Build channel objects from the validated config."""

from __future__ import annotations

import hashlib
import json
import logging

import httpx

from monitor.alerts.base import Channel
from monitor.config import ChannelSettings, Config
from monitor.errors import ConfigError, DeliveryError
from monitor.models import Alert, Digest

log = logging.getLogger(__name__)


class UnavailableChannel:
    """Stands in for a channel that cannot be built now (a secret is missing).

    Every send fails transiently, so alerts stay pending until the config is fixed and
    reloaded; nothing is lost.
    """

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    async def send(self, alert: Alert) -> None:
        """Refuse, transiently."""
        raise DeliveryError(f"channel {self.name} unavailable: {self.reason}")

    async def send_digest(self, digest: Digest) -> None:
        """Refuse, transiently."""
        raise DeliveryError(f"channel {self.name} unavailable: {self.reason}")


class Channels(dict[str, Channel]):
    """The configured channels by name, with the hash of each one's settings
    (``settings_hash``): the outbox re-enables a channel disabled under other settings."""

    def __init__(self, hashes: dict[str, str]) -> None:
        super().__init__()
        self.hashes = hashes


def settings_hash(s: ChannelSettings) -> str:
    """A hash of a channel's settings as written in the config (a secret's file or variable
    is named there, its content never read); it changes when any setting changes."""
    written = {"type": s.type, "options": s.options, "digest": s.digest}
    data = json.dumps(written, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


def build_channels(config: Config, client: httpx.AsyncClient) -> Channels:
    """One Channel per ``[channels.NAME]`` table."""
    out = Channels({name: settings_hash(s) for name, s in config.channels.items()})
    for name, settings in config.channels.items():
        try:
            out[name] = build_channel(settings, client)
        except (ConfigError, ValueError) as e:
            log.error("event=channel_unavailable channel=%s reason=%r", name, str(e))
            out[name] = UnavailableChannel(name, str(e))
    return out


def build_channel(s: ChannelSettings, client: httpx.AsyncClient) -> Channel:
    """The Channel for one settings table; ConfigError when a secret cannot be read."""
    o = s.options
    if s.type == "webhook":
        from monitor.alerts.webhook import WebhookChannel

        secrets = (s.secret("secret") or "").split()
        return WebhookChannel(s.name, o["url"], secrets, client,
                              timeout=o.get("timeout", 10.0))
    if s.type == "email":
        from monitor.alerts.email import EmailChannel

        return EmailChannel(s.name, o["to"], o["from"], o["smtp_host"],
                            int(o.get("smtp_port", 25)), starttls=o.get("starttls", False),
                            use_tls=o.get("tls", False), username=o.get("username"),
                            password=s.secret("password"), timeout=o.get("timeout", 30.0))
    if s.type == "apprise":
        from monitor.alerts.apprise_channel import AppriseChannel

        urls = list(o.get("urls", [])) + (s.secret("urls") or "").split()
        return AppriseChannel(s.name, urls)
    raise ConfigError(f"channels.{s.name}.type: unknown channel type {s.type!r}")
