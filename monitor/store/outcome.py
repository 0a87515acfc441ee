"""Each transaction's outcome, kept in memory for /readyz (``Health``), and the
transaction itself (``Transaction``: SQLAlchemy's errors become StorageError).

The last error stands until a transaction begun after it succeeds having done at least
what the failed one did: any write clears it; a read alone clears only an error that
wrote nothing (an unreachable or unreadable database), not a failed write's (a full disk
fails writes while reads still work). Whether a transaction wrote is seen by its
statements (``note_writes``), not asked of the callers.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any, Literal

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import StorageError

_WROTE = "monitor_wrote"  # key in the DBAPI connection's ``info``, reset per transaction
_WRITE = re.compile(r"\s*(?:insert|update|delete|replace|upsert|merge|create|drop|alter"
                    r"|truncate)\b", re.IGNORECASE)


class Health:
    """The store's last error not yet cleared by a later success (see the module)."""

    def __init__(self) -> None:
        self.last_error: tuple[str, float] | None = None  # message, time.monotonic()
        self._error_wrote = False

    def failed(self, error: StorageError, wrote: bool = False) -> StorageError:
        self.last_error, self._error_wrote = (str(error), time.monotonic()), wrote
        return error

    def succeeded(self, began: float, wrote: bool) -> None:
        """A transaction begun at ``began`` (``time.monotonic()``) committed."""
        error = self.last_error
        if error is not None and error[1] < began and (wrote or not self._error_wrote):
            self.last_error = None

    def error_within(self, seconds: float) -> tuple[str, float] | None:
        """(the last error, seconds ago) if the store failed within ``seconds`` and has
        not recovered since; else None."""
        if self.last_error is None:
            return None
        message, at = self.last_error
        ago = time.monotonic() - at
        return (message, ago) if ago <= seconds else None


def note_writes(engine: Engine) -> None:
    """Mark a connection's transaction as one that wrote at its first writing statement."""
    event.listen(engine, "before_cursor_execute", _noted)


def _noted(conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
           executemany: bool) -> None:
    if context is not None and (context.isinsert or context.isupdate or context.isdelete
                                or context.isddl) or _WRITE.match(statement):
        conn.info[_WROTE] = True


class Transaction:
    """``with store._begin() as conn``: one transaction, errors become StorageError."""

    def __init__(self, engine: Engine, health: Health) -> None:
        self.engine = engine
        self.health = health

    def __enter__(self) -> Connection:
        self.began = time.monotonic()
        try:
            self.ctx = self.engine.begin()
            self.conn = self.ctx.__enter__()
        except SQLAlchemyError as e:
            raise self.health.failed(StorageError(
                f"database unavailable: {_short(e)}{_sqlite_file(self.engine)}")) from e
        self.conn.info[_WROTE] = False
        return self.conn

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> Literal[False]:
        try:  # read before the connection goes back to the pool
            wrote = bool(self.conn.info.get(_WROTE))
        except SQLAlchemyError:  # a connection dropped under the call: count it as a write
            wrote = True
        try:
            self.ctx.__exit__(kind, exc, tb)
        except SQLAlchemyError as e:
            raise self.health.failed(StorageError(f"database error: {_short(e)}"),
                                     wrote) from e
        if isinstance(exc, SQLAlchemyError):
            raise self.health.failed(StorageError(f"database error: {_short(exc)}"),
                                     wrote) from exc
        if exc is None:
            self.health.succeeded(self.began, wrote)
        return False


def _sqlite_file(engine: Engine) -> str:
    """For SQLite, which file could not be opened (its own message names none) and why, if
    its folder is the cause: SQLite writes its -wal and -shm files next to it."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        return ""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.access(folder, os.W_OK):
        return f" (file {path}; its folder {folder} is not writable)"
    return f" (file {path})"


def _short(e: BaseException) -> str:
    return str(e).splitlines()[0][:300]
