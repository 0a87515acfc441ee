"""Trigger keys: which rules are worth evaluating on an article.

Pure: no I/O.

A trigger is a string naming something an article's scan can detect cheaply:

* ``word``        the token occurs (in any field);
* ``pre*``        some token starts with ``pre``;
* ``\\x00lit``    the literal ``lit`` occurs in the regex text (see ``regexes``);
* ``\\x01word``   a regex needs ``word`` as a whole word: the token ``word`` occurs, or in
                  fields that are not plain the literal ``word`` does (see ``wholewords``).

A rule's keys are a disjunction of conjunctions of at most two triggers: the rule cannot be
true unless every trigger of at least one key was detected. So a rule is evaluated only when
one of its keys fired, and rules without keys (``x OR NOT y``, a regex without a usable
literal) are evaluated on every article.

A term's keys are those of its variants (see ``variants``), a slot standing for any of its
screen triggers (``risk|risks``: either). Keys are chosen to be rare: a phrase contributes
its two rarest tokens (that they stand next to each other is left to evaluation: checking
it on every article would cost more than the few extra candidates it saves), a word or
prefix itself, ``AND`` takes the cheapest child and pairs it with a second child when that
keeps the key count small, ``OR`` needs a key from every child, ``NEAR`` needs both sides,
``NOT`` gives nothing. Two CJK characters next to each other in a term are one trigger, their
bigram (``供应链``: ``供应`` and ``应链``). Rarity is guessed
from the trigger alone: stop words are common, longer words rarer, short prefixes common.

Words are found by a set intersection, but ``prefix*`` triggers need a scan of every
article, which is only run when some key has one; so keys leave prefixes out whenever
whole words alone make a key at least ``SCAN_WORTH`` rare (``comput* Acme`` is keyed on
``acme``, ``the comput*`` on both).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from itertools import product

from monitor.rules.nodes import And, Lang, Near, Node, Not, Or, Published, Regex, Term
from monitor.rules.normalize import BREAK, is_cjk
from monitor.rules.regexes import required_literals
from monitor.rules.variants import EXACT_MARK, FORMS_SEPARATOR, screen
from monitor.rules.wholewords import word_literal

__all__ = ["SCAN_WORTH", "WORD_MARK", "Key", "REGEX_MARK", "rarity", "rule_keys"]

Key = tuple[str, ...]
VariantKeys = Callable[[Term], tuple[tuple[str, ...], ...]]
"""The slot keys of each variant of a term."""
REGEX_MARK = "\x00"
WORD_MARK = "\x01"
MAX_PRODUCT = 8
"""Largest number of keys AND may produce by pairing two children's keys."""

SCAN_WORTH = 0.02
"""A key without ``prefix*`` triggers this rare is preferred to any key with one."""

LONG_WORD = 10
"""Words this long are guessed rarer than others."""

CJK_PAIR = 0.01
"""The guessed rarity of two CJK characters next to each other (a bigram: see
``normalize``)."""

_STOPWORDS = frozenset(
    "a an and are as at be but by for from has have he her his i in is it its of on or our "
    "she that the their them they this to was we were will with you not no said new also "
    "after more than one two s t".split()
)


@lru_cache(maxsize=4096)
def rarity(trigger: str) -> float:
    """A guess at the share of articles in which ``trigger`` fires (smaller is rarer)."""
    if trigger.startswith(REGEX_MARK):
        return 0.02
    if trigger.startswith(WORD_MARK):
        return rarity(trigger[1:])
    if trigger.endswith("*"):
        return min(0.5, 2.0 ** (3 - len(trigger)))
    if trigger in _STOPWORDS:
        return 0.5
    if not trigger.isascii():
        if trigger == BREAK:  # between nearly every two runs of CJK characters
            return 1.0
        if len(trigger) == 2 and is_cjk(trigger[0]) and is_cjk(trigger[1]):
            return CJK_PAIR
    if len(trigger) >= LONG_WORD:  # closed compounds (``supplychain``) are among these
        return 0.005
    return 0.02 if len(trigger) >= 4 else 0.1


def _key_cost(key: Key) -> float:
    cost = 1.0
    for trigger in key:
        cost *= rarity(trigger)
    return cost


def _keys_cost(keys: list[Key]) -> float:
    return sum(map(_key_cost, keys))


def _has_prefix(keys: list[Key]) -> bool:
    return any(t[-1] == "*" for key in keys for t in key)


def _scan_free(keys: list[Key]) -> bool:
    """Whether ``keys`` are rare enough without any ``prefix*`` trigger."""
    return not _has_prefix(keys) and _keys_cost(keys) <= SCAN_WORTH


