"""Compiled query nodes, evaluated on token positions of an ``ArticleView``.

Pure: no I/O.

``test`` answers whether a node is true; ``collect`` (called only on true nodes) adds the
hits that made it true: for ``AND`` every child's, for ``OR`` only the true children's, for
``NEAR`` only the occurrences that stand near each other, for ``NOT`` nothing.

NEAR works on intervals of token positions: a term occurrence is ``(first, last)``; two
intervals are near when they do not overlap and at most ``distance`` tokens lie between the
end of one and the start of the other (for ``ONEAR`` the left one comes first). The pair
becomes one interval spanning both, so NEARs nest.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Protocol, TypeVar

from monitor.rules.filters import lang_true, published_true
from monitor.rules.lemmas import Folds, base_language
from monitor.rules.nodes import And, Lang, Near, Node, Not, Published, Regex, Term
from monitor.rules.regexes import compile_regex
from monitor.rules.variants import Folding, Variants, compounds, term_variants
from monitor.rules.view import ArticleView, SpanTuple, field_indexes, field_range, map_span

__all__ = ["CNode", "Compiler", "Hits"]

_T = TypeVar("_T")

Hits = dict[str, set[SpanTuple]]
"""Term text -> spans where it fired."""
Occurrence = tuple[str, int, int]
Interval = tuple[int, int, tuple[Occurrence, ...]]


class CNode(Protocol):
    """A compiled node."""

    def test(self, view: ArticleView) -> bool: ...

    def collect(self, view: ArticleView, hits: Hits) -> None: ...


class CTerm:
    """A word, prefix or phrase in a scope: true where any of its variants occurs.

    ``keys`` are the slot keys of the first variant, ``more`` those of the other stored
    ones (usually none: the empty tuple is shared); compounds are closed up from ``base``
    at the ``gaps`` when evaluated (see ``variants.Variants``), not kept.
    """

    __slots__ = ("base", "gaps", "hi", "keys", "lo", "more", "text")

    def __init__(self, term: Term, variants: Variants) -> None:
        self.lo, self.hi = field_range(term.fields)
        self.keys = variants.stored[0].keys
        self.more = tuple(v.keys for v in variants.stored[1:])
        self.base, self.gaps = variants.base, variants.gaps
        self.text = term.text

    @property
    def variants(self) -> tuple[tuple[str, ...], ...]:
        """The slot keys of every variant, the first one first."""
        return (self.keys, *self.more, *compounds(self.base, self.gaps))

    def _starts(self, view: ArticleView, keys: tuple[str, ...]) -> list[int]:
        found = view.term_starts(keys)
        if not found or (self.lo <= found[0] and found[-1] < self.hi):
            return found
        return found[bisect_left(found, self.lo) : bisect_left(found, self.hi)]

    def _others(self, view: ArticleView) -> list[tuple[str, ...]]:
        """The variants after the first that may occur in the article."""
        return [*self.more, *compounds(self.base, self.gaps, view.has)]

    def test(self, view: ArticleView) -> bool:
        if self._starts(view, self.keys):
            return True
        if self.more or self.gaps:
            for keys in self._others(view):
                if self._starts(view, keys):
                    return True
        return False

    def occurrences(self, view: ArticleView) -> list[tuple[int, int]]:
        """``(first, last)`` token positions of every occurrence, sorted."""
        last = len(self.keys) - 1
        found = [(p, p + last) for p in self._starts(view, self.keys)]
        if not (self.more or self.gaps):
            return found
        found += [(p, p + len(keys) - 1) for keys in self._others(view)
                  for p in self._starts(view, keys)]
        return sorted(set(found))

    def collect(self, view: ArticleView, hits: Hits) -> None:
        found = hits.setdefault(self.text, set())
        span = view.span
        found.update([span(first, last) for first, last in self.occurrences(view)])

    def intervals(self, view: ArticleView) -> list[Interval]:
        text = self.text
        return [(first, last, ((text, first, last),)) for first, last in self.occurrences(view)]


class CRegex:
    """A regex searched in the regex text of each field of its scope."""

    __slots__ = ("fields", "pattern", "text")

    def __init__(self, node: Regex) -> None:
        self.pattern = compile_regex(node.pattern, node.case_sensitive, 0)
        self.fields = field_indexes(node.fields)
        self.text = node.text

    def test(self, view: ArticleView) -> bool:
        search = self.pattern.search
        return any(search(view.regex.get(f)[0]) is not None for f in self.fields)

    def collect(self, view: ArticleView, hits: Hits) -> None:
        found = hits.setdefault(self.text, set())
        for f in self.fields:
            text, origin = view.regex.get(f)
            for m in self.pattern.finditer(text):
                found.add((f, *map_span(origin, m.start(), m.end())))


class CMeta:
    """A filter on the article's metadata (``lang:``, ``published:``): no hits of its own."""

    __slots__ = ("node",)

    def __init__(self, node: Lang | Published) -> None:
        self.node = node

    def test(self, view: ArticleView) -> bool:
        article = view.regex.article
        if isinstance(self.node, Lang):
            return lang_true(self.node, article.language)
        return published_true(self.node, article.published)

    def collect(self, view: ArticleView, hits: Hits) -> None:
        return None


class CNot:
    __slots__ = ("child",)

    def __init__(self, child: CNode) -> None:
        self.child = child

    def test(self, view: ArticleView) -> bool:
        return not self.child.test(view)

    def collect(self, view: ArticleView, hits: Hits) -> None:
        return None


class CAnd:
    __slots__ = ("children",)

    def __init__(self, children: list[CNode]) -> None:
        self.children = tuple(children)

    def test(self, view: ArticleView) -> bool:
        for child in self.children:
            if not child.test(view):
                return False
        return True

    def collect(self, view: ArticleView, hits: Hits) -> None:
        for child in self.children:
            child.collect(view, hits)


