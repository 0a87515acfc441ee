"""The Apprise channel: Slack, Teams, Telegram, ntfy and the rest, by Apprise URL.

Apprise is an optional extra (``pip install monitor[apprise]``) and is imported on
the first send. Its URLs carry tokens, so they are never logged. Apprise reports
only success or failure, so every failure is transient; the outbox retries it
(each service's own ``?retry=`` stays at Apprise's default of 0).

The body is Markdown; feed text in it is backslash-escaped so that a title cannot
become a link, an image or raw HTML on services that render Markdown.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from monitor.alerts.render import (
    count_articles,
    header_text,
    highlight,
    human_time,
    matched_variants,
    notice_subject,
    plural,
)
from monitor.config import AppriseSettings
from monitor.errors import DeliveryError
from monitor.models import Alert, Digest, Notice

log = logging.getLogger(__name__)

MISSING = "apprise channel needs `pip install monitor[apprise]`"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~!&])")
_SPACES = re.compile(r"\s+")
_URL_SAFE = ":/?#@!$&'*+,;=%~"  # everything else (spaces, parentheses, <>) is %-encoded


def md_escape(text: str) -> str:
    """Feed text made literal in Markdown (the characters that start markup escaped)."""
    return _MD_SPECIAL.sub(r"\\\1", _SPACES.sub(" ", text))


def _link(title: str, url: str) -> str:
    if not url.lower().startswith(("http://", "https://")):
        return f"**{md_escape(title)}**"
    return f"**[{md_escape(title)}]({quote(url, safe=_URL_SAFE)})**"


def _alert_lines(alert: Alert) -> list[str]:
    art = alert.article
    meta = " · ".join(md_escape(x) for x in (art.source, human_time(art.published)) if x)
    lines = [_link(art.title or art.url or "(untitled)", art.url)]
    lines += [meta] if meta else []
    for term in alert.terms:
        variants = matched_variants(term)
        lines += ["matched " + md_escape(", ".join(variants))] if variants else []
        for snip in term.snippets:
            lines.append("> " + highlight(snip, md_escape, lambda t: f"**{md_escape(t)}**"))
    if alert.also_seen_at:
        lines += ["", "Also seen at: " + ", ".join(md_escape(u) for u in alert.also_seen_at)]
    return lines


def render_markdown(alert: Alert) -> tuple[str, str]:
    """Title and Markdown body of one alert."""
    title = header_text(f"[monitor] {alert.rule}: {alert.article.title or alert.article.url}")
    body = [f"Rule **{md_escape(alert.rule)}** `{alert.query.replace('`', '')}`", "",
            *_alert_lines(alert)]
    return title, "\n".join(body)


def render_digest_markdown(digest: Digest) -> tuple[str, str]:
    """Title and Markdown body of a digest, alerts grouped by rule."""
    rules: dict[str, list[Alert]] = {}
    for alert in digest.alerts:
        rules.setdefault(alert.rule, []).append(alert)
    title = (f"[monitor] digest: {plural(count_articles(digest), 'article')} for "
             f"{plural(len(rules), 'rule')}")
    body: list[str] = []
    for rule, alerts in rules.items():
        body += [f"### {md_escape(rule)}", ""]
        for alert in alerts:
            body += [*_alert_lines(alert), ""]
    return title, "\n".join(body).strip()


def render_notice_markdown(notice: Notice) -> tuple[str, str]:
    """Title and Markdown body of a notice: the message in both, and the feed or rule."""
    about = f"Rule: {md_escape(notice.rule)}" if notice.rule else \
        f"Feed: {md_escape(notice.feed)}"
    body = [_link(notice.message, notice.url), about]
    return notice_subject(notice), "\n".join(body)


class AppriseChannel:
    """Notifies every configured Apprise URL with one Markdown message."""

    def __init__(self, name: str, urls: Sequence[str], timeout: float = 30.0) -> None:
        if not urls:
            raise ValueError("apprise channel needs at least one URL")
        self.name = name
        self.timeout = timeout
        self._urls = tuple(urls)
        self._apprise: Any = None

    @classmethod
    def from_settings(cls, s: AppriseSettings, client: object = None) -> AppriseChannel:
        """The channel of a ``type = "apprise"`` table: its ``urls`` and those of
        ``urls_file``/``urls_env`` (space-separated), read now. ConfigError when unreadable."""
        return cls(s.name, [*s.urls, *(s.more_urls.read() or "").split()])

    def __repr__(self) -> str:
        return f"AppriseChannel(name={self.name!r}, urls={len(self._urls)})"

    async def send(self, alert: Alert) -> None:
        """Notify one alert."""
        await self._notify(alert.id, *render_markdown(alert))

    async def send_digest(self, digest: Digest) -> None:
        """Notify a digest as one message."""
        await self._notify(digest.id, *render_digest_markdown(digest))

    async def send_notice(self, notice: Notice) -> None:
        """Notify one notice."""
        await self._notify(notice.id, *render_notice_markdown(notice))

    def _load(self) -> Any:
        """The Apprise object for our URLs, built on first use."""
        if self._apprise is None:
            try:
                import apprise
            except ImportError as e:
                raise DeliveryError(MISSING, permanent=True) from e
            obj = apprise.Apprise()
            bad = [i for i, url in enumerate(self._urls, 1) if not obj.add(url)]
            if bad:  # positions only: the URLs hold tokens
                raise DeliveryError(f"apprise URL #{', #'.join(map(str, bad))} is not valid",
                                    permanent=True)
            self._apprise = obj
        return self._apprise

    async def _notify(self, msg_id: str, title: str, body: str) -> None:
        obj = self._load()
        import apprise

        try:
            async with asyncio.timeout(self.timeout):  # Apprise 1.x has no timeout argument
                result = await obj.async_notify(body=body, title=title,
                                                body_format=apprise.NotifyFormat.MARKDOWN)
        except TimeoutError as e:
            raise DeliveryError(f"apprise timed out after {self.timeout:g}s") from e
        if not result:
            status = getattr(getattr(result, "status", None), "name", "FAILURE")
            log.debug("event=deliver_failed channel=%s type=apprise id=%s status=%s",
                      self.name, msg_id, status)
            raise DeliveryError(f"apprise could not notify every service ({status.lower()})")
        log.debug("event=deliver channel=%s type=apprise id=%s", self.name, msg_id)
