"""Frozen data passed between the stages, named by pipeline position, and the few
contracts two stages share.

``FetchResult`` -> ``Entry`` -> ``Article`` -> ``Match`` -> ``Alert``; a ``Notice`` is
what the operator hears that no rule made (a feed failing, silent or recovered).
Nothing here does I/O or imports from the rest of monitor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

FIELDS = ("title", "body", "url", "source", "author")
"""Article fields a query can scope to; the default scope is title + body."""


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One HTTP response, read in full under the byte cap."""

    url: str  # final URL, after redirects
    status: int
    content: bytes
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def header(self, name: str) -> str | None:
        """The first header ``name`` (case-insensitive), or None."""
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), None)


@dataclass(frozen=True, slots=True)
class Cookie:
    """One cookie a source sends: to ``domain`` (and its subdomains when ``subdomains``),
    under ``path``, over HTTPS only when ``secure``, until ``expires`` (Unix time; 0: no end)."""

    name: str
    value: str = field(repr=False)
    domain: str = ""
    subdomains: bool = False
    path: str = "/"
    secure: bool = False
    expires: int = 0

    def applies(self, host: str, path: str, https: bool, now: float) -> bool:
        """Whether a request to ``host`` + ``path`` (over HTTPS when ``https``) carries it."""
        host, domain = host.lower().rstrip("."), self.domain.lower().lstrip(".")
        on_host = host == domain or (self.subdomains and host.endswith("." + domain))
        on_path = path == self.path or path.startswith(self.path.rstrip("/") + "/") or \
            self.path == "/"
        return (on_host and on_path and (https or not self.secure)
                and (not self.expires or self.expires > now))


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """One source's own request settings (a ``[[feeds]]`` table's ``headers``, ``cookies_*``,
    ``user_agent``, ``max_bytes``, ``timeout``); None and empty mean the global ones."""

    headers: tuple[tuple[str, str], ...] = ()
    user_agent: str | None = None
    cookies: tuple[Cookie, ...] = field(default=(), repr=False)
    deadline: float | None = None  # seconds for the whole request, redirects included
    max_bytes: int | None = None

    def cookie_header(self, host: str, path: str, https: bool, now: float) -> str | None:
        """The ``Cookie`` header for a request to ``host`` + ``path``, None when none apply."""
        found = [f"{c.name}={c.value}" for c in self.cookies if c.applies(host, path, https, now)]
        return "; ".join(found) or None


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a feed, as the feed tells it."""

    key: str  # guid/id, else the canonical link
    url: str  # absolute link to the article ("" when the item has none)
    title: str = ""
    summary: str = ""  # the item's own content or summary, as plain text
    author: str = ""
    published: datetime | None = None
    source: str = ""  # the publisher, when the source names one per item (Google News)
    language: str | None = None  # as the item or the feed declares it (xml:lang, <language>)


@dataclass(frozen=True, slots=True)
class Article:
    """The text a rule is matched against."""

    url: str
    title: str
    text: str
    author: str = ""
    published: datetime | None = None
    language: str | None = None
    source: str = ""  # the feed's name
    from_feed: bool = False  # True: page unusable, text is the feed item's own content
    partial: bool = False  # True: the page was a consent wall or paywall teaser (from_feed too)

    def field(self, name: str) -> str:
        """The text of one query field (``title``, ``body``, ``url``, ``source``, ``author``)."""
        return self.text if name == "body" else str(getattr(self, name) or "")


@dataclass(frozen=True, slots=True)
class Span:
    """A hit: characters ``start:end`` of one field of the article, in the original text."""

    field: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Snippet:
    """About 200 characters around a hit; ``marks`` are (start, end) offsets into ``text``."""

    text: str
    marks: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Explanation:
    """Which variant of a term one hit is: the original ``text`` at the span, the ``form``
    of the term it counts as, and the ``kind`` of variant: ``exact`` (as written), or
    ``lemma``, ``spelling``, ``possessive``, ``compound``, ``acronym``, ``prefix``,
    ``wildcard`` (several joined by ``+``: ``compound+lemma``), or ``regex``."""

    text: str
    form: str
    kind: str


@dataclass(frozen=True, slots=True)
class TermHit:
    """One term of a rule that fired on an article, with where and how often.

    ``explained``: when asked for (alerts, ``monitor match --explain``), one
    ``Explanation`` per span, in the same order; empty otherwise.
    """

    term: str
    count: int
    spans: tuple[Span, ...] = ()
    snippets: tuple[Snippet, ...] = ()
    explained: tuple[Explanation, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that is true on an article, with the terms that fired."""

    rule: str  # the rule's name
    query: str
    terms: tuple[TermHit, ...] = ()


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert to deliver on one channel; ``id`` is stable across retries."""

    id: str
    created_at: datetime
    rule: str
    query: str
    article: Article
    terms: tuple[TermHit, ...] = ()
    also_seen_at: tuple[str, ...] = ()
    channel: str = ""


@dataclass(frozen=True, slots=True)
class Digest:
    """Several alerts of one channel sent together at a digest time."""

    id: str
    created_at: datetime
    channel: str
    alerts: tuple[Alert, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Notice:
    """One message on one channel that is not an alert: a feed ``failing``, ``silent`` or
    ``recovered``, or a rule's hits ``spike`` (its ``kind``). Stored in the outbox and
    delivered like an alert; ``id`` is stable across retries (the webhook-id)."""

    id: str
    created_at: datetime
    kind: str
    feed: str  # the feed's name ("" for a spike)
    message: str  # one line
    url: str = ""  # the feed's URL
    channel: str = ""
    rule: str = ""  # a spike's rule, by name


# -- what the storing transaction calls (monitor.store calls, monitor.alerts.routing answers)

RuleChannels = Mapping[str, Sequence[tuple[str, datetime | None]]]
"""Rule -> [(channel, digest time, or None to send now)]: where a match's alerts go."""


class AlertedSince(Protocol):
    """How many stories ``rule`` alerted on since ``since``, as the storing transaction
    sees them (so a rate limit counts what was stored just before, on any node)."""

    def __call__(self, rule: str, since: datetime, /) -> int: ...


class Router(Protocol):
    """Where each matched rule's alerts go, rate limits applied: asked by the store inside
    the transaction that stores the matches."""

    def __call__(self, matches: Sequence[Match], alerted: AlertedSince, /) -> RuleChannels: ...
