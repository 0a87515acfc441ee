"""Watch rules: the query language, a matcher for many rules at once, and highlights.

Pure: nothing in this package does I/O.

Pipeline::

    query --lex/parse--> Node (nodes.py) --variants (variants.py)--> RuleSet (matcher.py)
    article --fold/tokenize (normalize.py)--> ArticleView (view.py) --match--> [Match]

Variants are folded on both sides (``variants``, ``lemmas``): a term matches its words'
inflections, British/American spellings, compounds and acronyms; ``=term`` and
``Rule(..., exact=True)`` (``match = "exact"``) match literally.

Typical use::

    rules = compile_rules([Rule("dpa", '"supply chain risk" OR "Defense Production Act"')])
    for match in rules.match(article):
        ...

``check_query`` validates without keeping anything (config validation); ``query_warnings``
flags valid queries that are probably not meant (lowercase ``or``); ``match_query`` is
the one-query convenience for ``monitor match`` and backtests. Every invalid query raises
``monitor.errors.QueryError`` with a human message and a 1-based ``column``.
"""

from __future__ import annotations

from monitor.rules.advice import query_warnings
from monitor.rules.matcher import Rule, RuleSet, compile_rules, match_query
from monitor.rules.nodes import DEFAULT_FIELDS, And, Atom, Near, Node, Not, Or, Regex, Term
from monitor.rules.normalize import Token, normalize, tokenize
from monitor.rules.parser import parse_query
from monitor.rules.prefilter import Prefilter, article_terms, prefilter

__all__ = [
    "DEFAULT_FIELDS",
    "And",
    "Atom",
    "Near",
    "Node",
    "Not",
    "Or",
    "Prefilter",
    "Regex",
    "Rule",
    "RuleSet",
    "Term",
    "Token",
    "article_terms",
    "check_query",
    "compile_rules",
    "match_query",
    "normalize",
    "parse_query",
    "prefilter",
    "query_warnings",
    "tokenize",
]


def check_query(query: str, *, case_sensitive: bool = False) -> None:
    """Raise QueryError if ``query`` is invalid; return None otherwise."""
    parse_query(query, case_sensitive=case_sensitive)
