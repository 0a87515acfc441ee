"""Alerts and notices as data: webhook payloads, highlighted snippets, and email messages.

Everything here is pure (no I/O besides reading the package's templates once).
Feed-derived text is data, never markup and never a template: it is escaped
before HTML marks go around it, stripped of control characters before it
enters a header, and handed to the sandboxed Jinja2 templates as variables.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from jinja2 import PackageLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from monitor.jsonshape import article_json, explain_json
from monitor.models import Alert, Article, Digest, Notice, Snippet, TermHit
from monitor.timeutil import human, iso

SUBJECT_LIMIT = 200
"""Maximum characters of a feed-derived header value (the Subject)."""

LINE_LIMIT = 300
"""Maximum characters of a one-line feed-derived field (title, source, author) in a body."""

MAX_VARIANTS = 5
"""Most variants of one term an email names (``matched risks (inflection of risk)``)."""

HEALTH_KINDS = frozenset({"failing", "silent", "recovered"})
"""The kinds of notice that tell a feed's health (webhook type ``monitor.health``)."""

_BREAKS = frozenset({"Cc", "Zl", "Zp"})
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HOSTNAME = re.compile(r"[A-Za-z0-9.-]{1,253}")


def webhook_payload(alert: Alert) -> dict[str, Any]:
    """The JSON body of one alert (DESIGN §6)."""
    article = alert.article
    return {
        "type": "monitor.alert",
        "id": alert.id,
        "created_at": iso(alert.created_at),
        "rule": {"name": alert.rule, "query": alert.query},
        "article": article_json(article),  # the one article shape (monitor.jsonshape)
        "matches": [_match(t) for t in alert.terms],
        "also_seen_at": list(alert.also_seen_at),
    }


def _match(term: TermHit) -> dict[str, Any]:
    """One matched term of a webhook body: DESIGN §6's fields, and ``explain`` (which
    variant fired at each span, ``jsonshape.explain_json``) when the hits were explained."""
    found: dict[str, Any] = {"term": term.term, "count": term.count,
                             "snippets": [s.text for s in term.snippets]}
    if term.explained:
        found["explain"] = explain_json(term)
    return found


_KIND_WORDS = {"lemma": "inflection", "spelling": "spelling", "possessive": "possessive",
               "compound": "compound", "acronym": "acronym", "prefix": "prefix",
               "wildcard": "wildcard", "regex": "regex", "variant": "variant"}
_PATTERN_KINDS = frozenset({"prefix", "wildcard", "regex"})


def matched_variants(term: TermHit) -> list[str]:
    """The distinct variants of a term that fired, but for the term as written, in words,
    at most ``MAX_VARIANTS``: ``risks (inflection of risk)``, ``Defence (spelling of
    defense)``, ``computers (prefix comput*)``."""
    found: dict[tuple[str, str, str], str] = {}
    for e in term.explained:
        text = header_text(e.text, LINE_LIMIT)
        key = (text.casefold(), e.form, e.kind)
        if e.kind == "exact" or key in found:
            continue
        kinds = e.kind.split("+")
        words = " and ".join(_KIND_WORDS.get(k, k) for k in kinds)
        link = " " if set(kinds) <= _PATTERN_KINDS else " of "
        found[key] = f"{text} ({words}{link}{e.form})"
        if len(found) == MAX_VARIANTS:
            break
    return list(found.values())


def notice_payload(notice: Notice) -> dict[str, Any]:
    """The JSON body of a notice: type ``monitor.health`` for a feed's health (with the
    feed and its URL), ``monitor.spike`` for a rule's hits spiking (with the rule and the
    URL of its page, null without ``public_url``), its kind as ``state``, so a receiver can
    route it apart from alerts."""
    kind = ("monitor.health" if notice.kind in HEALTH_KINDS else
            "monitor.spike" if notice.kind == "spike" else "monitor.notice")
    about = ({"rule": {"name": notice.rule, "url": notice.url or None}} if notice.rule else
             {"feed": {"name": notice.feed, "url": notice.url}})
    return {"type": kind, "id": notice.id, "created_at": iso(notice.created_at), **about,
            "state": notice.kind, "message": notice.message}


def notice_title(notice: Notice) -> str:
    """What a notice is, for a subject: ``feed health: failing``, ``rule spike``."""
    if notice.kind in HEALTH_KINDS:
        return f"feed health: {notice.kind}"
    return "rule spike" if notice.kind == "spike" else notice.kind


