"""Migration steps too long for ``monitor.store.schema``'s module: each takes the tables
it changes as arguments (this module imports no table, so ``schema`` can import it).

Version 8 (``content_keys``): entries' content keys (``monitor.dedup.content_key``), filled
for the entries stored before, and when each entry was last listed (``last_seen``, which
retention deletes by), with the indexes retention reads by.

Version 10 (``full_text``): ``article_terms``, the full-text index of the backtests'
prefilter, every article stored before it marked not yet indexed.
"""

from __future__ import annotations

from sqlalchemy import Table, bindparam, inspect, select, text, update
from sqlalchemy.engine import Connection

from monitor.dedup import content_key
from monitor.models import Entry

PAGE = 5000
"""Entries read per step while filling their content keys."""


def content_keys(conn: Connection, entries: Table, matches: Table) -> None:
    """Version 8: ``entries.content_key`` and ``entries.last_seen`` (from ``seen_at``) and
    the indexes of ``entries`` and ``matches`` missing; idempotent (version 6 may have made
    an index from today's tables)."""
    found = inspect(conn)
    columns = {c["name"] for c in found.get_columns("entries")}
    if "content_key" not in columns:
        conn.execute(text("ALTER TABLE entries ADD COLUMN content_key VARCHAR(32)"))
        _fill_content_keys(conn, entries)
    if "last_seen" not in columns:
        conn.execute(text("ALTER TABLE entries ADD COLUMN last_seen TIMESTAMP WITH TIME ZONE"))
        conn.execute(text("UPDATE entries SET last_seen = seen_at"))
    for table in (entries, matches):
        have = {i["name"] for i in found.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in have:
                index.create(conn)


def _fill_content_keys(conn: Connection, entries: Table) -> None:
    """Stored entries' content keys from link and title, a page at a time (an entry without
    a link gets none: its summary, part of its key then, was never stored)."""
    after, e = 0, entries.c
    while rows := conn.execute(select(e.id, e.url, e.title).where(
            e.id > after, e.url.is_not(None), e.url != "").order_by(e.id).limit(PAGE)).all():
        conn.execute(update(entries).where(e.id == bindparam("id_")), [
            {"id_": i, "content_key": content_key(Entry("", url, title or ""))}
            for i, url, title in rows])
        after = rows[-1].id


_FULL_TEXT = {  # dialect -> statements; every article gets a row, ``x`` until indexed;
    # safe to run again (a database set back to an older version by hand, as tests do)
    "sqlite": [
        "CREATE VIRTUAL TABLE IF NOT EXISTS article_terms USING fts5(terms, detail=none)",
        "CREATE TRIGGER IF NOT EXISTS article_terms_new AFTER INSERT ON articles BEGIN "
        "INSERT INTO article_terms (rowid, terms) VALUES (new.id, 'x'); END",
        "CREATE TRIGGER IF NOT EXISTS article_terms_gone AFTER DELETE ON articles BEGIN "
        "DELETE FROM article_terms WHERE rowid = old.id; END",
        "INSERT INTO article_terms (rowid, terms) SELECT id, 'x' FROM articles "
        "WHERE id NOT IN (SELECT rowid FROM article_terms)",
    ],
    "postgresql": [
        "CREATE TABLE IF NOT EXISTS article_terms (article_id INTEGER PRIMARY KEY "
        "REFERENCES articles (id) ON DELETE CASCADE, terms TSVECTOR NOT NULL)",
        "CREATE INDEX IF NOT EXISTS ix_article_terms ON article_terms USING GIN (terms)",
        "CREATE OR REPLACE FUNCTION article_terms_new() RETURNS trigger AS $$ BEGIN "
        "INSERT INTO article_terms VALUES (NEW.id, 'x') ON CONFLICT DO NOTHING; "
        "RETURN NEW; END $$ LANGUAGE plpgsql",
        "DROP TRIGGER IF EXISTS article_terms_new ON articles",
        "CREATE TRIGGER article_terms_new AFTER INSERT ON articles FOR EACH ROW "
        "EXECUTE FUNCTION article_terms_new()",
        "INSERT INTO article_terms SELECT id, 'x' FROM articles ON CONFLICT DO NOTHING",
    ],
}


def full_text(conn: Connection) -> None:
    """Version 10: ``article_terms``, the full-text index of stored articles' terms (see
    ``monitor.store.fulltext``): an FTS5 table on SQLite, a ``tsvector`` with a GIN index on
    PostgreSQL; triggers give every new article a row, and every article stored before one
    marked not yet indexed (``x``), so the prefilter keeps it until it is indexed."""
    for statement in _FULL_TEXT[conn.dialect.name]:
        conn.exec_driver_sql(statement)
