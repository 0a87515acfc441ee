"""The keys the configuration accepts, and the validator that turns TOML into settings.

Pure apart from reading secret files and watchlist files named by the config.
"""

from __future__ import annotations

import difflib
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.config import (
    ChannelSettings,
    Config,
    FeedSettings,
    MonitorSettings,
    QueryChecker,
    WatchSettings,
    check_query_with,
    cron_trigger,
    database_url,
    is_loopback,
    parse_address,
    parse_duration,
    watchlist_lines,
)
from monitor.errors import ConfigError

MONITOR_KEYS = {
    "database": str, "poll_interval": "duration", "max_article_bytes": int,
    "max_feed_bytes": int, "max_items_per_feed": int, "user_agent": str,
    "allow_private_networks": bool, "alert_on_first_poll": bool, "web": str,
    "web_token_env": str, "web_token_file": str, "timezone": str,
    "connect_timeout": "duration", "read_timeout": "duration", "fetch_deadline": "duration",
    "max_connections": int, "per_host_connections": int, "extract_workers": int,
    "delivery_interval": "duration", "delivery_horizon": "duration", "node_id": str,
    "lease": "duration", "min_poll_interval": "duration", "max_poll_interval": "duration",
    "health_channel": str, "failing_after": "duration", "silent_factor": int,
    "health_interval": "duration", "backfill": int,
}
FEED_KEYS = {"name": str, "url": str, "interval": "duration", "tags": list,
             "allow_private_networks": bool, "alert_on_first_poll": bool, "backfill": int}
WATCH_KEYS = {"name": str, "query": str, "channels": list, "feeds": list, "digest": "cron",
              "case_sensitive": bool, "max_alerts_per_hour": int}
WATCHLIST_KEYS = {**{k: v for k, v in WATCH_KEYS.items() if k != "query"}, "file": str}
CHANNEL_KEYS: dict[str, dict[str, object]] = {
    "email": {"type": str, "to": list, "from": str, "smtp_host": str, "smtp_port": int,
              "starttls": bool, "tls": bool, "username": str, "password_file": str,
              "password_env": str, "timeout": "duration", "digest": "cron"},
    "webhook": {"type": str, "url": str, "secret_file": str, "secret_env": str,
                "timeout": "duration", "digest": "cron"},
    "apprise": {"type": str, "urls": list, "urls_file": str, "urls_env": str, "digest": "cron"},
}
REQUIRED = {"email": ("to", "from", "smtp_host"), "webhook": ("url",), "apprise": ()}
TOP_KEYS = {"monitor", "feeds", "watch", "watchlist", "channels", "include"}
_SECRET_KEYS = {"password", "secret", "token", "urls"}
NO_CHANNELS = ("is required: a rule without channels never alerts "
               "(write channels = [] to only record its matches for the dashboard)")


@dataclass
class _Parts:
    """What the documents define, each with the key path it was written at."""

    feeds: list[tuple[str, FeedSettings]] = field(default_factory=list)
    rules: list[tuple[str, WatchSettings]] = field(default_factory=list)  # where its name is
    uses: list[tuple[str, WatchSettings]] = field(default_factory=list)  # a table's channels
    channels: dict[str, ChannelSettings] = field(default_factory=dict)


