"""What a source's document leads to, fetched: the children of a sitemap index, the
target of an opaque redirect link (``resolve_redirects``).

Orchestration, as ``probe`` is (a layer above the parsers, in the pipeline's group): every
fetch goes through the fetcher the pipeline passes in, guarded as an article link is (the
SSRF guard and the feed's ``allow_private_networks``, byte caps), never trusted: these
URLs come from a third party's document, not from the operator.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Protocol

from monitor.errors import FetchError, NotModified
from monitor.models import Entry, FetchResult
from monitor.sources.redirects import is_opaque, landing_target

log = logging.getLogger(__name__)


class Fetch(Protocol):
    """What is needed of ``monitor.fetch.Fetcher``."""

    async def fetch(self, url: str, *, allow_private: bool | None = None,
                    html_only: bool = False, max_bytes: int | None = None) -> FetchResult: ...


async def resolve_opaque(fetcher: Fetch, entry: Entry, *, allow_private: bool,
                         max_bytes: int) -> Entry:
    """``entry`` with its opaque redirect link replaced by where it leads: the page it
    redirects to, fetched (guarded), or the target its landing page names; as it was when
    neither can be had."""
    try:
        page = await fetcher.fetch(entry.url, allow_private=allow_private, html_only=True,
                                   max_bytes=max_bytes)
    except (FetchError, NotModified) as e:
        log.info("event=redirect_unresolved url=%s reason=%r", entry.url, str(e))
        return entry
    target = page.url if not is_opaque(page.url) else landing_target(page.content, page.url)
    return replace(entry, url=target) if target and not is_opaque(target) else entry
