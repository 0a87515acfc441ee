"""Advice on queries that are valid but probably not what their author meant.

Pure: no I/O. ``query_warnings`` returns human lines; it never raises for a query that
parses (a query that does not parse gets its QueryError from ``parse_query`` instead).
"""

from __future__ import annotations

from monitor.errors import QueryError
from monitor.rules.lexer import Lexeme, lex

__all__ = ["query_warnings"]

_OPERATOR_WORDS = {"or": "OR", "and": "AND", "not": "NOT"}
_TERM_KINDS = frozenset({"WORD", "PHRASE", "REGEX", "FIELD", "META", "(", ")"})


def query_warnings(query: str) -> list[str]:
    """Lines warning about lowercase ``or``/``and``/``not`` used between terms.

    Operators are capitals only, so ``tariffs or sanctions`` searches for three words,
    ``or`` included. A quoted ``"or"`` or a field value (``title:or``) is meant and
    gets no warning.
    """
    try:
        lexemes = lex(query)
    except QueryError:
        return []
    warnings = []
    for i, lexeme in enumerate(lexemes):
        operator = _operator_word(lexemes, i)
        if operator is not None:
            warnings.append(
                f"column {lexeme.column}: {lexeme.text!r} is searched as a word; did you "
                f"mean {operator}? (operators are capitals only; quote it, as in "
                f'"{lexeme.text}", to search the word)')
    return warnings


def _operator_word(lexemes: list[Lexeme], i: int) -> str | None:
    """The operator lexeme ``i`` looks like, if it stands where that operator would."""
    lexeme = lexemes[i]
    operator = _OPERATOR_WORDS.get(lexeme.text.lower())
    if lexeme.kind != "WORD" or operator is None:
        return None
    if i > 0 and lexemes[i - 1].kind == "FIELD":
        return None
    after = lexemes[i + 1].kind in _TERM_KINDS - {")"}
    before = i > 0 and lexemes[i - 1].kind in _TERM_KINDS - {"(", "FIELD"}
    return operator if after and (before or operator == "NOT") else None
