"""monitor.dedup: URL canonicalisation and the same-story threshold, both sides of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.dedup import (
    SAME_STORY_MAX_DISTANCE,
    article_hash,
    canonical_url,
    distance,
    fingerprint,
    key_hash,
    same_story,
)

DATA = Path(__file__).parent / "data" / "pages"
SEED_FILE = Path(__file__).parent.parent / "seeds" / "ap-2026-02-26-anthropic-pentagon.txt"


def _seed() -> str:
    first, _, rest = SEED_FILE.read_text("utf-8").partition("\n")
    return first.strip().removeprefix("date 2026-02-26 ") + "\n" + rest.strip()


def _page_text(slug: str) -> str:
    text: str = json.loads((DATA / f"{slug}.expected.json").read_text("utf-8"))["text"]
    return text


SEED = _seed()
HEADER = ("By MATT O'BRIEN and KONSTANTIN TOROPIN\nUpdated 6:02 PM EST, February 26, 2026\n"
          "Share\nListen to this article\n")
FOOTER = ("\nCopyright 2026 The Associated Press. All Rights Reserved. This material may not be "
          "published, broadcast, rewritten or redistributed without permission.\n"
          "More from the Post: Sign up for our newsletter")
EDIT = ("Sean Parnell said Thursday on social media",
        "Pentagon spokesman Sean Parnell wrote Thursday in a post on social media")

SAME = {
    "identical": SEED,
    "other-site-boilerplate": HEADER + SEED + FOOTER,
    "sentence-edited": SEED.replace(*EDIT),
    "updated-line": "UPDATED 7:45 PM: Adds comment from Sen. Mark Warner.\n" + SEED,
    "straight-quotes": SEED.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'"),
    "last-paragraph-dropped": SEED.rsplit("\n", 1)[0],
    "paragraph-added": SEED + "\nThe Pentagon did not respond to a request for comment.",
    "boilerplate-and-two-edits": HEADER + SEED.replace(*EDIT).replace(
        "deeply disturbed", "very disturbed") + FOOTER,
    "upper-case-and-spacing": "  ".join(SEED.upper().split()),
}
DIFFERENT = {
    "same-topic-other-outlet": _page_text("ledger-anthropic-deadline"),
    "light-rail": _page_text("council-light-rail"),
    "snowstorm": _page_text("sierra-snowstorm"),
    "earnings": _page_text("chipmaker-earnings"),
    "court-ruling": _page_text("appeals-court-age-verification"),
    "wildfire-bill": _page_text("wildfire-bill"),
}


@pytest.mark.parametrize("text", SAME.values(), ids=SAME.keys())
def test_copies_of_one_story_are_within_the_threshold(text: str) -> None:
    d = distance(fingerprint(SEED), fingerprint(text))
    assert d <= SAME_STORY_MAX_DISTANCE
    assert same_story(fingerprint(SEED), fingerprint(text))


@pytest.mark.parametrize("text", DIFFERENT.values(), ids=DIFFERENT.keys())
def test_different_stories_are_outside_the_threshold(text: str) -> None:
    assert distance(fingerprint(SEED), fingerprint(text)) > SAME_STORY_MAX_DISTANCE + 5
    assert not same_story(fingerprint(SEED), fingerprint(text))


def test_the_same_topic_story_is_far_from_every_copy() -> None:
    other = fingerprint(DIFFERENT["same-topic-other-outlet"])
    assert min(distance(other, fingerprint(t)) for t in SAME.values()) > 2 * SAME_STORY_MAX_DISTANCE


def test_the_threshold_leaves_a_margin_on_both_sides() -> None:
    base = fingerprint(SEED)
    worst_copy = max(distance(base, fingerprint(t)) for t in SAME.values())
    nearest_other = min(distance(base, fingerprint(t)) for t in DIFFERENT.values())
    assert worst_copy < SAME_STORY_MAX_DISTANCE < nearest_other


def test_fingerprint_is_stable_across_runs_and_versions() -> None:
    # Stored fingerprints must stay comparable: a change here needs a data migration.
    assert fingerprint("The quick brown fox jumps over the lazy dog") == 8624727436966258293
    assert fingerprint(SEED) == fingerprint(SEED.replace("\n", " "))


@pytest.mark.parametrize("text", ["", "   ", "!!! ---", "word", "two words", SEED],
                         ids=["empty", "blank", "punctuation", "one-word", "two-words", "seed"])
def test_fingerprint_is_a_signed_64_bit_integer(text: str) -> None:
    value = fingerprint(text)
    assert -(2**63) <= value < 2**63
    assert value == fingerprint(text)


def test_text_without_words_fingerprints_to_zero() -> None:
    assert fingerprint("") == fingerprint(" -- ") == 0


@pytest.mark.parametrize(("a", "b", "d"), [
    (0, 0, 0),
    (0, -1, 64),
    (-1, 2**64 - 1, 0),
    (0b1011, 0b0110, 3),
    (-(2**63), 2**63, 0),
], ids=["equal", "all-bits", "signed-unsigned", "three", "sign-bit"])
def test_distance(a: int, b: int, d: int) -> None:
    assert distance(a, b) == distance(b, a) == d


URLS = [
    ("HTTPS://WWW.Example.COM:443/a/b/?utm_source=x&b=2&a=1&fbclid=z#frag",
     "https://www.example.com/a/b?a=1&b=2"),
    ("http://example.com:80", "http://example.com/"),
    ("http://example.com:8080/x/", "http://example.com:8080/x"),
    ("https://example.com/", "https://example.com/"),
    ("https://example.com/story?gclid=1&dclid=2&msclkid=3&mc_cid=4&mc_eid=5&igshid=6&_ga=7",
     "https://example.com/story"),
    ("https://example.com/story?ref=tw&ref_src=twsrc&cmpid=x&ocid=y&UTM_Medium=z",
     "https://example.com/story"),
    ("https://example.com/search?q=supply+chain&page=2",
     "https://example.com/search?page=2&q=supply+chain"),
    ("https://example.com/story/amp/", "https://example.com/story"),
    ("https://example.com/story/amp", "https://example.com/story"),
    ("https://example.com/amp/story/1", "https://example.com/story/1"),
    ("https://example.com/story.amp.html", "https://example.com/story.html"),
    ("https://example.com/story?amp", "https://example.com/story"),
    ("https://example.com/story?amp=1&id=4", "https://example.com/story?id=4"),
    ("https://example.com/story?outputType=amp", "https://example.com/story"),
    ("https://amp.example.com/story", "https://example.com/story"),
    ("https://example.com/amp", "https://example.com/amp"),
    ("https://example.com/amp/amp/story/amp/amp/", "https://example.com/story"),
    ("https://example.com/champ/", "https://example.com/champ"),
    ("https://example.com//a//b/", "https://example.com/a/b"),
    ("https://user:pw@[::1]:8443/x?z=1", "https://user:pw@[::1]:8443/x?z=1"),
    ("  https://example.com/a  ", "https://example.com/a"),
    ("", ""),
    ("/relative/path", "/relative/path"),
    ("http://host:notaport/x", "http://host:notaport/x"),
]


URL_IDS = [
    "case-port-tracking-sort", "http-default-port", "other-port", "root", "click-ids",
    "ref-and-campaign", "real-params-kept", "amp-suffix-slash", "amp-suffix", "amp-prefix",
    "amp-html", "amp-flag", "amp-1", "output-type-amp", "amp-subdomain", "amp-alone-kept",
    "amp-repeated", "amp-inside-word", "double-slashes", "ipv6-userinfo", "whitespace", "empty",
    "relative", "bad-port"]


@pytest.mark.parametrize(("url", "canonical"), URLS, ids=URL_IDS)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize("url", [u for u, _ in URLS], ids=URL_IDS)
def test_canonical_url_is_idempotent(url: str) -> None:
    assert canonical_url(canonical_url(url)) == canonical_url(url)


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"https?://[a-z]{1,8}\.(com|org)(:[0-9]{1,4})?(/(amp|[a-z0-9._-]{0,6})){0,4}/?"
                     r"(\?([a-z_]{1,6}=[a-z0-9]{0,4}&?){0,4})?(#[a-z]{0,4})?", fullmatch=True))
def test_canonical_url_is_idempotent_on_generated_urls(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert "#" not in once and "utm_" not in once


@pytest.mark.parametrize(("url", "key", "same_as"), [
    ("https://ex.example/a?utm_source=x", "g1", "https://ex.example/a"),  # the page's URL
    ("", "42", "https://ex.example/feed-dir/42"),  # the link "42" was once taken for
    ("", "/news/42", "https://ex.example/news/42"),
    ("", "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a",
     "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"),  # an absolute key stays as it is
    ("", "hash:0123abcd", "hash:0123abcd"),
    ("", "//[x", "//[x"),  # urlsplit refuses it: the key itself, no ValueError
])
def test_article_hash_of_a_linkless_item_is_its_key_on_its_feeds_site(
        url: str, key: str, same_as: str) -> None:
    expected = key_hash(same_as if same_as.startswith("//") else canonical_url(same_as))
    assert article_hash(url, key, "https://ex.example/feed-dir/rss") == expected
    if not url and not key.startswith(("urn:", "hash:", "//")):  # two feeds: two articles
        assert article_hash(url, key, "https://other.example/rss") != article_hash(
            url, key, "https://ex.example/feed-dir/rss")
