"""Where a site's feeds may be: the ones its HTML page advertises, the usual paths, and the
sitemaps its robots.txt names.

Pure: reads a page the caller fetched and returns candidate URLs for the caller to probe
(``monitor.sources.probe`` does the fetching).
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import lxml.etree  # type: ignore[import-untyped]
import lxml.html  # type: ignore[import-untyped]

COMMON_FEED_PATHS = ("/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml",
                     "/feed.json")
"""Paths worth probing on a site whose pages advertise no feed."""

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json",
                        "application/rdf+xml"})


def discover_feeds(html: bytes, base_url: str) -> list[str]:
    """Feed URLs a page advertises with ``<link rel="alternate" type="...">``, in page order."""
    if not html.strip():
        return []
    try:
        root = lxml.html.fromstring(html, base_url=base_url)
    except (lxml.etree.ParserError, ValueError):
        return []
    base = next((b for b in root.xpath("//base/@href") if b.strip()), "")
    found: list[str] = []
    for link in root.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rels and kind in FEED_TYPES and href:
            url = urljoin(urljoin(base_url, base), href)
            if urlsplit(url).scheme in ("http", "https") and url not in found:
                found.append(url)
    return found


MAX_ROBOTS_SITEMAPS = 20


def robots_sitemaps(robots: bytes, base_url: str) -> list[str]:
    """The ``Sitemap:`` URLs of a robots.txt, absolute, http(s), each once, in file order."""
    found: list[str] = []
    for line in robots.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if not sep or name.strip().lower() != "sitemap":
            continue
        url = urljoin(base_url, value.split("#", 1)[0].strip())
        if url.startswith(("http://", "https://")) and url not in found:
            found.append(url)
    return found[:MAX_ROBOTS_SITEMAPS]
