"""The ``google-news`` source kind: a Google News search feed.

The feed's URL is built from its options (``query``, ``hl``, ``gl``, ``ceid``,
``base_url``: ``SourceOptions.google_news_url``, at config load). The document is RSS, read
by the ``feed`` kind; each entry's publisher is its item's ``<source>`` (Google names the
outlet there, and ends every title with " - Outlet", which is cut). Links are unwrapped by
``parse_source`` as every kind's are (``monitor.sources.redirects``).

Pure: bytes in, data out.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from monitor.config import SourceOptions
from monitor.models import Entry
from monitor.sources.base import NO_OPTIONS, ParsedFeed
from monitor.sources.feed import parse_feed


def parse_google_news(content: bytes, url: str, *, content_type: str = "",
                      max_items: int = 500, now: datetime | None = None,
                      options: SourceOptions = NO_OPTIONS) -> ParsedFeed:
    """A Google News RSS document: entries with their publisher, titles without it."""
    parsed = parse_feed(content, url, content_type=content_type, max_items=max_items, now=now,
                        publishers=True)
    return replace(parsed, entries=tuple(_strip_publisher(e) for e in parsed.entries))


def _strip_publisher(entry: Entry) -> Entry:
    suffix = f" - {entry.source}"
    if entry.source and entry.title.endswith(suffix) and len(entry.title) > len(suffix):
        return replace(entry, title=entry.title[:-len(suffix)].rstrip())
    return entry
