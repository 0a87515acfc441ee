"""The ``feed`` source kind: RSS 0.9x/1.0/2.0 and Atom (feedparser), JSON Feed 1.0/1.1.

Pure: takes bytes and returns data. It touches no network, file or clock beyond
``now`` (an argument, defaulting to the current time).
"""

from __future__ import annotations

import hashlib
import html
import io
import itertools
import json
import re
import time
import xml.sax
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import feedparser  # type: ignore[import-untyped]
from feedparser.exceptions import NonXMLContentType  # type: ignore[import-untyped]

from monitor.config import SourceOptions
from monitor.errors import ParseError
from monitor.models import Entry
from monitor.sources.base import NO_OPTIONS, ParsedFeed
from monitor.sources.feedencoding import feed_charset
from monitor.sources.feedfast import read_fast
from monitor.sources.feedtrim import MAX_AUTHOR_CHARS, trim_document
from monitor.sources.text import html_line, html_to_text
from monitor.timeutil import utc

MAX_KEY_CHARS = 1_000  # longer guids are replaced by their hash
MAX_LANGUAGE_CHARS = 20  # a declared language tag is cut to this (the column's width)
_SY_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 604800, "monthly": 2592000,
               "yearly": 31536000}

_MAIL_NAME = re.compile(r"^\S+@\S+ \((?P<name>[^()]+)\)$")
_NAME_MAIL = re.compile(r"^(?P<name>[^@]+?) [(<]\S+@\S+[)>]$")
_HTTP_URL = re.compile(r"https?://[^\s/?#]", re.IGNORECASE)
_HTML_SNIFF = re.compile(rb"<(?:!doctype\s+html|html|head|body|div|p)[\s>]", re.IGNORECASE)


def parse_feed(content: bytes, url: str, *, content_type: str = "", max_items: int = 500,
               max_field_chars: int = 100_000, now: datetime | None = None,
               options: SourceOptions = NO_OPTIONS, publishers: bool = False,
               fast: bool = True) -> ParsedFeed:
    """Parse an RSS, Atom or JSON Feed document fetched from ``url``.

    Keeps the first ``max_items`` items and truncates any text longer than
    ``max_field_chars``. Raises ParseError when ``content`` is not a feed at all. The
    ``feed`` kind has no options of its own; ``publishers``: each entry's ``source`` is
    the title of its item's RSS ``<source>`` (an aggregator's publisher). ``fast``: let
    ``feedfast`` read the documents it is sure about (False: feedparser reads them all).
    """
    now = now or datetime.now(UTC)
    body = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body:
        raise ParseError("not a feed: empty document")
    if body.startswith(b"{") or ("json" in content_type.lower() and not body.startswith(b"<")):
        return _parse_json_feed(body, url, content_type, max_items, max_field_chars, now)
    return _parse_xml_feed(body, url, content_type, max_items, max_field_chars, now, publishers,
                           fast)


def _parse_xml_feed(content: bytes, url: str, content_type: str, max_items: int,
                    max_field_chars: int, now: datetime, publishers: bool = False,
                    fast: bool = True) -> ParsedFeed:
    """feedparser reads the document's own bytes, in the charset feed_charset decides.

    Unless ``feedfast`` reads them first, sure to give feedparser's results (``fast``).

    Entries are at least feedparser's own: the bytes change only when the document has more
    than ``max_items`` items or an author field feedparser would stall on (``feedtrim``).
    """
    charset = feed_charset(content, content_type)
    # The charset goes in as the HTTP one, which feedparser puts first (RFC 3023). No
    # content-location: feedparser would resolve guids against it ("123" -> URL), and keys
    # must not change with the feed's address. Links are resolved below instead.
    headers = {"content-type": f"application/xml; charset={charset}" if charset
               else content_type or "application/xml"}
    # None: unsure, or more than max_items items (feedtrim cuts them, then read_fast again)
    parsed = read_fast(content, charset, headers["content-type"], max_items) if fast else None
    if parsed is None:
        text = content.decode(charset or "latin-1", "replace")  # latin-1: ASCII, or undecided
        if (trimmed := trim_document(text, max_items)) is not None:  # else the bytes go as is
            content, charset = trimmed.encode(), "utf-8"
            headers["content-type"] = "application/xml; charset=utf-8"
            parsed = read_fast(content, charset, headers["content-type"]) if fast else None
        parsed = parsed or _feedparser(content, headers)
    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    warning = None if exc is None or isinstance(exc, NonXMLContentType) else _bozo_message(exc)
    feed = parsed.get("feed", {})
    inherit = _author(feed) if parsed.get("version", "").startswith("atom") else ""
    items = (_item_entry(item, url, inherit, max_field_chars, now, publishers)
             for item in parsed.get("entries", ()))
    entries = _with_language(_unique(items, max_items), _str(feed.get("language")))
    if not entries and (warning or not parsed.get("version")):
        raise ParseError(_not_a_feed(content, url, warning))
    return ParsedFeed(title=html_line(feed.get("title", "")),
                      link=_absolute(url, feed.get("link", "")), entries=entries,
                      warning=warning, ttl_seconds=_ttl_seconds(feed))


