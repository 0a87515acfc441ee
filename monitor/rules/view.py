"""One article as the matcher sees it: tokens and their positions, regex texts.

Pure: no I/O. Built once per article (and per case mode), then shared by every rule.

Each field's tokens get positions ``field_index * STRIDE + i``, with fields in
``models.FIELDS`` order, so title and body (the default scope) are one contiguous range and
no phrase or NEAR can span two fields. Positions (with where each token starts in the
folded text, for spans) are indexed in one pass for every word the candidate rules use
(``prepare``); phrase starts and regex results are computed on first use and memoised for
the other rules. Hits are ``SpanTuple``s until a match is reported.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator
from functools import cache
from itertools import chain
from typing import Protocol

from monitor.models import FIELDS, Article
from monitor.rules.normalize import TokenText, is_plain, regex_text
from monitor.rules.regexes import REGEX_MAX_CHARS, prefilter_fold

__all__ = ["STRIDE", "ArticleView", "RegexTexts", "SpanTuple", "field_range"]

STRIDE = 1 << 32
_FIELD_INDEX = {name: i for i, name in enumerate(FIELDS)}

_NOWHERE: list[int] = []  # shared: never modified
_SHORT = 8  # a list this short is searched as fast as a set

SpanTuple = tuple[int, int, int]
"""A hit before it becomes a ``Span``: (index of the field in ``FIELDS``, start, end)."""


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

    triggers: tuple[str, ...]
    lo: int
    hi: int


class RegexTexts:
    """The regex texts of one article's fields (case mode does not change them)."""

    __slots__ = ("_article", "_prefiltered", "_texts")

    def __init__(self, article: Article) -> None:
        self._article = article
        self._texts: dict[int, tuple[str, list[int] | None]] = {}
        self._prefiltered: dict[int, str] = {}

    def __len__(self) -> int:
        return len(FIELDS)

    def get(self, field: int) -> tuple[str, list[int] | None]:
        """Folded text (capped at ``REGEX_MAX_CHARS``) and its offset map."""
        found = self._texts.get(field)
        if found is None:
            text, origin = regex_text(self._article.field(FIELDS[field]))
            found = (text[:REGEX_MAX_CHARS], origin)
            self._texts[field] = found
        return found

    def prefiltered(self, field: int) -> str:
        """The field's regex text folded for literal prefilters."""
        found = self._prefiltered.get(field)
        if found is None:
            found = self._prefiltered[field] = prefilter_fold(self.get(field)[0])
        return found

    def not_plain(self) -> list[int]:
        """The fields that are not plain (see ``normalize.is_plain``)."""
        return [f for f, name in enumerate(FIELDS) if not is_plain(self._article.field(name))]


class ArticleView:
    """Tokens of every field in one case mode, with memoised lookups for the rules.

    Positions are indexed only for the words the candidate rules need (``prepare``, one
    pass over the tokens in C for all of them); any other word is indexed on first use.
    """

    __slots__ = ("_chars", "_index", "_memo", "_prepared", "_sets", "raw", "regex", "texts")

    def __init__(self, article: Article, case_sensitive: bool, regex: RegexTexts) -> None:
        self.raw = tuple(article.field(name) for name in FIELDS)
        self.texts = [TokenText(text, case_sensitive) for text in self.raw]
        self.regex = regex
        self._index: dict[str, list[int]] = {}
        self._prepared: set[str] = set()  # words indexed (absent from ``_index``: nowhere)
        self._chars: dict[int, tuple[int, int]] = {}  # position -> start, end in ``folded``
        self._sets: dict[str, set[int]] = {}
        self._memo: dict[TermLike, list[int]] = {}  # by identity: terms are shared

    def tokens(self) -> Iterator[str]:
        """Every token of every field."""
        return chain.from_iterable(text.words for text in self.texts)

    def _prefixed(self, trigger: str) -> list[str]:
        """The distinct tokens that start with the stem of ``trigger`` (``stem*``)."""
        stem = trigger[:-1]
        found: dict[str, None] = {}
        for text in self.texts:
            folded = text.folded
            i = folded.find(stem)
            while i >= 0:
                if i == 0 or folded[i - 1] == " ":  # the start of a token
                    stop = folded.find(" ", i)
                    found[folded[i : stop if stop >= 0 else len(folded)]] = None
                i = folded.find(stem, i + 1)
        return list(found)

    def prepare(self, words: set[str], prefixes: Iterable[str] = ()) -> None:
        """Index the positions of ``words`` and of the tokens of ``prefixes`` in one pass."""
        wanted = words.union(*map(self._prefixed, prefixes)).difference(self._prepared)
        if not wanted:
            return
        self._prepared |= wanted
        index, chars = self._index, self._chars
        for f, text in enumerate(self.texts):
            base = f * STRIDE
            for word, i, start in text.locate(wanted.__contains__):
                found = index.get(word)
                if found is None:
                    index[word] = [base + i]
                else:
                    found.append(base + i)
                chars[base + i] = (start, start + len(word))

    def positions(self, trigger: str) -> list[int]:
        """Sorted positions of the tokens a word or ``prefix*`` trigger matches."""
        found = self._index.get(trigger)
        if found is not None:
            return found
        if trigger.endswith("*"):
            tokens = self._prefixed(trigger)
            self.prepare(set(tokens))
            found = self._index[trigger] = sorted(chain.from_iterable(map(self.positions, tokens)))
            return found
        if trigger not in self._prepared:
            self.prepare({trigger})
        return self._index.get(trigger, _NOWHERE)

    def position_set(self, trigger: str) -> set[int]:
        found = self._sets.get(trigger)
        if found is None:
            found = self._sets[trigger] = set(self.positions(trigger))
        return found

    def term_starts(self, term: TermLike) -> list[int]:
        """Positions where every token of ``term`` occurs consecutively, in its scope."""
        found = self._memo.get(term)
        if found is None:
            found = self._memo[term] = self._starts(term)
        return found

    def _starts(self, term: TermLike) -> list[int]:
        first = self.positions(term.triggers[0])
        if not first:
            return first
        starts = first[bisect_left(first, term.lo) : bisect_left(first, term.hi)]
        for offset, trigger in enumerate(term.triggers[1:], 1):
            if not starts:
                break
            where: Collection[int] = self.positions(trigger)
            if len(where) > _SHORT:
                where = self.position_set(trigger)
            starts = [p for p in starts if p + offset in where]
        return starts

    def span(self, first: int, last: int) -> SpanTuple:
        """``(field index, start, end)``: the original characters of tokens ``first..last``."""
        field = first >> 32
        start, end = self.texts[field].original(self._chars[first][0], self._chars[last][1])
        return field, start, end


def map_span(origin: list[int] | None, start: int, end: int) -> tuple[int, int]:
    """Map ``start:end`` of a folded text back to the original (``origin``: see normalize)."""
    if origin is None:
        return start, end
    first = origin[start]
    return first, (max(origin[end - 1] + 1, origin[end]) if end > start else first)
