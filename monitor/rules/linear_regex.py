"""``/regex/`` terms run by RE2, in time linear in the text, with Python's ``re`` meaning.

Pure: no I/O. A query regex is written in Python's syntax and means what it means to ``re``
(``\\w``, ``\\d``, ``\\s`` and ``\\b`` know Unicode; ``(?i)`` folds case as
``re.IGNORECASE`` does, dotless ``ı`` and dotted ``İ`` included). ``translate`` writes the
tree ``re._parser`` makes of it in RE2's syntax, node by node; RE2 then searches without
backtracking, so no pattern takes more than linear time on any text.

RE2's ``\\b`` knows only ASCII letters, so a pattern with ``\\b`` or ``\\B`` searches a
marked copy of the text (``marked_text``): before each character, and at the end, ``k``
private-use markers say whether a word boundary stands there (``BOUNDARY``) or not
(``INSIDE``). Each ``\\b``/``\\B`` consumes one marker of its kind, each character of the
pattern the markers left before it; ``k`` is the most tests the pattern can make at one
position (1 but for ``(?:\\b\\w+\\b\\s*)+`` and the like). Character ``i`` of the text is
at ``(k+1)i + k`` in the copy, so spans map back by division. (A text's own U+E000/U+E001
are searched as U+FFFD there.) A text all ASCII needs no copy: there RE2's own ``\\b`` is
Python's, so such a pattern also has a program with RE2's ``\\b`` and ``\\B`` for those.

Refused with ``Unsupported`` (RE2 has no linear-time way to run them): backreferences,
lookahead and lookbehind, conditionals, atomic groups, possessive quantifiers; also the
ASCII flag ``(?a)``, counts above ``MAX_COUNT``, and more than ``MAX_TESTS`` word tests at
one position. ``$`` without ``(?m)`` is the end of the text (``re`` also accepts it before
a final newline).
"""

from __future__ import annotations

import functools
import re
import re._constants as _c  # type: ignore[import-not-found, unused-ignore]
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import re2  # type: ignore[import-untyped]

from monitor.rules.regex_chars import MARKERS, Unsupported, character, hex_escape

__all__ = ["MAX_COUNT", "LinearRegex", "RegexMatch", "Unsupported", "marked_text", "translate"]

MAX_COUNT = 1000
"""Largest repetition count RE2 accepts (``{m,n}``)."""
MAX_TESTS = 4
"""Most word tests (``\\b``, ``\\B``) a match may make at one position."""
INSIDE, BOUNDARY = MARKERS
END = -1  # emitter state: ``$`` took every marker at this position
_COUNTS = {(0, 1): "?", (0, _c.MAXREPEAT): "*", (1, _c.MAXREPEAT): "+"}
_BEGIN = (_c.AT_BEGINNING, _c.AT_BEGINNING_STRING)
_WORD_TESTS = (_c.AT_BOUNDARY, _c.AT_NON_BOUNDARY)
_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT)
_ASCII_FLAG = ("the ASCII flag (?a)", r"\(\?[a-zA-Z]*a")
_UNSUPPORTED = {  # opcode -> (what it is, a regex finding it in the pattern's source)
    _c.GROUPREF: ("a backreference", r"\\[1-9]|\(\?P="),
    _c.GROUPREF_EXISTS: ("a conditional group (?(…)…)", r"\(\?\("),
    _c.ATOMIC_GROUP: ("an atomic group (?>…)", r"\(\?>"),
    _c.POSSESSIVE_REPEAT: ("a possessive quantifier (*+, ++, ?+)", r"[*+?}]\+"),
}
_LOOKAROUNDS = {(1, _c.ASSERT): ("a lookahead (?=…)", r"\(\?="),
                (1, _c.ASSERT_NOT): ("a negative lookahead (?!…)", r"\(\?!"),
                (-1, _c.ASSERT): ("a lookbehind (?<=…)", r"\(\?<="),
                (-1, _c.ASSERT_NOT): ("a negative lookbehind (?<!…)", r"\(\?<!")}
