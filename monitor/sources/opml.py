"""OPML subscription lists <-> feeds, and feeds -> ``[[feeds]]`` TOML snippets.

Pure: takes bytes or data and returns data; no network, file or clock.

Reading refuses what makes XML dangerous, as defusedxml does (defusedxml is not a
dependency): any entity declaration in a DTD -- the vehicle of XXE and "billion laughs" --
raises :class:`~monitor.errors.ParseError` before anything is expanded, external entities
and DTDs are never loaded, and the parser (expat) keeps no tree; nesting deeper than
:data:`MAX_DEPTH` is refused. lxml with ``resolve_entities=False`` is not enough here: it
still expands internal entities inside attribute values, and OPML keeps its data in
attributes.

Tags come from the folders (outlines without ``xmlUrl``) around a feed, outermost first,
then from its ``category`` attribute (comma-separated, each a ``/``-separated path whose
parts become tags). A feed listed in several folders is returned once with every tag.
Only http(s) feeds are kept: the config accepts nothing else.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: N817 - writing only; reading uses expat below
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import NoReturn
from urllib.parse import urlsplit
from xml.parsers import expat

from monitor.errors import ParseError
from monitor.sources.text import one_line

MAX_DEPTH = 100
"""Elements nested deeper than this are refused; real folder trees are a few levels deep."""


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One subscription of an OPML list."""

    title: str
    xml_url: str
    tags: tuple[str, ...] = ()
    html_url: str = ""
    kind: str = "feed"  # monitor's source kind; OPML knows only feeds (see to_opml)


class _Refused(Exception):
    """Internal: raised from an expat handler to stop parsing."""


def parse_opml(data: bytes) -> list[OpmlFeed]:
    """The feeds of an OPML document, in document order; ParseError when it is not OPML."""
    if not data.strip():
        raise ParseError("not OPML: empty document")
    reader = _Reader()
    parser = _expat_parser(reader)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as e:
        raise ParseError(f"not OPML: malformed XML: {expat.ErrorString(e.code)} "
                         f"at line {e.lineno}, column {e.offset + 1}") from None
    except _Refused as e:
        raise ParseError(str(e)) from None
    return reader.result()


def _expat_parser(reader: _Reader) -> expat.XMLParserType:
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = _refuse_entities
    parser.UnparsedEntityDeclHandler = _refuse_entities
    parser.ExternalEntityRefHandler = _refuse_entities
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    return parser


def _refuse_entities(*_: object) -> NoReturn:
    raise _Refused("OPML refused: it declares XML entities (a DTD with <!ENTITY>), "
                   "which could read files or expand without bound")


@dataclass(slots=True)
class _Reader:
    """Collects feeds from expat events; ``folders`` holds one entry per open element."""

    folders: list[str | None] = field(default_factory=list)
    in_body: int = 0
    seen_body: bool = False
    feeds: dict[str, OpmlFeed] = field(default_factory=dict)

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if not self.folders and tag != "opml":
            raise _Refused(f"not OPML: the root element is <{tag}>, not <opml>")
        if len(self.folders) >= MAX_DEPTH:
            raise _Refused(f"OPML refused: elements nested deeper than {MAX_DEPTH}")
        if tag == "body" and len(self.folders) == 1:
            self.in_body, self.seen_body = len(self.folders) + 1, True
        self.folders.append(self._outline(attrs) if tag == "outline" and self.in_body else None)

    def end(self, _tag: str) -> None:
        if len(self.folders) == self.in_body:
            self.in_body = 0
        self.folders.pop()

    def _outline(self, raw: dict[str, str]) -> str | None:
        """Record a feed outline; return a folder outline's title (None for a feed)."""
        attrs = {k.lower(): v for k, v in raw.items()}
        title = one_line(attrs.get("title") or attrs.get("text") or "")
        url = attrs.get("xmlurl", "").strip()
        if not url:
            return title or None
        if urlsplit(url).scheme.lower() in ("http", "https"):
            folders = [f for f in self.folders if f]
            self._add(OpmlFeed(title or url, url,
                               _unique(folders + _categories(attrs.get("category", ""))),
                               attrs.get("htmlurl", "").strip()))
        return None

    def _add(self, feed: OpmlFeed) -> None:
        known = self.feeds.get(feed.xml_url)
        if known is None:
            self.feeds[feed.xml_url] = feed
        else:
            tags = _unique([*known.tags, *feed.tags])
            self.feeds[feed.xml_url] = OpmlFeed(known.title, known.xml_url, tags,
                                                known.html_url)

    def result(self) -> list[OpmlFeed]:
        if not self.seen_body:
            raise ParseError("not OPML: no <body> in <opml>")
        return list(self.feeds.values())


