"""What every source kind's parser takes and returns.

A parser is a pure function: the document's bytes, the URL it came from and a few limits
in, a ``ParsedFeed`` out, or ``ParseError`` when the document is not of its kind at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from monitor.config import SourceOptions
from monitor.models import Entry

NO_OPTIONS = SourceOptions()


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """One source document, parsed; ``warning`` says what was wrong with a malformed one."""

    title: str
    link: str
    entries: tuple[Entry, ...]
    warning: str | None = None
    ttl_seconds: int | None = None  # how long the source asks to be left alone, if it says
    children: tuple[str, ...] = ()  # more documents of the same kind to read (a sitemap index)


class SourceParser(Protocol):
    """The contract of one source kind's parser (``monitor.sources.PARSERS``)."""

    def __call__(self, content: bytes, url: str, *, content_type: str = "",
                 max_items: int = 500, now: datetime | None = None,
                 options: SourceOptions = NO_OPTIONS) -> ParsedFeed: ...
