"""Parse a watch-rule query into a syntax tree (see ``nodes``).

Pure: no I/O.

Grammar, loosest binding first (precedence NOT > AND > OR; NEAR binds tightest)::

    query   = or_expr END
    or_expr = and_expr { "OR" and_expr }
    and_expr= unary { ["AND"] unary }            # juxtaposition is AND
    unary   = ("NOT" | "-") unary | near
    near    = primary { ("NEAR/n" | "ONEAR/n") primary }
    primary = "(" or_expr ")" | field ":" primary | PHRASE | WORD | REGEX | META

A bare word that folds to several tokens (``supply-chain``, ``U.S.``) is a phrase of them.
``*`` right after a token makes it a prefix (at least 3 characters), also inside phrases.
``?`` between letters or digits is one character of the token (``defen?e``); elsewhere it is
punctuation, as before. ``=`` before a word or phrase makes the term exact.
NEAR sides must be positional: words, phrases, prefixes, NEARs, or OR-groups of those.
A query must contain a term that is not negated (``NOT x`` alone is an error); the
metadata filters ``lang:`` and ``published:`` (``filters``) narrow a query, they are not
terms of it (``lang:de`` alone is an error).
"""

from __future__ import annotations

import re
import sys
import unicodedata

from monitor.errors import QueryError
from monitor.rules.filters import parse_lang, parse_published
from monitor.rules.lexer import Lexeme, lex
from monitor.rules.nodes import (
    DEFAULT_FIELDS,
    And,
    Atom,
    Lang,
    Near,
    Node,
    Not,
    Or,
    Published,
    Regex,
    Term,
    is_positional,
)
from monitor.rules.normalize import Token, tokenize
from monitor.rules.regexes import compile_regex

__all__ = ["MIN_PREFIX", "parse_query"]

MIN_PREFIX = 3
"""Characters a prefix term needs before its ``*``; a token with ``?`` needs as many others."""

_APOSTROPHES = frozenset("'\u2019\u02bc")
_PLAIN_WORDS = re.compile(r"[A-Za-z0-9]+(?: [A-Za-z0-9]+)*")
"""ASCII words with single spaces between them: each word one token, folded by lower
case alone (``normalize``), nothing to check (the common case: names, topic phrases)."""
_CONTRACTED = frozenset("it that he she let what there here who where how".split())
"""Words whose ``'s`` is a verb (``it's``), not a possessive."""

MAX_DEPTH = 100
"""Deepest nesting of parentheses and operators accepted."""

_PRIMARY_START = frozenset({"(", "WORD", "PHRASE", "REGEX", "FIELD", "META"})
_UNARY_START = _PRIMARY_START | {"NOT"}


def parse_query(query: str, *, case_sensitive: bool = False) -> Node:
    """The syntax tree of ``query``; raises QueryError with a 1-based column."""
    return _Parser(lex(query), case_sensitive).parse()


