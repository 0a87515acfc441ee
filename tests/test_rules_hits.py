"""Rules with stable ids and hits, one per (rule, story): the config sync keeps a rule's id
through a rename (same query) or by its explicit ``id``, and its history follows it; the
dashboard and /api/rules read hits and ids. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from monitor.config import FeedSettings, WatchSettings
from monitor.daemon import Daemon, load
from monitor.errors import ConfigError
from monitor.models import Article, Entry, Match, TermHit
from monitor.store import AlertedSince, ArticleWrite, NewArticle, RuleChannels, RuleRow, Store
from monitor.store import schema as t
from monitor.testing import NewsServer, WebhookReceiver
from monitor.web import create_app
from tests.helpers import SECRET, write_config
from tests.store_helpers import store_article

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
Q = '"Defense Production Act"'
HOOK = {"dpa": [("hook", None)]}


def make_store(url: str) -> Store:
    store = Store(url)
    store.migrate()
    store.sync_feeds([FeedSettings("wire", "http://127.0.0.1/feed", 600)], NOW)
    return store


def store_match(store: Store, rule: str, key: str, url_hash: str, now: datetime = NOW,
                query: str = Q, channels: Sequence[str] = ("hook",)) -> list[str]:
    """Store an article (a new story unless ``url_hash`` was stored) matching ``rule``."""
    art = Article(f"http://127.0.0.1/{key}", f"story {key}", "Defense Production Act " * 5,
                  source="wire")
    new = NewArticle(Entry(key, art.url, art.title), art, url_hash, None,
                     (Match(rule, query, (TermHit("defense production act", 5),)),))
    return store_article(store, store.feeds()[0].id, "wire", new,
                         {rule: [(c, None) for c in channels]}, now)


def enabled(store: Store) -> dict[str, RuleRow]:
    return {r.name: r for r in store.rules() if r.enabled}


def test_a_renamed_rule_keeps_its_id_and_its_history(db_url: str) -> None:
    store = make_store(db_url)
    (old_id,) = store.sync_rules([WatchSettings("dpa", Q, ("hook",))], NOW).values()
    assert len(store_match(store, "dpa", "k1", "h1")) == 1
    renamed = store.sync_rules([WatchSettings("DPA orders", Q, ("hook",))], NOW).values()
    # the same story again, now under the new name: still one alert, not a second
    again = store_match(store, "DPA orders", "k2", "h1", NOW + timedelta(minutes=5))
    later = NOW + timedelta(minutes=9)
    fresh = store_match(store, "DPA orders", "k3", "h3", later)  # a new story
    rows = store.rules()
    hit, first = store.hits(10)
    alerts = store.list_alerts(None, None)
    store.close()
    assert list(renamed) == [old_id] and again == [] and len(fresh) == 1
    assert [(r.id, r.name, r.enabled) for r in rows] == [(old_id, "DPA orders", True)]
    assert (first.rule_id, first.rule, first.first_seen, first.last_seen) == (
        old_id, "DPA orders", NOW, NOW + timedelta(minutes=5))
    assert (hit.rule_id, hit.first_seen) == (old_id, later)
    assert [(a.rule, a.hit_id) for a in alerts] == [("DPA orders", hit.id),
                                                    ("DPA orders", first.id)]
    assert store.match_totals() == {old_id: 2}  # k2 is k1's page again: one match


def test_a_new_name_and_a_new_query_is_a_new_rule(db_url: str) -> None:
    store = make_store(db_url)
    (old_id,) = store.sync_rules([WatchSettings("dpa", Q, ("hook",))], NOW).values()
    store_match(store, "dpa", "k1", "h1")
    (new_id,) = store.sync_rules([WatchSettings("dpa2", "other", ("hook",))], NOW).values()
    # back under its old name: the old rule, enabled again, with its history
    back = store.sync_rules([WatchSettings("dpa", "changed", ("hook",))], NOW)
    rows = {r.id: r for r in store.rules()}
    store.close()
    assert new_id != old_id and back == {"dpa": old_id}
    assert (rows[old_id].enabled, rows[old_id].query, rows[new_id].enabled) == \
        (True, "changed", False)
    assert store.match_totals() == {old_id: 1}


def test_an_explicit_id_keeps_the_rule_whatever_changes(db_url: str) -> None:
    store = make_store(db_url)
    assert store.sync_rules([WatchSettings("a", Q, ("hook",), id=7)], NOW) == {"a": 7}
    store_match(store, "a", "k1", "h1")
    moved = store.sync_rules([WatchSettings("b", "new OR query", ("hook",), id=7),
                              WatchSettings("c", "another", ("hook",))], NOW)
    rows = enabled(store)
    (hit,) = store.hits(10)
    (alert,) = store.list_alerts(None, None)
    store.close()
    assert moved["b"] == 7 and moved["c"] > 7  # numbering goes on after an explicit id
    assert (rows["b"].id, rows["b"].query) == (7, "new OR query")
    assert (hit.rule_id, hit.rule, alert.rule) == (7, "b", "b")
    assert store.match_totals() == {7: 1}


def test_a_name_given_to_another_row_is_looked_up_again(db_url: str) -> None:
    """Writes remember a rule's id by name; a sync that gives the name to another row (an
    explicit id) makes the next match go to that row."""
    store = make_store(db_url)
    first = store.sync_rules([WatchSettings("dpa", Q, ("hook",))], NOW)["dpa"]
    store_match(store, "dpa", "k1", "h1")
    store.sync_rules([WatchSettings("dpa", Q, ("hook",), id=first + 10)], NOW)
    store_match(store, "dpa", "k2", "h2")
    totals = store.match_totals()
    store.close()
    assert totals == {first: 1, first + 10: 1}


def test_a_removed_rule_is_disabled_not_deleted(db_url: str) -> None:
    store = make_store(db_url)
    ids = store.sync_rules([WatchSettings("a", "x", ()), WatchSettings("b", "y", ())], NOW)
    store.sync_rules([WatchSettings("a", "x", ())], NOW)
    rows = {r.name: r for r in store.rules()}
    store.close()
    assert (rows["b"].id, rows["b"].enabled, rows["b"].updated_at) == (ids["b"], False, NOW)
    assert rows["a"].enabled and rows["a"].origin == "config"


def test_rate_limits_count_the_stories_of_a_renamed_rule(db_url: str) -> None:
    store = make_store(db_url)
    store.sync_rules([WatchSettings("dpa", Q, ("hook",))], NOW)
    store_match(store, "dpa", "k1", "h1")
    store.sync_rules([WatchSettings("renamed", Q, ("hook",))], NOW)
    seen: list[int] = []

    def route(matches: Sequence[Match], alerted: AlertedSince) -> RuleChannels:
        seen.append(alerted("renamed", NOW - timedelta(hours=1)))
        return {}

    art = Article("http://127.0.0.1/k2", "k2", "Defense Production Act")
    new = NewArticle(Entry("k2", art.url), art, "h2", None, (Match("renamed", Q),))
    store.store_articles([ArticleWrite(store.feeds()[0].id, "wire", new, route, NOW)])
    store.close()
    assert seen == [1]


def test_a_rule_no_sync_stored_is_added_by_its_first_match(db_url: str) -> None:
    """A pipeline run without the daemon (tests, tools) still stores its matches; the
    next sync finds the rule by name."""
    store = make_store(db_url)
    store_match(store, "adhoc", "k1", "h1", query="adhoc OR x")
    (row,) = store.rules()
    synced = store.sync_rules([WatchSettings("adhoc", "adhoc OR x", ())], NOW)
    store.close()
    assert (row.name, row.query, row.origin, row.enabled) == ("adhoc", "adhoc OR x",
                                                              "config", True)
    assert synced == {"adhoc": row.id}


def test_hits_are_triaged(db_url: str) -> None:
    store = make_store(db_url)
    store.sync_rules([WatchSettings("dpa", Q, ("hook",))], NOW)
    store_match(store, "dpa", "k1", "h1", channels=())
    (hit,) = store.hits(10)
    assert hit.state == "new" and store.hits(10, alerted=True) == []
    assert store.triage_hit(hit.id, "relevant", "follow up with legal")
    assert store.triage_hit(hit.id, "dismissed")  # the note stays
    assert not store.triage_hit(hit.id + 1, "relevant")
    with pytest.raises(ValueError, match="unknown hit state"):
        store.triage_hit(hit.id, "maybe")
    (after,) = store.hits(10)
    store.close()
    assert (after.state, after.note) == ("dismissed", "follow up with legal")


def ws(*rules: tuple[str, str] | tuple[str, str, int]) -> list[WatchSettings]:
    """Rules without channels from (name, query) or (name, query, id)."""
    return [WatchSettings(name, query, (), id=rest[0] if rest else None)
            for name, query, *rest in rules]


def test_names_win_over_queries_and_ids_over_both(db_url: str) -> None:
    store = make_store(db_url)
    first = store.sync_rules(ws(("a", "q1"), ("b", "q2")), NOW)
    swapped_queries = store.sync_rules(ws(("b", "q1"), ("a", "q2")), NOW)
    store.sync_rules(ws(("a", "q1", 11), ("b", "q2", 12)), NOW)
    swapped_ids = store.sync_rules(ws(("a", "q2", 12), ("b", "q1", 11)), NOW)
    store.close()
    assert swapped_queries == first
    assert swapped_ids == {"a": 12, "b": 11}


def test_a_rename_takes_the_enabled_rule_of_that_query(db_url: str) -> None:
    store = make_store(db_url)
    old = store.sync_rules(ws(("a", "q")), NOW)["a"]
    live = store.sync_rules(ws(("b", "other")), NOW)["b"]  # "a" is disabled now
    store.sync_rules(ws(("b", "q")), NOW)  # two rules of query q: a (disabled) and b
    renamed = store.sync_rules(ws(("c", "q")), NOW)
    rows = {r.id: r for r in store.rules()}
    store.close()
    assert renamed == {"c": live} and live != old
    assert (rows[old].name, rows[old].enabled) == ("a", False)


def test_the_config_leaves_rules_of_another_origin_alone(db_url: str) -> None:
    store = make_store(db_url)
    with store.engine.begin() as conn:  # a rule made in the workspace
        web_id = conn.execute(t.rules.insert().values(
            name="a", query="q", origin="web", enabled=True, created_at=NOW,
            updated_at=NOW).returning(t.rules.c.id)).scalar_one()
    ids = store.sync_rules(ws(("a", "q")), NOW)
    store.sync_rules([], NOW)
    rows = {r.id: r for r in store.rules()}
    store.close()
    assert ids["a"] != web_id
    assert (rows[web_id].origin, rows[web_id].enabled) == ("web", True)
    assert rows[ids["a"]].enabled is False


# -- config and the daemon ----------------------------------------------------------------


@pytest.mark.parametrize(("snippet", "expected"), [
    ('[[watch]]\nname = "r"\nquery = "x"\nchannels = []\nid = 0\n',
     "watch[0].id: must be from 1 to 2147483647"),
    ('[[watch]]\nname = "r"\nquery = "x"\nchannels = []\nid = 2147483648\n',
     "watch[0].id: must be from 1 to"),
    ('[[watch]]\nname = "r"\nquery = "x"\nchannels = []\nid = "7"\n',
     "watch[0].id: expected an integer"),
    ('[[watch]]\nname = "r"\nquery = "x"\nchannels = []\nid = 3\n'
     '[[watch]]\nname = "s"\nquery = "y"\nchannels = []\nid = 3\n',
     "watch[1].id: duplicate rule id '3' (also at watch[0].id)"),
    ('[[watchlist]]\nname = "l"\nfile = "l.txt"\nchannels = []\nid = 3\n',
     "watchlist[0].id: unknown key"),
], ids=["zero", "too-big", "string", "duplicate", "watchlist"])
def test_config_id_problems(tmp_path: Path, snippet: str, expected: str) -> None:
    (tmp_path / "l.txt").write_text("x\n")
    path = tmp_path / "c.toml"
    path.write_text(snippet)
    with pytest.raises(ConfigError) as info:
        load(str(path))
    assert any(expected in p for p in info.value.problems), info.value.problems


async def test_a_rename_on_reload_keeps_the_dashboard_history(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    watch = '[[watch]]\nname = "NAME"\nquery = \'"Defense Production Act"\'\nid = 5\n' \
            'channels = CHANNELS\n'
    path = write_config(tmp_path, news, None, hook, watches=watch.replace("NAME", "dpa"))
    daemon = Daemon(load(str(path)), str(path))
    try:
        await daemon.run_once()
        app = create_app(daemon.services.store, lambda: daemon.config)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://testserver") as http:
            before = (await http.get("/api/rules")).json()["rules"]
            write_config(tmp_path, news, None, hook, watches=watch.replace("NAME", "DPA orders"))
            daemon.reload()
            after = (await http.get("/api/rules")).json()["rules"]
            page = (await http.get("/")).text
            alerts = (await http.get("/api/alerts")).json()["alerts"]
    finally:
        await daemon.close()
    assert daemon.reload_failed is None
    assert [(r["id"], r["name"]) for r in before] == [(5, "dpa")]
    assert [(r["id"], r["name"]) for r in after] == [(5, "DPA orders")]
    assert after[0]["matches_total"] == before[0]["matches_total"] >= 1
    assert alerts and {a["rule"] for a in alerts} == {"DPA orders"}
    assert '<span class="rule">DPA orders</span>' in page
    assert '<span class="rule">dpa</span>' not in page
