"""A database full-text prefilter for a query: what to index of an article, what to ask.

Pure: no I/O. The store keeps, per article, the terms ``article_terms`` gives: every token
of every field (and the bigrams of CJK runs) and every canonical form, exactly what fires a
trigger in ``TriggerIndex.candidates``. A rule is true on no article where none of its
trigger keys (``RuleSet.keys``) has every trigger fired, so asking the full-text index for
"some key with all its terms" returns a superset of the articles the rule matches:

* a word trigger asks for the term itself; a ``prefix*`` trigger for a term starting with
  it (the index's prefix scan reads the same tokens and forms, space separated);
* a key with a regex literal or a regex's whole word, a ``*`` prefix that is empty, or a
  rule without keys (``NOT x`` alone, a regex without literals) has no safe form: ``None``,
  the caller scans every article instead.

Terms are written in an alphabet every full-text tokenizer keeps whole and no stemmer
touches (``encode``): ``a``-``w``, ``y``, ``z`` and digits stand for themselves, any other
character is ``x`` and six hex digits. This is a prefix code, so a token starting with a
prefix is encoded starting with the prefix's encoding, and no encoded term is ``x`` alone:
the store uses that term to mark an article it has not indexed yet.
"""

from __future__ import annotations

import re

from monitor.models import Article
from monitor.rules.matcher import RuleSet
from monitor.rules.triggers import REGEX_MARK, WORD_MARK
from monitor.rules.view import ArticleView, RegexTexts

__all__ = ["Prefilter", "article_terms", "encode", "prefilter"]

Prefilter = list[tuple[str, ...]]
"""Alternatives, each a conjunction of encoded terms (``term``, or ``stem*`` a prefix)."""

_OTHER = re.compile(r"[^a-wyz0-9]")


def encode(token: str) -> str:
    """``token`` in the index's alphabet (see the module docstring)."""
    return _OTHER.sub(lambda m: f"x{ord(m.group()):06x}", token)


def article_terms(article: Article) -> str:
    """The terms to index for ``article``, encoded and space separated, in sorted order."""
    view = ArticleView(article, False, RegexTexts(article))
    tokens, forms = view.tokens()
    return " ".join(sorted({encode(w) for w in tokens} | {encode(f) for f in forms}))


def prefilter(rules: RuleSet, index: int = 0) -> Prefilter | None:
    """The full-text alternatives of rule ``index`` of ``rules``; None: no safe prefilter."""
    keys = rules.keys(index)
    if not keys:
        return None
    found: dict[tuple[str, ...], None] = {}
    for key in keys:
        terms: list[str] = []
        for trigger in key:
            if trigger.startswith((REGEX_MARK, WORD_MARK)):
                return None
            if trigger.endswith("*"):
                if len(trigger) == 1:
                    return None
                terms.append(encode(trigger[:-1]) + "*")
            else:
                terms.append(encode(trigger))
        found[tuple(dict.fromkeys(terms))] = None
    return list(found)