class _Parser:
    def __init__(self, lexemes: list[Lexeme], case_sensitive: bool) -> None:
        self.lexemes = lexemes
        self.pos = 0
        self.case_sensitive = case_sensitive
        self.scope: tuple[str, ...] | None = None
        self.depth = 0

    def peek(self) -> Lexeme:
        return self.lexemes[self.pos]

    def take(self) -> Lexeme:
        lexeme = self.lexemes[self.pos]
        self.pos += 1
        return lexeme

    def parse(self) -> Node:
        if self.peek().kind == "END":
            raise QueryError("empty query", 1)
        node = self.or_expr()
        extra = self.peek()
        if extra.kind == ")":
            raise QueryError("unbalanced parenthesis: this ) has no (", extra.column)
        if extra.kind != "END":  # pragma: no cover - and_expr consumes every term start
            raise QueryError(f"unexpected {extra.text!r}", extra.column)
        _require_positive(node)
        return node

    def operand_after(self, op: Lexeme, starts: frozenset[str]) -> None:
        """Raise unless a term follows the operator ``op``."""
        if self.peek().kind not in starts:
            if op.kind in ("NOT", "FIELD"):
                raise QueryError(f"{op.text} needs a term after it", op.column)
            raise QueryError(f"{op.text} needs a term on both sides", op.column)

    def or_expr(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError("query is nested too deeply", self.peek().column)
        children = [self.and_expr()]
        while self.peek().kind == "OR":
            self.operand_after(self.take(), _UNARY_START)
            children.append(self.and_expr())
        self.depth -= 1
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.unary()]
        while True:
            kind = self.peek().kind
            if kind == "AND":
                self.operand_after(self.take(), _UNARY_START)
            elif kind not in _UNARY_START:
                break
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self) -> Node:
        start = self.peek()
        if start.kind in ("OR", "AND", "NEAR"):
            raise QueryError(f"{start.text} needs a term on both sides", start.column)
        if start.kind != "NOT":
            return self.near()
        self.take()
        self.operand_after(start, _UNARY_START)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError("query is nested too deeply", start.column)
        child = self.unary()
        self.depth -= 1
        return Not(child, start.column)

    def near(self) -> Node:
        left = self.primary()
        while self.peek().kind == "NEAR":
            op = self.take()
            if self.peek().kind == "NOT":
                _require_positional(Not(Term(())), self.peek().column, op.text)
            self.operand_after(op, _PRIMARY_START)
            right_column = self.peek().column
            right = self.primary()
            _require_positional(left, op.column, op.text)
            _require_positional(right, right_column, op.text)
            left = Near(left, right, op.distance, op.ordered, op.column)
        return left

    def primary(self) -> Node:
        lexeme = self.take()
        if lexeme.kind == "(":
            return self.group(lexeme)
        if lexeme.kind == "FIELD":
            return self.scoped(lexeme)
        if lexeme.kind == "REGEX":
            compile_regex(lexeme.text, self.case_sensitive, lexeme.column)
            return Regex(lexeme.text, self.fields(), self.case_sensitive, lexeme.column)
        if lexeme.kind in ("WORD", "PHRASE"):
            return self.term(lexeme)
        if lexeme.kind == "META":
            parse = parse_lang if lexeme.text == "lang" else parse_published
            return parse(lexeme.value, lexeme.value_column, lexeme.column)
        if lexeme.kind == ")":
            raise QueryError("unbalanced parenthesis: this ) has no (", lexeme.column)
        raise QueryError(f"{lexeme.text} needs a term on both sides", lexeme.column)

    def group(self, opening: Lexeme) -> Node:
        if self.peek().kind == ")":
            raise QueryError("empty parentheses", opening.column)
        if self.peek().kind == "END":
            raise QueryError("unbalanced parenthesis: this ( is never closed", opening.column)
        node = self.or_expr()
        if self.take().kind != ")":
            raise QueryError("unbalanced parenthesis: this ( is never closed", opening.column)
        return node

    def scoped(self, field: Lexeme) -> Node:
        if self.scope is not None:
            raise QueryError("field scopes cannot be nested", field.column)
        self.scope = (field.text,)
        try:
            return self.primary()
        finally:
            self.scope = None

    def fields(self) -> tuple[str, ...]:
        return self.scope or DEFAULT_FIELDS

    def term(self, lexeme: Lexeme) -> Term:
        offset = lexeme.column + (1 if lexeme.kind == "PHRASE" else 0)
        atoms = _atoms(lexeme.text, offset, self.case_sensitive)
        if not atoms and lexeme.kind == "PHRASE":
            raise QueryError("empty phrase", lexeme.column)
        if not atoms:
            raise QueryError(f"{lexeme.text!r} has no letters or digits to search for",
                             lexeme.column)
        return Term(atoms, self.fields(), lexeme.column, lexeme.exact)


def _wildcards(raw: str) -> set[int]:
    """Indexes of the ``?`` that stand for one character: runs of ``?`` between two
    letters or digits."""
    found: set[int] = set()
    if "?" not in raw:
        return found
    i = 0
    while (i := raw.find("?", i)) >= 0:
        j = i
        while j < len(raw) and raw[j] == "?":
            j += 1
        if i > 0 and raw[i - 1].isalnum() and j < len(raw) and raw[j].isalnum():
            found.update(range(i, j))
        i = j
    return found


def _token_texts(raw: str, case_sensitive: bool) -> tuple[list[Token], list[str]]:
    """The tokens of ``raw`` (``?`` wildcards inside them) and their texts, ``?`` kept."""
    wild = _wildcards(raw)
    if not wild:
        tokens = tokenize(raw, case_sensitive=case_sensitive)
        return tokens, [t.text for t in tokens]
    stand_in = "".join("a" if i in wild else ch for i, ch in enumerate(raw))
    tokens = tokenize(stand_in, case_sensitive=case_sensitive)
    texts = []
    for t in tokens:
        pieces, piece = [], ""
        for i in range(t.start, t.end):
            if i in wild:
                pieces.append(piece)
                piece = ""
            else:
                piece += raw[i]
        pieces.append(piece)
        texts.append("?".join("".join(w.text for w in tokenize(p, case_sensitive=case_sensitive))
                              for p in pieces))
    return tokens, texts


