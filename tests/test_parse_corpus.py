"""`monitor parse` and parse_feed on a corpus of real-world feed shapes, held against feedparser.

tests/data/feeds/corpus/ holds one feed per odd shape met in the wild: RSS 0.91 with the
Netscape DTD's entities, RSS 1.0/RDF, Atom with xml:base, JSON Feed, WordPress with CDATA
everywhere, KOI8-R, Windows-1251 (declared and not), a declaration that lies, GB2312, Latin-1
with Windows-1252 quotes, Urdu in UTF-8 and Windows-1256, UTF-16 with a BOM, broken XML, a
feed that re-dates every item and a UTF-8 WordPress feed with one stray Windows-1252 byte.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import feedparser  # type: ignore[import-untyped]
import pytest
from pytest_httpserver import HTTPServer

from monitor.daemon import Daemon, load
from monitor.sources import feed
from monitor.sources.feed import parse_feed
from monitor.sources.text import html_to_text
from monitor.testing import NewsServer, WebhookReceiver
from tests.helpers import SECRET, write_config

ROOT = Path(__file__).resolve().parent.parent
FEEDS = ROOT / "tests" / "data" / "feeds"
CORPUS = sorted((FEEDS / "corpus").iterdir())
NAMES = [p.name for p in CORPUS]
BASE = "https://corpus.example/feed"
FIELDS = {"id", "title", "link", "published", "author", "summary_chars", "summary"}

CYRILLIC = "\u0400-\u04ff"
HAN = "\u4e00-\u9fff\u3000-\u303f\uff00-\uffef"
ARABIC = "\u0600-\u06ff"
LATIN = "\u00ab\u00bb\u00c0-\u017f\u2013-\u201e"  # accented letters; « » – — ‘ ’ „ “ ”
RU_TITLE = "Правительство утвердило план развития Северного морского пути"
SCRIPTS = {
    "koi8r-russian.xml": (CYRILLIC, RU_TITLE),
    "windows1251-russian.xml": (CYRILLIC, RU_TITLE),
    "lying-utf8-is-koi8r.xml": (CYRILLIC, RU_TITLE),
    "undeclared-windows1251.xml": (CYRILLIC, RU_TITLE),
    "gb2312-chinese.xml": (HAN, "国务院常务会议部署进一步扩大内需"),
    "urdu-utf8.xml": (ARABIC, "وزیر اعظم کا ملک بھر میں نئے ہسپتال بنانے کا اعلان"),
    "urdu-windows1256.xml": (ARABIC, "وزير اعظم کا ملک بھر ميں نئے ہسپتال بنانے کا اعلان"),
    "iso88591-french.xml": (LATIN, "Grève à la SNCF : trafic très perturbé jeudi"),
    "iso88591-german-cp1252-quotes.xml": (
        LATIN, "„Wir müssen schneller werden“: Länder streiten über Schulreform"),
}


def monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=ROOT,
                          capture_output=True, text=True, encoding="utf-8", timeout=60)


def feedparser_view(content: bytes) -> Any:
    headers = {"content-type": "application/xml"}
    return feedparser.parse(io.BytesIO(content), response_headers=headers, sanitize_html=False,
                            resolve_relative_uris=False)


def expected_count(path: Path) -> int:
    """Items with a link, title or content, as feedparser (or the JSON Feed itself) has them."""
    if path.suffix == ".json":
        return len(json.loads(path.read_bytes())["items"])
    return sum(1 for t in feedparser_view(path.read_bytes()).entries
               if t.get("link") or t.get("title") or t.get("summary"))


@pytest.mark.parametrize("path", [p for p in CORPUS if p.suffix != ".json"],
                         ids=[n for n in NAMES if not n.endswith(".json")])
def test_entries_include_feedparsers(path: Path) -> None:
    content = path.read_bytes()
    ours = parse_feed(content, BASE).entries
    theirs = feedparser_view(content)
    keys = {e.key for e in ours} | {e.url for e in ours}
    missing = [t for t in theirs.entries if (t.get("id") or urljoin(BASE, t.get("link", "")))
               not in keys]
    assert theirs.entries and not missing
    if "encoding" not in type(theirs.get("bozo_exception")).__name__.lower():
        titles = {" ".join(html_to_text(t.get("title", "")).split()) for t in theirs.entries}
        assert titles <= {e.title for e in ours}


@pytest.mark.parametrize("path", CORPUS, ids=NAMES)
def test_max_items_keeps_the_first_entries(path: Path) -> None:
    content = path.read_bytes()
    everything = parse_feed(content, BASE).entries
    assert parse_feed(content, BASE, max_items=2).entries == everything[:2]


@pytest.mark.parametrize("path", [p for p in CORPUS if p.suffix != ".json"],
                         ids=[n for n in NAMES if not n.endswith(".json")])
def test_feedparser_gets_the_documents_own_bytes(path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bytes] = []
    real = feedparser.parse

    def spy(stream: io.BytesIO, **options: Any) -> Any:
        seen.append(stream.getvalue())
        return real(stream, **options)

    monkeypatch.setattr(feed.feedparser, "parse", spy)
    parse_feed(path.read_bytes(), BASE, fast=False)  # the fast path: test_feed_fastpath.py
    assert seen == [path.read_bytes().lstrip(b"\xef\xbb\xbf \t\r\n")]


@pytest.mark.parametrize("path", CORPUS, ids=NAMES)
def test_monitor_parse_prints_every_entry(path: Path) -> None:
    result = monitor("parse", str(path))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0, result.stderr
    assert len(lines) == expected_count(path)
    assert all(set(line) == FIELDS and len(line["summary"]) <= 200 for line in lines)
    if path.name.startswith(("broken-", "rss091-")):  # the Netscape entities are undefined
        assert re.fullmatch(r"monitor: warning: not well-formed XML: .+\n", result.stderr)
    else:
        assert result.stderr == ""
    if path.name in SCRIPTS:
        script, first_title = SCRIPTS[path.name]
        assert lines[0]["title"] == first_title
        for line in lines:
            text = line["title"] + line["summary"] + line["author"]
            assert re.search(f"[{script}]", line["title"])
            assert re.fullmatch(f"[\\x20-\\x7e\\n{script}]*", text), text


def test_monitor_parse_keeps_a_stray_byte_in_its_own_item() -> None:
    path = FEEDS / "corpus" / "wordpress-utf8-stray-byte.xml"  # one 0x92 in item 3's text
    assert path.read_bytes().count(b"\x92") == 1
    result = monitor("parse", str(path))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert (result.returncode, result.stderr) == (0, "")
    assert [line["title"] for line in lines] == [
        "Café owners say “enough” to the rent rise on Rue Saint‑Honoré",
        "Naïve or brave? The mayor’s plan for the Grève district",
        "Storm closes the school in Élancourt — classes resume Monday",
        "Zoë Müller wins the regional chess title in Genève",
        "“We’ll rebuild”: the bakery on Kölner Straße reopens"]
    assert [line["author"] for line in lines] == ["élodie", "josé", "maria", "françois", "maria"]
    assert lines[2]["summary"] == ("The head teacher said the pupils\ufffd parents were told"
                                   " at 7 a.m.")
    text = "".join(str(value) for line in lines for value in line.values())
    assert text.count("\ufffd") == 1


async def test_the_daemon_alerts_with_the_titles_of_a_feed_with_a_stray_byte(
        tmp_path: Path, httpserver: HTTPServer, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = FEEDS / "corpus" / "wordpress-utf8-stray-byte.xml"
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/feed/").respond_with_data(
        path.read_bytes().replace(b"https://echo.example", base.encode()),
        content_type="application/rss+xml; charset=UTF-8")
    # no usable page: the alerts carry the feed items' own titles and text
    httpserver.expect_request(re.compile("^/2026/")).respond_with_data(
        "<html><body><p>Moved.</p></body></html>", content_type="text/html")
    config = write_config(tmp_path, news, None, hook, feeds=f"""
