"""The database schema (SQLAlchemy Core) and its numbered migrations.

The same tables serve SQLite (one node) and PostgreSQL (several nodes). A fresh database
gets the current schema at once; an older one runs the migrations after its version, in
order, all in one transaction. No upgrade drops data: a column that goes (a rule's name on
matches and alerts) has its values moved first (to the rules table).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection

from monitor.store.sessiontables import session_table
from monitor.store.spiketables import add_spikes, spike_tables
from monitor.store.upgrades import content_keys, full_text
from monitor.store.worktables import add_workspace, mute_table, workspace_tables

metadata = MetaData()

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True),
)

feeds = Table(
    "feeds", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("interval", Float, nullable=False, default=600.0),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("content_hash", String(64)),
    Column("state", String(16), nullable=False, default="new"),  # new | ok | failing
    Column("last_error", Text),
    Column("error_count", Integer, nullable=False, default=0),
    Column("failing_since", DateTime(timezone=True)),
    Column("warning", Text),
    Column("last_polled_at", DateTime(timezone=True)),
    Column("next_poll_at", DateTime(timezone=True)),
    Column("items_seen", Integer, nullable=False, default=0),
    Column("first_poll_done", Boolean, nullable=False, default=False),
    Column("claimed_by", String(200)),
    Column("lease_until", DateTime(timezone=True)),
    Column("active", Boolean, nullable=False, default=True),
    Column("publisher_ask", Float),  # seconds the feed asked between polls (<ttl>, max-age)
)
Index("ix_feeds_due", feeds.c.next_poll_at)

entries = Table(
    "entries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("feed_id", Integer, ForeignKey("feeds.id"), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("key", Text, nullable=False),
    Column("url", Text),
    Column("title", Text),
    Column("article_id", Integer, ForeignKey("articles.id")),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Column("version", String(64)),  # hash of what the feed said: changes when edited in place
    Column("published", DateTime(timezone=True)),  # the feed's date for it, if any
    Column("content_key", String(32)),  # link + title (monitor.dedup.content_key)
    Column("last_seen", DateTime(timezone=True)),  # last listed (to a day): retention's key
    UniqueConstraint("feed_id", "key_hash", name="uq_entries_feed_key"),
)
Index("ix_entries_feed_seen", entries.c.feed_id, entries.c.seen_at)
Index("ix_entries_feed_content", entries.c.feed_id, entries.c.content_key)
Index("ix_entries_feed_last_seen", entries.c.feed_id, entries.c.last_seen)
Index("ix_entries_article", entries.c.article_id)

feed_health = Table(
    "feed_health", metadata,
    Column("name", String(500), primary_key=True),  # the feed's name
    Column("kind", String(16), nullable=False),  # failing | silent: the event raised last
    Column("raised_at", DateTime(timezone=True), nullable=False),
)

articles = Table(
    "articles", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False),
    Column("url_hash", String(64), nullable=False, unique=True),  # of the canonical URL
    Column("title", Text, nullable=False, default=""),
    Column("author", Text, nullable=False, default=""),
    Column("published", DateTime(timezone=True)),
    Column("language", String(20)),
    Column("source", Text, nullable=False, default=""),
    Column("text", Text, nullable=False, default=""),
    Column("from_feed", Boolean, nullable=False, default=False),
    Column("partial", Boolean, nullable=False, default=False),  # a walled page: feed text
    Column("fingerprint", BigInteger),  # signed 64-bit form of the content fingerprint
    Column("story_id", Integer, index=True),  # id of the first article of its story
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

rules = Table(
    "rules", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # stable: renames keep it
    Column("name", String(500), nullable=False, index=True),
    Column("query", Text, nullable=False, default=""),
    Column("case_sensitive", Boolean, nullable=False, default=False),
    Column("origin", String(16), nullable=False, default="config"),  # config (TOML) | web
    Column("enabled", Boolean, nullable=False, default=True),  # false: gone from its origin
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

hits = Table(  # one per (rule, story): what the dashboard lists and alerts hang off
    "hits", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", Integer, ForeignKey("rules.id"), nullable=False),
    Column("story_id", Integer, nullable=False),
    Column("article_id", Integer, ForeignKey("articles.id"), nullable=False),  # the first
    Column("first_seen", DateTime(timezone=True), nullable=False, index=True),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False, default="new"),  # new|relevant|dismissed|muted
    Column("note", Text, nullable=False, default=""),
    UniqueConstraint("rule_id", "story_id", name="uq_hits_rule_story"),
)
ix_hits_story = Index("ix_hits_story", hits.c.story_id)  # a page of stories: their hits

matches = Table(  # one per (rule, article)
    "matches", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", Integer, ForeignKey("rules.id"), nullable=False),
    Column("article_id", Integer, ForeignKey("articles.id"), nullable=False),
    Column("story_id", Integer, nullable=False),
    Column("terms", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    UniqueConstraint("rule_id", "article_id", name="uq_matches_rule_article"),
)
Index("ix_matches_article", matches.c.article_id)

def _delivery_state() -> list[Column[object]]:
    """The outbox's columns, alike for alerts and notices: status, retries, claim."""
    return [
        Column("status", String(16), nullable=False, default="pending"),  # pending|sent|failed
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_attempt_at", DateTime(timezone=True), nullable=False),
        Column("last_error", Text),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("sent_at", DateTime(timezone=True)),
        Column("claimed_by", String(200)),
        Column("lease_until", DateTime(timezone=True)),
    ]


