"""Screening: which rules an article can make true, found without evaluating every rule.

The keys are an optimisation and must never lose a match; these cases target the shortcuts
(whole words of regexes looked up as tokens in plain text, prefixes left out of keys,
phrases keyed on two of their words).
"""

from __future__ import annotations

import gc

import pytest

from monitor.errors import QueryError
from monitor.models import Article
from monitor.rules import Rule, compile_rules, match_query, parse_query
from monitor.rules.evaluate import Compiler
from monitor.rules.index import TriggerIndex
from monitor.rules.normalize import is_plain
from monitor.rules.triggers import WORD_MARK, Key, rule_keys
from monitor.rules.variants import Folding
from monitor.rules.view import ArticleView, RegexTexts
from monitor.rules.wholewords import word_literal


def article(body: str, title: str = "") -> Article:
    return Article(url="https://example.org/news/1", title=title, text=body)


def keys(query: str, folding: Folding = Folding()) -> list[Key] | None:
    compiler = Compiler()
    return rule_keys(parse_query(query), lambda term: compiler.variant_keys(term, folding))


@pytest.mark.parametrize(("pattern", "word"), [
    (r"\bdelta\b", "delta"),
    (r"\bGisuzo\s+Sirivi(?:'s)?\b", "gisuzo"),
    (r"\bSmith(?:'s)?\b", "smith"),
    (r"(foo)-barbaz\b", "barbaz"),
    (r"^abc$", "abc"),
    (r"[ ,]abcd[.]", "abcd"),
    (r"\bfoo(?:-x)?\b", "foo"),
    (r"alpha\s+beta", None),  # nothing before alpha, nothing after beta
    (r"\bab\b", None),  # too short
    (r"\bfoo_bar\b", None),  # _ is a word character for regexes, not for tokens
    (r"\bfoo\w", None),
    (r"\bfoos?\b", None),  # the optional s is a word character
    (r"\bcovid[- ]?19\b", None),
    (r"\bcaf\u00e9\b", None),  # not ASCII
    (r"(?x) \b delta \b", None),
    (r"\b(?:alpha|beta)\b", None),
])
def test_word_literal(pattern: str, word: str | None) -> None:
    assert word_literal(pattern, case_sensitive=False) == word


def test_plain_text_allows_typographic_quotes_and_dashes_only() -> None:
    assert is_plain("ASCII only")
    assert is_plain("a \u201cquote\u201d \u2014 it\u2019s soft\u00adhyphenated")
    assert not is_plain("caf\u00e9")
    assert not is_plain("\u0131stanbul")


# A regex keyed on a whole word must match wherever it matched without the shortcut: in
# plain text (looked up as a token) and in other text (scanned for as a literal).
REGEX_CASES = [
    (r"/\bdelta\b/", "a \u201cdelta\u201d \u2014 and more", (3, 8)),
    (r"/\bdelta\b/", "no deltas here", None),
    (r"/\bdelta\b/", "x_delta_y", None),
    (r"/\bdelta\b/", "Delta-force", (0, 5)),
    (r"/\bdelta\b/", "the delta\u0301x rises", (4, 9)),  # a combining accent ends \w
    (r"/\bistanbul\b/", "flights to \u0131stanbul today", (11, 19)),  # re: \u0131 ~ i
    (r"/\bSmith(?:'s)?\b/", "Smith\u2019s book", (0, 7)),
    (r"/\bcafe\b/", "the caf\u00e9", None),
    (r"/\bcafe\b/", "the cafe\u0301 opens", (4, 8)),
]


@pytest.mark.parametrize(("query", "body", "span"), REGEX_CASES)
def test_regex_whole_word_screening(query: str, body: str, span: tuple[int, int] | None) -> None:
    found = match_query(query, article(body))
    if span is None:
        assert found is None
    else:
        assert found is not None
        assert [(s.start, s.end) for s in found.terms[0].spans] == [span]


def test_regex_whole_word_in_other_fields_and_among_many_rules() -> None:
    rules = compile_rules([Rule("re", r"/\bdelta\b/"), Rule("t", "title:/\\bgamma\\b/"),
                           Rule("w", "delta"), Rule("cs", r"/\bDelta\b/", True)])
    assert [m.rule for m in rules.match(article("caf\u00e9 delta"))] == ["re", "w"]
    assert [m.rule for m in rules.match(article("Delta", title="gamma rays"))] == [
        "re", "t", "w", "cs"]
    assert [m.rule for m in rules.match(article("", title="caf\u00e9 gamma"))] == ["t"]


def test_regex_keys_use_a_whole_word_when_there_is_one() -> None:
    assert keys(r"/\bdelta\b/") == [(WORD_MARK + "delta",)]
    assert keys(r"/gamma+x/") == [("\x00gamm",)]


@pytest.mark.parametrize(("query", "expected"), [
    ("comput* acme", [("acme",)]),  # a rare word needs no prefix scan
    ("comput*", [("comput*",)]),
    ("the comput*", [("comput*", "the")]),  # "the" alone would fire everywhere
    ('="supply chain risk"', [("chain", "risk")]),  # two words; adjacency is evaluated
    ("title:acme", [("acme",)]),
    # each variant brings its keys: the phrase closed up, each pair of neighbours closed up
    ('"supply chain risk"', [("chain", "risk"), ("supplychainrisk",), ("supplychain", "risk"),
                             ("chainrisk", "supply")]),
    ("risks", [("risk",), ("risks",)]),  # a slot with two forms: either fires
    ("U.S.", [("u", "s"), ("us",)]),
    ("defen?e", [("defen*",)]),  # a wildcard screens on what comes before it
])
def test_rule_keys(query: str, expected: list[tuple[str, ...]]) -> None:
    assert keys(query) == expected


@pytest.mark.parametrize(("query", "body", "expected"), [
    ("comput* acme", "Acme computers", {"comput*": 1, "acme": 1}),
    ("comput* acme", "Acme commuters", None),
    ("comput* acme", "computers only", None),
    ('"supply chain"', "chain of supply", None),
    ('"supply chain"', "supply, chain", {"supply chain": 1}),
    ('"comput* science"', "computer science", {"comput* science": 1}),
])
def test_screened_rules_still_evaluate_exactly(query: str, body: str,
                                               expected: dict[str, int] | None) -> None:
    found = match_query(query, article(body))
    assert (None if found is None else {t.term: t.count for t in found.terms}) == expected


def test_a_trigger_first_in_one_key_and_second_in_another_does_not_fire_alone() -> None:
    # keys (alpha, beta) and (beta, gamma): unordered, "beta" would be first in one key and
    # second in the other, and so make the rule a candidate on its own
    index = TriggerIndex()
    index.add(0, [("alpha", "beta"), ("beta", "gamma")])
    index.freeze()

    def candidates(text: str) -> list[int]:
        regex = RegexTexts(article(text))
        return index.candidates(ArticleView(article(text), False, regex), regex)

    assert candidates("beta") == []
    assert candidates("alpha beta") == [0]
    assert candidates("beta gamma") == [0]


def test_compiling_pauses_the_garbage_collector_and_restores_it() -> None:
    assert gc.isenabled()
    compile_rules([Rule("a", '"supply chain" risk')])
    assert gc.isenabled()
    with pytest.raises(QueryError):
        compile_rules([Rule("bad", '"unbalanced')])
    assert gc.isenabled()
    gc.disable()
    try:
        compile_rules([Rule("a", "risk")])
        assert not gc.isenabled()
    finally:
        gc.enable()
