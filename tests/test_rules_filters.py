"""The metadata filters ``lang:`` and ``published:``: parsing (valid forms, every error with
its column) and evaluation on articles (monitor.rules.filters)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from monitor.errors import QueryError
from monitor.models import Article
from monitor.rules import And, Not, Or, Rule, Term, compile_rules, match_query, parse_query
from monitor.rules.nodes import Lang, Published

D = date.fromisoformat

VALID = [
    ("lang", "lang:en x", Lang(("en",))),
    ("lang-upper", "LANG:DE x", Lang(("de",))),
    ("lang-group", "lang:(de OR fr) x", Lang(("de", "fr"))),
    ("lang-group-spaces", "lang:( de  OR FR ) x", Lang(("de", "fr"))),
    ("lang-one-in-parens", "lang:(it) x", Lang(("it",))),
    ("after", "published:>2026-03-01 x", Published(D("2026-03-02"), None)),
    ("from", "published:>=2026-03-01 x", Published(D("2026-03-01"), None)),
    ("before", "published:<2026-03-01 x", Published(None, D("2026-03-01"))),
    ("up-to", "published:<=2026-03-01 x", Published(None, D("2026-03-02"))),
    ("day", "published:2026-03-01 x", Published(D("2026-03-01"), D("2026-03-02"))),
    ("range", "published:2026-03-01..2026-03-31 x",
     Published(D("2026-03-01"), D("2026-04-01"))),
    ("range-one-day", "published:2026-02-28..2026-02-28 x",
     Published(D("2026-02-28"), D("2026-03-01"))),
]


@pytest.mark.parametrize(("query", "expected"), [v[1:] for v in VALID], ids=[v[0] for v in VALID])
def test_valid_filters(query: str, expected: Lang | Published) -> None:
    node = parse_query(query)
    assert isinstance(node, And)
    assert node.children == (expected, Term(node.children[1].atoms))  # type: ignore[union-attr]
    assert node.children[0].column == 1  # type: ignore[union-attr]


def test_filters_combine_with_the_other_operators() -> None:
    node = parse_query("Lieferkette (lang:de OR NOT published:<2026-01-01)")
    assert isinstance(node, And) and isinstance(node.children[1], Or)
    assert node.children[1].children == (Lang(("de",)),
                                         Not(Published(None, D("2026-01-01"))))


def test_a_field_value_that_looks_like_a_filter_is_a_word() -> None:
    node = parse_query("title:lang:en")
    assert isinstance(node, Term) and [a.text for a in node.atoms] == ["lang", "en"]


ERRORS = [
    ("lang-empty", "x lang:", "lang: needs a value right after the colon", 7),
    ("lang-empty-parens", "x lang:()", "lang: needs a value", 7),
    ("lang-unclosed", "x lang:(de OR fr", "this ( is never closed", 8),
    ("lang-long-code", "x lang:english", "'english' is not a 2-letter language code", 8),
    ("lang-region", "x lang:en-GB", "'en-GB' is not a 2-letter language code", 8),
    ("lang-digits", "x lang:e1", "is not a 2-letter language code", 8),
    ("lang-bad-code-in-group", "x lang:(de OR french)", "'french' is not a 2-letter", 15),
    ("lang-no-or", "x lang:(de fr)", "join language codes with OR", 12),
    ("lang-and", "x lang:(de AND fr)", "join language codes with OR", 12),
    ("lang-dangling-or", "x lang:(de OR)", "OR needs a language code on both sides", 12),
    ("lang-alone", "lang:de", "add a word to search for", 1),
    ("lang-only-filters", "lang:de published:>2026-01-01", "add a word to search for", 1),
    ("lang-with-not", "NOT x lang:de", "add a word to search for", 7),
    ("lang-near", "x NEAR/3 lang:de", "NEAR joins words", 10),
    ("published-empty", "x published:", "published: needs a value", 12),
    ("published-not-a-date", "x published:>yesterday", "needs a date like 2026-03-01", 14),
    ("published-short-date", "x published:2026-3-1", "needs a date like 2026-03-01", 13),
    ("published-bad-day", "x published:>=2026-02-30", "'2026-02-30' is not a day", 15),
    ("published-op-only", "x published:>", "needs a date like", 14),
    ("published-bad-range-end", "x published:2026-03-01..soon", "not 'soon'", 25),
    ("published-reversed", "x published:2026-03-31..2026-03-01", "ends before it starts", 13),
    ("published-alone", "published:>2026-03-01", "add a word to search for", 1),
    ("unknown-field-names-filters", "foo:x", "filters: lang:, published:", 1),
]


@pytest.mark.parametrize(("query", "message", "column"), [e[1:] for e in ERRORS],
                         ids=[e[0] for e in ERRORS])
def test_errors(query: str, message: str, column: int) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert message in caught.value.message
    assert caught.value.column == column


# -- evaluation -----------------------------------------------------------------------------


def article(language: str | None = "en", published: datetime | None = None,
            text: str = "Lieferkette supply chain risk") -> Article:
    return Article(url="https://example.org/a", title="", text=text, language=language,
                   published=published)


MARCH_1 = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)

EVALUATE = [
    ("lang-yes", "lang:de Lieferkette", article("de"), True),
    ("lang-no", "lang:de Lieferkette", article("en"), False),
    ("lang-region-code", "lang:de Lieferkette", article("de-AT"), True),
    ("lang-unknown", "lang:en risk", article(None), False),
    ("lang-group", "lang:(de OR fr) risk", article("fr"), True),
    ("lang-group-no", "lang:(de OR fr) risk", article("es"), False),
    ("not-lang", "risk NOT lang:en", article("en"), False),
    ("minus-lang", "risk -lang:en", article("en"), False),
    ("minus-lang-other", "risk -lang:en", article("de"), True),
    ("or-lang", "nothing OR lang:de", article("de"), True),
    ("after-no", "published:>2026-03-01 risk", article(published=MARCH_1), False),
    ("after-yes", "published:>2026-02-28 risk", article(published=MARCH_1), True),
    ("from-same-day", "published:>=2026-03-01 risk", article(published=MARCH_1), True),
    ("before-same-day", "published:<2026-03-01 risk", article(published=MARCH_1), False),
    ("up-to-same-day", "published:<=2026-03-01 risk", article(published=MARCH_1), True),
    ("day", "published:2026-03-01 risk", article(published=MARCH_1), True),
    ("range", "published:2026-02-01..2026-03-01 risk", article(published=MARCH_1), True),
    ("range-out", "published:2026-03-02..2026-03-31 risk", article(published=MARCH_1), False),
    ("utc-day", "published:2026-03-01 risk",
     article(published=datetime.fromisoformat("2026-03-02T01:00:00+05:00")), True),
    ("no-date", "published:>2020-01-01 risk", article(published=None), False),
]


@pytest.mark.parametrize(("query", "art", "expected"), [e[1:] for e in EVALUATE],
                         ids=[e[0] for e in EVALUATE])
def test_evaluation(query: str, art: Article, expected: bool) -> None:
    assert (match_query(query, art) is not None) is expected


def test_a_filter_reports_no_hit_of_its_own() -> None:
    found = match_query("lang:de Lieferkette", article("de"))
    assert found is not None and [t.term for t in found.terms] == ["lieferkette"]


def test_rules_with_filters_are_still_screened_by_their_words() -> None:
    rules = compile_rules([Rule("a", "lang:de Lieferkette"), Rule("b", "lang:de Zoll")])
    assert [m.rule for m in rules.match(article("de"))] == ["a"]


def test_a_rule_limited_to_languages_skips_other_articles() -> None:
    rules = compile_rules([Rule("any", "risk"),
                           Rule("fr", "risk", languages=("fr",), article_languages=("fr",))])
    assert [m.rule for m in rules.match(article("en"))] == ["any"]
    assert [m.rule for m in rules.match(article("fr"))] == ["any", "fr"]
    assert [m.rule for m in rules.match(article(None))] == ["any"]


def test_a_lowercase_operator_after_a_filter_is_warned_about() -> None:
    from monitor.rules import query_warnings

    assert any("did you mean OR?" in w for w in query_warnings("lang:de or Zoll"))
    assert query_warnings("lang:(de OR fr) Zoll") == []