class COr:
    __slots__ = ("children",)

    def __init__(self, children: list[CNode]) -> None:
        self.children = tuple(children)

    def test(self, view: ArticleView) -> bool:
        for child in self.children:
            if child.test(view):
                return True
        return False

    def collect(self, view: ArticleView, hits: Hits) -> None:
        for child in self.children:
            if child.test(view):
                child.collect(view, hits)

    def intervals(self, view: ArticleView) -> list[Interval]:
        merged = [i for child in self.children for i in _intervals(child, view)]
        return _merge(merged)


class CNear:
    __slots__ = ("distance", "left", "ordered", "right")

    def __init__(self, left: CNode, right: CNode, distance: int, ordered: bool) -> None:
        self.left, self.right = left, right
        self.distance, self.ordered = distance, ordered

    def test(self, view: ArticleView) -> bool:
        return bool(self.intervals(view))

    def collect(self, view: ArticleView, hits: Hits) -> None:
        for _, _, occurrences in self.intervals(view):
            for text, first, last in occurrences:
                hits.setdefault(text, set()).add(view.span(first, last))

    def intervals(self, view: ArticleView) -> list[Interval]:
        left = _intervals(self.left, view)
        right = _intervals(self.right, view) if left else []
        if not right:
            return []
        starts = [r[0] for r in right]
        longest = max(r[1] - r[0] for r in right)
        found: list[Interval] = []
        reach = self.distance + 1
        for a in left:
            lo, hi = bisect_left(starts, a[0] - reach - longest), bisect_right(starts, a[1] + reach)
            for b in right[lo:hi]:
                if self._near(a, b):
                    found.append((min(a[0], b[0]), max(a[1], b[1]), a[2] + b[2]))
        return _merge(found)

    def _near(self, a: Interval, b: Interval) -> bool:
        if b[0] > a[1]:
            return b[0] - a[1] - 1 <= self.distance
        return not self.ordered and b[1] < a[0] and a[0] - b[1] - 1 <= self.distance


def _intervals(node: CNode, view: ArticleView) -> list[Interval]:
    assert isinstance(node, CTerm | COr | CNear)
    return node.intervals(view)


def _merge(intervals: list[Interval]) -> list[Interval]:
    """Sort intervals and merge the occurrences of equal ones."""
    merged: dict[tuple[int, int], tuple[Occurrence, ...]] = {}
    for first, last, occurrences in intervals:
        key = (first, last)
        merged[key] = tuple(dict.fromkeys(merged.get(key, ()) + occurrences))
    return [(k[0], k[1], v) for k, v in sorted(merged.items())]


class Compiler:
    """Compiles syntax trees, sharing identical terms and regexes between rules."""

    def __init__(self) -> None:
        self._terms: dict[Folding, dict[Term, CTerm]] = {}
        self._regexes: dict[Regex, CRegex] = {}
        self.seen: dict[int, CTerm] = {}  # id of each Term node compiled -> its CTerm
        self._folds: dict[Folding, tuple[Folds, ...]] = {}  # the query's words' forms
        self._shared: dict[object, object] = {}

    def shared(self, value: _T) -> _T:
        """One object for equal values (term texts, tuples of them) across the rules."""
        return self._shared.setdefault(value, value)  # type: ignore[return-value]

    def variant_keys(self, term: Term, folding: Folding) -> tuple[tuple[str, ...], ...]:
        """The slot keys of each variant of ``term`` (see ``variants``)."""
        return self.term(term, folding).variants

    def stored_keys(self, term: Term, folding: Folding) -> tuple[tuple[str, ...], ...]:
        """The slot keys of the variants of ``term`` that are kept (not the compounds)."""
        found = self.term(term, folding)
        return (found.keys, *found.more)

    def term(self, term: Term, folding: Folding) -> CTerm:
        terms = self._terms.get(folding)
        if terms is None:
            terms = self._terms[folding] = {}
        found = terms.get(term)
        if found is None:
            found = terms[term] = CTerm(term, term_variants(term, folding, self.folds(folding)))
            found.text = self.shared(found.text)
        return found

    def folds(self, folding: Folding) -> tuple[Folds, ...]:
        """Forms of the query's words, one ``Folds`` per language: the compiler's own, gone
        with it, so that the shared ones (kept while the daemon runs) hold articles' words
        only."""
        found = self._folds.get(folding)
        if found is None:
            found = self._folds[folding] = tuple(
                Folds(base_language(lang), folding.case_sensitive) for lang in folding.languages)
        return found

    def compile(self, node: Node, folding: Folding) -> CNode:
        if isinstance(node, Term):
            found = self.seen[id(node)] = self.term(node, folding)
            return found
        if isinstance(node, Regex):
            if node not in self._regexes:
                self._regexes[node] = CRegex(node)
            return self._regexes[node]
        if isinstance(node, Lang | Published):
            return CMeta(node)
        if isinstance(node, Not):
            return CNot(self.compile(node.child, folding))
        if isinstance(node, Near):
            left, right = self.compile(node.left, folding), self.compile(node.right, folding)
            return CNear(left, right, node.distance, node.ordered)
        children = [self.compile(c, folding) for c in node.children]
        return CAnd(_cheap_first(children)) if isinstance(node, And) else COr(children)


def _cheap_first(children: list[CNode]) -> list[CNode]:
    """Order AND children so cheap tests run first (terms, then the rest, NOT last)."""
    def cost(child: CNode) -> int:
        if isinstance(child, CMeta):  # cheaper than any term
            return -1
        return 0 if isinstance(child, CTerm) else 2 if isinstance(child, CNot) else 1
    return sorted(children, key=cost)
