"""Split a watch-rule query into lexemes.

Pure: no I/O. Columns are 1-based character positions in the query as written.

Lexemes: ``(`` ``)``, ``"phrase"``, ``/regex/``, ``field:`` (only at the start of a term;
the value after it is lexed as a plain term), a filter on the article's metadata
(``lang:en``, ``lang:(de OR fr)``, ``published:>2026-03-01``: one ``META`` lexeme whose
``value`` the parser reads; ``value_column`` is where it starts), ``=`` right before a
word or phrase (exact: ``=risk``, ``="supply chain risk"``), the operators ``AND`` ``OR``
``NOT`` ``-`` ``NEAR/n`` ``ONEAR/n`` (capitals only), and bare words (any run of other
characters up to whitespace, a parenthesis or a double quote). Typographic double quotes
delimit phrases too, so a query pasted from a word processor still works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.errors import QueryError
from monitor.models import FIELDS

__all__ = ["Lexeme", "lex"]

MAX_DISTANCE = 1000
"""The largest n accepted in ``NEAR/n``."""

_QUOTES = str.maketrans(dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb", '"'))
_FIELD = re.compile(r"([A-Za-z]+):")
_NEAR = re.compile(r"(O?NEAR)(?:/(.*))?")
_OPERATORS = {"AND": "AND", "OR": "OR", "NOT": "NOT"}
META_FIELDS = ("lang", "published")
"""Filters on the article's metadata rather than its text."""
# ``\s`` is exactly what ``str.isspace`` takes: Unicode spaces too (a no-break space
# pasted from a web page or a word processor separates words as a space does)
_WORD = re.compile(r'[^\s()"]*')  # a run of characters up to a space, ( ) or "
_NONSPACE = re.compile(r"\S")


@dataclass(frozen=True, slots=True)
class Lexeme:
    """One lexeme; ``kind`` is ``( ) WORD PHRASE REGEX FIELD META AND OR NOT NEAR END``."""

    kind: str
    text: str
    column: int
    distance: int = 0
    ordered: bool = False
    exact: bool = False
    value: str = ""  # META: what follows the colon (inside the parentheses, if any)
    value_column: int = 0


