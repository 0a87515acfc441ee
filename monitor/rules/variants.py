"""Variants of a term: the token sequences that count as it, and how each token is found.

Pure: no I/O (canonical forms come from ``lemmas``).

An exact term (``=word``, ``="a b"``, or any term of a rule with ``match = "exact"``) has
one variant: its tokens as written. A folded term has these, each with a ``kind``:

* ``""``: its tokens as written, each folded: a query token matches an article token when
  they share a form, as written or canonical (``lemmas.canonical``: lemma, American
  spelling), the article's token in the article's language, the query's in the rule's;
* ``possessive``: without the ``s`` of ``'s`` (``risk's`` = ``risk``);
* ``acronym``: a dotted acronym closed up, matching only in capitals (``U.S.`` -> ``US``,
  never ``us``), and a word written in 2-6 capitals spelt out in letters (``ESG`` ->
  ``E.S.G.``);
* ``compound``: the phrase closed up (``supply chain`` -> ``supplychain``, ``COVID-19`` ->
  ``covid19``), and in longer phrases each pair of neighbours (``supplychain risk``); a
  word of letters and digits opened up (``covid19`` -> ``covid 19``, ``COVID-19``).

The first variant matches wherever the exact term does, so folding never loses a match.

A variant is a tuple of slot keys, one per token, which ``ArticleView.positions`` resolves:

* ``word``, ``a|b``     a token whose form, as written or canonical, is ``word`` (or ``a``, ``b``);
* ``=word``             the token as written (exact);
* ``^word``             the token, written in capitals in the article;
* ``pre*``, ``de?ense`` a token whose form, as written or canonical, has that prefix or fits
                        that wildcard pattern; ``=pre*``, ``=de?ense`` as written only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from typing import NamedTuple

from monitor.rules.lemmas import DEFAULT_LANGUAGE, Folds, folds_for
from monitor.rules.nodes import Atom, Term
from monitor.rules.normalize import BREAK, is_cjk

__all__ = ["EXACT_MARK", "UPPER_MARK", "Folding", "Variant", "Variants", "compounds",
           "is_pattern", "screen", "term_variants"]

EXACT_MARK = "="
UPPER_MARK = "^"
FORMS_SEPARATOR = "|"
MAX_CAPS = 6
"""Longest all-capitals word also matched spelt out with dots (``NATO`` -> ``N.A.T.O.``)."""

MAX_PAIRS = 2
"""Most gaps of a phrase that are also closed up one at a time (past it, only all at once)."""

_LETTERS_OR_DIGITS = re.compile(r"\d+|[^\W\d_]+")


@dataclass(frozen=True, slots=True)
class Folding:
    """How a rule's terms are matched: exactly, or with variants folded in ``languages``."""

    exact: bool = False
    languages: tuple[str, ...] = (DEFAULT_LANGUAGE,)
    case_sensitive: bool = False


class Variant(NamedTuple):
    """One token sequence that counts as a term (see the module docstring for ``kind``)."""

    keys: tuple[str, ...]
    kind: str = ""


def is_pattern(key: str) -> bool:
    """Whether a slot key is a prefix or wildcard pattern."""
    return key.endswith("*") or "?" in key


def screen(key: str) -> tuple[str, ...]:
    """The index triggers of a slot key: the slot can match only if one of them fires."""
    if key[0] in (EXACT_MARK, UPPER_MARK):
        key = key[1:]
    if key.endswith("*"):
        return (key,)
    if "?" in key:
        return (key.split("?")[0] + "*",)
    return tuple(key.split(FORMS_SEPARATOR)) if FORMS_SEPARATOR in key else (key,)


class Variants(NamedTuple):
    """A term's variants: ``stored`` (as written first), and the compounds closed up from
    ``base`` at the gaps of the bit mask ``gaps`` (bit g: slots g and g + 1), which
    ``compounds`` works out again when needed instead of keeping them."""

    stored: tuple[Variant, ...]
    base: tuple[str, ...] = ()
    gaps: int = 0

    def all(self) -> tuple[Variant, ...]:
        """Every variant, the as-written one first."""
        closed = (Variant(keys, "compound") for keys in compounds(self.base, self.gaps))
        return tuple(dict.fromkeys((*self.stored, *closed)))


def term_variants(term: Term, folding: Folding,
                  folds: tuple[Folds, ...] | None = None) -> Variants:
    """The variants of ``term`` under ``folding`` (its words' forms from ``folds``, one per
    language of ``folding``; default: the shared ones)."""
    atoms = list(term.atoms)
    if folding.exact or term.exact:
        return Variants((Variant(tuple(EXACT_MARK + str(a) for a in atoms)),))
    folds = folds or _folds(folding)
    slots = [_folded(a, folds) for a in atoms]
    if all(map(_simple, atoms)):  # the common cases: a word, or a phrase of words
        keys = tuple(slots)
        return Variants((Variant(keys),), keys, (1 << len(keys) - 1) - 1)
    found = [Variant(tuple(slots))]
    if any(a.possessive for a in atoms):
        kept = [i for i, a in enumerate(atoms) if not a.possessive]
        atoms, slots = [atoms[i] for i in kept], [slots[i] for i in kept]
        found.append(Variant(tuple(slots), "possessive"))
    found += _acronyms(atoms, slots, folding)
    found += _opened(atoms, slots, folds)
    gaps = sum(1 << g for g in range(len(atoms) - 1) if _joinable(atoms, g))
    bare = tuple(slots)
    base = next((v.keys for v in found if v.keys == bare), bare)  # shared, not copied
    return Variants(tuple(dict.fromkeys(found)), base if gaps else (), gaps)