def _categories(value: str) -> list[str]:
    return [one_line(part) for item in value.split(",") for part in item.split("/")
            if part.strip()]


def _unique(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


# -- writing ----------------------------------------------------------------------------

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


OPML_KINDS = frozenset({"feed", "google-news"})
"""Source kinds whose URL is a feed, which OPML can carry (the others become comments)."""


def to_opml(feeds: Sequence[OpmlFeed], title: str = "monitor feeds") -> bytes:
    """An OPML 2.0 document: feeds grouped in folders by their first tag, every tag in
    ``category``; feeds without tags at the top; sources of other kinds (sitemaps, pages,
    JSON APIs) as comments, since OPML has no form for them. ``parse_opml`` reads it back unchanged
    (tags containing ``,`` or ``/`` excepted: those split)."""
    root = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(root, "head"), "title").text = _xml_safe(title)
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for feed in feeds:
        if feed.kind not in OPML_KINDS:  # not a feed any reader can subscribe to: a note
            body.append(ET.Comment(_comment_safe(
                f" monitor kind={feed.kind!r} {feed.title!r} {feed.xml_url} ")))
            continue
        parent = body
        if feed.tags:
            first = _xml_safe(feed.tags[0])
            if first not in folders:
                folders[first] = ET.SubElement(body, "outline", text=first, title=first)
            parent = folders[first]
        ET.SubElement(parent, "outline", _outline_attrs(feed))
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _outline_attrs(feed: OpmlFeed) -> dict[str, str]:
    attrs = {"type": "rss", "text": feed.title, "title": feed.title, "xmlUrl": feed.xml_url}
    if feed.html_url:
        attrs["htmlUrl"] = feed.html_url
    if feed.tags:
        attrs["category"] = ",".join(feed.tags)
    return {k: _xml_safe(v) for k, v in attrs.items()}


def _comment_safe(text: str) -> str:
    """``text`` fit for an XML comment, which may not hold ``--``."""
    text = _xml_safe(text)
    while "--" in text:
        text = text.replace("--", "-")
    return text


def _xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry at all."""
    return _NOT_XML.sub("", text)


# -- TOML -------------------------------------------------------------------------------

_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
                 "\f": "\\f", "\r": "\\r"}


def to_toml(feeds: Sequence[OpmlFeed], taken: Collection[str] = ()) -> str:
    """``[[feeds]]`` tables for ``feeds``, ready to append to a config file.

    Names are the feeds' titles, made unique against each other and against ``taken``
    (names already in the config) with a `` (2)``, `` (3)`` ... suffix.
    """
    used = set(taken)
    blocks = []
    for feed in feeds:
        name = _unique_name(one_line(feed.title) or feed.xml_url, used)
        used.add(name)
        lines = ["[[feeds]]", f"name = {toml_string(name)}", f"url = {toml_string(feed.xml_url)}"]
        if feed.kind != "feed":
            lines.append(f"kind = {toml_string(feed.kind)}")
        if feed.tags:
            lines.append(f"tags = [{', '.join(toml_string(t) for t in feed.tags)}]")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string, every character TOML forbids raw escaped."""
    return '"' + "".join(_toml_char(c) for c in text) + '"'


def _toml_char(c: str) -> str:
    if c in _TOML_ESCAPES:
        return _TOML_ESCAPES[c]
    return f"\\u{ord(c):04X}" if ord(c) < 0x20 or ord(c) == 0x7F else c


def _unique_name(name: str, used: Collection[str]) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name} ({n})"
    return candidate
