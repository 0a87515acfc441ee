"""``kind = "sitemap"``: news sitemaps, plain sitemaps, indexes (their newest children,
fetched guarded) and gzip; end to end, new URLs alert once per story, an index pointing
at a private address is refused, and a 50,000-URL sitemap is parsed off the event loop."""

from __future__ import annotations

import asyncio
import gzip
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.config import SourceOptions
from monitor.daemon import Daemon, load
from monitor.errors import ParseError
from monitor.fetch import Fetcher
from monitor.sources import ParsedFeed, parse_source, sitemap
from monitor.sources.follow import read_children
from monitor.testing import NewsServer, SeedArticle, WebhookReceiver
from tests.helpers import write_config
from tests.sourcekit import (
    DPA_RULE,
    SITE,
    alerted,
    document,
    poll_once,
    webhook_secret,  # noqa: F401 - an autouse fixture
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)
INDEX = f"{SITE}/sitemap_index.xml"


def parse(name: str, content: bytes | None = None) -> ParsedFeed:
    return parse_source("sitemap", content or document(name), INDEX, now=NOW)


def test_a_news_sitemap_gives_titles_and_dates_newest_first() -> None:
    entries = parse("news-sitemap.xml").entries
    assert [(e.url.rsplit("/", 1)[1], e.title, e.published) for e in entries] == [
        ("anthropic-pentagon.html",
         "Anthropic says it cannot in good conscience accede to Pentagon\u2019s demands",
         datetime(2026, 2, 26, 22, 48, tzinfo=UTC)),
        ("council-budget.html", "City council passes budget with more building inspectors",
         datetime(2026, 2, 25, tzinfo=UTC)),
        ("chip-export.html", "Chipmakers weigh new export rules for advanced processors",
         datetime(2026, 2, 24, 15, 15, tzinfo=UTC))]
    assert all(e.key == e.url for e in entries)


def test_a_plain_sitemap_dates_by_lastmod_and_resolves_relative_locs() -> None:
    entries = parse("sitemap-posts.xml").entries
    assert [(e.url, e.title, e.published) for e in entries] == [
        (f"{SITE}/articles/anthropic-pentagon.html", "", datetime(2026, 2, 27, tzinfo=UTC)),
        (f"{SITE}/articles/port-congestion.html", "", datetime(2026, 2, 20, 8, tzinfo=UTC)),
        (f"{SITE}/articles/about-us.html", "", None)]


def test_an_index_names_its_newest_children_only() -> None:
    parsed = parse("sitemap-index.xml")
    assert parsed.entries == ()
    assert parsed.children == (f"{SITE}/sitemap-news.xml.gz", f"{SITE}/sitemap-posts-2026-02.xml",
                               f"{SITE}/sitemap-posts-2025-12.xml")


def test_gzip_sitemaps_are_unzipped_within_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    zipped = gzip.compress(document("news-sitemap.xml"))
    assert parse("", zipped) == parse("news-sitemap.xml")
    monkeypatch.setattr(sitemap, "MAX_UNZIPPED", 1000)
    with pytest.raises(ParseError, match="gzip sitemap over 1,000 bytes unzipped"):
        parse("", zipped)


