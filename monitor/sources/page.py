"""The ``page`` source kind: the article links of an HTML listing page.

By default an entry is a link to the same site (subdomains too) whose path looks like an
article's (``looks_like_article``) and whose text has at least ``MIN_TEXT`` characters,
outside the page's boilerplate: ``nav``, ``header`` (but an article card's own), ``footer``,
``aside``, forms, ARIA navigation/banner/contentinfo/complementary regions, and boxes whose
class or id (``most-read``, ``trending``, ``related``, ``sidebar`` …) or first heading
("Most read", "Trending" …) says what they are. ``links`` (a CSS selector of the links, or
of elements holding them) and ``url_pattern`` (an RE2 regex searched in the absolute URL)
choose instead: either drops the path and text tests and the same-site rule; ``links``
also the boilerplate test. An entry's key and link are the absolute URL without its
fragment, its title the longest text of the links to it, its date the ``<time datetime>``
of its card (the nearest ``article`` or ``li`` around it), when there is one.

Pure: bytes in, data out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.etree  # type: ignore[import-untyped]
import lxml.html  # type: ignore[import-untyped]
import re2  # type: ignore[import-untyped]

from monitor.config import SourceOptions
from monitor.errors import ParseError
from monitor.models import Entry
from monitor.sources.base import NO_OPTIONS, ParsedFeed
from monitor.sources.dates import parse_date
from monitor.sources.text import one_line

MIN_TEXT = 20  # characters of link text, by default
MAX_URL_CHARS = 2_048
_BOILERPLATE_TAGS = frozenset({"nav", "footer", "aside", "form", "menu", "dialog"})
_BOILERPLATE_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary",
                                "search", "menu", "menubar", "dialog"})
_BOX = re.compile(r"most[-_ ]?(?:read|popular|viewed|shared|commented|watched)|popular|"
                  r"trending|related|recommend|sidebar|breadcrumb|(?<![a-z])(?:nav|navbar|"
                  r"menu|footer|masthead|social|share|newsletter|ticker)(?![a-z])|"
                  r"advert|sponsor|outbrain|taboola|cookie")
_BOX_HEADING = re.compile(r"^(?:most (?:read|popular|viewed|shared|commented|watched)|"
                          r"trending|popular|recommended|related|don.t miss|editor.s picks|"
                          r"more from|you may also like|read next|top stories elsewhere)",
                          re.IGNORECASE)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_NOT_ARTICLES = frozenset({"tag", "tags", "topic", "topics", "category", "categories",
                           "author", "authors", "section", "sections", "page", "search",
                           "login", "signin", "register", "subscribe", "account", "about",
                           "contact", "privacy", "terms", "newsletters", "feed", "rss"})
_ARTICLE_DIRS = frozenset({"article", "articles", "story", "stories", "news", "post", "posts",
                           "press-release", "press-releases", "pressemitteilungen", "blog",
                           "releases", "p"})
_DATE = re.compile(r"/(?:19|20)\d{2}(?:/(?:0?[1-9]|1[0-2])(?:/|$)|-\d{2}-\d{2}|\d{4}(?:/|$))")
_ID = re.compile(r"\d{5,}")
_WORDS = re.compile(r"[-_]+")
_EXTENSION = re.compile(r"\.(?:s?html?|php|aspx?)$")
_META_CHARSET = re.compile(rb"<meta[^>]+charset", re.IGNORECASE)


def parse_page(content: bytes, url: str, *, content_type: str = "", max_items: int = 500,
               now: datetime | None = None, options: SourceOptions = NO_OPTIONS) -> ParsedFeed:
    """The article links of the HTML page ``content`` fetched from ``url``."""
    now = now or datetime.now(UTC)
    root = _document(content, content_type)
    base = urljoin(_home(root, url), next((b for b in root.xpath("//base/@href") if b.strip()),
                                          ""))
    chosen = _chosen(root, options)
    home = _site(urlsplit(base).hostname or "")
    pattern = re2.compile(options.url_pattern) if options.url_pattern else None
    found: dict[str, tuple[str, datetime | None]] = {}
    for link in chosen:
        target = _absolute(base, link.get("href", ""))
        if not target or (pattern is not None and not pattern.search(target)):
            continue
        title = _link_text(link)
        if not (options.links or options.url_pattern) and not (
                len(title) >= MIN_TEXT and _site(urlsplit(target).hostname or "") == home
                and looks_like_article(urlsplit(target).path)):
            continue
        known = found.get(target)
        if known is None or len(title) > len(known[0]):
            found[target] = (title, (known and known[1]) or _card_date(link, now))
    entries = tuple(Entry(key=u, url=u, title=t, published=d)
                    for u, (t, d) in list(found.items())[:max_items])
    warning = None if entries else ("no article links found on the page (set links or "
                                    "url_pattern to choose them)")
    title = one_line(" ".join(root.xpath("//title//text()")))[:500]
    return ParsedFeed(title=title, link=url, entries=entries, warning=warning)


def looks_like_article(path: str) -> bool:
    """Whether a URL path looks like an article's: a date, a numeric id of 5+ digits, or a
    long slug (3+ words, 16+ characters; 2+ words under an article folder or as a page)."""
    parts = [p for p in path.lower().split("/") if p]
    if not parts or parts[0] in _NOT_ARTICLES:
        return False
    if _DATE.search(path) or any(_ID.search(p) for p in parts):
        return True
    last = parts[-1]
    words = [w for w in _WORDS.split(_EXTENSION.sub("", last)) if w]
    if len(words) >= 3 and len(last) >= 16:
        return True
    return len(words) >= 2 and (bool(_EXTENSION.search(last)) or (
        len(parts) > 1 and parts[-2] in _ARTICLE_DIRS))


def same_site(url: str, base: str) -> bool:
    """Whether ``url`` is on ``base``'s site: the same host, or one of its subdomains."""
    host, home = urlsplit(url).hostname or "", urlsplit(base).hostname or ""
    return bool(host) and _site(host) == _site(home)


