"""The validated configuration: frozen settings, grouped, each key declared once.

``[monitor]`` is one flat TOML table; its keys are grouped here by what they configure
(``config.monitor.fetch.connect_timeout``, ``config.monitor.poll.min_poll_interval``).
A field's name is its key (``monitor.config.keys``), so a new key is one new field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from monitor.config.channels import ChannelSettings
from monitor.config.keys import (
    AGE,
    CRON,
    DURATION,
    SECRET,
    SPIKE,
    declared,
    group,
    key,
    lookup,
    setting,
)
from monitor.config.secrets import Secret
from monitor.config.spikes import Spike


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """How feeds and articles are fetched (the shared fetcher is built once, at start)."""

    user_agent: str = setting("monitor/0.1 (+https://github.com/monitor/monitor)", str,
                              restart=True)
    connect_timeout: float = setting(10.0, DURATION, restart=True)
    read_timeout: float = setting(20.0, DURATION, restart=True)
    fetch_deadline: float = setting(60.0, DURATION, restart=True)
    max_connections: int = setting(100, int, restart=True)
    per_host_connections: int = setting(2, int, restart=True)
    max_article_bytes: int = setting(5_000_000, int, restart=True)
    max_feed_bytes: int = setting(10_000_000, int, restart=True)
    allow_private_networks: bool = setting(False, bool, restart=True)


@dataclass(frozen=True, slots=True)
class PollSettings:
    """When feeds are polled, and what a poll keeps."""

    poll_interval: float = setting(600.0, DURATION)
    min_poll_interval: float = setting(120.0, DURATION)
    max_poll_interval: float = setting(3600.0, DURATION)
    max_items_per_feed: int = setting(500, int)
    alert_on_first_poll: bool = setting(False, bool)
    backfill: int = setting(50, int)  # items of a new feed stored (not alerted) by its first poll
    max_age: float = setting(7 * 86400.0, AGE)  # older items alert nobody (feeds inherit it)


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """How often the outbox runs, and how long it retries."""

    delivery_interval: float = setting(5.0, DURATION, restart=True)
    delivery_horizon: float = setting(3 * 86400.0, DURATION)


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """This node among several sharing one database."""

    node_id: str = setting("", str, restart=True)
    lease: float = setting(300.0, DURATION, restart=True)


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """Feed-health notices: where, and after how long."""

    health_channel: str = setting("", str)
    failing_after: float = setting(6 * 3600.0, DURATION)
    silent_factor: int = setting(5, int)
    health_interval: float = setting(300.0, DURATION, restart=True)


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    """What the database keeps, and how the pruning job runs (``monitor.retention``)."""

    article_text_days: int = setting(30, int)  # 0: keep every article's whole text
    entries_days: int = setting(90, int)  # 0: keep every item's dedup key
    retention_batch: int = setting(500, int)  # rows per transaction
    retention_interval: float = setting(3600.0, DURATION, restart=True)


@dataclass(frozen=True, slots=True)
class WebSettings:
    """The dashboard's listener; ``token`` is read from ``web_token_file``/``_env`` at load."""

    listen: str = setting("127.0.0.1:8080", str, name="web", restart=True)
    token: str | None = setting(None, SECRET, name="web_token", restart=True, repr=False)
    allowed_hosts: tuple[str, ...] = setting((), list, restart=True)  # Host names it answers
    public_url: str = setting("", str)  # where readers open it (links in notices); "": none


MIN_ENTRIES_DAYS = 2
"""The least non-zero ``entries_days``: entries still listed are marked so once a day."""

