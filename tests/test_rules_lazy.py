"""The matcher's shortcuts give the results of the long way: matches whose terms are built
when first read (``snippets.LazyMatch``), and new words' forms learnt in bulk
(``lemmas.Folds.forms_of``)."""

from __future__ import annotations

import copy
import pickle

from monitor.models import Article, Match
from monitor.rules import Rule, compile_rules
from monitor.rules.lemmas import Folds, canonical
from monitor.rules.snippets import LazyMatch

RULES = [
    Rule("risk", '"supply chain risk"'),
    Rule("near", "steel NEAR/3 tariff"),
    Rule("either", "Acme OR Globex"),
    Rule("regex", r"/\bDefen[cs]e Production Act\b/"),
    Rule("cased", "NATO", case_sensitive=True),
    Rule("lone", "defence"),
]

TEXT = ("Supply-chain risks rose as steel makers faced a new tariff. Acme said the Defense "
        "Production Act helps; NATO and nato agreed. Supplychain risk again, and Globex too. "
        "The defense ministry spoke.")


def test_lazy_matches_equal_the_built_ones() -> None:
    rules = compile_rules(RULES)
    article = Article(url="https://example.org/a", title="Steel tariff", text=TEXT)
    lazy = rules.match(article)
    assert [m.rule for m in lazy] == ["risk", "near", "either", "regex", "cased", "lone"]
    assert all(isinstance(m, LazyMatch) for m in lazy)
    built = [m.plain() for m in rules.match(article)]  # read at once, on a fresh match
    assert all(type(m) is Match and m.terms for m in built)
    assert lazy == built and built == lazy  # equal both ways, terms built on demand
    assert [hash(m) for m in lazy] == [hash(m) for m in built]
    assert repr(lazy) == repr(built)
    assert [t.term for t in lazy[2].terms] == ["acme", "globex"]
    assert [t.count for t in lazy[0].terms] == [2]
    assert "Acme" in lazy[2].terms[0].snippets[0].text


def test_lazy_matches_copy_and_pickle_as_plain_matches() -> None:
    rules = compile_rules(RULES)
    article = Article(url="https://example.org/a", title="", text=TEXT)
    for match in rules.match(article):
        for again in (pickle.loads(pickle.dumps(match)), copy.deepcopy(match)):
            assert type(again) is Match
            assert again == match and again.terms == match.terms


def test_a_lazy_match_builds_its_terms_once() -> None:
    calls: list[int] = []

    def build() -> tuple[()]:
        calls.append(1)
        return ()

    match = LazyMatch("r", "q", build=build)
    assert match.terms == () and match.terms == ()
    assert calls == [1]
    assert match != Match("r", "other")


def test_new_words_forms_learnt_in_bulk_are_their_canonical_forms() -> None:
    """(Expected values as the word-by-word lookup gave them before the shortcut.)"""
    words = ["risks", "crises", "defence", "organisations", "policies", "saw", "us",
             "zorblaxen", "acme", "covid19", "2026", "news", "labour", "analysed", "the",
             "stra\u00dfe", "caf\u00e9", "risks"]
    for lang in ("en", "de", "fr", "it"):
        bulk = Folds(lang, False).forms_of(words)
        assert bulk == [canonical(w, lang) for w in words], lang
    cased = ["Risks", "NGOs", "Defence", "Zorblaxen", "US", "COVID19", "Crises", "risks",
             "Organisations"]
    assert Folds("en", True).forms_of(cased) == [
        "Risk", "NGO", "Defense", "Zorblaxen", "US", "COVID19", "Crisis", "risk", "Organization"]
    assert Folds("de", True).forms_of(["Lieferketten", "H\u00e4user", "Zorblaxen"]) == [
        "Lieferkette", "haus", "Zorblaxen"]
    assert Folds("en", False).forms_of(["risks", "defence", "zorblaxen"]) == [
        "risk", "defense", "zorblaxen"]


PREFIXED = [
    Rule("pair", '"the comput*"'),  # a prefix with a partner: scanned only if "the" fired
    Rule("later", "acme AND quant*"),
    Rule("plain", "globex"),
    Rule("regex", r"/\bInitech\b/"),
]


def test_the_prefix_scan_is_skipped_only_where_it_could_not_add_a_candidate() -> None:
    texts = ["the computers hum", "computers hum", "Acme quantum", "quantum alone",
             "Globex and the", "Initech comput", "nothing here"]
    rules = compile_rules(PREFIXED)
    index = rules._index
    assert not index._scan_always
    short = [rules.match(Article(url="https://example.org/a", title="", text=t)) for t in texts]
    index._scan_always = True  # the shortcut off: every article scanned for prefixes
    full = [rules.match(Article(url="https://example.org/a", title="", text=t)) for t in texts]
    assert short == full
    assert [[m.rule for m in found] for found in short] == [
        ["pair"], [], ["later"], [], ["plain"], ["regex"], []]
    alone = compile_rules([Rule("alone", "comput*")])
    assert alone._index._scan_always  # a prefix that is a key by itself: always scanned
    assert [m.rule for m in alone.match(Article(url="https://example.org/a", title="",
                                                text="computers"))] == ["alone"]