[[feeds]]
name = "Echo"
url = "{base}/feed/"
""", watches="""
[[watch]]
name = "geneve"
query = 'Genève OR pupils'
channels = CHANNELS
""")
    daemon = Daemon(load(str(config)), str(config))
    try:
        await daemon.run_once()
        for _ in range(50):
            if len(hook.received) >= 2:
                break
            await asyncio.sleep(0.1)
    finally:
        await daemon.close()
    bodies = sorted(hook.bodies(), key=lambda b: b["article"]["url"])
    articles = [b["article"] for b in bodies]
    assert [a["title"] for a in articles] == [
        "Storm closes the school in Élancourt — classes resume Monday",
        "Zoë Müller wins the regional chess title in Genève"]
    assert [a["url"] for a in articles] == [f"{base}/2026/03/post-503/",
                                            f"{base}/2026/03/post-504/"]
    assert [a["author"] for a in articles] == ["maria", "françois"]
    assert bodies[0]["matches"][0]["snippets"] == [
        "The head teacher said the pupils\ufffd parents were told at 7 a.m."]


def test_monitor_parse_reads_a_feed_over_http_in_its_http_charset(httpserver: HTTPServer) -> None:
    content = (FEEDS / "http-charset-czech.xml").read_bytes()  # no declaration, ISO-8859-2
    httpserver.expect_request("/rss").respond_with_data(
        content, content_type="application/rss+xml; charset=iso-8859-2")
    result = monitor("parse", httpserver.url_for("/rss"))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert (result.returncode, result.stderr) == (0, "")
    assert [line["title"] for line in lines] == [
        "Vláda schválila rozpočet na příští rok", "Meteorologové varují před silným větrem",
        "Žáci se vrátí do škol v pondělí"]
    assert lines[0]["link"] == "https://zpravy-cz.example/clanek/1"


def test_monitor_parse_exit_codes(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/page").respond_with_data(
        "<!DOCTYPE html><html><body><p>News</p></body></html>", content_type="text/html")
    empty = tmp_path / "empty.xml"
    empty.write_text('<rss version="2.0"><channel><title>Quiet</title></channel></rss>')
    page = monitor("parse", httpserver.url_for("/page"))
    assert (page.returncode, page.stdout) == (2, "")
    assert page.stderr == ("monitor: not a feed: looks like an HTML page; try `monitor discover "
                           f"{httpserver.url_for('/page')}` to find its feeds\n")
    nothing = monitor("parse", str(empty))
    assert (nothing.returncode, nothing.stdout, nothing.stderr) == (1, "", "")
    missing = monitor("parse", str(tmp_path / "nope.xml"))
    assert (missing.returncode, missing.stderr.count("\n")) == (2, 1)
    assert "cannot read" in missing.stderr and "Traceback" not in missing.stderr
