"""The fast feed reader (monitor/sources/feedfast.py) gives feedparser's entries, or declines.

For every feed file in tests/data and for generated RSS 2.0 and Atom documents (CDATA,
entities, odd dates, languages, guids and ids that are or are not links, URLs or not),
``parse_feed`` with the fast path gives the same ParsedFeed as with feedparser alone; and
the fast path does accept the common shapes (else the comparison would prove nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.models import Entry
from monitor.sources.feed import parse_feed
from monitor.sources.feedencoding import feed_charset
from monitor.sources.feedfast import read_fast

DATA = Path(__file__).parent / "data"
NOW = datetime(2031, 1, 1, tzinfo=UTC)
URL = "https://news.example/feed"
FEEDS = sorted(p for p in (DATA / "feeds").rglob("*")
               if p.is_file() and not p.name.endswith((".expected.json", ".md")))


def both(content: bytes, content_type: str = "", max_items: int = 500) -> tuple[object, object]:
    """parse_feed's result (or its error) with the fast path and with feedparser alone."""
    results = []
    for fast in (True, False):
        try:
            results.append(parse_feed(content, URL, content_type=content_type, now=NOW,
                                      fast=fast, max_items=max_items))
        except ParseError as e:
            results.append(str(e))
    return results[0], results[1]


def accepted(content: bytes, content_type: str = "") -> bool:
    body = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    charset = feed_charset(body, content_type)
    header = f"application/xml; charset={charset}" if charset else content_type or "application/xml"
    return read_fast(body, charset, header) is not None


@pytest.mark.parametrize("path", FEEDS, ids=lambda p: p.name)
@pytest.mark.parametrize("content_type", ["", "application/rss+xml; charset=utf-8"])
def test_corpus_feeds_parse_the_same_either_way(path: Path, content_type: str) -> None:
    fast, slow = both(path.read_bytes(), content_type)
    assert fast == slow


def test_the_fast_path_accepts_the_common_shapes_and_declines_the_odd_ones() -> None:
    names = {p.name for p in FEEDS if accepted(p.read_bytes())}
    assert {"rss20.xml", "wordpress-cdata.xml", "urdu-utf8.xml"} <= names
    assert not names & {"rss091.xml", "rss10.rdf", "koi8r-russian.xml", "bozo.xml",
                        "atom-xhtml-relative.xml", "gb2312-chinese.xml", "utf16-bom.xml"}


def test_a_wordpress_feed_gives_entries_through_the_fast_path() -> None:
    content = (DATA / "feeds" / "corpus" / "wordpress-cdata.xml").read_bytes()
    parsed = parse_feed(content, URL, now=NOW)
    assert parsed.entries and all(isinstance(e, Entry) and e.title for e in parsed.entries)


# Generated documents: text as XML writes it (entities, character references, CDATA).
_PIECES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=6) \
    | st.sampled_from(["&", "<", ">", "é", "\u2019", "\x85", "\x93", "Ã©", " ", "\n", "<b>",
                       "</p>", "]]", "&amp;", "&#38;", "long " * 60])
_TEXT = st.lists(_PIECES, max_size=8).map("".join)
_DATES = st.sampled_from([
    "Mon, 02 Jun 2025 10:00:00 +0000", "Tue, 3 Jun 2025 10:00:00 GMT", "2025-06-03T10:00:00Z",
    "2025-06-03", "03 Jun 2025 25:61:00 EST", "not a date", "", "Sun, 31 Feb 2025 10:00:00 +0200",
    "2025-06-03T10:00:00.123+05:30", "Thu, 01 Jan 1970 00:00:00 -1200", "2099-01-01T00:00:00Z"])


def _xml_text(text: str, how: str) -> str:
    if how == "cdata" and "]]>" not in text:
        return f"<![CDATA[{text}]]>"
    if how == "refs":
        return "".join(f"&#{ord(c)};" if not c.isalnum() else c for c in text)
    return escape(text)


