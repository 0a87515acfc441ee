"""Build channel objects from the validated config."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx

from monitor.alerts.apprise_channel import AppriseChannel
from monitor.alerts.base import Channel
from monitor.alerts.email import EmailChannel
from monitor.alerts.webhook import WebhookChannel
from monitor.config import (
    AppriseSettings,
    ChannelSettings,
    Config,
    EmailSettings,
    WebhookSettings,
)
from monitor.errors import ConfigError, DeliveryError
from monitor.models import Alert, Digest, Notice

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

    async def send_notice(self, notice: Notice) -> None:
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
    written = {"type": s.type, "options": s.as_written(), "digest": s.digest}
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


CHANNEL_FACTORIES: dict[type[ChannelSettings], Callable[[Any, httpx.AsyncClient], Channel]] = {
    WebhookSettings: WebhookChannel.from_settings,
    EmailSettings: EmailChannel.from_settings,
    AppriseSettings: AppriseChannel.from_settings,
}
"""Each channel type's settings class and how to build its Channel (reading its secrets)."""


def build_channel(s: ChannelSettings, client: httpx.AsyncClient) -> Channel:
    """The Channel for one settings table; ConfigError when a secret cannot be read."""
    factory = CHANNEL_FACTORIES.get(type(s))
    if factory is None:
        raise ConfigError(f"channels.{s.name}.type: unknown channel type {s.type!r}")
    return factory(s, client)
