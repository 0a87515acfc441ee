"""Typed settings per channel type: each class owns its keys, secrets and cross-checks.

A ``[channels.NAME]`` table's ``type`` picks its class in ``CHANNEL_TYPES``. Its fields
declare the keys (``monitor.config.keys``); ``check`` returns what cannot work whatever
the environment (run once the required keys are written), ``warnings`` what may be fine.
Secrets stay references (``Secret``) until the channel is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from monitor.config.keys import CRON, DURATION, SECRET, declared, setting, written
from monitor.config.secrets import Secret

Problem = tuple[str, str]  # (key below the channel's path, "" for the table; message)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelSettings:
    """What every ``[channels.NAME]`` table has; a subclass per ``type`` adds its keys."""

    type: ClassVar[str] = ""
    name: str
    digest: str | None = setting(None, CRON)

    def check(self) -> list[Problem]:
        """Problems no environment can fix (options that exclude each other)."""
        return []

    def warnings(self) -> list[Problem]:
        """What works but is probably not meant."""
        return []

    def secrets(self) -> list[Secret]:
        """The secrets this channel reads when it is built."""
        return [s for d in declared(type(self)) if d.key.kind == SECRET
                if (s := getattr(self, d.path[0]))]

    def as_written(self) -> dict[str, Any]:
        """The settings as a table writes them, defaults left out (secrets by where they are)."""
        return {"type": self.type, **written(self)}


def _http_url(url: str) -> list[Problem]:
    if url and not url.startswith(("http://", "https://")):
        return [("url", "must start with http:// or https://")]
    return []


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailSettings(ChannelSettings):
    """``type = "email"``: one message per alert or digest, by SMTP."""

    type: ClassVar[str] = "email"
    to: tuple[str, ...] = setting((), list, required=True)
    sender: str = setting("", str, name="from", required=True)
    smtp_host: str = setting("", str, required=True)
    smtp_port: int = setting(25, int)
    starttls: bool = setting(False, bool)
    tls: bool = setting(False, bool)
    username: str | None = setting(None, str)
    password: Secret = setting(Secret("password"), SECRET)
    timeout: float = setting(30.0, DURATION)

    def check(self) -> list[Problem]:
        return [("", p) for p in email_problems(self.to, self.starttls, self.tls,
                                                self.username is not None, bool(self.password))]


def email_problems(to: Sequence[str], starttls: bool, use_tls: bool, username: bool,
                   password: bool) -> list[str]:
    """Email options that cannot work together (checked at load and by EmailChannel)."""
    problems = []
    if not to:
        problems.append("email channel needs at least one recipient")
    if starttls and use_tls:
        problems.append("email channel: starttls and use_tls exclude each other")
    if username != password:
        problems.append("email channel: username and password go together")
    return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSettings(ChannelSettings):
    """``type = "webhook"``: a signed JSON POST."""

    type: ClassVar[str] = "webhook"
    url: str = setting("", str, required=True)
    secret: Secret = setting(Secret("secret"), SECRET)
    timeout: float = setting(10.0, DURATION)

    def check(self) -> list[Problem]:
        return _http_url(self.url)

    def warnings(self) -> list[Problem]:
        if self.secret:
            return []
        return [("", "no secret_file or secret_env: deliveries go unsigned, so receivers "
                     "cannot tell them from forgeries")]


@dataclass(frozen=True, slots=True, kw_only=True)
class AppriseSettings(ChannelSettings):
    """``type = "apprise"``: Slack, Teams, ntfy and the rest, by Apprise URL."""

    type: ClassVar[str] = "apprise"
    urls: tuple[str, ...] = setting((), list)
    more_urls: Secret = setting(Secret("urls"), SECRET, name="urls")  # space-separated

    def check(self) -> list[Problem]:
        if not self.urls and not self.more_urls:
            return [("urls", "needs at least one Apprise URL")]
        return []


CHANNEL_TYPES: dict[str, type[ChannelSettings]] = {
    cls.type: cls for cls in (EmailSettings, WebhookSettings, AppriseSettings)}
"""Each channel ``type`` and its settings class (alerts/build.py maps each to its Channel)."""
