"""What the pipeline needs of its collaborators: the fetcher, the extractor, the renderer and
the rule set, as protocols (``monitor.pipeline`` takes them as arguments, so tests can pass
real local ones or fakes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from monitor.errors import NotModified
from monitor.models import Article, Entry, FetchResult, Match, RequestOptions


class FetcherLike(Protocol):
    """What the pipeline needs of ``monitor.fetch.Fetcher``."""

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                    trusted: bool = False, allow_private: bool | None = None,
                    html_only: bool = False, max_bytes: int | None = None,
                    options: RequestOptions | None = None) -> FetchResult: ...

    async def fetch_if_changed(
            self, url: str, *, etag: str | None = None, last_modified: str | None = None,
            trusted: bool = False, allow_private: bool | None = None, html_only: bool = False,
            max_bytes: int | None = None, options: RequestOptions | None = None
    ) -> FetchResult | NotModified: ...


class ExtractorLike(Protocol):
    """What the pipeline needs of ``monitor.extract.Extractor``."""

    async def extract(self, content: bytes, url: str, *, entry: Entry | None = None,
                      source: str = "") -> Article: ...


class RendererLike(Protocol):
    """What the pipeline needs of ``monitor.browser.Renderer``."""

    async def render(self, url: str, *, allow_private: bool | None = None,
                     options: RequestOptions | None = None) -> FetchResult: ...


class RuleSetLike(Protocol):
    """What the pipeline needs of ``monitor.rules.RuleSet``."""

    def match(self, article: Article) -> list[Match]: ...

    def explain(self, article: Article, matches: Sequence[Match]) -> list[Match]: ...
