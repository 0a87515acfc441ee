"""Sources: what a feed's fetched document holds, by the feed's ``kind``.

``parse_source(kind, content, url, ...)`` is the one entry point the pipeline calls: it
looks ``kind`` up in ``PARSERS`` and hands the document to that kind's parser, which
returns a ``ParsedFeed`` (``monitor.sources.base``) or raises ``ParseError``; an unknown
kind is a ``ConfigError``. Every parser is pure: bytes in, data out (miniflux's
``parser.ParseFeed`` dispatches the same way, on the detected format).

Kinds: ``feed`` (RSS 0.9x/1.0/2.0, Atom and JSON Feed; module ``feed``, with
``feedencoding`` and ``feedtrim``), ``google-news`` (a search feed: publishers from
``<source>``), ``sitemap`` (sitemaps, news sitemaps, indexes), ``page`` (the article
links of an HTML listing page), ``json`` (a JSON API's items by paths; module
``jsonapi``). Every kind's links are unwrapped (``redirects``);
``dates`` reads the dates sources write. Beside the parsers:
``text`` (HTML and loose text to plain text, for every kind), ``opml`` (subscription lists
in and out), ``discovery`` (the feeds a page advertises), and, fetching, so a layer up
(orchestration) and imported by nothing here: ``probe`` (a site's feeds) and ``follow``
(what a document leads to: an index's children, an opaque redirect's target).

**Adding a source kind** is a new module here with a function that fits ``SourceParser``,
and one line in ``PARSERS``; ``[[feeds]] kind = "..."`` then selects it (the config checks
kinds against ``source_kinds()``, which the daemon passes in).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from monitor.config import SourceOptions
from monitor.errors import ConfigError
from monitor.sources import feed, google_news, jsonapi, page, sitemap
from monitor.sources.base import NO_OPTIONS, ParsedFeed, SourceParser
from monitor.sources.redirects import is_opaque, unwrap_entry, unwrap_url

PARSERS: dict[str, SourceParser] = {
    "feed": feed.parse_feed,
    "google-news": google_news.parse_google_news,
    "sitemap": sitemap.parse_sitemap,
    "page": page.parse_page,
    "json": jsonapi.parse_json_api,
}
"""Each source kind -> its parser. One line per kind."""


def source_kinds() -> tuple[str, ...]:
    """The kinds ``[[feeds]] kind`` accepts, for the config check."""
    return tuple(PARSERS)


def parse_source(kind: str, content: bytes, url: str, *, content_type: str = "",
                 max_items: int = 500, now: datetime | None = None,
                 options: SourceOptions = NO_OPTIONS) -> ParsedFeed:
    """The document ``content`` fetched from ``url``, parsed as a source of ``kind`` with
    the feed's ``options``; every entry's link unwrapped (``monitor.sources.redirects``).

    Raises ConfigError when ``kind`` is unknown, ParseError when the document is not of
    that kind at all.
    """
    parser = PARSERS.get(kind)
    if parser is None:
        raise ConfigError(f"unknown source kind {kind!r} (known kinds: {', '.join(PARSERS)})")
    parsed = parser(content, url, content_type=content_type, max_items=max_items, now=now,
                    options=options)
    return replace(parsed, entries=tuple(unwrap_entry(e) for e in parsed.entries))


__all__ = ["PARSERS", "ParsedFeed", "SourceParser", "is_opaque", "parse_source",
           "source_kinds", "unwrap_url"]
