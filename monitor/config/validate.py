"""The validator: parsed TOML documents in, a Config (or every problem at once) out.

The keys each table accepts come from the settings classes (``monitor.config.keys``).
Pure apart from reading secret files and watchlist files named by the config.
"""

from __future__ import annotations

import difflib
import zoneinfo
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from monitor.config.addresses import (
    check_public_url,
    database_url,
    is_loopback,
    parse_address,
    parse_host,
)
from monitor.config.channels import CHANNEL_TYPES, ChannelSettings
from monitor.config.keys import build, keys_of, required_of
from monitor.config.passwords import check_hash
from monitor.config.requestopts import check_cookies, check_headers, check_request_settings
from monitor.config.settings import (
    MATCH_MODES,
    MIN_ENTRIES_DAYS,
    MIN_EXTRACT_MEMORY_MB,
    ROLES,
    Config,
    FeedSettings,
    MonitorSettings,
    UserSettings,
    WatchSettings,
)
from monitor.config.sourcekinds import source_problems
from monitor.config.tables import TOP_KEYS, TableReader
from monitor.config.watchlists import watchlist_lines
from monitor.errors import ConfigError, QueryError

QueryChecker = Callable[[str, bool], None]

MONITOR_KEYS = keys_of(MonitorSettings)
FEED_KEYS = keys_of(FeedSettings)
WATCH_KEYS = keys_of(WatchSettings)
USER_KEYS = keys_of(UserSettings)
WATCHLIST_KEYS = {**{k: v for k, v in WATCH_KEYS.items() if k not in ("query", "id")},
                  "file": str}
CHANNEL_KEYS = {kind: {"type": str, **keys_of(cls)} for kind, cls in CHANNEL_TYPES.items()}
ID_MAX = 2**31 - 1  # a rule's id is a database integer
NO_CHANNELS = ("is required: a rule without channels never alerts "
               "(write channels = [] to only record its matches for the dashboard)")


def check_query_with(checker: QueryChecker | None, query: str, case_sensitive: bool) -> str | None:
    """The checker's complaint about ``query`` as one line, or None when it is fine."""
    if checker is None:
        return None
    try:
        checker(query, case_sensitive)
    except QueryError as e:
        return str(e)
    return None


@dataclass
class _Parts:
    """What the documents define, each with the key path it was written at."""

    feeds: list[tuple[str, FeedSettings]] = field(default_factory=list)
    rules: list[tuple[str, WatchSettings]] = field(default_factory=list)  # where its name is
    uses: list[tuple[str, WatchSettings]] = field(default_factory=list)  # a table's channels
    channels: dict[str, ChannelSettings] = field(default_factory=dict)


