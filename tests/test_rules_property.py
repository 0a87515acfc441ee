"""Property tests: the compiled RuleSet agrees with a slow, obviously correct evaluator.

The reference parses with the same parser, then walks the syntax tree by brute force over
each field's token list, literally (so the rules are exact: ``match = "exact"``; that
folding only adds matches is ``test_rules_fold.py``'s property): every start position for
terms, every pair of occurrences for NEAR. Both must agree, for many rules compiled
together, on whether each rule matches and on the set of terms that fired (the terms of
true subtrees, not under NOT; for NEAR only the occurrences that stand near each other).
"""

from __future__ import annotations

import re
import string
import unicodedata

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from monitor.errors import QueryError
from monitor.models import FIELDS, Article
from monitor.rules import (
    And,
    Near,
    Node,
    Not,
    Or,
    Regex,
    Rule,
    Term,
    compile_rules,
    normalize,
    parse_query,
    tokenize,
)

Occurrence = tuple[str, int, int, frozenset[str]]  # field, first, last token, terms inside
PLAIN = str.maketrans("\u2018\u2019\u201c\u201d\u2013\u2014", "''\"\"--")


def regex_text(text: str) -> str:
    """What a regex searches: NFKC, typographic quotes and dashes made plain."""
    return unicodedata.normalize("NFKC", text).translate(PLAIN)


# -- the reference evaluator ----------------------------------------------------------------


class Reference:
    """Brute-force evaluation of a syntax tree on one article."""

    def __init__(self, article: Article, case_sensitive: bool) -> None:
        self.article = article
        self.tokens = {f: [t.text for t in tokenize(article.field(f),
                                                     case_sensitive=case_sensitive)]
                       for f in FIELDS}

    def occurrences(self, node: Node) -> list[Occurrence]:
        """Token intervals of a positional node, each with the terms that make it up."""
        if isinstance(node, Term):
            return [(f, i, i + len(node.atoms) - 1, frozenset({node.text}))
                    for f in node.fields for i in range(len(self.tokens[f]))
                    if self.term_at(node, f, i)]
        if isinstance(node, Or):
            return [o for child in node.children for o in self.occurrences(child)]
        assert isinstance(node, Near)
        return [(a[0], min(a[1], b[1]), max(a[2], b[2]), a[3] | b[3])
                for a in self.occurrences(node.left) for b in self.occurrences(node.right)
                if a[0] == b[0] and self.near(a, b, node.distance, node.ordered)]

    def term_at(self, term: Term, field: str, i: int) -> bool:
        words = self.tokens[field][i : i + len(term.atoms)]
        return len(words) == len(term.atoms) and all(
            w.startswith(a.text) if a.prefix else w == a.text
            for a, w in zip(term.atoms, words, strict=True))

    @staticmethod
    def near(a: Occurrence, b: Occurrence, distance: int, ordered: bool) -> bool:
        if a[2] < b[1]:
            return b[1] - a[2] - 1 <= distance
        return not ordered and b[2] < a[1] and a[1] - b[2] - 1 <= distance

    def regex(self, node: Regex) -> bool:
        flags = 0 if node.case_sensitive else re.IGNORECASE
        return any(re.search(node.pattern, regex_text(self.article.field(f)), flags)
                   for f in node.fields)

    def evaluate(self, node: Node) -> tuple[bool, set[str]]:
        """Whether ``node`` is true, and the terms that fired if it is."""
        if isinstance(node, Term | Near):
            found = self.occurrences(node)
            return bool(found), set().union(*(o[3] for o in found))
        if isinstance(node, Regex):
            true = self.regex(node)
            return true, {node.text} if true else set()
        if isinstance(node, Not):
            return not self.evaluate(node.child)[0], set()
        results = [self.evaluate(child) for child in node.children]
        true = [fired for ok, fired in results if ok]
        if isinstance(node, And):
            return len(true) == len(results), set().union(*true)
        return bool(true), set().union(*true)


# -- strategies -----------------------------------------------------------------------------

WORDS = ["alpha", "beta", "gamma", "cafe", "be"]
TEXT_WORDS = [*WORDS, *WORDS, "alphabet", "delta", "Alpha", "ALPHA", "Caf\u00e9", "Beta",
              "\uff41lpha", "x1"]
SEPARATORS = [" ", " ", " ", "-", ", ", ". ", "\n\n", " \u2014 ", "\u2019s ", " \u201c", "\u201d "]
PREFIXES = ["alp*", "bet*", "gam*", "cafe*"]
REGEXES = [r"/alpha\s+beta/", r"/gam+a/", r"/\bdelta\b/", r"/Alpha/", r"/[a-z]\d/"]

