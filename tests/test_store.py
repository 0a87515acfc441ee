"""The store on SQLite and PostgreSQL alike: migrations, claims, the unique outbox."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy

from monitor.config import FeedSettings
from monitor.models import Article, Entry, Match, Snippet, Span, TermHit
from monitor.store import ArticleWrite, NewArticle, NodeInfo, PollRecord, Store
from monitor.store import schema as t
from tests.store_helpers import known_keys, store_article

NOW = datetime(2026, 2, 26, 12, 0, tzinfo=UTC)


def make_store(url: str) -> Store:
    store = Store(url)
    store.migrate()
    return store


def new_article(key: str, url_hash: str, fp: int | None = None, rules: tuple[str, ...] = ("r",)
                ) -> NewArticle:
    article = Article(f"http://127.0.0.1/{key}", f"title {key}", "text " * 50)
    return NewArticle(Entry(key, article.url, article.title), article, url_hash, fp,
                      tuple(Match(r, "q", (TermHit("t", 1),)) for r in rules))


def test_migrate_is_idempotent_and_keeps_data(db_url: str) -> None:
    store = make_store(db_url)
    store.sync_feeds([FeedSettings("a", "http://127.0.0.1/a", 60)], NOW)
    assert store.migrate() == t.CURRENT_VERSION
    store.close()
    again = make_store(db_url)
    assert [f.name for f in again.feeds()] == ["a"]


def test_upgrade_from_an_older_version_runs_only_later_steps(db_url: str) -> None:
    store = make_store(db_url)
    store.sync_feeds([FeedSettings("a", "http://127.0.0.1/a", 60)], NOW)
    ran: list[int] = []
    t.MIGRATIONS.append(lambda conn: ran.append(1))
    try:
        assert store.migrate() == t.CURRENT_VERSION + 1
        with store.engine.begin() as conn:
            version = conn.execute(sqlalchemy.select(t.schema_version.c.version)).scalar()
    finally:
        t.MIGRATIONS.pop()
    assert ran == [1] and version == len(t.MIGRATIONS) + 1
    assert [f.name for f in store.feeds()] == ["a"]


def test_feed_claims_are_leases(db_url: str) -> None:
    store = make_store(db_url)
    store.sync_feeds([FeedSettings(f"f{i}", f"http://127.0.0.1/{i}", 60) for i in range(4)], NOW)
    first = store.claim_due_feeds("n1", NOW, 3, lease=30)
    second = store.claim_due_feeds("n2", NOW, 10, lease=30)
    assert len(first) == 3 and len(second) == 1
    assert not {f.id for f in first} & {f.id for f in second}
    assert store.claim_due_feeds("n3", NOW, 10, lease=30) == []
    # n1 dies: after its lease the feeds are due for someone else
    later = store.claim_due_feeds("n3", NOW + timedelta(seconds=31), 10, lease=30)
    assert {f.id for f in later} == {f.id for f in first} | {f.id for f in second}


def test_renewed_leases_hold_and_lapsed_ones_are_not_taken_back(db_url: str) -> None:
    store = make_store(db_url)
    store.sync_feeds([FeedSettings(n, f"http://127.0.0.1/{n}", 60) for n in "ab"], NOW)
    a, b = sorted(f.id for f in store.claim_due_feeds("n1", NOW, 10, lease=30))
    (feed,) = [f for f in store.feeds() if f.id == a]
    store_article(store, feed.id, "a", new_article("k1", "h1"), {"r": [("c", None)]}, NOW)
    (alert,) = store.claim_due_alerts("n1", NOW, 10, lease=30)
    # n1 is still polling a and sending the alert at +20 s; b it forgot
    assert store.renew_leases("n1", NOW + timedelta(seconds=20), 30, feed_ids=[a],
                              alert_ids=[alert.id]) == (1, 1)
    at31 = NOW + timedelta(seconds=31)
    assert [f.id for f in store.claim_due_feeds("n2", at31, 10, lease=30)] == [b]
    assert store.claim_due_alerts("n2", at31, 10, lease=30) == []
    # b's lease ran out and n2 holds it now: n1 cannot renew it back
    assert store.renew_leases("n1", at31, 30, feed_ids=[b]) == (0, 0)
    # n1 stops renewing a: after its lease it is free again
    at51 = NOW + timedelta(seconds=51)
    assert [f.id for f in store.claim_due_feeds("n3", at51, 10, lease=30)] == [a]
    assert [r.id for r in store.claim_due_alerts("n3", at51, 10, lease=30)] == [alert.id]


def test_an_attempt_cut_off_by_a_dead_node_is_marked_interrupted(db_url: str) -> None:
    store = make_store(db_url)
    store.sync_feeds([FeedSettings("a", "http://127.0.0.1/a", 60)], NOW)
    (feed,) = store.feeds()
    store_article(store, feed.id, "a", new_article("k1", "h1"), {"r": [("c", None)]}, NOW)
    (row,) = store.claim_due_alerts("n1", NOW, 10, lease=30)
    store.start_delivery(row.id, "n1", NOW)  # n1 dies here, before the outcome
    (again,) = store.claim_due_alerts("n2", NOW + timedelta(seconds=31), 10, lease=30)
    assert again.id == row.id and again.attempts == 1
    with store.engine.begin() as conn:
        (outcome, detail, finished) = conn.execute(sqlalchemy.select(
            t.deliveries.c.outcome, t.deliveries.c.detail, t.deliveries.c.finished_at)
            .where(t.deliveries.c.alert_id == row.id)).one()
    assert outcome == "interrupted" and "stopped" in detail and finished is not None


def test_finish_poll_records_state_and_schedules(db_url: str) -> None:
    store = make_store(db_url)
    store.sync_feeds([FeedSettings("a", "http://127.0.0.1/a", 60)], NOW)
    (feed,) = store.claim_due_feeds("n1", NOW, 1, lease=30)
    store.finish_poll(feed.id, "n1", PollRecord("error", NOW + timedelta(minutes=2),
                                                error="http_503"), NOW)
    (state,) = store.feeds()
    assert (state.state, state.last_error, state.error_count) == ("failing", "http_503", 1)
    assert state.failing_since == NOW and state.claimed_by is None
    assert store.claim_due_feeds("n1", NOW + timedelta(minutes=1), 1, lease=30) == []
    (feed,) = store.claim_due_feeds("n1", NOW + timedelta(minutes=3), 1, lease=30)
    store.finish_poll(feed.id, "n1", PollRecord("ok", NOW, etag='"e1"', new_items=3), NOW)
    (state,) = store.feeds()
    assert (state.state, state.etag, state.error_count, state.items_seen) == ("ok", '"e1"', 0, 3)
    assert state.failing_since is None and state.first_poll_done


def test_one_alert_per_rule_story_channel(db_url: str) -> None:
    store = make_store(db_url)
    store.sync_feeds([FeedSettings("a", "http://127.0.0.1/a", 60)], NOW)
    (feed,) = store.feeds()
    channels = {"r": [("mail", None), ("hook", None)]}
    same = lambda a, b: a == b  # noqa: E731
    first = store_article(store, feed.id, "a", new_article("k1", "h1", 7), channels, NOW, same)
    again = store_article(store, feed.id, "a", new_article("k2", "h1", 7), channels, NOW, same)
    copy = store_article(store, feed.id, "a", new_article("k3", "h3", 7), channels, NOW, same)
    other = store_article(store, feed.id, "a", new_article("k4", "h4", 9), channels, NOW, same)
    assert len(first) == 2 and again == [] and copy == [] and len(other) == 2
    assert known_keys(store, feed.id, ["k1", "k2", "k3", "k5"]) == {"k1", "k2", "k3"}
    rows = store.claim_due_alerts("n1", NOW, 10, lease=30)
    assert len(rows) == 4
    story = next(r for r in rows if r.article.url.endswith("/k1"))
    assert store.also_seen_at(story.story_id, story.article_id) == ["http://127.0.0.1/k3"]


def test_alert_claims_are_exclusive_under_concurrency(db_url: str) -> None:
    store = make_store(db_url)
    store.sync_feeds([FeedSettings("a", "http://127.0.0.1/a", 60)], NOW)
    (feed,) = store.feeds()
    for i in range(40):
        store_article(store, feed.id, "a", new_article(f"k{i}", f"h{i}"),
                      {"r": [("c", None)]}, NOW)
    claimed: list[list[str]] = []

    def worker(node: str) -> None:
        mine = []
        while rows := store.claim_due_alerts(node, NOW, 3, lease=60):
            mine += [r.id for r in rows]
        claimed.append(mine)

    threads = [threading.Thread(target=worker, args=(f"n{i}",)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    ids = [i for mine in claimed for i in mine]
    assert len(ids) == 40 and len(set(ids)) == 40


def test_delivery_outcomes(db_url: str) -> None:
    store = make_store(db_url)
    store.sync_feeds([FeedSettings("a", "http://127.0.0.1/a", 60)], NOW)
    (feed,) = store.feeds()
    (alert_id,) = store_article(store, feed.id, "a", new_article("k", "h"),
                                {"r": [("c", None)]}, NOW)
    (row,) = store.claim_due_alerts("n1", NOW, 10, lease=30)
    d = store.start_delivery(row.id, "n1", NOW)
    store.finish_delivery(d, row.id, "retry", NOW, "503", NOW + timedelta(seconds=30))
    assert store.claim_due_alerts("n1", NOW, 10, lease=30) == []
    (row,) = store.claim_due_alerts("n1", NOW + timedelta(seconds=31), 10, lease=30)
    assert row.attempts == 1 and row.last_error == "503"
    d = store.start_delivery(row.id, "n1", NOW)
    store.finish_delivery(d, row.id, "failed", NOW, "404")
    assert [a.id for a in store.list_alerts("failed")] == [alert_id]
    assert store.retry_alert(alert_id, NOW)
    store.disable_channel("c", "410 gone", NOW)
    assert store.claim_due_alerts("n1", NOW, 10, lease=30) == []
    assert store.disabled_channels() == {"c": "410 gone"}
    assert store.count_alerts() == {"pending": 1}


def test_reads_are_typed_rows_in_aware_utc(db_url: str) -> None:
    """An article published in +02:00 comes back, from the articles and from its alert,
    as the same Article with an aware UTC date, and its terms as the TermHits matched."""
    store = make_store(db_url)
    store.sync_feeds([FeedSettings("a", "http://127.0.0.1/a", 60)], NOW)
    (feed,) = store.feeds()
    published = datetime(2026, 2, 26, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    article = Article("http://127.0.0.1/k", "title k", "the Defense Production Act " * 10,
                      author="A. Writer", published=published, language="en", source="a")
    terms = (TermHit("defense production act", 10, (Span("body", 4, 26),),
                     (Snippet("the Defense Production Act", ((4, 26),)),)),)
    new = NewArticle(Entry("k", article.url, article.title), article, "h", None,
                     (Match("dpa", '"defense production act"', terms),))
    store_article(store, feed.id, "a", new, {"dpa": [("c", None)]}, NOW)
    store.heartbeat("n1", NOW)

    (stored,) = store.iter_articles()
    (alert,) = store.list_alerts()
    (node,) = store.nodes(NOW, 60)
    store.close()
    assert stored.article == article and alert.article == article
    assert stored.article.published is not None and alert.article.published is not None
    assert stored.article.published.utcoffset() == alert.article.published.utcoffset() \
        == timedelta(0)
    assert stored.stored_at == NOW and stored.stored_at.tzinfo is not None
    assert stored.story_id == stored.id == alert.article_id == alert.story_id
    assert alert.terms == terms and alert.query == '"defense production act"'
    assert node == NodeInfo("n1", NOW, NOW, 0, 0) and node.heartbeat_at.tzinfo is not None


def test_iter_articles_reads_page_after_page_newest_first(db_url: str) -> None:
    """More articles than one page: every one, newest first, and ``limit`` stops on the
    way (articles.PAGE per transaction, so a scan never holds them all at once)."""
    store = make_store(db_url)
    store.sync_feeds([FeedSettings("a", "http://127.0.0.1/a", 60)], NOW)
    (feed,) = store.feeds()
    count = 450  # more than two pages of 200
    writes = [ArticleWrite(feed.id, "a", new_article(f"k{i}", f"h{i}", rules=()),
                           lambda matches, alerted: {}, NOW) for i in range(count)]
    store.store_articles(writes)
    every = [s.id for s in store.iter_articles()]
    some = [s.id for s in store.iter_articles(limit=201)]
    store.close()
    assert len(every) == len(set(every)) == count and every == sorted(every, reverse=True)
    assert some == every[:201]
