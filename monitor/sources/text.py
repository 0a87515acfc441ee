"""HTML fragments and loose text -> plain text, for every source kind.

Pure: strings in, strings out. ``html_to_text`` keeps paragraphs (one blank line between
blocks, single line breaks for ``<br>``); ``html_line`` is the same on one line (titles,
author names); ``one_line`` collapses whitespace in text that is already plain.
"""

from __future__ import annotations

import html
import re
import threading

import lxml.etree  # type: ignore[import-untyped]
import lxml.html  # type: ignore[import-untyped]

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
_MARK = re.compile(f"([{_BLOCK_MARK}{_BR_MARK}])")
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, paragraphs kept."""
    if not _TAG.search(markup):
        return _tidy(html.unescape(markup))
    try:
        root = _fragment(markup)
    except (lxml.etree.ParserError, ValueError):
        return _tidy(html.unescape(re.sub(r"<[^>]*>", " ", markup)))
    lxml.etree.strip_tags(root, lxml.etree.Comment, lxml.etree.ProcessingInstruction)
    if _BLOCK_MARK in markup or _BR_MARK in markup:
        return _walked_text(root)
    return _marked_text(root)


def _parser() -> lxml.etree.HTMLParser:
    """This thread's HTML parser: lxml.html's, without its per-element class lookup."""
    parser = getattr(_LOCAL, "parser", None)
    if parser is None:
        parser = _LOCAL.parser = lxml.etree.HTMLParser()
    return parser


def _fragment(markup: str) -> lxml.etree._Element:
    """``lxml.html.fragment_fromstring(markup, create_parent="div")``, in plain elements."""
    parser = _parser()
    pieces = lxml.html.fragments_fromstring(markup, parser=parser, no_leading_text=False)
    root = parser.makeelement("div")
    if pieces and isinstance(pieces[0], str):
        root.text = pieces.pop(0)
    root.extend(pieces)
    return root


def _marked_text(root: lxml.etree._Element) -> str:
    """The text of ``root``: a mark around each block and after each ``<br>``, one join of
    all text in C, then the marks made line breaks and other line breaks spaces."""
    lxml.etree.strip_elements(root, *_SKIP_TAGS, with_tail=False)
    for el in root.iter(*_BLOCK_TAGS):
        el.text = _BLOCK_MARK + (el.text or "")
        el.tail = _BLOCK_MARK + (el.tail or "")
    for el in root.iter("br"):
        el.tail = _BR_MARK + (el.tail or "")
    # _tidy's lines, read off the marks: every other line break inside text is a space
    parts = _MARK.split("".join(root.itertext()))
    lines = [" ".join(parts[0].split())]
    for i in range(1, len(parts), 2):
        if parts[i] == _BLOCK_MARK:
            lines.append("")
        lines.append(" ".join(parts[i + 1].split()))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


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
