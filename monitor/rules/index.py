"""The trigger index: from what an article fires to the rules worth evaluating.

Pure: no I/O.

One dict maps every trigger to an entry listing the rules keyed on it. Per article:

* word triggers: the article's distinct tokens intersected with the dict's keys (in C);
* bigram triggers ``"a b"``: the article's pairs of adjacent tokens intersected with the
  watched pairs (in C);
* ``prefix*`` triggers: one pyahocorasick scan over the distinct tokens;
* regex literals: one pyahocorasick scan over the regex texts.

A rule with a one-trigger key is a candidate when that trigger fired; a rule with
two-trigger keys when some first trigger and some second trigger of its keys fired (a
superset of "both triggers of one key fired", which evaluation settles).

Case-sensitive rules are keyed by the triggers of their case-insensitive reading: a
case-sensitive match implies a case-insensitive one (see ``normalize``), so this screening
loses nothing, and one scan per article serves both modes.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain

import ahocorasick  # type: ignore[import-not-found, unused-ignore]

from monitor.rules.triggers import REGEX_MARK, Key
from monitor.rules.view import ArticleView, RegexTexts

__all__ = ["TriggerIndex"]


def _append(ids: list[int] | None, rid: int) -> list[int]:
    if ids is None:
        return [rid]
    if not ids or ids[-1] != rid:
        ids.append(rid)
    return ids


class _Entry:
    """The rules keyed on one trigger, and the bigrams that start with it (word triggers)."""

    __slots__ = ("first", "second", "single")

    def __init__(self) -> None:
        self.single: list[int] | None = None
        self.first: list[int] | None = None
        self.second: list[int] | None = None


class TriggerIndex:
    """Every rule's keys; ``candidates`` picks the rules an article may make true."""

    def __init__(self) -> None:
        self.always: list[int] = []
        self._entries: dict[str, _Entry] = {}
        self._bigrams: dict[tuple[str, ...], str] = {}
        self._prefixes = ahocorasick.Automaton()
        self._literals = ahocorasick.Automaton()

    def _entry(self, trigger: str) -> _Entry:
        entry = self._entries.get(trigger)
        if entry is None:
            entry = self._entries[trigger] = _Entry()
        return entry

    def add(self, rid: int, keys: list[Key] | None, prefixes: Iterable[str] = ()) -> None:
        """Index rule ``rid`` under ``keys`` (None: evaluate it on every article).

        ``prefixes`` are the rule's ``prefix*`` atoms; the scan finds their tokens for the
        case-insensitive view whether or not they are triggers.
        """
        for prefix in prefixes:
            self._watch(prefix)
        if keys is None:
            self.always.append(rid)
            return
        for key in keys:
            for trigger in key:
                self._watch(trigger)
            if len(key) == 1:
                entry = self._entry(key[0])
                entry.single = _append(entry.single, rid)
            else:
                entry, other = self._entry(key[0]), self._entry(key[1])
                entry.first, other.second = _append(entry.first, rid), _append(other.second, rid)

    def _watch(self, trigger: str) -> None:
        if trigger.startswith(REGEX_MARK):
            if trigger[1:] not in self._literals:
                self._literals.add_word(trigger[1:], trigger)
        elif trigger.endswith("*"):
            if " " + trigger[:-1] not in self._prefixes:
                self._prefixes.add_word(" " + trigger[:-1], (trigger, len(trigger) - 1))
        elif " " in trigger:
            self._bigrams[tuple(trigger.split(" "))] = trigger

    def freeze(self) -> None:
        """Finish building; call once after the last ``add``."""
        for automaton in (self._prefixes, self._literals):
            if len(automaton):
                automaton.make_automaton()

    def candidates(self, view: ArticleView, regex: RegexTexts) -> list[int]:
        """Ids of the rules worth evaluating on the article, in rule order."""
        entries = self._entries
        words = entries.keys() & view.distinct()
        fired = [entries[w] for w in words]
        bigrams = self._bigrams
        extra = [bigrams[pair] for pair in bigrams.keys() & view.bigrams()] if bigrams else []
        if len(self._prefixes):
            view.prefix_tokens = self._scan_prefixes(view.distinct())
            extra.extend(view.prefix_tokens)
        else:
            view.prefix_tokens = {}
        if len(self._literals):
            extra.extend(self._scan_literals(regex))
        fired.extend(entries[t] for t in extra if t in entries)
        found = set(self.always)
        found.update(chain.from_iterable(e.single for e in fired if e.single))
        first = set(chain.from_iterable(e.first for e in fired if e.first))
        if first:
            found |= first & set(chain.from_iterable(e.second for e in fired if e.second))
        return sorted(found)

    def _scan_prefixes(self, tokens: set[str]) -> dict[str, list[str]]:
        """``prefix*`` trigger -> the distinct tokens that start with it."""
        joined = " " + " ".join(tokens)
        found: dict[str, list[str]] = {}
        for end, (trigger, size) in self._prefixes.iter(joined):
            stop = joined.find(" ", end + 1)
            token = joined[end - size + 1 : stop if stop >= 0 else len(joined)]
            found.setdefault(trigger, []).append(token)
        return found

    def _scan_literals(self, regex: RegexTexts) -> set[str]:
        iterate = self._literals.iter
        return {trigger for text in regex.prefilter() for _, trigger in iterate(text)}