def notice_subject(notice: Notice) -> str:
    """A notice's subject (email) or title (Apprise), one line, at most ``SUBJECT_LIMIT``."""
    return header_text(f"[monitor] {notice_title(notice)}: {notice.message}")


def digest_payload(digest: Digest) -> dict[str, Any]:
    """The JSON body of a digest: the alert bodies, in order."""
    return {
        "type": "monitor.digest",
        "id": digest.id,
        "created_at": iso(digest.created_at),
        "channel": digest.channel,
        "alerts": [webhook_payload(a) for a in digest.alerts],
    }


def merged_marks(snippet: Snippet) -> list[tuple[int, int]]:
    """The snippet's marks clamped to its text, sorted, overlapping or touching ones merged."""
    size = len(snippet.text)
    spans = sorted((max(0, s), min(size, e)) for s, e in snippet.marks)
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(snippet: Snippet, plain: Callable[[str], str],
              marked: Callable[[str], str]) -> str:
    """The snippet split at its marks, ``plain`` applied to the text between, ``marked`` to hits.

    Line breaks and other control characters in the snippet become spaces.
    """
    text = flatten(snippet.text)  # same length: the marks still point at the hits
    parts: list[str] = []
    pos = 0
    for start, end in merged_marks(snippet):
        parts += [plain(text[pos:start]), marked(text[start:end])]
        pos = end
    parts.append(plain(text[pos:]))
    return "".join(parts)


def highlight_html(snippet: Snippet) -> Markup:
    """The snippet HTML-escaped, each hit in ``<mark>``."""
    return Markup(highlight(snippet, lambda t: str(escape(t)),
                            lambda t: f"<mark>{escape(t)}</mark>"))


def highlight_text(snippet: Snippet) -> str:
    """The snippet as plain text, each hit as ``**hit**``."""
    return highlight(snippet, lambda t: t, lambda t: f"**{t}**")


def flatten(value: str) -> str:
    """``value`` with each control character (CR, LF, TAB, NUL, ...) or line/paragraph
    separator replaced by one space; the length is unchanged."""
    return "".join(" " if unicodedata.category(c) in _BREAKS else c for c in value)


