"""``/regex/`` terms: compiling them to run in linear time, and their literal prefilters.

Pure: no I/O. Uses ``re._parser`` (CPython's regex parser) to read patterns: a query regex
is written and means what it does in Python's ``re``, and runs on RE2 (``linear_regex``),
which takes time linear in the text whatever the pattern. Patterns that can match the empty
string are refused (they would match every article), as are the few constructs RE2 cannot
run (backreferences, lookaround, atomic groups, possessive quantifiers, conditionals):
``QueryError`` names the construct and its column.

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
from monitor.rules.linear_regex import LinearRegex, Unsupported, translate

__all__ = ["MAX_RANGE", "REGEX_MAX_CHARS", "REPEATS", "compile_regex", "parse_readable",
           "prefilter_fold", "required_literals"]

REGEX_MAX_CHARS = 100_000
"""A regex is searched in at most this many characters of each field (bounding each
regex's work on one article)."""

MIN_LITERAL = 3
"""Shortest literal worth using as a prefilter."""

REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT)
"""The repetition opcodes of a parsed pattern (``+ * ? {m,n}``, lazy and possessive)."""

MAX_RANGE = 1000
"""Widest character range ``[a-z]`` looked into character by character."""
_Items = Any  # re._parser.SubPattern or a list of (opcode, argument) pairs


def compile_regex(pattern: str, case_sensitive: bool, column: int) -> LinearRegex:
    """Compile a query regex (``column`` is that of its opening ``/``); raises QueryError."""
    try:
        parsed = _parser.parse(pattern, 0 if case_sensitive else re.IGNORECASE)
    except re.error as e:
        raise QueryError(f"invalid regex: {e.msg}", column + 1 + (e.pos or 0)) from None
    try:
        compiled = translate(parsed, pattern)
    except Unsupported as e:
        raise QueryError(f"invalid regex: {e.message}", column + 1 + e.index) from None
    if parsed.getwidth()[0] == 0:
        raise QueryError("regex can match empty text, so it would match every article", column)
    return compiled


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
