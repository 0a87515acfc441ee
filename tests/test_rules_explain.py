"""Explanations: which variant of a term fired at each hit (``monitor.rules.explain``),
through ``RuleSet.match(explain=True)``, ``RuleSet.explain`` and ``monitor match --explain``."""

from __future__ import annotations

import json

import pytest

from monitor.models import Article, Explanation, Match
from monitor.rules import Rule, compile_rules, match_query
from tests.test_cli import monitor


def explained(query: str, text: str, *, exact: bool = False, language: str | None = None,
              case_sensitive: bool = False) -> list[tuple[str, str, str]]:
    article = Article("", "", text, language=language)
    match = match_query(query, article, exact=exact, case_sensitive=case_sensitive,
                        explain=True)
    assert match is not None, (query, text)
    found = []
    for term in match.terms:
        assert len(term.explained) == len(term.spans) == term.count
        for span, e in zip(term.spans, term.explained, strict=True):
            assert text[span.start:span.end] == e.text  # the original characters
            found.append((e.text, e.form, e.kind))
    return found


@pytest.mark.parametrize(("query", "text", "expected"), [
    ("risk", "one Risk today", [("Risk", "risk", "exact")]),
    ('"supply chain risk"', "a supply chain risk", [("supply chain risk", "supply chain risk",
                                                     "exact")]),
    ("risk", "two risks", [("risks", "risk", "lemma")]),
    ("risks", "one risk", [("risk", "risk", "lemma")]),  # the query's word folded
    ("crisis", "two crises", [("crises", "crisis", "lemma")]),
    ("policy", "new policies", [("policies", "policy", "lemma")]),
    ("Lieferkette", "die Lieferketten", [("Lieferketten", "lieferkette", "lemma")]),
    ("Haus", "zwei Häuser", [("Häuser", "haus", "lemma")]),  # read with its accent
    ("defense", "the Defence Production Act", [("Defence", "defense", "spelling")]),
    ("defence", "the defense budget", [("defense", "defense", "spelling")]),
    ("organization", "two organisations", [("organisations", "organization",
                                            "lemma+spelling")]),
    ("risk's", "all risks", [("risks", "risk", "possessive+lemma")]),
    ('"supply chain risk"', "supplychain risk", [("supplychain risk", "supply chain risk",
                                                  "compound")]),
    ('"supply chain risk"', "Supply-chain risks", [("Supply-chain risks", "supply chain risk",
                                                    "compound+lemma")]),
    ("supply-chain", "the supply chain", [("supply chain", "supply-chain", "compound")]),
    ("covid19", "COVID-19 cases", [("COVID-19", "covid19", "compound")]),
    ("COVID-19", "covid19 cases", [("covid19", "COVID-19", "compound")]),
    ("U.S.", "the US said", [("US", "U.S.", "acronym")]),
    ("US", "the U.S. said", [("U.S", "US", "acronym")]),
    ("ESG", "E.S.G. funds", [("E.S.G", "ESG", "acronym")]),
    ("U.S.", "the U.S. said", [("U.S", "U.S.", "exact")]),
    ("=risk", "one risk", [("risk", "risk", "exact")]),
    ("comput*", "Computers", [("Computers", "comput*", "prefix")]),
    ("defen?e", "defense", [("defense", "defen?e", "wildcard")]),
    ("defen?e", "defences", [("defences", "defen?e", "wildcard+lemma+spelling")]),
    ("=comput*", "computer", [("computer", "comput*", "prefix")]),
    ("/ri.ks/", "risks", [("risks", "/ri.ks/", "regex")]),
], ids=["exact-word", "exact-phrase", "lemma", "lemma-query", "lemma-irregular",
        "lemma-y", "lemma-german", "lemma-accented", "spelling", "spelling-query", "lemma-spelling",
        "possessive", "compound-closed", "compound-hyphen-lemma", "compound-hyphen-query",
        "compound-opened", "compound-closed-digits", "acronym-closed", "acronym-dotted",
        "acronym-spelt", "acronym-as-written", "exact-literal", "prefix", "wildcard",
        "wildcard-folded", "exact-prefix", "regex"])
def test_each_kind_of_variant(query: str, text: str, expected: list[tuple[str, str, str]]
                              ) -> None:
    language = "de" if query in ("Lieferkette", "Haus") else None
    assert explained(query, text, language=language) == expected


def test_each_hit_of_a_term_is_explained_on_its_own() -> None:
    assert explained('"supply chain risk"', "supply chain risk, then supply-chain risks") == [
        ("supply chain risk", "supply chain risk", "exact"),
        ("supply-chain risks", "supply chain risk", "compound+lemma")]


def test_an_exact_rule_says_exact() -> None:
    assert explained("risk", "one risk", exact=True) == [("risk", "risk", "exact")]


def test_case_sensitive_rule_is_explained_in_its_case() -> None:
    assert explained("Crisis", "two Crises", case_sensitive=True) == [
        ("Crises", "Crisis", "lemma")]
    assert explained('"Supply-Chain Crisis"', "Supply Chain Crises", case_sensitive=True) == [
        ("Supply Chain Crises", "Supply-Chain Crisis", "compound+lemma")]


def test_near_and_or_explain_each_term() -> None:
    assert explained('"supply chain" NEAR/3 risks OR defense', "supply-chain risk") == [
        ("supply-chain", "supply chain", "compound"), ("risk", "risk", "lemma")]


def test_matching_explains_only_when_asked() -> None:
    rules = compile_rules([Rule("r", "risk")])
    article = Article("", "Risks", "no more risks")
    (plain,) = rules.match(article)
    assert all(t.explained == () for t in plain.terms)
    (told,) = rules.match(article, explain=True)
    assert rules.explain(article, [plain]) == [told]
    assert told.terms[0].explained == (Explanation("Risks", "risk", "lemma"),
                                       Explanation("risks", "risk", "lemma"))
    assert [s.field for s in told.terms[0].spans] == ["title", "body"]


def test_explain_reads_each_rule_in_its_own_mode() -> None:
    rules = compile_rules([Rule("folded", "risk"), Rule("exact", "risks", exact=True)])
    article = Article("", "", "many risks")
    found = {m.rule: m for m in rules.match(article, explain=True)}
    assert isinstance(found["exact"], Match)
    assert found["folded"].terms[0].explained == (Explanation("risks", "risk", "lemma"),)
    assert found["exact"].terms[0].explained == (Explanation("risks", "risks", "exact"),)


def test_cli_match_explain() -> None:
    text = "Supply-chain risks grew. The U.S. Defence ministry said supply chain risk is high."
    result = monitor("match", "-q", '"supply chain risk" OR (US defense)', "--explain",
                     stdin=text)
    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(x) for x in result.stdout.splitlines()]
    explain = {t["term"]: t["explain"] for t in line["terms"]}
    assert [(e["text"], e["form"], e["kind"]) for e in explain["supply chain risk"]] == [
        ("Supply-chain risks", "supply chain risk", "compound+lemma"),
        ("supply chain risk", "supply chain risk", "exact")]
    assert [(e["text"], e["kind"]) for e in explain["us"]] == [("U.S", "acronym")]
    assert [(e["text"], e["form"], e["kind"]) for e in explain["defense"]] == [
        ("Defence", "defense", "spelling")]
    for terms in explain.values():
        for e in terms:
            field = line["title"] if e["field"] == "title" else text
            assert field[e["start"]:e["end"]] == e["text"]


def test_cli_match_without_explain_prints_no_explanations() -> None:
    result = monitor("match", "-q", "risk", stdin="two risks")
    (line,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert "explain" not in line["terms"][0]
