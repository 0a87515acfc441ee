"""The trigger index: from what an article fires to the rules worth evaluating.

Pure: no I/O.

One dict maps every trigger to the rules keyed on it. Per article:

* word triggers: the article's tokens and their canonical forms (see ``lemmas``)
  intersected with the dict's keys (in C);
* ``prefix*`` triggers: one pyahocorasick scan over the folded fields and the canonical
  forms (only when some key has one: see ``triggers``);
* regex literals: one pyahocorasick scan over the regex texts;
* whole words of regexes: as word triggers, plus one pyahocorasick scan over the regex
  texts of the fields that are not plain (see ``wholewords``), if any.

Each entry lists the rules having the trigger first in one of their keys, and those having
it second, a one-trigger key ``(t,)`` counting as ``(t, t)``; a rule's pairs are ordered so
that a trigger is, where the pairs allow it, first in all of them or second in all. A rule
is a candidate when some first trigger and some second trigger of its keys fired: a
superset of "every trigger of one key fired", which evaluation settles. The rule ids of
the fired triggers are gathered with C iterators only (no Python loop over the triggers).

Case-sensitive rules are keyed by the triggers of their case-insensitive reading: a
case-sensitive match implies a case-insensitive one (see ``normalize``), so this screening
loses nothing, and one scan per article serves both modes.
"""

from __future__ import annotations

from itertools import chain
from operator import itemgetter

import ahocorasick  # type: ignore[import-not-found, unused-ignore]

from monitor.rules.triggers import REGEX_MARK, WORD_MARK, Key
from monitor.rules.view import ArticleView, RegexTexts

__all__ = ["TriggerIndex"]

Entry = tuple[tuple[int, ...], tuple[int, ...]]
"""Rules keyed on one trigger: as the first of a key, as the second (often the same tuple)."""

_FIRST, _SECOND = itemgetter(0), itemgetter(1)


Ids = int | list[int]
"""Rules keyed on a trigger in one role while building: one rule's id, or a list of them."""


def _put(table: dict[str, Ids], trigger: str, rid: int) -> None:
    """Add rule ``rid`` (rules come in increasing order) to ``trigger`` in ``table``."""
    found = table.get(trigger)
    if found is None:
        table[trigger] = rid
    elif isinstance(found, int):
        if found != rid:
            table[trigger] = [found, rid]
    elif found[-1] != rid:
        found.append(rid)


def _is_prefix(trigger: str) -> bool:
    """Whether a watched trigger (see ``TriggerIndex._watch``) is a ``prefix*`` one."""
    return trigger.endswith("*") and not trigger.startswith(REGEX_MARK)


def _ids(found: Ids | None) -> tuple[int, ...]:
    return () if found is None else (found,) if isinstance(found, int) else tuple(found)


def _oriented(keys: list[Key]) -> list[Key]:
    """``keys`` with each pair ordered so that, where possible, no trigger is first in one
    key and second in another (which would let it alone make the rule a candidate).

    Two-colours the graph whose edges are the pairs, breadth first from each trigger.
    """
    pairs = [k for k in keys if len(k) == 2]
    partners: dict[str, list[str]] = {}
    for a, b in pairs:
        partners.setdefault(a, []).append(b)
        partners.setdefault(b, []).append(a)
    side: dict[str, int] = {}
    for start in partners:
        if start in side:
            continue
        side[start], queue = 0, [start]
        for trigger in queue:
            for other in partners[trigger]:
                if other not in side:
                    side[other] = 1 - side[trigger]
                    queue.append(other)
    return [(k[1], k[0]) if len(k) == 2 and side[k[0]] > side[k[1]] else k for k in keys]


