"""``kind = "google-news"``: the search feed's URL from its options, publishers from
``<source>``, titles without " - Publisher", wrapped links unwrapped; end to end against a
Google-News-shaped local server (``base_url``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.sources import PARSERS, parse_source
from monitor.testing import NewsServer, WebhookReceiver
from tests.helpers import write_config
from tests.sourcekit import (
    DPA_RULE,
    SITE,
    SOURCES,
    alerted,
    document,
    monitor_parse,
    poll_once,
    webhook_secret,  # noqa: F401 - an autouse fixture
)

RULE = '[[watch]]\nname = "r"\nquery = "x"\nchannels = []\n'


def feed_config(tmp_path: Path, feed: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(f'[[feeds]]\nkind = "google-news"\n{feed}\n{RULE}')
    return path


@pytest.mark.parametrize(("options", "url"), [
    ("query = '\"Defense Production Act\"'",
     "https://news.google.com/rss/search?q=%22Defense+Production+Act%22&hl=en-US&gl=US"
     "&ceid=US%3Aen"),
    ('query = "Bundeswehr when:7d"\nhl = "de"\ngl = "DE"',
     "https://news.google.com/rss/search?q=Bundeswehr+when%3A7d&hl=de&gl=DE&ceid=DE%3Ade"),
    ('query = "x"\nhl = "en-GB"\ngl = "GB"\nceid = "GB:en"\nbase_url = "http://127.0.0.1:9/"',
     "http://127.0.0.1:9/rss/search?q=x&hl=en-GB&gl=GB&ceid=GB%3Aen"),
], ids=["defaults", "german", "all-options"])
def test_the_search_url_is_built_from_the_options(tmp_path: Path, options: str,
                                                  url: str) -> None:
    config = load_config(feed_config(tmp_path, options), source_kinds=tuple(PARSERS))
    assert (config.feeds[0].url, config.feeds[0].name) == (url, url)


@pytest.mark.parametrize(("feed", "expected"), [
    ('name = "gn"', 'feeds[0].query: is required for kind = "google-news" without a url '
                    "(the search)"),
    ('query = "x"\nlinks = "a"',
     "feeds[0].links: not an option of kind = 'google-news' (only of kind = 'page')"),
], ids=["no-query", "page-option"])
def test_google_news_config_problems(tmp_path: Path, feed: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(feed_config(tmp_path, feed), source_kinds=tuple(PARSERS))
    assert caught.value.problems == [expected]


def test_a_google_news_feed_url_needs_no_query(tmp_path: Path) -> None:
    topic = "https://news.google.com/rss/topics/CAAqJggKIiBDQkFTRWdvSUwyMHZNRGRqTVhZU0FtVnVHZ0pWVXlnQVAB"
    config = load_config(feed_config(tmp_path, f'url = "{topic}"'), source_kinds=tuple(PARSERS))
    assert config.feeds[0].url == topic


def test_entries_carry_their_publisher_and_unwrapped_link() -> None:
    feed = parse_source("google-news", document("google-news.xml"),
                        "https://news.google.com/rss/search?q=x")
    assert [(e.title, e.source, e.url.split("/articles/")[-1][:30]) for e in feed.entries] == [
        ("Anthropic says it cannot in good conscience accede to Pentagon's demands",
         "Demo News", "anthropic-pentagon.html"),
        ("Pentagon weighs Defense Production Act order against AI lab", "Reuters",
         "CBMiQEFVX3lxTFB4MG0wY1VxM1ZmOF"),  # the newer token: kept as it is
        ("Anthropic says it cannot in good conscience accede to Pentagon's demands",
         "Yahoo News", "anthropic-pentagon.html?utm_so"),
        ("Commerce tightens chip export rules", "Demo News", "chip-export.html")]
    assert feed.entries[0].url == f"{SITE}/articles/anthropic-pentagon.html"
    # the feed kind reads the same document without publishers, titles as written
    plain = parse_source("feed", document("google-news.xml"), "https://news.google.com/rss")
    assert plain.entries[1].title.endswith(" - Reuters") and not plain.entries[1].source


async def test_a_google_news_search_alerts_once_per_story(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/rss/search").respond_with_data(
        document("google-news.xml", news.base), content_type="application/rss+xml")
    feed = f"""
[[feeds]]
name = "GN: DPA"
kind = "google-news"
query = '"Defense Production Act"'
base_url = "{httpserver.url_for('/')}"
"""
    await poll_once(write_config(tmp_path, news, None, hook, feeds=feed, watches=DPA_RULE))
    (request, _), = httpserver.log
    assert dict(request.args) == {"q": '"Defense Production Act"', "hl": "en-US", "gl": "US",
                                  "ceid": "US:en"}
    # the story Google lists twice (Demo News, Yahoo) alerts once, from its own page; the
    # opaque Reuters link is never fetched: its own text matched, under Reuters' name
    assert alerted(hook) == sorted([
        ("dpa", f"{news.base}/articles/anthropic-pentagon.html"),
        ("dpa", feed_link(document("google-news.xml"), 1))])
    by_source = {b["article"]["source"]: b["article"]["title"] for b in hook.bodies()}
    assert by_source == {
        "Demo News": "Anthropic says it cannot in good conscience accede to Pentagon's demands",
        "Reuters": "Pentagon weighs Defense Production Act order against AI lab"}
    assert news.requests.count("/articles/anthropic-pentagon.html") >= 1


def feed_link(content: bytes, index: int) -> str:
    return parse_source("google-news", content, "https://news.google.com/rss").entries[index].url


def test_monitor_parse_reads_a_google_news_document() -> None:
    code, lines, _ = monitor_parse("--kind", "google-news", str(SOURCES / "google-news.xml"))
    assert code == 0
    assert [(line["source"], line["link"]) for line in lines][:1] == [
        ("Demo News", f"{SITE}/articles/anthropic-pentagon.html")]
    code, _, err = monitor_parse("--kind", "google-news", "-o", "links=a", "-")
    assert (code, err) == (2, "monitor: --option links: not an option of kind = 'google-news' "
                              "(only of kind = 'page')\n")