class _Lexer:
    def __init__(self, query: str) -> None:
        self.q = query if query.isascii() else query.translate(_QUOTES)
        self.i = 0
        self.out: list[Lexeme] = []

    def run(self) -> list[Lexeme]:
        after_field = False
        while self._skip_space():
            if after_field:
                self._value()
                after_field = False
            else:
                after_field = self._lexeme()
        self.out.append(Lexeme("END", "", len(self.q) + 1))
        return self.out

    def _skip_space(self) -> bool:
        m = _NONSPACE.search(self.q, self.i)
        self.i = len(self.q) if m is None else m.start()
        return m is not None

    def _emit(self, kind: str, text: str, start: int, distance: int = 0,
              ordered: bool = False, exact: bool = False) -> None:
        self.out.append(Lexeme(kind, text, start + 1, distance, ordered, exact))

    def _lexeme(self) -> bool:
        """Lex one lexeme at a term start; True if it was a ``field:``."""
        ch = self.q[self.i]
        if ch in "()":
            self._emit(ch, ch, self.i)
            self.i += 1
        elif ch == "-":
            self._minus()
        elif (m := _FIELD.match(self.q, self.i)) is not None and m[1].lower() in META_FIELDS:
            self._meta(m)
        elif m is not None:
            self._field(m)
            return True
        else:
            self._value()
        return False

    def _value(self) -> None:
        """Lex a phrase, a regex or a bare word (what may follow ``field:``)."""
        ch = self.q[self.i]
        if ch == "=":
            self._exact()
        elif ch == '"':
            self._phrase()
        elif ch == "/":
            self._regex()
        elif ch in "()":
            self._emit(ch, ch, self.i)
            self.i += 1
        else:
            self._word()

    def _minus(self) -> None:
        nxt = self.q[self.i + 1 : self.i + 2]
        if not nxt or nxt.isspace() or nxt == ")":
            raise QueryError("- needs a term right after it, as in -word", self.i + 1)
        self._emit("NOT", "-", self.i)
        self.i += 1

    def _field(self, m: re.Match[str]) -> None:
        name = m.group(1).lower()
        if name not in FIELDS:
            known = ", ".join(FIELDS)
            raise QueryError(f"unknown field {m.group(1)!r} (known fields: {known}; "
                             "filters: lang:, published:)", self.i + 1)
        self._emit("FIELD", name, self.i)
        self.i = m.end()
        nxt = self.q[self.i : self.i + 1]
        if not nxt or nxt.isspace() or nxt == ")":
            raise QueryError(f"{name}: needs a term right after the colon", self.i)
        if nxt == "-":
            raise QueryError(f"put NOT before the field, as in -{name}:word", self.i + 1)

    def _meta(self, m: re.Match[str]) -> None:
        """``lang:`` or ``published:`` and its value: a word, or ``( … )`` for ``lang:``."""
        name, start = m[1].lower(), self.i
        self.i = m.end()
        if self.q[self.i : self.i + 1] == "(":
            end = self.q.find(")", self.i)
            if end < 0:
                raise QueryError("unbalanced parenthesis: this ( is never closed", self.i + 1)
            value, column, self.i = self.q[self.i + 1 : end], self.i + 2, end + 1
        else:
            self.i = _WORD.match(self.q, self.i).end()  # type: ignore[union-attr]
            value, column = self.q[m.end() : self.i], m.end() + 1
        if not value.strip():
            example = "lang:en" if name == "lang" else "published:>2026-03-01"
            raise QueryError(f"{name}: needs a value right after the colon, as in {example}",
                             m.end())
        self.out.append(Lexeme("META", name, start + 1, value=value, value_column=column))

    def _exact(self) -> None:
        """``=word`` or ``="a phrase"``: matched literally."""
        nxt = self.q[self.i + 1 : self.i + 2]
        if not nxt or nxt.isspace() or nxt in '()=/':
            raise QueryError('= needs a word or a quoted phrase right after it, as in '
                             '="supply chain risk"', self.i + 1)
        self.i += 1
        if nxt == '"':
            self._phrase(exact=True)
        else:
            self._word(exact=True)

    def _phrase(self, exact: bool = False) -> None:
        end = self.q.find('"', self.i + 1)
        if end < 0:
            raise QueryError("unbalanced quote", self.i + 1)
        self._emit("PHRASE", self.q[self.i + 1 : end], self.i, exact=exact)
        self.i = end + 1

    def _regex(self) -> None:
        j = self.i + 1
        while j < len(self.q) and self.q[j] != "/":
            j += 2 if self.q[j] == "\\" else 1
        if j >= len(self.q):
            raise QueryError("unterminated regex, the closing / is missing", self.i + 1)
        if j == self.i + 1:
            raise QueryError("empty regex", self.i + 1)
        self._emit("REGEX", self.q[self.i + 1 : j], self.i)
        self.i = j + 1

    def _word(self, exact: bool = False) -> None:
        start = self.i
        self.i = _WORD.match(self.q, start).end()  # type: ignore[union-attr]  # ``*``: always
        word = self.q[start : self.i]
        if exact:
            self._emit("WORD", word, start, exact=True)
        elif self.out and self.out[-1].kind == "FIELD":
            self._emit("WORD", word, start)
        elif word in _OPERATORS:
            self._emit(_OPERATORS[word], word, start)
        elif (m := _NEAR.fullmatch(word)) is not None:
            self._near(m, start)
        else:
            self._emit("WORD", word, start)

    def _near(self, m: re.Match[str], start: int) -> None:
        op = m.group(1)
        digits = m.group(2) or ""
        if not (digits.isascii() and digits.isdigit()):
            raise QueryError(f"{op} needs a number, as in {op}/5", start + 1)
        distance = int(digits)
        if distance > MAX_DISTANCE:
            raise QueryError(f"{op} distance must be at most {MAX_DISTANCE}", start + 1)
        self._emit("NEAR", op, start, distance=distance, ordered=op == "ONEAR")


def lex(query: str) -> list[Lexeme]:
    """The lexemes of ``query``, ending with an ``END`` lexeme; raises QueryError."""
    return _Lexer(query).run()
