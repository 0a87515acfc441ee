"""Load and validate the TOML configuration into typed, frozen settings.

Every problem is collected and reported at once, one line each, naming its key path
(``watch[1].query: unbalanced quote at column 7``). Query syntax is checked by a
``query_checker`` passed in by the caller, so this module depends on nothing above it.
Secrets come from ``*_file`` or ``*_env`` keys, never inline.
"""

from __future__ import annotations

import glob
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError, QueryError

QueryChecker = Callable[[str, bool], None]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> float:
    """Seconds in ``30s``, ``10m``, ``1h30m``, ``2d`` or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s, 10m or 1h, got {value!r}")
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError("a duration must be positive")
        return float(value)
    text = str(value).strip().lower()
    parts = _DURATION.findall(text)
    if not parts or _DURATION.sub("", text).strip():
        raise ValueError(f"expected a duration like 30s, 10m or 1h, got {value!r}")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


def cron_trigger(expr: str, timezone: str = "UTC") -> Any:
    """An APScheduler CronTrigger for a crontab line; 6 fields = with seconds first.

    ``0 8 * * mon-fri`` (minute hour day month weekday), or
    ``30 0 8 * * mon-fri`` (second minute hour day month weekday). ValueError if invalid.
    """
    from zoneinfo import ZoneInfo

    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) == 6:
        names = ("second", "minute", "hour", "day", "month", "day_of_week")
        return CronTrigger(**dict(zip(names, fields, strict=True)), timezone=ZoneInfo(timezone))
    if len(fields) != 5:
        raise ValueError(f"wrong number of fields in {expr!r}: expected 5 (or 6 with seconds)")
    return CronTrigger.from_crontab(expr, timezone=ZoneInfo(timezone))


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """The ``[monitor]`` table."""

    database: str = "sqlite:///monitor.db"
    poll_interval: float = 600.0
    max_article_bytes: int = 5_000_000
    max_feed_bytes: int = 10_000_000
    max_items_per_feed: int = 500
    user_agent: str = "monitor/0.1 (+https://github.com/monitor/monitor)"
    allow_private_networks: bool = False
    alert_on_first_poll: bool = False
    backfill: int = 50  # items of a new feed stored (not alerted) by its first poll
    web: str = "127.0.0.1:8080"
    web_token: str | None = field(default=None, repr=False)
    timezone: str = "UTC"
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    fetch_deadline: float = 60.0
    max_connections: int = 100
    per_host_connections: int = 2
    extract_workers: int = 2
    delivery_interval: float = 5.0
    delivery_horizon: float = 3 * 86400.0
    node_id: str = ""
    lease: float = 300.0
    min_poll_interval: float = 120.0
    max_poll_interval: float = 3600.0
    health_channel: str = ""
    failing_after: float = 6 * 3600.0
    silent_factor: int = 5
    health_interval: float = 300.0


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """One ``[[feeds]]`` table."""

    name: str
    url: str
    interval: float
    tags: tuple[str, ...] = ()
    allow_private_networks: bool = False
    alert_on_first_poll: bool = False
    backfill: int = 50  # items the first poll stores, newest first, without alerting
    interval_set: bool = False  # ``interval`` was set for this feed: a ceiling on its cadence


@dataclass(frozen=True, slots=True)
class WatchSettings:
    """One watch rule (a ``[[watch]]`` table or a line of a watchlist)."""

    name: str
    query: str
    channels: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()  # feed names or tags; empty = every feed
    digest: str | None = None
    case_sensitive: bool = False
    max_alerts_per_hour: int | None = None

    def applies_to(self, feed: FeedSettings) -> bool:
        """Whether this rule watches ``feed``."""
        return not self.feeds or feed.name in self.feeds or bool(set(feed.tags) & set(self.feeds))


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """One ``[channels.NAME]`` table; ``options`` holds the type's keys, secrets resolved."""

    name: str
    type: str
    options: dict[str, Any] = field(default_factory=dict, repr=False)
    digest: str | None = None

    def secret(self, base: str, environ: Mapping[str, str] | None = None) -> str | None:
        """Read the secret ``base`` from ``base_file`` or ``base_env`` now; None if unset."""
        environ = os.environ if environ is None else environ
        if file := self.options.get(f"{base}_file"):
            try:
                return Path(file).read_text(encoding="utf-8").strip()
            except OSError as e:
                raise ConfigError(f"{base}_file: cannot read {file}: {e.strerror}") from None
        if name := self.options.get(f"{base}_env"):
            if name not in environ:
                raise ConfigError(f"{base}_env: environment variable {name} is not set")
            return environ[name]
        return None


@dataclass(frozen=True, slots=True)
class Config:
    """The whole, validated configuration."""

    monitor: MonitorSettings
    feeds: tuple[FeedSettings, ...] = ()
    watches: tuple[WatchSettings, ...] = ()
    channels: dict[str, ChannelSettings] = field(default_factory=dict)
    path: str = ""
    warnings: tuple[str, ...] = ()  # problems that may vanish at run time (unreadable secrets)

    def feed(self, name: str) -> FeedSettings | None:
        """The feed named ``name``, or None."""
        return next((f for f in self.feeds if f.name == name), None)


def load_config(path: str | Path, query_checker: QueryChecker | None = None,
                environ: dict[str, str] | None = None) -> Config:
    """Read, merge includes, validate; raise ConfigError listing every problem."""
    from monitor.configschema import Validator

    path = Path(path)
    data = _read_toml(path, str(path))
    problems: list[str] = []
    documents = [(path, "", data)]
    for pattern in _as_list(data.get("include", [])):
        matched = sorted(glob.glob(str(path.parent / str(pattern))))
        if not matched and not glob.has_magic(str(pattern)):
            problems.append(f"include: no file matches {pattern!r}")
        for name in matched:
            try:
                documents.append((Path(name), f"{Path(name).name}: ", _read_toml(Path(name), name)))
            except ConfigError as e:
                problems.extend(e.problems)
    validator = Validator(query_checker, os.environ if environ is None else environ, problems)
    return validator.build(documents, str(path))


def _read_toml(path: Path, label: str) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{label}: no such file") from None
    except OSError as e:
        raise ConfigError(f"{label}: cannot read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{label}: invalid TOML: {e}") from None


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [value]


def check_query_with(checker: QueryChecker | None, query: str, case_sensitive: bool) -> str | None:
    """The checker's complaint about ``query`` as one line, or None when it is fine."""
    if checker is None:
        return None
    try:
        checker(query, case_sensitive)
    except QueryError as e:
        return str(e)
    return None
