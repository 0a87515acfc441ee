"""The ``sitemap`` source kind: XML sitemaps (sitemaps.org 0.9), news sitemaps and indexes.

A ``<urlset>`` yields one entry per ``<url>``: its ``<loc>`` (key and link), the title and
publication date of its ``news:news`` block when it has one (Google's news sitemap), else
its ``<lastmod>`` as the date. Entries come newest first (undated ones last, in document
order), at most ``max_items``, so a 50,000-URL sitemap gives its newest. A
``<sitemapindex>`` yields no entries but its ``MAX_CHILDREN`` newest children (by
``lastmod``; undated ones after, in document order) as ``children``, which the poll
fetches and parses in turn (``monitor.sources.follow``). A gzip sitemap (``.xml.gz``) is
unzipped first, to at most ``MAX_UNZIPPED`` bytes. Elements are matched by local name, so
a sitemap with a wrong or missing namespace still reads.

Pure: bytes in, data out. The XML parser resolves no entities and loads nothing.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urljoin

import lxml.etree  # type: ignore[import-untyped]

from monitor.config import SourceOptions
from monitor.errors import ParseError
from monitor.models import Entry
from monitor.sources.base import NO_OPTIONS, ParsedFeed
from monitor.sources.dates import parse_date
from monitor.sources.text import html_line
from monitor.timeutil import utc

MAX_CHILDREN = 3  # children of an index read per poll, the newest
MAX_UNZIPPED = 60_000_000  # bytes; the protocol's limit is 50 MB per sitemap
MAX_URL_CHARS = 2_048
_EPOCH = utc(datetime.min)


def parse_sitemap(content: bytes, url: str, *, content_type: str = "", max_items: int = 500,
                  now: datetime | None = None, options: SourceOptions = NO_OPTIONS
                  ) -> ParsedFeed:
    """A sitemap, news sitemap or sitemap index fetched from ``url``."""
    now = now or datetime.now(UTC)
    root, warning = _root(_gunzipped(content))
    kind = _local(root)
    if kind == "sitemapindex":
        return ParsedFeed(title="", link=url, entries=(), warning=warning,
                          children=_children(root, url))
    if kind != "urlset":
        raise ParseError(f"not a sitemap: the root element is <{kind}>, not <urlset> or "
                         "<sitemapindex>")
    entries = [e for e in (_entry(node, url, now) for node in _named(root, "url")) if e]
    dated = sorted((e for e in entries if e.published), key=lambda e: e.published or _EPOCH,
                   reverse=True)
    ordered = dated + [e for e in entries if not e.published]
    return ParsedFeed(title="", link=url, entries=tuple(ordered[:max_items]), warning=warning)


def _gunzipped(content: bytes) -> bytes:
    if not content.startswith(b"\x1f\x8b"):
        return content
    unzip = zlib.decompressobj(wbits=47)  # gzip or zlib header
    try:
        data = unzip.decompress(content, MAX_UNZIPPED)
    except zlib.error as e:
        raise ParseError(f"not a sitemap: broken gzip data ({e})") from e
    if unzip.unconsumed_tail:
        raise ParseError(f"gzip sitemap over {MAX_UNZIPPED:,} bytes unzipped")
    return data


def _root(data: bytes) -> tuple[lxml.etree._Element, str | None]:
    parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True, recover=True,
                                  huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        root = lxml.etree.fromstring(data, parser)
    except lxml.etree.XMLSyntaxError as e:
        raise ParseError(f"not a sitemap: {e}") from e
    if root is None:
        raise ParseError("not a sitemap: no XML found")
    errors = [e for e in parser.error_log if e.level >= lxml.etree.ErrorLevels.ERROR]
    warning = (f"not well-formed XML: {errors[0].message} at line {errors[0].line}"
               if errors else None)
    return root, warning


def _entry(node: lxml.etree._Element, base: str, now: datetime) -> Entry | None:
    fields = _fields(node)
    loc = _text(fields.get("loc"))
    link = loc if loc.startswith(("http://", "https://")) else urljoin(base, loc) if loc else ""
    if not link.startswith(("http://", "https://")) or len(link) > MAX_URL_CHARS:
        return None
    title, published = "", parse_date(_text(fields.get("lastmod")))
    if (news := fields.get("news")) is not None:
        inner = _fields(news)
        title = html_line(_text(inner.get("title")))
        published = parse_date(_text(inner.get("publication_date"))) or published
    return Entry(key=link, url=link, title=title,
                 published=min(published, now) if published else None)


def _children(root: lxml.etree._Element, base: str) -> tuple[str, ...]:
    found = [(urljoin(base, loc), parse_date(_text(fields.get("lastmod"))))
             for fields in map(_fields, _named(root, "sitemap"))
             if (loc := _text(fields.get("loc")))]
    found = [(u, d) for u, d in found if u.startswith(("http://", "https://"))]
    dated = sorted((c for c in found if c[1]), key=lambda c: c[1] or _EPOCH, reverse=True)
    return tuple(u for u, _ in (dated + [c for c in found if not c[1]])[:MAX_CHILDREN])


def _named(node: lxml.etree._Element, name: str) -> Iterator[lxml.etree._Element]:
    return (child for child in node if _local(child) == name)


def _fields(node: lxml.etree._Element) -> dict[str, lxml.etree._Element]:
    """The first child of ``node`` by each local name."""
    out: dict[str, lxml.etree._Element] = {}
    for child in node:
        out.setdefault(_local(child), child)
    return out


def _local(node: lxml.etree._Element) -> str:
    tag = node.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _text(node: lxml.etree._Element | None) -> str:
    return "".join(node.itertext()).strip() if node is not None else ""
