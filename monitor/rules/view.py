"""One article as the matcher sees it: tokens and their positions, regex texts.

Pure: no I/O. Built once per article (and per case mode), then shared by every rule.

Each field's tokens get positions ``field_index * STRIDE + i``, with fields in
``models.FIELDS`` order, so title and body (the default scope) are one contiguous range and
no phrase or NEAR can span two fields. Positions (with where each token starts in the
folded text, for spans) are indexed in one pass for every word the candidate rules use
(``prepare``); phrase starts and regex results are computed on first use and memoised for
the other rules. Hits are ``SpanTuple``s until a match is reported.

Each distinct word also has a canonical form in the article's language (``lemmas``; from
its original spelling when that has accents); a folded slot key (``variants``) takes the
words whose form, as written or canonical, is one of its forms.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from functools import cache
from itertools import chain, compress
from operator import ne

from monitor.models import FIELDS, Article
from monitor.rules.lemmas import folds_for
from monitor.rules.normalize import CJK, TokenText, fold_word, is_plain, regex_text
from monitor.rules.regexes import REGEX_MAX_CHARS, prefilter_fold
from monitor.rules.variants import EXACT_MARK, FORMS_SEPARATOR, UPPER_MARK, is_pattern

__all__ = ["STRIDE", "ArticleView", "RegexTexts", "SpanTuple", "field_range"]

STRIDE = 1 << 32
_FIELD_INDEX = {name: i for i, name in enumerate(FIELDS)}

_NOWHERE: list[int] = []  # shared: never modified
_SHORT = 8  # a list this short is searched as fast as a set
_ACCENTED_RUN = re.compile(  # a word with a non-ASCII letter (CJK characters are not words)
    f"[^\\W{CJK}]*[^\\W\\x00-\\x7f{CJK}][^\\W{CJK}]*")

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


class RegexTexts:
    """The regex texts of one article's fields (case mode does not change them)."""

    __slots__ = ("_article", "_plain", "_prefiltered", "_texts")

    def __init__(self, article: Article) -> None:
        self._article = article
        self._texts: dict[int, tuple[str, list[int] | None]] = {}
        self._prefiltered: dict[int, str] = {}
        self._plain: tuple[bool, ...] | None = None

    def __len__(self) -> int:
        return len(FIELDS)

    @property
    def article(self) -> Article:
        """The article (its metadata, for ``lang:`` and ``published:``)."""
        return self._article

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

    def plain(self) -> tuple[bool, ...]:
        """Whether each field is plain (see ``normalize.is_plain``), worked out once."""
        if self._plain is None:
            self._plain = tuple(is_plain(self._article.field(name)) for name in FIELDS)
        return self._plain

    def not_plain(self) -> list[int]:
        """The fields that are not plain (see ``normalize.is_plain``)."""
        return [f for f, plain in enumerate(self.plain()) if not plain]


