"""monitor.extract: golden news pages, plain text, fallbacks and the process pool."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lxml.etree  # type: ignore[import-untyped]
import pytest
import trafilatura
import trafilatura.core
import trafilatura.utils

from monitor import extract
from monitor.errors import ExtractError
from monitor.extract import (
    WORKER_NICENESS,
    Extractor,
    article_from_entry,
    article_from_text,
    extract_article,
)
from monitor.models import Entry

PAGES = Path(__file__).parent / "data" / "pages"
SEED = Path(__file__).parent.parent / "seeds" / "ap-2026-02-26-anthropic-pentagon.txt"
SLUGS = sorted(p.name.removesuffix(".expected.json") for p in PAGES.glob("*.expected.json"))
SEED_PAGE = "ap-anthropic-pentagon"


def page(slug: str) -> bytes:
    return (PAGES / f"{slug}.html").read_bytes()


def expected(slug: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAGES / f"{slug}.expected.json").read_text("utf-8"))
    return data


def flat(text: str) -> str:
    """Words only: table cells come out between "|" separators."""
    return " ".join(re.findall(r"[^\s|]+", text))


@pytest.fixture(scope="module")
def extracted() -> dict[str, Any]:
    return {slug: extract_article(page(slug), f"https://news.example/{slug}") for slug in SLUGS}


def test_there_are_about_ten_golden_pages() -> None:
    assert len(SLUGS) >= 10 and SEED_PAGE in SLUGS


@pytest.mark.parametrize("slug", SLUGS, ids=SLUGS)
def test_golden_page_text(slug: str, extracted: dict[str, Any]) -> None:
    article, want = extracted[slug], expected(slug)
    missing = [s for s in want["key_sentences"] if s not in article.text]
    leaked = [s for s in want["boilerplate"] if s in article.text]
    assert (missing, leaked) == ([], [])
    paragraphs = [flat(p) for p in want["text"].split("\n")]
    kept = [p for p in paragraphs if p in flat(article.text)]
    assert len(kept) >= 0.9 * len(paragraphs)


@pytest.mark.parametrize("slug", SLUGS, ids=SLUGS)
def test_golden_page_metadata(slug: str, extracted: dict[str, Any]) -> None:
    article, want = extracted[slug], expected(slug)
    assert article.title == want["title"]
    assert not article.text.startswith(want["title"])  # the headline is not repeated
    assert article.language == "en"
    if want["published"]:
        assert article.published == datetime.fromisoformat(want["published"]).replace(tzinfo=UTC)


@pytest.mark.parametrize("entry", [None, Entry(key="k", url="https://news.example/ap",
                                              published=datetime(2026, 2, 26, tzinfo=UTC))],
                         ids=["no-entry-bytes", "dated-entry-one-parse"])
def test_trafilatura_gets_the_page_as_fetched(monkeypatch: pytest.MonkeyPatch,
                                              entry: Entry | None) -> None:
    """Nothing is cut or rewritten before the parser: scripts, comments and all. Without a
    dated entry trafilatura gets the bytes; with one, the page is parsed once and that tree
    is what trafilatura extracts from."""
    parsed: list[bytes] = []
    handed: list[Any] = []
    real_load, real_extract = extract.parse_html, trafilatura.bare_extraction

    def load_spy(content: bytes) -> Any:
        parsed.append(content)
        return real_load(content)

    def extract_spy(content: Any, **options: Any) -> Any:
        handed.append(content)
        return real_extract(content, **options)

    monkeypatch.setattr(extract, "parse_html", load_spy)
    monkeypatch.setattr(trafilatura, "bare_extraction", extract_spy)
    html = page("ap-anthropic-pentagon")
    assert b"<script" in html and b"<style" in html
    extract_article(html, "https://news.example/ap", entry=entry)
    if entry is None:
        assert (parsed, handed) == ([], [html])
    else:
        assert parsed == [html]
        assert len(handed) == 1 and not isinstance(handed[0], bytes | str)
        assert handed[0].find(".//script") is not None and handed[0].find(".//style") is not None


ODD_PAGES = {  # pages trafilatura's loader repairs, decodes otherwise or rejects
    "control-chars": b"<html><body><p>Text\x0bwith\x1f controls.</p></body></html>",
    "cp1252": "<html><head><meta charset='windows-1252'></head><body><p>Caf\u00e9 "
              "cr\u00e8me \u2013 na\u00efve</p></body></html>".encode("cp1252"),
    "xhtml-doctype": b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
                     b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
                     b"<html><body><p>Strict.</p></body></html>",
    "self-closed-html": b'<html lang="en"/>\n<body><p>Odd root.</p></body>',
    "bom": b"\xef\xbb\xbf<html><body><p>With a byte order mark.</p></body></html>",
    "xml-declaration": b'<?xml version="1.0" encoding="utf-8"?>\n<html><body><p>X</p>'
                       b"</body></html>",
    "gzip": gzip.compress(b"<html><body><p>Compressed page.</p></body></html>"),
    "fragment": b"<p>Just a paragraph, no html element.</p>",
    "noncharacter": "<html><body><p>a\ufffeb</p></body></html>".encode(),
    "utf8": "<html><body><p>Z\u00fcrich, \u6771\u4eac, \U0001f600</p></body></html>".encode(),
}


@pytest.mark.parametrize("content", [*(page(f.name.removesuffix(".html"))
                                       for f in sorted(PAGES.glob("*.html"))),
                                     *ODD_PAGES.values()],
                         ids=[*(f.name for f in sorted(PAGES.glob("*.html"))), *ODD_PAGES])
def test_parse_html_builds_the_tree_trafilaturas_loader_builds(content: bytes) -> None:
    mine, theirs = extract.parse_html(content), trafilatura.utils.load_html(content)
    assert (mine is None) == (theirs is None)
    if mine is not None:
        assert lxml.etree.tostring(mine) == lxml.etree.tostring(theirs)


def test_a_plain_utf8_page_is_parsed_from_its_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    loads = _count_calls(monkeypatch, "load_html")
    extract.parse_html(page(SEED_PAGE))
    assert loads == []
    extract.parse_html(ODD_PAGES["cp1252"])
    assert loads == [1]


def test_seed_page_has_the_defense_production_act_sentences(extracted: dict[str, Any]) -> None:
    article = extracted[SEED_PAGE]
    seed_lines = SEED.read_text("utf-8").splitlines()
    dpa = [line.strip() for line in seed_lines if "Defense Production Act" in line]
    assert len(dpa) == 2
    assert all(sentence in article.text for sentence in dpa)
    assert article.title == ("Anthropic says it cannot in good conscience accede to "
                             "Pentagon's demands")
    assert article.published == datetime(2026, 2, 26, tzinfo=UTC)
    assert not article.from_feed


def test_extraction_is_deterministic() -> None:
    first = extract_article(page(SEED_PAGE), "https://news.example/a")
    assert [extract_article(page(SEED_PAGE), "https://news.example/a") for _ in range(3)] == [
        first] * 3


ENTRY = Entry(key="k1", url="https://news.example/entry", title="Feed title",
              summary="Feed summary text.", author="Feed Author",
              published=datetime(2026, 2, 2, 18, 30, tzinfo=UTC))
BARE = ("<html><body><main><div><p>" + "A plain paragraph of article text. " * 8 + "</p><p>"
        + "Another paragraph with different words in it. " * 8 + "</p></div></main></body></html>"
        ).encode()


@pytest.mark.parametrize(("content", "field", "value"), [
    (BARE, "title", "Feed title"),
    (BARE, "author", "Feed Author"),
    (BARE, "published", ENTRY.published),
    (page("bakery-closes"), "published", ENTRY.published),
    (page(SEED_PAGE), "title", expected(SEED_PAGE)["title"]),
    (page(SEED_PAGE), "author", "The Associated Press"),
], ids=["title-from-entry", "author-from-entry", "date-from-entry", "entry-date-beats-page",
        "page-title-wins", "page-author-wins"])
def test_entry_fills_what_the_page_lacks(content: bytes, field: str, value: object) -> None:
    article = extract_article(content, "https://news.example/a", entry=ENTRY, source="Wire")
    assert (getattr(article, field), article.source) == (value, "Wire")


RAIL_TEXT = "The council voted on the new light rail line after a debate about costs. " * 5
BYLINE_ONLY = (  # an author in the page's byline, in no meta tag or JSON-LD
    '<html lang="en"><head><title>Rail vote</title></head><body><article><h1>Rail vote</h1>'
    '<p class="byline">By <a rel="author" class="author" href="/jane">Jane Roe</a></p>'
    f"<p>{RAIL_TEXT}</p></article></body></html>").encode()


def _count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(extract, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(extract, name, spy)
    return calls


def test_an_entry_with_a_date_skips_the_page_date_search_and_changes_no_text(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The feed's date wins, so htmldate's search of the page (trafilatura's full metadata
    pass) is not run; the title and text are those of an extraction without the entry."""
    full_passes: list[int] = []
    real = trafilatura.core.extract_metadata

    def spy(*args: Any, **kwargs: Any) -> Any:
        full_passes.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(trafilatura.core, "extract_metadata", spy)
    slugs = sorted(f.name.removesuffix(".expected.json") for f in PAGES.glob("*.expected.json"))
    alone = [extract_article(page(s), "https://news.example/a") for s in slugs]
    assert len(full_passes) == len(slugs)
    with_entry = [extract_article(page(s), "https://news.example/a", entry=ENTRY) for s in slugs]
    assert len(full_passes) == len(slugs)  # none more
    assert [(a.title, a.text) for a in with_entry] == [(a.title, a.text) for a in alone]
    assert {a.published for a in with_entry} == {ENTRY.published}


