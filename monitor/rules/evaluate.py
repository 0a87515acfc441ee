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
from typing import Protocol

from monitor.rules.nodes import And, Near, Node, Not, Regex, Term
from monitor.rules.regexes import compile_regex
from monitor.rules.view import ArticleView, SpanTuple, field_indexes, field_range, map_span

__all__ = ["CNode", "Compiler", "Hits"]

Hits = dict[str, set[SpanTuple]]
"""Term text -> spans where it fired."""
Occurrence = tuple[str, int, int]
Interval = tuple[int, int, tuple[Occurrence, ...]]


class CNode(Protocol):
    """A compiled node."""

    def test(self, view: ArticleView) -> bool: ...

    def collect(self, view: ArticleView, hits: Hits) -> None: ...


class CTerm:
    """A word, prefix or phrase in a scope."""

    __slots__ = ("hi", "length", "lo", "text", "triggers")

    def __init__(self, term: Term) -> None:
        self.triggers = tuple(str(a) for a in term.atoms)
        self.length = len(self.triggers)
        self.lo, self.hi = field_range(term.fields)
        self.text = term.text

    def test(self, view: ArticleView) -> bool:
        return bool(view.term_starts(self))

    def collect(self, view: ArticleView, hits: Hits) -> None:
        found = hits.setdefault(self.text, set())
        extra, span = self.length - 1, view.span
        found.update([span(p, p + extra) for p in view.term_starts(self)])

    def intervals(self, view: ArticleView) -> list[Interval]:
        extra = self.length - 1
        return [(p, p + extra, ((self.text, p, p + extra),)) for p in view.term_starts(self)]


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
        self._terms: dict[Term, CTerm] = {}
        self._regexes: dict[Regex, CRegex] = {}

    def compile(self, node: Node) -> CNode:
        if isinstance(node, Term):
            if node not in self._terms:
                self._terms[node] = CTerm(node)
            return self._terms[node]
        if isinstance(node, Regex):
            if node not in self._regexes:
                self._regexes[node] = CRegex(node)
            return self._regexes[node]
        if isinstance(node, Not):
            return CNot(self.compile(node.child))
        if isinstance(node, Near):
            left, right = self.compile(node.left), self.compile(node.right)
            return CNear(left, right, node.distance, node.ordered)
        children = [self.compile(c) for c in node.children]
        return CAnd(_cheap_first(children)) if isinstance(node, And) else COr(children)


def _cheap_first(children: list[CNode]) -> list[CNode]:
    """Order AND children so cheap tests run first (terms, then the rest, NOT last)."""
    def cost(child: CNode) -> int:
        return 0 if isinstance(child, CTerm) else 2 if isinstance(child, CNot) else 1
    return sorted(children, key=cost)
