"""The ``json`` source kind: a JSON API's items, mapped by paths.

``items`` is the path of the list of items (empty: the document is the list); ``title``,
``link``, ``published`` and ``text`` are paths inside each item. A path is dotted keys,
list indexes as numbers (``data.items``, ``links.0.href``; ``links[0].href`` and a leading
``$.`` are read too). ``preset`` names a mapping in ``JSON_PRESETS`` (Federal Register,
GDELT); keys written in the table win over it. An entry's key is its link, else a hash of
its title and text; its date is read by ``monitor.sources.dates``; its text may be HTML.

Pure: bytes in, data out.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from monitor.config import JSON_PRESETS, SourceOptions
from monitor.errors import ParseError
from monitor.models import Entry
from monitor.sources.base import NO_OPTIONS, ParsedFeed
from monitor.sources.dates import parse_date
from monitor.sources.text import html_line, html_to_text

FIELDS = ("items", "title", "link", "published", "text")
MAX_FIELD_CHARS = 100_000
_STEP = re.compile(r"\[(\d+)\]")


def parse_json_api(content: bytes, url: str, *, content_type: str = "", max_items: int = 500,
                   now: datetime | None = None, options: SourceOptions = NO_OPTIONS
                   ) -> ParsedFeed:
    """The items of the JSON document ``content`` fetched from ``url``, by ``options``."""
    now = now or datetime.now(UTC)
    paths = mapping(options)
    try:
        doc = json.loads(content)
    except (ValueError, RecursionError) as e:
        raise ParseError(f"not JSON: {e}") from e
    items = value_at(doc, paths.get("items", ""))
    if not isinstance(items, list):
        raise ParseError(f"no list of items at {paths.get('items') or 'the top level'!r} "
                         f"(found {type(items).__name__ if items is not None else 'nothing'})")
    entries: dict[str, Entry] = {}
    for item in items:
        entry = _entry(item, paths, url, now)
        if entry is not None and entry.key not in entries:
            entries[entry.key] = entry
        if len(entries) >= max_items:
            break
    title = _text(doc.get("description") if isinstance(doc, dict) else None)
    return ParsedFeed(title=html_line(title[:500]), link=url, entries=tuple(entries.values()))


def mapping(options: SourceOptions) -> dict[str, str]:
    """The paths of a ``json`` source: its preset's, overridden by the keys written."""
    written = {f: getattr(options, f) for f in FIELDS if getattr(options, f)}
    return {**JSON_PRESETS.get(options.preset, {}), **written}


def value_at(doc: Any, path: str) -> Any:
    """The value at ``path`` in ``doc`` (None when there is none)."""
    path = _STEP.sub(r".\1", path.strip().removeprefix("$").removeprefix("."))
    value = doc
    for step in (s for s in path.split(".") if s):
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    return value


def _entry(item: Any, paths: dict[str, str], url: str, now: datetime) -> Entry | None:
    if not isinstance(item, dict):
        return None
    title = html_line(_text(value_at(item, paths.get("title", "")))[:MAX_FIELD_CHARS])
    link = _text(value_at(item, paths.get("link", ""))).strip()
    link = urljoin(url, link) if link else ""
    if link and not link.startswith(("http://", "https://")):
        link = ""
    text = html_to_text(_text(value_at(item, paths.get("text", "")))[:MAX_FIELD_CHARS])
    if not (link or title):
        return None
    published = parse_date(value_at(item, paths["published"])) if "published" in paths else None
    source = html_line(_text(value_at(item, paths["source"]))) if "source" in paths else ""
    key = link or "hash:" + hashlib.blake2b(f"{title}\n{text}".encode(),
                                            digest_size=16).hexdigest()
    return Entry(key=key, url=link, title=title, summary=text, source=source[:256],
                 published=min(published, now) if published else None)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(_text(v) for v in value if isinstance(v, str | int | float))
    if isinstance(value, str):
        return value
    return "" if value is None or isinstance(value, dict | bool) else str(value)
