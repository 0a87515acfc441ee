"""Compile many rules into trigger indexes and match articles against all of them.

Pure: no I/O.

1. the article is folded and split into tokens once per field (``view``; case-sensitive
   rules get a second, case-sensitive view, built only when one of them is a candidate);
2. the triggers that fired are found and looked up in one ``TriggerIndex``, which yields
   the candidate rules (``index``, ``triggers``);
3. the positions of every word the candidates use are indexed in one pass (``view``);
4. only the candidates, plus the few rules without keys, are evaluated, on token positions
   shared by all of them (``evaluate``), and the true ones reported (``snippets``), each
   match's hits, spans and snippets worked out only when its ``terms`` are first read
   (``LazyMatch``: the pipeline reads them only for the rules watching the feed).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from monitor.errors import QueryError
from monitor.models import Article, Match
from monitor.rules.evaluate import CNode, Compiler, CTerm, Hits
from monitor.rules.explain import explain_match
from monitor.rules.filters import language_of
from monitor.rules.index import TriggerIndex
from monitor.rules.lemmas import DEFAULT_LANGUAGE, folds_for
from monitor.rules.nodes import Node, iter_terms
from monitor.rules.parser import parse_query
from monitor.rules.snippets import LazyMatch, Terms, build_terms
from monitor.rules.triggers import Key, rarity, rule_keys
from monitor.rules.variants import Folding
from monitor.rules.view import ArticleView, RegexTexts

__all__ = ["Rule", "RuleSet", "compile_rules", "match_query"]


@dataclass(frozen=True, slots=True)
class Rule:
    """A named watch rule.

    ``exact``: every term is matched literally (``match = "exact"``); otherwise variants
    are folded (see ``variants``), the query's words read in ``languages``.
    ``article_languages``: the rule is true only on articles in one of these languages
    (2-letter codes; empty: any article, of known language or not).
    """

    name: str
    query: str
    case_sensitive: bool = False
    exact: bool = False
    languages: tuple[str, ...] = (DEFAULT_LANGUAGE,)
    article_languages: tuple[str, ...] = ()

    @property
    def folding(self) -> Folding:
        return Folding(self.exact, self.languages, self.case_sensitive)


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    root: CNode
    order: tuple[str, ...]  # texts of the terms that may fire, in query order
    words: tuple[str, ...]  # slot keys of its terms that are one word (see ``variants``)
    others: tuple[str, ...]  # its other slot keys: patterns, exact, capitals, several forms


class RuleSet:
    """Compiled rules; ``match`` an article against all of them at once."""

    def __init__(self, compiled: list[_Compiled], index: TriggerIndex) -> None:
        self._compiled = compiled
        self._index = index
        self._limited = any(item.rule.article_languages for item in compiled)
        self._named: dict[str, Rule] | None = None

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

    def keys(self, index: int) -> list[Key] | None:
        """The trigger keys rule ``index`` is screened by (see ``triggers``): it is true on
        no article where no key has every trigger fired; None: it may be true without any.

        Worked out again from the rule's query (as compiling did): kept for every rule,
        they would cost 10 MB per 50,000 rules, for the backtests that ask one rule's."""
        rule = self._compiled[index].rule
        compiler = Compiler()
        node = _parsed(rule)
        compiler.compile(node, rule.folding)
        return _keys(rule, node, compiler)

    def explain(self, article: Article, matches: Iterable[Match]) -> list[Match]:
        """``matches`` of these rules on ``article``, each hit saying which variant of its
        term it is (``explain``): for the few matches that are reported, off the hot path."""
        if self._named is None:
            self._named = {item.rule.name: item.rule for item in self._compiled}
        named = self._named
        folds = {mode: folds_for(article.language, mode) for mode in (False, True)}
        return [explain_match(m, article, folding, folds[folding.case_sensitive])
                for m in matches for folding in (named[m.rule].folding,)]

    def match(self, article: Article, *, explain: bool = False) -> list[Match]:
        """Every rule true on ``article``, in rule order, with the terms that fired (built
        when first read: see ``LazyMatch``); with ``explain``, each hit says which variant
        of its term it is (``explain``)."""
        regex = RegexTexts(article)
        view = ArticleView(article, False, regex)
        candidates = [self._compiled[rid] for rid in self._index.candidates(view, regex)]
        if self._limited:
            language = language_of(article.language)
            candidates = [item for item in candidates if not item.rule.article_languages
                          or language in item.rule.article_languages]
        views = {False: view}
        sensitive = [item for item in candidates if item.rule.case_sensitive]
        if sensitive:
            views[True] = _prepared(ArticleView(article, True, regex), sensitive)
        if len(sensitive) < len(candidates):
            _prepared(view, [item for item in candidates if not item.rule.case_sensitive])
        found = []
        for item in candidates:
            rule = item.rule
            mode_view = views[rule.case_sensitive]
            if item.root.test(mode_view):
                match = LazyMatch(rule.name, rule.query, build=_terms_of(item, mode_view))
                found.append(explain_match(match, article, rule.folding) if explain else match)
        return found