class Validator(TableReader):
    """Collects problems while building a Config from parsed TOML documents."""

    def __init__(self, checker: QueryChecker | None, environ: Mapping[str, str],
                 problems: list[str], source_kinds: Collection[str] | None = None) -> None:
        super().__init__(environ, problems)
        self.checker = checker
        self.source_kinds = source_kinds  # None: kinds are not checked (no parsers at hand)
        self.warnings: list[str] = []

    def build(self, documents: list[tuple[Path, str, dict[str, Any]]], path: str) -> Config:
        """Validate every document (the main file first) and return the merged Config."""
        main_path, _, main = documents[0]
        settings = self.monitor(main.get("monitor", {}), main_path.parent)
        parts = _Parts()
        for doc_path, prefix, data in documents:
            self.document(data, prefix, doc_path.parent, settings, parts)
        if not parts.feeds and not parts.rules:
            self.problem(path, "nothing to do: no [[feeds]] and no [[watch]] or [[watchlist]]")
        self.cross_check(parts)
        self.check_monitor(settings, parts.channels)
        users = self.items(main, "users", "", lambda t, p: self.user(t, p, main_path.parent))
        self.unique([(f"{p}.name", u.name) for p, u in users], "user name")
        if self.problems:
            raise ConfigError(self.problems)
        return Config(settings, tuple(f for _, f in parts.feeds),
                      tuple(r for _, r in parts.rules), parts.channels, path,
                      tuple(self.warnings), users=tuple(u for _, u in users))

    def document(self, data: dict[str, Any], prefix: str, base: Path,
                 settings: MonitorSettings, parts: _Parts) -> None:
        """Add one file's tables to ``parts``; ``base`` is its folder, for relative paths."""
        self.unknown(data, TOP_KEYS if not prefix else TOP_KEYS - {"monitor", "include", "users"},
                     prefix)
        parts.feeds += self.items(data, "feeds", prefix,
                                  lambda t, p: self.feed(t, p, settings, base))
        for where, rule in self.items(data, "watch", prefix, self.watch):
            parts.rules.append((f"{where}.name", rule))
            parts.uses.append((where, rule))
        for i, table in enumerate(self.tables(data, "watchlist", prefix)):
            where = f"{prefix}watchlist[{i}]"
            shared, listed = self.watchlist(table, where, base)
            parts.uses.append((where, shared))
            parts.rules += listed
        for name, table in self.mapping(data, "channels", prefix).items():
            if name in parts.channels:
                self.problem(f"{prefix}channels.{name}", "defined twice")
            parts.channels[name] = self.channel(name, table, f"{prefix}channels.{name}", base)

    # -- tables -------------------------------------------------------------------------

    def monitor(self, table: object, base: Path) -> MonitorSettings:
        values = self.typed(table, MONITOR_KEYS, "monitor")
        settings = build(MonitorSettings, values, folder=base,
                         read=lambda secret: self.read_now(secret, "monitor"))
        try:
            settings = replace(settings, database=database_url(settings.database, base))
        except ValueError as e:
            self.problem("monitor.database", str(e))
        self.web(settings.web.listen, bool({"web_token_env", "web_token_file"} & set(values)))
        for i, entry in enumerate(settings.web.allowed_hosts):
            try:
                parse_host(entry)
            except ValueError as e:
                self.problem(f"monitor.allowed_hosts[{i}]", str(e))
        if settings.web.public_url:
            try:
                web = replace(settings.web, public_url=check_public_url(settings.web.public_url))
                settings = replace(settings, web=web)
            except ValueError as e:
                self.problem("monitor.public_url", str(e))
        try:
            zoneinfo.ZoneInfo(settings.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.problem("monitor.timezone", f"unknown time zone {settings.timezone!r}")
        return settings

    def web(self, listen: str, has_token: bool) -> None:
        """``[monitor] web`` is HOST:PORT, and beyond loopback it has a token."""
        if not listen:
            return
        try:
            host, _ = parse_address(listen)
        except ConfigError as e:
            self.problems.extend(e.problems)
            return
        if not has_token and not is_loopback(host):
            self.problem("monitor.web", f"{listen} is reachable from other machines: set "
                         "web_token_file or web_token_env (the dashboard then asks for that "
                         "bearer token), or listen on 127.0.0.1")

    def feed(self, table: dict[str, Any], path: str, settings: MonitorSettings,
             base: Path = Path()) -> FeedSettings:
        v = self.typed(table, FEED_KEYS, path)
        searched = v.get("kind") == "google-news" and "url" not in v  # the URL is the query's
        self.required(v, tuple(k for k in required_of(FeedSettings)
                               if not (searched and k == "url")), path)
        if "headers" in v:
            try:
                v["headers"] = check_headers(v["headers"])
            except ValueError as e:
                self.problem(f"{path}.headers", str(e))
                del v["headers"]
        url = str(v.get("url", ""))
        if url and not url.startswith(("http://", "https://")):
            self.problem(f"{path}.url", "must start with http:// or https://")
        poll = settings.poll
        inherited = {"interval": poll.poll_interval, "backfill": poll.backfill,
                     "max_age": poll.max_age,
                     "alert_on_first_poll": poll.alert_on_first_poll,
                     "allow_private_networks": settings.fetch.allow_private_networks}
        feed = build(FeedSettings, v, folder=base, defaults=inherited,
                     name=str(v.get("name") or url), url=url, interval_set="interval" in v)
        if searched and feed.options.query:
            url = feed.options.google_news_url()
            feed = replace(feed, url=url, name=str(v.get("name") or url))
        for key, message in source_problems(feed.kind, v, feed.options):
            self.problem(f"{path}.{key}", message)
        if self.source_kinds is not None and feed.kind not in self.source_kinds:
            self.problem(f"{path}.kind", f"unknown source kind {feed.kind!r} "
                         f"(known kinds: {', '.join(self.source_kinds)})")
        for key, message in check_request_settings(feed):
            self.problem(f"{path}.{key}", message)
        problems, warnings = check_cookies(feed, self.environ)  # unreadable: only a warning
        self.problems.extend(f"{path}.{p}" for p in problems)
        self.warnings.extend(f"{path}.{p}" for p in warnings)
        return feed

    def watch(self, table: dict[str, Any], path: str) -> WatchSettings:
        v = self.typed(table, WATCH_KEYS, path)
        self.required(v, required_of(WatchSettings), path)
        self.has_channels(table, path)
        rule = self.rule(v, str(v.get("name", "")), str(v.get("query", "")), path)
        if complaint := check_query_with(self.checker, rule.query, rule.case_sensitive):
            self.problem(f"{path}.query", complaint)
        if rule.id is not None and not 1 <= rule.id <= ID_MAX:
            self.problem(f"{path}.id", f"must be from 1 to {ID_MAX}")
        return rule

    def user(self, table: dict[str, Any], path: str, base: Path) -> UserSettings:
        """One ``[[users]]`` entry; its hash file is read now and must hold a hash."""
        v = self.typed(table, USER_KEYS, path)
        self.required(v, required_of(UserSettings), path)
        user = build(UserSettings, v, folder=base, name=str(v.get("name", "")))
        if user.password is None:
            self.problem(f"{path}.password_file", "is required: a file holding the hash "
                         "monitor passwd prints")
        if user.role not in ROLES:
            self.problem(f"{path}.role", f"must be one of {', '.join(map(repr, ROLES))}, "
                                         f"not {user.role!r}")
        stored = self.read_now(user.password, path) if user.password else None
        if stored is not None and (complaint := check_hash(stored)):
            self.problem(f"{path}.password_file", complaint)
        return user

    def watchlist(self, table: dict[str, Any], path: str, base: Path
                  ) -> tuple[WatchSettings, list[tuple[str, WatchSettings]]]:
        """The options the list's rules share, and each rule with the ``file:line`` it is on."""
        v = self.typed(table, WATCHLIST_KEYS, path)
        self.required(v, ("name", "file"), path)
        self.has_channels(table, path)
        shared = self.rule(v, str(v.get("name", "")), "", path)
        if "file" not in v:
            return shared, []
        file = base / str(v["file"])
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
            self.problem(f"{path}.file", f"cannot read {file}: {reason}")
            return shared, []
        rules = []
        for number, name, query in watchlist_lines(text):
            rule = self.rule(v, f"{v['name']}: {name}", query)
            if complaint := check_query_with(self.checker, query, rule.case_sensitive):
                self.problems.append(f"{file.name}:{number}: {complaint}")
            rules.append((f"{file.name}:{number}", rule))
        return shared, rules

    def has_channels(self, table: dict[str, Any], path: str) -> None:
        """A rule names its channels (a misspelt key is reported as unknown already)."""
        if "channels" not in table and not difflib.get_close_matches("channels", list(table)):
            self.problem(f"{path}.channels", NO_CHANNELS)

    def rule(self, v: dict[str, Any], name: str, query: str, path: str = "") -> WatchSettings:
        if path and v.get("match", MATCH_MODES[0]) not in MATCH_MODES:
            self.problem(f"{path}.match", f"must be one of {', '.join(map(repr, MATCH_MODES))}, "
                                          f"not {v['match']!r}")
        rule = build(WatchSettings, v, name=name, query=query)
        for i, code in enumerate(rule.languages if path else ()):
            if not (len(code) == 2 and code.isascii() and code.isalpha()):
                self.problem(f"{path}.languages[{i}]", f"{code!r} is not a 2-letter language "
                             "code such as en, de or fr")
        languages = tuple(dict.fromkeys(code.lower() for code in rule.languages))
        return replace(rule, languages=languages) if languages != rule.languages else rule

    def channel(self, name: str, table: object, path: str, folder: Path) -> ChannelSettings:
        """The settings of one ``[channels.NAME]`` table, as its ``type``'s class declares."""
        kind = table.get("type") if isinstance(table, dict) else None
        cls = CHANNEL_TYPES.get(kind) if isinstance(kind, str) else None
        if cls is None:
            self.problem(f"{path}.type", f"must be one of {', '.join(CHANNEL_TYPES)}, got {kind!r}")
            return ChannelSettings(name=name)
        v = self.typed(table, CHANNEL_KEYS[cls.type], path)
        complete = self.required(v, required_of(cls), path)
        settings = build(cls, v, folder=folder, name=name)
        for key, message in settings.check() if complete else []:
            self.problem(f"{path}.{key}" if key else path, message)
        for key, message in settings.warnings():
            self.warnings.append(f"{path}.{key}: {message}" if key else f"{path}: {message}")
        for secret in settings.secrets():
            try:
                secret.read(self.environ)
            except ConfigError as e:  # credentials may exist only inside the service: warn
                self.warnings.extend(f"{path}.{p}" for p in e.problems)
        return settings

    # -- checks -------------------------------------------------------------------------

    def cross_check(self, parts: _Parts) -> None:
        """Names and URLs are unique; rules name channels and feeds that exist."""
        self.unique([(f"{p}.name", f.name) for p, f in parts.feeds], "feed name")
        self.unique([(f"{p}.url", f.url) for p, f in parts.feeds], "feed URL")
        self.unique([(p, r.name) for p, r in parts.rules], "rule name")
        self.unique([(f"{p.removesuffix('.name')}.id", str(r.id)) for p, r in parts.rules
                     if r.id is not None], "rule id")
        known = {f.name for _, f in parts.feeds} | {t for _, f in parts.feeds for t in f.tags}
        for path, rule in parts.uses:
            for j, c in enumerate(rule.channels):
                if c not in parts.channels:
                    self.problem(f"{path}.channels[{j}]", f"unknown channel {c!r}")
            for j, name in enumerate(rule.feeds):
                if name not in known:
                    self.problem(f"{path}.feeds[{j}]", f"no feed or tag named {name!r}")

    def unique(self, written: list[tuple[str, str]], what: str) -> None:
        first: dict[str, str] = {}
        for path, value in written:
            if value and value in first:
                self.problem(path, f"duplicate {what} {value!r} (also at {first[value]})")
            first.setdefault(value, path)

    def check_monitor(self, m: MonitorSettings, channels: dict[str, ChannelSettings]) -> None:
        """``[monitor]`` keys that depend on each other, or on the channels."""
        poll = m.poll
        if poll.poll_interval < poll.min_poll_interval:
            self.problem("monitor.poll_interval",
                         f"{poll.poll_interval:g}s is below min_poll_interval "
                         f"({poll.min_poll_interval:g}s), so it could never apply: raise it "
                         "or lower min_poll_interval")
        if poll.min_poll_interval > poll.max_poll_interval:
            self.problem("monitor.max_poll_interval",
                         f"must not be shorter than min_poll_interval "
                         f"({poll.min_poll_interval:g}s)")
        if m.health.health_channel and m.health.health_channel not in channels:
            self.problem("monitor.health_channel",
                         f"unknown channel {m.health.health_channel!r}")
        if m.health.silent_factor < 1:
            self.problem("monitor.silent_factor", "must be at least 1")
        if 0 < m.retention.entries_days < MIN_ENTRIES_DAYS:
            self.problem("monitor.entries_days", f"must be 0 (keep) or at least "
                         f"{MIN_ENTRIES_DAYS}: a feed still listing an item keeps it a day")
        if m.retention.retention_batch < 1 or m.retention.retention_interval <= 0:
            self.problem("monitor.retention_batch" if m.retention.retention_batch < 1
                         else "monitor.retention_interval", "must be above 0")
        if m.extract_memory_mb < MIN_EXTRACT_MEMORY_MB:
            self.problem("monitor.extract_memory_mb",
                         f"must be at least {MIN_EXTRACT_MEMORY_MB}")