def _feedparser(content: bytes, headers: dict[str, str]) -> Any:
    try:
        return feedparser.parse(io.BytesIO(content), response_headers=headers,
                                sanitize_html=False, resolve_relative_uris=False)
    except Exception as e:  # only feedparser's own code runs here, on this document
        raise ParseError(f"cannot parse feed: feedparser failed with {e!r}") from e


def _item_entry(item: Mapping[str, Any], url: str, inherit: str, max_chars: int,
                now: datetime, publishers: bool = False) -> tuple[Entry | None, bool]:
    """The item's entry, and True when its ``url`` is made up of its id (``_made_up``): the
    entry keeps it until ``_unique`` has decided keys as it always has, then loses it."""
    contents = [c.get("value", "") for c in item.get("content", ()) if c.get("value")]
    stamp = item.get("published_parsed") or item.get("updated_parsed")
    published = _utc(stamp) if stamp else None
    entry = _make_entry(item.get("id", ""), _absolute(url, _str(item.get("link"))),
                        item.get("title", ""), contents[0] if contents else item.get("summary", ""),
                        _author(item) or inherit, published, max_chars, now, _xml_lang(item))
    entry = _with_publisher(entry, item) if publishers else entry
    if entry is None or not _made_up(item):
        return entry, False
    return (entry, True) if entry.title or entry.summary else (None, False)


def _made_up(item: Mapping[str, Any]) -> bool:
    """True when the item's link is its id, and the id is no http(s) URL.

    feedparser (and ``feedfast``) give an item with no link element its RSS ``<guid>``
    (unless ``isPermaLink="false"``) or its Atom ``<id>`` as its link. That is a link only
    when written as an absolute http(s) URL (WordPress's ``https://site/?p=123``); a
    ``<guid>42</guid>`` or an ``urn:uuid:`` id is a name, which joined to the feed's URL
    would make up a page that does not exist. A link element that happens to say the same as
    the id is among the item's ``links``, and stays a link. An Atom ``rel="self"`` link is
    the entry's own document in a feed API, never the article: it is no link here either.
    """
    link = _str(item.get("link"))
    if not link or link != item.get("id") or _HTTP_URL.match(link.strip()):
        return False
    return all(not isinstance(each, Mapping) or each.get("href") != link
               for each in item.get("links", ()))


def _with_publisher(entry: Entry | None, item: Mapping[str, Any]) -> Entry | None:
    source = item.get("source")
    name = html_line(str(source.get("title", ""))) if isinstance(source, Mapping) else ""
    return replace(entry, source=name[:MAX_AUTHOR_CHARS]) if entry and name else entry


def _utc(stamp: time.struct_time) -> datetime:
    """feedparser's ``*_parsed`` dates are struct_time in UTC."""
    return datetime(*stamp[:6], tzinfo=UTC)


def _author(node: Mapping[str, Any]) -> str:
    """The author's name: RSS gives "mail@host (Name)", feedparser's own split of it is lossy."""
    names = [a.get("name") or a.get("email", "") for a in node.get("authors", ()) if a]
    if len(names) > 1:
        return ", ".join(n for n in names if n)
    raw = " ".join(str(node.get("author", "")).split())
    match = _MAIL_NAME.match(raw) or _NAME_MAIL.match(raw)
    return match["name"] if match else raw


def _parse_json_feed(content: bytes, url: str, content_type: str, max_items: int,
                     max_chars: int, now: datetime) -> ParsedFeed:
    try:
        doc = _load_json(content, content_type)
    except (ValueError, RecursionError) as e:
        raise ParseError(f"not a feed: invalid JSON: {e}") from e
    items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not str(doc.get("version", "")).startswith(
            "https://jsonfeed.org/version/"):
        raise ParseError("not a feed: JSON without a jsonfeed.org version and items")
    inherit = _json_author(doc)
    entries = _unique(((_json_entry(i, url, inherit, max_chars, now), False)
                       for i in items[:max_items] if isinstance(i, dict)), max_items)
    entries = _with_language(entries, _str(doc.get("language")))
    return ParsedFeed(title=html_line(_str(doc.get("title"))),
                      link=_absolute(url, _str(doc.get("home_page_url"))), entries=entries)


def _load_json(content: bytes, content_type: str) -> Any:
    try:
        return json.loads(content)  # UTF-8, -16 or -32, as RFC 8259 asks
    except UnicodeDecodeError:  # else its HTTP or sniffed charset
        return json.loads(content.decode(feed_charset(content, content_type) or "latin-1",
                                         "replace"))


def _json_entry(item: dict[str, Any], url: str, inherit: str, max_chars: int,
                now: datetime) -> Entry | None:
    link = _str(item.get("url")) or _str(item.get("external_url"))
    content = (_str(item.get("content_html")) or html.escape(_str(item.get("content_text")))
               or html.escape(_str(item.get("summary"))))
    published = _parse_date(_str(item.get("date_published")) or _str(item.get("date_modified")))
    return _make_entry(_str(item.get("id")), _absolute(url, link), _str(item.get("title")),
                       content, _json_author(item) or inherit, published, max_chars, now,
                       _str(item.get("language")))


