"""Migration 5 (notices in the outbox): a version-4 database with data keeps every row.

The version-4 database is built from ``tests/data/schema/v4.<dialect>.sql``, the DDL that
version's schema module compiled to, and filled with a row or more per table, as the
monitor of that version wrote them; then the current store migrates it and reads it back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy
from sqlalchemy import text

from monitor.models import Notice
from monitor.store import Store
from monitor.store import schema as t
from tests.store_helpers import write_old_database

NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
V4_TABLES = ("feeds", "entries", "feed_health", "articles", "matches", "alerts", "deliveries",
             "channel_state", "nodes")
TERMS = [{"term": "dpa", "count": 1, "spans": [["body", 0, 3]],
          "snippets": [{"text": "DPA invoked", "marks": [[0, 3]]}]}]
ARTICLE = {"url": "http://127.0.0.1:9/a/1", "title": "DPA invoked", "text": "DPA invoked",
           "author": "", "published": None, "language": "en", "source": "wire",
           "from_feed": False}
ROWS: list[tuple[str, dict[str, Any]]] = [
    ("schema_version", {"version": 4}),
    ("feeds", {"id": 1, "name": "wire", "url": "http://127.0.0.1:9/feed", "interval": 600.0,
               "state": "ok", "error_count": 0, "items_seen": 2, "first_poll_done": True,
               "active": True, "next_poll_at": NOW, "publisher_ask": 60.0}),
    ("feeds", {"id": 2, "name": "Dead", "url": "http://127.0.0.1:1/feed", "interval": 600.0,
               "state": "failing", "error_count": 3, "items_seen": 0, "first_poll_done": False,
               "active": True, "last_error": "HTTP 503",
               "failing_since": NOW - timedelta(hours=7)}),
    ("articles", {"id": 1, "url": ARTICLE["url"], "url_hash": "h1", "title": "DPA invoked",
                  "author": "", "language": "en", "source": "wire", "text": "DPA invoked",
                  "from_feed": False, "story_id": 1, "created_at": NOW}),
    ("articles", {"id": 2, "url": "http://127.0.0.1:9/a/2", "url_hash": "h2", "title": "Other",
                  "author": "", "source": "wire", "text": "nothing", "from_feed": False,
                  "story_id": 2, "created_at": NOW}),
    ("entries", {"id": 1, "feed_id": 1, "key_hash": "k1", "key": "k1", "url": ARTICLE["url"],
                 "title": "DPA invoked", "article_id": 1, "seen_at": NOW, "version": "v1",
                 "published": NOW - timedelta(hours=1)}),
    ("entries", {"id": 2, "feed_id": 1, "key_hash": "k2", "key": "k2", "article_id": 2,
                 "seen_at": NOW}),
    ("matches", {"id": 1, "rule": "dpa", "article_id": 1, "story_id": 1, "terms": TERMS,
                 "created_at": NOW}),
    ("alerts", {"id": "a-sent", "rule": "dpa", "story_id": 1, "article_id": 1, "feed": "wire",
                "channel": "hook", "status": "sent", "attempts": 1, "next_attempt_at": NOW,
                "created_at": NOW, "sent_at": NOW,
                "payload": {"rule": "dpa", "query": "dpa", "article": ARTICLE,
                            "terms": TERMS}}),
    ("alerts", {"id": "a-failed", "rule": "dpa", "story_id": 1, "article_id": 1,
                "feed": "wire", "channel": "mail", "status": "failed", "attempts": 2,
                "next_attempt_at": NOW, "created_at": NOW - timedelta(minutes=1),
                "last_error": "SMTP 550",
                "payload": {"rule": "dpa", "query": "dpa", "article": ARTICLE,
                            "terms": TERMS}}),
    ("deliveries", {"id": 1, "alert_id": "a-sent", "attempt": 1, "node": "n1",
                    "started_at": NOW, "finished_at": NOW, "outcome": "sent"}),
    ("channel_state", {"name": "mail", "disabled": True, "reason": "receiver answered 410",
                       "changed_at": NOW, "config_hash": "c0ffee"}),
    ("nodes", {"id": "n1", "started_at": NOW, "heartbeat_at": NOW}),
    ("feed_health", {"name": "Dead", "kind": "failing", "raised_at": NOW}),
]


def write_v4(url: str) -> dict[str, int]:
    """A version-4 database at ``url`` with ROWS in it; the row count of each table."""
    write_old_database(url, 4, ROWS)
    engine = sqlalchemy.create_engine(url)
    counts = table_counts(engine)
    engine.dispose()
    return counts


def table_counts(engine: sqlalchemy.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
                for name in V4_TABLES}


def test_a_version_4_database_migrates_and_keeps_every_row(db_url: str) -> None:
    before = write_v4(db_url)
    assert before["alerts"] == 2 and before["feeds"] == 2
    store = Store(db_url)
    assert store.migrate() == t.CURRENT_VERSION
    assert table_counts(store.engine) == before
    feeds = {f.name: f for f in store.feeds()}
    assert (feeds["Dead"].state, feeds["Dead"].error_count) == ("failing", 3)
    assert feeds["Dead"].failing_since == NOW - timedelta(hours=7)
    assert feeds["wire"].publisher_ask == 60.0 and feeds["wire"].next_poll_at == NOW
    alerts = {a.id: a for a in store.list_alerts(None, None)}
    assert set(alerts) == {"a-sent", "a-failed"}
    assert (alerts["a-failed"].status, alerts["a-failed"].last_error) == ("failed", "SMTP 550")
    assert alerts["a-sent"].article.title == "DPA invoked"
    assert alerts["a-sent"].terms[0].snippets[0].marks == ((0, 3),)
    assert [a.article.url for a in store.iter_articles()] == [
        "http://127.0.0.1:9/a/2", ARTICLE["url"]]
    assert store.match_totals() == {r.id: 1 for r in store.rules() if r.name == "dpa"}
    assert [r.name for r in store.rules()] == ["dpa"]
    assert store.health_alerted() == {"Dead": "failing"}
    assert store.channel_states()["mail"].config_hash == "c0ffee"
    assert [n.id for n in store.nodes(NOW, 60)] == ["n1"]
    assert store.list_notices() == []
    # the new outbox rows work on the migrated database: a mark and its notice, together
    notice = Notice("n-1", NOW, "recovered", "Dead", "feed 'Dead' recovered (was failing)",
                    "http://127.0.0.1:1/feed", "hook")
    assert store.mark_health("Dead", "failing", None, NOW, [notice])
    assert [r.notice for r in store.list_notices()] == [notice]
    assert store.health_alerted() == {}
    store.close()
