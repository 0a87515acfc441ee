"""What a source's document leads to, fetched: the children of a sitemap index, the
target of an opaque redirect link (``resolve_redirects``); and ``parse_document``, which
parses a fetched document off the event loop when it is large (a 50,000-URL sitemap takes
the parser most of a second: the loop would stall, /healthz and every other poll with it).

Orchestration, as ``probe`` is (a layer above the parsers, in the pipeline's group): every
fetch goes through the fetcher the pipeline passes in, guarded as an article link is (the
SSRF guard and the feed's ``allow_private_networks``, byte caps), never trusted: these
URLs come from a third party's document, not from the operator.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from monitor.config import SourceOptions
from monitor.errors import FetchError, NotModified, ParseError
from monitor.models import Entry, FetchResult, RequestOptions
from monitor.sources import ParsedFeed, parse_source
from monitor.sources.base import NO_OPTIONS
from monitor.sources.redirects import is_opaque, landing_target

log = logging.getLogger(__name__)

OFF_LOOP_BYTES = 256_000
"""A document this large or larger is parsed in a thread (a smaller one parses in a few
milliseconds, less than the hop to a thread and back would cost it)."""


class Fetch(Protocol):
    """What is needed of ``monitor.fetch.Fetcher``."""

    async def fetch(self, url: str, *, allow_private: bool | None = None,
                    html_only: bool = False, max_bytes: int | None = None,
                    options: RequestOptions | None = None) -> FetchResult: ...


async def resolve_opaque(fetcher: Fetch, entry: Entry, *, allow_private: bool,
                         max_bytes: int, request: RequestOptions | None = None) -> Entry:
    """``entry`` with its opaque redirect link replaced by where it leads: the page it
    redirects to, fetched (guarded), or the target its landing page names; as it was when
    neither can be had."""
    try:
        page = await fetcher.fetch(entry.url, allow_private=allow_private, html_only=True,
                                   max_bytes=max_bytes, options=request)
    except (FetchError, NotModified) as e:
        log.info("event=redirect_unresolved url=%s reason=%r", entry.url, str(e))
        return entry
    target = page.url if not is_opaque(page.url) else landing_target(page.content, page.url)
    return replace(entry, url=target) if target and not is_opaque(target) else entry


async def parse_document(kind: str, content: bytes, url: str, *, content_type: str = "",
                         max_items: int = 500, now: datetime | None = None,
                         options: SourceOptions = NO_OPTIONS) -> ParsedFeed:
    """``monitor.sources.parse_source``, in a thread for a document of ``OFF_LOOP_BYTES``
    or more (parsers are pure: nothing they touch is shared with the loop)."""
    parse = functools.partial(parse_source, kind, content, url, content_type=content_type,
                              max_items=max_items, now=now, options=options)
    return parse() if len(content) < OFF_LOOP_BYTES else await asyncio.to_thread(parse)


async def read_children(fetcher: Fetch, parsed: ParsedFeed, *, kind: str,
                        options: SourceOptions, allow_private: bool, max_bytes: int,
                        max_items: int, now: datetime,
                        request: RequestOptions | None = None) -> ParsedFeed:
    """``parsed`` (an index) with the entries of its children, each fetched (guarded, with
    the source's own request settings) and parsed as ``kind``, one level deep, the newest
    ``max_items`` kept; a child that fails is a warning, not a failure."""
    entries, warnings = list(parsed.entries), [parsed.warning] if parsed.warning else []
    for child in parsed.children:
        try:
            result = await fetcher.fetch(child, allow_private=allow_private, max_bytes=max_bytes,
                                         options=request)
            doc = await parse_document(kind, result.content, result.url, max_items=max_items,
                                       now=now, content_type=result.content_type,
                                       options=options)
        except (FetchError, NotModified, ParseError) as e:
            log.warning("event=child_failed url=%s reason=%r", child, str(e))
            warnings.append(f"{child}: {e}")
            continue
        if doc.children:
            warnings.append(f"{child}: an index inside an index, not followed")
        entries += doc.entries
    entries = list(_merged(entries))
    dated = sorted((e for e in entries if e.published), reverse=True,
                   key=lambda e: e.published or now)
    kept = (dated + [e for e in entries if not e.published])[:max_items]
    return replace(parsed, entries=tuple(kept), children=(), warning="; ".join(warnings) or None)


def _merged(entries: list[Entry]) -> Iterator[Entry]:
    """One entry per key, the first with a title where several children list it."""
    by_key: dict[str, Entry] = {}
    for e in entries:
        if e.key not in by_key or (e.title and not by_key[e.key].title):
            by_key[e.key] = e
    return iter(by_key.values())