def _atoms(raw: str, column: int, case_sensitive: bool) -> tuple[Atom, ...]:
    """The atoms of a word or phrase; ``column`` is that of ``raw[0]`` in the query."""
    if _PLAIN_WORDS.fullmatch(raw):
        return tuple([Atom(sys.intern(word if case_sensitive else word.lower()),
                           source=_source(word)) for word in raw.split(" ")])
    tokens, texts = _token_texts(raw, case_sensitive)
    ends = {t.end: n for n, t in enumerate(tokens)}
    prefixes: set[int] = set()
    for i, ch in enumerate(raw):
        if ch != "*":
            continue
        n = ends.get(i)
        followed = i + 1 < len(raw) and (i + 1) in {t.start for t in tokens}
        if n is None or followed:
            raise QueryError("* may only end a word, as in comput*", column + i)
        if "?" in texts[n]:
            raise QueryError("a word cannot hold both ? and *", column + tokens[n].start)
        if len(texts[n]) < MIN_PREFIX:
            raise QueryError(
                f"a prefix needs at least {MIN_PREFIX} characters before *, as in comput*",
                column + tokens[n].start,
            )
        prefixes.add(n)
    for n, text in enumerate(texts):
        if "?" in text and len(text) - text.count("?") < MIN_PREFIX:
            raise QueryError(f"a word with ? needs at least {MIN_PREFIX} other characters, "
                             "as in defen?e", column + tokens[n].start)
    if len(tokens) == 1 and raw.isascii() and raw.isalpha():  # the common case: a word
        return (Atom(sys.intern(texts[0]), source=_source(raw)),)
    dotted = _dotted(raw, tokens) if "." in raw else set()
    apostrophes = not _APOSTROPHES.isdisjoint(raw)
    return tuple(
        Atom(sys.intern(text), n in prefixes, "?" in text, _source(raw[t.start : t.end]),
             apostrophes and _possessive(raw, tokens, n), n in dotted)
        for n, (t, text) in enumerate(zip(tokens, texts, strict=True))
    )


def _source(written: str) -> str:
    """What an atom keeps of the token as written: all of it where folding loses something
    that variants need (accents for dictionaries, capitals for acronyms), else nothing."""
    if written.isascii() and not (len(written) > 1 and written.isupper()):
        return ""
    return unicodedata.normalize("NFC", written)


def _possessive(raw: str, tokens: list[Token], n: int) -> bool:
    """Whether token ``n`` is the ``s`` of a possessive (``risk's``, not ``it's``)."""
    t = tokens[n]
    return (n > 0 and t.end - t.start == 1 and raw[t.start] in "sS"
            and tokens[n - 1].end == t.start - 1 and raw[t.start - 1] in _APOSTROPHES
            and tokens[n - 1].text.lower() not in _CONTRACTED)


def _dotted(raw: str, tokens: list[Token]) -> set[int]:
    """Tokens that are single letters joined to the next one by a dot (``U.S.``)."""
    return {n for n in range(len(tokens) - 1)
            if tokens[n].end - tokens[n].start == 1 and raw[tokens[n].start].isalpha()
            and tokens[n + 1].end - tokens[n + 1].start == 1
            and raw[tokens[n + 1].start].isalpha()
            and raw[tokens[n].end : tokens[n + 1].start] == "."}


def _require_positional(node: Node, column: int, op: str) -> None:
    if not is_positional(node):
        raise QueryError(
            f"{op} joins words, phrases, prefixes or (… OR …) groups of them", column
        )


def _positive(node: Node) -> bool:
    """Whether ``node`` holds a term that is not negated."""
    if isinstance(node, (Term, Regex, Near)):  # a tuple: faster than a union here
        return True
    if isinstance(node, (Not, Lang, Published)):
        return False
    return any(_positive(c) for c in node.children)


def _first_not(node: Node) -> int:
    if isinstance(node, Not):
        return node.column
    if isinstance(node, And | Or):
        return min((_first_not(c) for c in node.children), default=1)
    return 1  # pragma: no cover - only reached for positive nodes


def _first_meta(node: Node) -> int | None:
    if isinstance(node, Lang | Published):
        return node.column
    if isinstance(node, Not):
        return _first_meta(node.child)
    if isinstance(node, And | Or):
        return next((c for child in node.children if (c := _first_meta(child))), None)
    return None


def _require_positive(node: Node) -> None:
    if not _positive(node) and (column := _first_meta(node)) is not None:
        raise QueryError("lang: and published: only narrow a search: add a word to search "
                         "for, as in: lang:de Lieferkette", column)
    if not _positive(node):
        raise QueryError(
            "query has no term that must occur (NOT alone would match almost every article); "
            "add one, as in: tariffs NOT steel",
            _first_not(node),
        )
