"""Watch-rule matching: every row of DESIGN §4, normalisation, spans, snippets, RuleSet."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import QueryError
from monitor.models import Article, Match, TermHit
from monitor.rules import Rule, compile_rules, match_query
from monitor.rules.snippets import ELLIPSIS, MAX_SNIPPETS, SNIPPET_CHARS

SEED = Path(__file__).resolve().parents[1] / "seeds" / "ap-2026-02-26-anthropic-pentagon.txt"


def article(body: str = "", title: str = "", **fields: str) -> Article:
    return Article(url=fields.get("url", "https://example.org/news/1"), title=title, text=body,
                   author=fields.get("author", ""), source=fields.get("source", ""))


def terms(match: Match | None) -> dict[str, int]:
    assert match is not None
    return {hit.term: hit.count for hit in match.terms}


# Each row: query, title, body, the terms (with counts) of the match, or None for no match.
ROWS = [
    # word: a whole token
    ("word", "risk", "", "a supply chain risk", {"risk": 1}),
    ("word-not-inside-token", "Act", "", "Action was taken by an actor", None),
    ("word-whole-token", "Act", "", "the Defense Production Act.", {"act": 1}),
    # phrase: the tokens consecutively
    ("phrase", '"supply chain risk"', "", "deem them a supply chain risk",
     {"supply chain risk": 1}),
    ("phrase-hyphen", '"supply chain risk"', "", "a supply-chain risk", {"supply chain risk": 1}),
    ("phrase-case", '"supply chain risk"', "", "Supply Chain Risk ahead", {"supply chain risk": 1}),
    ("phrase-newline", '"supply chain"', "", "supply\n\nchain", {"supply chain": 1}),
    ("phrase-not-consecutive", '"supply chain"', "", "supply of the chain", None),
    ("phrase-not-across-fields", '"risk report"', "a risk", "report on it", None),
    # prefix
    ("prefix", "comput*", "", "computers and computing", {"comput*": 2}),
    ("prefix-whole-word", "comput*", "", "compute", {"comput*": 1}),
    ("prefix-no-match", "comput*", "", "compare compost", None),
    ("prefix-in-phrase", '"quantum comput*"', "", "quantum computing now", {"quantum comput*": 1}),
    # implicit AND, AND, OR, NOT, -
    ("implicit-and", "tariff steel", "", "steel tariff", {"tariff": 1, "steel": 1}),
    ("implicit-and-missing", "tariff steel", "", "a tariff", None),
    ("and", "tariff AND steel", "", "tariff on steel", {"tariff": 1, "steel": 1}),
    ("or-both", "tariff OR steel", "", "tariff on steel", {"tariff": 1, "steel": 1}),
    ("or-one", "tariff OR steel", "", "tariff on copper", {"tariff": 1}),
    ("not-excludes", "tariff NOT steel", "", "tariff on steel", None),
    ("not-allows", "tariff NOT steel", "", "tariff on copper", {"tariff": 1}),
    ("minus", "tariff -steel", "", "tariff on steel", None),
    ("lowercase-and-is-a-word", "tariff and steel", "", "tariff on steel", None),
    ("lowercase-or-is-a-word", "tariff or steel", "", "tariff or steel", {"tariff": 1, "or": 1,
                                                                       "steel": 1}),
    ("x-or-not-y", "x OR NOT y", "", "nothing here", {}),
    # grouping and precedence (NOT > AND > OR)
    ("group", "(tariff OR duty) steel", "", "a duty on steel", {"duty": 1, "steel": 1}),
    ("precedence-or-of-and", "tariff OR duty steel", "", "a tariff", {"tariff": 1}),
    ("precedence-and-needs-both", "tariff OR duty steel", "", "a duty", None),
    ("not-binds-to-one-term", "NOT tariff duty", "", "duty", {"duty": 1}),
    # NEAR / ONEAR
    ("near", "tariff NEAR/2 steel", "", "tariff on imported steel", {"tariff": 1, "steel": 1}),
    ("near-too-far", "tariff NEAR/1 steel", "", "tariff on imported steel", None),
    ("near-either-order", "steel NEAR/2 tariff", "", "tariff on imported steel",
     {"steel": 1, "tariff": 1}),
    ("near-zero-adjacent", "tariff NEAR/0 steel", "", "steel tariff", {"tariff": 1, "steel": 1}),
    ("onear-order", "tariff ONEAR/2 steel", "", "steel and tariff", None),
    ("onear-in-order", "tariff ONEAR/2 steel", "", "tariff and steel", {"tariff": 1, "steel": 1}),
    ("near-phrase-nearest-ends", '"supply chain" NEAR/1 risk', "", "risk of the supply chain",
     None),
    ("near-phrase-gap", '"supply chain" NEAR/2 risk', "", "risk of the supply chain",
     {"supply chain": 1, "risk": 1}),
    ("near-reports-only-near-hits", "tariff NEAR/1 steel", "", "tariff. x x x x steel tariff",
     {"tariff": 1, "steel": 1}),
    ("near-not-across-fields", "tariff NEAR/3 steel", "tariff", "steel", None),
    ("near-group", "(ceo OR chief) NEAR/1 resign*", "", "the chief will resign",
     {"chief": 1, "resign*": 1}),
    # field scopes
    ("title-scope", "title:tariff", "Tariff news", "nothing", {"tariff": 1}),
    ("title-scope-misses-body", "title:tariff", "News", "tariff", None),
    ("body-scope", "body:tariff", "tariff", "no", None),
    ("default-scope-title", "tariff", "Tariff news", "", {"tariff": 1}),
    # regex
    ("regex", r"/acme\s+corp(oration)?/", "", "ACME  Corporation said",
     {r"/acme\s+corp(oration)?/": 1}),
    ("regex-quotes-plain", r"/\"hello\"/", "", "he said \u201chello\u201d", {r"/\"hello\"/": 1}),
    ("regex-dash-plain", r"/war-era/", "", "Cold War\u2014era law", {"/war-era/": 1}),
    ("regex-no-match", r"/acme\s+corp/", "", "acme-corp", None),
    # normalisation
    ("accent-query", "Caf\u00e9", "", "a cafe", {"cafe": 1}),
    ("accent-text", "cafe", "", "the Caf\u00e9", {"cafe": 1}),
    ("fullwidth", "abc", "", "\uff21\uff22\uff23 corp", {"abc": 1}),
    ("fullwidth-query", "\uff21\uff22\uff23", "", "ABC corp", {"abc": 1}),
    ("curly-apostrophe", '"pentagon s demands"', "", "the Pentagon\u2019s demands",
     {"pentagon s demands": 1}),
    ("em-dash-separates", '"war era"', "", "Cold War\u2014era law", {"war era": 1}),
    ("ligature", "finance", "", "\ufb01nance", {"finance": 1}),
]


@pytest.mark.parametrize(("query", "title", "body", "expected"), [r[1:] for r in ROWS],
                         ids=[r[0] for r in ROWS])
def test_design_rows(query: str, title: str, body: str, expected: dict[str, int] | None) -> None:
    found = match_query(query, article(body, title))
    if expected is None:
        assert found is None
    else:
        assert terms(found) == expected


FIELD_ROWS = [
    ("url", "url:reuters", {"url": "https://www.reuters.com/world/x"}, True),
    ("url-path-phrase", 'url:"world x"', {"url": "https://www.reuters.com/world/x"}, True),
    ("url-not-in-body", "reuters", {"url": "https://www.reuters.com/world/x"}, False),
    ("source", "source:ap", {"source": "AP"}, True),
    ("author", 'author:"ben finley"', {"author": "Ben Finley"}, True),
    ("author-miss", "author:finley", {"author": "Ann Smith"}, False),
    ("url-regex", r"url:/\.gov\//", {"url": "https://www.state.gov/x"}, True),
]


@pytest.mark.parametrize(("query", "fields", "matched"), [r[1:] for r in FIELD_ROWS],
                         ids=[r[0] for r in FIELD_ROWS])
def test_field_scopes(query: str, fields: dict[str, str], matched: bool) -> None:
    assert (match_query(query, article("body text", "title", **fields)) is not None) is matched


# -- case sensitivity ---------------------------------------------------------------------

CASE_ROWS = [
    ("exact-case", "Apple", "Apple shares", True),
    ("wrong-case", "Apple", "apple pie", False),
    ("phrase", '"Tim Cook"', "Tim Cook said", True),
    ("phrase-wrong-case", '"Tim Cook"', "tim cook said", False),
    ("accents-still-fold", "Cafe", "Caf\u00e9 Nero", True),
    ("regex-case", "/Apple/", "apple pie", False),
    ("regex-exact", "/Apple/", "Apple pie", True),
    ("prefix", "App*", "Applications", True),
    ("prefix-wrong-case", "App*", "applications", False),
]


@pytest.mark.parametrize(("query", "body", "matched"), [r[1:] for r in CASE_ROWS],
                         ids=[r[0] for r in CASE_ROWS])
def test_case_sensitive(query: str, body: str, matched: bool) -> None:
    found = match_query(query, article(body), case_sensitive=True)
    assert (found is not None) is matched


def test_case_sensitive_and_insensitive_rules_together() -> None:
    rules = compile_rules([Rule("ci", "apple"), Rule("cs", "Apple", True),
                           Rule("cs-upper", "APPLE", True)])
    assert [m.rule for m in rules.match(article("Apple and apple"))] == ["ci", "cs"]
    assert [m.rule for m in rules.match(article("APPLE"))] == ["ci", "cs-upper"]


# -- the seed article -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def seed() -> Article:
    return Article(url="https://apnews.com/article/anthropic-pentagon", source="AP",
                   title="Anthropic says it cannot accede to the Pentagon", text=SEED.read_text())


def test_seed_article_matches_both_terms(seed: Article) -> None:
    query = '"supply chain risk" OR "Defense Production Act"'
    found = match_query(query, seed)
    assert found is not None and found.query == query
    assert terms(found) == {"supply chain risk": 2, "defense production act": 2}
    originals = {"supply chain risk": "supply chain risk",
                 "defense production act": "Defense Production Act"}
    for hit in found.terms:
        assert len(hit.spans) == 2
        for span in hit.spans:
            assert span.field == "body"
            assert seed.text[span.start : span.end] == originals[hit.term]
        assert hit.snippets
        for snippet in hit.snippets:
            marked = [snippet.text[s:e] for s, e in snippet.marks]
            assert originals[hit.term] in marked


def test_seed_article_negation(seed: Article) -> None:
    assert match_query('"supply chain" NOT risk', seed) is None
    assert match_query('"supply chain" NOT tariff', seed) is not None


def test_seed_near_and_prefix(seed: Article) -> None:
    found = match_query("anthrop* ONEAR/2 contract", seed)
    assert terms(found) == {"anthrop*": 1, "contract": 1}
    assert found is not None
    span = found.terms[0].spans[0]
    assert seed.text[span.start : span.end] == "Anthropic"


# -- snippets -------------------------------------------------------------------------------

def long_text(hits: list[int], size: int = 3000) -> str:
    """Filler words with the word ``target`` at the given word indexes."""
    words = [f"w{i}" for i in range(size // 5)]
    for i in hits:
        words[i] = "target"
    return " ".join(words)


def only_term(query: str, body: str) -> TermHit:
    found = match_query(query, article(body))
    assert found is not None and len(found.terms) == 1
    return found.terms[0]


def test_snippet_is_about_200_chars_cut_at_words() -> None:
    hit = only_term("target", long_text([300]))
    (snippet,) = hit.snippets
    assert snippet.text.startswith(ELLIPSIS) and snippet.text.endswith(ELLIPSIS)
    assert SNIPPET_CHARS - 20 <= len(snippet.text) <= SNIPPET_CHARS + 2
    inner = snippet.text[1:-1]
    assert all(word.startswith("w") or word == "target" for word in inner.split())
    assert [snippet.text[s:e] for s, e in snippet.marks] == ["target"]


def test_snippets_merge_nearby_hits() -> None:
    hit = only_term("target", long_text([300, 303]))
    assert hit.count == 2 and len(hit.snippets) == 1
    assert [hit.snippets[0].text[s:e] for s, e in hit.snippets[0].marks] == ["target", "target"]


def test_snippets_capped_per_term() -> None:
    hit = only_term("target", long_text([10, 150, 300, 450, 590]))
    assert hit.count == 5 and len(hit.spans) == 5
    assert len(hit.snippets) == MAX_SNIPPETS


def test_snippet_at_text_start_has_no_leading_ellipsis() -> None:
    (snippet,) = only_term("target", long_text([0])).snippets
    assert snippet.text.startswith("target") and snippet.text.endswith(ELLIPSIS)


def test_snippet_collapses_whitespace_and_keeps_marks() -> None:
    body = "Intro.\n\n  The   supply-chain\n risk   grows.\n"
    (snippet,) = only_term('"supply chain risk"', body).snippets
    assert snippet.text == "Intro. The supply-chain risk grows."
    assert [snippet.text[s:e] for s, e in snippet.marks] == ["supply-chain risk"]


def test_snippet_marks_every_term_of_the_match() -> None:
    found = match_query("tariff steel", article("a tariff on steel imports"))
    assert found is not None
    for hit in found.terms:
        assert [hit.snippets[0].text[s:e] for s, e in hit.snippets[0].marks] == ["tariff", "steel"]


def test_regex_spans_map_back_through_fullwidth_text() -> None:
    body = "\uff21\uff22\uff23 Corp and more"
    found = match_query(r"/abc\s+corp/", article(body))
    assert found is not None
    (span,) = found.terms[0].spans
    assert body[span.start : span.end] == "\uff21\uff22\uff23 Corp"


# -- RuleSet --------------------------------------------------------------------------------

def test_ruleset_reports_rules_in_order() -> None:
    rules = compile_rules([Rule("b", "steel"), Rule("a", "tariff"), Rule("c", "copper"),
                           Rule("d", "x OR NOT copper")])
    assert len(rules) == 4
    assert rules.names == ("b", "a", "c", "d")
    assert rules.rules[1] == Rule("a", "tariff")
    assert [m.rule for m in rules.match(article("tariff on steel"))] == ["b", "a", "d"]
    assert [m.rule for m in rules.match(article("copper"))] == ["c"]


def test_compile_rules_names_the_bad_rule() -> None:
    with pytest.raises(QueryError) as caught:
        compile_rules([Rule("good", "a"), Rule("DPA watch", 'abcde "x')])
    assert caught.value.message == "rule 'DPA watch': unbalanced quote"
    assert caught.value.column == 7


def test_empty_ruleset_matches_nothing() -> None:
    rules = compile_rules([])
    assert len(rules) == 0 and rules.match(article("anything")) == []


def test_shared_terms_are_reported_per_rule() -> None:
    rules = compile_rules([Rule("one", '"supply chain" risk'), Rule("two", '"supply chain"')])
    found = {m.rule: terms(m) for m in rules.match(article("supply chain risk"))}
    assert found == {"one": {"supply chain": 1, "risk": 1}, "two": {"supply chain": 1}}


def test_matches_carry_rule_name_and_query() -> None:
    rules = compile_rules([Rule("dpa", '"Defense Production Act"')])
    (found,) = rules.match(article("invoke the Defense Production Act"))
    assert (found.rule, found.query) == ("dpa", '"Defense Production Act"')
