"""Sign-out on every node: the sessions signed out before they expired, kept in the shared
database (``Store.revoke_session``, ``Store.session_revoked``) and remembered here.

A session is known by the SHA-256 of its cookie (``cookie_digest``); the cookie itself is
never stored. Each cookie whose signature holds is looked up by that digest, a
primary-key read in a worker thread, unless this process already knows it is signed out:
such answers are kept (up to ``REMEMBERED``, each until its cookie expires, when the
signature's date refuses it anyway). "Not signed out" is never kept, so a node refuses a
cookie signed out on another node from its next request on, as soon as that sign-out is
committed. Without a database (``lookup`` None) sign-outs hold in this process only.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool

from monitor.errors import StorageError

log = logging.getLogger(__name__)

REMEMBERED = 10_000
"""Signed-out sessions this process keeps in memory at most (the soonest to expire go)."""


def cookie_digest(cookie: str) -> str:
    """The hex SHA-256 a session is recorded under."""
    return hashlib.sha256(cookie.encode("utf-8", "surrogateescape")).hexdigest()


class Revocations:
    """Signed-out sessions: ``record(digest, expiry)`` and ``lookup(digest)`` are the
    database's, called in a worker thread; ``clock`` gives Unix seconds."""

    def __init__(self, lookup: Callable[[str], bool] | None,
                 record: Callable[[str, datetime], None] | None,
                 clock: Callable[[], float]) -> None:
        self.lookup = lookup
        self.record = record
        self.clock = clock
        self.known: dict[str, float] = {}  # digest -> its cookie's expiry (Unix seconds)

    async def revoked(self, digest: str) -> bool:
        """Whether the session of ``digest`` was signed out, here or on any node.
        StorageError when the database cannot say."""
        if digest in self.known:
            return True
        if self.lookup is None:
            return False
        return bool(await run_in_threadpool(self.lookup, digest))

    def remember(self, digest: str, expires: float) -> None:
        """Keep ``digest`` as signed out until ``expires``."""
        if len(self.known) >= REMEMBERED:  # the expired go, then the soonest to expire
            now = self.clock()
            left = sorted((e, d) for d, e in self.known.items() if e >= now)
            self.known = {d: e for e, d in left[len(left) - REMEMBERED + 1:]}
        self.known[digest] = expires

    async def revoke(self, digest: str, expires: float, user: str) -> bool:
        """Sign the session of ``digest`` out: here at once, on every node once recorded.
        False (logged) when the database could not record it."""
        self.remember(digest, expires)
        if self.record is None:
            return True
        try:
            await run_in_threadpool(self.record, digest, datetime.fromtimestamp(expires, UTC))
        except StorageError as e:
            log.error("event=web_logout_unrecorded user=%r error=%r", user, str(e))
            return False
        return True
