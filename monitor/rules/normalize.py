"""Text normalisation and tokenisation shared by watch-rule queries and articles.

Pure: no I/O. The only state is a per-character cache of folded forms.

Every character is folded on its own (Unicode NFKC, case folding unless case-sensitive,
accents stripped after NFKD, typographic quotes and dashes made plain, soft hyphens and
zero-width joiners dropped), so each output character can be traced back to the input
character it came from. A token is a maximal run of letters and digits (``_`` and every
other punctuation character separate tokens), which is why ``supply-chain`` gives the two
tokens ``supply`` and ``chain`` and ``Act`` is never found inside ``Action``.

Chinese and Japanese (Han, Hiragana, Katakana: ``CJK``) are written without spaces, so
every such character is a token of its own, and a word is a phrase of its characters
(``供应链`` = ``供 应 链``), as Lucene's standard analyser does. A ``BREAK`` token stands
between two runs of them that only spaces or punctuation separate, so that a phrase never
spans two runs (``供应，链`` is not ``供应链``). Each pair of neighbours in a run is a
bigram (``TokenText.pairs``), which the trigger index uses to screen phrases of such
characters (as Lucene's CJK analyser indexes bigrams). Kana keep their voicing marks
(``パ`` is not ``ハ``).

Most text is ASCII or nearly so; both cases avoid a Python-level loop over characters.
When a character folds to more or fewer than one character (``ß`` -> ``ss``, the ligature
``ﬁ`` -> ``fi``, a combining accent -> nothing) an explicit offset map is kept instead.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress

__all__ = ["BREAK", "CJK", "Token", "TokenText", "fold_word", "is_cjk", "is_plain", "normalize",
           "regex_text", "token_text", "tokenize"]

_PLAIN = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2035\u02bc", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\u2e3a\u2e3b", "-"),
        **dict.fromkeys("\u00ad\u200c\u200d\u2060\ufeff", ""),
    }
)
MAX_CACHED_RUNS = 50_000
"""Distinct non-ASCII runs (quotes, accented words …) whose folded form is remembered."""

MAX_REPLACED = 24
"""Up to this many distinct non-ASCII characters are folded by ``str.replace``."""

_NONASCII = re.compile(r"[^\x00-\x7f]+")

CJK = ("\u3005-\u3007\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
       "\uf900-\ufaff\U00020000-\U0003134f")
"""Han ideographs, Hiragana and Katakana (a regex character range): one token per character."""

BREAK = "\ue000"
"""The token between two runs of ``CJK`` characters that no other word separates (a
private-use character: no folded text holds one otherwise)."""

_CJK_RUN = re.compile(f"[{CJK}]+")
_CJK_CHAR = re.compile(f"[{CJK}]")
_KANA_MARKS = frozenset("\u3099\u309a")  # combining voicing marks: ``パ`` stays ``パ``
_NO_PAIRS: frozenset[str] = frozenset()
_NOT_CJK_LEADS = bytes(b for b in range(256) if not (0xE3 <= b <= 0xE9 or b in (0xEF, 0xF0)))
_ASCII_BYTES = bytes(range(128))


@dataclass(frozen=True, slots=True)
class Token:
    """One word token: its normalised ``text`` and ``start:end`` in the original text."""

    text: str
    start: int
    end: int


def _non_ascii(text: str) -> set[str]:
    """The distinct non-ASCII characters of ``text`` (fast: drops ASCII bytes of its UTF-8)."""
    raw = text.encode("utf-8", "surrogatepass").translate(None, _ASCII_BYTES)
    return set(raw.decode("utf-8", "surrogatepass"))


_PLAIN_CHARS = frozenset(map(chr, _PLAIN))
_NOT_PLAIN = re.compile("[^\\x00-\\x7f" + "".join(map(re.escape, sorted(_PLAIN_CHARS))) + "]")


def is_plain(text: str) -> bool:
    """Whether every non-ASCII character of ``text`` is a typographic quote or dash or an
    invisible joiner (one that ``_PLAIN`` makes ASCII or drops)."""
    return text.isascii() or _NOT_PLAIN.search(text) is None


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or unicodedata.category(ch) == "Mc"


def is_cjk(ch: str) -> bool:
    """Whether the character ``ch`` is a ``CJK`` one (a token on its own)."""
    return _CJK_CHAR.fullmatch(ch) is not None


def _strip_accents(text: str) -> str:
    """``text`` without combining marks, except kana voicing marks on a kana (a lone one,
    as after a half-width ``ﾊ``, goes too)."""
    kept: list[str] = []
    for c in unicodedata.normalize("NFKD", text):
        if unicodedata.category(c) != "Mn" or (c in _KANA_MARKS and kept):
            kept.append(c)
    return unicodedata.normalize("NFC", "".join(kept))


def _finish(text: str, strip_accents: bool, words_only: bool) -> str:
    if strip_accents:
        text = _strip_accents(text)
    text = text.translate(_PLAIN)
    if words_only:
        text = "".join(c if _is_word_char(c) else " " for c in text)
    return text


def _fold_char(ch: str, fold_case: bool, strip_accents: bool, words_only: bool) -> str:
    """The folded form of one character (possibly empty or several characters).

    Case folding is applied last, character by character, to the case-sensitive form; so
    the case-insensitive form of any text is a function of its case-sensitive form, with the
    same token boundaries (the matcher screens case-sensitive rules with the
    case-insensitive index and relies on this).
    """
    out = _finish(unicodedata.normalize("NFKC", ch), strip_accents, words_only)
    if fold_case:
        out = "".join(
            _finish(unicodedata.normalize("NFKC", c.casefold()), strip_accents, words_only)
            for c in out
        )
    return out


class _Table(dict[int, str]):
    """Code point -> folded string, filled on first use (``str.translate`` calls it)."""

    def __init__(self, folder: _Folder) -> None:
        super().__init__()
        self._folder = folder

    def __missing__(self, code: int) -> str:
        value = self._folder.fold_char(chr(code))
        self[code] = value
        return value


class _Runs(dict[str, str]):
    """Non-ASCII run -> folded run, filled on first use and cleared when it grows large."""

    def __init__(self, table: _Table) -> None:
        super().__init__()
        self._table = table

    def __missing__(self, run: str) -> str:
        if len(self) > MAX_CACHED_RUNS:
            self.clear()
        value = self[run] = run.translate(self._table)
        return value


class _Folder:
    """One folding mode; ``fold`` returns the folded text and its offset map (None: identity)."""

    def __init__(self, *, fold_case: bool, strip_accents: bool, words_only: bool) -> None:
        self._modes = (fold_case, strip_accents, words_only)
        self._table = _Table(self)
        self._runs = _Runs(self._table)
        self._ascii = bytes(self._ascii_byte(b) for b in range(256))
        self._identity_ascii = self._ascii == bytes(range(256))
        self._nonunit: set[str] = set()
        self._nonunit_re: re.Pattern[str] | None = None

    def _ascii_byte(self, b: int) -> int:
        return ord(_fold_char(chr(b), *self._modes)) if b < 128 else b

    def fold_char(self, ch: str) -> str:
        value = _fold_char(ch, *self._modes)
        if len(value) != 1:
            self._nonunit.add(ch)
            self._nonunit_re = None
        return value

    def fold(self, text: str) -> tuple[str, list[int] | None]:
        """Fold ``text``; the list maps each output index to its input index when lengths differ.

        The list has one more entry than the output: ``len(text)``.
        """
        if text.isascii():
            return (text if self._identity_ascii else self._ascii_stage(text)), None
        values = {ch: self._table[ord(ch)] for ch in _non_ascii(text)}
        if any(len(v) != 1 for v in values.values()):
            return self._fold_with_origin(text)
        if len(values) <= MAX_REPLACED and self._stable(values):
            for ch, value in values.items():
                text = text.replace(ch, value)
            return self._ascii_stage(text), None
        return self._ascii_stage(_NONASCII.sub(self._fold_run, text)), None

    def _stable(self, values: dict[str, str]) -> bool:
        """Whether replacing one character after another gives the per-character result."""
        return all(ord(d) < 128 or self._table[ord(d)] == d for v in values.values() for d in v)

    def _fold_run(self, m: re.Match[str]) -> str:
        return self._runs[m.group()]

    def _ascii_stage(self, text: str) -> str:
        if self._identity_ascii:
            return text
        raw = text.encode("utf-8", "surrogatepass").translate(self._ascii)
        return raw.decode("utf-8", "surrogatepass")

    def _fold_with_origin(self, text: str) -> tuple[str, list[int]]:
        if self._nonunit_re is None:
            self._nonunit_re = re.compile("[" + "".join(map(re.escape, self._nonunit)) + "]")
        parts: list[str] = []
        origin: list[int] = []
        last = 0
        for m in self._nonunit_re.finditer(text):
            i = m.start()
            parts.append(text[last:i].translate(self._table))
            origin.extend(range(last, i))
            piece = self._table[ord(text[i])]
            parts.append(piece)
            origin.extend([i] * len(piece))
            last = i + 1
        parts.append(text[last:].translate(self._table))
        origin.extend(range(last, len(text) + 1))  # one past the end: a sentinel
        return "".join(parts), origin


_WORDS = {cs: _Folder(fold_case=not cs, strip_accents=True, words_only=True) for cs in (0, 1)}
_NORMS = {cs: _Folder(fold_case=not cs, strip_accents=True, words_only=False) for cs in (0, 1)}
_REGEX = _Folder(fold_case=False, strip_accents=False, words_only=False)


def _whole_word(folded: str, word: str, start: int) -> int:
    """Where ``word`` next occurs in ``folded`` from ``start`` as a whole word, or -1."""
    size, length = len(folded), len(word)
    start = folded.find(word, start)
    while start >= 0 and ((start > 0 and folded[start - 1] != " ")
                          or (start + length < size and folded[start + length] != " ")):
        start = folded.find(word, start + 1)
    return start


def _has_cjk(text: str) -> bool:
    """Whether ``text`` holds a ``CJK`` character (first a fast look at its UTF-8 for the
    lead bytes of every ``CJK`` range, which other scripts' letters lack)."""
    raw = text.encode("utf-8", "surrogatepass")
    return bool(raw.translate(None, _NOT_CJK_LEADS)) and _CJK_CHAR.search(text) is not None


def _split_cjk(folded: str, origin: list[int] | None
               ) -> tuple[str, list[int], frozenset[str]]:
    """``folded`` with a space before every ``CJK`` character and a ``BREAK`` between two
    runs of them that no other word separates; its offset map; the bigrams of the runs."""
    parts: list[str] = []
    where: list[int] = []  # output index -> index in ``folded``
    pairs: set[str] = set()
    last = 0
    runs = list(_CJK_RUN.finditer(folded))
    for m, after in zip(runs, [*runs[1:], None], strict=True):
        start, end = m.span()
        run = m.group()
        parts += (folded[last:start], " ", " ".join(run))
        where.extend(range(last, start))
        each = [0] * (2 * len(run))  # a space and a character, both from that character
        each[0::2] = each[1::2] = range(start, end)
        where.extend(each)
        if after is not None and folded[end : after.start()].isspace():  # no word between
            parts.append(" " + BREAK + " ")
            where += (end, end, end)
        else:
            parts.append(" ")
            where.append(end)
        if len(run) > 1:
            pairs.update(map(operator.add, run, run[1:]))
        last = end
    parts.append(folded[last:])
    where.extend(range(last, len(folded) + 1))  # one past the end: a sentinel
    if origin is not None:
        where = list(map(origin.__getitem__, where))
    return "".join(parts), where, frozenset(pairs)


class TokenText:
    """A text folded for matching: ``folded`` is word characters and spaces; ``words``;
    ``pairs``, the bigrams of its runs of ``CJK`` characters."""

    __slots__ = ("folded", "origin", "pairs", "words")

    def __init__(self, text: str, case_sensitive: bool) -> None:
        folded, origin = _WORDS[case_sensitive].fold(text)
        self.pairs = _NO_PAIRS
        if not folded.isascii() and _has_cjk(folded):
            folded, origin, self.pairs = _split_cjk(folded, origin)
        self.folded, self.origin = folded, origin
        self.words = folded.split()

    def locate(self, wanted: Callable[[str], bool]) -> list[tuple[str, int, int]]:
        """``(word, its index in words, its start in folded)`` of the words ``wanted`` takes.

        One pass in C picks the words; each one found is then looked up in ``folded`` after
        the previous one (no word in between is the same word, so its first occurrence as a
        whole word there is the one).
        """
        words, folded = self.words, self.folded
        found = []
        start = 0
        for i in compress(range(len(words)), map(wanted, words)):
            word = words[i]
            start = _whole_word(folded, word, start)
            assert start >= 0, word  # separators are single spaces: ``words`` are in ``folded``
            found.append((word, i, start))
            start += len(word)
        return found

    def original(self, start: int, end: int) -> tuple[int, int]:
        """Map ``start:end`` (``end > start``) of ``folded`` back to the original text."""
        origin = self.origin
        if origin is None:
            return start, end
        # the end takes in characters folded to nothing (a trailing combining accent)
        return origin[start], max(origin[end - 1] + 1, origin[end])


def token_text(text: str, *, case_sensitive: bool = False) -> TokenText:
    """``text`` folded and split into words, for the matcher."""
    return TokenText(text, case_sensitive)


def tokenize(text: str, *, case_sensitive: bool = False) -> list[Token]:
    """The word tokens of ``text`` with their spans in the original ``text``."""
    folded = TokenText(text, case_sensitive)
    return [Token(w, *folded.original(start, start + len(w)))
            for w, _, start in folded.locate(bool)]


def normalize(text: str, *, case_sensitive: bool = False) -> str:
    """``text`` folded as the matcher sees it, punctuation kept (quotes and dashes plain)."""
    return _NORMS[case_sensitive].fold(text)[0]


def regex_text(text: str) -> tuple[str, list[int] | None]:
    """The text a ``/regex/`` searches (NFKC, quotes and dashes plain) and its offset map."""
    return _REGEX.fold(text)


def fold_word(word: str, *, case_sensitive: bool = False) -> str:
    """``word`` folded as a token is; ``""`` unless it is exactly one token."""
    folded = _WORDS[case_sensitive].fold(word)[0].split()
    return folded[0] if len(folded) == 1 else ""
