"""The sessions area: dashboard sessions signed out before they expired, shared by every
node (``monitor.web.auth`` records one at sign-out and looks each signed cookie up), and
the pruning of those whose cookie has expired (``monitor.retention``).

A row holds the SHA-256 of a cookie and the cookie's expiry, never the cookie. Looking one
up is a primary-key read; recording one twice (two sign-outs racing) keeps the first.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from monitor.store import schema as t

if TYPE_CHECKING:
    from monitor.store.base import StoreBase
else:
    StoreBase = object


class SessionsMixin(StoreBase):
    """Signed-out sessions."""

    def revoke_session(self, digest: str, expires: datetime) -> None:
        """Record the session whose cookie has the SHA-256 ``digest`` (hex) as signed out,
        until ``expires`` (the cookie's own expiry)."""
        with self._begin() as conn:
            conn.execute(self._insert(t.revoked_sessions).on_conflict_do_nothing(),
                         {"digest": digest, "expires_at": expires})

    def session_revoked(self, digest: str) -> bool:
        """Whether the session whose cookie has the SHA-256 ``digest`` was signed out."""
        s = t.revoked_sessions.c
        with self._begin() as conn:
            return conn.execute(select(s.digest).where(s.digest == digest)).first() is not None

    def prune_revoked_sessions(self, before: datetime) -> int:
        """Delete the signed-out sessions whose cookie expired before ``before``; how many
        (a few rows: one per sign-out in the last ``SESSION_SECONDS``)."""
        s = t.revoked_sessions.c
        with self._begin() as conn:
            done = conn.execute(delete(t.revoked_sessions).where(s.expires_at < before))
            return max(done.rowcount, 0)
