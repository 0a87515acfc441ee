"""``render = "browser"``: JavaScript-only pages rendered in Debian's Chromium, every
request the browser makes sent by the project's fetcher behind the SSRF guard.

End to end: a feed whose article page is an empty shell filled by a script (from a JSON
API on the same server) alerts on the rendered text. The guard: a page whose script
fetches a private address (a literal, and a name the injected resolver answers with one)
has those requests aborted in the page, decided on the address without dialling it. Only
/usr/bin/chromium is used (Playwright never downloads a browser); the tests skip, saying
why, only when it or Playwright is absent.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor import netguard
from monitor.browser import CHROMIUM, Renderer
from monitor.daemon import Daemon, load
from monitor.errors import FetchBlocked, FetchTimeout, FetchUnusable
from monitor.extract import extract_article
from monitor.fetch import Fetcher
from monitor.testing import NewsServer, WebhookReceiver
from tests.helpers import SECRET, write_config

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")

UA = "monitor-browser-test/1.0"
STORY = ["The Defense Production Act was invoked to keep the terminal running, the port "
         "authority said on Monday, after weeks of talks with the shipping group.",
         "Unions welcomed the decision; the shipping group said it would appeal. The "
         "council will vote on the sale before the summer recess, its chair said."]
SHELL = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Port authority keeps terminal | Ledger</title></head>
<body><div id="app"><noscript>This site needs JavaScript.</noscript></div>
<script src="/static/app.js"></script></body></html>"""
APP_JS = """
fetch('/api/story.json').then(r => r.json()).then(story => {
  const article = document.createElement('article');
  const h1 = document.createElement('h1');
  h1.textContent = story.title;
  article.appendChild(h1);
  for (const text of story.paragraphs) {
    const p = document.createElement('p');
    p.textContent = text;
    article.appendChild(p);
  }
  document.getElementById('app').replaceChildren(article);
});
"""
PROBE_JS = """
const results = document.getElementById('results');
for (const url of ['http://10.0.0.1:8080/secret', 'http://intranet.test/secret']) {
  fetch(url).then(() => 'reached', () => 'refused').then(outcome => {
    const p = document.createElement('p');
    p.textContent = url + ' ' + outcome;
    results.appendChild(p);
  });
}
const socket = new WebSocket('ws://10.0.0.1:8080/socket');
socket.onclose = () => {
  const p = document.createElement('p');
  p.textContent = 'socket closed';
  results.appendChild(p);
};
"""


def serve_js_story(server: HTTPServer) -> None:
    server.expect_request("/news/terminal.html").respond_with_data(SHELL,
                                                                   content_type="text/html")
    server.expect_request("/static/app.js").respond_with_data(
        APP_JS, content_type="application/javascript")
    server.expect_request("/api/story.json").respond_with_data(json.dumps(
        {"title": "Port authority keeps terminal", "paragraphs": STORY}),
        content_type="application/json")


def feed_xml(base: str) -> str:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Ledger</title><link>{base}/</link><description>d</description>"
            f"<item><title>Port authority keeps terminal</title>"
            f"<link>{base}/news/terminal.html</link><guid>{base}/news/terminal.html</guid>"
            f"<pubDate>Mon, 02 Mar 2026 06:15:00 GMT</pubDate>"
            f"<description>Read the full story on our site.</description></item>"
            f"</channel></rss>")


@pytest.fixture
def playwright_installed() -> None:
    pytest.importorskip("playwright.async_api", reason="needs playwright (monitor[browser])")


async def test_without_chromium_a_page_is_unusable_and_says_why() -> None:
    fetcher = Fetcher(user_agent=UA)
    made = Renderer(fetcher, chromium="/nonexistent/chromium")
    try:
        with pytest.raises(FetchUnusable, match="needs Chromium at /nonexistent/chromium") as e:
            await made.render("http://127.0.0.1:9/story.html")
        assert e.value.reason == "browser"
    finally:
        await made.aclose()
        await fetcher.aclose()


