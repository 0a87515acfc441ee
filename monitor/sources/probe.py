"""Find the feeds of a web site: the URL itself, the feeds its page advertises, or the
usual paths (``/feed``, ``/rss.xml`` ...) on its origin.

Orchestration, small: it fetches through the caller's fetcher and leaves every decision
to the pure modules of :mod:`monitor.sources` (``parse_feed``, ``discover_feeds``); it sits
in the orchestration layer, above them (tests/test_layers.py). The operator typed the URL,
so it is fetched ``trusted``, and so is anything on the same origin; a feed another site
advertises goes through the fetcher's SSRF guard like any third-party link.

A URL typed without a scheme (``example.org:8080``) is tried as ``https://`` first, then,
if no HTTPS answer comes at all (refused, a TLS handshake with a plain-HTTP port, timeout),
as ``http://``.

What comes back:

- the URL itself, when it already is a feed (``via="direct"``);
- else every feed the page advertises with ``<link rel="alternate">``, each fetched for its
  title; one that cannot be fetched or parsed is still listed, with ``error`` set, since
  the site claims it (``via="advertised"``);
- else, with ``probe_common``, each of ``COMMON_FEED_PATHS`` that answers with a feed
  (``via="probed"``). Probes that redirect to the same feed, or serve the same bytes,
  count once.

A failure to fetch the page itself propagates (``FetchError``), for the caller to report.

``other_sources`` adds what is not a feed: the sitemaps the site's robots.txt names
(``via="robots"``, ``kind="sitemap"``), and, for a site without feeds, its page as a
``kind="page"`` source when article links are found on it (``via="page"``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

from monitor.errors import FetchError, FetchHTTPStatus, FetchTooLarge, NotModified, ParseError
from monitor.models import FetchResult
from monitor.sources.base import ParsedFeed
from monitor.sources.discovery import COMMON_FEED_PATHS, discover_feeds, robots_sitemaps
from monitor.sources.feed import parse_feed
from monitor.sources.opml import OpmlFeed, to_toml
from monitor.sources.page import parse_page
from monitor.sources.text import one_line

MAX_ADVERTISED = 20
"""At most this many advertised feeds are fetched (a page can list hundreds)."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")

Via = Literal["direct", "advertised", "probed", "robots", "page"]


class FetcherLike(Protocol):
    """What discovery needs of ``monitor.fetch.Fetcher``."""

    async def fetch(self, url: str, *, trusted: bool = False) -> FetchResult: ...


@dataclass(frozen=True, slots=True)
class DiscoveredFeed:
    """A feed found for a site; ``error`` says why an advertised one could not be read."""

    url: str
    title: str = ""
    via: Via = "advertised"
    error: str | None = None
    kind: str = "feed"  # the source kind to read it as


async def discover(url: str, fetcher: FetcherLike, *,
                   probe_common: bool = True) -> list[DiscoveredFeed]:
    """The feeds of the site at ``url``; see the module docstring. Empty when none."""
    page, url = await _fetch_typed(fetcher, url)
    direct = _parse(page)
    if direct is not None:
        return [DiscoveredFeed(page.url, direct.title, "direct")]
    links = discover_feeds(page.content, page.url)[:MAX_ADVERTISED]
    if links:
        return _distinct(await asyncio.gather(*(_advertised(fetcher, u, url) for u in links)))
    if not probe_common:
        return []
    probes = await asyncio.gather(*(_probe(fetcher, u, url) for u in _probe_urls(page.url)))
    return _distinct([p for p in probes if p is not None])


async def other_sources(typed: str, fetcher: FetcherLike, *,
                        has_feeds: bool) -> list[DiscoveredFeed]:
    """What else the site at ``typed`` offers: the sitemaps its robots.txt names, and,
    when it has no feed (``has_feeds`` False), its page as a ``page`` source if article
    links are found on it."""
    found = []
    robots = [_origin_url(u, "/robots.txt") for u in candidate_urls(typed)]
    if (result := await _first_answer(fetcher, robots)) is not None:
        found = [DiscoveredFeed(u, "sitemap (robots.txt)", "robots", kind="sitemap")
                 for u in robots_sitemaps(result.content, result.url)]
    if not has_feeds and (page := await _first_answer(fetcher, candidate_urls(typed))):
        try:
            parsed = parse_page(page.content, page.url, content_type=page.content_type)
        except ParseError:
            return found
        if parsed.entries:
            title = f"{parsed.title or page.url} ({len(parsed.entries)} article links)"
            found.append(DiscoveredFeed(page.url, title, "page", kind="page"))
    return found


