"""Article pages -> Article: the main text and metadata of a page, by trafilatura.

``extract_article`` is pure (bytes in, Article out, no I/O) and deterministic: trafilatura's
duplicate cache is off, so a page extracts the same however often it is seen. ``Extractor``
runs it in worker processes so the event loop never blocks on lxml, with a deadline and a
memory bound per page.

Modes were chosen by measurement (``bench/extract.py`` over ``tests/data/pages``):
``favor_precision`` because boilerplate that leaks into the text (related headlines, promos)
turns into false alerts, and it cost no recall there; ``fast`` off because the fallback
extractors it skips guard recall: on 181 real news pages it saves a third of the time but
F1 falls from 0.966 to 0.946 (recall 0.971 to 0.946); tables kept, since a layout table or
a results table can hold the article itself (without them F1 0.942 in fast mode).
The page goes to trafilatura as fetched: its bytes are never rewritten before parsing. A
regex cut of comments, styles and scripts first (``bench/_prestrip.py``) saved only 3-5%
of the time on 181 real news pages (``bench/extract.py --real``) and changed one page's
date, so it was dropped.

When the feed entry gives the date, trafilatura's ``with_metadata`` pass is skipped: it
guesses the date with htmldate and looks for categories, tags, a licence and the site
name, about a quarter of an extraction on those 181 pages, all thrown away then. The page
is parsed once (``parse_html``: the tree trafilatura's loader would build, from the bytes)
and monitor reads the title and author off that tree (meta tags, JSON-LD, headings).
Without an entry's date the page goes to trafilatura as before, the whole pass included.
``bench/compare.py`` measures both.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import lxml.etree  # type: ignore[import-untyped]
import lxml.html  # type: ignore[import-untyped]
import trafilatura
from lxml.html import HtmlElement
from trafilatura.metadata import examine_meta, extract_author, extract_meta_json, extract_title
from trafilatura.settings import Document
from trafilatura.utils import HTML_PARSER, load_html

from monitor.errors import ExtractError
from monitor.extractpool import WORKER_NICENESS as WORKER_NICENESS  # tests, bench
from monitor.extractpool import WorkerError, WorkerPool
from monitor.models import Article, Entry

FAVOR_PRECISION = True
FAST = False
INCLUDE_TABLES = True
MIN_TEXT_CHARS = 50  # shorter "articles" are app shells, consent walls or error stubs

_HTML_SNIFF = re.compile(
    rb"<(?:!doctype|html|head|body|p|div|article|main|section|span|table|title|meta|h[1-6]|br"
    rb"|a|script|style|ul|li|font)[\s>/]", re.IGNORECASE)
_HTML_LANG = re.compile(rb"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})\b", re.IGNORECASE)


def extract_article(content: bytes, url: str, *, entry: Entry | None = None, source: str = "",
                    favor_precision: bool = FAVOR_PRECISION, fast: bool = FAST) -> Article:
    """The article in a fetched page (HTML, or plain text).

    Title and author come from the page, falling back to the feed ``entry``'s (a page's
    author is searched for beyond its meta tags and JSON-LD only when the entry names
    none). The date is the entry's when it has one: a feed states it to the second, while
    the page's date is a guess by htmldate, to the day (it reads ``/2026/02/`` in a URL as
    2026-02-01), so htmldate runs only for an entry without a date, or no entry.
    The page's bytes go to trafilatura as fetched: nothing is cut or rewritten before it
    parses them. Raises ExtractError when the page yields no usable text.
    """
    head = content[:65536]
    if b"\x00" in head[:1024] or head.startswith(b"%PDF"):
        raise ExtractError(f"not an HTML or text document: {url or 'input'}")
    if not _HTML_SNIFF.search(head):
        return _with_entry(article_from_text(_decode(content), url, source), entry)
    options: dict[str, Any] = {
        "url": url or None, "fast": fast, "favor_precision": favor_precision,
        "include_comments": False, "include_tables": INCLUDE_TABLES, "include_images": False,
        "include_links": False, "deduplicate": False}
    try:
        if entry is None or entry.published is None:  # the page's date is wanted: the whole
            doc = trafilatura.bare_extraction(content, with_metadata=True, **options)  # pass
            title, author, day = ((doc.title or "", doc.author or "", doc.date)
                                  if isinstance(doc, Document) else ("", "", None))
        else:
            tree = parse_html(content)  # once, for the metadata and the extraction
            if tree is None:
                raise ExtractError(f"no usable text in {url or 'input'}")
            title, author = _page_title_author(tree, entry)
            day = None
            doc = trafilatura.bare_extraction(tree, with_metadata=False, **options)
    except (ValueError, TypeError, lxml.etree.LxmlError, RecursionError) as e:
        raise ExtractError(f"extraction failed for {url or 'input'}: {e}") from e
    text = (doc.text or "").strip() if isinstance(doc, Document) else ""
    if not isinstance(doc, Document) or len(text) < MIN_TEXT_CHARS:
        raise ExtractError(f"no usable text in {url or 'input'}")
    title = _one_line(title)
    match = _HTML_LANG.search(head)
    article = Article(url=url, title=title, text=_drop_title(text, title), author=author,
                      published=_page_date(day),
                      language=match[1].decode().lower() if match else None, source=source)
    return _with_entry(article, entry)


# What trafilatura's loader (load_html) changes in the decoded text before parsing it:
# control characters it deletes (lxml would make each a U+FFFD), a doctype it trims.
_CONTROL_BYTES = bytes(range(0x09)) + b"\x0b\x0c" + bytes(range(0x0e, 0x20))
_DOCTYPE_REPAIR = re.compile(rb"< ?! ?DOCTYPE[^>]*/[^<>]*>", re.IGNORECASE)


def parse_html(content: bytes) -> HtmlElement | None:
    """The page's tree, the one trafilatura's loader builds, parsed from the bytes as fetched.

    The loader decodes the bytes to text, repairs the text and has lxml parse it (lxml then
    encodes it back). For a UTF-8 page its repairs would leave as it is (no control
    characters, no doctype or self-closing ``<html/>`` it rewrites, not compressed) the tree
    is the same when lxml parses the bytes with the loader's own parser, in about half the
    time (``tests/test_extract.py`` holds them equal); any other page goes to the loader.
    """
    if (content.lstrip()[:1] != b"<" or b"html" not in content[:50].lower()
            or _DOCTYPE_REPAIR.match(content.partition(b"\n")[0])
            or len(content.translate(None, _CONTROL_BYTES)) != len(content)):  # a C loop
        return load_html(content)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return load_html(content)
    if "\ufffe" in text or "\uffff" in text:  # noncharacters the loader deletes too
        return load_html(content)
    head = text[:4096]  # the loader's first lines
    if any("<html" in line and line.endswith("/>") for line in head.splitlines()[:4]):
        return load_html(content)
    tree = lxml.html.fromstring(content, parser=HTML_PARSER)
    return tree if tree is not None and len(tree) >= 1 else load_html(content)


def _page_title_author(tree: HtmlElement, entry: Entry) -> tuple[str, str]:
    """The page's title and author, read off the parsed tree, for an entry that has a date.

    Only what is kept is read: the title (meta tags, JSON-LD, else the page's headings) and
    the author (meta tags, JSON-LD, else, when the entry names none, trafilatura's search of
    the page), as trafilatura's metadata pass reads them; the date, categories, tags,
    licence and site name that pass would also find are skipped, since the entry's date wins
    and the rest is unused. The tree is only read, never changed.
    """
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:  # as extract_metadata: one word is no name
        meta.author = None
    meta = extract_meta_json(tree, meta)
    meta.title = meta.title or extract_title(tree)
    if not meta.author and not entry.author:
        meta.author = extract_author(tree)
    meta.clean_and_trim()
    return meta.title or "", meta.author or ""


MAX_TITLE_CHARS = 150


def article_from_text(text: str, url: str = "", source: str = "") -> Article:
    """An article from plain text: a short first line is the title, the rest the text.

    A first line longer than ``MAX_TITLE_CHARS`` is a paragraph, not a headline: then the
    whole text is the body and the title is empty.
    """
    lines = text.replace("\r\n", "\n").lstrip("\ufeff \t\n").split("\n", 1)
    title = _one_line(lines[0])
    if not title:
        raise ExtractError(f"empty text: {url or 'input'}")
    if len(title) > MAX_TITLE_CHARS:  # the text as it is, so spans are file offsets
        return Article(url=url, title="", text=text, source=source)
    return Article(url=url, title=title, text=lines[1].strip() if len(lines) > 1 else "",
                   source=source)


def article_from_entry(entry: Entry, source: str) -> Article:
    """The fallback when the page is unusable: the feed item's own title and content."""
    return Article(url=entry.url, title=entry.title, text=entry.summary, author=entry.author,
                   published=entry.published, source=source, from_feed=True)


def _with_entry(article: Article, entry: Entry | None) -> Article:
    if entry is None:
        return article
    return replace(article, url=article.url or entry.url, title=article.title or entry.title,
                   author=article.author or entry.author,
                   published=entry.published or article.published)


def _page_date(value: str | None) -> datetime | None:
    try:
        day = date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


def _drop_title(text: str, title: str) -> str:
    first, _, rest = text.partition("\n")
    return rest.lstrip() if title and _one_line(first) == title and rest.strip() else text


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


class Extractor:
    """Runs ``extract_article`` in worker processes, so extraction never blocks the event loop.

    Each page gets ``deadline`` seconds and its worker at most ``memory_mb`` of memory: a
    page over either raises ExtractError (the pipeline then falls back to the feed's text)
    and only its worker is replaced (``monitor.extractpool``). A page whose worker dies
    also raises ExtractError. Workers start on first use, with trafilatura imported.
    """

    def __init__(self, workers: int | None = None, *, deadline: float = 20.0,
                 memory_mb: int = 1024) -> None:
        self.workers = workers or min(2, os.cpu_count() or 1)
        self._pool: WorkerPool[Article] = WorkerPool(
            self.workers, deadline=deadline, memory_mb=memory_mb,
            preload=["monitor.extractprelude", __name__])

    async def extract(self, content: bytes, url: str, *, entry: Entry | None = None,
                      source: str = "") -> Article:
        """``extract_article`` in a worker process."""
        call = functools.partial(extract_article, content, url, entry=entry, source=source)
        try:
            return await self._pool.run(call)
        except WorkerError as e:
            raise ExtractError(f"extraction of {url or 'input'} failed: {e}") from e

    def worker_pids(self) -> tuple[int, ...]:
        """Process ids of the live workers (for metrics and tests); empty before first use."""
        return self._pool.pids()

    def close(self) -> None:
        """Stop the workers; a later ``extract`` starts new ones."""
        self._pool.close()
