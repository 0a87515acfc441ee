"""A fast reader for the common shapes of RSS 2.0 and Atom 1.0, giving feedparser's results.

Pure: bytes in, feedparser-shaped dictionaries out (the keys ``monitor.sources.feed`` reads),
or None when the document is not one this reader is sure about, and feedparser must read it.

It accepts a document only when every decision feedparser would make on it is one this
reader makes the same way, decided cheaply and up front:

- the bytes are UTF-8 (or ASCII) and declared so, or not declared at all; no DOCTYPE (no
  entities of its own), no ``xml:base`` or ``base`` attribute (no relative-URI resolution);
- lxml parses it strictly (well-formed XML: feedparser's strict parser also succeeds, and
  reports no bozo warning);
- the root is ``<rss version="2.0">`` or an Atom 1.0 ``<feed>``, and every child of the
  channel, feed, item and entry is an element in an allow-list of names whose meaning to
  feedparser is known (others, e.g. ``media:title``, which feedparser reads as a title);
- each field is written at most once per item, and no text field has child elements (an
  Atom ``type="xhtml"`` text, HTML markup unescaped in an RSS element).

Values then go through feedparser's own per-value steps, taken from it (its URI fix-up, its
date parser, its Windows-1252 and double-UTF-8 repairs), so they come out the same.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import lxml.etree  # type: ignore[import-untyped]
from feedparser.datetimes import _parse_date  # type: ignore[import-untyped]
from feedparser.html import _cp1252  # type: ignore[import-untyped]
from feedparser.urls import _urljoin  # type: ignore[import-untyped]

from monitor.sources.feedtrim import MAX_AUTHOR_CHARS

log = logging.getLogger(__name__)
ATOM = "{http://www.w3.org/2005/Atom}"
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_SY = "{http://purl.org/rss/1.0/modules/syndication/}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_DECLARED = re.compile(rb"<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']")
_LINK_REF = re.compile("&([A-Za-z0-9_]+);")
_PARSER = lxml.etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True,
                               remove_pis=True, huge_tree=False)

# Element -> the field it sets (feedparser's handler for it). "" : feedparser keeps nothing
# of it that monitor reads, and it must be a leaf (no child elements) or listed in _NESTED.
_RSS_ITEM = {
    "title": "title", "link": "link", "description": "summary", "guid": "id",
    "pubDate": "published", "author": "author", "source": "source",
    _CONTENT + "encoded": "content", _DC + "creator": "author", _DC + "date": "updated",
    ATOM + "link": "link", "category": "", "comments": "", "enclosure": "",
    "{http://wellformedweb.org/CommentAPI/}commentRss": "",
    "{http://purl.org/rss/1.0/modules/slash/}comments": "",
    "{com-wordpress:feed-additions:1}post-id": "",
    "{http://search.yahoo.com/mrss/}thumbnail": "",
}
_ATOM_ENTRY = {
    ATOM + "title": "title", ATOM + "link": "link", ATOM + "id": "id",
    ATOM + "summary": "summary", ATOM + "content": "content", ATOM + "author": "author",
    ATOM + "published": "published", ATOM + "updated": "updated", ATOM + "category": "",
    ATOM + "contributor": "", ATOM + "rights": "",
}
_RSS_CHANNEL = {
    "title": "title", "link": "link", "language": "language", "ttl": "ttl",
    _SY + "updatePeriod": "sy_updateperiod", _SY + "updateFrequency": "sy_updatefrequency",
    ATOM + "link": "link", "description": "", "copyright": "", "managingEditor": "",
    "webMaster": "", "pubDate": "", "lastBuildDate": "", "category": "", "generator": "",
    "docs": "", "cloud": "", "image": "", "skipHours": "", "skipDays": "", "rating": "",
    _SY + "updateBase": "",
}
_ATOM_FEED = {
    ATOM + "title": "title", ATOM + "link": "link", ATOM + "author": "author",
    ATOM + "id": "", ATOM + "updated": "", ATOM + "subtitle": "", ATOM + "rights": "",
    ATOM + "generator": "", ATOM + "icon": "", ATOM + "logo": "", ATOM + "category": "",
    ATOM + "contributor": "",
}
# Author-like elements: feedtrim caps their text before feedparser reads it when longer than
# MAX_AUTHOR_CHARS, so a document with a longer one goes the feedparser way.
_AUTHORISH = frozenset({"author", _DC + "creator", "managingEditor", "webMaster", ATOM + "author",
                        ATOM + "contributor"})
_AUTHOR_NAMES = frozenset({"author", "creator", "publisher", "contributor", "managingeditor",
                           "webmaster", "name", "email", "owner"})
# Elements with children of their own, and the children each may have (leaves).
_NESTED = {ATOM + "author": frozenset({ATOM + "name", ATOM + "email", ATOM + "uri"}),
           ATOM + "contributor": frozenset({ATOM + "name", ATOM + "email", ATOM + "uri"}),
           "image": frozenset({"url", "title", "link", "width", "height", "description"}),
           "skipHours": frozenset({"hour"}), "skipDays": frozenset({"day"})}
_TEXT_TYPES = frozenset({"", "text", "html", "text/plain", "text/html"})
_HTML_LINK_TYPES = frozenset({"text/html", "html", "application/xhtml+xml", "xhtml"})


def read_fast(content: bytes, charset: str | None, content_type: str = "",
              max_items: int | None = None) -> dict[str, Any] | None:
    """feedparser's ``feed``, ``entries`` and ``version`` for ``content``, or None if unsure.

    ``charset`` is what ``feed_charset`` decided (None: ASCII); ``content_type`` the HTTP one.
    None too when it has more than ``max_items`` items or entries: feedtrim cuts them first.
    """
    if not _accepts_bytes(content, charset, content_type):
        return None
    try:
        root = lxml.etree.fromstring(content, _PARSER)
        if max_items is not None and sum(1 for _ in root.iter("{*}item", "{*}entry")) > max_items:
            return None  # every element of an accepted document is named: these are its items
        if root.tag == "rss" and root.get("version") == "2.0" and len(root) == 1:
            return _rss(root)
        if root.tag == ATOM + "feed":
            return _atom(root)
    except (lxml.etree.XMLSyntaxError, ValueError):  # ValueError: _unsure
        return None
    except Exception as e:  # a bug here must not cost the feed: feedparser reads it instead
        log.warning("event=feedfast_failed error=%s", type(e).__name__)
        return None
    return None


def _unsure(what: str) -> ValueError:
    """The error for something this reader does not decide as feedparser would."""
    return ValueError(f"feedfast: unsure about {what}")


def _accepts_bytes(content: bytes, charset: str | None, content_type: str) -> bool:
    head = content[:512]
    declared = _DECLARED.match(head)
    if declared and declared[1].lower() not in (b"utf-8", b"utf8"):
        return False
    if charset is None:  # ASCII: feedparser takes the HTTP type's default charset
        media = content_type.split(";")[0].strip().lower()
        if media.startswith("text/") or "charset" in content_type.lower():
            return False
    elif charset != "utf-8":
        return False
    return b"<!DOCTYPE" not in head and b"<!doctype" not in head and b"base=" not in content


def _fix(text: str) -> str:
    """feedparser's last steps on each text value of a UTF-8 document."""
    if not text.isascii():
        try:
            text = text.encode("iso-8859-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
        text = text.translate(_cp1252)
    return text


def _text(el: Any) -> str:
    """The element's text, stripped; ValueError when it has child elements."""
    if len(el):
        raise _unsure(el.tag)
    return (el.text or "").strip()


def _lang(el: Any, inherited: str | None) -> str | None:
    """feedparser's language for ``el``: its ``xml:lang`` (or ``lang``), else its parent's."""
    lang = el.get(_XML_LANG, el.get("lang"))
    if lang is None:
        return inherited
    return lang or None


def _fields(parent: Any, allowed: dict[str, str]) -> list[tuple[str, Any]]:
    """(field, element) for each child, ValueError on an unknown or repeated field."""
    out, seen = [], set()
    for el in parent:
        field = allowed.get(el.tag)
        if field is None:
            raise _unsure(str(el.tag))
        if el.tag in _AUTHORISH or el.tag in _NESTED:
            _short_authors(el)
        if field:
            if field in seen and field != "link":
                raise _unsure(field)
            seen.add(field)
            out.append((field, el))
        elif len(el) and el.tag not in _NESTED:
            raise _unsure(str(el.tag))
    return out


def _short_authors(el: Any) -> None:
    """ValueError when ``el`` or an author-like element in it has more text than feedtrim
    allows, or when it has children other than the leaves _NESTED lists."""
    children = _NESTED.get(el.tag, frozenset())
    if any(child.tag not in children or len(child) for child in el):
        raise _unsure(f"children of {el.tag}")
    for node in el.iter():
        local = node.tag.rpartition("}")[2].lower() if isinstance(node.tag, str) else ""
        if local in _AUTHOR_NAMES and len("".join(node.itertext())) > MAX_AUTHOR_CHARS:
            raise _unsure("long author")


def _detail(value: str, lang: str | None) -> dict[str, Any]:
    return {"value": value, "language": lang.replace("_", "-") if lang else lang}


def _rss(root: Any) -> dict[str, Any]:
    channel = root[0]
    if channel.tag != "channel":
        raise _unsure("channel")
    root_lang = _lang(root, None)
    lang = _lang(channel, root_lang)
    feed: dict[str, Any] = {"language": root_lang.replace("_", "-")} if root_lang else {}
    entries = []
    for el in channel:
        if el.tag == "item":
            entries.append(_rss_item(el, _lang(el, lang)))
            continue
        for field, child in _fields_one(el, _RSS_CHANNEL):
            if field == "link":
                _feed_link(feed, child)
            else:
                feed[field] = _fix(_text(child))
    return {"feed": feed, "entries": entries, "version": "rss20"}


def _fields_one(el: Any, allowed: dict[str, str]) -> list[tuple[str, Any]]:
    field = allowed.get(el.tag)
    if field is None or (not field and len(el) and el.tag not in _NESTED):
        raise _unsure(str(el.tag))
    if el.tag in _AUTHORISH or el.tag in _NESTED:
        _short_authors(el)
    return [(field, el)] if field else []


def _feed_link(feed: dict[str, Any], el: Any) -> None:
    if el.get("href") is not None:
        if _alternate(el):
            feed["link"] = _urljoin("", el.get("href"))
    elif el.tag == "link":
        feed["link"] = _LINK_REF.sub(r"&\g<1>", _fix(_urljoin("", _text(el))))
    else:
        raise _unsure("link")


def _alternate(el: Any) -> bool:
    rel = (el.get("rel") or "alternate").lower()
    return rel == "alternate" and (el.get("type") or "text/html").lower() in _HTML_LINK_TYPES


def _rss_item(item: Any, lang: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    authors = 0
    for field, el in _fields(item, _RSS_ITEM):
        el_lang = _lang(el, lang)
        if field == "link":
            _item_link(entry, el)
        elif field == "id":
            permalink = el.get("isPermaLink", "true") == "true"
            value = _text(el)
            value = _fix(_urljoin("", value) if permalink else value)
            entry["id"] = value
            if permalink:
                entry.setdefault("link", value)
        elif field in ("published", "updated"):
            entry[field + "_parsed"] = _parse_date(_fix(_text(el)))
        elif field == "author":
            authors += 1
            if authors > 1:
                raise _unsure("authors")
            entry["author"] = _fix(_text(el))
        elif field == "source":
            title = _fix(_text(el))
            entry["source"] = {"title": title} if title else {}
        elif field == "content":
            entry["content"] = [_detail(_fix(_text(el)), el_lang)]
        else:  # title, summary
            entry[field] = _fix(_text(el))
            entry[field + "_detail"] = _detail(entry[field], el_lang)
    return entry


def _item_link(entry: dict[str, Any], el: Any) -> None:
    """The link an element gives, and its href among the item's ``links`` (feedparser lists
    every link element there; a link taken from the id is not among them)."""
    if el.get("href") is not None:
        href = _urljoin("", el.get("href"))
        entry.setdefault("links", []).append({"href": href})
        if _alternate(el):
            entry["link"] = href
    elif el.tag == "link":
        value = _fix(_urljoin("", _text(el))).replace("&amp;", "&")
        entry["link"] = _LINK_REF.sub(r"&\g<1>", value)
        entry.setdefault("links", []).append({"href": entry["link"]})
    else:
        raise _unsure("link")


def _atom(root: Any) -> dict[str, Any]:
    lang = _lang(root, None)
    feed: dict[str, Any] = {"language": lang.replace("_", "-")} if lang else {}
    entries = []
    for el in root:
        if el.tag == ATOM + "entry":
            entries.append(_atom_entry(el, _lang(el, lang)))
            continue
        for field, child in _fields_one(el, _ATOM_FEED):
            if field == "link":
                _feed_link(feed, child)
            elif field == "author":
                if "author" in feed:
                    raise _unsure("authors")
                feed["author"] = _atom_author(child)
            else:
                feed[field] = _fix(_atom_text(child))
    return {"feed": feed, "entries": entries, "version": "atom10"}


def _atom_text(el: Any) -> str:
    if (el.get("type") or "").lower() not in _TEXT_TYPES or el.get("mode") or el.get("src"):
        raise _unsure("atom text type")
    return _text(el)


def _atom_author(el: Any) -> str:
    if (el.text or "").strip():
        raise _unsure("author text")
    parts: dict[str, str] = {}
    for child in el:
        local = child.tag[len(ATOM):] if child.tag.startswith(ATOM) else ""
        if local not in ("name", "email", "uri") or local in parts:
            raise _unsure("author part")
        parts[local] = _text(child)
        if (child.tail or "").strip():
            raise _unsure("author text")
    name, email = parts.get("name"), parts.get("email")
    return f"{name} ({email})" if name and email else name or email or ""


def _atom_entry(entry_el: Any, lang: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for field, el in _fields(entry_el, _ATOM_ENTRY):
        el_lang = _lang(el, lang)
        if field == "link":
            if el.get("href") is None:
                raise _unsure("link")
            _item_link(entry, el)
        elif field == "id":
            entry["id"] = value = _fix(_urljoin("", _text(el)))
            entry.setdefault("link", value)
        elif field in ("published", "updated"):
            entry[field + "_parsed"] = _parse_date(_fix(_text(el)))
        elif field == "author":
            entry["author"] = _atom_author(el)
        elif field == "content":
            entry["content"] = [_detail(_fix(_atom_text(el)), el_lang)]
        else:  # title, summary
            entry[field] = _fix(_atom_text(el))
            entry[field + "_detail"] = _detail(entry[field], el_lang)
    return entry