alerts = Table(  # one per (hit, channel)
    "alerts", metadata,
    Column("id", String(36), primary_key=True),  # the webhook-id: stable across retries
    Column("hit_id", Integer, ForeignKey("hits.id"), nullable=False),
    Column("article_id", Integer, ForeignKey("articles.id"), nullable=False),
    Column("feed", String(500), nullable=False, default=""),
    Column("channel", String(200), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("digest_at", DateTime(timezone=True)),  # set: wait for this digest time
    *_delivery_state(),
    UniqueConstraint("hit_id", "channel", name="uq_alerts_hit_channel"),
)
Index("ix_alerts_due", alerts.c.status, alerts.c.next_attempt_at)

alert_rows = select(alerts, rules.c.name.label("rule"), hits.c.story_id).join_from(
    alerts, hits, hits.c.id == alerts.c.hit_id).join(rules, rules.c.id == hits.c.rule_id)
"""The alerts with their rule's name (today's) and their story: what ``AlertRow`` reads."""

def _attempts(name: str, key: str, target: str) -> Table:
    """A table of attempts to send the rows of ``target``: one row per attempt."""
    return Table(
        name, metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column(key, String(36), ForeignKey(target), nullable=False, index=True),
        Column("attempt", Integer, nullable=False),
        Column("node", String(200), nullable=False, default=""),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("finished_at", DateTime(timezone=True)),
        # sending | sent | retry | failed | interrupted (its node stopped mid-attempt)
        Column("outcome", String(16), nullable=False, default="sending"),
        Column("detail", Text),
    )


deliveries = _attempts("deliveries", "alert_id", "alerts.id")

notices = Table(  # messages to the operator no rule made (feed health): the outbox's other rows
    "notices", metadata,
    Column("id", String(36), primary_key=True),  # the webhook-id: stable across retries
    Column("kind", String(32), nullable=False),  # failing | silent | recovered
    Column("feed", String(500), nullable=False, default=""),
    Column("rule", String(500), nullable=False, default="", server_default=""),  # a spike's
    Column("url", Text, nullable=False, default=""),
    Column("message", Text, nullable=False),
    Column("channel", String(200), nullable=False),
    *_delivery_state(),
)
Index("ix_notices_due", notices.c.status, notices.c.next_attempt_at)

# each attempt to send a notice, as ``deliveries`` for alerts
notice_deliveries = _attempts("notice_deliveries", "notice_id", "notices.id")

channel_state = Table(
    "channel_state", metadata,
    Column("name", String(200), primary_key=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("reason", Text),
    Column("changed_at", DateTime(timezone=True)),
    Column("config_hash", String(64)),  # of the settings it was disabled under
)

nodes = Table(
    "nodes", metadata,
    Column("id", String(200), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
)

rule_settings, rule_audit, rules_version = workspace_tables(metadata)  # monitor.store.worktables
rule_mutes = mute_table(metadata)
spikes, feed_secret = spike_tables(metadata)  # monitor.store.spiketables
revoked_sessions = session_table(metadata)  # monitor.store.sessiontables

Migration = Callable[[Connection], None]

# MIGRATIONS[i] brings a database from version i to version i + 1. Version 1 is the first
# schema; append new steps (ALTER TABLE ... ADD COLUMN, CREATE INDEX) and never edit old ones.
MIGRATIONS: list[Migration] = [
    lambda conn: metadata.create_all(conn),
    lambda conn: _add_column(conn, "entries", "version VARCHAR(64)"),
    lambda conn: _polite_polling(conn),
    lambda conn: _channel_config_hash(conn),
    lambda conn: _notices(conn),
    lambda conn: _rules_and_hits(conn),
    lambda conn: _article_partial(conn),
    lambda conn: content_keys(conn, entries, matches),
    lambda conn: add_workspace(conn, (rule_settings, rule_audit, rules_version)),
    full_text,
    lambda conn: add_workspace(conn, (rule_mutes,), (ix_hits_story,)),
    lambda conn: add_spikes(conn, (spikes, feed_secret)),
    lambda conn: add_workspace(conn, (revoked_sessions,)),  # 13: sessions signed out
]
CURRENT_VERSION = len(MIGRATIONS)


def _add_column(conn: Connection, table: str, column: str) -> None:
    conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column}"))


def _article_partial(conn: Connection) -> None:
    """Version 7: ``articles.partial``, a walled page read from the feed's text (kept when
    a database made by hand has it already)."""
    if "partial" not in {c["name"] for c in inspect(conn).get_columns("articles")}:
        _add_column(conn, "articles", "partial BOOLEAN NOT NULL DEFAULT FALSE")


def _polite_polling(conn: Connection) -> None:
    """Version 3: entry dates for adaptive polling, the publisher's ask, feed health."""
    _add_column(conn, "entries", "published TIMESTAMP WITH TIME ZONE")
    _add_column(conn, "feeds", "publisher_ask FLOAT")
    next(i for i in entries.indexes if i.name == "ix_entries_feed_seen").create(conn)
    feed_health.create(conn)


def _channel_config_hash(conn: Connection) -> None:
    """Version 4: the hash of the settings a channel was disabled under."""
    if inspect(conn).has_table("channel_state"):
        _add_column(conn, "channel_state", "config_hash VARCHAR(64)")
    else:  # a database made by hand with only some of the tables
        channel_state.create(conn)


def _notices(conn: Connection) -> None:
    """Version 5: notices (feed health) are outbox rows of their own, with their attempts."""
    notices.create(conn, checkfirst=True)
    notice_deliveries.create(conn, checkfirst=True)


_OLD_ROWS = ("SELECT rule, story_id, article_id, created_at FROM matches UNION ALL "
             "SELECT rule, story_id, article_id, created_at FROM alerts")


def _rules_and_hits(conn: Connection) -> None:
    """Version 6: rules with stable ids and hits, one per (rule, story); matches and alerts
    keyed by them instead of a rule's name. Every match and alert is kept, with its id."""
    found = inspect(conn)
    if found.has_table("hits"):
        return  # a database made by hand, its tables already current
    if not found.has_table("matches") and not found.has_table("alerts"):
        metadata.create_all(conn)  # a database made by hand with only some of the tables
        return
    rules.create(conn)
    hits.create(conn)
    conn.execute(text(  # one rule per name seen; the config sync fills in the rest
        "INSERT INTO rules (name, query, case_sensitive, origin, enabled, created_at, "
        "updated_at) SELECT rule, '', false, 'config', true, min(created_at), "
        f"min(created_at) FROM ({_OLD_ROWS}) u GROUP BY rule"))
    latest = text("SELECT rule, payload FROM alerts a WHERE created_at = "  # its query
                  "(SELECT max(created_at) FROM alerts b WHERE b.rule = a.rule)"
                  ).columns(payload=JSON)
    for name, payload in conn.execute(latest).all():
        conn.execute(update(rules).where(rules.c.name == name)
                     .values(query=str(payload.get("query", ""))))
    conn.execute(text(
        "INSERT INTO hits (rule_id, story_id, article_id, first_seen, last_seen, state, note) "
        "SELECT r.id, u.story_id, min(u.article_id), min(u.created_at), max(u.created_at), "
        f"'new', '' FROM ({_OLD_ROWS}) u JOIN rules r ON r.name = u.rule "
        "GROUP BY r.id, u.story_id"))
    (_rebuild_sqlite if conn.dialect.name == "sqlite" else _alter_postgres)(conn)


_NEW_KEYS = {  # column -> its value, from the old row ``o``
    "rule_id": "(SELECT id FROM rules r WHERE r.name = o.rule)",
    "hit_id": "(SELECT h.id FROM hits h JOIN rules r ON r.id = h.rule_id "
              "WHERE r.name = o.rule AND h.story_id = o.story_id)",
}


def _rebuild_sqlite(conn: Connection) -> None:
    """SQLite cannot drop a column of a unique key: the two tables are made anew and
    filled from the old ones (their children too, so that foreign keys follow)."""
    found = inspect(conn)  # again: the one before did not know the new tables
    children = [name for name in found.get_table_names() if name not in ("matches", "alerts")
                and any(fk["referred_table"] == "alerts" for fk in found.get_foreign_keys(name))]
    names = ["matches", "alerts", *children]
    old_columns = {n: {c["name"] for c in found.get_columns(n)} for n in names}
    for name in names:
        for index in found.get_indexes(name):
            conn.execute(text(f"DROP INDEX {index['name']}"))
        conn.execute(text(f"ALTER TABLE {name} RENAME TO {name}_old"))
    for name in names:
        table = metadata.tables[name]
        table.create(conn)
        columns = [c.name for c in table.columns
                   if c.name in old_columns[name] or c.name in _NEW_KEYS]
        values = [f"o.{c}" if c in old_columns[name] else _NEW_KEYS[c] for c in columns]
        conn.execute(text(f"INSERT INTO {name} ({', '.join(columns)}) "
                          f"SELECT {', '.join(values)} FROM {name}_old o"))
    for name in reversed(names):
        conn.execute(text(f"DROP TABLE {name}_old"))


def _alter_postgres(conn: Connection) -> None:
    """PostgreSQL alters the two tables in place (dropping a column drops its keys)."""
    for table, column, refers in (("matches", "rule_id", "rules"), ("alerts", "hit_id", "hits")):
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER "
                          f"REFERENCES {refers} (id)"))
        conn.execute(text(f"UPDATE {table} o SET {column} = {_NEW_KEYS[column]}"))
        conn.execute(text(f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL"))
    conn.execute(text("ALTER TABLE matches DROP COLUMN rule"))
    conn.execute(text("ALTER TABLE alerts DROP COLUMN rule, DROP COLUMN story_id"))
    conn.execute(text("ALTER TABLE matches ADD CONSTRAINT uq_matches_rule_article "
                      "UNIQUE (rule_id, article_id)"))
    conn.execute(text("ALTER TABLE alerts ADD CONSTRAINT uq_alerts_hit_channel "
                      "UNIQUE (hit_id, channel)"))


def migrate(conn: Connection) -> int:
    """Create or upgrade the schema on ``conn``; return the version it is now at."""
    target = len(MIGRATIONS)
    schema_version.create(conn, checkfirst=True)
    found = conn.execute(select(schema_version.c.version)).scalar()
    if found is None:
        metadata.create_all(conn)
        full_text(conn)  # not SQLAlchemy tables: an FTS5 table, a tsvector with triggers
        conn.execute(schema_version.insert().values(version=target))
        return target
    for step in MIGRATIONS[found:]:
        step(conn)
    if found < target:
        conn.execute(schema_version.update().values(version=target))
    return target
