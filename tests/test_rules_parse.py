"""Watch-rule query language: normalisation, tokenisation, parsing and every error."""

from __future__ import annotations

import pytest

from monitor.errors import QueryError
from monitor.rules import (
    And,
    Near,
    Node,
    Not,
    Or,
    Regex,
    Term,
    check_query,
    normalize,
    parse_query,
    tokenize,
)


def show(node: Node) -> str:
    """A compact s-expression of a syntax tree, for table-driven expectations."""
    if isinstance(node, Term):
        text = node.text if len(node.atoms) == 1 else f'"{node.text}"'
        return text if node.fields == ("title", "body") else f"{node.fields[0]}:{text}"
    if isinstance(node, Regex):
        scope = "" if node.fields == ("title", "body") else f"{node.fields[0]}:"
        return f"{scope}{node.text}"
    if isinstance(node, Not):
        return f"(not {show(node.child)})"
    if isinstance(node, Near):
        op = "onear" if node.ordered else "near"
        return f"({op}/{node.distance} {show(node.left)} {show(node.right)})"
    op = "and" if isinstance(node, And) else "or"
    return f"({op} {' '.join(show(c) for c in node.children)})"


# -- normalisation and tokens ---------------------------------------------------------------

NORMALIZE = [
    ("Supply-Chain Risk", "supply-chain risk"),
    ("Caf\u00e9", "cafe"),
    ("\uff21\uff22\uff23", "abc"),  # fullwidth letters
    ("\u201cquoted\u201d \u2018single\u2019", "\"quoted\" 'single'"),
    ("war\u2014era \u2013 range", "war-era - range"),
    ("\ufb01nance", "finance"),  # ligature
    ("Stra\u00dfe", "strasse"),
    ("cafe\u0301", "cafe"),  # combining accent
    ("soft\u00adhyphen", "softhyphen"),
]


@pytest.mark.parametrize(("text", "expected"), NORMALIZE,
                         ids=["hyphen", "accent", "fullwidth", "quotes", "dashes", "ligature",
                              "sharp-s", "combining", "soft-hyphen"])
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_normalize_case_sensitive_keeps_case_but_folds_accents() -> None:
    assert normalize("Caf\u00e9 \u201cABC\u201d", case_sensitive=True) == 'Cafe "ABC"'


TOKENS = [
    ("supply-chain risk", ["supply", "chain", "risk"]),
    ("Supply Chain Risk", ["supply", "chain", "risk"]),
    ("the Act, not Action", ["the", "act", "not", "action"]),
    ("Pentagon\u2019s demands", ["pentagon", "s", "demands"]),
    ("snake_case and-or", ["snake", "case", "and", "or"]),
    ("\uff21\uff22\uff23 def", ["abc", "def"]),
    ("\ufb01nance stra\u00dfe", ["finance", "strasse"]),
    ("5:01 PM U.S.", ["5", "01", "pm", "u", "s"]),
    ("\u041f\u0440\u0438\u0432\u0435\u0442, \u041c\u0418\u0420",
     ["\u043f\u0440\u0438\u0432\u0435\u0442", "\u043c\u0438\u0440"]),
]


@pytest.mark.parametrize(("text", "expected"), TOKENS,
                         ids=["hyphen", "case", "act-action", "apostrophe", "underscore",
                              "fullwidth", "ligature-sharp-s", "numbers", "cyrillic"])
def test_tokenize(text: str, expected: list[str]) -> None:
    assert [t.text for t in tokenize(text)] == expected


SPANS = [
    ("A \uff21\uff22\uff23 b", "\uff21\uff22\uff23"),
    ("x \ufb01nance y", "\ufb01nance"),
    ("x stra\u00dfe y", "stra\u00dfe"),
    ("x cafe\u0301 y", "cafe\u0301"),
    ("\u201cSupply\u201d chain", "Supply"),
]


@pytest.mark.parametrize(("text", "original"), SPANS,
                         ids=["fullwidth", "ligature", "sharp-s", "combining", "quotes"])
def test_token_spans_point_into_the_original(text: str, original: str) -> None:
    spans = [text[t.start : t.end] for t in tokenize(text)]
    assert original in spans