_HOW = st.sampled_from(["plain", "cdata", "refs"])


@st.composite
def rss_items(draw: st.DrawFn) -> str:
    parts = []
    order = draw(st.permutations(["title", "link", "guid", "description", "content",
                                  "pubDate", "author", "dc"]))
    keep = draw(st.sets(st.sampled_from(order)))
    for name in (n for n in order if n in keep):
        text = _xml_text(draw(_TEXT), draw(_HOW))
        if name == "link":
            link = draw(st.sampled_from(["https://news.example/a?x=1&amp;y=", "/news/"]))
            parts.append(f"<link>{link}{draw(st.integers(0, 9))}</link>")
        elif name == "guid":
            attr = draw(st.sampled_from(["", ' isPermaLink="false"', ' isPermaLink="true"']))
            value = draw(st.sampled_from(["https://news.example/p/1", "tag:1", "42", "/news/4",
                                          "HTTP://news.example/p/2", text]))
            parts.append(f"<guid{attr}>{value}</guid>")
        elif name == "pubDate":
            parts.append(f"<pubDate>{draw(_DATES)}</pubDate>")
        elif name == "dc":
            parts.append(f"<dc:date>{draw(_DATES)}</dc:date>")
        elif name == "content":
            parts.append(f"<content:encoded>{text}</content:encoded>")
        else:
            lang = draw(st.sampled_from(["", ' xml:lang="fr"', ' xml:lang=""']))
            parts.append(f"<{name}{lang}>{text}</{name}>")
    return "<item>" + "".join(parts) + "</item>"


@st.composite
def rss_documents(draw: st.DrawFn) -> bytes:
    language = draw(st.sampled_from(["", "<language>en_US</language>", "<language>de</language>"]))
    items = "".join(draw(st.lists(rss_items(), min_size=1, max_size=4)))
    title = _xml_text(draw(_TEXT), draw(_HOW))
    decl = draw(st.sampled_from(['<?xml version="1.0" encoding="UTF-8"?>', "",
                                 '<?xml version="1.0"?>']))
    return (f'{decl}<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            f'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>{title}</title>'
            f"<link>https://news.example/</link>{language}<ttl>30</ttl>{items}</channel></rss>"
            ).encode()


@st.composite
def atom_documents(draw: st.DrawFn) -> bytes:
    entries = []
    for _ in range(draw(st.integers(1, 3))):
        parts = []
        for name in draw(st.permutations(["title", "id", "link", "summary", "content",
                                          "updated", "published", "author"])):
            if not draw(st.booleans()):
                continue
            text = _xml_text(draw(_TEXT), draw(_HOW))
            kind = draw(st.sampled_from(["", ' type="html"', ' type="text"']))
            if name == "link":
                rel = draw(st.sampled_from(["", ' rel="alternate"', ' rel="self"']))
                href = draw(st.sampled_from(["https://news.example/e?a=1&amp;b=2", "urn:x:1"]))
                parts.append(f'<link{rel} href="{href}"/>')
            elif name in ("updated", "published"):
                parts.append(f"<{name}>{draw(_DATES)}</{name}>")
            elif name == "id":
                ids = ["urn:x:1", "https://n.example/1", "42", "tag:n.example,2026:1"]
                parts.append(f"<id>{draw(st.sampled_from(ids))}</id>")
            elif name == "author":
                email = draw(st.sampled_from(["", "<email>a@b.example</email>"]))
                parts.append(f"<author><name>{text}</name>{email}</author>")
            else:
                parts.append(f"<{name}{kind}>{text}</{name}>")
        entries.append("<entry>" + "".join(parts) + "</entry>")
    lang = draw(st.sampled_from(["", ' xml:lang="en"', ' xml:lang="pt_BR"']))
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"'
            f'{lang}><title>T</title><author><name>Desk</name></author>'
            f'<link href="https://news.example/"/>{"".join(entries)}</feed>').encode()


