"""Compile many rules into one trigger index and match articles against all of them.

Pure: no I/O.

Per case mode (rules with ``case_sensitive`` get their own index and token view):

1. the article is folded and split into tokens once per field;
2. the triggers that fired are found with set operations and pyahocorasick automata: the
   distinct tokens themselves (a set), ``prefix*`` triggers (an automaton over the distinct
   tokens), phrase bigrams (an automaton over each field's tokens joined by spaces), regex
   literals (an automaton over the regex texts);
3. candidate rules are looked up by their keys (``triggers``): single-trigger keys in a
   dict, two-trigger keys in a dict of dicts, intersected with the fired set in C;
4. only the candidates, plus the few rules without keys, are evaluated, on token positions
   shared by all of them (``view``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick  # type: ignore[import-not-found, unused-ignore]

from monitor.errors import QueryError
from monitor.models import Article, Match
from monitor.rules.evaluate import CNode, Compiler, Hits
from monitor.rules.nodes import iter_terms
from monitor.rules.parser import parse_query
from monitor.rules.snippets import build_match
from monitor.rules.triggers import REGEX_MARK, Key, rule_keys
from monitor.rules.view import ArticleView, RegexTexts

__all__ = ["Rule", "RuleSet", "compile_rules", "match_query"]


@dataclass(frozen=True, slots=True)
class Rule:
    """A named watch rule."""

    name: str
    query: str
    case_sensitive: bool = False


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    root: CNode
    keys: list[Key] | None
    order: tuple[str, ...]


class _Index:
    """The trigger index of the rules of one case mode."""

    def __init__(self) -> None:
        self.size = 0
        self.single: dict[str, list[int]] = {}
        self.pair: dict[str, dict[str, list[int]]] = {}
        self.always: list[int] = []
        self._prefixes = ahocorasick.Automaton()
        self._bigrams = ahocorasick.Automaton()
        self._literals = ahocorasick.Automaton()

    def add(self, rid: int, keys: list[Key] | None) -> None:
        self.size += 1
        if keys is None:
            self.always.append(rid)
            return
        for key in keys:
            for trigger in key:
                self._watch(trigger)
            if len(key) == 1:
                self.single.setdefault(key[0], []).append(rid)
            else:
                self.pair.setdefault(key[0], {}).setdefault(key[1], []).append(rid)

    def _watch(self, trigger: str) -> None:
        if trigger.startswith(REGEX_MARK):
            self._literals.add_word(trigger[1:], trigger)
        elif trigger.endswith("*"):
            self._prefixes.add_word(" " + trigger[:-1], (trigger, len(trigger) - 1))
        elif " " in trigger:
            self._bigrams.add_word(f" {trigger} ", trigger)

    def freeze(self) -> None:
        for automaton in (self._prefixes, self._bigrams, self._literals):
            if len(automaton):
                automaton.make_automaton()

    def candidates(self, view: ArticleView) -> list[int]:
        """Ids of the rules worth evaluating on ``view``, in rule order."""
        fired = view.distinct()
        if len(self._prefixes):
            view.prefix_tokens = self._scan_prefixes(fired)
            fired.update(view.prefix_tokens)
        if len(self._bigrams):
            fired.update(t for text in view.joined() for _, t in self._bigrams.iter(text))
        if len(self._literals):
            fired.update(self._scan_literals(view.regex))
        found = set(self.always)
        single = self.single
        for trigger in single.keys() & fired:
            found.update(single[trigger])
        pair = self.pair
        for trigger in pair.keys() & fired:
            for other, rids in pair[trigger].items():
                if other in fired:
                    found.update(rids)
        return sorted(found)

    def _scan_prefixes(self, tokens: set[str]) -> dict[str, list[str]]:
        joined = " " + " ".join(tokens)
        found: dict[str, list[str]] = {}
        for end, (trigger, size) in self._prefixes.iter(joined):
            stop = joined.find(" ", end + 1)
            token = joined[end - size + 1 : stop if stop >= 0 else len(joined)]
            found.setdefault(trigger, []).append(token)
        return found

    def _scan_literals(self, regex: RegexTexts) -> set[str]:
        return {trigger for text in regex.prefilter() for _, trigger in self._literals.iter(text)}


class RuleSet:
    """Compiled rules; ``match`` an article against all of them at once."""

    def __init__(self, compiled: list[_Compiled]) -> None:
        self._compiled = compiled
        self._indexes = {False: _Index(), True: _Index()}
        for rid, item in enumerate(compiled):
            self._indexes[item.rule.case_sensitive].add(rid, item.keys)
        for index in self._indexes.values():
            index.freeze()

    def __len__(self) -> int:
        return len(self._compiled)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules, in the order they were compiled."""
        return tuple(item.rule for item in self._compiled)

    @property
    def names(self) -> tuple[str, ...]:
        """The rule names, in the order they were compiled."""
        return tuple(item.rule.name for item in self._compiled)

    def match(self, article: Article) -> list[Match]:
        """Every rule true on ``article``, in rule order, with the terms that fired."""
        regex = RegexTexts(article)
        found: list[tuple[int, Match]] = []
        for case_sensitive, index in self._indexes.items():
            if index.size:
                view = ArticleView(article, case_sensitive, regex)
                found.extend(self._match_view(index, view, article))
        found.sort(key=lambda pair: pair[0])
        return [m for _, m in found]

    def _match_view(self, index: _Index, view: ArticleView,
                    article: Article) -> list[tuple[int, Match]]:
        found = []
        for rid in index.candidates(view):
            item = self._compiled[rid]
            if item.root.test(view):
                hits: Hits = {}
                item.root.collect(view, hits)
                match = build_match(item.rule.name, item.rule.query, item.order, hits, article)
                found.append((rid, match))
        return found


def _compile_one(rule: Rule, compiler: Compiler) -> _Compiled:
    try:
        node = parse_query(rule.query, case_sensitive=rule.case_sensitive)
    except QueryError as e:
        raise QueryError(f"rule {rule.name!r}: {e.message}", e.column) from None
    order = tuple(dict.fromkeys(t.text for t, negated in iter_terms(node) if not negated))
    return _Compiled(rule, compiler.compile(node), rule_keys(node), order)


def compile_rules(rules: Iterable[Rule]) -> RuleSet:
    """Compile ``rules`` into one ``RuleSet``; raises QueryError naming the first bad rule."""
    compiler = Compiler()
    return RuleSet([_compile_one(rule, compiler) for rule in rules])


def match_query(query: str, article: Article, *, case_sensitive: bool = False) -> Match | None:
    """Match one query (the match's rule name is the query itself); None if it is false."""
    found = compile_rules([Rule(query, query, case_sensitive)]).match(article)
    return found[0] if found else None
