"""Variant folding: inflections by lemma, British/American spellings, compounds, acronyms,
the exact form (``=``, ``match = "exact"``), and the ``?`` wildcard; with the negatives
that must stay apart and highlights on the original characters."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.models import Article
from monitor.rules import Rule, Term, compile_rules, match_query, parse_query
from monitor.rules.lemmas import base_language, canonical, fold_kind
from monitor.rules.variants import Folding, term_variants


def article(body: str, title: str = "", language: str | None = None) -> Article:
    return Article(url="https://example.org/news/1", title=title, text=body, language=language)


def fired(query: str, body: str, language: str | None = None, **options: bool
          ) -> list[str] | None:
    """The original text of every hit of a one-query match, or None when it is false."""
    found = match_query(query, article(body, language=language), **options)
    if found is None:
        return None
    return sorted(body[s.start : s.end] for t in found.terms for s in t.spans)


# Each row: the query, the article text, the original text of every hit (None: no match).
INFLECTION = [
    ("plural", "risk", "two risks", ["risks"]),
    ("plural-in-query", "risks", "one risk", ["risk"]),
    ("possessive", "risk", "the risk's size", ["risk"]),
    ("possessive-in-query", "risk's", "many risks", ["risks"]),
    ("contraction-is-not-possessive", "it's", "it was", None),
    ("irregular-plural", "crisis", "two crises", ["crises"]),
    ("irregular-plural-in-query", "crises", "a crisis", ["crisis"]),
    ("ies-plural", "policy", "new policies", ["policies"]),
    ("verb", "act", "they acted", ["acted"]),
    ("phrase", '"supply chain risk"', "Supply chain risks grow", ["Supply chain risks"]),
    ("phrase-middle", '"supply chain risk"', "supply chains risk", ["supply chains risk"]),
    # negatives: a dictionary lemmatiser, not a stemmer
    ("community-communism", "community", "communism", None),
    ("communism-community", "communism", "the community", None),
    ("organization-organ", "organization", "an organ", None),
    ("organ-organization", "organ", "an organization", None),
    ("news-new", "news", "a new law", None),
    ("new-news", "new", "the news", None),
    ("riskiness", '"supply chain risk"', "supply chain riskiness", None),
    ("not-adjacent", '"supply chain risk"', "supply chains at risk", None),
    ("irregular-verb-is-a-word", "saw", "we see", None),
    ("pronoun", "us", "we", None),
]

SPELLING = [
    ("defence", '"Defense Production Act"', "the Defence Production Act",
     ["Defence Production Act"]),
    ("defense", "defence", "defense budget", ["defense"]),
    ("organisation", "organization", "organisations", ["organisations"]),
    ("organization", "organisation", "the organization", ["organization"]),
    ("licence", "license", "a licence", ["licence"]),
    ("programme", "program", "two programmes", ["programmes"]),
    ("centre", "center", "city centre", ["centre"]),
    ("analyse", "analyze", "we analysed it", ["analysed"]),
    ("labour", "labor", "Labour market", ["Labour"]),
    ("labour-phrase", '"labor market"', "labour markets", ["labour markets"]),
]

COMPOUND = [
    ("hyphenated", '"supply chain"', "supply-chain risk", ["supply-chain"]),
    ("closed", '"supply chain"', "supplychain risk", ["supplychain"]),
    ("closed-pair", '"supply chain risk"', "supplychain risk", ["supplychain risk"]),
    ("closed-pair-inflected", '"supply chain risk"', "supplychain risks",
     ["supplychain risks"]),
    ("closed-whole", '"supply chain risk"', "supplychainrisk", ["supplychainrisk"]),
    ("closed-in-query", "supply-chain", "supplychain", ["supplychain"]),
    ("covid", "COVID-19", "covid19 cases", ["covid19"]),
    ("covid-open", "covid19", "COVID-19 cases", ["COVID-19"]),
    ("covid-spaced", "covid19", "covid 19 cases", ["covid 19"]),
    ("email", "e-mail", "an email", ["email"]),
    ("closed-not-inside", '"supply chain"', "supplychains2", None),
]

ACRONYM = [
    ("dotted-capitals", "U.S.", "the US economy", ["US"]),
    ("dotted-dotted", "U.S.", "the U.S. economy", ["U.S"]),
    ("dotted-not-lowercase", "U.S.", "tell us more", None),
    ("dotted-not-mixed", "U.S.", "Us and them", None),
    ("undotted-dotted", "US", "the U.S. economy", ["U.S"]),
    ("esg-dotted", "ESG", "E.S.G. funds", ["E.S.G"]),
    ("dotted-esg", "E.S.G.", "ESG funds", ["ESG"]),
    ("dotted-esg-not-lowercase", "E.S.G.", "esg funds", None),
    ("in-phrase", '"U.S. trade"', "US trade", ["US trade"]),
]

WILDCARD = [
    ("defence", "defen?e", "defence", ["defence"]),
    ("defense", "defen?e", "defense", ["defense"]),
    ("not-defensive", "defen?e", "defensive", None),
    ("one-character", "defen?e", "defene", None),
    ("two", "col??r", "colour", ["colour"]),
    ("in-phrase", '"defen?e budget"', "the defence budget", ["defence budget"]),
    ("plural-folded", "defen?e", "defences", ["defences"]),
    ("organi?ation", "organi?ation", "organisation or organization",
     ["organisation", "organization"]),
    ("exact-no-plural", "=defen?e", "defences", None),
]


@pytest.mark.parametrize(("query", "body", "hits"), [r[1:] for r in INFLECTION],
                         ids=[r[0] for r in INFLECTION])
def test_inflections_fold_by_lemma(query: str, body: str, hits: list[str] | None) -> None:
    assert fired(query, body) == hits


@pytest.mark.parametrize(("query", "body", "hits"), [r[1:] for r in SPELLING],
                         ids=[r[0] for r in SPELLING])
def test_british_and_american_spellings_fold(query: str, body: str,
                                             hits: list[str] | None) -> None:
    assert fired(query, body) == hits


@pytest.mark.parametrize(("query", "body", "hits"), [r[1:] for r in COMPOUND],
                         ids=[r[0] for r in COMPOUND])
def test_open_hyphenated_and_closed_compounds_fold(query: str, body: str,
                                                   hits: list[str] | None) -> None:
    assert fired(query, body) == hits


@pytest.mark.parametrize(("query", "body", "hits"), [r[1:] for r in ACRONYM],
                         ids=[r[0] for r in ACRONYM])
def test_acronyms_fold_with_and_without_dots(query: str, body: str,
                                             hits: list[str] | None) -> None:
    assert fired(query, body) == hits


@pytest.mark.parametrize(("query", "body", "hits"), [r[1:] for r in WILDCARD],
                         ids=[r[0] for r in WILDCARD])
def test_question_mark_is_one_character(query: str, body: str, hits: list[str] | None) -> None:
    assert fired(query, body) == hits


# -- other languages: the article's language for its words, the rule's for the query's ------

LANGUAGES = [
    ("de-plural", "Lieferkette", "Die Lieferketten sind lang", "de", ["Lieferketten"]),
    ("de-region-code", "Lieferkette", "Die Lieferketten", "de-AT", ["Lieferketten"]),
    ("de-verb", "kaufen", "Er kaufte ein Haus", "de", ["kaufte"]),
    ("fr-accents", "économique", "les politiques économiques", "fr", ["économiques"]),
    ("fr-verb", "aller", "nous allons", "fr", ["allons"]),
    ("es-plural", "política", "las políticas", "es", ["políticas"]),
    ("es-verb", "comprar", "ella compró", "es", ["compró"]),
    ("ru-plural", "кризис", "кризисы растут", "ru", ["кризисы"]),
    ("ru-verb", "работать", "он работает", "ru", ["работает"]),
    ("undeclared-is-english", "risk", "risks", None, ["risks"]),
    ("english-rules-not-applied-to-german", "Lieferkette", "Die Lieferketten", "en", None),
    ("unsupported-language-literal", "risk", "risks", "ja", None),
]


@pytest.mark.parametrize(("query", "body", "language", "hits"), [r[1:] for r in LANGUAGES],
                         ids=[r[0] for r in LANGUAGES])
def test_article_words_fold_in_the_articles_language(query: str, body: str,
                                                     language: str | None,
                                                     hits: list[str] | None) -> None:
    assert fired(query, body, language) == hits


def test_query_words_fold_in_the_rules_languages() -> None:
    german = article("ein Haus", language="de")
    english = compile_rules([Rule("en", "Häuser")])
    both = compile_rules([Rule("de", "Häuser", languages=("en", "de"))])
    assert english.match(german) == []
    (found,) = both.match(german)
    assert found.terms[0].spans[0].start == 4


# -- exact on request ----------------------------------------------------------------------

EXACT = [
    ("phrase-not-plural", '="supply chain risk"', "supply chain risks", None),
    ("phrase-literal", '="supply chain risk"', "Supply-Chain Risk", ["Supply-Chain Risk"]),
    ("phrase-not-closed", '="supply chain"', "supplychain", None),
    ("word-not-plural", "=risk", "risks", None),
    ("word-literal", "=risk", "the risk", ["risk"]),
    ("not-spelling", "=defense", "defence", None),
    ("dotted-literal-as-before", "=U.S.", "u s", ["u s"]),
    ("mixed", '=risks "supply chain"', "risks of a supplychain", ["risks", "supplychain"]),
    ("scoped", "title:=risk", "risks", None),
    ("negated", "tariff -=risks", "tariff risk", ["tariff"]),
]


@pytest.mark.parametrize(("query", "body", "hits"), [r[1:] for r in EXACT],
                         ids=[r[0] for r in EXACT])
def test_equals_sign_matches_literally(query: str, body: str, hits: list[str] | None) -> None:
    assert fired(query, body) == hits


def test_exact_rule_matches_every_term_literally() -> None:
    rules = compile_rules([Rule("folded", '"supply chain risk"'),
                           Rule("exact", '"supply chain risk"', exact=True),
                           Rule("exact-word", "crisis", exact=True)])
    assert [m.rule for m in rules.match(article("supply chain risks and crises"))] == ["folded"]
    assert [m.rule for m in rules.match(article("a crisis of supply chain risk"))] == [
        "folded", "exact", "exact-word"]
    assert fired("organization", "organisations", exact=True) is None


def test_case_sensitive_rules_fold_keeping_case() -> None:
    assert fired("Apple", "two Apples", case_sensitive=True) == ["Apples"]
    assert fired("Apple", "two apples", case_sensitive=True) is None
    assert fired("U.S.", "the US and us", case_sensitive=True) == ["US"]


# -- highlights point at the original characters -------------------------------------------

@pytest.mark.parametrize(("query", "body", "language", "hits"), [
    ('Lieferkette OR stra\u00dfe', "Die \u201eLieferketten\u201c der Stra\u00dfen", "de",
     {"lieferkette": ["Lieferketten"], "strasse": ["Stra\u00dfen"]}),
    ('"supply chain risk" OR US', "Supply-Chain Risks \u2014 the U.S. market", None,
     {"supply chain risk": ["Supply-Chain Risks"], "us": ["U.S"]}),
    ("organization", "\ufb01ve Organisations", None, {"organization": ["Organisations"]}),
], ids=["german", "english", "ligature-before"])
def test_spans_and_snippets_point_at_the_original_text(
        query: str, body: str, language: str | None, hits: dict[str, list[str]]) -> None:
    found = match_query(query, article(body, language=language))
    assert found is not None
    assert {t.term: [body[s.start : s.end] for s in t.spans] for t in found.terms} == hits
    for term in found.terms:
        (snippet,) = term.snippets
        assert set(hits[term.term]) <= {snippet.text[a:b] for a, b in snippet.marks}


def test_many_rules_screen_variants_in_one_pass() -> None:
    rules = compile_rules([Rule(f"filler{i}", f"word{i} other{i}") for i in range(200)] + [
        Rule("closed", '"supply chain risk"'), Rule("lemma", "crises"),
        Rule("spelling", "defense"), Rule("acronym", "E.S.G."), Rule("wild", "colo?r"),
        Rule("digits", "covid19")])
    text = "Supplychain risk, a crisis, Defence, ESG funds, colour, COVID-19."
    assert [m.rule for m in rules.match(article(text))] == [
        "closed", "lemma", "spelling", "acronym", "wild", "digits"]


# -- canonical forms, and what a later --explain can report ---------------------------------

@pytest.mark.parametrize(("word", "lang", "expected"), [
    ("risks", "en", ("risk", "lemma")),
    ("organisation", "en", ("organization", "spelling")),
    ("defence", "en", ("defense", "spelling")),
    ("programmes", "en", ("program", "lemma+spelling")),
    ("risk", "en", ("risk", "")),
    ("media", "en", ("medium", "lemma")),
    ("left", "en", ("left", "")),  # leave: not folded, a word of its own
    ("lieferketten", "de", ("lieferkette", "lemma")),
    ("colour", "fr", ("colour", "")),  # spellings are English only
])
def test_fold_kind_says_which_variant_fired(word: str, lang: str,
                                            expected: tuple[str, str]) -> None:
    assert fold_kind(word, lang) == expected
    assert canonical(word, lang) == expected[0]


def test_accented_source_is_looked_up_with_its_accents() -> None:
    assert canonical("hauser", "de") == "hauser"
    assert canonical("hauser", "de", "H\u00e4user") == "haus"
    assert canonical("strassen", "de", "Stra\u00dfen") == "strasse"


@pytest.mark.parametrize(("code", "base"), [
    (None, "en"), ("", "en"), ("en-GB", "en"), ("de_AT", "de"), (" FR ", "fr"),
])
def test_base_language(code: str | None, base: str) -> None:
    assert base_language(code) == base


# -- folding never loses a match -----------------------------------------------------------

FOLD_WORDS = ["risk", "risks", "supply", "chain", "chains", "crisis", "crises", "defence",
              "defense", "organisation", "organization", "covid", "19", "us", "news", "new"]
TEXT_TOKENS = [*FOLD_WORDS, "supplychain", "covid19", "US", "U.S.", "E.S.G.", "ESG",
               "risk's", "Risk\u2019s", "supply-chain", "Defence", "organ", "e-mail", "email",
               "riskiness", "esg"]
QUERY_ATOMS = [*FOLD_WORDS, "U.S.", "US", "ESG", "E.S.G.", "risk's", "COVID-19", "covid19",
               "e-mail", "defen?e", "organi?ation", "supp*", "Risks"]
SEPARATORS = [" ", " ", ", ", "-", ". ", "\u2014"]

fold_terms = st.one_of(
    st.sampled_from(QUERY_ATOMS),
    st.lists(st.sampled_from(QUERY_ATOMS), min_size=2, max_size=3).map(
        lambda ws: '"' + " ".join(ws) + '"'),
)
fold_queries = st.recursive(
    fold_terms,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a}) ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) OR ({b})", inner, inner),
        st.builds(lambda a, b, n: f"({a}) NEAR/{n} ({b})", fold_terms, fold_terms,
                  st.integers(0, 2)),
    ),
    max_leaves=4,
)


def fold_texts(words: list[str]) -> st.SearchStrategy[str]:
    """Texts of ``TEXT_TOKENS`` and ``words`` (the query's own, so that it often matches)."""
    tokens = st.sampled_from(TEXT_TOKENS + words * 3)
    return st.lists(st.tuples(tokens, st.sampled_from(SEPARATORS)), min_size=1,
                    max_size=14).map(lambda parts: "".join(a + b for a, b in parts))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), query=fold_queries, case_sensitive=st.booleans())
