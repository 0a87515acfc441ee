"""``/regex/`` terms: validation, backtracking guard, and literal prefilters.

Pure: no I/O. Uses ``re._parser`` (CPython's regex parser) to inspect patterns.

Python's ``re`` has no timeout, so patterns that can backtrack exponentially are refused at
parse time instead:

* nested variable repetition: a repetition that can repeat a variable number of times
  (``+ * ? {m,n}``) anywhere inside another one (``(a+)+``, ``(a*)*``, ``(\\s?\\w+)*``);
  a fixed inner count is fine (``(ab{2})+``), and so is a fixed outer one (``(\\w+\\s+){3}``);
* alternatives that can start with the same character, or be empty, inside a variable
  repetition (``(a|a)*``, ``(a|ab)+``, ``(\\w|-)+``; write ``[\\w-]+`` instead);
* patterns that can match the empty string (they would match every article).

Polynomial blow-ups (``.*a.*b``) stay possible, so each regex also sees at most
``REGEX_MAX_CHARS`` characters of a field.

A regex can only match if one of its ``required_literals`` occurs in the text (compared
after ``prefilter_fold``), which lets the matcher skip most regexes without running them.
"""

from __future__ import annotations

import re
import re._casefix as _casefix  # type: ignore[import-not-found, unused-ignore]
import re._constants as _c  # type: ignore[import-not-found, unused-ignore]
import re._parser as _parser  # type: ignore[import-not-found, unused-ignore]
from typing import Any

from monitor.errors import QueryError

__all__ = ["MAX_RANGE", "REGEX_MAX_CHARS", "REPEATS", "compile_regex", "parse_readable",
           "prefilter_fold", "required_literals"]

REGEX_MAX_CHARS = 100_000
"""A regex is searched in at most this many characters of each field."""

MIN_LITERAL = 3
"""Shortest literal worth using as a prefilter."""

REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT)
"""The repetition opcodes of a parsed pattern (``+ * ? {m,n}``, lazy and possessive)."""

MAX_RANGE = 1000
"""Widest character range ``[a-z]`` looked into character by character."""
_Items = Any  # re._parser.SubPattern or a list of (opcode, argument) pairs


def compile_regex(pattern: str, case_sensitive: bool, column: int) -> re.Pattern[str]:
    """Compile a query regex (``column`` is that of its opening ``/``); raises QueryError."""
    flags = 0 if case_sensitive else re.IGNORECASE
    try:
        compiled = re.compile(pattern, flags)
    except re.error as e:
        raise QueryError(f"invalid regex: {e.msg}", column + 1 + (e.pos or 0)) from None
    parsed = _parser.parse(pattern, flags)
    if _dangerous(parsed, outer_variable=False):
        raise QueryError(
            "regex may backtrack catastrophically (a variable repetition inside another, "
            "or overlapping alternatives inside a repetition); simplify it",
            column,
        )
    if parsed.getwidth()[0] == 0:
        raise QueryError("regex can match empty text, so it would match every article", column)
    return compiled


def _is_variable(lo: int, hi: int) -> bool:
    return lo != hi


def _dangerous(items: _Items, outer_variable: bool) -> bool:
    for op, av in items:
        if op in REPEATS:
            lo, hi, body = av
            variable = _is_variable(lo, hi)
            if variable and outer_variable:
                return True
            repeats = variable and hi != 1
            if repeats and _overlapping_branch(body):
                return True
            if _dangerous(body, outer_variable or repeats):
                return True
        elif any(_dangerous(sub, outer_variable) for sub in _children(op, av)):
            return True
    return False


def _children(op: Any, av: Any) -> list[_Items]:
    """The sub-patterns nested in one item (groups, alternatives, lookarounds)."""
    if op is _c.SUBPATTERN:
        return [av[3]]
    if op is _c.BRANCH:
        return list(av[1])
    if op in (_c.ASSERT, _c.ASSERT_NOT):
        return [av[1]]
    if op is _c.ATOMIC_GROUP:
        return [av]
    if op is _c.GROUPREF_EXISTS:
        return [x for x in av[1:] if x is not None]
    return []


def _overlapping_branch(items: _Items) -> bool:
    """Whether any alternation in ``items`` has alternatives that could start alike."""
    for op, av in items:
        if op is _c.BRANCH:
            firsts = [_first_chars(branch) for branch in av[1]]
            if _overlap(firsts):
                return True
        if any(_overlapping_branch(sub) for sub in _children(op, av)):
            return True
        if op in REPEATS and _overlapping_branch(av[2]):
            return True
    return False


