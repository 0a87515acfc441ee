"""monitor.sources.probe (discovery) against real aiohttp sites on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from monitor.errors import FetchError, FetchHTTPStatus
from monitor.fetch import Fetcher
from monitor.sources.discovery import COMMON_FEED_PATHS
from monitor.sources.probe import DiscoveredFeed, Via, as_config_snippet, candidate_urls, discover

RSS = ('<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
       '<link>http://x/</link><item><title>One</title><link>http://x/1</link></item>'
       '</channel></rss>')
ATOM = ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title>'
        '<id>urn:x</id><updated>2026-03-11T12:00:00Z</updated><entry><title>One</title>'
        '<id>urn:x:1</id><link href="http://x/1"/><updated>2026-03-11T12:00:00Z</updated>'
        '</entry></feed>')
JSON_FEED = ('{{"version": "https://jsonfeed.org/version/1.1", "title": "{title}", '
             '"items": [{{"id": "1", "url": "http://x/1", "content_text": "One"}}]}}')


def page(head: str = "", body: str = "<p>Hello</p>") -> str:
    return f"<!doctype html><html><head><title>Site</title>{head}</head><body>{body}</body></html>"


def rss(title: str) -> tuple[str, str]:
    return RSS.format(title=title), "application/rss+xml"


def atom(title: str) -> tuple[str, str]:
    return ATOM.format(title=title), "application/atom+xml"


def html(text: str) -> tuple[str, str]:
    return text, "text/html"


# A route is (body, content type), or ("->", path) for a redirect.
Routes = dict[str, tuple[str, str]]


@dataclass
class Site:
    """A running local site: its base URL and the paths it was asked for."""

    base: str
    asked: list[str] = field(default_factory=list)


Serve = Callable[[Routes], Awaitable[Site]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    runners: list[web.AppRunner] = []

    async def start(routes: Routes) -> Site:
        site = Site("")

        async def handle(request: web.Request) -> web.StreamResponse:
            site.asked.append(request.path)
            if request.path not in routes:
                return web.Response(status=404, text="not here")
            body, kind = routes[request.path]
            if body == "->":
                raise web.HTTPFound(kind)
            return web.Response(text=body, content_type=kind)

        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        site.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        return site

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    made = Fetcher(user_agent="test", allow_private_networks=True, deadline=5.0)
    yield made
    await made.aclose()


LINKED = {
    "/": html(page('<link rel="alternate" type="application/rss+xml" href="/rss.xml">'
                   '<link rel="alternate" type="application/atom+xml" href="ATOM_ABSOLUTE">'
                   '<link rel="stylesheet" href="/style.css">')),
    "/rss.xml": rss("Site RSS"),
    "/atom.xml": atom("Site Atom"),
    "/feed.xml": rss("Never probed"),
}
PROBED = {
    "/": html(page()),
    "/feed": ("->", "/feed.xml"),  # the same feed by redirect: listed once
    "/feed.xml": rss("The Feed"),
    "/rss": rss("The Feed"),  # the same bytes at another URL: listed once
    "/index.xml": html(page()),  # a soft 404: not a feed
    "/feed.json": (JSON_FEED.format(title="JSON"), "application/feed+json"),
}
NOTHING = {"/": html(page()), "/feed": html(page("", "<p>No feed here</p>"))}
DIRECT = {"/news/rss": rss("Direct")}
BROKEN_LINKS = {
    "/": html(page('<link rel="alternate" type="application/rss+xml" href="/gone.xml">'
                   '<link rel="alternate" type="application/rss+xml" href="/page.html">'
                   '<link rel="alternate" type="application/atom+xml" href="/ok.xml">')),
    "/page.html": html(page()),
    "/ok.xml": atom("Fine"),
    "/feed.xml": rss("Never probed"),
}

CASES = [
    # (routes, path typed, probe_common, expected (path, title, via, error), paths asked)
    (LINKED, "/", True,
     [("/rss.xml", "Site RSS", "advertised", None), ("/atom.xml", "Site Atom", "advertised", None)],
     ["/", "/rss.xml", "/atom.xml"]),
    (PROBED, "/", True,
     [("/feed.xml", "The Feed", "probed", None), ("/feed.json", "JSON", "probed", None)],
     None),
    (PROBED, "/", False, [], ["/"]),
    (NOTHING, "/", True, [], None),
    (DIRECT, "/news/rss", True, [("/news/rss", "Direct", "direct", None)], ["/news/rss"]),
    (BROKEN_LINKS, "/", True,
     [("/gone.xml", "", "advertised", "HTTP 404"),
      ("/page.html", "", "advertised", "not a feed"),
      ("/ok.xml", "Fine", "advertised", None)],
     ["/", "/gone.xml", "/page.html", "/ok.xml"]),
]


@pytest.mark.parametrize(("routes", "typed", "probe", "expected", "asked"), CASES,
                         ids=["advertised-rss-and-atom", "probed-common-paths", "no-probing",
                              "nothing", "url-is-a-feed", "broken-advertised-links"])
async def test_discover(serve: Serve, fetcher: Fetcher, routes: Routes, typed: str,
                        probe: bool, expected: list[tuple[str, str, Via, str | None]],
                        asked: list[str] | None) -> None:
    routes = dict(routes)  # the cases share their route tables
    site = await serve(routes)
    if "/" in routes:  # an absolute link needs the server's address
        routes["/"] = (routes["/"][0].replace("ATOM_ABSOLUTE", f"{site.base}/atom.xml"),
                       routes["/"][1])
    found = await discover(site.base + typed, fetcher, probe_common=probe)
    assert found == [DiscoveredFeed(site.base + p, t, v, e) for p, t, v, e in expected]
    if asked is not None:
        assert sorted(site.asked) == sorted(asked)


async def test_nothing_probes_every_common_path(serve: Serve, fetcher: Fetcher) -> None:
    site = await serve(NOTHING)
    assert await discover(site.base + "/", fetcher) == []
    assert sorted(site.asked) == sorted(["/", *COMMON_FEED_PATHS])


async def test_feeds_advertised_by_another_site_go_through_the_guard(serve: Serve) -> None:
    other = await serve({"/rss.xml": rss("Elsewhere")})
    home = await serve({"/": html(page(
        '<link rel="alternate" type="application/rss+xml" href="/rss.xml">'
        f'<link rel="alternate" type="application/rss+xml" href="{other.base}/rss.xml">')),
        "/rss.xml": rss("Home")})
    guarded = Fetcher(user_agent="test", allow_private_networks=False, deadline=5.0)
    try:
        found = await discover(home.base + "/", guarded)
    finally:
        await guarded.aclose()
    assert [(f.url, f.title, f.error is None) for f in found] == [
        (home.base + "/rss.xml", "Home", True), (other.base + "/rss.xml", "", False)]
    assert other.asked == []  # refused before connecting


async def test_a_page_that_fails_raises(serve: Serve, fetcher: Fetcher) -> None:
    site = await serve({})
    with pytest.raises(FetchHTTPStatus, match="HTTP 404"):
        await discover(site.base + "/", fetcher)


def test_config_snippet_lists_readable_feeds_and_notes_the_rest() -> None:
    feeds = [DiscoveredFeed("https://a.example/rss", "A \"quoted\" feed"),
             DiscoveredFeed("https://a.example/gone", error="HTTP 404\nNot Found"),
             DiscoveredFeed("https://a.example/atom", "", "probed")]
    snippet = as_config_snippet(feeds, taken={"https://a.example/atom"})
    assert snippet.startswith("# not added: https://a.example/gone (HTTP 404 Not Found)\n")
    assert tomllib.loads(snippet)["feeds"] == [
        {"name": 'A "quoted" feed', "url": "https://a.example/rss"},
        {"name": "https://a.example/atom (2)", "url": "https://a.example/atom"}]


@pytest.mark.parametrize(("typed", "expected"), [
    ("example.org:8080", ["https://example.org:8080", "http://example.org:8080"]),
    ("example.org/news", ["https://example.org/news", "http://example.org/news"]),
    ("http://example.org:8080/", ["http://example.org:8080/"]),
    ("https://example.org", ["https://example.org"]),
], ids=["host-port", "host-path", "http", "https"])
def test_a_url_without_scheme_tries_https_then_http(typed: str, expected: list[str]) -> None:
    assert candidate_urls(typed) == expected


async def test_host_port_of_a_plain_http_site_falls_back_to_http(serve: Serve,
                                                                 fetcher: Fetcher) -> None:
    site = await serve(LINKED | {"/": html(page(
        '<link rel="alternate" type="application/rss+xml" href="/rss.xml">'))})
    host_port = site.base.removeprefix("http://")
    started = time.monotonic()
    found = await discover(host_port, fetcher)
    assert found == [DiscoveredFeed(f"{site.base}/rss.xml", "Site RSS", "advertised")]
    assert site.asked == ["/", "/rss.xml"]  # the TLS attempt never became a request
    assert time.monotonic() - started < 4  # the https attempt failed at once, no timeout


async def test_host_port_with_nothing_listening_names_both_attempts(fetcher: Fetcher) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError) as info:
        await discover(f"127.0.0.1:{port}", fetcher)
    assert str(info.value).startswith(f"https://127.0.0.1:{port}: ")
    assert f"; http://127.0.0.1:{port}: " in str(info.value)


async def test_monitor_discover_host_port(serve: Serve) -> None:
    site = await serve(DIRECT | {"/": html(page(
        '<link rel="alternate" type="application/rss+xml" href="/news/rss">'))})
    root = Path(__file__).resolve().parent.parent
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "discover", site.base.removeprefix("http://"),
        cwd=root, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    assert tomllib.loads(stdout.decode())["feeds"] == [
        {"name": "Direct", "url": f"{site.base}/news/rss"}]


async def _monitor(*args: str) -> tuple[int, str, str]:
    root = Path(__file__).resolve().parent.parent
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", *args,
        cwd=root, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, stdout.decode(), stderr.decode()


async def test_cli_follows_a_redirect_on_the_typed_origin(serve: Serve) -> None:
    """A loopback URL the operator typed that redirects elsewhere on its own origin: the
    redirect is as trusted as the URL (the fetcher's first hop alone used to be)."""
    site = await serve({"/a": ("->", "/b"), "/b": rss("Moved")})
    code, out, err = await _monitor("discover", f"{site.base}/a")
    assert code == 0, err
    assert tomllib.loads(out)["feeds"] == [{"name": "Moved", "url": f"{site.base}/b"}]
    code, out, err = await _monitor("parse", f"{site.base}/a")
    assert code == 0, err
    assert [json.loads(line)["link"] for line in out.splitlines()] == ["http://x/1"]
    assert site.asked[:2] == ["/a", "/b"] and site.asked[-2:] == ["/a", "/b"]


async def test_cli_refuses_a_redirect_to_another_loopback_origin(serve: Serve) -> None:
    with socket.socket() as sock:  # nothing listens there: refused on the address, not dialled
        sock.bind(("127.0.0.1", 0))
        other = sock.getsockname()[1]
    site = await serve({"/a": ("->", f"http://127.0.0.1:{other}/b")})
    for command in ("parse", "discover"):
        code, _, err = await _monitor(command, f"{site.base}/a")
        assert code == 2 and "address 127.0.0.1 is not public" in err, err
    assert site.asked == ["/a", "/a"]
