"""monitor.sources.opml: a golden OPML export, round trips, TOML snippets, hostile documents."""

from __future__ import annotations

import json
import tomllib
import xml.etree.ElementTree as ET  # noqa: N817 - our own output
from pathlib import Path

import pytest

from monitor.errors import ParseError
from monitor.sources.opml import MAX_DEPTH, OpmlFeed, parse_opml, to_opml, to_toml, toml_string

OPML = Path(__file__).parent / "data" / "opml"


def as_json(feeds: list[OpmlFeed]) -> list[dict[str, object]]:
    return [{"title": f.title, "xml_url": f.xml_url, "tags": list(f.tags),
             "html_url": f.html_url} for f in feeds]


def test_golden_nested_folders() -> None:
    expected = json.loads((OPML / "nested.expected.json").read_text())
    assert as_json(parse_opml((OPML / "nested.opml").read_bytes())) == expected


FEEDS = [
    OpmlFeed("AP Top News", "https://wire.example/ap/rss", ("wire", "us"),
             "https://wire.example/ap"),
    OpmlFeed("Reuters", "https://wire.example/reuters.xml", ("wire",)),
    OpmlFeed('Quotes "and" <angles> & ampersands', "https://q.example/rss?a=1&b=2", ("odd",)),
    OpmlFeed("Ünïcödé — 新闻", "https://unicode.example/feed", ("international",)),
    OpmlFeed("No tags", "https://plain.example/rss"),
]


def test_round_trip_keeps_titles_urls_and_tags() -> None:
    assert parse_opml(to_opml(FEEDS)) == FEEDS


def test_round_trip_of_the_golden_file() -> None:
    feeds = parse_opml((OPML / "nested.opml").read_bytes())
    assert parse_opml(to_opml(feeds)) == feeds


def test_to_opml_groups_by_first_tag_and_names_the_document() -> None:
    document = to_opml(FEEDS, title="Desk <A>")
    root = ET.fromstring(document)  # our own output, no DTD
    assert (root.tag, root.get("version"), root.findtext("head/title")) == (
        "opml", "2.0", "Desk <A>")
    body = root.find("body")
    assert body is not None
    layout = [(o.get("text"), [c.get("xmlUrl") for c in o]) for o in body]
    assert layout == [
        ("wire", ["https://wire.example/ap/rss", "https://wire.example/reuters.xml"]),
        ("odd", ["https://q.example/rss?a=1&b=2"]),
        ("international", ["https://unicode.example/feed"]),
        ("No tags", []),  # no tags: a feed outline directly under <body>
    ]


def test_to_opml_drops_characters_xml_cannot_carry() -> None:
    feed = OpmlFeed("bell\x07 and nul\x00", "https://ctl.example/rss", ("t\x01ag",))
    assert parse_opml(to_opml([feed])) == [
        OpmlFeed("bell and nul", "https://ctl.example/rss", ("tag",))]


NASTY = ['plain', 'quote " inside', "back\\slash", "new\nline", "tab\tand\rcr",
         "bell\x07del\x7f", "ünïcode 新闻 \U0001f4f0", "'''triple'''", '"""', "#not a comment"]


@pytest.mark.parametrize("text", NASTY, ids=[repr(t) for t in NASTY])
def test_toml_string_reads_back_exactly(text: str) -> None:
    assert tomllib.loads(f"x = {toml_string(text)}\n") == {"x": text}


def test_to_toml_reads_back_as_feeds_tables() -> None:
    feeds = [OpmlFeed(t, f"https://x.example/{i}", (t, "b")) for i, t in enumerate(NASTY)]
    parsed = tomllib.loads(to_toml(feeds))
    assert parsed["feeds"] == [{"name": " ".join(t.split()), "url": f"https://x.example/{i}",
                                "tags": [t, "b"]} for i, t in enumerate(NASTY)]


def test_to_toml_makes_names_unique_and_omits_empty_tags() -> None:
    feeds = [OpmlFeed("News", "https://a.example/rss"), OpmlFeed("News", "https://b.example/rss"),
             OpmlFeed("", "https://c.example/rss")]
    parsed = tomllib.loads(to_toml(feeds, taken={"News"}))
    assert parsed["feeds"] == [
        {"name": "News (2)", "url": "https://a.example/rss"},
        {"name": "News (3)", "url": "https://b.example/rss"},
        {"name": "https://c.example/rss", "url": "https://c.example/rss"}]


