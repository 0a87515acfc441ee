"""``monitor discover`` beyond feeds: the sitemaps robots.txt names, a page without feeds
suggested as ``kind = "page"``; OPML export of sources OPML has no form for (comments)."""

from __future__ import annotations

import asyncio
import sys
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from monitor.fetch import Fetcher
from monitor.sources.discovery import robots_sitemaps
from monitor.sources.opml import OpmlFeed, parse_opml, to_opml
from monitor.sources.probe import DiscoveredFeed, as_config_snippet, other_sources
from tests.sourcekit import SITE, document

ROBOTS = b"""# robots.txt for www.example-news.com
User-agent: *
Disallow: /search
Sitemap: https://www.example-news.com/sitemap_index.xml
sitemap: /sitemap-news.xml  # the news one
Sitemap: https://www.example-news.com/sitemap_index.xml
Sitemap: ftp://www.example-news.com/old.xml
"""


def test_robots_txt_names_sitemaps() -> None:
    assert robots_sitemaps(ROBOTS, f"{SITE}/robots.txt") == [
        f"{SITE}/sitemap_index.xml", f"{SITE}/sitemap-news.xml"]
    assert robots_sitemaps(b"User-agent: *\nDisallow:\n", f"{SITE}/robots.txt") == []


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    made = Fetcher(user_agent="test", allow_private_networks=True, deadline=5.0)
    yield made
    await made.aclose()


def serve_site(httpserver: HTTPServer) -> str:
    base = httpserver.url_for("/").rstrip("/")
    httpserver.expect_request("/robots.txt").respond_with_data(ROBOTS.replace(
        SITE.encode(), base.encode()), content_type="text/plain")
    httpserver.expect_request("/world/").respond_with_data(
        document("section-page.html", base), content_type="text/html")
    return base


async def test_other_sources_of_a_site_without_feeds(httpserver: HTTPServer,
                                                     fetcher: Fetcher) -> None:
    base = serve_site(httpserver)
    found = await other_sources(f"{base}/world/", fetcher, has_feeds=False)
    assert found == [
        DiscoveredFeed(f"{base}/sitemap_index.xml", "sitemap (robots.txt)", "robots", None,
                       "sitemap"),
        DiscoveredFeed(f"{base}/sitemap-news.xml", "sitemap (robots.txt)", "robots", None,
                       "sitemap"),
        DiscoveredFeed(f"{base}/world/", "World news | Example News (5 article links)", "page",
                       None, "page")]
    with_feeds = await other_sources(f"{base}/world/", fetcher, has_feeds=True)
    assert [f.kind for f in with_feeds] == ["sitemap", "sitemap"]


def test_the_snippet_adds_other_kinds_only_when_there_is_no_feed() -> None:
    sitemap = DiscoveredFeed(f"{SITE}/sitemap.xml", "sitemap (robots.txt)", "robots",
                             kind="sitemap")
    page = DiscoveredFeed(f"{SITE}/world/", "World", "page", kind="page")
    tables = tomllib.loads(as_config_snippet([sitemap, page]))["feeds"]
    assert [(t["kind"], t["url"]) for t in tables] == [("sitemap", f"{SITE}/sitemap.xml"),
                                                       ("page", f"{SITE}/world/")]
    feed = DiscoveredFeed(f"{SITE}/rss", "RSS", "advertised")
    snippet = as_config_snippet([feed, sitemap])
    assert f"# also: kind = 'sitemap' at {SITE}/sitemap.xml\n" in snippet
    assert tomllib.loads(snippet)["feeds"] == [{"name": "RSS", "url": f"{SITE}/rss"}]


async def test_monitor_discover_suggests_a_page_and_the_sitemaps(httpserver: HTTPServer) -> None:
    base = serve_site(httpserver)
    root = Path(__file__).resolve().parent.parent
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "discover", f"{base}/world/", cwd=root,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    assert [(t["kind"], t["url"]) for t in tomllib.loads(stdout.decode())["feeds"]] == [
        ("sitemap", f"{base}/sitemap_index.xml"), ("sitemap", f"{base}/sitemap-news.xml"),
        ("page", f"{base}/world/")]
    assert "kind=page" in stderr.decode()


def test_opml_export_writes_other_kinds_as_comments() -> None:
    feeds = [OpmlFeed("Wire", f"{SITE}/rss", ("wire",)),
             OpmlFeed("GN -- DPA", "https://news.google.com/rss/search?q=x", kind="google-news"),
             OpmlFeed("World -- page", f"{SITE}/world/", kind="page"),
             OpmlFeed("FR", "https://www.federalregister.gov/api/v1/documents.json",
                      kind="json")]
    document_ = to_opml(feeds)
    assert b"<!-- monitor kind='page' 'World - page' " + f"{SITE}/world/".encode() in document_
    assert b"kind='json'" in document_
    assert [(f.title, f.xml_url) for f in parse_opml(document_)] == [
        ("Wire", f"{SITE}/rss"), ("GN -- DPA", "https://news.google.com/rss/search?q=x")]