@needs_chromium
@pytest.mark.usefixtures("playwright_installed")
async def test_a_javascript_only_page_is_rendered_and_alerts(
        tmp_path: Path, httpserver: HTTPServer, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    base = f"http://127.0.0.1:{httpserver.port}"
    httpserver.expect_request("/feed.xml").respond_with_data(
        feed_xml(base), content_type="application/rss+xml")
    serve_js_story(httpserver)
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = write_config(tmp_path, news, None, hook, extra_monitor=f'user_agent = "{UA}"',
                        feeds=f'[[feeds]]\nname = "Ledger"\nurl = "{base}/feed.xml"\n'
                              'render = "browser"\nheaders = { "X-Source" = "ledger" }\n')
    daemon = Daemon(load(str(path)), str(path))
    try:
        await daemon.run_once()
    finally:
        await daemon.close()
    [body] = hook.bodies()
    assert body["rule"]["name"] == "dpa" and body["article"]["partial"] is False
    assert "Defense Production Act" in body["matches"][0]["snippets"][0]
    # the script's own request went out through the fetcher: its user agent, not Chromium's
    [api] = [r for r, _ in httpserver.log if r.path == "/api/story.json"]
    assert api.headers["User-Agent"] == UA and api.headers["X-Source"] == "ledger"


class Resolver:
    """A fake DNS: ``intranet.test`` is a private address; nothing else resolves."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return {"intranet.test": ["10.0.0.1"]}[host]


@pytest.fixture
def loopback_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard's test setting: loopback, where the test server is, counts as public, so
    the page is fetched on the guarded path and every other address meets the real rule."""
    real = netguard.is_public
    monkeypatch.setattr(netguard, "is_public", lambda addr: addr.is_loopback or real(addr))


@pytest.fixture
async def renderer() -> AsyncIterator[tuple[Renderer, Resolver]]:
    resolver = Resolver()
    fetcher = Fetcher(user_agent=UA, resolver=resolver)  # guarded: private networks refused
    made = Renderer(fetcher, pages=1, deadline=30.0)
    yield made, resolver
    await made.aclose()
    await fetcher.aclose()


@needs_chromium
@pytest.mark.usefixtures("playwright_installed", "loopback_is_public")
async def test_the_browsers_requests_to_private_addresses_are_aborted(
        httpserver: HTTPServer, renderer: tuple[Renderer, Resolver]) -> None:
    made, resolver = renderer
    httpserver.expect_request("/probe.html").respond_with_data(
        '<html><body><h1>Probe</h1><div id="results"></div>'
        '<script src="/probe.js"></script></body></html>', content_type="text/html")
    httpserver.expect_request("/probe.js").respond_with_data(
        PROBE_JS, content_type="application/javascript")
    result = await made.render(f"http://127.0.0.1:{httpserver.port}/probe.html")
    text = result.content.decode()
    assert "http://10.0.0.1:8080/secret refused" in text
    assert "http://intranet.test/secret refused" in text
    assert "socket closed" in text
    assert sorted(made.blocked) == ["http://10.0.0.1:8080/secret", "http://intranet.test/secret"]
    assert resolver.asked == ["intranet.test"]  # decided on its address, never dialled


@needs_chromium
@pytest.mark.usefixtures("playwright_installed")
async def test_a_page_at_a_private_address_is_refused_before_the_browser_loads_it(
        renderer: tuple[Renderer, Resolver]) -> None:
    made, _ = renderer
    with pytest.raises(FetchBlocked):
        await made.render("http://intranet.test/story.html")
    assert made.blocked == ["http://intranet.test/story.html"]


@needs_chromium
@pytest.mark.usefixtures("playwright_installed", "loopback_is_public")
async def test_a_page_past_its_deadline_is_a_timeout(httpserver: HTTPServer) -> None:
    def slow(_: Request) -> Response:
        time.sleep(2)
        return Response("document.title = 'late';", content_type="application/javascript")

    httpserver.expect_request("/slow.html").respond_with_data(
        '<html><body><p>Loading</p><script src="/slow.js"></script></body></html>',
        content_type="text/html")
    httpserver.expect_request("/slow.js").respond_with_handler(slow)
    fetcher = Fetcher(user_agent=UA)
    made = Renderer(fetcher, pages=1, deadline=0.5)
    try:
        with pytest.raises(FetchTimeout, match=r"not rendered within 0\.5s"):
            await made.render(f"http://127.0.0.1:{httpserver.port}/slow.html")
    finally:
        await made.aclose()
        await fetcher.aclose()


@needs_chromium
@pytest.mark.usefixtures("playwright_installed", "loopback_is_public")
async def test_the_rendered_dom_extracts_as_a_page(
        httpserver: HTTPServer, renderer: tuple[Renderer, Resolver]) -> None:
    made, _ = renderer
    serve_js_story(httpserver)
    url = f"http://127.0.0.1:{httpserver.port}/news/terminal.html"
    article = extract_article((await made.render(url)).content, url)
    assert article.title == "Port authority keeps terminal"
    assert article.text == "\n".join(STORY)
