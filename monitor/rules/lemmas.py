"""Canonical forms of words: the lemma in a language, then the American spelling.

Pure apart from reading a language's dictionary (``lexicon``: simplemma's, decoded once and
cached on disk) the first time a word of that language is folded. Results are cached per
word.

``canonical(word, lang)`` is what variant folding compares: two words fold together when
they share a form (``risks`` -> ``risk``, ``crises`` -> ``crisis``, ``Lieferketten`` ->
``lieferkette``, ``defence`` -> ``defense``, ``organisations`` -> ``organization``).

* Lemmas come from simplemma's dictionaries only (a dictionary lemmatiser: no stemming, no
  guessing from suffixes, so ``community``/``communism``, ``organization``/``organ`` and
  ``news``/``new`` stay apart), for the languages in ``LEMMA_LANGUAGES``.
* A lemma is kept only when it shares its first letters with the word: at least 3 and all
  but its last 2 (``policies`` -> ``policy``, ``Häuser`` -> ``haus``). Irregular forms that
  are words of their own are left alone: ``saw`` (not ``see``), ``found`` (not ``find``),
  ``left``, ``us`` (not ``we``), ``better``.
* British spellings become American (``data/spellings.py``) in English text.

Words arrive folded as the matcher folds them (case folded, accents stripped); ``source``
is the word as written where that differs, since dictionaries need the accents and the
letters (``Häuser``, ``Straßen``; not ``hauser``, ``strassen``). The result is folded the
same way as the words.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_left
from importlib.resources import files

from simplemma.strategies import DictionaryLookupStrategy

from monitor.rules.lexicon import SLOTS, Lexicon, LexiconFactory
from monitor.rules.normalize import fold_word

__all__ = ["DEFAULT_LANGUAGE", "LEMMA_LANGUAGES", "Folds", "base_language", "canonical",
           "fold_kind", "folds_for"]

DEFAULT_LANGUAGE = "en"
"""The language of an article whose language is unknown (neither declared nor detected,
see ``monitor.language``), and of a rule's query words unless the rule sets ``languages``."""

LEMMA_LANGUAGES = frozenset({"de", "en", "es", "fr", "ru"})
"""Languages whose inflections are folded by lemma."""

NO_LEMMAS = "-"
"""The language of the ``Folds`` shared by every language outside ``LEMMA_LANGUAGES``."""

MAX_CACHED = 200_000
"""Distinct words per language and case mode whose canonical form is remembered."""

MIN_SHARED = 3
"""Letters a lemma must share with the start of its word (see the module docstring)."""

_SPELLINGS = dict(  # British -> American, vendored from breame (see the file's header)
    line.split() for line in files("monitor.rules.data").joinpath("spellings.txt")
    .read_text(encoding="utf-8").splitlines() if line and not line.startswith("#"))


def _lemma_of(lexicon: Lexicon, source: str) -> str | None:
    """The dictionary's lemma of ``source``, or None when it is not in the dictionary."""
    wanted = hash(source.lower())
    i = bisect_left(lexicon.hashes, wanted)
    if i == len(lexicon.hashes) or lexicon.hashes[i] != wanted:
        return None
    return _LOOKUP.get_lemma(source, lexicon.lang)


_LEXICONS: dict[str, Lexicon] = {}


def base_language(code: str | None) -> str:
    """The language part of a code (``en-GB`` -> ``en``); ``DEFAULT_LANGUAGE`` if empty."""
    base = (code or "").strip().replace("_", "-").split("-")[0].lower()
    return base or DEFAULT_LANGUAGE


def _lexicon(lang: str) -> Lexicon:
    """The dictionary of a language of ``LEMMA_LANGUAGES``, read on first use."""
    lexicon = _LEXICONS.get(lang)
    if lexicon is None:
        lexicon = _LEXICONS[lang] = Lexicon(lang)
    return lexicon


_LOOKUP = DictionaryLookupStrategy(LexiconFactory(_lexicon))


def _lemma(source: str, lang: str) -> str | None:
    if lang not in LEMMA_LANGUAGES or not source.isalpha():
        return None
    return _lemma_of(_lexicon(lang), source)


def _unchanged(lower: str, lang: str) -> bool:
    """Whether an ASCII word, in lower case, is its own canonical form in ``lang``
    because no table can change it: it is not in the language's dictionary (or is no
    word of letters, which dictionaries skip) and, in English, not a British spelling.
    A shortcut past ``fold_kind`` for most words (names, rare words); when it says no,
    the word may still be its own form."""
    if lang not in LEMMA_LANGUAGES:
        return True
    if lang == "en" and lower in _SPELLINGS:
        return False
    if not lower.isalpha():
        return True
    hashes = _lexicon(lang).hashes
    wanted = hash(lower)
    i = bisect_left(hashes, wanted)
    return i == len(hashes) or hashes[i] != wanted


def _shares_stem(word: str, lemma: str) -> bool:
    shared = 0
    for a, b in zip(word, lemma, strict=False):
        if a != b:
            break
        shared += 1
    return shared >= MIN_SHARED and shared >= len(lemma) - 2