def test_token_spans_after_length_changes() -> None:
    text = "\ufb01 stra\u00dfe caf\u0065\u0301 \uff21\uff22 end"
    assert [text[t.start : t.end] for t in tokenize(text)] == [
        "\ufb01", "stra\u00dfe", "cafe\u0301", "\uff21\uff22", "end"]


def test_case_sensitive_tokens_keep_case() -> None:
    assert [t.text for t in tokenize("Caf\u00e9 ABC", case_sensitive=True)] == ["Cafe", "ABC"]


# -- parsing --------------------------------------------------------------------------------

PARSE = [
    ("word", "risk", "risk"),
    ("word-folded", "Caf\u00e9", "cafe"),
    ("phrase", '"supply chain risk"', '"supply chain risk"'),
    ("curly-phrase", "\u201csupply chain\u201d", '"supply chain"'),
    ("hyphen-word-is-phrase", "supply-chain", '"supply chain"'),
    ("prefix", "comput*", "comput*"),
    ("prefix-in-phrase", '"deep lear*"', '"deep lear*"'),
    ("implicit-and", "a b", "(and a b)"),
    ("and", "a AND b", "(and a b)"),
    ("or", "a OR b", "(or a b)"),
    ("not", "a NOT b", "(and a (not b))"),
    ("minus", "a -b", "(and a (not b))"),
    ("lowercase-ops-are-words", "a and or b", "(and a and or b)"),
    ("precedence", "a OR b c", "(or a (and b c))"),
    ("not-binds-tightest", "NOT a b OR c", "(or (and (not a) b) c)"),
    ("grouping", "(a OR b) c", "(and (or a b) c)"),
    ("near", "a NEAR/3 b", "(near/3 a b)"),
    ("onear", "a ONEAR/0 b", "(onear/0 a b)"),
    ("near-phrase", 'tariff NEAR/5 "steel imports"', '(near/5 tariff "steel imports")'),
    ("near-group", "(ceo OR chief) NEAR/2 resign*", "(near/2 (or ceo chief) resign*)"),
    ("near-chain", "a NEAR/1 b NEAR/2 c", "(near/2 (near/1 a b) c)"),
    ("near-binds-tighter-than-and", "x a NEAR/2 b", "(and x (near/2 a b))"),
    ("field", "title:ai", "title:ai"),
    ("field-phrase", 'body:"a b"', 'body:"a b"'),
    ("field-group", "source:(ap OR reuters)", "(or source:ap source:reuters)"),
    ("field-url", "url:https://example.org/a", 'url:"https example org a"'),
    ("field-case", "Title:x", "title:x"),
    ("field-operator-word", "title:AND", "title:and"),
    ("regex", r"/acme\s+corp/", r"/acme\s+corp/"),
    ("field-regex", r"url:/\.gov\b/", r"url:/\.gov\b/"),
    ("regex-slash", r"/a\/b/", r"/a\/b/"),
    ("or-not", "x OR NOT y", "(or x (not y))"),
    ("nearby-is-a-word", "NEARBY", "nearby"),
    # Unicode spaces (pasted from a web page or a word processor) separate as a space does
    ("nbsp-around-operator", "green\u00a0OR\u00a0blue", "(or green blue)"),
    ("unicode-spaces", "a\u2009b\u3000NOT\u202fc", "(and a b (not c))"),
    ("nbsp-in-phrase-stays", '"green\u00a0deal"', '"green deal"'),
]


@pytest.mark.parametrize(("query", "expected"), [(q, e) for _, q, e in PARSE],
                         ids=[i for i, _, _ in PARSE])
def test_parse(query: str, expected: str) -> None:
    assert show(parse_query(query)) == expected


def test_a_no_break_space_ends_a_filter_value() -> None:
    assert parse_query("tariffs lang:en\u00a0steel") == parse_query("tariffs lang:en steel")


def test_parse_case_sensitive_keeps_case() -> None:
    assert show(parse_query('Apple "Tim Cook"', case_sensitive=True)) == '(and Apple "Tim Cook")'


def test_columns_are_recorded() -> None:
    node = parse_query('a OR "b c"')
    assert isinstance(node, Or)
    assert [c.column for c in node.children if isinstance(c, Term)] == [1, 6]


# -- errors ---------------------------------------------------------------------------------

