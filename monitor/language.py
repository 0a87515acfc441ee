"""The language of an article: what the page or feed declares, else a detector's guess.

Pure decision code: text in, a code out; it touches no network, database, file or clock
(py3langid's model is read from its package once, on the first guess).

``article_language`` takes, in order: the page's declaration (``<html lang>``, as
``extract`` reads it), the feed item's (``xml:lang``), the feed's (``<language>``, Atom
``xml:lang``, a JSON Feed's ``language``), then py3langid on the title and the first
``DETECT_CHARS`` characters of the text; a text with fewer than ``MIN_LETTERS`` letters,
or a guess less sure than ``MIN_CONFIDENCE``, gives None. Codes are normalised to their
2-letter ISO 639-1 base (``en-GB`` -> ``en``, ``deu`` -> ``de``); a declaration that is
not a language code is ignored.
"""

from __future__ import annotations

import threading
from typing import Any

from monitor.models import Article, Entry

__all__ = ["DETECT_CHARS", "article_language", "detect_language", "normalize_language"]

DETECT_CHARS = 4000
"""Characters of the text the detector reads (its cost grows with them; more adds little)."""

MIN_LETTERS = 20
"""Letters a text needs before the detector is asked (a few words are often misread)."""

MIN_CONFIDENCE = 0.5
"""Least normalised probability of a guess that is kept."""

_THREE_LETTER = {  # ISO 639-2 (bibliographic and terminological) codes feeds use
    "eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es",
    "rus": "ru", "ita": "it", "por": "pt", "nld": "nl", "dut": "nl", "zho": "zh",
    "chi": "zh", "jpn": "ja", "kor": "ko", "ara": "ar", "pol": "pl", "tur": "tr",
    "swe": "sv", "dan": "da", "nor": "no", "fin": "fi", "ukr": "uk", "ces": "cs",
    "cze": "cs", "ell": "el", "gre": "el", "heb": "he", "hin": "hi", "tha": "th",
}
_OLD = {"iw": "he", "in": "id", "ji": "yi"}  # withdrawn ISO 639-1 codes still in the wild

_identifier: Any = None
_load = threading.Lock()


def normalize_language(code: str | None) -> str | None:
    """The 2-letter base of a language tag (``en-GB``, ``de_DE``, ``FRA`` -> ``fr``), or
    None when ``code`` is not one."""
    base = (code or "").strip().replace("_", "-").split("-")[0].lower()
    if len(base) == 3:
        return _THREE_LETTER.get(base)
    if len(base) != 2 or not (base.isascii() and base.isalpha()):
        return None
    return _OLD.get(base, base)


def detect_language(text: str) -> str | None:
    """py3langid's guess at the language of ``text`` (its first ``DETECT_CHARS``
    characters), or None when the text is too short or the guess unsure."""
    sample = text[:DETECT_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return None
    code, confidence = _model().classify(sample)
    return normalize_language(code) if confidence >= MIN_CONFIDENCE else None


def article_language(article: Article, entry: Entry | None = None) -> str | None:
    """The language of ``article``: declared by the page, the feed item or the feed, else
    guessed from its title and text (see the module docstring)."""
    for declared in (article.language, entry.language if entry else None):
        if (code := normalize_language(declared)) is not None:
            return code
    return detect_language(f"{article.title}\n{article.text[:DETECT_CHARS]}")


def _model() -> Any:
    """py3langid's identifier with normalised probabilities, loaded once."""
    global _identifier  # noqa: PLW0603 - one model per process, loaded on first use
    with _load:
        if _identifier is None:
            from py3langid.langid import (  # type: ignore[import-untyped]
                MODEL_FILE,
                LanguageIdentifier,
            )

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier
