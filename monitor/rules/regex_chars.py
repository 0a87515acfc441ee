"""Characters of a ``/regex/`` in RE2's syntax, meaning what they mean to Python's ``re``.

Pure: no I/O. A literal, ``.``, or a set (``[a-z]``, ``\\w``, ``[^\\W\\d]``) becomes an RE2
set of the same code points: ``\\d`` is ``\\p{Nd}``, ``\\w`` ``[\\p{L}\\p{N}_]`` and ``\\s``
Python's own list (RE2's are ASCII); ``i``, ``I``, ``İ`` and ``ı`` are one class under
``re.IGNORECASE`` (RE2's case folding keeps the Turkish two apart). Sets RE2 cannot write
(a negated class inside a set, ranges over the markers of ``linear_regex``) are listed code
point by code point, as ``re`` itself finds them.
"""

from __future__ import annotations

import functools
import re
import re._constants as _c  # type: ignore[import-not-found, unused-ignore]
from typing import Any

__all__ = ["MARKERS", "Unsupported", "character", "hex_escape"]

MARKERS = ("\ue000", "\ue001")
"""Private-use characters ``linear_regex`` marks word boundaries with; never matched here."""
_NOTHING = r"[^\x{0}-\x{10FFFF}]"
_TURKIC_I = "iIİı"  # one class under re.IGNORECASE, two under Unicode simple case folding
_SPACES = "".join(re.findall(r"\s", "".join(map(chr, range(0x3001)))))
_POSITIVE = {_c.CATEGORY_DIGIT: r"\p{Nd}", _c.CATEGORY_WORD: r"\p{L}\p{N}_",
             _c.CATEGORY_SPACE: "".join(f"\\x{{{ord(c):X}}}" for c in _SPACES)}
_PY_CATEGORY = {_c.CATEGORY_DIGIT: r"\d", _c.CATEGORY_NOT_DIGIT: r"\D",
                _c.CATEGORY_WORD: r"\w", _c.CATEGORY_NOT_WORD: r"\W",
                _c.CATEGORY_SPACE: r"\s", _c.CATEGORY_NOT_SPACE: r"\S"}
_FIRST, _LAST = map(ord, MARKERS)
_Item = tuple[Any, Any]


class Unsupported(Exception):  # noqa: N818 - a signal the caller turns into QueryError
    """A construct RE2 cannot run; ``index`` is its offset in the pattern (0 if unknown)."""

    def __init__(self, message: str, index: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


def character(op: Any, av: Any, flags: int, marked: bool) -> str:
    """One character of the text: a literal, ``.``, or a set."""
    ignore = bool(flags & re.IGNORECASE)
    if op is _c.LITERAL:
        if marked and chr(av) in MARKERS:
            return _NOTHING
        return _set([(_c.LITERAL, ord(c)) for c in _TURKIC_I], False) \
            if ignore and chr(av) in _TURKIC_I else hex_escape(av)
    if op is _c.NOT_LITERAL:
        return character(_c.IN, [(_c.NEGATE, None), (_c.LITERAL, av)], flags, marked)
    if op is _c.ANY:
        newline = [] if flags & re.DOTALL else [(_c.LITERAL, 10)]
        return _set([(_c.NEGATE, None), *newline], marked) if marked or newline \
            else "(?s:.)"
    if op is _c.IN:
        if any(o is _c.CATEGORY and a not in _POSITIVE for o, a in av) or (
                marked and _touches(av, (_FIRST, _LAST))):
            return "(?-i:" + _ranges(_exact_set(tuple(av), ignore), marked) + ")"
        turkic = ignore and _touches(av, tuple(map(ord, _TURKIC_I)))
        return _set([*av, *((_c.LITERAL, ord(c)) for c in _TURKIC_I if turkic)], marked)
    raise Unsupported(f"unsupported regex element {op}")


def _set(items: list[_Item], marked: bool) -> str:
    negate = any(op is _c.NEGATE for op, _ in items)
    parts = []
    for op, av in items:
        if op is _c.LITERAL:
            parts.append(hex_escape(av))
        elif op is _c.RANGE:
            parts.append(f"{hex_escape(av[0])}-{hex_escape(av[1])}")
        elif op is _c.CATEGORY:
            parts.append(_POSITIVE[av])
    if negate and marked:
        parts += [hex_escape(ord(m)) for m in MARKERS]
    if not parts:
        return "(?s:.)" if negate else _NOTHING
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _touches(items: list[_Item], codes: tuple[int, ...]) -> bool:
    """Whether a literal or range of a set names one of ``codes``."""
    return any((op is _c.LITERAL and av in codes)
               or (op is _c.RANGE and any(av[0] <= c <= av[1] for c in codes))
               for op, av in items)


def hex_escape(code: int) -> str:
    """``code`` as RE2 writes any code point: ``\\x{E9}``."""
    return f"\\x{{{code:X}}}"


@functools.cache
def _all_characters() -> str:
    return "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)


@functools.lru_cache(maxsize=256)
def _exact_set(items: tuple[_Item, ...], ignore: bool) -> tuple[tuple[int, int], ...]:
    """The code points a set matches for ``re`` itself, as ranges: for sets RE2 cannot
    write (a negated class inside, ``[^\\W\\d]``; ranges over the markers)."""
    parts: list[str] = []
    for op, av in items:
        if op is _c.NEGATE:
            parts.insert(0, "^")
        elif op is _c.LITERAL:
            parts.append(f"\\U{av:08X}")
        elif op is _c.RANGE:
            parts.append(f"\\U{av[0]:08X}-\\U{av[1]:08X}")
        elif op is _c.CATEGORY:
            parts.append(_PY_CATEGORY[av])
    found = sorted(map(ord, re.findall("[" + "".join(parts) + "]", _all_characters(),
                                       re.IGNORECASE if ignore else 0)))
    ranges: list[tuple[int, int]] = []
    for code in found:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return tuple(ranges)


def _ranges(ranges: tuple[tuple[int, int], ...], marked: bool) -> str:
    """A set of code point ranges, leaving out the markers when the text is marked."""
    parts = []
    for low, high in ranges:
        pieces = [(low, min(high, _FIRST - 1)), (max(low, _LAST + 1), high)] \
            if marked and low <= _LAST and high >= _FIRST else [(low, high)]
        parts += [hex_escape(a) + ("" if a == b else f"-{hex_escape(b)}")
                  for a, b in pieces if a <= b]
    return "[" + "".join(parts) + "]" if parts else _NOTHING