# U+FFFE and U+FFFF are not XML characters: a document holding one is left to feedparser
_NOT_XML = ("\ufffe".encode(), "\uffff".encode())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rss_documents(), st.integers(1, 5))
@example(b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>'
         + "\ufffe".encode() + b'</title><link>https://news.example/</link><item><title>a'
         b'</title><link>https://news.example/a</link></item></channel></rss>', 1)
def test_generated_rss_parses_the_same_either_way(document: bytes, max_items: int) -> None:
    """Long authors and more items than kept: feedtrim's cuts, then either reader."""
    fast, slow = both(document, max_items=max_items)
    assert fast == slow
    if b"long" not in document and not any(c in document for c in _NOT_XML):
        assert accepted(document)  # each generated shape is one the fast path reads


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(atom_documents())
def test_generated_atom_parses_the_same_either_way(document: bytes) -> None:
    fast, slow = both(document)
    assert fast == slow
    if b"long" not in document:
        assert accepted(document)  # each generated shape is one the fast path reads


# Summary text: html_to_text marks blocks in libxslt (or, past libxslt's limits, in the tree
# from Python) and joins the text in C; the element-by-element walk (kept for markup holding
# the marks' private-use characters) is the reference both must equal.
_HTML_BITS = st.sampled_from([
    "<p>", "</p>", "<br>", "<br/>", "<div>", "</div>", "<script>x<p>y</script>",
    "<style>a{}</style>",
    "<!-- c -->", "<?pi x?>", "&amp;", "&nbsp;", "\u2028", "\x85", " \n ", "\t", "word", "<b>",
    "</b>", "<li>", "<ul>", "<h1>", "</h1>", "<table><tr><td>c</td></tr></table>", "\r\n",
    "<noscript>n</noscript>", "<head><title>t</title></head>", "<html><body>", "</body></html>",
    "&#10;", "<pre>  a\n b</pre>", "<img src=x>", "<template>t</template>", "<![CDATA[x]]>",
    "<a href=x>l</a>", "\u00a0", "<hr>", "<dd>", "<figcaption>f", "\ue000", "\ue001",
    "</body><body>", "<body>", "<frameset>"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_HTML_BITS | _TEXT, min_size=1, max_size=20).map("".join))
@example("</body><body></body></html><figcaption>f")  # a second <html>: drawn in a full run
def test_summary_text_is_the_element_walks_text(markup: str) -> None:
    import lxml.etree

    from monitor.sources import text

    if not text._TAG.search(markup):
        return  # no markup: html_to_text keeps the text's own lines, no walk either way
    try:
        root = text._fragment(markup)
    except (lxml.etree.ParserError, ValueError):
        return  # html_to_text's regex fallback, the same for both
    lxml.etree.strip_tags(root, lxml.etree.Comment, lxml.etree.ProcessingInstruction)
    walked = text._walked_text(root)
    assert text.html_to_text(markup) == walked
    if text._BLOCK_MARK not in markup and text._BR_MARK not in markup:
        marked = text._marked_in_python(text._without_comments(text._fragment(markup)))
        assert text._lines(marked) == walked


