"""A bound on PostgreSQL calls kept by the client, for a server that stops answering.

``statement_timeout`` and ``lock_timeout`` are the server's: a server that is frozen
(SIGSTOP, a paused VM) cancels nothing, and a stopped server's kernel still answers TCP
keepalives. So ``watch(engine, bound)`` marks each connection busy while a statement, a
ping, a commit or a rollback is under way on it; one still busy ``bound`` seconds later has
its socket shut down by the watchdog's thread, so the call waiting on it fails at once
(psycopg raises OperationalError, SQLAlchemy drops the connection, the store raises
StorageError) and one ``event=database_frozen`` line is logged. Connecting is bounded by
libpq's ``connect_timeout`` already.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger(__name__)

TICK = 0.5  # seconds between the watchdog's looks


class Watchdog:
    """Shuts down the socket of a connection busy for longer than ``bound`` seconds."""

    def __init__(self, bound: float) -> None:
        self.bound = bound
        self._busy: dict[int, tuple[Any, float]] = {}  # id(connection) -> (it, deadline)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def busy(self, dbapi_conn: Any) -> None:
        """``dbapi_conn`` starts a call: it has ``bound`` seconds from now."""
        with self._lock:
            self._busy[id(dbapi_conn)] = (dbapi_conn, time.monotonic() + self.bound)
            if self._thread is None and not self._closed.is_set():
                self._thread = threading.Thread(target=self._run, name="db-watchdog",
                                                daemon=True)
                self._thread.start()

    def idle(self, dbapi_conn: Any) -> None:
        """``dbapi_conn``'s call is over."""
        with self._lock:
            self._busy.pop(id(dbapi_conn), None)

    def close(self) -> None:
        """Stop watching (the store is closed)."""
        self._closed.set()

    def _run(self) -> None:
        while not self._closed.wait(TICK):
            now = time.monotonic()
            with self._lock:
                late = [conn for conn, deadline in self._busy.values() if deadline <= now]
                for conn in late:
                    del self._busy[id(conn)]
            for conn in late:
                _cut(conn, self.bound)


def _cut(dbapi_conn: Any, bound: float) -> None:
    try:
        fd = dbapi_conn.pgconn.socket
        sock = socket.socket(fileno=os.dup(fd))
    except Exception:  # noqa: BLE001 - the connection is gone already: nothing to cut
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return
    finally:
        sock.close()  # the duplicate only; the shut-down socket is psycopg's to close
    log.error("event=database_frozen action=connection_dropped no_answer_for_s=%g", bound)


def watch(engine: Engine, bound: float) -> Watchdog:
    """Keep ``bound`` on every call ``engine`` makes (a PostgreSQL engine)."""
    dog = Watchdog(bound)

    def busy(conn: Any, *args: Any) -> None:
        dog.busy(conn.connection.dbapi_connection)

    def idle(conn: Any, *args: Any) -> None:
        dog.idle(conn.connection.dbapi_connection)

    event.listen(engine, "before_cursor_execute", busy)
    event.listen(engine, "after_cursor_execute", idle)
    event.listen(engine, "commit", busy)
    event.listen(engine, "rollback", busy)
    event.listen(engine.pool, "reset", lambda dbapi_conn, *a: dog.busy(dbapi_conn))
    event.listen(engine.pool, "checkin", lambda dbapi_conn, *a: dog.idle(dbapi_conn))
    ping = engine.dialect.do_ping

    def do_ping(dbapi_conn: Any) -> bool:  # the pool's pre-ping, watched too
        dog.busy(dbapi_conn)
        try:
            return ping(dbapi_conn)
        finally:
            dog.idle(dbapi_conn)

    engine.dialect.do_ping = do_ping  # type: ignore[method-assign, assignment]
    return dog