def _site(host: str) -> str:
    labels = host.removeprefix("www.").split(".")
    keep = 3 if len(labels) >= 3 and len(labels[-1]) <= 3 and len(labels[-2]) <= 3 else 2
    return ".".join(labels[-keep:])


def _document(content: bytes, content_type: str) -> lxml.html.HtmlElement:
    if not content.strip():
        raise ParseError("not a page: empty document")
    charset = None
    if not _META_CHARSET.search(content[:4096]):
        declared = re.search(r"charset=([\w-]+)", content_type)
        charset = declared[1] if declared else "utf-8" if _is_utf8(content) else None
    try:
        return lxml.html.document_fromstring(content, parser=lxml.html.HTMLParser(
            encoding=charset, remove_comments=True, no_network=True))
    except (lxml.etree.ParserError, ValueError, LookupError) as e:
        raise ParseError(f"not a page: {e}") from e


def _home(root: lxml.html.HtmlElement, url: str) -> str:
    """``url``, or for a page read from a file its canonical URL, so its links resolve."""
    if url.startswith(("http://", "https://")):
        return url
    found = root.xpath("//link[@rel='canonical']/@href | //meta[@property='og:url']/@content")
    return next((str(f).strip() for f in found if str(f).startswith(("http://", "https://"))),
                url)


def _is_utf8(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _chosen(root: lxml.html.HtmlElement, options: SourceOptions) -> Iterable[
        lxml.html.HtmlElement]:
    if options.links:
        return _links_in(root.cssselect(options.links))
    verdicts: dict[lxml.html.HtmlElement, bool] = {}
    return (a for a in root.iter("a") if not _in_boilerplate(a, verdicts))


def _links_in(elements: Iterable[lxml.html.HtmlElement]) -> Iterator[lxml.html.HtmlElement]:
    for element in elements:
        if element.tag == "a":
            yield element
        else:
            yield from element.iter("a")


def _in_boilerplate(link: lxml.html.HtmlElement,
                    verdicts: dict[lxml.html.HtmlElement, bool]) -> bool:
    """Whether ``link`` sits in the page's boilerplate; ``verdicts`` caches each ancestor's
    own verdict (the elements are kept alive by it, so lxml hands back the same ones)."""
    in_article = False
    for node in link.iterancestors():
        if node.tag in ("body", "html"):
            return False
        if node.tag == "article":
            in_article = True
        if node.tag == "header" and not in_article and not any(
                a.tag == "article" for a in node.iterancestors()):
            return True
        if node not in verdicts:
            verdicts[node] = _is_boilerplate(node)
        if verdicts[node]:
            return True
    return False


def _is_boilerplate(node: lxml.html.HtmlElement) -> bool:
    """Whether ``node`` itself is boilerplate, whatever is around it (``header`` aside)."""
    if node.tag in _BOILERPLATE_TAGS or (node.get("role") or "").lower() in _BOILERPLATE_ROLES:
        return True
    names = f"{node.get('class') or ''} {node.get('id') or ''}".lower()
    return bool(names.strip() and _BOX.search(names)) or _box_heading(node)


def _box_heading(node: lxml.html.HtmlElement) -> bool:
    for child in node[:3]:
        if isinstance(child.tag, str) and child.tag in _HEADINGS:
            return bool(_BOX_HEADING.match(one_line(child.text_content())))
    return False


def _absolute(base: str, href: str) -> str:
    target = urldefrag(urljoin(base, href.strip()))[0]
    ok = target.startswith(("http://", "https://")) and len(target) <= MAX_URL_CHARS
    return target if ok else ""


def _link_text(link: lxml.html.HtmlElement) -> str:
    text = one_line(link.text_content())
    if not text:
        text = one_line(link.get("title") or " ".join(link.xpath(".//img/@alt")))
    return text[:1000]


def _card_date(link: lxml.html.HtmlElement, now: datetime) -> datetime | None:
    card = next((a for a in link.iterancestors() if a.tag in ("article", "li")), None)
    if card is None:
        return None
    stamp = next(iter(card.xpath(".//time/@datetime")), None)
    published = parse_date(stamp) if stamp else None
    return min(published, now) if published else None