MIN_EXTRACT_MEMORY_MB = 128
"""The least ``extract_memory_mb`` accepted: an extraction worker uses about 40 MB idle."""


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """The ``[monitor]`` table."""

    database: str = setting("sqlite:///monitor.db", str,  # relative: to the config's folder
                            restart=True)
    database_connect_timeout: float = setting(10.0, DURATION, restart=True)
    database_timeout: float = setting(30.0, DURATION, restart=True)  # statement, lock wait
    timezone: str = setting("UTC", str)
    extract_workers: int = setting(2, int, restart=True)
    extract_timeout: float = setting(20.0, DURATION, restart=True)  # per page, then feed text
    extract_memory_mb: int = setting(1024, int, restart=True)  # per extraction worker
    browser_pages: int = setting(2, int, restart=True)  # render = "browser": pages at once
    browser_timeout: float = setting(30.0, DURATION, restart=True)  # per rendered page
    browser_path: str = setting("/usr/bin/chromium", str, restart=True)
    fetch: FetchSettings = group(FetchSettings)
    poll: PollSettings = group(PollSettings)
    delivery: DeliverySettings = group(DeliverySettings)
    cluster: ClusterSettings = group(ClusterSettings)
    health: HealthSettings = group(HealthSettings)
    retention: RetentionSettings = group(RetentionSettings)
    web: WebSettings = group(WebSettings)

    def value(self, name: str) -> Any:
        """The value of the ``[monitor]`` key ``name`` (``web_token`` for the token)."""
        return lookup(self, name)


RESTART_KEYS = tuple(d.name for d in declared(MonitorSettings) if d.key.restart)
"""``[monitor]`` keys read once at start: a reload cannot change what they set up."""


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """The options of a source kind, written flat in its ``[[feeds]]`` table; each kind
    accepts the ones ``KIND_OPTIONS`` lists for it (``resolve_redirects``: every kind)."""

    resolve_redirects: bool = setting(False, bool)  # follow opaque redirect links (Google News)
    query: str = setting("", str)  # google-news: the search
    hl: str = setting("en-US", str)  # google-news: interface language
    gl: str = setting("US", str)  # google-news: country
    ceid: str = setting("", str)  # google-news: edition, default "{gl}:{language of hl}"
    base_url: str = setting("https://news.google.com", str)  # google-news: the host
    links: str = setting("", str)  # page: CSS selector of the article links
    url_pattern: str = setting("", str)  # page: regex (RE2) the article URLs match
    preset: str = setting("", str)  # json: a named mapping (JSON_PRESETS)
    items: str = setting("", str)  # json: path of the item list
    title: str = setting("", str)  # json: path of an item's title
    link: str = setting("", str)  # json: path of an item's URL
    published: str = setting("", str)  # json: path of an item's date
    text: str = setting("", str)  # json: path of an item's text

    def google_news_url(self) -> str:
        """The Google News search feed these options ask for."""
        ceid = self.ceid or f"{self.gl}:{self.hl.split('-')[0]}"
        query = urlencode({"q": self.query, "hl": self.hl, "gl": self.gl, "ceid": ceid})
        return f"{self.base_url.rstrip('/')}/rss/search?{query}"


KIND_OPTIONS: dict[str, tuple[str, ...]] = {
    "feed": (),
    "google-news": ("query", "hl", "gl", "ceid", "base_url"),
    "sitemap": (),
    "page": ("links", "url_pattern"),
    "json": ("preset", "items", "title", "link", "published", "text"),
}
"""Each source kind -> the ``SourceOptions`` keys it accepts beyond ``resolve_redirects``
(the kinds are ``monitor.sources.PARSERS``; a test keeps the two in step)."""

JSON_PRESETS: dict[str, dict[str, str]] = {
    "federal-register": {"items": "results", "title": "title", "link": "html_url",
                         "published": "publication_date", "text": "abstract"},
    "gdelt": {"items": "articles", "title": "title", "link": "url", "published": "seendate",
              "source": "domain"},
}
"""``preset`` of a ``json`` source -> its paths (keys written in the table win; ``source``,
the publisher's path, is a preset's only)."""


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """One ``[[feeds]]`` table."""

    name: str = field(metadata=key(str))  # default: the URL
    url: str = field(metadata=key(str, required=True))
    interval: float = field(metadata=key(DURATION))  # default: [monitor] poll_interval
    kind: str = setting("feed", str)  # its source kind: the parser (monitor.sources.PARSERS)
    tags: tuple[str, ...] = setting((), list)
    allow_private_networks: bool = setting(False, bool)
    alert_on_first_poll: bool = setting(False, bool)
    backfill: int = setting(50, int)  # items the first poll stores, newest first, without alerting
    max_age: float = setting(7 * 86400.0, AGE)  # default: [monitor] max_age; 0: off
    # its own requests (monitor.config.requestopts): None/empty = the [monitor] settings
    headers: tuple[tuple[str, str], ...] = setting((), dict)
    user_agent: str = setting("", str)
    cookies: Secret | None = setting(None, SECRET, repr=False)
    max_bytes: int | None = setting(None, int)  # feed and article byte cap
    timeout: float | None = setting(None, DURATION)  # the whole-request deadline
    render: str = setting("none", str)  # one of RENDER_MODES: "browser" runs its scripts
    options: SourceOptions = group(SourceOptions)  # the source kind's own keys
    interval_set: bool = False  # ``interval`` was set for this feed: a ceiling on its cadence


