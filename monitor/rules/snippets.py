"""Turn a matched rule's hits into a ``Match``: terms, counts, spans and snippets.

Pure: no I/O.

A snippet is about ``SNIPPET_CHARS`` characters of one field around a hit, cut at spaces or
newlines (``…`` where text was cut), whitespace collapsed to single spaces. Hits of a term
whose snippets would overlap share one snippet (a shared snippet grows to at most twice the
size); each term gets at most ``MAX_SNIPPETS``. ``marks`` are the (start, end) offsets in the
snippet text of every hit of every term of the match that lies wholly inside it, sorted,
with overlapping marks merged.

``LazyMatch`` defers all of this until its ``terms`` are first read: an article makes many
rules true whose matches routing then drops (a rule not watching the feed), and building
spans and snippets costs more than evaluating the rules did (issue 17).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from monitor.models import FIELDS, Match, Snippet, Span, TermHit

__all__ = ["MAX_SNIPPETS", "SNIPPET_CHARS", "LazyMatch", "build_match", "build_terms"]

SNIPPET_CHARS = 200
MAX_SNIPPETS = 3
ELLIPSIS = "\u2026"
_NONSPACE = re.compile(r"\S")

Window = list[int]
"""``[field index, start, end, start of first hit, end of last hit]`` (``end`` grows)."""

Terms = tuple[TermHit, ...]


class LazyMatch(Match):
    """A ``Match`` whose ``terms`` are built by ``build`` when first read, then kept (and
    ``build``, with the article view it holds, let go). Equal to, hashed and pickled as
    the plain ``Match`` of the same rule, query and terms."""

    __slots__ = ("_build", "_terms")
    _build: Callable[[], Terms] | None
    _terms: Terms

    def __init__(self, rule: str, query: str, terms: Terms = (),
                 build: Callable[[], Terms] | None = None) -> None:
        object.__setattr__(self, "rule", rule)
        object.__setattr__(self, "query", query)
        object.__setattr__(self, "_terms", terms)
        object.__setattr__(self, "_build", build)

    @property
    def terms(self) -> Terms:
        build = self._build
        if build is not None:
            object.__setattr__(self, "_terms", build())
            object.__setattr__(self, "_build", None)
        return self._terms

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Match):
            return NotImplemented
        return (self.rule, self.query, self.terms) == (other.rule, other.query, other.terms)

    def __hash__(self) -> int:
        return hash((self.rule, self.query, self.terms))

    def __repr__(self) -> str:
        return repr(self.plain())

    def __reduce__(self) -> tuple[type[Match], tuple[str, str, Terms]]:
        return Match, (self.rule, self.query, self.terms)

    def plain(self) -> Match:
        """The same match as a plain ``Match`` (its terms built)."""
        return Match(self.rule, self.query, self.terms)


def build_match(name: str, query: str, order: tuple[str, ...],
                hits: dict[str, set[tuple[int, int, int]]], texts: tuple[str, ...]) -> Match:
    """The ``Match`` of rule ``name``; ``order`` lists term texts in query order.

    ``hits`` maps term texts to ``(field index, start, end)`` spans in ``texts``, the
    article's fields in ``FIELDS`` order.
    """
    return Match(name, query, build_terms(order, hits, texts))


def build_terms(order: tuple[str, ...], hits: dict[str, set[tuple[int, int, int]]],
                texts: tuple[str, ...]) -> Terms:
    """The ``TermHit`` of each term of ``order`` that has ``hits`` (see ``build_match``)."""
    if len(hits) == 1:  # the common case, one term with one hit: straight through
        ((text, spans),) = hits.items()
        if len(spans) == 1:
            ((field, start, end),) = spans
            snippet = _lone_snippet(texts[field], start, end)
            return (TermHit(text, 1, (Span(FIELDS[field], start, end),), (snippet,)),)
    marks: dict[int, list[tuple[int, int]]] = {}
    for spans in hits.values():
        for field, start, end in spans:
            marks.setdefault(field, []).append((start, end))
    terms = []
    for text in order:
        ordered = sorted(hits.get(text, ()))
        if ordered:
            windows = _windows(ordered, texts)
            snippets = tuple(_snippet(texts[w[0]], w, marks[w[0]]) for w in windows)
            found = tuple(Span(FIELDS[f], start, end) for f, start, end in ordered)
            terms.append(TermHit(text, len(ordered), found, snippets))
    return tuple(terms)


def _window(field: int, hit_start: int, hit_end: int, size: int) -> Window:
    """About ``SNIPPET_CHARS`` around one hit, in a field of ``size`` characters."""
    pad = max(0, SNIPPET_CHARS - (hit_end - hit_start)) // 2
    return [field, max(0, hit_start - pad), min(size, hit_end + pad), hit_start, hit_end]


def _windows(spans: list[tuple[int, int, int]], texts: tuple[str, ...]) -> list[Window]:
    windows: list[Window] = []
    for field, hit_start, hit_end in spans:
        _, start, end, _, _ = _window(field, hit_start, hit_end, len(texts[field]))
        if windows:
            last = windows[-1]
            if last[0] == field and start < last[2]:
                if end - last[1] <= 2 * SNIPPET_CHARS:
                    last[2], last[4] = max(last[2], end), max(last[4], hit_end)
                    continue
                start = min(last[2], hit_start)
        if len(windows) == MAX_SNIPPETS:
            break
        windows.append([field, start, end, hit_start, hit_end])
    return windows


def _trim(text: str, w: Window) -> tuple[int, int]:
    """Move the window's ends to word boundaries, never past its hits; strip whitespace."""
    _, start, end, first_hit, last_hit = w
    if start > 0 and not text[start - 1].isspace():
        space, newline = text.find(" ", start, first_hit), text.find("\n", start, first_hit)
        gap = newline if space < 0 else space if newline < 0 else min(space, newline)
        if gap >= 0:
            start = gap + 1
    if end < len(text) and not text[end].isspace():
        gap = max(text.rfind(" ", last_hit, end), text.rfind("\n", last_hit, end))
        if gap >= 0:
            end = gap
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _collapsed_index(raw: str, x: int) -> int:
    """Where index ``x`` of ``raw`` (which starts with non-space) lands once collapsed."""
    head = raw[:x]
    trailing = 1 if head and head[-1].isspace() else 0
    return len(" ".join(head.split())) + trailing