def test_to_toml_of_nothing_is_empty() -> None:
    assert to_toml([]) == ""


def _laughs(levels: int) -> bytes:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels + 1))
    return (f'<?xml version="1.0"?><!DOCTYPE opml [{entities}]><opml><body>'
            f'<outline text="&lol{levels};" xmlUrl="https://a.example/rss"/></body></opml>'
            ).encode()


XXE = (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       b'<opml><body><outline text="&xxe;" xmlUrl="https://a.example/rss"/></body></opml>')
PARAMETER = (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY % p SYSTEM '
             b'"http://203.0.113.9/evil.dtd"> %p;]><opml><body/></opml>')
UNPARSED = (b'<?xml version="1.0"?><!DOCTYPE opml [<!NOTATION n SYSTEM "x">'
            b'<!ENTITY u SYSTEM "y" NDATA n>]><opml><body/></opml>')

HOSTILE = [
    XXE,
    XXE.decode().replace('<?xml version="1.0"?>', "").encode("utf-16"),  # encoding can't hide it
    _laughs(3),  # small: libxml2 would even expand this one
    _laughs(9),  # a billion laughs
    PARAMETER,
    UNPARSED,
]


@pytest.mark.parametrize("document", HOSTILE, ids=["xxe-file", "xxe-utf16", "laughs-small",
                                                    "billion-laughs", "parameter-entity",
                                                    "unparsed-entity"])
def test_entity_declarations_are_refused(document: bytes) -> None:
    with pytest.raises(ParseError, match=r"^OPML refused: it declares XML entities"):
        parse_opml(document)


def test_external_dtd_is_not_loaded() -> None:
    # an address outside loopback: the test's socket guard fails the test if it is dialled
    document = (b'<?xml version="1.0"?><!DOCTYPE opml SYSTEM "http://203.0.113.9/opml.dtd">'
                b'<opml><body><outline text="A" xmlUrl="https://a.example/rss"/></body></opml>')
    assert parse_opml(document) == [OpmlFeed("A", "https://a.example/rss")]


def test_deep_nesting_is_refused_quickly() -> None:
    depth = 100_000
    document = (b"<opml><body>" + b"<outline text='x'>" * depth + b"</outline>" * depth
                + b"</body></opml>")
    with pytest.raises(ParseError, match=f"nested deeper than {MAX_DEPTH}"):
        parse_opml(document)


MALFORMED = [
    (b"", r"^not OPML: empty document$"),
    (b"  \n", r"^not OPML: empty document$"),
    (b"<opml><body><outline text='a'></body></opml>",
     r"^not OPML: malformed XML: mismatched tag at line 1, column 33$"),
    (b"<opml><body><outline text='&nbsp;'/></body></opml>",
     r"^not OPML: malformed XML: undefined entity at line 1, column 13$"),
    (b"just text", r"^not OPML: malformed XML: syntax error at line 1, column 1$"),
    (b'<rss version="2.0"><channel/></rss>', r"^not OPML: the root element is <rss>, not <opml>$"),
    (b"<opml><head/></opml>", r"^not OPML: no <body> in <opml>$"),
    (b"<opml><head><body/></head></opml>", r"^not OPML: no <body> in <opml>$"),
]


@pytest.mark.parametrize(("document", "message"), MALFORMED,
                         ids=["empty", "blank", "mismatched", "undefined-entity", "text",
                              "rss-root", "no-body", "body-not-under-opml"])
def test_malformed_opml_is_one_clear_line(document: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        parse_opml(document)
    assert "\n" not in str(info.value)


def test_outlines_outside_body_are_ignored() -> None:
    document = (b"<opml><head><outline xmlUrl='https://head.example/rss'/></head><body>"
                b"<outline text='B' xmlUrl='https://body.example/rss'/></body></opml>")
    assert [f.xml_url for f in parse_opml(document)] == ["https://body.example/rss"]
