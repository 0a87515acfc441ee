"""Upgrading a database written before rules and hits (schema version 4, as
tests/data/schema/v4.<dialect>.sql has it): every match, alert and delivery read back
through the new store, rules made from the names they carried, a hit per (rule, story),
ids stable afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy

from monitor.config import FeedSettings, WatchSettings
from monitor.models import Article, Entry, Match, TermHit
from monitor.store import NewArticle, Store
from monitor.store import schema as t
from tests.store_helpers import store_article, write_old_database

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DPA = '"Defense Production Act"'
TERMS = [{"term": "defense production act", "count": 1, "spans": [["body", 0, 22]],
          "snippets": [{"text": "Defense Production Act", "marks": [[0, 22]]}]}]


def article(i: int, story: int) -> dict[str, Any]:
    return {"id": i, "url": f"http://127.0.0.1/a{i}", "url_hash": f"h{i}",
            "title": f"story {i}", "author": "", "source": "wire", "from_feed": False,
            "text": "Defense Production Act " * 5, "story_id": story,
            "created_at": T0 + timedelta(minutes=i)}


def alert(alert_id: str, rule: str, query: str, story: int, article_id: int, channel: str,
          status: str, attempts: int, minute: int) -> dict[str, Any]:
    payload = {"rule": rule, "query": query, "terms": TERMS,
               "article": {"url": f"http://127.0.0.1/a{article_id}",
                           "title": f"story {article_id}", "text": "", "source": "wire"}}
    return {"id": alert_id, "rule": rule, "story_id": story, "article_id": article_id,
            "feed": "wire", "channel": channel, "payload": payload, "status": status,
            "attempts": attempts, "next_attempt_at": T0, "last_error": None,
            "created_at": T0 + timedelta(minutes=minute),
            "sent_at": T0 if status == "sent" else None}


def write_version_4(url: str) -> None:
    """What version 4 stored: rule "dpa" matched two copies of story 1 and alerted on two
    channels; "scr" matched story 3 and alerted once; "quiet" (no channels) only matched."""
    rows: list[tuple[str, dict[str, Any]]] = [
        ("schema_version", {"version": 4}),
        ("feeds", {"name": "wire", "url": "http://127.0.0.1/feed", "interval": 600.0,
                   "state": "ok", "error_count": 0, "items_seen": 3, "first_poll_done": True,
                   "active": True}),
        *(("articles", article(i, story)) for i, story in ((1, 1), (2, 1), (3, 3))),
        *(("entries", {"feed_id": 1, "key_hash": f"k{i}", "key": f"k{i}",
                       "article_id": i, "seen_at": T0}) for i in (1, 2, 3)),
        *(("matches", {"rule": rule, "article_id": a, "story_id": s, "terms": TERMS,
                       "created_at": T0 + timedelta(minutes=a)})
          for rule, a, s in (("dpa", 1, 1), ("dpa", 2, 1), ("scr", 3, 3), ("quiet", 3, 3))),
        ("alerts", alert("a-mail", "dpa", '"Defense Production"', 1, 1, "mail", "sent", 1, 1)),
        ("alerts", alert("a-hook", "dpa", DPA, 1, 1, "hook", "failed", 2, 2)),  # query since
        ("alerts", alert("s-hook", "scr", '"supply chain risk"', 3, 3, "hook", "pending", 0,
                         3)),
        ("deliveries", {"alert_id": "a-mail", "attempt": 1, "node": "n1",
                        "started_at": T0, "finished_at": T0, "outcome": "sent"}),
        ("deliveries", {"alert_id": "a-hook", "attempt": 1, "node": "n1",
                        "started_at": T0, "finished_at": T0, "outcome": "retry",
                        "detail": "503"}),
        ("deliveries", {"alert_id": "a-hook", "attempt": 2, "node": "n1",
                        "started_at": T0, "finished_at": T0, "outcome": "failed",
                        "detail": "404"}),
    ]
    write_old_database(url, 4, rows)


def shape(url: str) -> dict[str, Any]:
    """Each table's columns (with nullability), unique keys, foreign keys and indexes."""
    engine = sqlalchemy.create_engine(url)
    found = sqlalchemy.inspect(engine)
    out = {name: (sorted((c["name"], c["nullable"]) for c in found.get_columns(name)),
                  sorted((u["name"], tuple(u["column_names"]))
                         for u in found.get_unique_constraints(name)),
                  sorted((tuple(f["constrained_columns"]), f["referred_table"])
                         for f in found.get_foreign_keys(name)),
                  sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                         for i in found.get_indexes(name)))
           for name in found.get_table_names()}
    engine.dispose()
    return out


