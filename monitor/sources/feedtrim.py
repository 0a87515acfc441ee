"""A feed document made smaller before feedparser reads it, only when it must be.

Two cases, both rare: more items than the caller keeps, and an author field so long that
feedparser would stall. feedparser runs an e-mail regex over every author, publisher and
webmaster value whose time grows with the square of its length (20,000 characters take it
about a second, a megabyte would take most of an hour); it reads every other field in
linear time, so those are cut after parsing instead.

``trim_document`` scans the decoded document without changing it and returns None in the
normal case. Otherwise it returns the document with the items after the first ``max_items``
removed and author-like elements' text cut to MAX_AUTHOR_CHARS characters. Both scans know
CDATA sections and comments, so a tag written inside one is text, and neither changes any
tag, CDATA delimiter or item it keeps. Pure: text in, text out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

MAX_AUTHOR_CHARS = 256
_AUTHOR_NAMES = "author|creator|publisher|contributor|managingEditor|webMaster|name|email|owner"
# An author-like start tag; CDATA sections and comments are matched whole, so that a tag
# written inside one is passed over as the text it is.
_AUTHOR_OPEN = re.compile(
    r"<!\[CDATA\[.*?(?:\]\]>|\Z)|<!--.*?(?:-->|\Z)"
    r"|<(?:[A-Za-z_][\w.-]*:)?(?P<name>" + _AUTHOR_NAMES + r")\b[^<>]*(?<!/)>",
    re.DOTALL | re.IGNORECASE)
# The tokens inside an element: a CDATA section (never past its own "]]>"), a comment, a
# processing instruction, a start or end tag, or a run of text.
_TOKEN = re.compile(r"<!\[CDATA\[(?P<cdata>.*?)(?:\]\]>|\Z)|<!--.*?(?:-->|\Z)|<\?.*?(?:\?>|\Z)"
                    r"|<(?P<end>/?)(?:[A-Za-z_][\w.-]*:)?(?P<tag>[\w.-]*)[^<>]*>?|(?P<text>[^<]+)",
                    re.DOTALL)
# Item and entry tags, with CDATA sections and comments matched whole to pass over them.
_ITEM_TAG = re.compile(r"<!\[CDATA\[.*?(?:\]\]>|\Z)|<!--.*?(?:-->|\Z)"
                       r"|<(?P<end>/?)(?:[A-Za-z_][\w.-]*:)?(?P<item>item|entry)\b[^<>]*>",
                       re.DOTALL)
_ENDS_AUTHOR = frozenset({"item", "entry", "channel", "feed", "rss", "rdf"})  # unclosed authors
_ENTITY = re.compile(r"&#?\w{1,32};")
_CHAR = re.compile(r"&#?\w{1,32};|.", re.DOTALL)  # one character of XML text


def trim_document(text: str, max_items: int) -> str | None:
    """``text`` cut to its first ``max_items`` items and capped authors; None if already so."""
    cut = _cut_items(text, max_items)
    kept = text if cut is None else cut
    return _cap_authors(kept) if _has_long_author(kept) else cut


def _cut_items(text: str, max_items: int) -> str | None:
    """``text`` without the items after the first ``max_items``; None if it has no more.

    What follows the last item's end tag (the channel's and feed's end tags) is kept.
    """
    if sum(text.count(t) for t in ("<item", "<entry", ":item", ":entry")) <= max_items:
        return None  # at most max_items item or entry tags, prefixed or not
    starts, cut, last_end = 0, -1, -1
    for tag in _ITEM_TAG.finditer(text):
        if tag["item"] and tag["end"]:
            last_end = tag.end()
        elif tag["item"]:
            starts += 1
            cut = tag.start() if starts == max_items + 1 else cut
    if cut < 0:
        return None
    return text[:cut] + (text[last_end:] if last_end > cut else "")


def _author_pieces(text: str) -> Iterator[list[tuple[int, int]]]:
    """For each author-like element, the spans of its character data: text and CDATA content.

    One pass, linear in ``text``: an element ends at its own end tag, or at the start or end
    of an item (an unclosed author); elements nested in it count as its text.
    """
    pos = 0
    while opened := _AUTHOR_OPEN.search(text, pos):
        pos = opened.end()
        if not opened["name"]:
            continue  # a CDATA section or a comment
        name, pieces = opened["name"].lower(), []
        while token := _TOKEN.match(text, pos):
            tag = (token["tag"] or "").lower()
            if tag in _ENDS_AUTHOR or (token["end"] and tag == name):
                break
            if token["cdata"] is not None or token["text"] is not None:
                pieces.append(token.span("cdata" if token["cdata"] is not None else "text"))
            pos = token.end()
        yield pieces


def _has_long_author(text: str) -> bool:
    return any(sum(_chars(text[a:b]) for a, b in pieces) > MAX_AUTHOR_CHARS
               for pieces in _author_pieces(text))


def _cap_authors(text: str) -> str:
    """``text`` with each author-like element's text cut to MAX_AUTHOR_CHARS characters.

    Only character data inside those elements shrinks: tags, CDATA delimiters, comments and
    everything outside them are kept as they are, so the document's structure is unchanged.
    """
    out: list[str] = []
    last = 0
    for pieces in _author_pieces(text):
        left = MAX_AUTHOR_CHARS
        for a, b in pieces:
            head = _head(text[a:b], left)
            left -= _chars(head)
            out += [text[last:a], head]
            last = b
    return "".join(out) + text[last:]


def _chars(text: str) -> int:
    """Characters of XML text, an entity or character reference counting as one."""
    return len(_ENTITY.sub("&", text)) if "&" in text else len(text)


def _head(text: str, limit: int) -> str:
    """The first ``limit`` characters of XML text, never cutting a reference in two."""
    if len(text) <= limit:
        return text
    end = 0
    for count, char in enumerate(_CHAR.finditer(text)):
        if count == limit:
            break
        end = char.end()
    return text[:end]
