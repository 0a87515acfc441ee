"""The keys the configuration accepts, and the validator that turns TOML into settings.

Pure apart from reading secret files and watchlist files named by the config.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Mapping
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
    parse_duration,
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
        main = documents[0][2]
        settings = self.monitor(main.get("monitor", {}))
        feeds: list[FeedSettings] = []
        watches: list[WatchSettings] = []
        channels: dict[str, ChannelSettings] = {}
        for doc_path, prefix, data in documents:
            allowed = TOP_KEYS if not prefix else TOP_KEYS - {"monitor", "include"}
            self.unknown(data, allowed, prefix.rstrip(" "))
            feeds += self.items(data, "feeds", prefix, lambda t, p: self.feed(t, p, settings))
            watches += self.items(data, "watch", prefix, self.watch)
            for i, table in enumerate(self.tables(data, "watchlist", prefix)):
                watches += self.watchlist(table, f"{prefix}watchlist[{i}]", doc_path.parent)
            for name, table in self.mapping(data, "channels", prefix).items():
                if name in channels:
                    self.problem(f"{prefix}channels.{name}", "defined twice")
                channels[name] = self.channel(name, table, f"{prefix}channels.{name}")
        self.cross_check(feeds, watches, channels)
        self.check_polling(settings, channels)
        if self.problems:
            raise ConfigError(self.problems)
        return Config(settings, tuple(feeds), tuple(watches), channels, path,
                      tuple(self.warnings))

    # -- tables -------------------------------------------------------------------------

    def monitor(self, table: object) -> MonitorSettings:
        values = self.typed(table, MONITOR_KEYS, "monitor")
        token = self.secret(values, "web_token", "monitor")
        values.pop("web_token_env", None)
        values.pop("web_token_file", None)
        if "timezone" in values:
            try:
                zoneinfo.ZoneInfo(values["timezone"])
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                self.problem("monitor.timezone", f"unknown time zone {values['timezone']!r}")
        return MonitorSettings(**values, web_token=token)

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
        rule = self.rule(v, str(v.get("name", "")), str(v.get("query", "")))
        if complaint := check_query_with(self.checker, rule.query, rule.case_sensitive):
            self.problem(f"{path}.query", complaint)
        return rule

    def watchlist(self, table: dict[str, Any], path: str, base: Path) -> list[WatchSettings]:
        v = self.typed(table, WATCHLIST_KEYS, path)
        self.required(v, ("name", "file"), path)
        if "file" not in v:
            return []
        file = base / str(v["file"])
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            self.problem(f"{path}.file", f"cannot read {file}: {e.strerror}")
            return []
        rules = []
        for number, line in enumerate(lines, 1):
            query = line.strip()
            if not query or query.startswith("#"):
                continue
            rule = self.rule(v, f"{v['name']}:{number}", query)
            if complaint := check_query_with(self.checker, query, rule.case_sensitive):
                self.problems.append(f"{file.name}:{number}: {complaint}")
            rules.append(rule)
        return rules

    def rule(self, v: dict[str, Any], name: str, query: str) -> WatchSettings:
        return WatchSettings(
            name=name, query=query, channels=tuple(str(c) for c in v.get("channels", ())),
            feeds=tuple(str(f) for f in v.get("feeds", ())), digest=v.get("digest"),
            case_sensitive=v.get("case_sensitive", False),
            max_alerts_per_hour=v.get("max_alerts_per_hour"))

    def channel(self, name: str, table: object, path: str) -> ChannelSettings:
        kind = table.get("type") if isinstance(table, dict) else None
        if kind not in CHANNEL_KEYS:
            self.problem(f"{path}.type", f"must be one of {', '.join(CHANNEL_KEYS)}, got {kind!r}")
            return ChannelSettings(name, str(kind))
        v = self.typed(table, CHANNEL_KEYS[kind], path)
        self.required(v, REQUIRED[kind], path)
        settings = ChannelSettings(name, kind, v, v.get("digest"))
        base = {"email": "password", "webhook": "secret", "apprise": "urls"}[kind]
        try:
            settings.secret(base, self.environ)
        except ConfigError as e:  # credentials may exist only inside the service: warn
            self.warnings.extend(f"{path}.{p}" for p in e.problems)
        if kind == "apprise" and not v.get("urls") and not ({"urls_env", "urls_file"} & set(v)):
            self.problem(f"{path}.urls", "needs at least one Apprise URL")
        return settings

    # -- checks -------------------------------------------------------------------------

    def cross_check(self, feeds: list[FeedSettings], watches: list[WatchSettings],
                    channels: dict[str, ChannelSettings]) -> None:
        seen: set[str] = set()
        for i, f in enumerate(feeds):
            if f.name in seen:
                self.problem(f"feeds[{i}].name", f"duplicate feed name {f.name!r}")
            seen.add(f.name)
        known = seen | {t for f in feeds for t in f.tags}
        names: set[str] = set()
        for i, w in enumerate(watches):
            if w.name in names:
                self.problem(f"watch[{i}].name", f"duplicate rule name {w.name!r}")
            names.add(w.name)
            for j, c in enumerate(w.channels):
                if c not in channels:
                    self.problem(f"watch[{i}].channels[{j}]", f"unknown channel {c!r}")
            for j, name in enumerate(w.feeds):
                if name not in known:
                    self.problem(f"watch[{i}].feeds[{j}]", f"no feed or tag named {name!r}")

    def check_polling(self, m: MonitorSettings, channels: dict[str, ChannelSettings]) -> None:
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
            if key.split("_")[0] in _SECRET_KEYS or key in _SECRET_KEYS:
                self.problem(f"{path}.{key}".lstrip("."),
                             f"secrets are never inline: use {key}_file or {key}_env")
            else:
                self.problem(f"{path}.{key}".lstrip(".").lstrip(": "), "unknown key")

    def secret(self, v: dict[str, Any], base: str, path: str) -> str | None:
        if f"{base}_file" in v:
            try:
                return Path(v.pop(f"{base}_file")).read_text(encoding="utf-8").strip()
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
              make: Callable[[dict[str, Any], str], Any]) -> list[Any]:
        tables = self.tables(data, key, prefix)
        return [make(t, f"{prefix}{key}[{i}]") for i, t in enumerate(tables)]

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
