"""Whole words a ``/regex/`` needs, so that most articles can screen it by token lookup.

Pure: no I/O. Reads patterns parsed by ``re._parser`` (see ``regexes``).

``word_literal`` finds, at the top level of a pattern, a run of ASCII letters and digits
with a word boundary on each side: ``\\b``, the start or end of a line, or a character
that is neither a letter, a digit nor ``_`` (``\\s``, ``-``, ``'`` …; also an optional
group starting with one, followed by such a boundary: ``Smith(?:'s)?\\b``). Every match
then contains the run as a whole word.

In a "plain" text, whose only non-ASCII characters are typographic quotes, dashes and
invisible joiners (``normalize.is_plain``), the regex text and the token text line up
character for character, so such a whole word, lower-cased, is one of the text's tokens:
the regex cannot match unless that token occurs. Anything else (accents, combining marks,
the dotless ``ı`` that ``re.IGNORECASE`` equates with ``i``) breaks that, so other texts
are scanned for the word as a literal instead.
"""

from __future__ import annotations

import re._constants as _c  # type: ignore[import-not-found, unused-ignore]
from typing import Any

from monitor.rules.regexes import MAX_RANGE, MIN_LITERAL, REPEATS, parse_readable

__all__ = ["word_literal"]

_Item = tuple[Any, Any]  # one (opcode, argument) pair of a parsed pattern
_BEFORE = (_c.AT_BOUNDARY, _c.AT_BEGINNING, _c.AT_BEGINNING_STRING)
_AFTER = (_c.AT_BOUNDARY, _c.AT_END, _c.AT_END_STRING)
_NONWORD_CATEGORIES = (_c.CATEGORY_SPACE, _c.CATEGORY_NOT_WORD, _c.CATEGORY_LINEBREAK)


def word_literal(pattern: str, case_sensitive: bool) -> str | None:
    """The longest whole word (lower case, ``MIN_LITERAL``+ characters) every match has."""
    parsed = parse_readable(pattern, case_sensitive)
    if parsed is None:
        return None
    items = _flatten(list(parsed))
    best: str | None = None
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and _is_ascii_word_char(items[j]):
            j += 1
        if j - i >= MIN_LITERAL and _bounded_before(items, i) and _bounded_after(items, j):
            word = "".join(chr(av) for _, av in items[i:j]).lower()
            best = word if best is None or len(word) > len(best) else best
        i = max(j, i + 1)
    return best


def _flatten(items: list[_Item]) -> list[_Item]:
    """Replace groups (each matched exactly once) by their items."""
    flat: list[_Item] = []
    for op, av in items:
        if op is _c.SUBPATTERN:
            flat.extend(_flatten(list(av[3])))
        else:
            flat.append((op, av))
    return flat


def _is_word(ch: str) -> bool:
    """What ``re`` counts as ``\\w``."""
    return ch.isalnum() or ch == "_"


def _is_ascii_word_char(item: _Item) -> bool:
    op, av = item
    return op is _c.LITERAL and av < 128 and chr(av).isalnum()


def _bounded_before(items: list[_Item], i: int) -> bool:
    if i == 0:
        return False
    op, av = items[i - 1]
    return av in _BEFORE if op is _c.AT else _nonword_run(op, av)


def _bounded_after(items: list[_Item], j: int) -> bool:
    if j == len(items):
        return False
    op, av = items[j]
    if op is _c.AT:
        return bool(av in _AFTER)
    if _nonword_run(op, av):
        return True
    if op in REPEATS and av[0] == 0:  # optional: bounded if present, and if absent
        body = _flatten(list(av[2]))
        return bool(body) and _nonword_run(*body[0]) and _bounded_after(items, j + 1)
    return False


def _nonword_run(op: Any, av: Any) -> bool:
    """Whether the item matches one or more characters, none of them ``\\w``."""
    if op in REPEATS:
        lo, _, body = av
        return lo >= 1 and len(body) == 1 and _nonword_char(*body[0])
    return _nonword_char(op, av)


def _nonword_char(op: Any, av: Any) -> bool:
    if op is _c.LITERAL:
        return not _is_word(chr(av))
    if op is _c.IN:
        return all(_nonword_member(o, a) for o, a in av)
    return False


def _nonword_member(op: Any, av: Any) -> bool:
    """Whether one member of a character class only takes non-``\\w`` characters."""
    if op is _c.LITERAL:
        return not _is_word(chr(av))
    if op is _c.CATEGORY:
        return av in _NONWORD_CATEGORIES
    if op is _c.RANGE and av[1] - av[0] <= MAX_RANGE:
        return not any(_is_word(chr(c)) for c in range(av[0], av[1] + 1))
    return False  # NEGATE and anything unknown
