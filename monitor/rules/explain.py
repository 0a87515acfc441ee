"""Which variant of a term each hit of a match is: the original text at the span, the form
of the term it counts as, and the kind of variant (``models.Explanation``).

Pure: no I/O. Never on the matching path: ``RuleSet.match(..., explain=True)`` calls it on
the matches it reports (a few spans each), reading the query again and fitting each hit's
tokens to the term's variants (``variants``) in order, the as-written one first:

* ``exact``: the term's words as written (case and accents are never variants);
* ``lemma``, ``spelling``: a word (of the article or of the query) read in its canonical
  form (``risks`` -> ``risk``, ``Defence`` -> ``defense``; ``lemmas.fold_kind``);
* ``possessive``, ``acronym``, ``compound``: the variant of that kind fired (``risk's`` ->
  ``risk``, ``US`` -> ``U.S.``, ``supplychain`` -> ``supply chain``); a phrase hyphenated
  where the query has a space, or the other way round, is a ``compound`` too;
* ``prefix``, ``wildcard``: a ``comput*`` or ``defen?e`` pattern fitted the word;
* ``regex``: a ``/regex/`` term.

Several kinds are joined by ``+`` in a fixed order (``compound+lemma``); ``variant`` is
left for a hit no variant fits token by token (which only a tokeniser change could cause).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache
from types import MappingProxyType

from monitor.models import Article, Explanation, Match, TermHit
from monitor.rules.lemmas import Folds, base_language, fold_kind, folds_for
from monitor.rules.nodes import Regex, Term, iter_terms
from monitor.rules.normalize import Token, fold_word, normalize, tokenize
from monitor.rules.parser import parse_query
from monitor.rules.variants import (
    EXACT_MARK,
    FORMS_SEPARATOR,
    UPPER_MARK,
    Folding,
    Variant,
    is_pattern,
    term_variants,
)

__all__ = ["KINDS", "explain_match"]

KINDS = ("exact", "acronym", "compound", "possessive", "prefix", "wildcard", "lemma",
         "spelling", "regex", "variant")
"""Every kind of variant an explanation names, in the order combined kinds are joined."""

_ORDER = {kind: i for i, kind in enumerate(KINDS)}

MAX_CACHED_QUERIES = 4096
"""Queries (the rules that alert) whose terms, and where the query writes them, are kept."""


def explain_match(match: Match, article: Article, folding: Folding,
                  folds: Folds | None = None) -> Match:
    """``match`` with each term's hits explained (``TermHit.explained``), its rule's terms
    read under ``folding`` and the article's words in the article's language (``folds``:
    that language's forms in the rule's case mode, when the caller has them)."""
    terms = _terms_of(match.query, folding.case_sensitive)
    if folds is None:
        folds = folds_for(article.language, folding.case_sensitive)
    context = _Context(match.query, folding, folds)
    return Match(match.rule, match.query, tuple(
        TermHit(hit.term, hit.count, hit.spans, hit.snippets,
                context.hits(terms.get(hit.term), hit, article))
        for hit in match.terms))


@lru_cache(maxsize=MAX_CACHED_QUERIES)
def _terms_of(query: str, case_sensitive: bool) -> Mapping[str, Term | Regex]:
    """The terms of a (valid) query by the text a match reports them under."""
    node = parse_query(query, case_sensitive=case_sensitive)
    return MappingProxyType({t.text: t for t, _ in iter_terms(node)})


@lru_cache(maxsize=64)
def _query_lang(folding: Folding) -> str:
    """The language a rule's query words are read in."""
    return base_language(folding.languages[0] if folding.languages else None)


@lru_cache(maxsize=MAX_CACHED_QUERIES)
def _variants(term: Term, folding: Folding) -> tuple[Variant, ...]:
    """Every variant of ``term`` under ``folding``, the as-written one first."""
    return term_variants(term, folding).all()


@lru_cache(maxsize=MAX_CACHED_QUERIES)
def _tokens(text: str, case_sensitive: bool) -> tuple[Token, ...]:
    """The tokens of a hit's text (hits of a rule's terms repeat across articles)."""
    return tuple(tokenize(text, case_sensitive=case_sensitive))


