"""The tables of spike notices and per-rule feeds, drawn on the schema's ``MetaData`` by
``monitor.store.schema``, and the migration that adds them.

* ``spikes``: one row per (rule, hour) a spike was raised in: the hour's count and the
  baseline it was held against. Its key is what makes a spike raised once, whichever node
  sees it first; the dashboard marks the rule's chart with its rows.
* ``feed_secret``: random secrets shared by every node, each row created on first use:
  id 1 the secret each rule's feed token is an HMAC under, id 2 the key session cookies
  are signed with (``monitor.store.spikes``: ``FEED_SECRET``, ``SESSION_SECRET``).
* ``notices.rule``: the rule a notice is about (a spike), beside ``feed`` (feed health).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    inspect,
    text,
)
from sqlalchemy.engine import Connection


def spike_tables(metadata: MetaData) -> tuple[Table, Table]:
    """``(spikes, feed_secret)`` on ``metadata``."""
    spikes = Table(
        "spikes", metadata,
        Column("rule_id", Integer, ForeignKey("rules.id"), primary_key=True),
        Column("hour", DateTime(timezone=True), primary_key=True),  # the hour it was seen in
        Column("count", Integer, nullable=False),  # hits in the hour before it was raised
        Column("baseline", Float, nullable=False),  # mean of the same hour on earlier days
    )
    secret = Table(
        "feed_secret", metadata,
        Column("id", Integer, primary_key=True),  # 1: feed tokens, 2: session cookies
        Column("secret", String(64), nullable=False),  # hex, 32 random bytes
    )
    return spikes, secret


def add_spikes(conn: Connection, tables: tuple[Table, ...]) -> None:
    """The migration: the tables (kept if made already) and ``notices.rule``."""
    for table in tables:
        table.create(conn, checkfirst=True)
    if "rule" not in {c["name"] for c in inspect(conn).get_columns("notices")}:
        conn.execute(text("ALTER TABLE notices ADD COLUMN rule VARCHAR(500) NOT NULL "
                          "DEFAULT ''"))
