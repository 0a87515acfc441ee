"""monitor.sources.feed, .text and .discovery: golden feed documents, limits, errors and
feed discovery."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.sources import ParsedFeed
from monitor.sources.discovery import COMMON_FEED_PATHS, discover_feeds
from monitor.sources.feed import parse_feed
from monitor.sources.feedtrim import MAX_AUTHOR_CHARS
from monitor.sources.text import html_to_text

FEEDS = Path(__file__).parent / "data" / "feeds"
CORPUS = FEEDS / "corpus"
NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
GOLDEN = ["rss20.xml", "rss10.rdf", "rss091.xml", "atom.xml", "jsonfeed11.json", "bozo.xml",
          "not-a-feed.html"]


def as_json(feed: ParsedFeed) -> dict[str, Any]:
    return {"title": feed.title, "link": feed.link, "warning": feed.warning,
            "ttl_seconds": feed.ttl_seconds,
            "entries": [{"key": e.key, "url": e.url, "title": e.title, "summary": e.summary,
                         "author": e.author,
                         "published": e.published.isoformat() if e.published else None}
                        for e in feed.entries]}


@pytest.mark.parametrize("name", GOLDEN, ids=GOLDEN)
def test_golden_feed(name: str) -> None:
    expected = json.loads((FEEDS / f"{name.rsplit('.', 1)[0]}.expected.json").read_text())
    content = (FEEDS / name).read_bytes()
    args = {"content_type": expected["content_type"],
            "now": datetime.fromisoformat(expected["now"])}
    if "error" in expected:
        with pytest.raises(ParseError, match=f"^{expected['error']}$"):
            parse_feed(content, expected["url"], **args)
        return
    got = as_json(parse_feed(content, expected["url"], **args))
    assert got == {k: expected[k] for k in got}


def test_published_dates_are_aware_utc() -> None:
    feed = parse_feed((FEEDS / "atom.xml").read_bytes(), "https://welllived.example/blog/atom.xml")
    assert all(e.published is not None and e.published.utcoffset() is not None
               and e.published.tzinfo == UTC for e in feed.entries)


def _rss(items: str, channel: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
            f"<link>https://ex.example/</link>{channel}{items}</channel></rss>").encode()


def _atom(entries: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>A</title><id>urn:a</id>{entries}</feed>").encode()


NOT_FEEDS = [
    (b"", "not a feed: empty document"),
    (b" \r\n\t ", "not a feed: empty document"),
    (b"\xef\xbb\xbf", "not a feed: empty document"),
    (b"<!DOCTYPE html><html><body><p>Hi</p></body></html>", "not a feed: looks like an HTML page"),
    (b"<html><head><title>x</title></head><body>", "not a feed: looks like an HTML page"),
    (b"\x89PNG\r\n\x1a\n\x00\x00garbage", "not a feed: "),
    (b"plain text, not markup", "not a feed: "),
    (b'<?xml version="1.0"?><config><a>1</a></config>', "not a feed: no RSS, Atom or JSON"),
    (b'{"items": [', "not a feed: invalid JSON"),
    (b'{"name": "package.json", "version": "1.0.0"}', "not a feed: JSON without a jsonfeed"),
    (b"[1, 2, 3]", "not a feed: "),
]


@pytest.mark.parametrize(("content", "message"), NOT_FEEDS,
                         ids=["empty", "blank", "bom-only", "html5", "html-head", "png", "text",
                              "xml-not-feed", "json-broken", "json-not-feed", "json-list"])
def test_not_a_feed_raises_parse_error(content: bytes, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_feed(content, "https://ex.example/feed", content_type="")
    assert str(info.value).startswith(message)


def test_json_list_is_not_a_feed_even_with_json_content_type() -> None:
    with pytest.raises(ParseError):
        parse_feed(b"[1, 2, 3]", "https://ex.example/feed", content_type="application/json")


def test_json_feed_1_0_author_object_and_text_content() -> None:
    doc = (b'{"version": "https://jsonfeed.org/version/1", "title": "Old",'
           b' "author": {"name": "Ed"}, "items": [{"id": 7, "url": "a/7",'
           b' "content_text": "One < two\\n\\nThree",'
           b' "date_published": "2026-03-01T10:00:00+01:00", "author": {"name": "Al"}},'
           b' {"id": 8, "title": "T", "url": "https://ex.example/8"}]}')
    feed = parse_feed(doc, "https://ex.example/feeds/json")
    assert [(e.key, e.url, e.summary, e.author, e.published) for e in feed.entries] == [
        ("7", "https://ex.example/feeds/a/7", "One < two\n\nThree", "Al",
         datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),
        ("8", "https://ex.example/8", "", "Ed", None)]


def test_empty_but_valid_channel_is_a_feed_without_entries() -> None:
    feed = parse_feed(_rss(""), "https://ex.example/rss")
    assert (feed.title, feed.entries, feed.warning) == ("T", (), None)


def test_xml_served_as_json_is_read_as_xml() -> None:
    feed = parse_feed(_rss("<item><title>x</title><link>/x</link></item>"),
                      "https://ex.example/rss", content_type="application/json")
    assert [e.url for e in feed.entries] == ["https://ex.example/x"]


ITEM = "<item><title>Item {i}</title><link>https://ex.example/{i}</link></item>"
ENTRY = "<entry><title>Entry {i}</title><id>urn:{i}</id><link href='https://ex.example/{i}'/></entry>"
JSON_ITEM = '{{"id": "{i}", "url": "https://ex.example/{i}", "title": "Item {i}"}}'


def _json(items: str) -> bytes:
    version = "https://jsonfeed.org/version/1.1"
    return f'{{"version": "{version}", "title": "J", "items": [{items}]}}'.encode()


@pytest.mark.parametrize(("make", "template", "count", "max_items", "kept"), [
    (_rss, ITEM, 600, 500, 500),
    (_atom, ENTRY, 600, 500, 500),
    (_json, JSON_ITEM, 600, 500, 500),
    (_rss, ITEM, 10, 3, 3),
    (_rss, ITEM, 3, 500, 3),
], ids=["rss-600", "atom-600", "json-600", "rss-cap-3", "rss-under-cap"])
def test_items_are_capped_keeping_the_first(make: Any, template: str, count: int,
                                            max_items: int, kept: int) -> None:
    sep = "," if make is _json else ""
    doc = make(sep.join(template.format(i=i) for i in range(count)))
    feed = parse_feed(doc, "https://ex.example/feed", max_items=max_items)
    assert feed.warning is None
    assert [e.url for e in feed.entries] == [f"https://ex.example/{i}" for i in range(kept)]


@pytest.mark.parametrize("doc", [
    _rss("".join(ITEM.format(i=i) for i in range(6))),
    ('<a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:title>A</a:title>'
     + "".join(f"<a:entry><a:title>E{i}</a:title><a:id>urn:{i}</a:id>"
               f"<a:link href='https://ex.example/{i}'/></a:entry>" for i in range(6))
     + "</a:feed>").encode(),
    _rss("<item><title>Item 0</title><link>https://ex.example/0</link><description><![CDATA["
         + "<item>x</item>" * 9 + "]]></description></item>"
         + "".join(ITEM.format(i=i) for i in range(1, 6))),
], ids=["rss", "prefixed-atom", "item-tags-in-cdata"])
def test_items_past_the_cap_are_cut_before_feedparser_reads_them(
        doc: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    real, seen = feedparser.parse, []

    def spy(stream: io.BytesIO, **options: Any) -> Any:
        seen.append(real(io.BytesIO(stream.getvalue()), **options))
        return seen[-1]

    monkeypatch.setattr(feedparser, "parse", spy)
    feed = parse_feed(doc, "https://ex.example/feed", max_items=2, fast=False)
    assert [e.url for e in feed.entries] == ["https://ex.example/0", "https://ex.example/1"]
    assert (len(seen[0].entries), seen[0].bozo) == (2, False)


@pytest.mark.parametrize(("author", "expected"), [
    ("x" * 300_000, "x" * MAX_AUTHOR_CHARS),
    ("a" * 200_000 + "@example.org", "a" * MAX_AUTHOR_CHARS),
    ("<![CDATA[" + "b" * 200_000 + "]]>", "b" * MAX_AUTHOR_CHARS),
    ("Jane Roe", "Jane Roe"),
    ("jane@news.example (Jane Roe)", "Jane Roe"),
    ("Jane Roe <jane@news.example>", "Jane Roe"),
], ids=["long", "long-email", "long-cdata", "plain", "rss-email-name", "name-email"])
def test_author_is_capped_before_feedparser_sees_it(author: str, expected: str) -> None:
    tag = "author" if "<" not in author or "CDATA" in author else "dc:creator"
    ns = ' xmlns:dc="http://purl.org/dc/elements/1.1/"' if tag == "dc:creator" else ""
    escaped = author if "CDATA" in author else author.replace("<", "&lt;").replace(">", "&gt;")
    doc = _rss(f"<item{ns}><title>t</title><link>https://ex.example/a</link>"
               f"<{tag}>{escaped}</{tag}></item>")
    feed = parse_feed(doc, "https://ex.example/rss")
    assert (feed.warning, feed.entries[0].author) == (None, expected)


@pytest.mark.parametrize(("body", "summary"), [
    ("w" * 250_000, "w" * 10_000),
    ("é" * 250_000, "é" * 10_000),
    ("a&amp;" * 50_000, "a&" * 5_000),
    ("<![CDATA[" + "<p>" + "c" * 250_000 + "</p>]]>", "c" * 9_997),
], ids=["ascii", "multibyte", "entities", "cdata"])
def test_long_fields_are_cut_to_max_field_chars_after_parsing(body: str, summary: str) -> None:
    doc = _rss(f"<item><title>t</title><link>https://ex.example/a</link>"
               f"<description>{body}</description></item>")
    feed = parse_feed(doc, "https://ex.example/rss", max_field_chars=10_000)
    assert feed.warning is None  # the cap counts characters of the parsed field's markup
    assert feed.entries[0].summary == summary


def feedparser_entries(content: bytes, content_type: str = "application/xml") -> list[Any]:
    """What feedparser alone makes of ``content``, with the settings parse_feed uses."""
    headers = {"content-type": content_type}
    return list(feedparser.parse(io.BytesIO(content), response_headers=headers,
                                 sanitize_html=False, resolve_relative_uris=False).entries)


def one_line(markup: str) -> str:
    return " ".join(html_to_text(markup).split())


def test_wordpress_cdata_feed_keeps_every_item_as_feedparser_reads_it() -> None:
    content = (CORPUS / "wordpress-cdata.xml").read_bytes()
    feed = parse_feed(content, "https://elmwood.example/feed/")
    theirs = feedparser_entries(content)
    assert feed.warning is None and len(theirs) == 8
    assert [(e.key, e.url, e.title, e.author, e.summary) for e in feed.entries] == [
        (t.id, t.link, one_line(t.title), t.author, html_to_text(t.content[0].value))
        for t in theirs]


def test_one_long_cdata_author_among_short_ones_keeps_every_item() -> None:
    authors = ["maria", "j. doe", "x" * 300, "Staff", "k.nguyen"]
    items = "".join(
        f'<item xmlns:dc="http://purl.org/dc/elements/1.1/"><title><![CDATA[Post {i}]]></title>'
        f"<link><![CDATA[https://ex.example/{i}]]></link>"
        f"<dc:creator><![CDATA[{author}]]></dc:creator>"
        f"<description><![CDATA[<p>{'body ' * 80}</p>]]></description></item>"
        for i, author in enumerate(authors))
    feed = parse_feed(_rss(items), "https://ex.example/rss")
    assert feed.warning is None
    assert [(e.title, e.url, e.author, e.summary) for e in feed.entries] == [
        (f"Post {i}", f"https://ex.example/{i}", author[:MAX_AUTHOR_CHARS], ("body " * 80).strip())
        for i, author in enumerate(authors)]


@pytest.mark.parametrize("author", [
    "x<![CDATA[" + "a" * 400_000 + "]]>",
    ("<![CDATA[" + "a" * 100 + "]]>") * 4_000,
    "<x/>" + "a" * 400_000,
    "<x>b</x>" + "a" * 400_000,
    "a<!-- c -->" + "a" * 400_000,
    "&#97;" * 100_000,
], ids=["text-then-cdata", "many-cdata", "after-empty-child", "after-child", "after-comment",
        "references"])
def test_author_split_into_pieces_is_still_capped_before_feedparser(author: str) -> None:
    doc = _rss(f"<item><title>t</title><link>https://ex.example/a</link><author>{author}</author>"
               "</item><item><title>next</title><link>https://ex.example/b</link></item>")
    feed = parse_feed(doc, "https://ex.example/rss")  # uncapped, feedparser takes hours
    assert [e.title for e in feed.entries] == ["t", "next"]
    assert feed.entries[0].author.endswith("a" * 200) and len(feed.entries[0].author) <= 256


_PIECE = st.text(alphabet="ab ]>&<@.ж\n", max_size=400)


def _field(text: str, cdata: bool) -> str:
    return f"<![CDATA[{text}]]>" if cdata and "]]>" not in text else html.escape(text, quote=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_PIECE, _PIECE, st.booleans()), min_size=1, max_size=6))
def test_feeds_with_cdata_keep_feedparsers_entries(items: list[tuple[str, str, bool]]) -> None:
    body = "".join(
        f'<item xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<title>{_field(f'T{i} ' + title, cdata)}</title><link>https://ex.example/{i}</link>"
        f"<dc:creator>{_field(author, cdata)}</dc:creator>"
        f"<description>{_field(title * 3, cdata)}</description></item>"
        for i, (title, author, cdata) in enumerate(items))
    doc = _rss(body)
    feed = parse_feed(doc, "https://ex.example/rss")
    theirs = feedparser_entries(doc)
    assert feed.warning is None
    assert [(e.url, e.title) for e in feed.entries] == [(t.link, one_line(t.title)) for t in theirs]


CYRILLIC_TITLE = "Правительство утвердило план развития Северного морского пути"


@pytest.mark.parametrize(("content", "content_type", "title"), [
    ((CORPUS / "lying-utf8-is-koi8r.xml").read_bytes(), "", CYRILLIC_TITLE),
    ((CORPUS / "undeclared-windows1251.xml").read_bytes(), "", CYRILLIC_TITLE),
    ((CORPUS / "windows1251-russian.xml").read_bytes().replace(
        b'encoding="windows-1251"', b'encoding="iso-8859-1"'), "", CYRILLIC_TITLE),
    ((CORPUS / "koi8r-russian.xml").read_bytes().replace(b'encoding="koi8-r"', b""),
     "application/rss+xml; charset=KOI8-R", CYRILLIC_TITLE),
    ((CORPUS / "urdu-utf8.xml").read_bytes(), "text/xml; charset=ISO-8859-1",
     "وزیر اعظم کا ملک بھر میں نئے ہسپتال بنانے کا اعلان"),
    ((CORPUS / "urdu-utf8.xml").read_bytes(), "text/xml",
     "وزیر اعظم کا ملک بھر میں نئے ہسپتال بنانے کا اعلان"),
    ((FEEDS / "http-charset-czech.xml").read_bytes(), "application/rss+xml; charset=iso-8859-2",
     "Vláda schválila rozpočet na příští rok"),
    ((CORPUS / "utf16-bom.xml").read_bytes(), "", "Version 12.4 — what’s new"),
], ids=["declared-utf8-is-koi8r", "undeclared-windows1251", "declared-latin1-is-1251",
        "http-koi8r", "http-latin1-on-utf8", "text-xml-without-charset", "http-iso-8859-2",
        "utf16-bom"])
def test_feed_decodes_to_its_own_text_without_a_warning(content: bytes, content_type: str,
                                                        title: str) -> None:
    feed = parse_feed(content, "https://ex.example/rss", content_type=content_type)
    assert (feed.entries[0].title, feed.warning) == (title, None)


def test_json_feed_in_a_legacy_charset_is_read_in_its_http_charset() -> None:
    doc = ('{"version": "https://jsonfeed.org/version/1.1", "title": "Новости", "items": ['
           '{"id": "1", "url": "https://ex.example/1", "title": "Москва"}]}').encode("cp1251")
    feed = parse_feed(doc, "https://ex.example/feed.json",
                      content_type="application/feed+json; charset=windows-1251")
    assert (feed.title, [e.title for e in feed.entries]) == ("Новости", ["Москва"])


STRAY_TITLES = [
    "Café owners say “enough” to the rent rise on Rue Saint‑Honoré",
    "Naïve or brave? The mayor’s plan for the Grève district",
    "Storm closes the school in Élancourt — classes resume Monday",
    "Zoë Müller wins the regional chess title in Genève",
    "“We’ll rebuild”: the bakery on Kölner Straße reopens"]


@pytest.mark.parametrize("content_type", [
    "", "application/rss+xml; charset=utf-8", "application/rss+xml; charset=windows-1252"])
def test_a_stray_byte_in_a_utf8_feed_stays_in_its_own_item(content_type: str) -> None:
    content = (CORPUS / "wordpress-utf8-stray-byte.xml").read_bytes()  # one 0x92, in item 3
    feed = parse_feed(content, "https://echo.example/feed/", content_type=content_type)
    assert (feed.title, feed.warning) == ("Le Petit Écho de Lévis", None)
    assert [e.title for e in feed.entries] == STRAY_TITLES
    assert [e.summary.count("\ufffd") for e in feed.entries] == [0, 0, 1, 0, 0]
    assert feed.entries[2].summary == ("The head teacher said the pupils\ufffd parents were told"
                                       " at 7 a.m.")
    assert feed.entries[3].summary == "Müller, 14, beat the defending champion in 41 moves."


def test_a_stray_byte_in_a_utf8_json_feed_stays_in_its_own_item() -> None:
    doc = ('{"version": "https://jsonfeed.org/version/1.1", "title": "Écho", "items": ['
           '{"id": "1", "url": "https://ex.example/1", "title": "Grève à Genève", '
           '"content_text": "l’été STRAY"}]}').encode().replace(b"STRAY", b"\xa0")
    feed = parse_feed(doc, "https://ex.example/feed.json")
    assert (feed.title, feed.entries[0].title) == ("Écho", "Grève à Genève")
    assert feed.entries[0].summary == "l’été \ufffd"


@pytest.mark.parametrize(("charset", "title"), [
    # In Windows-1251 "И»" is C8 BB and "её" E5 B8: well-formed UTF-8, but outnumbered.
    ("windows-1251", "«РИА НОВОСТИ»: её ждали всё лето"),
    ("shift_jis", "日本政府は本日、新しい経済対策を発表した。東京都内の物価上昇を受けて"),
    ("euc-kr", "정부는 오늘 새로운 경제 대책을 발표했다. 서울의 물가 상승에 따라"),
    ("big5", "國務院常務會議部署進一步擴大內需，政府今天發表新的經濟政策"),
])
def test_a_legacy_feed_with_some_utf8_shaped_sequences_stays_legacy(charset: str,
                                                                    title: str) -> None:
    doc = _rss(f"<item><title>{title}</title><link>https://ex.example/1</link></item>"
               ).replace(b'encoding="utf-8"', f'encoding="{charset}"'.encode())
    content = doc.decode().encode(charset)
    as_utf8 = content.decode("utf-8", "surrogateescape")  # invalid bytes: U+DC80..U+DCFF
    assert re.search("[\udc80-\udcff]", as_utf8) and re.search("[^\0-\x7f\udc80-\udcff]", as_utf8)
    feed = parse_feed(content, "https://ex.example/rss")
    assert (feed.entries[0].title, feed.warning) == (title, None)


def test_a_document_feedparser_chokes_on_is_a_parse_error() -> None:
    doc = _rss('<item><title>t</title><gml:pos xmlns:gml="http://www.opengis.net/gml">1 2'
               "</gml:pos></item>")
    with pytest.raises(ParseError, match="^cannot parse feed: feedparser failed with KeyError"):
        parse_feed(doc, "https://ex.example/rss")


def test_html_page_error_suggests_discover_with_the_url() -> None:
    with pytest.raises(ParseError) as info:
        parse_feed(b"<!DOCTYPE html><html><body>Hi</body></html>", "https://ex.example/news")
    assert str(info.value) == ("not a feed: looks like an HTML page; try "
                               "`monitor discover https://ex.example/news` to find its feeds")


def test_duplicate_keys_keep_the_first_entry() -> None:
    items = ("<item><guid>g1</guid><title>first</title></item>"
             "<item><guid>g1</guid><title>again</title></item>")
    feed = parse_feed(_rss(items), "https://ex.example/rss")
    assert [(e.key, e.title) for e in feed.entries] == [("g1", "first")]


def test_a_guid_shared_by_items_with_different_links_keys_them_by_link() -> None:
    # every item's GUID the site's address: each item is kept, known by its link; an item
    # listed twice (the same link) is still one
    items = "".join(f"<item><guid>https://ex.example/</guid><title>{t}</title>"
                    f"<link>https://ex.example/{slug}</link></item>"
                    for slug, t in (("a", "first"), ("b", "second"), ("a", "first again")))
    feed = parse_feed(_rss(items + "<item><guid>g2</guid><title>own</title></item>"),
                      "https://ex.example/rss")
    assert [(e.key, e.title) for e in feed.entries] == [
        ("https://ex.example/a", "first"), ("https://ex.example/b", "second"), ("g2", "own")]


def test_a_json_feed_id_shared_by_items_keys_them_by_url() -> None:
    doc = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [
        {"id": "1", "url": "https://ex.example/one", "title": "one"},
        {"id": "1", "url": "https://ex.example/two", "title": "two"}]}).encode()
    feed = parse_feed(doc, "https://ex.example/feed.json")
    assert [e.key for e in feed.entries] == ["https://ex.example/one", "https://ex.example/two"]


UUID = "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
# (document, [(key, url)]) read from https://ex.example/feed-dir/rss: an item's id is its
# link only when written as an absolute http(s) URL; its key is its id all the same.
ID_LINKS = {
    "rss-number-guid": (_rss("<item><guid>42</guid><title>t</title></item>"), [("42", "")]),
    "rss-relative-guid": (_rss("<item><guid>/news/42</guid><title>t</title></item>"),
                          [("/news/42", "")]),
    "rss-url-guid": (_rss("<item><guid>https://ex.example/?p=123</guid><title>t</title></item>"),
                     [("https://ex.example/?p=123", "https://ex.example/?p=123")]),
    "rss-url-guid-not-permalink": (
        _rss('<item><guid isPermaLink="false">https://ex.example/?p=7</guid><title>t</title>'
             "</item>"), [("https://ex.example/?p=7", "")]),
    "rss-relative-link-same-as-guid": (
        _rss("<item><link>/news/42</link><guid>/news/42</guid><title>t</title></item>"),
        [("/news/42", "https://ex.example/news/42")]),
    "rss-number-guid-then-link": (
        _rss("<item><guid>43</guid><link>https://ex.example/43</link><title>t</title></item>"),
        [("43", "https://ex.example/43")]),
    "atom-self-link-and-uuid": (
        _atom(f'<entry><id>{UUID}</id><title>t</title>'
              '<link rel="self" href="https://api.ex.example/entries/1"/></entry>'),
        [(UUID, "")]),
    "atom-tag-id-no-link": (_atom("<entry><id>tag:ex.example,2026:1</id><title>t</title>"
                                  "</entry>"), [("tag:ex.example,2026:1", "")]),
    "atom-url-id-no-link": (_atom("<entry><id>https://ex.example/e/1</id><title>t</title>"
                                  "</entry>"), [("https://ex.example/e/1", "https://ex.example/e/1")]),
    "rss-link-no-url-at-all": (  # urlsplit refuses it: no link, and no exception
        _rss("<item><link>//[x</link><guid>//[y</guid><title>t</title></item>"
             "<item><guid>5</guid><link>https://ex.example/5</link><title>u</title></item>"),
        [("//[y", ""), ("5", "https://ex.example/5")]),
    "atom-uuid-and-alternate": (
        _atom(f'<entry><id>{UUID}</id><title>t</title><link href="https://ex.example/a"/>'
              "</entry>"), [(UUID, "https://ex.example/a")]),
}


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("name", list(ID_LINKS))
def test_an_id_is_a_link_only_when_written_as_an_http_url(name: str, fast: bool) -> None:
    document, expected = ID_LINKS[name]
    feed = parse_feed(document, "https://ex.example/feed-dir/rss", fast=fast)
    assert [(e.key, e.url) for e in feed.entries] == expected


def test_keys_are_decided_as_before_when_an_id_is_no_link() -> None:
    """Keys as they were when the made-up link counted: an id shared by an item with a link
    and one whose link was its id keys both by link (the second by the link it had)."""
    items = ("<item><guid>7</guid><link>https://ex.example/seven</link><title>a</title></item>"
             "<item><guid>7</guid><title>b</title></item>"
             "<item><guid>8</guid></item>")  # nothing but an id: no entry, as no link means
    for fast in (True, False):
        feed = parse_feed(_rss(items), "https://ex.example/feed-dir/rss", fast=fast)
        assert [(e.key, e.url, e.title) for e in feed.entries] == [
            ("https://ex.example/seven", "https://ex.example/seven", "a"),
            ("https://ex.example/feed-dir/7", "", "b")]


def test_very_long_guid_is_replaced_by_its_hash() -> None:
    feed = parse_feed(_rss(f"<item><guid>{'g' * 5000}</guid><title>t</title></item>"),
                      "https://ex.example/rss")
    assert feed.entries[0].key.startswith("hash:")
    assert len(feed.entries[0].key) < 64


def test_entry_without_link_title_or_content_is_dropped() -> None:
    items = '<item><guid isPermaLink="false">g</guid></item><item><title>kept</title></item>'
    feed = parse_feed(_rss(items),
                      "https://ex.example/rss")
    assert [e.title for e in feed.entries] == ["kept"]


@pytest.mark.parametrize(("channel", "ttl"), [
    ("<ttl>60</ttl>", 3600),
    ("<ttl>junk</ttl>", None),
    ('<sy:updatePeriod xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">daily'
     "</sy:updatePeriod>", 86400),
    ('<sy:updatePeriod xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">weekly'
     '</sy:updatePeriod><sy:updateFrequency xmlns:sy="http://purl.org/rss/1.0/modules/'
     'syndication/">7</sy:updateFrequency>', 86400),
    ("", None),
], ids=["ttl", "ttl-junk", "sy-daily", "sy-weekly-7", "none"])
def test_ttl_seconds(channel: str, ttl: int | None) -> None:
    feed = parse_feed(_rss("<item><title>t</title></item>", channel), "https://ex.example/rss")
    assert feed.ttl_seconds == ttl


@pytest.mark.parametrize(("markup", "text"), [
    ("<p>One.</p><p>Two <b>bold</b>.</p>", "One.\n\nTwo bold."),
    ("a<br>b<br/>c", "a\nb\nc"),
    ("<div>\n  spread\n   over  lines\n</div>", "spread over lines"),
    ("x <script>alert(1)</script>y<style>p{}</style><!-- c -->z", "x yz"),
    ("AT&amp;T &lt;tag&gt; &#8211; ok", "AT&T <tag> – ok"),
    ("5 < 6 and 7 > 3", "5 < 6 and 7 > 3"),
    ("para one\n\n\n\npara two\nline", "para one\n\npara two\nline"),
    ("<ul><li>a</li><li>b</li></ul>", "a\n\nb"),
    ("", ""),
    # lxml.html's fragment reader asserts one <body>: these have none or several
    ("<p>one</p></body><body><p>two</p><body>three", "one\n\ntwo\n\nthree"),
    ("</body><body>y", "y"),
    ("<html><body><p>a</p></body><body>b<br>c</body></html>", "a\n\nb\nc"),
    ("<html><head><title>t</title></head></html>", ""),
    ("<!DOCTYPE html><html><head></head></html>tail", "tail"),
    ("<html><frameset><frame></frameset></html>", ""),
    # after a stray </html> libxml2 starts a second <html> beside the first
    ("</body><body></body></html><figcaption>f", "f"),
], ids=["paragraphs", "br", "source-whitespace", "script-style-comment", "entities",
        "plain-lt", "plain-paragraphs", "list", "empty", "several-bodies", "empty-body-first",
        "document-two-bodies", "head-only", "doctype-no-body", "frameset",
        "text-after-html"])
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


def test_an_entry_whose_html_has_several_bodies_keeps_its_text() -> None:
    """Once an AssertionError from lxml.html failed the whole poll as an internal error."""
    body = "<p>first</p></body><body><p>second</p>"
    feed = parse_feed(_rss(f"<item><title>t</title><link>https://ex.example/1</link>"
                           f"<description><![CDATA[{body}]]></description></item>"),
                      "https://ex.example/rss")
    assert [e.summary for e in feed.entries] == ["first\n\nsecond"]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_parse_or_raise_parse_error(content: bytes) -> None:
    try:
        feed = parse_feed(content, "https://ex.example/feed")
    except ParseError:
        return
    assert all(e.key for e in feed.entries)


PAGE = b"""<!DOCTYPE html><html><head>
<base href="https://cdn.example/site/">
<link rel="alternate" type="application/rss+xml" title="RSS" href="feed.xml">
<link rel="alternate" type="application/atom+xml" href="https://ex.example/atom">
<link rel="Alternate" type="application/feed+json; charset=utf-8" href="/feed.json">
<link rel="alternate" type="application/json" href="/wp-json/wp/v2/posts/1">
<link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
<link rel="stylesheet" type="application/rss+xml" href="/not-a-feed.xml">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
<link rel="alternate" type="application/rss+xml" href="feed.xml">
</head><body><a href="/rss">RSS</a></body></html>"""


@pytest.mark.parametrize(("html", "base", "found"), [
    (PAGE, "https://ex.example/page",
     ["https://cdn.example/site/feed.xml", "https://ex.example/atom", "https://cdn.example/feed.json"]),
    (b'<html><head><link rel="alternate" type="application/atom+xml" href="/a.xml"></head></html>',
     "https://ex.example/x/y", ["https://ex.example/a.xml"]),
    (b"<html><body>no feeds here</body></html>", "https://ex.example/", []),
    (b"", "https://ex.example/", []),
    (b"\x00\x01binary", "https://ex.example/", []),
], ids=["mixed", "relative", "none", "empty", "binary"])
def test_discover_feeds(html: bytes, base: str, found: list[str]) -> None:
    assert discover_feeds(html, base) == found


def test_common_feed_paths_are_absolute_paths() -> None:
    assert COMMON_FEED_PATHS and all(p.startswith("/") for p in COMMON_FEED_PATHS)
    assert len(set(COMMON_FEED_PATHS)) == len(COMMON_FEED_PATHS)


_URL_BITS = st.sampled_from(list("aZ09-._~%/?#;:@!$&'()*+,=[] \t\né\x7f") + ["//", "..", "HTTP"])


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["http://", "https://", "HTTP://", "//", ""]),
       st.lists(_URL_BITS, max_size=25).map("".join),
       st.sampled_from(["https://feeds.example/f", "http://feeds.example/a/b?x#y", "", "ftp://a/"]))
def test_an_entry_link_is_what_urljoin_makes_of_it(scheme: str, rest: str, base: str) -> None:
    """Links urljoin gives back unchanged skip it (feed._absolute): the same links."""
    from urllib.parse import urljoin

    from monitor.sources.feed import _absolute

    link = scheme + rest
    try:
        expected = urljoin(base, link.strip()) if link.strip() else ""
    except ValueError:  # urlsplit refuses it (brackets): no link, not an exception
        assert _absolute(base, link) == ""
        return
    assert _absolute(base, link) == expected