async def _first_answer(fetcher: FetcherLike, urls: Sequence[str]) -> FetchResult | None:
    """The first of ``urls`` (the same page over https, then http) that answers a 2xx."""
    for url in urls:
        try:
            return await fetcher.fetch(url, trusted=True)
        except (FetchHTTPStatus, FetchTooLarge, NotModified):
            return None  # it answered, with nothing to use
        except FetchError:
            continue
    return None


def _origin_url(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def as_config_snippet(feeds: Sequence[DiscoveredFeed], taken: Collection[str] = ()) -> str:
    """``[[feeds]]`` tables for the readable feeds; unreadable ones as ``#`` comments, and
    so are sources of other kinds when the site has feeds (they would read the same news).

    ``taken`` are feed names already in the config: new names are made unique against them.
    """
    has_feeds = any(f.kind == "feed" and f.error is None for f in feeds)
    good = [OpmlFeed(f.title or f.url, f.url, kind=f.kind) for f in feeds
            if f.error is None and (f.kind == "feed" or not has_feeds)]
    notes = [f"# not added: {one_line(f.url)} ({one_line(f.error)})\n"
             for f in feeds if f.error is not None]
    notes += [f"# also: kind = {f.kind!r} at {one_line(f.url)}\n"
              for f in feeds if f.error is None and f.kind != "feed" and has_feeds]
    return "".join(notes) + ("\n" if notes and good else "") + to_toml(good, taken)


def candidate_urls(typed: str) -> list[str]:
    """``typed`` when it has a scheme; else it behind ``https://``, then ``http://``."""
    typed = typed.strip()
    return [typed] if _SCHEME.match(typed) else [f"https://{typed}", f"http://{typed}"]


async def _fetch_typed(fetcher: FetcherLike, typed: str) -> tuple[FetchResult, str]:
    """The page the operator typed, and the URL that answered (see ``candidate_urls``)."""
    first, *rest = candidate_urls(typed)
    try:
        return await fetcher.fetch(first, trusted=True), first
    except (FetchHTTPStatus, FetchTooLarge):
        raise  # the server answered over this scheme: that answer stands
    except FetchError as e:
        if not rest:
            raise
        failed = e
    try:
        return await fetcher.fetch(rest[0], trusted=True), rest[0]
    except FetchError as e:
        raise FetchError(f"{first}: {failed}; {rest[0]}: {e}", rest[0]) from e


async def _advertised(fetcher: FetcherLike, link: str, typed: str) -> DiscoveredFeed:
    try:
        result = await fetcher.fetch(link, trusted=_same_origin(link, typed))
        parsed = _parse(result)
    except (FetchError, NotModified) as e:
        return DiscoveredFeed(link, via="advertised", error=str(e) or type(e).__name__)
    if parsed is None:
        return DiscoveredFeed(link, via="advertised", error="not a feed")
    return DiscoveredFeed(result.url, parsed.title, "advertised")


async def _probe(fetcher: FetcherLike, candidate: str,
                 typed: str) -> tuple[DiscoveredFeed, str] | None:
    """The feed at ``candidate`` with a digest of its bytes, or None when there is none."""
    try:
        result = await fetcher.fetch(candidate, trusted=_same_origin(candidate, typed))
    except (FetchError, NotModified):
        return None
    parsed = _parse(result)
    if parsed is None:
        return None
    digest = hashlib.sha256(result.content).hexdigest()
    return DiscoveredFeed(result.url, parsed.title, "probed"), digest


def _parse(result: FetchResult) -> ParsedFeed | None:
    try:
        return parse_feed(result.content, result.url, content_type=result.content_type,
                          max_items=1)
    except ParseError:
        return None


def _probe_urls(page_url: str) -> list[str]:
    parts = urlsplit(page_url)
    return [urlunsplit((parts.scheme, parts.netloc, path, "", "")) for path in COMMON_FEED_PATHS]


def _distinct(found: Sequence[DiscoveredFeed | tuple[DiscoveredFeed, str]]
              ) -> list[DiscoveredFeed]:
    """Drop repeats by URL and, for probes, by identical content; first one wins."""
    out: dict[str, DiscoveredFeed] = {}
    digests: set[str] = set()
    for item in found:
        feed, digest = item if isinstance(item, tuple) else (item, None)
        if feed.url in out or (digest is not None and digest in digests):
            continue
        out[feed.url] = feed
        if digest is not None:
            digests.add(digest)
    return list(out.values())


def _same_origin(a: str, b: str) -> bool:
    return _origin(a) is not None and _origin(a) == _origin(b)


def _origin(url: str) -> tuple[str, str, int] | None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError:  # a port out of range or not a number
        return None
    return (scheme, parts.hostname, port) if parts.hostname else None