class TriggerIndex:
    """Every rule's keys; ``candidates`` picks the rules an article may make true."""

    def __init__(self) -> None:
        self.always: list[int] = []
        self._firsts: dict[str, Ids] = {}  # while building
        self._seconds: dict[str, Ids] = {}
        self._entries: dict[str, Entry] = {}
        self._prefixes = ahocorasick.Automaton()
        self._literals = ahocorasick.Automaton()
        self._words = ahocorasick.Automaton()  # whole words of regexes, as literals
        # rules keyed on a ``prefix*`` as the first / the second trigger of a key, and the
        # other triggers of such rules: no prefix can make a rule a candidate unless one
        # of those fired, or some rule has prefixes in both roles (see ``candidates``)
        self._prefix_roles: tuple[set[int], set[int]] = (set(), set())
        self._partners: set[str] = set()
        self._scan_always = False

    def add(self, rid: int, keys: list[Key] | None) -> None:
        """Index rule ``rid`` under ``keys`` (None: evaluate it on every article).

        Rules must be added in increasing ``rid`` order.
        """
        if keys is None:
            self.always.append(rid)
            return
        watched: list[str] = []
        for key in _oriented(keys) if len(keys) > 1 else keys:
            first, last = map(self._watch, (key[0], key[-1]))
            _put(self._firsts, first, rid)
            _put(self._seconds, last, rid)
            watched += (first, last)
        prefixed = [_is_prefix(t) for t in watched]
        if any(prefixed):
            for n, prefix in enumerate(prefixed):
                if prefix:
                    self._prefix_roles[n % 2].add(rid)
            self._partners.update(t for t, p in zip(watched, prefixed, strict=True) if not p)

    def _watch(self, trigger: str) -> str:
        """Arrange for ``trigger`` to be detected; the key it is indexed under."""
        if trigger.startswith(REGEX_MARK):
            if trigger[1:] not in self._literals:
                self._literals.add_word(trigger[1:], trigger)
        elif trigger.startswith(WORD_MARK):
            trigger = trigger[1:]  # the word trigger, also fired by the scan of other fields
            if trigger not in self._words:
                self._words.add_word(trigger, trigger)
        elif trigger.endswith("*"):
            if " " + trigger[:-1] not in self._prefixes:
                self._prefixes.add_word(" " + trigger[:-1], trigger)
        return trigger

    def freeze(self) -> None:
        """Finish building; call once after the last ``add``.

        Equal tuples of rule ids, and equal entries, are one object: most triggers belong
        to one rule, whose few entries (first, second, both) are then shared by all its
        triggers instead of costing two tuples each."""
        shared: dict[object, object] = {}
        firsts, seconds = self._firsts, self._seconds
        for trigger in firsts.keys() | seconds.keys():
            first, second = firsts.get(trigger), seconds.get(trigger)
            first_ids = _ids(first)
            first_ids = shared.setdefault(first_ids, first_ids)  # type: ignore[assignment]
            if first == second:
                second_ids = first_ids
            else:
                second_ids = _ids(second)
                second_ids = shared.setdefault(second_ids, second_ids)  # type: ignore[assignment]
            entry = (first_ids, second_ids)
            self._entries[trigger] = shared.setdefault(entry, entry)  # type: ignore[assignment]
        self._firsts, self._seconds = {}, {}
        self._scan_always = not self._prefix_roles[0].isdisjoint(self._prefix_roles[1])
        self._prefix_roles = (set(), set())
        for automaton in (self._prefixes, self._literals, self._words):
            if len(automaton):
                automaton.make_automaton()

    def candidates(self, view: ArticleView, regex: RegexTexts) -> list[int]:
        """Ids of the rules worth evaluating on the article, in rule order."""
        entries = self._entries
        tokens, forms = view.tokens()
        fired = entries.keys() & tokens
        if forms:
            fired |= entries.keys() & forms
        if len(self._literals):
            fired |= self._scan(self._literals, regex, plain_too=True)
        if len(self._words):
            fired |= self._scan(self._words, regex, plain_too=False)
        if len(self._prefixes) and (self._scan_always or not fired.isdisjoint(self._partners)):
            fired |= self._scan_prefixes(view)  # else no prefix could complete a rule's key
        found: list[Entry] = list(filter(None, map(entries.get, fired)))
        ids = set(chain.from_iterable(map(_FIRST, found)))
        ids.intersection_update(chain.from_iterable(map(_SECOND, found)))
        ids.update(self.always)
        return sorted(ids)

    def _scan_prefixes(self, view: ArticleView) -> set[str]:
        """The ``prefix*`` triggers that start some token."""
        iterate = self._prefixes.iter
        scanned = [" " + text.folded for text in view.texts if text.folded]
        scanned.append(" " + " ".join(view.forms()))
        return {trigger for text in scanned for _, trigger in iterate(text)}

    @staticmethod
    def _scan(automaton: ahocorasick.Automaton, regex: RegexTexts, plain_too: bool) -> set[str]:
        """The values of the literals found in the fields' regex texts (only in fields
        that are not plain unless ``plain_too``)."""
        iterate = automaton.iter
        fields = range(len(regex)) if plain_too else regex.not_plain()
        return {trigger for f in fields for _, trigger in iterate(regex.prefiltered(f))}
