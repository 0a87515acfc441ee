"""The full-text prefilter of backtests and previews (monitor/rules/prefilter.py,
monitor/store/fulltext.py): the database picks the candidates, the matcher settles them,
and the hits are exactly a scan's, on SQLite and PostgreSQL; what each query is asked as,
and the queries that fall back to the scan; the migration that marks every article stored
before it, and the catch-up that indexes them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.backtest import Backtest
from monitor.config import FeedSettings
from monitor.models import Article, Entry
from monitor.rules import Rule, article_terms, compile_rules, prefilter
from monitor.rules.prefilter import encode
from monitor.store import NewArticle, Store
from tests.store_helpers import store_article, write_old_database

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
_ids = itertools.count(1)


def add(store: Store, article: Article, *, indexed: bool = True,
        when: datetime = T0) -> None:
    """Store ``article`` as the pipeline does (its terms with it, unless not ``indexed``)."""
    n = next(_ids)
    entry = Entry(f"k{n}-{article.url}", article.url, article.title)
    new = NewArticle(entry, article, f"h{n}-{article.url}",
                     terms=article_terms(article) if indexed else None)
    store_article(store, 1, "wire", new, {}, when)


def hits(store: Store, query: str, *, use_prefilter: bool, case_sensitive: bool = False
         ) -> list[tuple[int, tuple[str, ...]]]:
    backtest = Backtest(query, case_sensitive=case_sensitive)
    return [(s.id, tuple(t.term for t in m.terms))
            for s, m in backtest.run(store, use_prefilter=use_prefilter)]


def fresh(url: str) -> Store:
    store = Store(url)
    store.migrate()
    store.sync_feeds([FeedSettings("wire", "http://127.0.0.1/feed", 600)], T0)
    return store


def keys(query: str, *, exact: bool = False) -> list[tuple[str, ...]] | None:
    return prefilter(compile_rules([Rule(query, query, exact=exact)]))


# -- what a query is asked as ------------------------------------------------------------


@pytest.mark.parametrize(("query", "expected"), [
    ("tariffs", [("tariff",), ("tariffs",)]),
    ('"supply chain"', [("chain", "supply"), ("supplychain",)]),  # or closed up
    ("covid-19", [("covid", "19"), ("covid19",)]),
    ("ESG", [("esg",), ("e", "g")]),  # spelt out: E.S.G.
    ("comput* Acme", [("acme",)]),  # the rarer word alone
    ("comput*", [("comput*",)]),
    ("de?ense", [("de*",)]),  # a wildcard: its stem as a prefix
    ("café", [("cafe",)]),
    ("=Exact", [("ex000078act",)]),  # an x is escaped: "x" alone marks the unindexed
    ("供应链", [("x004f9bx005e94", "x005e94x0094fe")]),  # CJK: the bigrams
    ("nato NOT russia", [("nato",)]),
    ("title:nato", [("nato",)]),  # any field: a superset
])
def test_a_query_is_asked_as_its_trigger_keys(query: str, expected: list[tuple[str, ...]]
                                               ) -> None:
    found = keys(query)
    assert found is not None and sorted(found) == sorted(expected)


@pytest.mark.parametrize("query", [
    "/defen[cs]e/",  # a regex: no safe full-text form
    "nato OR NOT russia",  # NOT in a branch of OR: true without any term
    "steel OR /x+/",  # a regex in a branch of OR
    "lang:en OR nato",
])
def test_queries_without_a_safe_prefilter_fall_back_to_the_scan(query: str) -> None:
    assert keys(query) is None
    assert not Backtest(query).prefiltered


@pytest.mark.parametrize(("token", "encoded"), [
    ("abc123", "abc123"), ("x", "x000078"), ("é", "x0000e9"), ("供", "x004f9b"),
    ("tax", "tax000078"),
])
def test_terms_are_encoded_in_a_prefix_code_that_never_writes_x_alone(
        token: str, encoded: str) -> None:
    assert encode(token) == encoded
    assert encode(token + "more").startswith(encode(token))


def test_an_articles_terms_are_its_tokens_and_their_forms() -> None:
    terms = article_terms(Article("http://a.example/p", "Running Tariffs",
                                  "The U.S. café", author="Bob")).split()
    assert {"running", "run", "tariffs", "tariff", "u", "s", "cafe", "bob", "ex000078ample"} \
        <= set(terms)
    assert "x" not in terms


# -- the hits are a scan's ----------------------------------------------------------------

WORDS = ["tariff", "tariffs", "running", "ran", "run", "supply", "chain", "supplychain",
         "Supply-Chain", "COVID-19", "covid19", "U.S.", "US", "us", "ESG", "E.S.G.", "café",
         "cafe", "defense", "defence", "colour", "color", "risk's", "risk", "nato", "NATO",
         "Häuser", "Haus", "maisons", "Lieferketten",
         "供应链", "供应", "steel", "computer", "computing", "compute", "x", "tax"]
QUERY_WORDS = ["tariffs", "ran", "run*", "running", "supply", '"supply chain"', "chain",
               "covid-19", "covid19", "U.S.", "ESG", "café", "defense", "color", "risk's",
               "NATO", "供应链", "comput*", "de?ense", "Haus", "maison", "Lieferkette",
               "=steel", "x", "tax", "tar*", "us", "/st[e]el/"]


@st.composite
def queries(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from(QUERY_WORDS), min_size=1, max_size=3))
    shape = draw(st.sampled_from(["and", "or", "not", "near", "field"]))
    if shape == "or" or len(words) == 1:
        return " OR ".join(words)
    if shape == "not":
        return f"{words[0]} NOT {words[1]}"
    if shape == "near" and not any(w.startswith("/") for w in words[:2]):
        return f"{words[0]} NEAR/2 {words[1]}"
    if shape == "field":
        return f"title:{words[0]} " + " ".join(words[1:])
    return " AND ".join(words)


texts = st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join)
languages = st.sampled_from([None, "en", "de", "fr"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(articles=st.lists(st.tuples(texts, texts, st.booleans(), languages), min_size=1,
                         max_size=8),
       query=queries(), case_sensitive=st.booleans())
def test_the_prefilter_keeps_every_hit_of_a_scan(
        tmp_path_factory: pytest.TempPathFactory,
        articles: list[tuple[str, str, bool, str | None]], query: str,
        case_sensitive: bool) -> None:
    path = tmp_path_factory.mktemp("fts") / "monitor.db"
    store = fresh(f"sqlite:///{path}")
    try:
        for n, (title, text, indexed, language) in enumerate(articles):
            add(store, Article(f"http://127.0.0.1/{n}", title, text, language=language),
                indexed=indexed)
        assert hits(store, query, use_prefilter=True, case_sensitive=case_sensitive) == \
            hits(store, query, use_prefilter=False, case_sensitive=case_sensitive)
    finally:
        store.close()


SEEDS = [
    ("Tariffs on steel rise", "The U.S. raised tariffs on Chinese steel, officials said."),
    ("Supply-chain risk grows", "Analysts warn the supply chain for chips is at risk."),
    ("COVID-19 update", "New covid19 cases were reported; the café closed."),
    ("NATO summit", "Leaders of NATO met to discuss defence spending and ESG rules."),
    ("供应链 news", "供应链 的 风险 上升"),
    ("Computing news", "Quantum computers compute faster than ran before."),
]


@pytest.mark.parametrize("query", ["tariffs", '"supply chain"', "covid-19", "NATO AND defense",
                                   "comput*", "供应链", "/ste+l/", "steel OR NOT nato",
                                   "cafe NOT tariffs", "ran"])
def test_backtests_with_and_without_the_prefilter_agree(db_url: str, query: str,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setattr("monitor.store.fulltext.PAGE", 4)  # the first page, then the rest
    store = fresh(db_url)
    try:
        for n, (title, text) in enumerate(SEEDS * 3):
            add(store, Article(f"http://127.0.0.1/{n}", title, text), indexed=n % 5 != 0)
        with_prefilter = hits(store, query, use_prefilter=True)
        assert with_prefilter and with_prefilter == hits(store, query, use_prefilter=False)
    finally:
        store.close()


def test_the_prefilter_reads_only_the_candidates(db_url: str) -> None:
    store = fresh(db_url)
    try:
        for n, (title, text) in enumerate(SEEDS * 5):
            add(store, Article(f"http://127.0.0.1/{n}", title, text))
        backtest = Backtest("NATO")
        found = list(backtest.run(store))
        assert len(found) == 5 and backtest.read == 5 and backtest.scanned == 30
        scan = Backtest("NATO")
        assert len(list(scan.run(store, use_prefilter=False))) == 5 and scan.read == 30
        window = Backtest("NATO")
        assert len(list(window.run(store, 12))) == 2 and window.scanned == 12
    finally:
        store.close()


def test_an_article_edited_in_place_is_found_by_its_new_words(db_url: str) -> None:
    store = fresh(db_url)
    try:
        add(store, Article("http://127.0.0.1/a", "Old title", "nothing here"))
        entry = Entry("k-edit", "http://127.0.0.1/a", "New title")
        edited = Article("http://127.0.0.1/a", "Sanctions announced", "new text")
        first = store.iter_articles().__next__()
        store_article(store, 1, "wire", NewArticle(entry, edited, _url_hash(store, first.id),
                                                   terms=article_terms(edited)), {}, T0)
        assert [i for i, _ in hits(store, "sanctions", use_prefilter=True)] == [first.id]
    finally:
        store.close()


def test_a_deleted_article_leaves_no_terms(db_url: str) -> None:
    store = fresh(db_url)
    try:
        add(store, Article("http://127.0.0.1/a", "Tariffs", "text"), when=T0 - timedelta(days=90))
        assert store.prune_articles(T0, 0, 100)[0] == 1
        assert count_terms(db_url) == 0
    finally:
        store.close()


def test_the_migration_marks_every_stored_article_and_a_backtest_indexes_them(
        db_url: str) -> None:
    write_old_database(db_url, 4, [
        ("schema_version", {"version": 4}),
        *(("articles", {"id": i, "url": f"http://127.0.0.1/a{i}", "url_hash": f"h{i}",
                        "title": title, "author": "", "source": "wire", "from_feed": False,
                        "text": text, "story_id": i, "created_at": T0 + timedelta(minutes=i)})
          for i, (title, text) in enumerate(SEEDS, 1)),
    ])
    store = Store(db_url)
    try:
        store.migrate()
        assert count_terms(db_url) == len(SEEDS) == count_terms(db_url, "x")
        assert [i for i, _ in hits(store, "NATO", use_prefilter=True)] == [4]  # caught up
        assert count_terms(db_url, "x") == 0 and count_terms(db_url) == len(SEEDS)
        assert store.index_pending(article_terms, 100) == 0
    finally:
        store.close()


def count_terms(url: str, only: str | None = None) -> int:
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            sql = "SELECT count(*) FROM article_terms" + (
                " WHERE article_terms MATCH :q" if only else "")
        else:
            sql = "SELECT count(*) FROM article_terms" + (
                " WHERE terms @@ CAST(:q AS tsquery)" if only else "")
        found = int(conn.execute(sqlalchemy.text(sql), {"q": only}).scalar() or 0)
    engine.dispose()
    return found


def _url_hash(store: Store, article_id: int) -> str:
    engine = store.engine
    with engine.begin() as conn:
        return str(conn.execute(sqlalchemy.text("SELECT url_hash FROM articles WHERE id = :i"),
                                {"i": article_id}).scalar())

