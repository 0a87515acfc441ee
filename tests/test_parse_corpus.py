"""`monitor parse` and parse_feed on a corpus of real-world feed shapes, held against feedparser.

tests/data/feeds/corpus/ holds one feed per odd shape met in the wild: RSS 0.91 with the
Netscape DTD's entities, RSS 1.0/RDF, Atom with xml:base, JSON Feed, WordPress with CDATA
everywhere, KOI8-R, Windows-1251 (declared and not), a declaration that lies, GB2312, Latin-1
with Windows-1252 quotes, Urdu in UTF-8 and Windows-1256, UTF-16 with a BOM, broken XML and
a feed that re-dates every item.
"""

from __future__ import annotations

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

from monitor.sources import feed
from monitor.sources.feed import parse_feed
from monitor.sources.text import html_to_text

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
    parse_feed(path.read_bytes(), BASE)
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
