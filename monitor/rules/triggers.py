"""Trigger keys: which rules are worth evaluating on an article.

Pure: no I/O.

A trigger is a string naming something an article's scan can detect cheaply:

* ``word``        the token occurs (in any field);
* ``one two``     the two tokens occur one right after the other (a bigram of a phrase);
* ``pre*``        some token starts with ``pre``;
* ``\\x00lit``    the literal ``lit`` occurs in the regex text (see ``regexes``).

A rule's keys are a disjunction of conjunctions of at most two triggers: the rule cannot be
true unless every trigger of at least one key was detected. So a rule is evaluated only when
one of its keys fired, and rules without keys (``x OR NOT y``, a regex without a usable
literal) are evaluated on every article.

Keys are chosen to be rare: a phrase contributes its rarest bigram of whole words (else its
two rarest tokens), a word or prefix itself, ``AND`` takes the cheapest child and pairs it
with a second child when that keeps the key count small, ``OR`` needs a key from every
child, ``NEAR`` needs both sides, ``NOT`` gives nothing. Rarity is guessed from the trigger
alone: stop words are common, longer words rarer, short prefixes common.
"""

from __future__ import annotations

from monitor.rules.nodes import And, Near, Node, Not, Or, Regex, Term
from monitor.rules.regexes import required_literals

__all__ = ["Key", "REGEX_MARK", "rarity", "rule_keys"]

Key = tuple[str, ...]
REGEX_MARK = "\x00"
MAX_PRODUCT = 8
"""Largest number of keys AND may produce by pairing two children's keys."""

_STOPWORDS = frozenset(
    "a an and are as at be but by for from has have he her his i in is it its of on or our "
    "she that the their them they this to was we were will with you not no said new also "
    "after more than one two s t".split()
)


def rarity(trigger: str) -> float:
    """A guess at the share of articles in which ``trigger`` fires (smaller is rarer)."""
    if trigger.startswith(REGEX_MARK):
        return 0.02
    if trigger.endswith("*"):
        return min(0.5, 2.0 ** (3 - len(trigger)))
    if " " in trigger:
        first, second = trigger.split(" ")
        return rarity(first) * rarity(second) * 0.1
    if trigger in _STOPWORDS:
        return 0.5
    return 0.02 if len(trigger) >= 4 else 0.1


def _key_cost(key: Key) -> float:
    cost = 1.0
    for trigger in key:
        cost *= rarity(trigger)
    return cost


def _keys_cost(keys: list[Key]) -> float:
    return sum(map(_key_cost, keys))


def _best_two(triggers: set[str] | tuple[str, ...]) -> Key:
    return tuple(sorted(set(triggers), key=lambda t: (rarity(t), t))[:2])


def _dedupe(keys: list[Key]) -> list[Key]:
    return list(dict.fromkeys(keys))


def _conj(left: list[Key], right: list[Key]) -> list[Key]:
    return _dedupe([_best_two(set(a) | set(b)) for a in left for b in right])


def rule_keys(node: Node) -> list[Key] | None:
    """The keys of ``node``; None when it can be true without any trigger."""
    if isinstance(node, Term):
        return [_term_key(node)]
    if isinstance(node, Regex):
        literals = required_literals(node.pattern, node.case_sensitive)
        return None if literals is None else [(REGEX_MARK + lit,) for lit in sorted(literals)]
    if isinstance(node, Not):
        return None
    if isinstance(node, Near):
        left, right = rule_keys(node.left), rule_keys(node.right)
        assert left is not None and right is not None  # NEAR sides are positional
        return _conj(left, right)
    if isinstance(node, Or):
        return _or_keys(node)
    return _and_keys(node)


def _term_key(term: Term) -> Key:
    atoms = term.atoms
    bigrams = [f"{a.text} {b.text}" for a, b in zip(atoms, atoms[1:], strict=False)
               if not (a.prefix or b.prefix)]
    if bigrams:
        return (min(bigrams, key=lambda t: (rarity(t), t)),)
    return _best_two(tuple(str(a) for a in atoms))


def _or_keys(node: Or) -> list[Key] | None:
    keys: list[Key] = []
    for child in node.children:
        child_keys = rule_keys(child)
        if child_keys is None:
            return None
        keys.extend(child_keys)
    return _dedupe(keys)


def _and_keys(node: And) -> list[Key] | None:
    options = [k for k in map(rule_keys, node.children) if k is not None]
    if not options:
        return None
    options.sort(key=_keys_cost)
    keys = options[0]
    for other in options[1:]:
        if all(len(k) == 2 for k in keys):
            break
        if len(keys) * len(other) <= MAX_PRODUCT:
            paired = _conj(keys, other)
            if _keys_cost(paired) < _keys_cost(keys):
                keys = paired
    return keys