def _rss_doc(channel: str, items: str, root: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"{root} '
            'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<channel><title>C</title>{channel}{items}</channel></rss>").encode()


TRICKY = {
    "lang-attributes": _rss_doc("<language>pt_BR</language>",
                                '<item xml:lang="de"><title lang="fr">T</title>'
                                '<description xml:lang="">D</description></item>',
                                ' xml:lang="en_GB"'),
    "guid-then-link": _rss_doc("", "<item><guid>https://a.example/g</guid>"
                                   "<link>https://a.example/l?a=1&amp;amp;b=2</link></item>"),
    "guid-not-link": _rss_doc("", '<item><guid isPermaLink="False">x:1</guid>'
                                  "<title>T</title></item>"),
    "atom-links-in-rss": _rss_doc('<atom:link rel="self" href="https://a.example/feed"/>',
                                  '<item><atom:link href="https://a.example/1" rel="alternate"/>'
                                  "<link>https://a.example/2</link><title>T</title></item>"),
    "source-and-extras": _rss_doc('<managingEditor>ed@a.example (Ed)</managingEditor>'
                                  '<image><url>https://a.example/i.png</url><title>I</title>'
                                  "<link>https://a.example/</link></image>",
                                  '<item><title>T</title><source url="https://p.example/rss">'
                                  ' Publisher &amp; Co </source><category domain="x">c</category>'
                                  '<enclosure url="https://a.example/a.mp3" length="1" '
                                  'type="audio/mpeg"/>'
                                  "<dc:creator>  Ann\n Lee  </dc:creator></item>"),
    "empty-elements": _rss_doc("<ttl/>", "<item><title/><description>  </description>"
                                         "<link></link><guid>https://a.example/3</guid></item>"),
    "number-guid-only": _rss_doc("", "<item><guid>42</guid><title>T</title></item>"
                                     "<item><guid>42</guid><link>https://a.example/42</link>"
                                     "<title>U</title></item><item><guid>43</guid></item>"),
    "relative-link-same-as-guid": _rss_doc("", "<item><link>/n/1</link><guid>/n/1</guid>"
                                               "<title>T</title></item>"),
    "atom-self-link-and-uuid": (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title><entry><title>E</title>'
        b'<id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>'
        b'<link rel="self" href="https://api.a.example/e/1"/></entry>'
        b'<entry><title>E2</title><id>urn:x:2</id><link href="urn:x:2"/></entry></feed>'),
    "long-channel-editor": _rss_doc(f"<webMaster>{'w' * 300}</webMaster>",
                                    "<item><title>T</title></item>"),
    "atom-lang-and-authors": (
        b'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"><title type="html">&lt;b&gt;F'
        b'</title><author><name>Desk</name><email>desk@a.example</email></author>'
        b'<entry xml:lang="fr"><title>E</title><id>https://a.example/e</id>'
        b'<link rel="alternate" type="text/html" href="https://a.example/1"/>'
        b'<link rel="alternate" href="https://a.example/2"/><link rel="enclosure" href="x.mp3"/>'
        b'<content type="html">&lt;p&gt;Body&lt;/p&gt;</content><summary>S</summary></entry>'
        b"<entry><title>E2</title><id>urn:x</id><author><email>a@b.example</email></author>"
        b"</entry></feed>"),
}


@pytest.mark.parametrize("publishers", [False, True])
@pytest.mark.parametrize("name", sorted(TRICKY))
def test_tricky_shapes_parse_the_same_either_way(name: str, publishers: bool) -> None:
    results = [parse_feed(TRICKY[name], URL, now=NOW, fast=fast, publishers=publishers)
               for fast in (True, False)]
    assert results[0] == results[1]
    assert accepted(TRICKY[name]) == (name != "long-channel-editor")


@pytest.mark.parametrize("content_type", [
    "", "application/rss+xml", "text/xml", "text/html", "application/octet-stream",
    "application/xml; charset=us-ascii"])
@pytest.mark.parametrize("document", [
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>C</title><item>'
    b"<title>A&#195;&#169;B &#147;q&#148;</title><link>https://a.example/1</link></item>"
    b"</channel></rss>",
    b'<rss version="2.0"><channel><title>C</title><item><title>A&#195;&#169;B</title>'
    b"<link>https://a.example/1</link></item></channel></rss>"], ids=["declared", "bare"])
def test_ascii_documents_with_references_parse_the_same_under_any_http_type(
        document: bytes, content_type: str) -> None:
    """feedparser repairs double-encoded UTF-8 and maps C1 controls in what references
    spell, in the encoding the HTTP type implies: the fast path does the same or declines."""
    fast, slow = both(document, content_type)
    assert fast == slow