def _lemma_form(word: str, source: str, lang: str) -> str:
    """``word``'s lemma (folded) if the dictionary has one that passes ``_shares_stem``."""
    found = _lemma(source, lang)
    if found is None:
        return word
    lemma = fold_word(found)
    return lemma if lemma and _shares_stem(word, lemma) else word


def fold_kind(word: str, lang: str, source: str | None = None) -> tuple[str, str]:
    """``(canonical form, how)``: ``how`` is ``""`` (unchanged), ``lemma``, ``spelling`` or
    ``lemma+spelling``, for reports that say which variant fired."""
    lemma = _lemma_form(word, source or word, lang)
    if lang != "en":
        return lemma, "" if lemma == word else "lemma"
    if lemma != word and _SPELLINGS.get(word) == lemma:  # the dictionary knows the spelling
        return lemma, "spelling"
    if lemma != word:
        spelled = _SPELLINGS.get(lemma, lemma)
        return spelled, "lemma" if spelled == lemma else "lemma+spelling"
    spelled = _SPELLINGS.get(word, word)
    if spelled == word:
        return word, ""
    again = _lemma_form(spelled, spelled, lang)
    return again, "spelling" if again == spelled else "lemma+spelling"


def canonical(word: str, lang: str, source: str | None = None) -> str:
    """The canonical form of a folded ``word`` of language ``lang`` (uncached)."""
    return fold_kind(word, lang, source)[0]


def _recase(word: str, form: str) -> str:
    """``form`` (case folded) with the case of the case-sensitive ``word`` where they agree:
    ``Crises`` -> ``Crisis``, ``NGOs`` -> ``NGO``; ``form`` itself when that is unclear."""
    if form == word or not (word.isascii() and form.isascii()):
        return form
    shared = 0
    for a, b in zip(word.lower(), form, strict=False):
        if a != b:
            break
        shared += 1
    cased = word[:shared] + form[shared:]
    return cased.upper() if word.isupper() else cased


class Folds(dict[str, str]):
    """Word -> canonical form in one language and case mode, filled on first use (a word
    unchanged by folding maps to itself). Case-sensitive words keep their case."""

    def __init__(self, lang: str, case_sensitive: bool) -> None:
        super().__init__()
        self.lang, self.case_sensitive = lang, case_sensitive
        self._sources: dict[str, str] = {}

    def __missing__(self, word: str) -> str:
        if len(self) > MAX_CACHED:
            self.clear()
        form = self[word] = self._form(word, word)
        return form

    def forms_of(self, words: list[str]) -> list[str]:
        """The canonical form of each of ``words`` (one pass in C when all are known)."""
        found = list(map(self.get, words))
        if None in found:
            self._learn_plain([w for w, f in zip(words, found, strict=True) if f is None])
            found = list(map(self.__getitem__, words))
        return found  # type: ignore[return-value]  # no None left

    def _learn_plain(self, words: list[str]) -> None:
        """Remember, in one pass in C but for one comprehension, that the new ``words``
        that are ASCII, not British spellings (in English) and whose lower case has a 0
        in the dictionary's ``slots`` are their own form: most new words of an article
        (names, rare words). The others are left to ``__missing__`` (``_unchanged``
        sorts out the few whose slot another word took)."""
        if self.lang not in LEMMA_LANGUAGES:
            return
        if len(self) + len(words) > MAX_CACHED:
            self.clear()
        lower = list(map(str.lower, words))
        taken = map(_lexicon(self.lang).slots.__getitem__,
                    map((SLOTS - 1).__and__, map(hash, lower)))
        british = map((_SPELLINGS if self.lang == "en" else {}).__contains__, lower)
        plain = [w for w, a, t, b in zip(words, map(str.isascii, words), taken, british,
                                         strict=True)
                 if a and not t and not b]
        self.update(zip(plain, plain, strict=True))

    def of_source(self, word: str, source: str) -> str:
        """The canonical form of ``word`` written as ``source`` in the original text (accents
        kept: dictionaries need them)."""
        if source == word:
            return self[word]
        found = self._sources.get(source)
        if found is None:
            if len(self._sources) > MAX_CACHED:
                self._sources.clear()
            found = self._sources[source] = self._form(word, source)
        return found

    def _form(self, word: str, source: str) -> str:
        if source.isascii() and _unchanged(source.lower(), self.lang):
            return word
        plain = fold_word(word) if self.case_sensitive else word
        form = canonical(plain, self.lang, unicodedata.normalize("NFC", source))
        form = _recase(word, form) if self.case_sensitive else form
        return word if form == word else form


_FOLDS: dict[tuple[str, bool], Folds] = {}


def folds_for(lang: str | None, case_sensitive: bool) -> Folds:
    """The shared ``Folds`` of a language (any code: see ``base_language``) and case mode.

    Languages outside ``LEMMA_LANGUAGES`` fold nothing (no lemmas, no spellings), so they
    share one ``Folds``: an article detected as Italian costs no cache of its own."""
    base = base_language(lang)
    key = (base if base in LEMMA_LANGUAGES else NO_LEMMAS, case_sensitive)
    found = _FOLDS.get(key)
    if found is None:
        found = _FOLDS[key] = Folds(*key)
    return found

