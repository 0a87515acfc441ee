"""monitor.sources: one dispatcher, ``parse_source(kind, ...)``, and a feed's ``kind`` key.

A kind is one line of ``PARSERS``: the tests register a tiny one (a plain list of links) and
see it dispatched to, accepted by the config check and polled end to end by the daemon.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from monitor.daemon import Daemon, load
from monitor.errors import ConfigError
from monitor.models import Entry
from monitor.sources import PARSERS, ParsedFeed, parse_source, source_kinds
from monitor.sources.feed import parse_feed
from monitor.testing import SEED_TITLE, NewsServer, WebhookReceiver
from tests.conftest import ServeApp
from tests.helpers import SECRET, write_config

ROOT = Path(__file__).resolve().parent.parent
FEEDS = ROOT / "tests" / "data" / "feeds"
NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
URL = "https://example.org/feed"
KNOWN = ", ".join(PARSERS)  # the kinds monitor has, as its errors list them


def parse_links(content: bytes, url: str, *, content_type: str = "", max_items: int = 500,
                now: datetime | None = None, options: object = None) -> ParsedFeed:
    """A tiny source kind: one link per line, ``TITLE | URL``."""
    lines = [line.split(" | ") for line in content.decode().splitlines() if " | " in line]
    entries = tuple(Entry(key=link, url=link, title=title, published=now)
                    for title, link in lines[:max_items])
    return ParsedFeed(title=f"links ({content_type or 'no type'})", link=url, entries=entries)


@pytest.fixture
def links_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PARSERS, "links", parse_links)


# -- the dispatcher ---------------------------------------------------------------------

def test_an_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_source("gopher", b"<urlset/>", URL)
    assert str(caught.value) == f"unknown source kind 'gopher' (known kinds: {KNOWN})"


@pytest.mark.parametrize("name", ["rss20.xml", "atom.xml", "jsonfeed11.json", "bozo.xml"])
def test_feed_dispatches_to_the_feed_parser(name: str) -> None:
    content = (FEEDS / name).read_bytes()
    ours = parse_source("feed", content, URL, now=NOW)
    assert ours == parse_feed(content, URL, now=NOW)
    assert ours.entries
    one = parse_source("feed", content, URL, content_type="application/xml", max_items=1,
                       now=NOW)
    assert one.entries == ours.entries[:1]


def test_a_registered_kind_is_dispatched_to(links_kind: None) -> None:
    doc = b"One | https://example.org/1\nTwo | https://example.org/2\nThree | https://x/3\n"
    parsed = parse_source("links", doc, URL, content_type="text/plain", max_items=2, now=NOW)
    assert parsed.title == "links (text/plain)"
    assert [(e.title, e.url, e.published) for e in parsed.entries] == [
        ("One", "https://example.org/1", NOW), ("Two", "https://example.org/2", NOW)]
    assert source_kinds()[-1] == "links" and "feed" in source_kinds()


# -- the kind key -----------------------------------------------------------------------

def write(tmp_path: Path, feeds: str, top: str = "") -> Path:
    path = tmp_path / "c.toml"
    path.write_text(f'{top}[monitor]\ndatabase = "sqlite:///m.db"\n{feeds}')
    return path


def test_kind_defaults_to_feed(tmp_path: Path) -> None:
    config = load(str(write(tmp_path, '[[feeds]]\nurl = "https://example.org/rss"\n')))
    assert config.feeds[0].kind == "feed"


def test_an_unknown_kind_names_its_key_path_and_the_known_kinds(tmp_path: Path) -> None:
    (tmp_path / "more.toml").write_text('[[feeds]]\nurl = "https://example.org/b"\n'
                                        'kind = "atom"\n')
    path = write(tmp_path, '[[feeds]]\nurl = "https://example.org/a"\nkind = "feed"\n'
                 '[[feeds]]\nurl = "https://example.org/c"\nkind = "rss"\n',
                 top='include = ["more.toml"]\n')
    with pytest.raises(ConfigError) as caught:
        load(str(path))
    assert caught.value.problems == [
        f"feeds[1].kind: unknown source kind 'rss' (known kinds: {KNOWN})",
        f"more.toml: feeds[0].kind: unknown source kind 'atom' (known kinds: {KNOWN})"]


def test_monitor_check_refuses_an_unknown_kind(tmp_path: Path) -> None:
    path = write(tmp_path, '[[feeds]]\nurl = "https://example.org/a"\nkind = "rss"\n')
    result = subprocess.run([sys.executable, "-m", "monitor", "check", "-c", str(path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == ("monitor: feeds[0].kind: unknown source kind 'rss' "
                             f"(known kinds: {KNOWN})\n")


def test_a_registered_kind_is_accepted_by_the_config_check(tmp_path: Path,
                                                           links_kind: None) -> None:
    config = load(str(write(tmp_path, '[[feeds]]\nurl = "https://example.org/a"\n'
                                      'kind = "links"\n')))
    assert config.feeds[0].kind == "links"


# -- end to end: the pipeline parses each feed as its kind ------------------------------

async def test_the_daemon_polls_a_feed_as_its_kind(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, serve_app: ServeApp,
        links_kind: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A feed of kind "links" is a text file the feed parser would refuse; the daemon
    parses it with the registered parser, fetches the page it links and alerts on it."""
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    listing = f"Pentagon | {news.base}/articles/anthropic-pentagon.html\n"

    async def links(_: web.Request) -> web.Response:
        return web.Response(text=listing, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/links.txt", links)
    site = await serve_app(app)
    feeds = (f'[[feeds]]\nname = "links"\nurl = "{site}/links.txt"\nkind = "links"\n'
             f'[[feeds]]\nname = "as feed"\nurl = "{site}/links.txt?as=feed"\n')
    path = write_config(tmp_path, news, None, hook, feeds=feeds)
    daemon = Daemon(load(str(path)), str(path))
    try:
        await daemon.run_once()
        states = {f.name: f for f in daemon.services.store.feeds()}
    finally:
        await daemon.close()
    assert states["links"].state == "ok", states["links"].last_error
    assert "not a feed" in (states["as feed"].last_error or "")
    titles = {b["article"]["title"] for b in hook.bodies()}
    assert titles == {SEED_TITLE}
