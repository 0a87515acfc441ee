"""Shared fixtures: real local servers on 127.0.0.1, real SQLite and PostgreSQL databases.

Every test runs under a guard that fails it if anything dials an address outside
127.0.0.0/8 and ::1.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from monitor.daemon import Daemon, load
from monitor.testing import MailServer, NewsServer, WebhookReceiver, start_app
from tests.helpers import SECRET, write_config

PG_URL = os.environ.get("MONITOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _loopback(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths
    host = str(address[0])
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


@pytest.fixture(autouse=True)
def cli_logging_undone() -> Iterator[None]:
    """Undo the logging setup of a ``monitor`` command run in-process (``cli.main``): its
    handler writes to that test's captured stderr, closed once the test ends, so a later
    test's log line from any thread would hit a closed file."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers
                    and type(h).__module__ == "monitor.log"]:  # setup_logging's own
        root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any socket in this process dials a non-loopback address."""
    real = socket.socket.connect
    real_ex = socket.socket.connect_ex

    def connect(self: socket.socket, address: object) -> None:
        assert _loopback(address), f"test dialled a non-loopback address: {address!r}"
        return real(self, address)  # type: ignore[arg-type]

    def connect_ex(self: socket.socket, address: object) -> int:
        assert _loopback(address), f"test dialled a non-loopback address: {address!r}"
        return real_ex(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


def postgres_available() -> bool:
    """Whether the test PostgreSQL server answers on 127.0.0.1:5432."""
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def fresh_pg_url() -> str:
    """A PostgreSQL URL whose search_path is a new, empty schema."""
    import sqlalchemy

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A URL on a new, empty PostgreSQL schema, dropped afterwards."""
    import sqlalchemy

    url = fresh_pg_url()
    try:
        yield url
    finally:
        engine = sqlalchemy.create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("SET lock_timeout = '10s'"))
            conn.execute(sqlalchemy.text(
                f"DROP SCHEMA IF EXISTS {url.rsplit('%3D', 1)[1]} CASCADE"))
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'monitor.db'}"
        return
    if not postgres_available():
        pytest.skip("no PostgreSQL server reachable at 127.0.0.1:5432")
    with pg_schema() as url:
        yield url


@pytest.fixture
async def news() -> AsyncIterator[NewsServer]:
    """The seed articles served as a feed and pages on 127.0.0.1."""
    server = await NewsServer().start()
    yield server
    await server.stop()


@pytest.fixture
async def hook() -> AsyncIterator[WebhookReceiver]:
    """A webhook receiver on 127.0.0.1."""
    receiver = await WebhookReceiver().start()
    yield receiver
    await receiver.stop()


@pytest.fixture
def mail() -> Iterator[MailServer]:
    """An aiosmtpd server on 127.0.0.1."""
    server = MailServer().start()
    yield server
    server.stop()


ServeApp = Callable[..., Awaitable[str]]


@pytest.fixture
async def serve_app() -> AsyncIterator[ServeApp]:
    """Serve aiohttp apps on 127.0.0.1 for one test: ``base = await serve_app(app)``."""
    runners: list[web.AppRunner] = []

    async def serve(app: web.Application, **options: object) -> str:
        runner, port = await start_app(app, **options)
        runners.append(runner)
        return f"http://127.0.0.1:{port}"

    yield serve
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """One plain HTTP client for channels under test (no proxies from the environment)."""
    async with httpx.AsyncClient(trust_env=False) as c:
        yield c


@pytest.fixture
async def seed_daemon(tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
                      monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Daemon, Path]]:
    """A daemon on the seed feed and the two seed rules alerting the webhook receiver (not
    yet run), and its config file; closed after the test."""
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = write_config(tmp_path, news, None, hook)
    daemon = Daemon(load(str(path)), str(path))
    try:
        yield daemon, path
    finally:
        await daemon.close()


@pytest.fixture
async def ran_once(seed_daemon: tuple[Daemon, Path]) -> tuple[Daemon, Path]:
    """The seed daemon after one poll (articles stored, alerts delivered to the webhook
    receiver), and its config file."""
    await seed_daemon[0].run_once()
    return seed_daemon
