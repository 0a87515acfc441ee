"""``kind = "page"``: the article links of a listing page, by heuristics or by ``links`` and
``url_pattern``; a real-shaped section page with navigation, footer and "most read" boxes
yields its article links only, and end to end each story alerts once."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.config import SourceOptions, load_config
from monitor.errors import ConfigError, ParseError
from monitor.sources import PARSERS, parse_source
from monitor.sources.page import looks_like_article, same_site
from monitor.testing import NewsServer, SeedArticle, WebhookReceiver
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

PAGE = f"{SITE}/world/"
ARTICLES = [f"{SITE}/articles/anthropic-pentagon.html", f"{SITE}/articles/chip-export.html",
            f"{SITE}/2026/02/25/city-council-passes-budget-with-more-inspectors/",
            f"{SITE}/articles/port-congestion.html", f"{SITE}/world/us-canada-60941887"]


def links(**options: str) -> list[str]:
    parsed = parse_source("page", document("section-page.html"), PAGE,
                          options=SourceOptions(**options))
    return [e.url for e in parsed.entries]


def test_the_article_links_of_a_section_page_and_nothing_else() -> None:
    parsed = parse_source("page", document("section-page.html"), PAGE)
    assert [e.url for e in parsed.entries] == ARTICLES
    assert parsed.title == "World news | Example News" and parsed.warning is None
    first, _, council, _, canada = parsed.entries
    assert first.title == "Anthropic says it cannot in good conscience accede to " \
                          "Pentagon\u2019s demands"  # the image link to it has no text
    assert first.published is not None and first.published.isoformat() == \
        "2026-02-26T22:48:00+00:00"
    assert council.published is not None and canada.published is None
    assert canada.title == "Canada and US agree on new rules for cross-border freight"


@pytest.mark.parametrize(("options", "expected"), [
    ({"links": "article.card .card__title a"}, ARTICLES[:2]),
    ({"links": ".story-list__item"}, [ARTICLES[2], ARTICLES[3], ARTICLES[4]]),
    ({"url_pattern": r"/articles/"}, [ARTICLES[0], ARTICLES[1], ARTICLES[3]]),
    ({"url_pattern": r"/20\d\d/\d\d/\d\d/"},  # any site, but the boxes still left out
     [ARTICLES[2], "https://www.other-site.org/2026/02/26/original-report-on-the-pentagon-order/"]),
    ({"links": ".most-read a", "url_pattern": "explained"},
     [f"{SITE}/2026/02/27/defense-production-act-explained-what-it-can-do/"]),
], ids=["selector", "selector-of-items", "pattern", "pattern-skips-boxes", "both"])
def test_links_and_url_pattern_choose_the_links(options: dict[str, str],
                                               expected: list[str]) -> None:
    assert links(**options) == expected


@pytest.mark.parametrize(("path", "article"), [
    ("/2026/02/27/pentagon-weighs-order/", True),
    ("/news/2026-02-27/pentagon", True),
    ("/world/us-canada-60941887", True),
    ("/pentagon-weighs-defense-production-act-order", True),
    ("/articles/chip-export.html", True),
    ("/press-releases/new-rules", True),
    ("/world/", False),
    ("/tag/defense-production-act-and-more/", False),
    ("/authors/jane-doe-technology-reporter", False),
    ("/business/markets", False),
    ("/", False),
], ids=lambda v: str(v))
def test_article_paths(path: str, article: bool) -> None:
    assert looks_like_article(path) is article


@pytest.mark.parametrize(("url", "same"), [
    ("https://www.example-news.com/a", True),
    ("https://live.example-news.com/a", True),
    ("https://example-news.com/a", True),
    ("https://www.other-site.org/a", False),
    ("https://news.bbc.co.uk/a", True),
    ("https://www.itv.co.uk/a", False),
], ids=["host", "subdomain", "bare", "other", "co-uk", "other-co-uk"])
def test_same_site(url: str, same: bool) -> None:
    base = "https://www.bbc.co.uk/news" if "co.uk" in url else PAGE
    assert same_site(url, base) is same


def test_a_page_without_article_links_warns_and_an_empty_one_is_no_page() -> None:
    parsed = parse_source("page", b"<html><body><nav><a href='/'>Home</a></nav></body></html>",
                          PAGE)
    assert parsed.entries == () and parsed.warning and "no article links" in parsed.warning
    with pytest.raises(ParseError, match="not a page: empty document"):
        parse_source("page", b"  ", PAGE)


@pytest.mark.parametrize(("content", "content_type"), [
    ("<meta charset='iso-8859-1'><a href='/articles/caf\u00e9-cr\u00e8me.html'>"
     "Caf\u00e9 cr\u00e8me prices rise across the city</a>".encode("latin-1"), ""),
    ("<a href='/articles/caf\u00e9-cr\u00e8me.html'>Caf\u00e9 cr\u00e8me prices rise "
     "across the city</a>".encode(), ""),
    ("<a href='/articles/caf\u00e9-cr\u00e8me.html'>Caf\u00e9 cr\u00e8me prices rise "
     "across the city</a>".encode("cp1252"), "text/html; charset=windows-1252"),
], ids=["meta", "undeclared-utf8", "http-charset"])
def test_the_page_charset(content: bytes, content_type: str) -> None:
    (entry,) = parse_source("page", content, PAGE, content_type=content_type).entries
    assert entry.title == "Caf\u00e9 cr\u00e8me prices rise across the city"


@pytest.mark.parametrize(("options", "expected"), [
    ('url_pattern = "(?=x)"', "feeds[0].url_pattern: not a regex RE2 accepts"),
    ('links = "a[href"', "feeds[0].links: not a CSS selector"),
    ('query = "x"', "feeds[0].query: not an option of kind = 'page' (only of kind = "
                    "'google-news')"),
], ids=["lookahead", "selector", "other-kind"])
def test_page_options_are_checked_at_load(tmp_path: Path, options: str, expected: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[[feeds]]\nurl = "{PAGE}"\nkind = "page"\n{options}\n'
                    '[[watch]]\nname = "r"\nquery = "x"\nchannels = []\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, source_kinds=tuple(PARSERS))
    (problem,) = caught.value.problems
    assert problem.startswith(expected)


def test_monitor_parse_reads_a_page() -> None:
    code, lines, err = monitor_parse("--kind", "page", "-o", "url_pattern=/articles/",
                                     str(SOURCES / "section-page.html"))
    assert (code, err) == (0, "")
    assert [line["title"] for line in lines][1:2] == [
        "Chipmakers weigh new export rules for advanced processors"]


async def test_a_section_page_alerts_once_per_story_then_on_new_links(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, httpserver: HTTPServer) -> None:
    cards: list[str] = []

    def section(_: Request) -> Response:
        page = document("section-page.html", news.base).decode().replace(
            "<head>", f'<head><base href="{news.base}/world/">')  # its articles are there
        return Response(page.replace('<section class="story-list">', "".join(cards) +
                                     '<section class="story-list">'), content_type="text/html")

    httpserver.expect_request("/world/").respond_with_handler(section)
    feed = f'[[feeds]]\nname = "World"\nkind = "page"\nurl = "{httpserver.url_for("/world/")}"\n'
    path = write_config(tmp_path, news, None, hook, feeds=feed, watches=DPA_RULE)
    await poll_once(path)
    # the "most read" and "most popular" Defense Production Act stories are not entries
    assert alerted(hook) == [("dpa", f"{news.base}/articles/anthropic-pentagon.html")]

    news.articles.append(SeedArticle(
        "dpa-followup", "Pentagon weighs Defense Production Act order", "2026-02-27",
        "Officials said on Friday that the Defense Production Act could be invoked. " * 8))
    cards.append(f'<article class="card"><h3><a href="{news.base}/articles/dpa-followup.html">'
                 "Pentagon weighs Defense Production Act order</a></h3></article>")
    await poll_once(path)
    assert alerted(hook) == [("dpa", f"{news.base}/articles/anthropic-pentagon.html"),
                             ("dpa", f"{news.base}/articles/dpa-followup.html")]