def _terms_of(item: _Compiled, view: ArticleView) -> Callable[[], Terms]:
    """What builds the terms of ``item``'s match on the article of ``view``."""
    def build() -> Terms:
        hits: Hits = {}
        item.root.collect(view, hits)
        return build_terms(item.order, hits, view.raw)
    return build


def _prepared(view: ArticleView, candidates: list[_Compiled]) -> ArticleView:
    """``view`` with the positions of every word the ``candidates`` use indexed."""
    view.prepare(set().union(*[item.words for item in candidates]),
                 [key for item in candidates for key in item.others])
    return view


def _parsed(rule: Rule) -> Node:
    try:
        return parse_query(rule.query, case_sensitive=rule.case_sensitive)
    except QueryError as e:
        raise QueryError(f"rule {rule.name!r}: {e.message}", e.column) from None


def _keys(rule: Rule, node: Node, compiler: Compiler) -> list[Key] | None:
    """The trigger keys of ``rule``, ``node`` its query just compiled by ``compiler``."""
    if rule.case_sensitive:  # keyed by its case-insensitive reading (see ``index``)
        screen = _insensitive(rule.query)
        ci = replace(rule.folding, case_sensitive=False)
        return None if screen is None else rule_keys(
            screen, lambda term: compiler.variant_keys(term, ci))
    seen = compiler.seen
    return rule_keys(node, lambda term: seen[id(term)].variants)


def _compile_one(rule: Rule, compiler: Compiler, index: TriggerIndex, rid: int) -> _Compiled:
    node = _parsed(rule)
    compiler.seen.clear()
    root = compiler.compile(node, rule.folding)
    cterms = list(compiler.seen.values())
    index.add(rid, _keys(rule, node, compiler))
    seen = compiler.seen  # a term's text is its compiled term's (worked out once)
    order = compiler.shared(tuple(dict.fromkeys(
        seen[id(t)].text if id(t) in seen else compiler.shared(t.text)
        for t, negated in iter_terms(node) if not negated)))
    words, others = _slot_keys(cterms)
    return _Compiled(rule, root, order, compiler.shared(words), compiler.shared(others))


def _insensitive(query: str) -> Node | None:
    try:
        return parse_query(query)
    except QueryError:  # pragma: no cover - case folding never shortens a valid token
        return None


def _slot_keys(cterms: list[CTerm]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The slot keys of the stored variants of ``cterms``: one-word ones, and the others."""
    keys = dict.fromkeys(key for t in cterms for slots in (t.keys, *t.more) for key in slots)
    words = tuple(k for k in keys if k.isalnum())
    return words, tuple(k for k in keys if not k.isalnum())


def compile_rules(rules: Iterable[Rule]) -> RuleSet:
    """Compile ``rules`` into one ``RuleSet``; raises QueryError naming the first bad rule.

    Compiling makes many small objects and no reference cycles, so the cyclic garbage
    collector, which would scan the growing rule set again and again, is paused
    meanwhile.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        compiler, index = Compiler(), TriggerIndex()
        compiled = [_compile_one(rule, compiler, index, rid) for rid, rule in enumerate(rules)]
        index.freeze()
    finally:
        rarity.cache_clear()  # a help while compiling, not worth its memory after
        if paused:
            gc.enable()
    return RuleSet(compiled, index)


def match_query(query: str, article: Article, *, case_sensitive: bool = False,
                exact: bool = False, explain: bool = False) -> Match | None:
    """Match one query (the match's rule name is the query itself); None if it is false.
    ``explain``: say which variant each hit is (see ``RuleSet.match``)."""
    rules = compile_rules([Rule(query, query, case_sensitive, exact)])
    found = rules.match(article, explain=explain)
    return found[0] if found else None
