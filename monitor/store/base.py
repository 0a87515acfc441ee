"""The store's base: the engine, one transaction at a time, the schema's migration, ping.

Each area of the store (feeds, articles, outbox, cluster, stats) is a mixin over
``StoreBase`` in its own module; ``monitor.store.Store`` composes them. Every area opens
its transactions with ``self._begin()`` and builds dialect-specific statements with
``self._insert(table)``.

No call waits for the database without a bound: connecting gives up after
``connect_timeout`` seconds (PostgreSQL's ``connect_timeout``), a statement or a lock wait
after ``timeout`` (PostgreSQL's ``statement_timeout`` and ``lock_timeout``; SQLite's busy
timeout), TCP keepalives (and ``tcp_user_timeout``) drop a connection whose server
host vanished, and a PostgreSQL call still waiting ``WATCH_GRACE`` seconds after the
server should have cancelled it has its connection dropped by ``monitor.store.watchdog``
(the server froze). Each transaction's outcome is kept in ``health`` (``last_error``, until
a later transaction succeeds: ``monitor.store.outcome``), so /readyz can say the database
is failing without asking it again.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, make_url, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import StorageError
from monitor.store import schema as t
from monitor.store.outcome import Health, Transaction, note_writes
from monitor.store.watchdog import watch

MIGRATE_LOCK = 4242001  # pg_advisory_xact_lock keys; the areas hold the others, and
STORY_LOCK = 4242003  # article writes (stories, URLs) and rule syncs share this one
CHUNK = 500
"""Bound on the values of one ``IN (...)`` (SQLite allows a few thousand parameters)."""
CONNECT_TIMEOUT = 10.0
"""Seconds to open a PostgreSQL connection (one that accepts and never answers fails
instead of hanging), unless the URL sets ``connect_timeout`` itself."""
TIMEOUT = 30.0
"""Seconds a statement may run or wait for a lock (SQLite: for another writer's lock)."""
WATCH_GRACE = 5.0
"""Seconds past ``timeout`` after which a PostgreSQL call still waiting is taken for one
whose server froze (``monitor.store.watchdog``): its connection is dropped."""
KEEPALIVE = (30, 10, 3)
"""TCP keepalives of PostgreSQL connections: idle seconds, seconds between probes, probes."""

_T = TypeVar("_T")


class StoreBase:
    """An engine on ``url`` (SQLite or PostgreSQL) and the transactions over it."""

    def __init__(self, url: str, *, connect_timeout: float = CONNECT_TIMEOUT,
                 timeout: float = TIMEOUT) -> None:
        self.url = url
        self.health = Health()
        try:
            self.engine: Engine = _make_engine(url, connect_timeout, timeout)
        except (SQLAlchemyError, ValueError, OSError) as e:
            raise StorageError(f"cannot open database: {e}") from e
        self.postgres = self.engine.dialect.name == "postgresql"
        note_writes(self.engine)  # for ``health``: which failed and succeeded transactions wrote
        self.watchdog = watch(self.engine, timeout + WATCH_GRACE) if self.postgres else None

    def close(self) -> None:
        """Release every connection."""
        if self.watchdog:
            self.watchdog.close()
        self.engine.dispose()

    def _begin(self) -> Transaction:
        return Transaction(self.engine, self.health)

    def _insert(self, table: Any) -> Any:
        """``INSERT`` with the dialect's ``ON CONFLICT`` clauses."""
        return (postgresql.insert if self.postgres else sqlite.insert)(table)

    def _lock(self, conn: Connection, key: int) -> None:
        """Serialise this transaction with others taking ``key`` (PostgreSQL; SQLite has
        one writer at a time already)."""
        if self.postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    def migrate(self) -> int:
        """Create or upgrade the schema; safe when several nodes start at once."""
        with self._begin() as conn:
            if not self.postgres:  # pysqlite runs DDL outside a transaction until the
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # first write: make it all one
            self._lock(conn, MIGRATE_LOCK)
            return t.migrate(conn)

    def ping(self) -> None:
        """Raise StorageError unless the database answers."""
        with self._begin() as conn:  # a real read: SELECT 1 never touches a SQLite file
            conn.execute(select(t.schema_version.c.version)).first()


def chunks(items: Sequence[_T], size: int = CHUNK) -> Iterator[list[_T]]:
    """``items`` in lists of at most ``size``."""
    for i in range(0, len(items), size):
        yield list(items[i:i + size])


def _make_engine(url: str, connect_timeout: float, timeout: float) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": timeout})
        event.listen(engine, "connect", functools.partial(_sqlite_pragmas, timeout))
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5,
                         connect_args=_postgres_args(url, connect_timeout, timeout))


def _postgres_args(url: str, connect_timeout: float, timeout: float) -> dict[str, Any]:
    """libpq's connection parameters bounding every wait; the URL's own take precedence
    (its ``options``, such as a search path, are kept, and ours added to them)."""
    ms = max(1, int(timeout * 1000))
    idle, interval, count = KEEPALIVE
    given = make_url(url).query
    options = given.get("options", "")
    options = " ".join(options) if isinstance(options, tuple) else options
    options = " ".join([options] + [f"-c {name}={ms}" for name in (
        "statement_timeout", "lock_timeout") if name not in options]).strip()
    args: dict[str, Any] = {
        "connect_timeout": max(1, round(connect_timeout)),  # libpq: whole seconds, >= 1
        "keepalives": 1, "keepalives_idle": idle, "keepalives_interval": interval,
        "keepalives_count": count, "tcp_user_timeout": ms}
    return {k: v for k, v in args.items() if k not in given} | {"options": options}


def _sqlite_pragmas(timeout: float, dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL",
                   f"busy_timeout={max(1, int(timeout * 1000))}", "foreign_keys=ON"):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()