def _overlap(firsts: list[frozenset[int] | None]) -> bool:
    seen: set[int] = set()
    for first in firsts:
        if first is None or not seen.isdisjoint(first):
            return True
        seen |= first
    return False


def _first_chars(items: _Items) -> frozenset[int] | None:
    """Characters a match of ``items`` can start with (case-folded); None: unknown or empty."""
    for op, av in items:
        if op is _c.AT:
            continue
        if op is _c.LITERAL:
            return frozenset({ord(chr(av).lower())})
        if op is _c.IN:
            return _class_chars(av)
        if op is _c.SUBPATTERN:
            return _first_chars(av[3])
        if op in REPEATS and av[0] >= 1:
            return _first_chars(av[2])
        return None
    return None


def _class_chars(items: _Items) -> frozenset[int] | None:
    chars: set[int] = set()
    for op, av in items:
        if op is _c.LITERAL:
            chars.add(av)
        elif op is _c.RANGE and av[1] - av[0] <= MAX_RANGE:
            chars.update(range(av[0], av[1] + 1))
        else:
            return None
    return frozenset(ord(chr(c).lower()) for c in chars)


def required_literals(pattern: str, case_sensitive: bool) -> frozenset[str] | None:
    """Literals one of which must occur (after ``prefilter_fold``) for ``pattern`` to match.

    None when no useful literal (at least ``MIN_LITERAL`` characters) can be derived.
    """
    parsed = parse_readable(pattern, case_sensitive)
    if parsed is None:
        return None
    found = _seq_literals(list(parsed))
    if found is None or min(map(len, found)) < MIN_LITERAL:
        return None
    return frozenset(prefilter_fold(lit) for lit in found)


def parse_readable(pattern: str, case_sensitive: bool) -> Any | None:
    """The parsed pattern (a ``re._parser.SubPattern``), or None when it is verbose
    (``(?x)``): its literal items then need not stand next to each other in a match."""
    parsed = _parser.parse(pattern, 0 if case_sensitive else re.IGNORECASE)
    return None if parsed.state.flags & re.VERBOSE else parsed


def _seq_literals(items: _Items) -> frozenset[str] | None:
    """The best required literal set of a sequence of items."""
    options: list[frozenset[str]] = []
    run: list[str] = []
    for op, av in items:
        if op is _c.LITERAL:
            run.append(chr(av))
            continue
        if op is _c.AT:
            continue
        if run:
            options.append(frozenset({"".join(run)}))
            run = []
        sub = _item_literals(op, av)
        if sub is not None:
            options.append(sub)
    if run:
        options.append(frozenset({"".join(run)}))
    return max(options, key=lambda o: min(map(len, o)), default=None)


def _item_literals(op: Any, av: Any) -> frozenset[str] | None:
    if op is _c.SUBPATTERN:
        return _seq_literals(av[3])
    if op in REPEATS and av[0] >= 1:
        return _seq_literals(av[2])
    if op is _c.BRANCH:
        alts = [_seq_literals(branch) for branch in av[1]]
        if all(a is not None for a in alts):
            return frozenset().union(*(a for a in alts if a is not None))
    return None


def _fix_groups() -> dict[str, str]:
    """Map each character ``re.IGNORECASE`` treats as equal to another onto one of them."""
    canon: dict[str, str] = {}
    for code, others in _casefix._EXTRA_CASES.items():
        canon[chr(code)] = chr(min((code, *others)))
    return canon


_FIXES = _fix_groups()
_FIX_RE = re.compile("[" + "".join(map(re.escape, _FIXES)) + "]")


def _fix(m: re.Match[str]) -> str:
    return _FIXES[m.group()]


def prefilter_fold(text: str) -> str:
    """Fold so that anything ``re.IGNORECASE`` could match compares equal (a superset).

    That is simple lower case (``İ`` -> ``i``, one character) plus ``re``'s own extra case
    equivalences (``ſ`` = ``s``, ``ı`` = ``i``, ``µ`` = ``μ`` …).
    """
    if text.isascii():
        return text.lower()
    return _FIX_RE.sub(_fix, text.replace("\u0130", "i").lower())