def compounds(base: tuple[str, ...], gaps: int,
              present: Callable[[str], bool] | None = None) -> list[tuple[str, ...]]:
    """Slot keys of ``base`` closed up at every gap of the mask ``gaps``, and (when there
    are at most ``MAX_PAIRS`` such gaps) at each one alone; with ``present``, only those
    whose closed-up slots it accepts (an article's test that the token occurs at all)."""
    if not gaps:
        return []
    if len(base) == 2 and FORMS_SEPARATOR not in base[0] + base[1]:  # the common case
        joined = base[0] + base[1]
        return [] if present is not None and not present(joined) else [(joined,)]
    every = [g for g in range(len(base) - 1) if gaps >> g & 1]
    closings = [every] + ([[g] for g in every] if 1 < len(every) <= MAX_PAIRS else [])
    found = [_closed(base, closing, present) for closing in closings]
    return [keys for keys in found if keys is not None]


def _closed(slots: tuple[str, ...], closing: list[int],
            present: Callable[[str], bool] | None) -> tuple[str, ...] | None:
    """``slots`` with the gaps in ``closing`` closed up (None: ``present`` refused one)."""
    keys: list[str] = []
    start = 0
    for i in range(len(slots)):
        if i not in closing:
            if start == i:
                keys.append(slots[i])
            else:
                joined = _joined(slots[start : i + 1])
                if present is not None and not present(joined):
                    return None
                keys.append(joined)
            start = i + 1
    return tuple(keys)


def _joined(unit: tuple[str, ...]) -> str:
    """The slot key of folded words closed up: every way of joining their forms (the last
    one carries a compound's inflection: ``supply chains`` -> ``supplychain``)."""
    if not any(FORMS_SEPARATOR in key for key in unit):
        return "".join(unit)
    forms = {"".join(parts) for parts in product(*(k.split(FORMS_SEPARATOR) for k in unit))}
    return FORMS_SEPARATOR.join(sorted(forms))


@lru_cache(maxsize=64)
def _folds(folding: Folding) -> tuple[Folds, ...]:
    return tuple(folds_for(lang, folding.case_sensitive) for lang in folding.languages)


def _folded(atom: Atom, folds: tuple[Folds, ...]) -> str:
    if atom.prefix or atom.wildcard:
        return str(atom)
    return _word(atom.text, atom.written, folds)


def _word(text: str, written: str, folds: tuple[Folds, ...]) -> str:
    """The slot key of a folded word: its forms in the rule's languages (``folds``)."""
    if len(folds) == 1:
        form = folds[0].of_source(text, written)
        return text if form == text else FORMS_SEPARATOR.join(sorted((text, form)))
    forms = {text, *(f.of_source(text, written) for f in folds)}
    return text if len(forms) == 1 else FORMS_SEPARATOR.join(sorted(forms))


def _runs(atoms: list[Atom]) -> list[tuple[int, int]]:
    """``(first, last + 1)`` of every dotted acronym (``U.S.``) among ``atoms``."""
    runs, i = [], 0
    while i < len(atoms):
        j = i
        while j < len(atoms) and atoms[j].dotted:
            j += 1
        if j > i:
            runs.append((i, j + 1))
        i = j + 1
    return runs


def _caps(atom: Atom) -> bool:
    word = atom.written
    return (not (atom.prefix or atom.wildcard) and 2 <= len(word) <= MAX_CAPS
            and word.isalpha() and word.isupper())


def _acronyms(atoms: list[Atom], slots: list[str], folding: Folding) -> list[Variant]:
    """Dotted acronyms closed up (capitals only), capitals words spelt out."""
    runs = dict(_runs(atoms))
    if not runs and not any(map(_caps, atoms)):
        return []
    keys: list[str] = []
    i = 0
    while i < len(atoms):
        if i in runs:
            closed = "".join(a.text for a in atoms[i : runs[i]])
            keys.append(closed if folding.case_sensitive else UPPER_MARK + closed)
            i = runs[i]
            continue
        atom = atoms[i]
        if _caps(atom):
            letters = atom.written if folding.case_sensitive else atom.text
            keys += [EXACT_MARK + ch for ch in letters]
        else:
            keys.append(slots[i])
        i += 1
    return [Variant(tuple(keys), "acronym")]


def _joinable(atoms: list[Atom], gap: int) -> bool:
    """Whether ``atoms[gap]`` and ``atoms[gap + 1]`` may be closed up (not CJK characters:
    tokens of their own, never closed up in an article)."""
    return (_plain(atoms[gap]) and _plain(atoms[gap + 1])
            and not (gap > 0 and atoms[gap - 1].dotted)
            and not (_cjk(atoms[gap]) or _cjk(atoms[gap + 1])))


def _cjk(atom: Atom) -> bool:
    return len(atom.text) == 1 and (atom.text == BREAK or is_cjk(atom.text))


def _opened(atoms: list[Atom], slots: list[str], folds: tuple[Folds, ...]) -> list[Variant]:
    """Words of letters and digits opened up (``covid19`` -> ``covid 19``)."""
    if all(a.text.isalpha() for a in atoms):
        return []
    parts = [_LETTERS_OR_DIGITS.findall(a.text) if _plain(a) else [] for a in atoms]
    if all(len(p) < 2 for p in parts):
        return []
    keys: list[str] = []
    for slot, pieces in zip(slots, parts, strict=True):
        keys += [_word(p, p, folds) for p in pieces] if len(pieces) > 1 else [slot]
    return [Variant(tuple(keys), "compound")]


def _simple(atom: Atom) -> bool:
    """A word of letters, none of them capitals to spell out: no variant but compounds."""
    return atom.text.isalpha() and not (atom.source or atom.prefix or atom.wildcard
                                         or atom.possessive or atom.dotted)


def _plain(atom: Atom) -> bool:
    return not (atom.prefix or atom.wildcard or atom.dotted)