@pytest.mark.parametrize(("entry_author", "author", "searched"), [
    ("", "Jane Roe", 1),
    ("Feed Author", "Feed Author", 0),
], ids=["entry-without-author-page-searched", "entry-author-spares-the-search"])
def test_the_page_is_searched_for_an_author_only_when_the_entry_names_none(
        monkeypatch: pytest.MonkeyPatch, entry_author: str, author: str, searched: int) -> None:
    searches = _count_calls(monkeypatch, "extract_author")
    entry = Entry(key="k", url="https://news.example/rail", title="Feed title",
                  author=entry_author, published=ENTRY.published)
    article = extract_article(BYLINE_ONLY, "https://news.example/rail", entry=entry)
    assert (article.title, article.author, len(searches)) == ("Rail vote", author, searched)
    assert article.text.startswith("The council voted")


@pytest.mark.parametrize(("content", "message"), [
    (page("no-text"), "no usable text"),
    (b"<html><body><nav><a href='/'>Home</a></nav><p>Too short.</p></body></html>",
     "no usable text"),
    (b"", "empty text"),
    (b"   \n\n  ", "empty text"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "not an HTML or text document"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not an HTML or text document"),
], ids=["app-shell", "too-short", "empty", "blank", "pdf", "png"])
def test_unusable_input_raises_extract_error(content: bytes, message: str) -> None:
    with pytest.raises(ExtractError, match=message):
        extract_article(content, "https://news.example/a")


@pytest.mark.parametrize(("text", "title", "body"), [
    ("Headline here\nFirst paragraph.\n\nSecond.", "Headline here", "First paragraph.\n\nSecond."),
    ("\ufeff\n\n  Spaced   headline \r\nBody\r\n", "Spaced headline", "Body"),
    ("Only a title", "Only a title", ""),
], ids=["simple", "bom-crlf-blank-lines", "single-line"])
def test_article_from_text(text: str, title: str, body: str) -> None:
    article = article_from_text(text, url="file:///tmp/a.txt", source="cli")
    assert (article.title, article.text, article.url, article.source) == (
        title, body, "file:///tmp/a.txt", "cli")


def test_text_file_bytes_take_the_plain_text_path() -> None:
    data = SEED.read_bytes()
    article = extract_article(data, "file:///seed.txt")
    assert article.title == ""  # its first line is a paragraph, not a headline
    assert article.text.startswith(" date 2026-02-26 Anthropic CEO Dario Amodei")
    assert "invoke a Cold War-era law called the Defense Production Act" in article.text


def test_cp1252_text_is_decoded() -> None:
    article = extract_article("Caf\xe9 closes\nThe caf\xe9 on Main St.".encode("cp1252"), "")
    assert (article.title, article.text) == ("Café closes", "The café on Main St.")


def test_article_from_entry_is_marked_from_feed() -> None:
    article = article_from_entry(ENTRY, "Wire")
    assert article.from_feed
    assert (article.url, article.title, article.text, article.author, article.published,
            article.source) == (ENTRY.url, ENTRY.title, ENTRY.summary, ENTRY.author,
                                ENTRY.published, "Wire")


@pytest.fixture
async def extractor() -> Any:
    pool = Extractor(workers=1)
    yield pool
    pool.close()


async def test_extractor_runs_in_worker_processes(extractor: Extractor) -> None:
    assert extractor.worker_pids() == ()
    slugs = SLUGS[:4]
    articles = await asyncio.gather(*(extractor.extract(page(s), f"https://news.example/{s}")
                                      for s in slugs))
    assert [a.title for a in articles] == [expected(s)["title"] for s in slugs]
    assert extractor.worker_pids() and os.getpid() not in extractor.worker_pids()


async def test_workers_run_nicer_than_the_daemon(extractor: Extractor) -> None:
    """When the cores are busy, the event loop goes before extraction (WORKER_NICENESS)."""
    await extractor.extract(page(SEED_PAGE), "https://news.example/a")
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert [os.getpriority(os.PRIO_PROCESS, pid) for pid in extractor.worker_pids()] == [
        min(19, ours + WORKER_NICENESS)]


async def test_extractor_passes_extract_error_through(extractor: Extractor) -> None:
    with pytest.raises(ExtractError, match="no usable text"):
        await extractor.extract(page("no-text"), "https://news.example/empty")


async def test_extractor_survives_a_killed_worker(extractor: Extractor) -> None:
    await extractor.extract(page(SEED_PAGE), "https://news.example/a")
    before = extractor.worker_pids()
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    article = await extractor.extract(page(SEED_PAGE), "https://news.example/a", entry=ENTRY)
    assert article.title == expected(SEED_PAGE)["title"]
    assert extractor.worker_pids() and not set(extractor.worker_pids()) & set(before)


async def test_extractor_restarts_after_close(extractor: Extractor) -> None:
    await extractor.extract(page(SEED_PAGE), "https://news.example/a")
    extractor.close()
    assert extractor.worker_pids() == ()
    article = await extractor.extract(page("derby-penalty"), "https://news.example/b")
    assert article.title == expected("derby-penalty")["title"]


ORPHAN = """
import asyncio, os, signal, sys
from monitor.extract import Extractor

async def main() -> None:
    pool = Extractor(workers=1)
    await pool.extract(sys.stdin.buffer.read(), "https://news.example/a")
    print(*pool.worker_pids(), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

if __name__ == "__main__":
    asyncio.run(main())
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_workers_leave_when_their_owner_is_killed() -> None:
    done = subprocess.run([sys.executable, "-c", ORPHAN], input=page(SEED_PAGE),
                          capture_output=True, timeout=60, check=False)
    pids = [int(p) for p in done.stdout.split()]
    assert done.returncode == -signal.SIGKILL and pids
    deadline = time.monotonic() + 20
    while any(map(_running, pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_running, pids))


@pytest.mark.parametrize(("text", "title", "body_start"), [
    ("Short headline\nThe body.", "Short headline", "The body."),
    (" date 2026-02-26 " + "A long first paragraph. " * 10 + "\nMore.", "", " date 2026-02-26"),
], ids=["headline", "paragraph-first"])
def test_plain_text_title_only_when_it_looks_like_one(text: str, title: str,
                                                      body_start: str) -> None:
    from monitor.extract import article_from_text

    article = article_from_text(text)
    assert article.title == title and article.text.startswith(body_start)
