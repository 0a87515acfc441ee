"""Turn a matched rule's hits into a ``Match``: terms, counts, spans and snippets.

Pure: no I/O.

A snippet is about ``SNIPPET_CHARS`` characters of one field around a hit, cut at spaces or
newlines (``…`` where text was cut), whitespace collapsed to single spaces. Hits of a term
whose snippets would overlap share one snippet (a shared snippet grows to at most twice the
size); each term gets at most ``MAX_SNIPPETS``. ``marks`` are the (start, end) offsets in the
snippet text of every hit of every term of the match that lies wholly inside it, sorted,
with overlapping marks merged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.models import FIELDS, Article, Match, Snippet, Span, TermHit

__all__ = ["MAX_SNIPPETS", "SNIPPET_CHARS", "build_match"]

SNIPPET_CHARS = 200
MAX_SNIPPETS = 3
ELLIPSIS = "\u2026"
_FIELD_ORDER = {name: i for i, name in enumerate(FIELDS)}
_NONSPACE = re.compile(r"\S")


@dataclass(slots=True)
class _Window:
    field: str
    start: int
    end: int
    first_hit: int
    last_hit: int


def _sort_key(span: Span) -> tuple[int, int, int]:
    return _FIELD_ORDER[span.field], span.start, span.end


def build_match(name: str, query: str, order: tuple[str, ...],
                hits: dict[str, set[Span]], article: Article) -> Match:
    """The ``Match`` of rule ``name``; ``order`` lists term texts in query order."""
    marks: dict[str, list[tuple[int, int]]] = {}
    for spans in hits.values():
        for span in spans:
            marks.setdefault(span.field, []).append((span.start, span.end))
    terms = []
    for text in order:
        ordered = sorted(hits.get(text, ()), key=_sort_key)
        if ordered:
            snippets = tuple(_snippet(article.field(w.field), w, marks[w.field])
                             for w in _windows(ordered, article))
            terms.append(TermHit(text, len(ordered), tuple(ordered), snippets))
    return Match(name, query, tuple(terms))


def _windows(spans: list[Span], article: Article) -> list[_Window]:
    windows: list[_Window] = []
    for span in spans:
        size = len(article.field(span.field))
        pad = max(0, SNIPPET_CHARS - (span.end - span.start)) // 2
        start, end = max(0, span.start - pad), min(size, span.end + pad)
        last = windows[-1] if windows else None
        if last is not None and last.field == span.field and start < last.end:
            if end - last.start <= 2 * SNIPPET_CHARS:
                last.end, last.last_hit = max(last.end, end), max(last.last_hit, span.end)
                continue
            start = min(last.end, span.start)
        if len(windows) == MAX_SNIPPETS:
            break
        windows.append(_Window(span.field, start, end, span.start, span.end))
    return windows


def _trim(text: str, w: _Window) -> tuple[int, int]:
    """Move the window's ends to word boundaries, never past its hits; strip whitespace."""
    start, end = w.start, w.end
    if start > 0 and not text[start - 1].isspace():
        gaps = [i for i in (text.find(" ", start, w.first_hit), text.find("\n", start, w.first_hit))
                if i >= 0]
        start = min(gaps) + 1 if gaps else start
    if end < len(text) and not text[end].isspace():
        gap = max(text.rfind(" ", w.last_hit, end), text.rfind("\n", w.last_hit, end))
        end = gap if gap >= 0 else end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _is_tidy(raw: str) -> bool:
    """Whether ``raw`` has no whitespace but single spaces (then collapsing changes nothing)."""
    return raw.isprintable() and "  " not in raw


def _collapsed_index(raw: str, x: int) -> int:
    """Where index ``x`` of ``raw`` (which starts with non-space) lands once collapsed."""
    head = raw[:x]
    trailing = 1 if head and head[-1].isspace() else 0
    return len(" ".join(head.split())) + trailing


def _merge(marks: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(marks):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _snippet(text: str, w: _Window, field_marks: list[tuple[int, int]]) -> Snippet:
    start, end = _trim(text, w)
    raw = text[start:end]
    lead = ELLIPSIS if _NONSPACE.search(text, 0, start) else ""
    tail = ELLIPSIS if _NONSPACE.search(text, end) else ""
    inside = [(s - start, e - start) for s, e in field_marks if start <= s and e <= end]
    if not _is_tidy(raw):
        inside = [(_collapsed_index(raw, s), _collapsed_index(raw, e)) for s, e in inside]
        raw = " ".join(raw.split())
    shift = len(lead)
    inside = [(s + shift, e + shift) for s, e in inside]
    return Snippet(lead + raw + tail, _merge(inside))