def _best_two(triggers: set[str] | tuple[str, ...]) -> Key:
    if len(triggers) == 2 and isinstance(triggers, tuple):  # the common case: two words
        a, b = triggers
        if a != b and not (a.endswith("*") or b.endswith("*")):
            return (a, b) if (rarity(a), a) < (rarity(b), b) else (b, a)
    ranked = sorted(set(triggers), key=lambda t: (rarity(t), t))
    plain = [t for t in ranked if not t.endswith("*")]
    if len(plain) == len(ranked):  # no prefix: the two rarest, scan-free or not
        return tuple(ranked[:2])
    return tuple(plain[:2]) if _scan_free([tuple(plain[:2])]) else tuple(ranked[:2])


def _dedupe(keys: list[Key]) -> list[Key]:
    return list(dict.fromkeys(keys))


def _conj(left: list[Key], right: list[Key]) -> list[Key]:
    return _dedupe([_best_two(set(a) | set(b)) for a in left for b in right])


def rule_keys(node: Node, variants: VariantKeys) -> list[Key] | None:
    """The keys of ``node``; None when it can be true without any trigger."""
    if isinstance(node, Term):
        return _term_keys(variants(node))
    if isinstance(node, Regex):
        word = word_literal(node.pattern, node.case_sensitive)
        if word is not None:
            return [(WORD_MARK + word,)]
        literals = required_literals(node.pattern, node.case_sensitive)
        return None if literals is None else [(REGEX_MARK + lit,) for lit in sorted(literals)]
    if isinstance(node, Not | Lang | Published):  # a filter on metadata holds no word
        return None
    if isinstance(node, Near):
        left, right = rule_keys(node.left, variants), rule_keys(node.right, variants)
        assert left is not None and right is not None  # NEAR sides are positional
        return _conj(left, right)
    if isinstance(node, Or):
        return _or_keys(node, variants)
    return _and_keys(node, variants)


def _term_keys(variants: tuple[tuple[str, ...], ...]) -> list[Key]:
    """Keys of a term: those of each of its variants."""
    return _dedupe([key for slots in variants for key in _variant_keys(slots)])


def _variant_keys(slots: tuple[str, ...]) -> list[Key]:
    """Keys of one variant: its two rarest slots, each standing for any of its triggers."""
    if len(slots) == 1 and FORMS_SEPARATOR not in slots[0]:
        return [screen(slots[0])]
    cjk = None if all(map(str.isascii, slots)) else _cjk_screens(slots)
    if cjk is None and all(map(str.isalnum, slots)):  # plain words, each its own trigger
        return [_best_two(slots)]
    screens = cjk or list(map(screen, slots))
    if all(len(s) == 1 for s in screens):
        return [_best_two(tuple(s[0] for s in screens))]
    ranked = sorted(set(screens), key=lambda s: (sum(map(rarity, s)), s))
    plain = [s for s in ranked if not any(t.endswith("*") for t in s)][:2]
    chosen = plain if plain and _scan_free(list(product(*plain))) else ranked[:2]
    return _dedupe([tuple(dict.fromkeys(combo)) for combo in product(*chosen)])


def _cjk_char(slot: str) -> str | None:
    """The CJK character a slot takes (``供``, exact ``=供``), if it is one."""
    char = slot[1:] if slot[0] == EXACT_MARK else slot
    return char if len(char) == 1 and is_cjk(char) else None


def _cjk_screens(slots: tuple[str, ...]) -> list[tuple[str, ...]] | None:
    """The screens of a variant where CJK characters stand next to each other: each such
    pair is one bigram trigger (an article has it where they stand next to each other,
    see ``normalize``), the other slots their own; a ``BREAK`` none. None: no such pair."""
    chars = list(map(_cjk_char, slots))
    pairs = [i for i in range(len(slots) - 1) if chars[i] and chars[i + 1]]
    if not pairs:
        return None
    covered = {j for i in pairs for j in (i, i + 1)}
    screens = [(str(chars[i]) + str(chars[i + 1]),) for i in pairs]
    return screens + [screen(slot) for i, slot in enumerate(slots)
                      if i not in covered and slot != BREAK]


def _or_keys(node: Or, variants: VariantKeys) -> list[Key] | None:
    keys: list[Key] = []
    for child in node.children:
        child_keys = rule_keys(child, variants)
        if child_keys is None:
            return None
        keys.extend(child_keys)
    return _dedupe(keys)


def _and_keys(node: And, variants: VariantKeys) -> list[Key] | None:
    options = [k for c in node.children if (k := rule_keys(c, variants)) is not None]
    if not options:
        return None
    options.sort(key=lambda keys: (not _scan_free(keys), _keys_cost(keys)))
    keys = options[0]
    for other in options[1:]:
        if all(len(k) == 2 for k in keys):
            break
        if _scan_free(keys) and _has_prefix(other):
            continue
        if len(keys) * len(other) <= MAX_PRODUCT:
            paired = _conj(keys, other)
            if _keys_cost(paired) < _keys_cost(keys):
                keys = paired
    return keys