def test_every_text_the_exact_form_matches_the_folded_form_matches(
        data: st.DataObject, query: str, case_sensitive: bool) -> None:
    words = re.findall(r"[\w.'-]+", query.replace("NEAR/", " "))
    body, title = data.draw(fold_texts(words)), data.draw(fold_texts(words))
    rules = compile_rules([Rule("exact", query, case_sensitive, exact=True),
                           Rule("folded", query, case_sensitive)])
    found = {m.rule: m for m in rules.match(article(body, title))}
    if "exact" in found:
        assert "folded" in found, query
        exact_spans = {s for t in found["exact"].terms for s in t.spans}
        folded_spans = {s for t in found["folded"].terms for s in t.spans}
        assert exact_spans <= folded_spans, query


# -- the rule option and the CLI -------------------------------------------------------------

CONFIG = """
[[watch]]
name = "exact"
query = '"supply chain risk"'
channels = []
match = "exact"

[[watch]]
name = "folded"
query = '"supply chain risk"'
channels = []
"""


def test_match_exact_is_a_rule_option(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text(CONFIG)
    config = load_config(path, query_checker=lambda q, cs: None)
    assert [(w.name, w.match, w.exact) for w in config.watches] == [
        ("exact", "exact", True), ("folded", "variants", False)]
    rules = compile_rules(Rule(w.name, w.query, w.case_sensitive, w.exact)
                          for w in config.watches)
    assert [m.rule for m in rules.match(article("supply chain risks"))] == ["folded"]


def test_match_option_takes_only_known_modes(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text(CONFIG.replace('match = "exact"', 'match = "literal"'))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [
        "watch[0].match: must be one of 'variants', 'exact', not 'literal'"]


def test_cli_match_exact(tmp_path: Path) -> None:
    text = tmp_path / "a.txt"
    text.write_text("Supply chain risks are rising.\n", encoding="utf-8")
    command = [sys.executable, "-m", "monitor", "match", "-q", '"supply chain risk"', str(text)]
    folded = subprocess.run(command, capture_output=True, text=True, timeout=60)
    exact = subprocess.run([*command, "--exact"], capture_output=True, text=True, timeout=60)
    assert folded.returncode == 0 and '"supply chain risk"' in folded.stdout
    assert exact.returncode == 1 and exact.stdout == "" and exact.stderr == ""


def test_variants_say_what_kind_they_are() -> None:
    term = parse_query('"U.S. supply chain\u2019s risks"')
    assert isinstance(term, Term)
    kinds = [(v.kind, v.keys) for v in term_variants(term, Folding()).all()]
    assert kinds == [
        ("", ("u", "s", "supply", "chain", "s", "risk|risks")),
        ("possessive", ("u", "s", "supply", "chain", "risk|risks")),
        ("acronym", ("^us", "supply", "chain", "risk|risks")),
        ("compound", ("u", "s", "supplychainrisk|supplychainrisks")),
        ("compound", ("u", "s", "supplychain", "risk|risks")),
        ("compound", ("u", "s", "supply", "chainrisk|chainrisks")),
    ]
    exact = term_variants(term, Folding(exact=True)).all()
    assert [v.keys for v in exact] == [("=u", "=s", "=supply", "=chain", "=s", "=risks")]


def test_the_daemon_compiles_a_match_exact_rule_literally(tmp_path: Path) -> None:
    """``match = "exact"`` reaches the rule set the daemon matches with."""
    from monitor.daemon import Daemon, load
    from monitor.models import Article

    path = tmp_path / "c.toml"
    path.write_text(f'[monitor]\ndatabase = "sqlite:///{tmp_path / "m.db"}"\nweb = ""\n'
                    '[[feeds]]\nurl = "http://127.0.0.1/feed"\n'
                    '[[watch]]\nname = "folded"\nquery = \'"supply chain risk"\'\nchannels = []\n'
                    '[[watch]]\nname = "literal"\nquery = \'"supply chain risk"\'\n'
                    'match = "exact"\nchannels = []\n')
    daemon = Daemon(load(str(path)), str(path))
    try:
        article = Article("http://127.0.0.1/a", "Supply-chain risks grow", "Nothing else.")
        assert {m.rule for m in daemon.pipeline.rules.match(article)} == {"folded"}
    finally:
        daemon.services.extractor.close()
        daemon.services.store.close()
