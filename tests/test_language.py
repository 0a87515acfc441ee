"""An article's language: declared by the page, the item or the feed, else detected
(monitor.language), and what the feed parser reads of the declarations."""

from __future__ import annotations

import pytest

from monitor.language import article_language, detect_language, normalize_language
from monitor.models import Article, Entry
from monitor.sources.feed import parse_feed

GERMAN = ("Die Lieferketten der deutschen Autoindustrie stehen unter Druck, weil wichtige "
          "Bauteile aus Asien seit Wochen fehlen und die Hersteller ihre Produktion drosseln.")
ENGLISH = ("The supply chains of the car industry are under pressure because important parts "
           "from Asia have been missing for weeks and makers are cutting production.")
FRENCH = ("Les chaînes d'approvisionnement de l'industrie automobile sont sous pression, car "
          "des pièces importantes manquent depuis des semaines.")


@pytest.mark.parametrize(("code", "expected"), [
    ("en", "en"), ("en-GB", "en"), ("de_DE", "de"), (" FR ", "fr"), ("deu", "de"),
    ("ger", "de"), ("eng", "en"), ("iw", "he"), ("", None), (None, None), ("english", None),
    ("e1", None), ("x", None), ("zzz", None), ("é-fr", None),
], ids=lambda v: repr(v))
def test_codes_are_normalised_to_two_letters(code: str | None, expected: str | None) -> None:
    assert normalize_language(code) == expected


@pytest.mark.parametrize(("text", "expected"), [
    (GERMAN, "de"), (ENGLISH, "en"), (FRENCH, "fr"),
    ("Hallo", None),  # too few letters to tell
    ("12345 67890 !!! ??? 2026-03-01", None),
], ids=["de", "en", "fr", "short", "no-letters"])
def test_detector(text: str, expected: str | None) -> None:
    assert detect_language(text) == expected


def test_only_the_start_of_a_long_text_is_read() -> None:
    assert detect_language(ENGLISH * 30 + GERMAN * 300) == "en"


@pytest.mark.parametrize(("page", "item", "text", "expected"), [
    ("de", "en", ENGLISH, "de"),  # the page's declaration first
    (None, "fr-FR", ENGLISH, "fr"),  # then the feed's (item, else feed)
    (None, None, GERMAN, "de"),  # then the detector
    ("not a code", None, GERMAN, "de"),  # a declaration that is no code is ignored
    (None, None, "", None),  # nothing to tell from
], ids=["page", "feed", "detected", "bad-declaration", "unknown"])
def test_declaration_first_then_detection(page: str | None, item: str | None, text: str,
                                          expected: str | None) -> None:
    article = Article(url="u", title="", text=text, language=page)
    assert article_language(article, Entry(key="k", url="u", language=item)) == expected


RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<language>de-DE</language>
<item><guid>1</guid><title>Eins</title></item>
</channel></rss>"""
ATOM = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">
<title>t</title><id>f</id>
<entry><id>1</id><title>Un</title></entry>
<entry xml:lang="es"><id>2</id><title>Dos</title></entry>
</feed>"""
JSON = (b'{"version": "https://jsonfeed.org/version/1.1", "language": "en-US", "items": ['
        b'{"id": "1", "title": "One"}, {"id": "2", "title": "Zwei", "language": "de"}]}')
PLAIN = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><guid>1</guid><title>One</title></item></channel></rss>"""


@pytest.mark.parametrize(("document", "expected"), [
    (RSS, ["de-DE"]), (ATOM, ["fr", "es"]), (JSON, ["en-US", "de"]), (PLAIN, [None]),
], ids=["rss-language", "atom-xml-lang", "json-feed", "none"])
def test_feeds_declare_languages(document: bytes, expected: list[str | None]) -> None:
    entries = parse_feed(document, "https://example.org/feed").entries
    assert [e.language for e in entries] == expected


# -- the language drives lemmatisation --------------------------------------------------------


def test_the_detected_language_picks_the_dictionary() -> None:
    from monitor.rules import match_query

    undeclared = Article(url="u", title="", text=GERMAN)
    assert "Lieferketten" in GERMAN and "Lieferkette " not in GERMAN
    assert match_query("Lieferkette", undeclared) is None  # read as English: no lemma
    detected = Article(url="u", title="", text=GERMAN, language=article_language(undeclared))
    found = match_query("Lieferkette", detected)
    assert found is not None and found.terms[0].count == 1


def test_languages_without_a_dictionary_share_one_cache() -> None:
    from monitor.rules.lemmas import folds_for

    assert folds_for("it", False) is folds_for("pt-BR", False)
    assert folds_for("it", False) is not folds_for("de", False)
    assert folds_for("it", False)["risks"] == "risks"  # no English lemma in Italian text
    assert folds_for(None, False)["risks"] == "risk"  # unknown: English