class _Context:
    """What explaining one match's hits shares: the query, its folding, the article's forms."""

    def __init__(self, query: str, folding: Folding, folds: Folds) -> None:
        self.query, self.folding, self.folds = query, folding, folds
        self.query_lang = _query_lang(folding)

    def hits(self, term: Term | Regex | None, hit: TermHit, article: Article
             ) -> tuple[Explanation, ...]:
        field = article.field
        return tuple(self.span(term, field(s.field)[s.start : s.end]) for s in hit.spans)

    def span(self, term: Term | Regex | None, text: str) -> Explanation:
        """The explanation of one hit: ``text`` is the original characters of its span."""
        if term is None:  # pragma: no cover - every reported term comes from the query
            return Explanation(text, text, "variant")
        if isinstance(term, Regex):
            return Explanation(text, term.text, "regex")
        tokens = _tokens(text, self.folding.case_sensitive)
        for variant in _variants(term, self.folding):
            if len(variant.keys) != len(tokens):
                continue
            fits = [self._fit(key, tok, _source(tok, text))
                    for key, tok in zip(variant.keys, tokens, strict=True)]
            if any(f is None for f in fits):
                continue
            kinds = {k for f in fits if f is not None for k in f[1]}
            if variant.kind:
                kinds.add(variant.kind)
            elif len(tokens) > 1 and self._rejoined(term, text, tokens):
                kinds.add("compound")
            whole = not kinds or bool(kinds & {"compound", "acronym"})
            form = self.written(term) if whole else " ".join(f[0] for f in fits if f)
            return Explanation(text, form, _joined(kinds))
        return Explanation(text, self.written(term), "variant")

    def _fit(self, key: str, token: Token, source: str) -> tuple[str, list[str]] | None:
        """How ``token`` fits one slot key: (the form it counts as, kinds), or None."""
        word = token.text
        if key[0] == UPPER_MARK:
            return (word, []) if word == key[1:] else None
        if key[0] == EXACT_MARK:
            rest = key[1:]
            if is_pattern(rest):
                return (rest, [_pattern_kind(rest)]) if _fits(rest, word) else None
            return (word, []) if word == rest else None
        canon = self.folds.of_source(word, source)
        if is_pattern(key):
            kind = _pattern_kind(key)
            if _fits(key, word):
                return key, [kind]
            return (key, [kind, *self._how(word, source)]) if _fits(key, canon) else None
        forms = key.split(FORMS_SEPARATOR)
        if word in forms:
            if len(forms) == 1 or canon != word:  # the query's own word
                return word, []
            return word, self._query_how(forms, word)
        if canon in forms:
            query = self._query_how(forms, canon) if len(forms) > 1 else []
            return canon, [*self._how(word, source), *query]
        return None

    def _how(self, word: str, source: str) -> list[str]:
        """The kinds of folding that take an article's ``word`` to its canonical form."""
        plain = fold_word(word) if self.folding.case_sensitive else word
        how = fold_kind(plain, self.folds.lang, source)[1]
        return how.split("+") if how else []

    def _query_how(self, forms: Sequence[str], canon: str) -> list[str]:
        """The kinds of folding that took the query's word (the form besides ``canon``)."""
        for form in forms:
            if form != canon:
                how = fold_kind(fold_word(form) or form, self.query_lang)[1]
                if how:
                    return how.split("+")
        return []

    def _rejoined(self, term: Term, text: str, tokens: Sequence[Token]) -> bool:
        """Whether the hit is hyphenated where the query's phrase is not, or the reverse."""
        run = _query_run(self.query, term, term.column)
        return run is not None and _gaps(text, tokens) != _gaps(self.query, run)

    def written(self, term: Term) -> str:
        """``term`` as the query writes it (``supply-chain``, ``U.S.``, ``comput*``)."""
        run = _query_run(self.query, term, term.column)
        if run is None:
            return _display(term)
        end = run[-1].end
        if any(a.dotted for a in term.atoms) and self.query[end : end + 1] == ".":
            end += 1
        return self.query[run[0].start : end]


def _gaps(text: str, tokens: Sequence[Token]) -> list[bool]:
    """Whether each gap between consecutive ``tokens`` of ``text`` is a hyphen."""
    return [_hyphen(text[a.end : b.start]) for a, b in zip(tokens, tokens[1:], strict=False)]


def _source(token: Token, text: str) -> str:
    """The token as the article's view reads it for dictionaries: as written (NFC) when it
    has accents or other non-ASCII letters, else its folded text (``view``)."""
    written = text[token.start : token.end]
    return token.text if written.isascii() else unicodedata.normalize("NFC", written)


@lru_cache(maxsize=MAX_CACHED_QUERIES)
def _query_run(query: str, term: Term, column: int) -> tuple[Token, ...] | None:
    """The tokens of ``query`` that wrote ``term`` at ``column`` (None: a pattern, or not
    found); the column is an argument since terms equal but for it are equal."""
    if any(a.prefix or a.wildcard for a in term.atoms):
        return None
    words = [a.text.casefold() for a in term.atoms]  # a case-sensitive rule's keep their case
    tokens = [t for t in tokenize(query) if t.start >= column - 1]
    for i in range(len(tokens) - len(words) + 1):
        run = tokens[i : i + len(words)]
        if [t.text for t in run] == words:
            return tuple(run)
    return None


def _hyphen(gap: str) -> bool:
    return normalize(gap).strip() == "-"


@lru_cache(maxsize=MAX_CACHED_QUERIES)
def _fitter(pattern: str) -> re.Pattern[str]:
    """A token fits a prefix (``pre*``) or wildcard (``de?ense``) pattern (as ``view`` does)."""
    stem = pattern.rstrip("*")
    tail = ".*" if pattern.endswith("*") else ""
    return re.compile(".".join(map(re.escape, stem.split("?"))) + tail)


def _fits(pattern: str, word: str) -> bool:
    return _fitter(pattern).fullmatch(word) is not None


def _pattern_kind(key: str) -> str:
    return "wildcard" if "?" in key else "prefix"


def _joined(kinds: set[str]) -> str:
    return "+".join(sorted(kinds, key=_ORDER.__getitem__)) if kinds else "exact"


def _display(term: Term) -> str:
    """A term as a reader knows it, when the query does not show it: dotted acronyms in
    capitals (``U.S.``), words as written, prefixes with their ``*``."""
    parts: list[str] = []
    run = ""
    for atom in term.atoms:
        if atom.dotted:
            run += atom.written + "."
            continue
        if run:
            parts.append((run + atom.written + ".").upper())
            run = ""
        else:
            parts.append(atom.written + "*" if atom.prefix else atom.written)
    return " ".join(parts)