class ArticleView:
    """Tokens of every field in one case mode, with memoised lookups for the rules.

    Positions are indexed only for the words the candidate rules need (``prepare``, one
    pass over the tokens in C for all of them); any other word is indexed on first use.
    Slot keys (see ``variants``) resolve to the positions of the words they take.
    """

    __slots__ = ("_chars", "_distinct", "_index", "_memo", "_prepared", "_rev", "_sets",
                 "_words", "folds", "raw", "regex", "texts")

    def __init__(self, article: Article, case_sensitive: bool, regex: RegexTexts) -> None:
        self.raw = tuple(article.field(name) for name in FIELDS)
        self.texts = [TokenText(text, case_sensitive) for text in self.raw]
        self.regex = regex
        self.folds = folds_for(article.language, case_sensitive)
        self._words: dict[str, list[int]] = {}  # word as written -> positions
        self._prepared: set[str] = set()  # words indexed (absent from ``_words``: nowhere)
        self._index: dict[str, list[int]] = {}  # slot key -> positions
        self._chars: dict[int, tuple[int, int]] = {}  # position -> start, end in ``folded``
        self._sets: dict[str, set[int]] = {}
        self._memo: dict[tuple[str, ...], list[int]] = {}  # slot keys -> phrase starts
        self._rev: dict[str, list[str]] | None = None
        self._distinct: set[str] | None = None

    def tokens(self) -> tuple[set[str], Collection[str]]:
        """Every token of every field (and the bigrams of its runs of CJK characters), and
        the canonical forms that differ from the tokens having them (together, what fires
        triggers)."""
        tokens = self._tokens()
        pairs = [text.pairs for text in self.texts if text.pairs]
        return (tokens.union(*pairs) if pairs else tokens), self._reverse().keys()

    def _tokens(self) -> set[str]:
        if self._distinct is None:
            self._distinct = set(chain.from_iterable(text.words for text in self.texts))
        return self._distinct

    def has(self, key: str) -> bool:
        """Whether some token of the article, or a canonical form of one, is one of the
        forms of a folded word's slot key (a quick test before looking for positions)."""
        tokens, rev = self._distinct or self._tokens(), self._rev or self._reverse()
        if FORMS_SEPARATOR not in key:
            return key in tokens or key in rev
        return any(f in tokens or f in rev for f in key.split(FORMS_SEPARATOR))

    def forms(self) -> list[str]:
        """The canonical forms that differ from the tokens having them."""
        return list(self._reverse())

    def _reverse(self) -> dict[str, list[str]]:
        """Canonical form -> the tokens that have it, where it differs from them."""
        if self._rev is not None:
            return self._rev
        words = list(self._tokens())
        forms = self.folds.forms_of(words)
        canon = dict(compress(zip(words, forms, strict=True), map(ne, words, forms)))
        canon.update(self._accented())
        rev: dict[str, list[str]] = {}
        for word, form in canon.items():
            if form != word:
                rev.setdefault(form, []).append(word)
        self._rev = rev
        return rev

    def _accented(self) -> dict[str, str]:
        """Canonical forms of the words written with accents (from the original spelling)."""
        found: dict[str, str] = {}
        for raw, plain in zip(self.raw, self.regex.plain(), strict=True):
            if plain:
                continue
            for run in set(_ACCENTED_RUN.findall(raw)):
                word = fold_word(run, case_sensitive=self.folds.case_sensitive)
                if word:
                    found[word] = self.folds.of_source(word, run)
        return found

    def _starting(self, stem: str) -> list[str]:
        """The distinct tokens that start with ``stem``."""
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

    def _matching(self, pattern: str, folded: bool) -> list[str]:
        """Tokens fitting a prefix or wildcard ``pattern`` (or whose form does, if ``folded``)."""
        stem = pattern.split("?")[0].rstrip("*")
        fits = _fitter(pattern)
        words = [w for w in self._starting(stem) if fits(w)]
        if folded:
            rev = self._reverse()
            words += [w for form in rev if form.startswith(stem) and fits(form) for w in rev[form]]
        return list(dict.fromkeys(words))

    def _key_words(self, key: str) -> list[str]:
        """The tokens a slot key takes (see ``variants``)."""
        if key[0] == UPPER_MARK:
            return [key[1:]]
        if key[0] == EXACT_MARK:
            rest = key[1:]
            return self._matching(rest, False) if is_pattern(rest) else [rest]
        if is_pattern(key):
            return self._matching(key, True)
        rev = self._reverse()
        forms = key.split(FORMS_SEPARATOR)
        return forms + [w for form in forms for w in rev.get(form, ())]

    def prepare(self, words: set[str], keys: Iterable[str] = ()) -> None:
        """Index, in one pass, the positions of the tokens that the single-form slot keys
        ``words`` and any other slot ``keys`` take."""
        rev = self._reverse()
        wanted = set(words)
        for form in wanted & rev.keys():
            wanted.update(rev[form])
        for key in keys:
            wanted.update(self._key_words(key))
        self._locate(wanted)

    def _locate(self, wanted: set[str]) -> None:
        wanted = wanted.intersection(self._tokens()).difference(self._prepared)
        if not wanted:
            return
        self._prepared |= wanted
        index, chars = self._words, self._chars
        for f, text in enumerate(self.texts):
            base = f * STRIDE
            for word, i, start in text.locate(wanted.__contains__):
                found = index.get(word)
                if found is None:
                    index[word] = [base + i]
                else:
                    found.append(base + i)
                chars[base + i] = (start, start + len(word))

    def _written(self, word: str) -> list[int]:
        """Sorted positions of the token ``word`` as written."""
        if word not in self._prepared:
            if word not in self._tokens():
                return _NOWHERE
            self._locate({word})
        return self._words.get(word, _NOWHERE)

    def positions(self, key: str) -> list[int]:
        """Sorted positions of the tokens a slot key takes."""
        found = self._index.get(key)
        if found is None:
            if key[0] == UPPER_MARK:
                found = [p for p in self._written(key[1:]) if self._capitals(p)]
            elif key.isalnum() and key not in self._reverse():  # the common case: one word
                found = self._written(key)
            else:
                words = self._key_words(key)
                self._locate(set(words))
                found = (self._written(words[0]) if len(words) == 1
                         else sorted(chain.from_iterable(map(self._written, words))))
            self._index[key] = found
        return found

    def _capitals(self, position: int) -> bool:
        """Whether the token at ``position`` is written in capitals."""
        field = position >> 32
        start, end = self.texts[field].original(*self._chars[position])
        return self.raw[field][start:end].isupper()

    def position_set(self, key: str) -> set[int]:
        found = self._sets.get(key)
        if found is None:
            found = self._sets[key] = set(self.positions(key))
        return found

    def term_starts(self, keys: tuple[str, ...]) -> list[int]:
        """Sorted positions where the slots ``keys`` occur consecutively (in one field)."""
        found = self._memo.get(keys)
        if found is None:
            found = self._memo[keys] = self._starts(keys)
        return found

    def _starts(self, keys: tuple[str, ...]) -> list[int]:
        starts = self.positions(keys[0])
        for offset, key in enumerate(keys[1:], 1):
            if not starts:
                break
            where: Collection[int] = self.positions(key)
            if len(where) > _SHORT:
                where = self.position_set(key)
            starts = [p for p in starts if p + offset in where]
        return starts

    def span(self, first: int, last: int) -> SpanTuple:
        """``(field index, start, end)``: the original characters of tokens ``first..last``."""
        field = first >> 32
        start, end = self.texts[field].original(self._chars[first][0], self._chars[last][1])
        return field, start, end


@cache
def _fitter(pattern: str) -> Callable[[str], bool]:
    """Whether a token fits a prefix (``pre*``) or wildcard (``de?ense``) pattern."""
    if "?" not in pattern:
        stem = pattern.rstrip("*")
        return lambda word: word.startswith(stem)
    regex = re.compile(".".join(map(re.escape, pattern.split("?"))))
    return lambda word: regex.fullmatch(word) is not None


def map_span(origin: list[int] | None, start: int, end: int) -> tuple[int, int]:
    """Map ``start:end`` of a folded text back to the original (``origin``: see normalize)."""
    if origin is None:
        return start, end
    first = origin[start]
    return first, (max(origin[end - 1] + 1, origin[end]) if end > start else first)