RENDER_MODES = ("none", "browser")
"""``render`` of a feed: its article pages as fetched, or rendered in headless Chromium."""

MATCH_MODES = ("variants", "exact")
"""``match`` of a watch rule: fold variants (plurals, spellings …) or match literally."""


@dataclass(frozen=True, slots=True)
class WatchSettings:
    """One watch rule (a ``[[watch]]`` table or a line of a watchlist)."""

    name: str = field(metadata=key(str, required=True))
    query: str = field(metadata=key(str, required=True))
    channels: tuple[str, ...] = setting((), list)
    feeds: tuple[str, ...] = setting((), list)  # feed names or tags; empty = every feed
    digest: str | None = setting(None, CRON)
    case_sensitive: bool = setting(False, bool)
    match: str = setting("variants", str)  # one of MATCH_MODES
    max_alerts_per_hour: int | None = setting(None, int)
    languages: tuple[str, ...] = setting((), list)  # 2-letter codes; empty = any language
    max_age: float | None = setting(None, AGE)  # None: each feed's max_age; 0: off
    id: int | None = setting(None, int)  # the rule's stored id, kept whatever else changes
    spike: Spike | None = setting(None, SPIKE)  # None: no spike notices (monitor.spikes)

    @property
    def exact(self) -> bool:
        """Whether every term of the query matches literally (``match = "exact"``)."""
        return self.match == "exact"

    def age_limit(self, feed: FeedSettings) -> float:
        """Seconds since publication past which an item of ``feed`` does not alert for this
        rule (0: no limit): the rule's ``max_age``, else the feed's."""
        return feed.max_age if self.max_age is None else self.max_age

    def applies_to(self, feed: FeedSettings) -> bool:
        """Whether this rule watches ``feed``."""
        return not self.feeds or feed.name in self.feeds or bool(set(feed.tags) & set(self.feeds))


ROLES = ("viewer", "editor")
"""``role`` of a ``[[users]]`` entry: a viewer reads, an editor also changes rules."""


@dataclass(frozen=True, slots=True)
class UserSettings:
    """One ``[[users]]`` table: who may sign in to the dashboard (``monitor.web.auth``)."""

    name: str = field(metadata=key(str, required=True))
    password: Secret | None = setting(None, SECRET, repr=False)  # an scrypt$ hash, never a password
    role: str = setting("viewer", str)  # one of ROLES


@dataclass(frozen=True, slots=True)
class Config:
    """The whole, validated configuration."""

    monitor: MonitorSettings
    feeds: tuple[FeedSettings, ...] = ()
    watches: tuple[WatchSettings, ...] = ()
    channels: dict[str, ChannelSettings] = field(default_factory=dict)
    path: str = ""
    warnings: tuple[str, ...] = ()  # problems that may vanish at run time (unreadable secrets)
    users: tuple[UserSettings, ...] = ()  # who may sign in; none: the dashboard is read-only
    _by_name: dict[str, FeedSettings] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, FeedSettings] = {}
        for f in self.feeds:
            by_name.setdefault(f.name, f)
        object.__setattr__(self, "_by_name", by_name)

    def feed(self, name: str) -> FeedSettings | None:
        """The feed named ``name``, or None (every poll asks: a lookup, not a scan)."""
        return self._by_name.get(name)
