"""The store's base: the engine, one transaction at a time, the schema's migration, ping.

Each area of the store (feeds, articles, outbox, cluster, stats) is a mixin over
``StoreBase`` in its own module; ``monitor.store.Store`` composes them. Every area opens
its transactions with ``self._begin()`` and builds dialect-specific statements with
``self._insert(table)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import StorageError
from monitor.store import schema as t

MIGRATE_LOCK = 4242001  # pg_advisory_xact_lock keys; the areas hold the others, and
STORY_LOCK = 4242003  # article writes (stories, URLs) and rule syncs share this one
CHUNK = 500
"""Bound on the values of one ``IN (...)`` (SQLite allows a few thousand parameters)."""

_T = TypeVar("_T")


class StoreBase:
    """An engine on ``url`` (SQLite or PostgreSQL) and the transactions over it."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine: Engine = _make_engine(url)
        except (SQLAlchemyError, ValueError, OSError) as e:
            raise StorageError(f"cannot open database: {e}") from e
        self.postgres = self.engine.dialect.name == "postgresql"

    def close(self) -> None:
        """Release every connection."""
        self.engine.dispose()

    def _begin(self) -> Transaction:
        return Transaction(self.engine)

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


class Transaction:
    """``with store._begin() as conn``: one transaction, errors become StorageError."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> Connection:
        try:
            self.ctx = self.engine.begin()
            return self.ctx.__enter__()
        except SQLAlchemyError as e:
            raise StorageError(f"database unavailable: {_short(e)}") from e

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> Literal[False]:
        try:
            self.ctx.__exit__(kind, exc, tb)
        except SQLAlchemyError as e:
            raise StorageError(f"database error: {_short(e)}") from e
        if isinstance(exc, SQLAlchemyError):
            raise StorageError(f"database error: {_short(exc)}") from exc
        return False


def chunks(items: Sequence[_T], size: int = CHUNK) -> Iterator[list[_T]]:
    """``items`` in lists of at most ``size``."""
    for i in range(0, len(items), size):
        yield list(items[i:i + size])


def _short(e: BaseException) -> str:
    return str(e).splitlines()[0][:300]


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000",
                   "foreign_keys=ON"):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()
