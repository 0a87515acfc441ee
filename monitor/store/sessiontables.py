"""The table of signed-out sessions (schema version 13), drawn on the schema's ``MetaData``
by ``monitor.store.schema``.

* ``revoked_sessions``: one row per session cookie signed out before it expired, on any
  node: the SHA-256 of the cookie (never the cookie) and when the cookie would have
  expired. Every node looks a signed cookie up here by its digest (the primary key) before
  it lets it stand for anyone; the retention job deletes the rows whose cookie has expired
  (a cookie past its expiry is refused by its signature's date alone). The migration is
  ``worktables.add_workspace`` with this table: created, kept if made already.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, String, Table


def session_table(metadata: MetaData) -> Table:
    """``revoked_sessions`` on ``metadata``."""
    return Table(
        "revoked_sessions", metadata,
        Column("digest", String(64), primary_key=True),  # hex SHA-256 of the cookie's value
        Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    )