def header_text(value: str, limit: int = SUBJECT_LIMIT) -> str:
    """``value`` safe for a header: control characters (CR, LF, ...) become spaces,
    runs of whitespace collapse, and it is cut to ``limit`` characters with an ellipsis."""
    cleaned = " ".join(flatten(value).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"


def message_id(kind: str, ident: str, sender: str) -> str:
    """A Message-ID that is the same for every retry of one alert or digest.

    Built from the id (hashed when it is not plain ``[A-Za-z0-9._-]``) and the
    sender's domain (``monitor.local`` when there is none).
    """
    local = ident if _SAFE_ID.fullmatch(ident) else hashlib.sha256(ident.encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2].strip(">").strip() if "@" in sender else ""
    domain = domain if _HOSTNAME.fullmatch(domain) else "monitor.local"
    return f"<{kind}.{local}@{domain}>"


def list_id(channel: str) -> str:
    """``List-Id`` for one channel, so that receivers can filter alerts per channel."""
    slug = re.sub(r"[^a-z0-9-]+", "-", channel.lower()).strip("-")[:40] or "alerts"
    return f"monitor {slug} <monitor.{slug}.local>"


@functools.cache
def environment() -> SandboxedEnvironment:
    """The sandboxed Jinja2 environment on ``monitor/templates`` (HTML autoescaped)."""
    return SandboxedEnvironment(
        loader=PackageLoader("monitor", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def human_time(when: datetime | None) -> str:
    """``2026-02-26 22:05 UTC``, or "" for None."""
    return "" if when is None else human(when)


def _term(term: TermHit) -> dict[str, Any]:
    return {"term": term.term, "count": term.count,
            "html": [highlight_html(s) for s in term.snippets],
            "text": [highlight_text(s) for s in term.snippets],
            "variants": matched_variants(term)}


def _article(article: Article) -> dict[str, Any]:
    linkable = article.url.lower().startswith(("http://", "https://"))
    return {"title": header_text(article.title or article.url or "(untitled)", LINE_LIMIT),
            "url": header_text(article.url, LINE_LIMIT * 4),
            "link": article.url if linkable else "",
            "source": header_text(article.source, LINE_LIMIT),
            "author": header_text(article.author, LINE_LIMIT),
            "published": human_time(article.published), "partial": article.partial}


def alert_context(alert: Alert) -> dict[str, Any]:
    """The template variables of one alert (feed text as plain str, snippets pre-marked)."""
    return {"id": alert.id, "rule": header_text(alert.rule, LINE_LIMIT), "query": alert.query,
            "created": human_time(alert.created_at), "article": _article(alert.article),
            "terms": [_term(t) for t in alert.terms],
            "also_seen_at": [header_text(u, LINE_LIMIT * 4) for u in alert.also_seen_at]}


def digest_context(digest: Digest) -> dict[str, Any]:
    """The template variables of a digest: alerts grouped by rule, in first-seen order."""
    groups: dict[str, dict[str, Any]] = {}
    for alert in digest.alerts:
        group = groups.setdefault(alert.rule, {"rule": header_text(alert.rule, LINE_LIMIT),
                                               "query": alert.query, "alerts": []})
        group["alerts"].append(alert_context(alert))
    return {"id": digest.id, "channel": digest.channel,
            "created": human_time(digest.created_at),
            "groups": list(groups.values()), "articles": count_articles(digest),
            "rules": len(groups)}


def count_articles(digest: Digest) -> int:
    """Distinct articles in a digest (one article matching two rules counts once)."""
    return len({a.article.url or a.id for a in digest.alerts})


def plural(n: int, word: str) -> str:
    """``1 article``, ``3 articles``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _message(subject: str, sender: str, to: Sequence[str], channel: str, msg_id: str,
             text: str, html: str, now: datetime | None) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = header_text(subject)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = msg_id
    msg["List-Id"] = list_id(channel)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def render_email(alert: Alert, channel_from: str, to: Sequence[str], *,
                 channel: str = "", now: datetime | None = None) -> EmailMessage:
    """One alert as a multipart/alternative (text + HTML) email."""
    ctx = alert_context(alert)
    env = environment()
    msg = _message(f"[monitor] {alert.rule}: {ctx['article']['title']}", channel_from, to,
                   channel or alert.channel, message_id("alert", alert.id, channel_from),
                   env.get_template("alert.txt").render(ctx),
                   env.get_template("alert.html").render(ctx), now)
    msg["X-Monitor-Alert-Id"] = header_text(alert.id)
    return msg


def notice_context(notice: Notice) -> dict[str, Any]:
    """The template variables of one notice (its text as plain str)."""
    linkable = notice.url.lower().startswith(("http://", "https://"))
    return {"id": notice.id, "title": header_text(notice_title(notice), LINE_LIMIT),
            "message": header_text(notice.message, LINE_LIMIT * 4),
            "feed": header_text(notice.feed, LINE_LIMIT),
            "rule": header_text(notice.rule, LINE_LIMIT),
            "url": header_text(notice.url, LINE_LIMIT * 4),
            "link": notice.url if linkable else "", "created": human_time(notice.created_at)}


def render_notice_email(notice: Notice, channel_from: str, to: Sequence[str], *,
                        channel: str = "", now: datetime | None = None) -> EmailMessage:
    """One notice as a multipart/alternative (text + HTML) email, the message in the
    subject (``[monitor] feed health: failing: …``) and the body."""
    ctx = notice_context(notice)
    env = environment()
    msg = _message(notice_subject(notice), channel_from, to, channel or notice.channel,
                   message_id("notice", notice.id, channel_from),
                   env.get_template("notice.txt").render(ctx),
                   env.get_template("notice.html").render(ctx), now)
    msg["X-Monitor-Notice-Id"] = header_text(notice.id)
    return msg


def render_digest_email(digest: Digest, channel_from: str, to: Sequence[str], *,
                        channel: str = "", now: datetime | None = None) -> EmailMessage:
    """A digest as one email, alerts grouped by rule; the subject counts articles and rules."""
    ctx = digest_context(digest)
    env = environment()
    subject = (f"[monitor] digest: {plural(ctx['articles'], 'article')} for "
               f"{plural(ctx['rules'], 'rule')}")
    msg = _message(subject, channel_from, to, channel or digest.channel,
                   message_id("digest", digest.id, channel_from),
                   env.get_template("digest.txt").render(ctx),
                   env.get_template("digest.html").render(ctx), now)
    msg["X-Monitor-Digest-Id"] = header_text(digest.id)
    return msg
