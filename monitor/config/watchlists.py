"""The lines of a watchlist file as named rules; pure."""

from __future__ import annotations

import hashlib
import re

_NAMED_LINE = re.compile(r'([^"/|]*?\S)\s+\|\s+(.*)')
_NAME_CHARS = 100


def watchlist_lines(text: str) -> list[tuple[int, str, str]]:
    """``(line number, rule name, query)`` for each rule line of a watchlist file.

    Blank lines and ``#`` comments are skipped. A line is ``NAME | QUERY`` (the name holds
    no ``"``, ``/`` or ``|``, so a pipe inside a phrase or a regex is part of the query) or a
    query alone, which then names itself: the name never depends on the line's position.
    """
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        named = _NAMED_LINE.fullmatch(line)
        name, query = (named.group(1), named.group(2).strip()) if named else (None, line)
        out.append((number, name or _short_name(query), query))
    return out


def _short_name(query: str) -> str:
    """``query`` on one line, cut with a digest of the whole when it is long."""
    name = " ".join(query.split())
    if len(name) <= _NAME_CHARS:
        return name
    digest = hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{name[:_NAME_CHARS - 12].rstrip()}… #{digest}"