@pytest.mark.parametrize(("content", "message"), [
    (b'<rss version="2.0"><channel/></rss>', "not a sitemap: the root element is <rss>"),
    (b"", "not a sitemap"),
    (b"\x1f\x8bnot gzip", "not a sitemap: broken gzip data"),
], ids=["rss", "empty", "bad-gzip"])
def test_what_is_not_a_sitemap_says_so(content: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_source("sitemap", content, INDEX)


def test_many_urls_keep_the_newest() -> None:
    urls = "".join(f"<url><loc>{SITE}/a/{i}</loc><lastmod>2026-02-{i % 28 + 1:02d}</lastmod>"
                   "</url>" for i in range(200))
    doc = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    entries = parse_source("sitemap", doc.encode(), INDEX, max_items=10, now=NOW).entries
    days = [e.published.day for e in entries if e.published]
    assert days == [28] * 7 + [27] * 3  # 7 URLs of each day; the 10 newest


# -- the SSRF guard: children are third-party URLs --------------------------------------

@pytest.mark.parametrize("child", [
    "http://10.1.2.3/sitemap.xml", "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8080/sitemap.xml", "http://127.0.0.1:1/sitemap.xml",
    "http://2130706433/sitemap.xml",
], ids=["private", "metadata", "ipv6-loopback", "loopback", "decimal-loopback"])
async def test_an_index_pointing_at_a_private_address_is_refused(child: str) -> None:
    fetcher = Fetcher(user_agent="t")  # the guard decides on the address: nothing is dialled
    try:
        index = ParsedFeed(title="", link=INDEX, entries=(), children=(child,))
        read = await read_children(fetcher, index, kind="sitemap", options=SourceOptions(),
                                   allow_private=False, max_bytes=1000, max_items=10, now=NOW)
    finally:
        await fetcher.aclose()
    assert read.entries == () and read.children == ()
    assert read.warning and read.warning.startswith(f"{child}: ") and "not public" in read.warning


# -- end to end --------------------------------------------------------------------------

def serve_site(httpserver: HTTPServer, news: NewsServer, news_urls: list[str]) -> None:
    """The index, its gzip news child (``news_urls`` appended to it) and its other children."""
    def news_sitemap(_: Request) -> Response:
        body = document("news-sitemap.xml", news.base).decode().replace("</urlset>", "".join(
            f"<url><loc>{u}</loc></url>" for u in news_urls) + "</urlset>")
        return Response(gzip.compress(body.encode()), content_type="application/x-gzip")

    httpserver.expect_request("/sitemap_index.xml").respond_with_data(
        document("sitemap-index.xml", httpserver.url_for("").rstrip("/")),
        content_type="application/xml")
    httpserver.expect_request("/sitemap-news.xml.gz").respond_with_handler(news_sitemap)
    for name in ("sitemap-posts-2026-02.xml", "sitemap-posts-2025-12.xml"):
        httpserver.expect_request(f"/{name}").respond_with_data(
            document("sitemap-posts.xml", news.base), content_type="application/xml")


async def test_an_index_and_its_children_alert_once_per_story_then_on_new_urls(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, httpserver: HTTPServer) -> None:
    added: list[str] = []
    serve_site(httpserver, news, added)
    feed = f'[[feeds]]\nname = "Site"\nkind = "sitemap"\n' \
           f'url = "{httpserver.url_for("/sitemap_index.xml")}"\n'
    path = write_config(tmp_path, news, None, hook, feeds=feed, watches=DPA_RULE)
    (state,) = await poll_once(path)
    # in the news sitemap and in two post sitemaps: one story, one alert
    assert alerted(hook) == [("dpa", f"{news.base}/articles/anthropic-pentagon.html")]
    assert state.warning is None and state.etag is None and state.content_hash is None
    asked = {r.path for r, _ in httpserver.log}
    assert "/sitemap-posts-2025-11.xml" not in asked and "/sitemap-pages.xml" not in asked

    news.articles.append(SeedArticle(
        "dpa-followup", "Pentagon weighs Defense Production Act order", "2026-02-27",
        "Officials said on Friday that the Defense Production Act could be invoked. " * 8))
    added.append(f"{news.base}/articles/dpa-followup.html")
    await poll_once(path)  # the index's bytes are the same: its children are read anyway
    assert alerted(hook) == [("dpa", f"{news.base}/articles/anthropic-pentagon.html"),
                             ("dpa", f"{news.base}/articles/dpa-followup.html")]


async def test_children_at_private_addresses_are_refused_end_to_end(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, httpserver: HTTPServer) -> None:
    serve_site(httpserver, news, [])
    feed = f'[[feeds]]\nname = "Site"\nkind = "sitemap"\nallow_private_networks = false\n' \
           f'url = "{httpserver.url_for("/sitemap_index.xml")}"\n'
    (state,) = await poll_once(write_config(tmp_path, news, None, hook, feeds=feed,
                                            watches=DPA_RULE))
    # the operator's index URL is trusted; the loopback children it names are not
    assert [r.path for r, _ in httpserver.log] == ["/sitemap_index.xml"]
    assert state.warning and state.warning.count("non-public address 127.0.0.1") == 3
    assert hook.received == []


async def test_an_index_s_children_carry_the_sources_request_settings(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, httpserver: HTTPServer) -> None:
    serve_site(httpserver, news, [])
    feed = f'[[feeds]]\nname = "Site"\nkind = "sitemap"\nuser_agent = "sitemap-reader/1.0"\n' \
           f'headers = {{ "X-Api-Key" = "public-key" }}\n' \
           f'url = "{httpserver.url_for("/sitemap_index.xml")}"\n'
    await poll_once(write_config(tmp_path, news, None, hook, feeds=feed, watches=DPA_RULE))
    asked = [r for r, _ in httpserver.log]
    assert {r.path for r in asked} >= {"/sitemap_index.xml", "/sitemap-news.xml.gz"}
    for req in asked:  # the index and every child it led to
        assert req.headers["User-Agent"] == "sitemap-reader/1.0", req.path
        assert req.headers["X-Api-Key"] == "public-key", req.path


async def test_a_50000_url_sitemap_is_parsed_off_the_event_loop(
        tmp_path: Path, news: NewsServer, httpserver: HTTPServer) -> None:
    """The loop's ticks go on while the poll parses it: the longest gap between two is a
    small part of the parse's own time, measured here on the same bytes."""
    base = httpserver.url_for("/a")  # on loopback, and never fetched: the first poll
    urls = "".join(f"<url><loc>{base}/{i}</loc><lastmod>2026-02-{i % 28 + 1:02d}T"  # stores
                   f"{i % 24:02d}:{i % 60:02d}:00Z</lastmod></url>" for i in range(50_000))
    doc = (f'<?xml version="1.0" encoding="UTF-8"?><urlset '
           f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>').encode()
    url = httpserver.url_for("/sitemap.xml")
    httpserver.expect_request("/sitemap.xml").respond_with_data(doc,
                                                                content_type="application/xml")
    started = time.perf_counter()
    expected = parse_source("sitemap", doc, url, max_items=500, now=datetime.now(UTC))
    parse_seconds = time.perf_counter() - started
    feed = (f'[[feeds]]\nname = "Big"\nkind = "sitemap"\nurl = "{url}"\n'
            "alert_on_first_poll = false\nbackfill = 0\n")  # no article fetched
    path = write_config(tmp_path, news, None, None, feeds=feed, watches=DPA_RULE)
    daemon = Daemon(load(str(path)), str(path))
    gaps: list[float] = []

    async def ticks() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    try:
        ticker = asyncio.create_task(ticks())
        await daemon.run_once()
        ticker.cancel()
        (state,) = daemon.services.store.feeds()
        seen = daemon.services.store.seen_entries(state.id, expected.entries, datetime.now(UTC))
    finally:
        await daemon.close()
    assert state.state == "ok" and state.last_error is None and state.items_seen == 500
    assert len(expected.entries) == 500 and set(seen) == {e.key for e in expected.entries}
    # on the loop the longest gap was the parse's whole time (0.54 s for a 0.48 s parse);
    # in a thread, 0.09-0.10 s for parses of 0.7-1.0 s (the thread and the loop share the GIL)
    assert max(gaps) < parse_seconds / 3, (max(gaps), parse_seconds)
