"""Where monitor listens (``HOST:PORT``), where its readers reach it (``public_url``) and
which database it uses (a SQLAlchemy URL)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from monitor.errors import ConfigError

_DATABASE_FORMS = "sqlite:////var/lib/monitor/monitor.db or postgresql+psycopg://user@host/db"


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


def parse_host(value: str) -> tuple[str, int | None]:
    """``host``, ``host:port`` or ``[v6]:port`` (an ``allowed_hosts`` entry, a Host header)
    as (lower-case host without a trailing dot, port or None); ValueError if malformed."""
    text = value.strip().lower()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"expected host, host:port or [v6]:port, got {value!r}")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:  # a name, or a bare IPv6 address (no port)
        host, port_text = text, ""
    host = host.removesuffix(".")
    bad_port = text.endswith(":") or bool(port_text) and not (
        port_text.isdigit() and int(port_text) <= 65535)
    if not host or bad_port or any(c in host for c in "/@?#\\ "):
        raise ValueError(f"expected host, host:port or [v6]:port, got {value!r}")
    return host, int(port_text) if port_text else None


def check_public_url(value: str) -> str:
    """``public_url`` (the dashboard's address as its readers open it, behind any proxy)
    without a trailing slash; ValueError unless http(s) with a host and no query or
    fragment (a path prefix is kept)."""
    try:
        parts = urlsplit(value.strip())
        ok = (parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
              and not parts.query and not parts.fragment)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("expected the http(s) address readers open the dashboard at, "
                         f"such as https://monitor.example.org, got {value!r}")
    return value.strip().rstrip("/")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