_Items = Any  # re._parser.SubPattern or a list of (opcode, argument) pairs
_Item = tuple[Any, Any]
States = frozenset[int]  # markers consumed at the current position, on each path (or END)


@dataclass(frozen=True, slots=True)
class RegexMatch:
    """Where a regex matched, in characters (``start()``, ``end()``, ``span()`` as in ``re``)."""

    first: int
    last: int

    def start(self) -> int:
        return self.first

    def end(self) -> int:
        return self.last

    def span(self) -> tuple[int, int]:
        return self.first, self.last


class LinearRegex:
    """A translated regex: ``search`` and ``finditer`` as in ``re``, in linear time."""

    __slots__ = ("_ascii", "_re2", "copies", "pattern")

    def __init__(self, pattern: str, translated: str, copies: int,
                 for_ascii: str | None = None) -> None:
        self.pattern = pattern
        self.copies = copies  # markers per position in the text searched; 0: the text itself
        self._re2 = _compile(translated)
        self._ascii = None if for_ascii is None else _compile(for_ascii)

    def search(self, text: str) -> RegexMatch | None:
        """The first match in ``text``, or None."""
        return next(self.finditer(text), None)

    def finditer(self, text: str) -> Iterator[RegexMatch]:
        """Every match, left to right, none overlapping (a match is never empty)."""
        program, copies = self._re2, self.copies
        if self._ascii is not None and text.isascii():  # RE2's own \b is then Python's
            program, copies = self._ascii, 0
        step = copies + 1
        data = _searched(text, copies)
        byte = char = 0  # where the next search starts, in bytes of ``data`` and characters
        while (m := program.search(data, byte)) is not None:
            first_byte, last_byte = m.span()
            first = char + len(data[byte:first_byte].decode())
            last = first + len(data[first_byte:last_byte].decode())
            yield RegexMatch(first // step, last // step)
            back = last % step  # the end's markers, 3 bytes each: the next match may test them
            byte, char = last_byte - 3 * back, last - back


def translate(parsed: _Items, pattern: str) -> LinearRegex:
    """The RE2 form of ``parsed`` (``re._parser.parse(pattern, flags)``); raises Unsupported.

    A pattern with word tests gets two: one for marked texts, and one with RE2's own
    ``\\b`` and ``\\B`` for texts all ASCII (where they mean what they mean to ``re``),
    which need no marking.
    """
    flags = parsed.state.flags
    if flags & re.ASCII:
        _refuse(_ASCII_FLAG, pattern)
    _check_supported(parsed, pattern)
    case = "(?i)" if flags & re.IGNORECASE else ""
    if not any(op is _c.AT and av in _WORD_TESTS for op, av in _walk(parsed)):
        return LinearRegex(pattern, case + _Emitter(0).sequence(parsed, flags), 0)
    tests = _WordTests(pattern)
    tests.sequence(parsed, frozenset({0}))
    return LinearRegex(pattern, case + _Emitter(tests.most).sequence(parsed, flags),
                       tests.most, case + _Emitter(0).sequence(parsed, flags))


def _compile(translated: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True
    try:
        return re2.compile(translated, options)
    except re2.error as e:  # a program over RE2's memory budget, mostly
        raise Unsupported(f"too large for RE2 ({_message(e)}); simplify it") from None


def marked_text(text: str, copies: int = 1) -> str:
    """``text`` with ``copies`` markers before each character and at the end."""
    if INSIDE in text or BOUNDARY in text:
        text = text.replace(INSIDE, "\ufffd").replace(BOUNDARY, "\ufffd")
    bounded = _WORD_BOUNDARY.sub(BOUNDARY * copies, text)
    return _NOT_NEXT_TO_BOUNDARY.sub(INSIDE * copies, bounded)


@functools.lru_cache(maxsize=16)  # the fields of the article being matched, for every regex
def _searched(text: str, copies: int) -> bytes:
    """What RE2 searches: UTF-8 of ``text`` (marked if ``copies``), lone surrogates (a JSON
    feed's, say) as ``?``. Decoded offsets count characters as ``text`` does."""
    return (marked_text(text, copies) if copies else text).encode("utf-8", "replace")


_WORD_BOUNDARY = re.compile(r"\b")
_NOT_NEXT_TO_BOUNDARY = re.compile(f"(?<!{BOUNDARY})(?!{BOUNDARY})")


def _message(error: Exception) -> str:
    arg = error.args[0] if error.args else error
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


def _refuse(found: tuple[str, str], pattern: str) -> None:
    what, where = found
    raise Unsupported(f"{what} is not supported (regexes run on RE2, in linear time)",
                      _find(pattern, where))


def _check_supported(items: _Items, pattern: str) -> None:
    for op, av in _walk(items):
        if op in (_c.ASSERT, _c.ASSERT_NOT):
            _refuse(_LOOKAROUNDS[av[0], op], pattern)
        if op in _UNSUPPORTED:
            _refuse(_UNSUPPORTED[op], pattern)
        if op is _c.SUBPATTERN and (av[1] | av[2]) & re.ASCII:
            _refuse(_ASCII_FLAG, pattern)
        if op in _REPEATS and max(av[0], 0 if av[1] == _c.MAXREPEAT else av[1]) > MAX_COUNT:
            raise Unsupported(f"a repetition count above {MAX_COUNT} is not supported",
                              _find(pattern, r"\{\d*,?\d*\}"))


def _walk(items: _Items) -> Iterator[_Item]:
    """Every (opcode, argument) of a parsed pattern, nested ones included."""
    for op, av in items:
        yield op, av
        if op is _c.SUBPATTERN:
            yield from _walk(av[3])
        elif op is _c.BRANCH:
            for branch in av[1]:
                yield from _walk(branch)
        elif op in _REPEATS:
            yield from _walk(av[2])
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            yield from _walk(av[1])
        elif op is _c.ATOMIC_GROUP:
            yield from _walk(av)


def _find(pattern: str, where: str) -> int:
    """Offset of the first match of ``where`` outside escapes and sets, else 0."""
    found = re.search(where, _masked(pattern))
    return found.start() if found else 0


def _masked(pattern: str) -> str:
    """``pattern`` with sets and escaped characters blanked (backreference digits kept)."""
    out, i, set_start = list(pattern), 0, -1
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if set_start >= 0 or not pattern[i + 1 : i + 2].isdigit():
                out[i : i + 2] = "_" * len(out[i : i + 2])
            i += 2
            continue
        if set_start >= 0:
            first = i == set_start or (i == set_start + 1 and pattern[set_start] == "^")
            set_start = -1 if ch == "]" and not first else set_start
            out[i] = "_"
        elif ch == "[":
            set_start = i + 1
        i += 1
    return "".join(out)


class _WordTests:
    """Follows, on every path through a pattern, how many markers of the current position
    its word tests have consumed (``END``: ``$`` took them all). ``most`` is the largest
    count: the markers each position needs."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.most = 1
        self._memo: dict[tuple[int, States], States] = {}

    def sequence(self, items: _Items, states: States) -> States:
        key = (id(items), states)
        if key not in self._memo:
            for op, av in _ordered(list(items)):
                states = self.item(op, av, states)
            self._memo[key] = states
        return self._memo[key]

    def item(self, op: Any, av: Any, states: States) -> States:
        if op is _c.SUBPATTERN:
            return self.sequence(av[3], states)
        if op is _c.BRANCH:
            return frozenset().union(*(self.sequence(branch, states) for branch in av[1]))
        if op in _REPEATS:
            low, high, body = av
            limit = low + 2 ** (MAX_TESTS + 2) if high == _c.MAXREPEAT else high  # cycles
            out = frozenset[int]()
            for count in range(limit + 1):
                out |= states if count >= low else frozenset()
                states = self.sequence(body, states) if count < limit else states
            return out
        if op is not _c.AT:
            return frozenset({0})  # a character: the next position's markers are all there
        if av in _BEGIN:
            self.check(states, lambda n: n == 0)
            return states
        if av in _WORD_TESTS:
            self.check(states, lambda n: n != END and n < MAX_TESTS)
            self.most = max(self.most, *(n + 1 for n in states))
            return frozenset(n + 1 for n in states)
        return frozenset({END})

    def check(self, states: States, allowed: Callable[[int], bool]) -> None:
        if not all(map(allowed, states)):
            raise Unsupported(f"more than {MAX_TESTS} word tests (\\b, \\B) at one position, "
                              "or one after $ or before ^ in another group, are not supported",
                              _find(self.pattern, r"\\[bB]"))


class _Emitter:
    """Writes parsed items in RE2's syntax, for a text with ``copies`` markers a position
    (none: a text whose word tests RE2 makes itself, an ASCII one)."""

    def __init__(self, copies: int) -> None:
        self.copies = copies
        self.markers = f"[\\x{{E000}}\\x{{E001}}]{{0,{copies}}}" if copies else ""

    def sequence(self, items: _Items, flags: int) -> str:
        return "".join(self.item(op, av, flags) for op, av in _ordered(list(items)))

    def item(self, op: Any, av: Any, flags: int) -> str:
        if op is _c.AT:
            return self.at(av, flags)
        if op is _c.SUBPATTERN:
            inner = (flags | av[1]) & ~av[2]
            case = (inner ^ flags) & re.IGNORECASE
            prefix = "(?i:" if inner & case else "(?-i:" if case else "(?:"
            return prefix + self.sequence(av[3], inner) + ")"
        if op is _c.BRANCH:
            return "(?:" + "|".join(self.sequence(branch, flags) for branch in av[1]) + ")"
        if op in _REPEATS:
            low, high, body = av
            count = _COUNTS.get((low, high), f"{{{low},{'' if high == _c.MAXREPEAT else high}}}")
            lazy = "?" if op is _c.MIN_REPEAT else ""
            return f"(?:{self.sequence(body, flags)}){count}{lazy}"
        return self.markers + character(op, av, flags, bool(self.copies))

    def at(self, code: Any, flags: int) -> str:
        line = bool(flags & re.MULTILINE)
        if code in _BEGIN:  # before the position's markers, right after the \n
            return "(?m:^)" if line and code is _c.AT_BEGINNING else r"\A"
        if code in _WORD_TESTS and not self.copies:  # an ASCII text: RE2's own
            return r"\b" if code is _c.AT_BOUNDARY else r"\B"
        if code in _WORD_TESTS:
            return hex_escape(ord(BOUNDARY if code is _c.AT_BOUNDARY else INSIDE))
        return self.markers + ("(?m:$)" if line and code is _c.AT_END else r"\z")


def _ordered(items: list[_Item]) -> list[_Item]:
    """Each run of adjacent anchors as: starts, one word test, ends (tests at one position
    commute; ``\\b\\b`` is ``\\b``, and ``\\b`` beside ``\\B`` never holds)."""
    out: list[_Item] = []
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and items[j][0] is _c.AT:
            j += 1
        if j == i:
            out.append(items[i])
            i += 1
            continue
        run = [av for _, av in items[i:j]]
        words = sorted({av for av in run if av in _WORD_TESTS})
        out += [(_c.AT, av) for av in run if av in _BEGIN]
        out += [(_c.IN, [])] if len(words) > 1 else [(_c.AT, av) for av in words]
        out += [(_c.AT, av) for av in run if av not in _BEGIN and av not in _WORD_TESTS]
        i = j
    return out
