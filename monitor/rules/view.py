"""One article as the matcher sees it: tokens and their positions, regex texts.

Pure: no I/O. Built once per article (and per case mode), then shared by every rule.

Each field's tokens get positions ``field_index * STRIDE + i``, with fields in
``models.FIELDS`` order, so title and body (the default scope) are one contiguous range and
no phrase or NEAR can span two fields. Positions, phrase starts and regex results are
computed on first use and memoised for the other rules.
"""

from __future__ import annotations

from bisect import bisect_left
from functools import cache
from typing import Protocol

from monitor.models import FIELDS, Article, Span
from monitor.rules.normalize import TokenText, regex_text
from monitor.rules.regexes import REGEX_MAX_CHARS, prefilter_fold

__all__ = ["STRIDE", "ArticleView", "RegexTexts", "field_range"]

STRIDE = 1 << 32
_LOCAL = STRIDE - 1
_FIELD_INDEX = {name: i for i, name in enumerate(FIELDS)}


@cache
def field_range(fields: tuple[str, ...]) -> tuple[int, int]:
    """The position range ``[lo, hi)`` of a scope (its fields must be adjacent)."""
    indexes = sorted(_FIELD_INDEX[f] for f in fields)
    assert indexes == list(range(indexes[0], indexes[-1] + 1)), fields
    return indexes[0] * STRIDE, (indexes[-1] + 1) * STRIDE


def field_indexes(fields: tuple[str, ...]) -> tuple[int, ...]:
    """Indexes of ``fields`` in ``models.FIELDS``."""
    return tuple(_FIELD_INDEX[f] for f in fields)


class TermLike(Protocol):
    """What the view needs of a compiled term."""

    key: int
    triggers: tuple[str, ...]
    lo: int
    hi: int


class RegexTexts:
    """The regex texts of one article's fields (case mode does not change them)."""

    __slots__ = ("_article", "_prefilter", "_texts")

    def __init__(self, article: Article) -> None:
        self._article = article
        self._texts: dict[int, tuple[str, list[int] | None]] = {}
        self._prefilter: list[str] | None = None

    def get(self, field: int) -> tuple[str, list[int] | None]:
        """Folded text (capped at ``REGEX_MAX_CHARS``) and its offset map."""
        found = self._texts.get(field)
        if found is None:
            text, origin = regex_text(self._article.field(FIELDS[field]))
            found = (text[:REGEX_MAX_CHARS], origin)
            self._texts[field] = found
        return found

    def prefilter(self) -> list[str]:
        """Every field's regex text folded for literal prefilters."""
        if self._prefilter is None:
            self._prefilter = [prefilter_fold(self.get(i)[0]) for i in range(len(FIELDS))]
        return self._prefilter


class ArticleView:
    """Tokens of every field in one case mode, with memoised lookups for the rules."""

    __slots__ = ("_distinct", "_index", "_memo", "_sets", "prefix_tokens", "regex", "texts")

    def __init__(self, article: Article, case_sensitive: bool, regex: RegexTexts) -> None:
        self.texts = [TokenText(article.field(name), case_sensitive) for name in FIELDS]
        self.regex = regex
        self.prefix_tokens: dict[str, list[str]] | None = None  # None: not scanned
        self._distinct: set[str] | None = None
        self._index: dict[str, list[int]] | None = None
        self._sets: dict[str, set[int]] = {}
        self._memo: dict[int, list[int]] = {}

    def distinct(self) -> set[str]:
        """Every distinct token of the article (shared: do not modify)."""
        if self._distinct is None:
            self._distinct = set()
            for text in self.texts:
                self._distinct.update(text.words)
        return self._distinct

    def bigrams(self) -> set[tuple[str, ...]]:
        """Every pair of adjacent tokens within a field."""
        found: set[tuple[str, ...]] = set()
        for text in self.texts:
            found.update(zip(text.words, text.words[1:], strict=False))
        return found

    def _prefixed(self, trigger: str) -> list[str]:
        if self.prefix_tokens is not None:
            return self.prefix_tokens.get(trigger, [])
        stem = trigger[:-1]
        return [t for t in self.distinct() if t.startswith(stem)]

    def _build_index(self) -> dict[str, list[int]]:
        index: dict[str, list[int]] = {}
        for f, text in enumerate(self.texts):
            for i, word in enumerate(text.words, f * STRIDE):
                where = index.get(word)
                if where is None:
                    index[word] = [i]
                else:
                    where.append(i)
        return index

    def positions(self, trigger: str) -> list[int]:
        """Sorted positions of the tokens a word or ``prefix*`` trigger matches."""
        index = self._index
        if index is None:
            index = self._index = self._build_index()
        if not trigger.endswith("*"):
            return index.get(trigger, [])
        found = index.get(trigger)
        if found is None:
            tokens = self._prefixed(trigger)
            found = index[trigger] = sorted(p for t in tokens for p in index[t])
        return found

    def position_set(self, trigger: str) -> set[int]:
        found = self._sets.get(trigger)
        if found is None:
            found = self._sets[trigger] = set(self.positions(trigger))
        return found

    def term_starts(self, term: TermLike) -> list[int]:
        """Positions where every token of ``term`` occurs consecutively, in its scope."""
        found = self._memo.get(term.key)
        if found is None:
            found = self._memo[term.key] = self._starts(term)
        return found

    def _starts(self, term: TermLike) -> list[int]:
        first = self.positions(term.triggers[0])
        starts = first[bisect_left(first, term.lo) : bisect_left(first, term.hi)]
        for offset, trigger in enumerate(term.triggers[1:], 1):
            if not starts:
                break
            where = self.position_set(trigger)
            starts = [p for p in starts if p + offset in where]
        return starts

    def span(self, first: int, last: int) -> Span:
        """The original characters of tokens ``first..last`` (inclusive positions)."""
        field = first >> 32
        start, end = self.texts[field].span(first & _LOCAL, last & _LOCAL)
        return Span(FIELDS[field], start, end)


def map_span(origin: list[int] | None, start: int, end: int) -> tuple[int, int]:
    """Map ``start:end`` of a folded text back to the original (``origin``: see normalize)."""
    if origin is None:
        return start, end
    first = origin[start]
    return first, (max(origin[end - 1] + 1, origin[end]) if end > start else first)