class Validator:
    """Collects problems while building a Config from parsed TOML documents."""

    def __init__(self, checker: QueryChecker | None, environ: Mapping[str, str],
                 problems: list[str]) -> None:
        self.checker = checker
        self.environ = environ
        self.problems = problems
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
        self.check_polling(settings, parts.channels)
        if self.problems:
            raise ConfigError(self.problems)
        return Config(settings, tuple(f for _, f in parts.feeds),
                      tuple(r for _, r in parts.rules), parts.channels, path,
                      tuple(self.warnings))

    def document(self, data: dict[str, Any], prefix: str, base: Path,
                 settings: MonitorSettings, parts: _Parts) -> None:
        """Add one file's tables to ``parts``; ``base`` is its folder, for relative paths."""
        self.unknown(data, TOP_KEYS if not prefix else TOP_KEYS - {"monitor", "include"},
                     prefix)
        parts.feeds += self.items(data, "feeds", prefix, lambda t, p: self.feed(t, p, settings))
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
        has_token = bool({"web_token_env", "web_token_file"} & set(values))
        token = self.secret(values, "web_token", "monitor", base)
        values.pop("web_token_env", None)
        values.pop("web_token_file", None)
        defaults = MonitorSettings()
        try:
            values["database"] = database_url(values.get("database", defaults.database), base)
        except ValueError as e:
            self.problem("monitor.database", str(e))
        self.web(values.get("web", defaults.web), has_token)
        if "timezone" in values:
            try:
                zoneinfo.ZoneInfo(values["timezone"])
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                self.problem("monitor.timezone", f"unknown time zone {values['timezone']!r}")
        return MonitorSettings(**values, web_token=token)

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

    def feed(self, table: dict[str, Any], path: str, settings: MonitorSettings) -> FeedSettings:
        v = self.typed(table, FEED_KEYS, path)
        self.required(v, ("url",), path)
        url = str(v.get("url", ""))
        if url and not url.startswith(("http://", "https://")):
            self.problem(f"{path}.url", "must start with http:// or https://")
        return FeedSettings(
            name=str(v.get("name") or url), url=url,
            interval=v.get("interval", settings.poll_interval),
            tags=tuple(str(t) for t in v.get("tags", ())),
            allow_private_networks=v.get("allow_private_networks",
                                         settings.allow_private_networks),
            alert_on_first_poll=v.get("alert_on_first_poll", settings.alert_on_first_poll),
            backfill=v.get("backfill", settings.backfill), interval_set="interval" in v)

    def watch(self, table: dict[str, Any], path: str) -> WatchSettings:
        v = self.typed(table, WATCH_KEYS, path)
        self.required(v, ("name", "query"), path)
        self.has_channels(table, path)
        rule = self.rule(v, str(v.get("name", "")), str(v.get("query", "")))
        if complaint := check_query_with(self.checker, rule.query, rule.case_sensitive):
            self.problem(f"{path}.query", complaint)
        return rule

    def watchlist(self, table: dict[str, Any], path: str, base: Path
                  ) -> tuple[WatchSettings, list[tuple[str, WatchSettings]]]:
        """The options the list's rules share, and each rule with the ``file:line`` it is on."""
        v = self.typed(table, WATCHLIST_KEYS, path)
        self.required(v, ("name", "file"), path)
        self.has_channels(table, path)
        shared = self.rule(v, str(v.get("name", "")), "")
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

    def rule(self, v: dict[str, Any], name: str, query: str) -> WatchSettings:
        return WatchSettings(
            name=name, query=query, channels=tuple(str(c) for c in v.get("channels", ())),
            feeds=tuple(str(f) for f in v.get("feeds", ())), digest=v.get("digest"),
            case_sensitive=v.get("case_sensitive", False),
            max_alerts_per_hour=v.get("max_alerts_per_hour"))

    def channel(self, name: str, table: object, path: str, folder: Path) -> ChannelSettings:
        kind = table.get("type") if isinstance(table, dict) else None
        if kind not in CHANNEL_KEYS:
            self.problem(f"{path}.type", f"must be one of {', '.join(CHANNEL_KEYS)}, got {kind!r}")
            return ChannelSettings(name, str(kind))
        v = self.typed(table, CHANNEL_KEYS[kind], path)
        self.required(v, REQUIRED[kind], path)
        for key in [k for k in v if k.endswith("_file")]:
            v[key] = str(folder / v[key])
        if kind == "webhook":
            self.webhook(v, path)
        settings = ChannelSettings(name, kind, v, v.get("digest"))
        base = {"email": "password", "webhook": "secret", "apprise": "urls"}[kind]
        try:
            settings.secret(base, self.environ)
        except ConfigError as e:  # credentials may exist only inside the service: warn
            self.warnings.extend(f"{path}.{p}" for p in e.problems)
        if kind == "apprise" and not v.get("urls") and not ({"urls_env", "urls_file"} & set(v)):
            self.problem(f"{path}.urls", "needs at least one Apprise URL")
        return settings

    def webhook(self, v: dict[str, Any], path: str) -> None:
        url = str(v.get("url", ""))
        if url and not url.startswith(("http://", "https://")):
            self.problem(f"{path}.url", "must start with http:// or https://")
        if not {"secret_file", "secret_env"} & set(v):
            self.warnings.append(f"{path}: no secret_file or secret_env: deliveries go "
                                 "unsigned, so receivers cannot tell them from forgeries")

    # -- checks -------------------------------------------------------------------------

    def cross_check(self, parts: _Parts) -> None:
        """Names and URLs are unique; rules name channels and feeds that exist."""
        self.unique([(f"{p}.name", f.name) for p, f in parts.feeds], "feed name")
        self.unique([(f"{p}.url", f.url) for p, f in parts.feeds], "feed URL")
        self.unique([(p, r.name) for p, r in parts.rules], "rule name")
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

    def check_polling(self, m: MonitorSettings, channels: dict[str, ChannelSettings]) -> None:
        if m.poll_interval < m.min_poll_interval:
            self.problem("monitor.poll_interval",
                         f"{m.poll_interval:g}s is below min_poll_interval "
                         f"({m.min_poll_interval:g}s), so it could never apply: raise it "
                         "or lower min_poll_interval")
        if m.min_poll_interval > m.max_poll_interval:
            self.problem("monitor.max_poll_interval",
                         f"must not be shorter than min_poll_interval "
                         f"({m.min_poll_interval:g}s)")
        if m.health_channel and m.health_channel not in channels:
            self.problem("monitor.health_channel", f"unknown channel {m.health_channel!r}")
        if m.silent_factor < 1:
            self.problem("monitor.silent_factor", "must be at least 1")

    def typed(self, table: object, spec: Mapping[str, object], path: str) -> dict[str, Any]:
        if not isinstance(table, dict):
            self.problem(path, "must be a table")
            return {}
        self.unknown(table, set(spec), path)
        out: dict[str, Any] = {}
        for key, value in table.items():
            if key in spec and (converted := self.convert(value, spec[key], f"{path}.{key}")):
                out[key] = converted[0]
        return out

    def convert(self, value: object, kind: object, path: str) -> tuple[object] | None:
        try:
            if kind == "duration":
                return (parse_duration(value),)
            if kind == "cron":
                return (_check_cron(value),)
            if kind is int and isinstance(value, int) and not isinstance(value, bool):
                if value < 0:
                    raise ValueError("must not be negative")
                return (value,)
            if isinstance(kind, type) and kind is not int and isinstance(value, kind):
                return (value,)
            raise ValueError(f"expected {_kind_name(kind)}, got {type(value).__name__}")
        except ValueError as e:
            self.problem(path, str(e))
            return None

    def unknown(self, table: dict[str, Any], allowed: set[str], path: str) -> None:
        for key in table:
            if key in allowed:
                continue
            where = f"{path}{key}" if not path or path.endswith(": ") else f"{path}.{key}"
            if key.split("_")[0] in _SECRET_KEYS or key in _SECRET_KEYS:
                self.problem(where, f"secrets are never inline: use {key}_file or {key}_env")
            elif path.endswith(": ") and key in TOP_KEYS:
                self.problem(where, "allowed only in the main config file")
            else:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                self.problem(where, "unknown key" + (f" (did you mean {close[0]}?)"
                                                     if close else ""))

    def secret(self, v: dict[str, Any], base: str, path: str, folder: Path) -> str | None:
        if f"{base}_file" in v:
            try:
                file = folder / str(v.pop(f"{base}_file"))
                return file.read_text(encoding="utf-8").strip()
            except OSError as e:
                self.problem(f"{path}.{base}_file", f"cannot read: {e.strerror}")
        elif f"{base}_env" in v:
            name = v.pop(f"{base}_env")
            if name not in self.environ:
                self.problem(f"{path}.{base}_env", f"environment variable {name} is not set")
            return self.environ.get(name)
        return None

    def required(self, v: dict[str, Any], keys: tuple[str, ...], path: str) -> None:
        for key in keys:
            if key not in v:
                self.problem(f"{path}.{key}", "is required")

    def items(self, data: dict[str, Any], key: str, prefix: str,
              make: Callable[[dict[str, Any], str], Any]) -> list[tuple[str, Any]]:
        """``(key path, make(table, key path))`` for each table of the array ``key``."""
        out = []
        for i, table in enumerate(self.tables(data, key, prefix)):
            out.append((f"{prefix}{key}[{i}]", make(table, f"{prefix}{key}[{i}]")))
        return out

    def tables(self, data: dict[str, Any], key: str, prefix: str) -> list[dict[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            self.problem(f"{prefix}{key}", f"must be an array of tables ([[{key}]])")
            return []
        return value

    def mapping(self, data: dict[str, Any], key: str, prefix: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.problem(f"{prefix}{key}", "must be a table")
            return {}
        return value

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")


def _kind_name(kind: object) -> str:
    names: dict[object, str] = {str: "a string", int: "an integer", bool: "true or false",
                                list: "an array"}
    return names.get(kind, str(kind))


def _check_cron(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a cron expression like '0 8 * * mon-fri'")
    try:
        cron_trigger(value)
    except ValueError as e:
        raise ValueError(f"invalid cron expression {value!r}: {e}") from None
    return value
