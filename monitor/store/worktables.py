"""The workspace's tables (browser-made rules, their audit log, the rules version), drawn
on the schema's ``MetaData`` by ``monitor.store.schema``, and the migration that adds them.

* ``rule_settings``: what a ``web`` rule says beyond the ``rules`` row (name, query, case,
  enabled live there): channels, feeds, digest, rate cap, match mode, as ``[[watch]]``
  keys in JSON.
* ``rule_audit``: one row per edit: who, when, what, the rule before and after (JSON).
* ``rules_version``: one row, bumped by every edit in the same transaction; each node
  polls it and rebuilds its rule set when it moves.
* ``rule_mutes`` (schema version 11, with an index of hits by story): one row per (rule,
  outlet) a user muted from triage (``monitor.store.triage``): that rule no longer alerts
  for articles of that outlet.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.engine import Connection


def workspace_tables(metadata: MetaData) -> tuple[Table, Table, Table]:
    """``(rule_settings, rule_audit, rules_version)`` on ``metadata``."""
    settings = Table(
        "rule_settings", metadata,
        Column("rule_id", Integer, ForeignKey("rules.id"), primary_key=True),
        Column("settings", JSON, nullable=False),
    )
    audit = Table(
        "rule_audit", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("at", DateTime(timezone=True), nullable=False, index=True),
        Column("actor", String(200), nullable=False),
        Column("action", String(16), nullable=False),  # create | update | delete
        Column("rule_id", Integer, nullable=False, index=True),
        Column("before", JSON),
        Column("after", JSON),
    )
    version = Table(
        "rules_version", metadata,
        Column("id", Integer, primary_key=True),  # always 1
        Column("version", Integer, nullable=False),
        Column("changed_at", DateTime(timezone=True), nullable=False),
    )
    return settings, audit, version


def add_workspace(conn: Connection, tables: tuple[Table, ...],
                  indexes: tuple[Index, ...] = ()) -> None:
    """The migration: create the workspace's tables and indexes (kept if made by hand
    already)."""
    for table in tables:
        table.create(conn, checkfirst=True)
    for index in indexes:
        index.create(conn, checkfirst=True)


def mute_table(metadata: MetaData) -> Table:
    """``rule_mutes`` on ``metadata``: (rule, outlet) pairs that alert nobody."""
    return Table(
        "rule_mutes", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("rule_id", Integer, ForeignKey("rules.id"), nullable=False),
        Column("source", String(500), nullable=False),  # monitor.store.stories.outlet_of
        Column("actor", String(200), nullable=False),
        Column("hit_id", Integer),  # the hit it was muted from
        Column("created_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("rule_id", "source", name="uq_rule_mutes_rule_source"),
    )