def test_a_version_4_database_upgrades_keeping_every_row(db_url: str) -> None:
    write_version_4(db_url)
    store = Store(db_url)
    assert store.migrate() == t.CURRENT_VERSION
    rules = {r.name: r for r in store.rules()}
    alerts = {a.id: a for a in store.list_alerts(None, None)}
    hits = {(h.rule, h.story_id): h for h in store.hits(10)}
    with store.engine.begin() as conn:
        deliveries = conn.execute(sqlalchemy.text(
            "SELECT alert_id, attempt, outcome FROM deliveries ORDER BY alert_id, attempt"
        )).all()
        matches = conn.execute(sqlalchemy.text(
            "SELECT r.name, m.article_id, m.story_id FROM matches m "
            "JOIN rules r ON r.id = m.rule_id ORDER BY m.id")).all()

    assert set(rules) == {"dpa", "scr", "quiet"}
    assert all(r.origin == "config" and r.enabled for r in rules.values())
    assert rules["dpa"].query == DPA and rules["quiet"].query == ""  # from its latest alert
    assert alerts["a-mail"].query == '"Defense Production"'  # as it was when alerted
    assert {(a.id, a.rule, a.story_id, a.channel, a.status, a.attempts)
            for a in alerts.values()} == {("a-mail", "dpa", 1, "mail", "sent", 1),
                                          ("a-hook", "dpa", 1, "hook", "failed", 2),
                                          ("s-hook", "scr", 3, "hook", "pending", 0)}
    assert alerts["a-mail"].article.url == "http://127.0.0.1/a1"
    assert alerts["a-mail"].terms[0].term == "defense production act"
    assert alerts["a-mail"].hit_id == alerts["a-hook"].hit_id == hits["dpa", 1].id
    assert [tuple(d) for d in deliveries] == [("a-hook", 1, "retry"), ("a-hook", 2, "failed"),
                                              ("a-mail", 1, "sent")]
    assert [tuple(m) for m in matches] == [("dpa", 1, 1), ("dpa", 2, 1), ("scr", 3, 3),
                                           ("quiet", 3, 3)]
    assert set(hits) == {("dpa", 1), ("scr", 3), ("quiet", 3)}
    dpa = hits["dpa", 1]
    assert (dpa.article_id, dpa.first_seen, dpa.last_seen, dpa.state, dpa.note) == \
        (1, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2), "new", "")
    assert {a.channel for a in dpa.alerts} == {"mail", "hook"} and hits["quiet", 3].alerts == ()
    assert [h.rule for h in store.hits(10, alerted=True)] == ["scr", "dpa"]
    assert store.match_totals() == {rules["dpa"].id: 2, rules["scr"].id: 1,
                                    rules["quiet"].id: 1}
    store.close()


def test_ids_stay_and_the_one_alert_key_holds_after_the_upgrade(db_url: str) -> None:
    write_version_4(db_url)
    store = Store(db_url)
    store.migrate()
    before = {r.name: r.id for r in store.rules()}
    assert store.migrate() == t.CURRENT_VERSION  # a second start changes nothing
    synced = store.sync_rules([WatchSettings("dpa", DPA, ("mail", "hook")),
                               WatchSettings("scr", '"supply chain risk"', ("hook",)),
                               WatchSettings("quiet", "quiet", ())], T0)
    assert synced == before == {r.name: r.id for r in store.rules()}
    store.sync_feeds([FeedSettings("wire", "http://127.0.0.1/feed", 600)], T0)
    # story 1's first page again, edited in place: no second alert on either channel
    again = Article("http://127.0.0.1/a1", "story 1, updated", "Defense Production Act " * 6)
    new = NewArticle(Entry("k9", again.url), again, "h1", None,
                     (Match("dpa", DPA, (TermHit("defense production act", 1),)),))
    later = T0 + timedelta(hours=1)
    created = store_article(store, 1, "wire", new, {"dpa": [("mail", None), ("hook", None)]},
                            later)
    (dpa,) = [h for h in store.hits(10) if h.rule == "dpa"]
    assert created == [] and len(store.list_alerts(None, None)) == 3
    assert dpa.last_seen == later and dpa.first_seen == T0 + timedelta(minutes=1)
    assert store.match_totals()[before["dpa"]] == 2  # (rule, article) is unique too
    store.close()


def test_the_upgraded_schema_is_the_fresh_one(db_url: str, tmp_path: Any) -> None:
    write_version_4(db_url)
    Store(db_url).migrate()
    fresh = (f"sqlite:///{tmp_path / 'fresh.db'}" if db_url.startswith("sqlite")
             else None)
    if fresh is None:  # a second PostgreSQL schema
        from tests.conftest import pg_schema
        with pg_schema() as fresh_pg:
            Store(fresh_pg).migrate()
            assert shape(db_url) == shape(fresh_pg)
        return
    Store(fresh).migrate()
    assert shape(db_url) == shape(fresh)


def test_an_upgrade_that_fails_changes_nothing(db_url: str) -> None:
    """All steps run in one transaction, on SQLite too (pysqlite would otherwise commit
    each CREATE TABLE before the first write): a failing step leaves version 4 intact."""
    write_version_4(db_url)

    def broken(conn: sqlalchemy.Connection) -> None:
        raise RuntimeError("step failed")

    t.MIGRATIONS.append(broken)
    try:
        with pytest.raises(RuntimeError, match="step failed"):
            Store(db_url).migrate()
    finally:
        t.MIGRATIONS.pop()
    engine = sqlalchemy.create_engine(db_url)
    found = sqlalchemy.inspect(engine)
    tables = set(found.get_table_names())
    alert_columns = {c["name"] for c in found.get_columns("alerts")}
    with engine.begin() as conn:
        version = conn.execute(sqlalchemy.text("SELECT version FROM schema_version")).scalar()
    engine.dispose()
    assert version == 4 and not {"rules", "hits"} & tables
    assert {"rule", "story_id"} <= alert_columns and "hit_id" not in alert_columns
    store = Store(db_url)  # and the next start upgrades it
    assert store.migrate() == t.CURRENT_VERSION and len(store.list_alerts(None, None)) == 3
    store.close()
