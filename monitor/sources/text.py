"""HTML fragments and loose text -> plain text, for every source kind.

Pure: strings in, strings out. ``html_to_text`` keeps paragraphs (one blank line between
blocks, single line breaks for ``<br>``); ``html_line`` is the same on one line (titles,
author names); ``one_line`` collapses whitespace in text that is already plain.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable
from typing import TypeVar

import lxml.etree  # type: ignore[import-untyped]

_BLOCK_TAGS = frozenset("address article aside blockquote dd div dl dt figcaption figure footer "
                        "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tr ul"
                        .split())
_WS = re.compile(r"\s+")
_TAG = re.compile(r"<[A-Za-z!/?]")
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "head"})
_LOCAL = threading.local()
# Private-use characters marking block and <br> breaks in the joined text; markup holding
# either takes the element-by-element walk instead. Line breaks inside text become spaces
# (the walk's whitespace collapsing, which _tidy then finishes on each line).
_BLOCK_MARK, _BR_MARK = "\ue000", "\ue001"
_BLANK_LINES = re.compile(r"\n{3,}")
_FULL_HTML = re.compile(r"^\s*<(?:html|!doctype)", re.I)  # as lxml.html tells a document
_T = TypeVar("_T")


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, paragraphs kept."""
    if not _TAG.search(markup):
        return _tidy(html.unescape(markup))
    try:
        root = _fragment(markup)
    except (lxml.etree.ParserError, ValueError):
        return _tidy(html.unescape(re.sub(r"<[^>]*>", " ", markup)))
    if _BLOCK_MARK in markup or _BR_MARK in markup:
        return _walked_text(_without_comments(root))
    try:
        marked = str(_local("xslt", _marking_stylesheet)(root))
    except lxml.etree.XSLTApplyError:  # libxslt's own limits (depth): the same, in Python
        marked = _marked_in_python(_without_comments(root))
    return _lines(marked)


def _local(name: str, make: Callable[[], _T]) -> _T:
    """This thread's ``name`` (lxml parsers and stylesheets are not shared across threads)."""
    made: _T | None = getattr(_LOCAL, name, None)
    if made is None:
        made = make()
        setattr(_LOCAL, name, made)
    return made


def _parser() -> lxml.etree.HTMLParser:
    """lxml.html's HTML parser, without its per-element class lookup."""
    return _local("parser", lxml.etree.HTMLParser)


def _marking_stylesheet() -> lxml.etree.XSLT:
    """Text out, a mark around each block and after each ``<br>``; skipped elements,
    comments and processing instructions dropped: the walk of the tree, in libxslt."""
    blocks, skipped = "|".join(sorted(_BLOCK_TAGS)), "|".join(sorted(_SKIP_TAGS))
    return lxml.etree.XSLT(lxml.etree.XML(
        '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
        '<xsl:output method="text" encoding="utf-8"/>'
        f'<xsl:template match="{blocks}">{_BLOCK_MARK}<xsl:apply-templates/>{_BLOCK_MARK}'
        f'</xsl:template><xsl:template match="br">{_BR_MARK}</xsl:template>'
        f'<xsl:template match="{skipped}|comment()|processing-instruction()"/>'
        "</xsl:stylesheet>"))


def _fragment(markup: str) -> lxml.etree._Element:
    """The ``<body>`` that ``lxml.html.fragments_fromstring(markup)`` reads its pieces from
    (the same document, without moving the pieces into a parent of their own); the whole
    document, its ``<head>`` skipped as ever, when it has no ``<body>`` or several
    (``"</body><body>"``, a frameset, a lone ``<head>``), where lxml.html asserts one."""
    full = _FULL_HTML.match(markup)
    doc = lxml.etree.fromstring(markup if full else f"<html><body>{markup}</body></html>",
                                _parser())
    if doc is None:
        raise lxml.etree.ParserError("Document is empty")
    bodies = [e for e in doc if e.tag == "body"]
    if len(bodies) != 1:
        return _whole(doc)
    bodies[0].tail = None  # text after a "</body>" in markup: not among the pieces
    return bodies[0]


def _whole(doc: lxml.etree._Element) -> lxml.etree._Element:
    """``doc``'s top-level elements under one parent: after a stray ``</html>`` libxml2
    starts a second ``<html>`` beside the first (``"</body><body></html><p>f"``), which a
    walk from the first would miss while the stylesheet, reading the document, did not."""
    others = list(doc.itersiblings())
    if not others:
        return doc
    whole = lxml.etree.Element("span")  # neither a block nor skipped: adds no text
    for top in (doc, *others):
        whole.append(top)
    return whole


def _without_comments(root: lxml.etree._Element) -> lxml.etree._Element:
    lxml.etree.strip_tags(root, lxml.etree.Comment, lxml.etree.ProcessingInstruction)
    return root


def _marked_in_python(root: lxml.etree._Element) -> str:
    """What the marking stylesheet gives, by marking the tree and joining its text."""
    lxml.etree.strip_elements(root, *_SKIP_TAGS, with_tail=False)
    for el in root.iter(*_BLOCK_TAGS):
        el.text = _BLOCK_MARK + (el.text or "")
        el.tail = _BLOCK_MARK + (el.tail or "")
    for el in root.iter("br"):
        el.tail = _BR_MARK + (el.tail or "")
    return "".join(root.itertext())


def _lines(marked: str) -> str:
    """_tidy's lines, read off the marks: every other line break inside text is a space,
    and a run of blank lines is one (as _tidy's regex would make it, without its scan)."""
    lines: list[str] = []
    blank = True
    for n, block in enumerate(marked.split(_BLOCK_MARK)):
        if n and not blank:
            lines.append("")
            blank = True
        for piece in block.split(_BR_MARK) if _BR_MARK in block else (block,):
            line = _collapse(piece)
            if line or not blank:
                lines.append(line)
                blank = not line
    return "\n".join(lines).strip()


def _collapse(part: str) -> str:
    """``" ".join(part.split())``, without the split when the only whitespace is single
    spaces (every other whitespace character is unprintable): most paragraphs."""
    if part.isprintable() and "  " not in part:
        return part.strip(" ")
    return " ".join(part.split())


def _walked_text(root: lxml.etree._Element) -> str:
    """The text of ``root``, element by element (when the markup holds the marks' characters)."""
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
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
