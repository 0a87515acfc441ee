"""Store operations only tests need, written over the Store's public methods."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import JSON, DateTime, bindparam, text

from monitor.models import Match
from monitor.store import (
    AlertedSince,
    ArticleWrite,
    NewArticle,
    RuleChannels,
    SameStory,
    Store,
)


def store_article(store: Store, feed_id: int, feed_name: str, new: NewArticle,
                  rule_channels: RuleChannels, now: datetime,
                  same_story: SameStory | None = None) -> list[str]:
    """Store one article, its matches and their alerts (on ``rule_channels``, whatever the
    rate) in one transaction; the ids of the alerts created."""
    def route(matches: Sequence[Match], alerted: AlertedSince) -> RuleChannels:
        return rule_channels

    write = ArticleWrite(feed_id, feed_name, new, route, now)
    return store.store_articles([write], same_story)[0]


def known_keys(store: Store, feed_id: int, keys: Sequence[str]) -> set[str]:
    """The entry keys of ``feed_id`` among ``keys`` that were seen before."""
    return set(store.known_versions(feed_id, keys))


SCHEMA = Path(__file__).parent / "data" / "schema"
OLD_TYPES = {"terms": JSON, "payload": JSON, **{k: DateTime(timezone=True) for k in (
    "next_poll_at", "failing_since", "created_at", "seen_at", "published", "sent_at",
    "next_attempt_at", "started_at", "finished_at", "changed_at", "heartbeat_at",
    "raised_at", "last_polled_at")}}
"""How the values of the old schema's columns are bound (JSON, aware datetimes)."""


def write_old_database(url: str, version: int, rows: Sequence[tuple[str, dict[str, Any]]]
                       ) -> None:
    """A database at an old schema ``version`` (tests/data/schema/v<version>.<dialect>.sql,
    the DDL that version compiled to) holding ``rows`` as (table, column -> value)."""
    engine = sqlalchemy.create_engine(url)
    ddl = "\n".join(line for line in (SCHEMA / f"v{version}.{engine.dialect.name}.sql")
                     .read_text().splitlines() if not line.startswith("--"))
    with engine.begin() as conn:
        for statement in ddl.split(";"):
            if statement.strip():
                conn.execute(text(statement))
        for table, row in rows:
            stmt = text(f"INSERT INTO {table} ({', '.join(row)}) "
                        f"VALUES ({', '.join(':' + k for k in row)})")
            conn.execute(stmt.bindparams(*(bindparam(k, type_=OLD_TYPES[k])
                                           for k in row if k in OLD_TYPES)), row)
    engine.dispose()
