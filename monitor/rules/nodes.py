"""The syntax tree of a watch-rule query, as ``parse_query`` returns it.

Pure data: frozen dataclasses, no behaviour beyond display helpers. ``column`` (1-based, in
the query) is kept for messages and left out of equality, so equal queries compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TypeAlias

from monitor.rules.normalize import BREAK, is_cjk

DEFAULT_FIELDS: tuple[str, ...] = ("title", "body")
"""The scope of a term without a ``field:`` prefix."""


@dataclass(frozen=True, slots=True)
class Atom:
    """One token of a term: a whole normalised token, or a prefix (``comput*``).

    ``text`` may hold ``?`` wildcards, each one character (``wildcard``). ``source`` is the
    token as written in the query where folding loses what variants need: accents (for
    dictionaries) or capitals (for acronyms); ``""`` otherwise. ``possessive``: an ``s``
    right after an apostrophe (``risk's``). ``dotted``: a letter joined to the next one by
    a dot, as in ``U.S.``.
    """

    text: str
    prefix: bool = False
    wildcard: bool = False
    source: str = ""
    possessive: bool = False
    dotted: bool = False

    def __str__(self) -> str:
        return self.text + "*" if self.prefix else self.text

    @property
    def written(self) -> str:
        """The token as written (``text`` when unknown)."""
        return self.source or self.text


@dataclass(frozen=True, slots=True)
class Term:
    """Consecutive tokens (one for a word or prefix, several for a phrase) in ``fields``.

    ``exact`` (``=word``, ``="a b"``): matched literally, without variant folding.
    """

    atoms: tuple[Atom, ...]
    fields: tuple[str, ...] = DEFAULT_FIELDS
    column: int = field(default=0, compare=False)
    exact: bool = False

    @property
    def text(self) -> str:
        """The term as reported in a match: normalised tokens joined by spaces (none
        between two CJK characters; a ``BREAK`` shows as a space)."""
        return ("=" if self.exact else "") + _joined([str(a) for a in self.atoms])


def _joined(words: list[str]) -> str:
    if all(map(str.isascii, words)):  # the common case
        return " ".join(words)
    out = ""
    for word in words:
        if word == BREAK:
            out += " "
        elif out and not out.endswith(" ") and not (is_cjk(out[-1]) and is_cjk(word[0])):
            out += " " + word
        else:
            out += word
    return out


@dataclass(frozen=True, slots=True)
class Regex:
    """A ``/regex/`` searched in ``fields`` (NFKC text, quotes and dashes plain)."""

    pattern: str
    fields: tuple[str, ...] = DEFAULT_FIELDS
    case_sensitive: bool = False
    column: int = field(default=0, compare=False)

    @property
    def text(self) -> str:
        """The term as reported in a match."""
        return f"/{self.pattern}/"


@dataclass(frozen=True, slots=True)
class Not:
    """True when ``child`` is false (``NOT x``, ``-x``)."""

    child: Node
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    """True when every child is true (``a b``, ``a AND b``)."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """True when any child is true (``a OR b``)."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Near:
    """Both sides occur with at most ``distance`` other tokens between them.

    ``ordered`` (``ONEAR``): ``left`` comes first. Sides are positional: a ``Term``, a
    ``Near``, or an ``Or`` of positional nodes.
    """

    left: Node
    right: Node
    distance: int
    ordered: bool = False
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Lang:
    """True when the article's language is one of ``codes`` (2-letter, lower case):
    ``lang:en``, ``lang:(de OR fr)``. An article of unknown language has none of them."""

    codes: tuple[str, ...]
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Published:
    """True when the article's publication day (UTC) is on or after ``after`` and before
    ``before`` (either None: unbounded): ``published:>2026-03-01`` is ``after`` March 2.
    An article without a date has none (callers pass the day it was first seen instead)."""

    after: date | None = None
    before: date | None = None
    column: int = field(default=0, compare=False)


Meta: TypeAlias = "Lang | Published"
"""A filter on the article's metadata, not its text."""

Node: TypeAlias = "Term | Regex | Not | And | Or | Near | Lang | Published"
"""Any query node."""

def is_positional(node: Node) -> bool:
    """Whether ``node`` has token positions, so it may be an operand of ``NEAR``."""
    if isinstance(node, Or):
        return all(is_positional(c) for c in node.children)
    return isinstance(node, Term | Near)


def iter_terms(node: Node, *, negated: bool = False) -> list[tuple[Term | Regex, bool]]:
    """Every term and regex of ``node`` in query order, with whether it sits under a NOT."""
    if isinstance(node, Term | Regex):
        return [(node, negated)]
    if isinstance(node, Lang | Published):
        return []
    if isinstance(node, Not):
        return iter_terms(node.child, negated=not negated)
    children = (node.left, node.right) if isinstance(node, Near) else node.children
    return [pair for child in children for pair in iter_terms(child, negated=negated)]