words = st.sampled_from(WORDS)
atoms = st.one_of(words, st.sampled_from(PREFIXES))
phrase = st.lists(st.one_of(words, words, atoms), min_size=2, max_size=3).map(
    lambda ws: '"' + " ".join(ws) + '"')
scope = st.sampled_from(["", "", "", "title:", "body:"])
positional_leaf = st.builds(lambda s, t: s + t, scope, st.one_of(words, phrase, atoms))


def _near(pair: tuple[str, str], n: int, op: str) -> str:
    return f"({pair[0]}) {op}/{n} ({pair[1]})"


positional = st.recursive(
    positional_leaf,
    lambda inner: st.one_of(
        st.builds(_near, st.tuples(inner, inner), st.integers(0, 3),
                  st.sampled_from(["NEAR", "ONEAR"])),
        st.builds(lambda a, b: f"({a} OR {b})", inner, inner),
    ),
    max_leaves=4,
)
leaf = st.one_of(positional, st.builds(lambda s, r: s + r, scope, st.sampled_from(REGEXES)))
queries = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a}) ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) AND ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) OR ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) NOT ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) -({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) OR NOT ({b})", inner, inner),
    ),
    max_leaves=6,
)
chunk = st.one_of(
    st.tuples(st.sampled_from(TEXT_WORDS), st.sampled_from(SEPARATORS)).map("".join),
    st.lists(words, min_size=2, max_size=3).map(lambda ws: " ".join(ws) + " "),
)
texts = st.lists(chunk, min_size=1, max_size=20).map("".join)
articles = st.builds(
    lambda title, body, author: Article(url="https://example.org/alpha-beta", title=title,
                                        text=body, author=author, source="Gamma wire"),
    texts, texts, texts)


def _valid(query: str, case_sensitive: bool) -> bool:
    try:
        parse_query(query, case_sensitive=case_sensitive)
    except QueryError:
        return False
    return True


# -- properties -----------------------------------------------------------------------------

@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=st.lists(st.tuples(queries, st.booleans()), min_size=1, max_size=8),
       samples=st.lists(articles, min_size=1, max_size=3))
def test_ruleset_agrees_with_reference(rules: list[tuple[str, bool]],
                                       samples: list[Article]) -> None:
    valid = [Rule(f"r{i}", q, cs, exact=True) for i, (q, cs) in enumerate(rules)
             if _valid(q, cs)]
    assume(valid)
    ruleset = compile_rules(valid)
    for article in samples:
        found = {m.rule: {t.term for t in m.terms} for m in ruleset.match(article)}
        for rule in valid:
            reference = Reference(article, rule.case_sensitive)
            ok, fired = reference.evaluate(parse_query(rule.query,
                                                       case_sensitive=rule.case_sensitive))
            assert (rule.name in found) is ok, rule.query
            if ok:
                assert found[rule.name] == fired, rule.query


@settings(max_examples=150, deadline=None)
@given(query=positional, article=articles)
def test_spans_point_at_the_words(query: str, article: Article) -> None:
    assume(_valid(query, False))
    ruleset = compile_rules([Rule("q", query, exact=True)])
    for match in ruleset.match(article):
        for hit in match.terms:
            atoms = hit.term.split(" ")
            for span in hit.spans:
                original = article.field(span.field)[span.start : span.end]
                words = [t.text for t in tokenize(original)]
                assert len(words) == len(atoms)
                for atom, word in zip(atoms, words, strict=True):
                    assert word.startswith(atom[:-1]) if atom.endswith("*") else word == atom


unicode_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(unicode_text, texts))
def test_insensitive_tokens_are_a_function_of_sensitive_ones(text: str) -> None:
    # The matcher screens case-sensitive rules with the case-insensitive index; that is
    # sound because folding case never moves token boundaries.
    sensitive = tokenize(text, case_sensitive=True)
    insensitive = tokenize(text)
    assert [(t.start, t.end) for t in insensitive] == [(t.start, t.end) for t in sensitive]
    assert [t.text for t in insensitive] == [normalize(t.text) for t in sensitive]


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(unicode_text, st.text(string.printable, max_size=60)))
def test_token_spans_are_ordered_and_inside(text: str) -> None:
    previous_end = 0
    for token in tokenize(text):
        assert previous_end <= token.start < token.end <= len(text)
        assert token.text and " " not in token.text
        previous_end = token.start
