"""Sources: what a feed's fetched document holds.

``feed`` (RSS 0.9x/1.0/2.0, Atom and JSON Feed, with ``feedencoding`` and ``feedtrim``),
``text`` (HTML and loose text to plain text), ``opml`` (subscription lists in and out),
``discovery`` (the feeds a page advertises) and ``probe`` (fetching a site to find its
feeds: orchestration, a layer up, so nothing else here imports it).
"""

from monitor.sources.base import ParsedFeed

__all__ = ["ParsedFeed"]