def _json_author(node: dict[str, Any]) -> str:
    authors = node.get("authors")
    if not isinstance(authors, list):
        authors = [node.get("author")]
    return ", ".join(_str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name"))


def _make_entry(key: str, link: str, title: str, content: str, author: str,
                published: datetime | None, max_chars: int, now: datetime,
                language: str = "") -> Entry | None:
    title = html_line(title[:max_chars])
    summary = html_to_text(content[:max_chars])
    if not (link or title or summary):
        return None
    key = key.strip() or link or _hash_key(title + "\n" + summary)
    if len(key) > MAX_KEY_CHARS:
        key = _hash_key(key)
    return Entry(key=key, url=link, title=title, summary=summary,
                 author=html_line(author[:MAX_AUTHOR_CHARS]),
                 published=min(published, now) if published else None,
                 language=language.strip()[:MAX_LANGUAGE_CHARS] or None)


def _xml_lang(item: Mapping[str, Any]) -> str:
    """The ``xml:lang`` of an item's title, content or summary (feedparser's ``language``)."""
    details = [item.get("title_detail"), *item.get("content", ()), item.get("summary_detail")]
    return next((str(d["language"]) for d in details if d and d.get("language")), "")


def _with_language(entries: tuple[Entry, ...], feed_language: str) -> tuple[Entry, ...]:
    """``entries``, those that declare no language of their own in the feed's (codes as
    written: the pipeline normalises them, see ``monitor.language``)."""
    language = feed_language.strip()[:MAX_LANGUAGE_CHARS]
    if not language:
        return entries
    return tuple(e if e.language else replace(e, language=language) for e in entries)


def _unique(entries: Iterable[tuple[Entry | None, bool]], max_items: int) -> tuple[Entry, ...]:
    """The first entry of each key. A key that items with different links share (a CMS
    giving every item the site's address, or one id, as its GUID) names none of them:
    those items are keyed by their links instead, so none is lost. True beside an entry:
    its link is made up of its id; it counts here as before (keys stay as they were), and
    the entry comes out without it."""
    listed = [(e, made_up) for e, made_up in entries if e is not None]
    links: dict[str, set[str]] = {}
    for entry, _ in listed:
        if entry.url:
            links.setdefault(entry.key, set()).add(entry.url)
    seen: dict[str, Entry] = {}
    for entry, made_up in listed:
        if entry.url and len(links.get(entry.key, ())) > 1:
            key = entry.url if len(entry.url) <= MAX_KEY_CHARS else _hash_key(entry.url)
            entry = replace(entry, key=key)
        seen.setdefault(entry.key, replace(entry, url="") if made_up else entry)
    return tuple(itertools.islice(seen.values(), max_items))


def _ttl_seconds(feed: Mapping[str, Any]) -> int | None:
    period = _SY_PERIODS.get(str(feed.get("sy_updateperiod", "")).strip().lower())
    if ttl := _int(feed.get("ttl")):
        return ttl * 60
    return period // (_int(feed.get("sy_updatefrequency")) or 1) if period else None


def _parse_date(value: str) -> datetime | None:
    """RFC 3339 (JSON Feed's format), else RFC 822; naive times are taken as UTC."""
    for parse in (datetime.fromisoformat, parsedate_to_datetime):
        try:
            parsed = parse(value.strip())
        except (TypeError, ValueError, IndexError):
            continue
        return utc(parsed)
    return None


def _bozo_message(exc: Exception) -> str:
    if isinstance(exc, xml.sax.SAXParseException):
        return f"not well-formed XML: {exc.getMessage()} at line {exc.getLineNumber()}"
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _not_a_feed(content: bytes, url: str, warning: str | None) -> str:
    if _HTML_SNIFF.search(content[:4096]):
        site = url if url.startswith(("http://", "https://")) else "URL"
        return (f"not a feed: looks like an HTML page; try `monitor discover {site}` "
                "to find its feeds")
    return f"not a feed: {warning}" if warning else "not a feed: no RSS, Atom or JSON Feed found"


# An absolute http(s) URL that urljoin gives back unchanged (its parse and unparse round
# trip is the identity: lowercase scheme, no ";" parameters, no empty "?" or "#", no
# whitespace, no brackets for urlsplit to check): most item links, joined for nothing.
_PLAIN_ABSOLUTE = re.compile(r"https?://[^/?#;\[\]\s\x00-\x20\x7f]+(?:/[^?#;\s\x00-\x20\x7f]*)?"
                             r"(?:\?[^#\s\x00-\x20\x7f]+)?(?:#[^\s\x00-\x20\x7f]+)?")


def _absolute(base: str, link: str) -> str:
    """``link`` joined to ``base``; "" for one urlsplit refuses (``//[x``: no URL at all)."""
    link = link.strip()
    if not link or _PLAIN_ABSOLUTE.fullmatch(link):
        return link
    try:
        return urljoin(base, link)
    except ValueError:
        return ""


def _hash_key(text: str) -> str:
    return "hash:" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _int(value: Any) -> int:
    try:
        return max(0, int(str(value).strip()))
    except ValueError:
        return 0


def _str(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)