ERRORS = [
    ("empty", "", "empty query", 1),
    ("blank", "   ", "empty query", 1),
    ("unbalanced-quote", 'risk "supply chain', "unbalanced quote", 6),
    ("unbalanced-quote-col7", 'abcde "x', "unbalanced quote", 7),
    ("unclosed-paren", "(a OR b", "this ( is never closed", 1),
    ("unopened-paren", "a OR b)", "this ) has no (", 7),
    ("empty-parens", "a ()", "empty parentheses", 3),
    ("near-no-number", "a NEAR b", "NEAR needs a number, as in NEAR/5", 3),
    ("near-bad-number", "a NEAR/x b", "NEAR needs a number", 3),
    ("near-slash-only", "a NEAR/ b", "NEAR needs a number", 3),
    ("onear-no-number", "a ONEAR b", "ONEAR needs a number, as in ONEAR/5", 3),
    ("near-too-far", "a NEAR/5000 b", "at most 1000", 3),
    ("near-dangling", "a NEAR/3", "NEAR needs a term on both sides", 3),
    ("near-leading", "NEAR/3 a", "NEAR needs a term on both sides", 1),
    ("near-not", "a NEAR/3 NOT b", "NEAR joins words, phrases, prefixes", 10),
    ("near-and-group", "a NEAR/2 (b c)", "NEAR joins words, phrases, prefixes", 10),
    ("near-regex", "a NEAR/2 /b+/", "NEAR joins words, phrases, prefixes", 10),
    ("near-left-not-positional", "(a b) NEAR/2 c", "NEAR joins", 7),
    ("pure-not", "NOT x", "no term that must occur", 1),
    ("pure-minus", "-x -y", "no term that must occur", 1),
    ("pure-not-or", "NOT a OR NOT b", "no term that must occur", 1),
    ("short-prefix", "co*", "at least 3 characters before *", 1),
    ("short-prefix-in-phrase", '"big co*"', "at least 3 characters before *", 6),
    ("star-inside", "comp*ute", "* may only end a word", 5),
    ("star-alone", "a *", "* may only end a word", 3),
    ("invalid-regex", "/[a-/", "invalid regex", 2),
    ("unterminated-regex", "x /abc", "unterminated regex", 3),
    ("empty-regex", "x //", "empty regex", 3),
    ("regex-empty-match", "/a*/", "can match empty text", 1),
    ("unknown-field", "foo:bar", "unknown field 'foo' (known fields: title, body, url", 1),
    ("field-no-value", "title: x", "title: needs a term right after the colon", 6),
    ("field-minus", "title:-x", "put NOT before the field", 7),
    ("nested-field", "title:(body:x)", "field scopes cannot be nested", 8),
    ("dangling-and", "a AND", "AND needs a term on both sides", 3),
    ("dangling-or", "a OR", "OR needs a term on both sides", 3),
    ("leading-or", "OR a", "OR needs a term on both sides", 1),
    ("double-and", "a AND AND b", "AND needs a term on both sides", 3),
    ("dangling-not", "a NOT", "NOT needs a term after it", 3),
    ("dangling-minus", "a - b", "- needs a term right after it", 3),
    ("empty-phrase", 'a ""', "empty phrase", 3),
    ("punctuation-only", "a &", "has no letters or digits", 3),
    ("too-deep", "(" * 150 + "a" + ")" * 150, "nested too deeply", 101),
]


@pytest.mark.parametrize(("query", "message", "column"), [e[1:] for e in ERRORS],
                         ids=[e[0] for e in ERRORS])
def test_errors(query: str, message: str, column: int) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert message in caught.value.message
    assert caught.value.column == column
    assert str(caught.value).endswith(f"at column {column}")


@pytest.mark.parametrize("query", ["x OR NOT y", "a -b", "(a OR b) NOT (c OR d)",
                                   r"/(foo|bar)+/", r"/(\w+\s+){3}/", r"/colou?r/"],
                         ids=["or-not", "minus", "group-not", "disjoint-alternatives",
                              "fixed-outer-count", "optional"])
def test_valid_queries_pass_check(query: str) -> None:
    assert check_query(query) is None


def test_check_query_raises_like_parse() -> None:
    with pytest.raises(QueryError, match="unbalanced quote at column 7"):
        check_query('abcde "x')
