"""/api/preview (monitor/web/preview.py) through the real app, on SQLite and PostgreSQL:
a bad query's error and column, matches per day over the last 30 days, the newest matches
with their snippet highlighted and hostile text inert, the same answer with and without
the full-text prefilter, and the API token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from monitor.config import Config, FeedSettings, MonitorSettings
from monitor.models import Article, Entry
from monitor.rules import article_terms
from monitor.store import NewArticle, Store
from monitor.web import create_app
from monitor.web.preview import DAYS, preview
from tests.store_helpers import store_article

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """Tariff stories on days 0, 1, 1 and 40 before NOW, and others every day."""
    store = Store(db_url)
    store.migrate()
    store.sync_feeds([FeedSettings("wire", "http://127.0.0.1/feed", 600)], NOW)
    stories = [(40, "Tariffs of old", "tariffs then"),
               *[(d, f"Weather {d}", "sunny skies") for d in range(35, -1, -1)],
               (1, "Steel tariffs rise", "The U.S. raised tariffs on steel."),
               (1, "<script>alert(1)</script> tariff", "A tariff <b>bold</b>."),
               (0, "Tariff talks", "Talks on the tariff resumed.")]
    for n, (days_ago, title, text) in enumerate(stories):
        article = Article(f"http://127.0.0.1/a{n}", title, text)
        new = NewArticle(Entry(f"k{n}", article.url, title), article, f"h{n}",
                         terms=article_terms(article))
        store_article(store, 1, "wire", new, {}, NOW - days_ago * DAY)
    yield store
    store.close()


async def get(store: Store, params: dict[str, str], headers: dict[str, str] | None = None,
              **options: Any) -> httpx.Response:
    app = create_app(store, lambda: Config(MonitorSettings()), clock=lambda: NOW, **options)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1") as http:
        return await http.get("/api/preview", params=params, headers=headers)


async def test_a_preview_counts_matches_per_day_and_lists_the_newest(store: Store) -> None:
    answer = await get(store, {"q": "tariffs", "limit": "2"})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    days = {d["day"]: d["count"] for d in found["days"]}
    assert len(found["days"]) == DAYS and found["days"][-1]["day"] == "2026-03-31"
    assert days["2026-03-31"] == 1 and days["2026-03-30"] == 2 and found["matched"] == 3
    assert found["prefiltered"] and found["read"] < found["scanned"] == 40
    titles = [h["article"]["title"] for h in found["hits"]]
    assert titles == ["Tariff talks", "<script>alert(1)</script> tariff"]
    assert found["hits"][0]["html"] == "<mark>Tariff</mark> talks"  # the first snippet
    hostile = found["hits"][1]["html"]
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile
    assert hostile.endswith("<mark>tariff</mark>")


async def test_a_bad_query_is_a_400_with_its_column(store: Store) -> None:
    answer = await get(store, {"q": "tariffs AND (steel"})  # the ( not closed: column 13
    assert answer.status_code == 400
    assert answer.json()["column"] == 13 and "error" in answer.json()
    missing = await get(store, {"q": " "})
    assert missing.status_code == 400 and "missing query" in missing.json()["error"]


async def test_the_preview_needs_the_api_token_when_the_api_does(store: Store) -> None:
    refused = await get(store, {"q": "tariffs"}, token="s3cret", require_token=True)
    allowed = await get(store, {"q": "tariffs"}, {"Authorization": "Bearer s3cret"},
                        token="s3cret", require_token=True)
    assert refused.status_code == 401 and allowed.status_code == 200


@pytest.mark.parametrize("query", ["tariffs", "U.S. steel", "tarif*", "/tarif+s?/",
                                   "weather NOT sunny", "sunny OR NOT tariff"])
def test_a_preview_is_the_same_with_and_without_the_prefilter(store: Store, query: str
                                                              ) -> None:
    with_prefilter = preview(store, query, NOW, limit=5)
    scan = preview(store, query, NOW, limit=5, use_prefilter=False)
    assert with_prefilter["hits"] == scan["hits"] and with_prefilter["days"] == scan["days"]
