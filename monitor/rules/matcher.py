"""Compile many rules into trigger indexes and match articles against all of them.

Pure: no I/O.

1. the article is folded and split into tokens once per field (``view``; case-sensitive
   rules get a second, case-sensitive view, built only when one of them is a candidate);
2. the triggers that fired are found and looked up in one ``TriggerIndex``, which yields
   the candidate rules (``index``, ``triggers``);
3. only the candidates, plus the few rules without keys, are evaluated, on token positions
   shared by all of them (``evaluate``), and the true ones reported (``snippets``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.errors import QueryError
from monitor.models import Article, Match
from monitor.rules.evaluate import CNode, Compiler, Hits
from monitor.rules.index import TriggerIndex
from monitor.rules.nodes import Node, Term, iter_terms
from monitor.rules.parser import parse_query
from monitor.rules.snippets import build_match
from monitor.rules.triggers import rule_keys
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
    order: tuple[str, ...]  # texts of the terms that may fire, in query order


class RuleSet:
    """Compiled rules; ``match`` an article against all of them at once."""

    def __init__(self, compiled: list[_Compiled], index: TriggerIndex) -> None:
        self._compiled = compiled
        self._index = index

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
        views = {False: ArticleView(article, False, regex)}
        found = []
        for rid in self._index.candidates(views[False], regex):
            item = self._compiled[rid]
            mode = item.rule.case_sensitive
            view = views.get(mode) or views.setdefault(mode, ArticleView(article, mode, regex))
            if item.root.test(view):
                hits: Hits = {}
                item.root.collect(view, hits)
                rule = item.rule
                found.append(build_match(rule.name, rule.query, item.order, hits, article))
        return found


def _compile_one(rule: Rule, compiler: Compiler, index: TriggerIndex, rid: int) -> _Compiled:
    try:
        node = parse_query(rule.query, case_sensitive=rule.case_sensitive)
    except QueryError as e:
        raise QueryError(f"rule {rule.name!r}: {e.message}", e.column) from None
    order = tuple(dict.fromkeys(t.text for t, negated in iter_terms(node) if not negated))
    screen = _insensitive(rule.query) if rule.case_sensitive else node
    keys = None if screen is None else rule_keys(screen)
    index.add(rid, keys, () if rule.case_sensitive else _prefix_atoms(node))
    return _Compiled(rule, compiler.compile(node), order)


def _insensitive(query: str) -> Node | None:
    try:
        return parse_query(query)
    except QueryError:  # pragma: no cover - case folding never shortens a valid token
        return None


def _prefix_atoms(node: Node) -> tuple[str, ...]:
    atoms = (a for t, _ in iter_terms(node) if isinstance(t, Term) for a in t.atoms)
    return tuple(dict.fromkeys(str(a) for a in atoms if a.prefix))


def compile_rules(rules: Iterable[Rule]) -> RuleSet:
    """Compile ``rules`` into one ``RuleSet``; raises QueryError naming the first bad rule."""
    compiler, index = Compiler(), TriggerIndex()
    compiled = [_compile_one(rule, compiler, index, rid) for rid, rule in enumerate(rules)]
    index.freeze()
    return RuleSet(compiled, index)


def match_query(query: str, article: Article, *, case_sensitive: bool = False) -> Match | None:
    """Match one query (the match's rule name is the query itself); None if it is false."""
    found = compile_rules([Rule(query, query, case_sensitive)]).match(article)
    return found[0] if found else None
