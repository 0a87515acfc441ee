"""HTML fragments and loose text -> plain text, for every source kind.

Pure: strings in, strings out. ``html_to_text`` keeps paragraphs (one blank line between
blocks, single line breaks for ``<br>``); ``html_line`` is the same on one line (titles,
author names); ``one_line`` collapses whitespace in text that is already plain.
"""

from __future__ import annotations

import html
import re

import lxml.etree  # type: ignore[import-untyped]
import lxml.html  # type: ignore[import-untyped]

_BLOCK_TAGS = frozenset("address article aside blockquote dd div dl dt figcaption figure footer "
                        "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tr ul"
                        .split())
_WS = re.compile(r"\s+")
_TAG = re.compile(r"<[A-Za-z!/?]")
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "head"})


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, paragraphs kept."""
    if not _TAG.search(markup):
        return _tidy(html.unescape(markup))
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return _tidy(html.unescape(re.sub(r"<[^>]*>", " ", markup)))
    lxml.etree.strip_tags(root, lxml.etree.Comment, lxml.etree.ProcessingInstruction)
    parts: list[str] = []
    walker = lxml.etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        tag = el.tag if isinstance(el.tag, str) else ""  # "" for entities left in the tree
        skip = not tag or tag in _SKIP_TAGS
        if event == "start":
            if skip:
                walker.skip_subtree()
            else:
                parts.append(_break(tag) + _WS.sub(" ", el.text or ""))
        else:
            parts.append(("" if skip or tag == "br" else _break(tag)) + _WS.sub(" ", el.tail or ""))
    return _tidy("".join(parts))


def html_line(markup: str) -> str:
    """The plain text of an HTML fragment on one line (a title, an author's name)."""
    return one_line(html_to_text(markup))


def one_line(text: str) -> str:
    """``text`` with every run of whitespace, line breaks included, made one space."""
    return " ".join(text.split())


def _break(tag: str) -> str:
    return "\n\n" if tag in _BLOCK_TAGS else "\n" if tag == "br" else ""


def _tidy(text: str) -> str:
    """Collapse spaces within lines; keep single line breaks; one blank line between paragraphs."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
