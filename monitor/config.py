"""Load and validate the TOML configuration into typed, frozen settings.

Every problem is collected and reported at once, one line each, naming its key path
(``watch[1].query: unbalanced quote at column 7``). Query syntax is checked by a
``query_checker`` passed in by the caller, so this module depends on nothing above it.
Secrets come from ``*_file`` or ``*_env`` keys, never inline. Relative paths (a SQLite
database, ``*_file``, watchlist files, includes) are taken from the folder of the file that
names them, never from the current directory. ``monitor check`` and the daemon's start-up
and reload all call ``load_config``, so they refuse the same configs.
"""

from __future__ import annotations

import glob
import hashlib
import ipaddress
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


def parse_address(value: str, key: str = "monitor.web") -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as (host, port); ConfigError naming ``key``."""
    host, sep, port_text = value.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        hint = (f" (to listen on port {value.strip()} of this machine only: "
                f"127.0.0.1:{value.strip()})" if value.strip().isdigit() else "")
        raise ConfigError(f"{key}: expected HOST:PORT like 127.0.0.1:8080, got {value!r}{hint}")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_DATABASE_FORMS = "sqlite:////var/lib/monitor/monitor.db or postgresql+psycopg://user@host/db"


def database_url(value: str, base: Path) -> str:
    """``value`` as a usable SQLAlchemy URL, a relative SQLite path made absolute under ``base``.

    ValueError, naming the right form, when the URL does not parse, names no database
    monitor supports (``postgres://``) or a driver that is not installed. The message never
    repeats the URL, which may hold a password.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(f"not a database URL; expected {_DATABASE_FORMS}") from None
    backend = url.get_backend_name()
    if backend == "postgres":
        raise ValueError("postgres:// is not a SQLAlchemy URL: write "
                         "postgresql+psycopg://user@host/db")
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {backend!r}; expected {_DATABASE_FORMS}")
    try:
        url.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError):
        raise ValueError(f"the driver of {url.drivername}:// is not installed: write "
                         + ("postgresql+psycopg://user@host/db" if backend == "postgresql"
                            else "sqlite:////path/to/monitor.db")) from None
    file = sqlite_file(value)
    if file is None or file.is_absolute():
        return value
    return url.set(database=str(base / file)).render_as_string(hide_password=False)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL as written; None for in-memory SQLite or another database."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if (parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:")
            or parsed.query.get("uri")):
        return None
    return Path(parsed.database)


_NAMED_LINE = re.compile(r'([^"/|]*?\S)\s+\|\s+(.*)')
_NAME_CHARS = 100


def watchlist_lines(text: str) -> list[tuple[int, str, str]]:
    """``(line number, rule name, query)`` for each rule line of a watchlist file.

    Blank lines and ``#`` comments are skipped. A line is ``NAME | QUERY`` (the name holds
    no ``"``, ``/`` or ``|``, so a pipe inside a phrase or a regex is part of the query) or a
    query alone, which then names itself: the name never depends on the line's position.
    """
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        named = _NAMED_LINE.fullmatch(line)
        name, query = (named.group(1), named.group(2).strip()) if named else (None, line)
        out.append((number, name or _short_name(query), query))
    return out


def _short_name(query: str) -> str:
    """``query`` on one line, cut with a digest of the whole when it is long."""
    name = " ".join(query.split())
    if len(name) <= _NAME_CHARS:
        return name
    digest = hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{name[:_NAME_CHARS - 12].rstrip()}… #{digest}"


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

    database: str = "sqlite:///monitor.db"  # relative paths: against the config's folder
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

    label = str(path)
    path = Path(os.path.abspath(path))  # relative paths inside resolve against its folder
    data = _read_toml(path, label)
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
    return validator.build(documents, label)


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