def _merge(marks: list[tuple[int, int]], shift: int) -> tuple[tuple[int, int], ...]:
    """Sort ``marks``, merge overlapping ones and add ``shift`` to every offset."""
    if len(marks) == 1:
        ((start, end),) = marks
        return ((start + shift, end + shift),)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(marks):
        if merged and start + shift < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end + shift))
        else:
            merged.append((start + shift, end + shift))
    return tuple(merged)


def _snippet(text: str, w: Window, field_marks: list[tuple[int, int]]) -> Snippet:
    start, end = _trim(text, w)
    inside = [(s - start, e - start) for s, e in field_marks if start <= s and e <= end]
    return _cut(text, start, end, inside)


def _lone_snippet(text: str, hit_start: int, hit_end: int) -> Snippet:
    """``_snippet`` of the window around a lone hit, marking just that hit."""
    pad = max(0, SNIPPET_CHARS - (hit_end - hit_start)) // 2
    start, end = _trim(text, [0, max(0, hit_start - pad), min(len(text), hit_end + pad),
                              hit_start, hit_end])
    return _cut(text, start, end, [(hit_start - start, hit_end - start)])


def _cut(text: str, start: int, end: int, marks: list[tuple[int, int]]) -> Snippet:
    """The snippet ``text[start:end]``, with ``marks`` given relative to ``start``."""
    raw = text[start:end]
    # is there any non-space before ``start`` / after ``end``? (the text's ends usually tell)
    lead = start > 0 and (not text[0].isspace() or _NONSPACE.search(text, 0, start) is not None)
    tail = end < len(text) and (
        not text[-1].isspace() or _NONSPACE.search(text, end) is not None)
    if not raw.isprintable() or "  " in raw:  # collapse whitespace to single spaces
        marks = [(_collapsed_index(raw, s), _collapsed_index(raw, e)) for s, e in marks]
        raw = " ".join(raw.split())
    if lead:
        raw = ELLIPSIS + raw
    if tail:
        raw += ELLIPSIS
    return Snippet(raw, _merge(marks, len(ELLIPSIS) if lead else 0))
