"""Duplicate detection: URL canonicalisation, content fingerprints, and the hashes that
say which entry is which (``key_hash``, and ``content_key`` for feeds that change GUIDs)
and whether the feed edited it (``entry_version``).

Pure: strings in, strings and integers out; no I/O.

Two articles are the same story when their canonical URLs are equal, or when their text
fingerprints are within ``SAME_STORY_MAX_DISTANCE`` bits of each other. A fingerprint is a
64-bit SimHash over 3-word shingles of the normalised text, returned as a *signed* 64-bit
integer (two's complement) so that it fits SQLite INTEGER and PostgreSQL BIGINT as is.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, unquote_plus, urlencode, urljoin, urlsplit, urlunsplit

from monitor.models import Entry

SAME_STORY_MAX_DISTANCE = 10
"""Measured on ~650-word wire copy (tests/test_dedup.py): copies with other site boilerplate,
an "Updated" line and up to two edited sentences were 0-9 bits apart (400 random variants);
different stories were 18-40 apart (mean 32.6), the same-topic story from another outlet 35.
Copies cut to 80% of their length land at 8-11, to 70% at 11-16: mostly not caught."""

SHINGLE_WORDS = 3
_BITS = 64
_MASK = (1 << _BITS) - 1
_TOKEN = re.compile(r"\w+")
_LOW_BIT = b"\x00" * 7 + b"\x01"  # an 8-byte big-endian word with only bit 0 set

TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "_ga", "_gl",
    "ref", "ref_src", "ref_url", "cmpid", "ocid", "yclid", "twclid", "ttclid", "li_fat_id",
    "wt.mc_id", "smid", "sr_share", "ito", "s_cid", "icid", "guccounter", "_hsenc", "_hsmi",
    "mkt_tok", "vero_id", "oly_enc_id", "oly_anon_id", "at_medium", "at_campaign", "xtor",
    "ncid", "soc_src", "soc_trk",
})
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """The URL without tracking parameters, default port, fragment or AMP variant.

    Scheme and host are lowercased, the remaining query parameters sorted, and a trailing
    slash dropped (except for the root path). Two URLs of one page compare equal after this.
    A string that is not an absolute URL comes back stripped and otherwise unchanged.
    """
    parts = urlsplit(strip_tracking(url.strip()))
    scheme = parts.scheme.lower()
    if not (scheme and parts.netloc):
        return url.strip()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number
        return url.strip()
    host = (parts.hostname or "").rstrip(".").removeprefix("amp.")
    netloc = _userinfo(parts.netloc) + (f"[{host}]" if ":" in host else host)
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _is_amp_param(k, v)]
    return urlunsplit((scheme, netloc, _canonical_path(parts.path), urlencode(sorted(query)), ""))


def strip_tracking(url: str) -> str:
    """``url`` without its tracking parameters (``utm_*``, ``fbclid``, ``gclid`` ...).

    Everything else stays as published, character for character: scheme, host, path, the
    other parameters (their order and encoding) and the fragment. A URL without tracking
    parameters, or a string that is not an absolute URL, comes back unchanged.
    """
    head, hash_mark, fragment = url.partition("#")
    base, question_mark, query = head.partition("?")
    if not query or not _absolute(url):
        return url
    pairs = query.split("&")
    kept = [p for p in pairs if not _is_tracking(unquote_plus(p.partition("=")[0]))]
    if len(kept) == len(pairs):
        return url
    rest = "&".join(kept)
    return base + (question_mark + rest if rest else "") + hash_mark + fragment


def _absolute(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return False
    return bool(parts.scheme and parts.netloc)


def _userinfo(netloc: str) -> str:
    return netloc.rpartition("@")[0] + "@" if "@" in netloc else ""


def _is_tracking(key: str) -> bool:
    low = key.lower()
    return low in TRACKING_PARAMS or low.startswith(_TRACKING_PREFIXES)


def _is_amp_param(key: str, value: str) -> bool:
    low = key.lower()
    return (low == "amp" and value.lower() in ("", "1", "true")) or (
        low == "outputtype" and value.lower() == "amp")


def _canonical_path(path: str) -> str:
    path = re.sub(r"/{2,}", "/", path)
    path = re.sub(r"\.amp\.html$", ".html", path)  # /story.amp.html
    path = re.sub(r"(?<=.)(?:/amp)+/?$", "", path)  # /story/amp/
    path = re.sub(r"^(?:/amp)+(?=/.)", "", path)  # /amp/story
    return path.rstrip("/") or "/"


def normalise_tokens(text: str) -> list[str]:
    """Case-folded word tokens of ``text`` after NFKC; punctuation separates tokens."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def fingerprint(text: str) -> int:
    """64-bit SimHash of ``text`` over 3-word shingles, as a signed 64-bit integer.

    A text without words gives 0; do not treat two such texts as one story.
    Each distinct shingle is hashed (blake2b, 8 bytes); bit i of the result is set when
    more than half of the shingle hashes have bit i set.
    """
    tokens = normalise_tokens(text)
    if not tokens:
        return 0
    width = min(SHINGLE_WORDS, len(tokens))
    shingles = {" ".join(tokens[i:i + width]) for i in range(len(tokens) - width + 1)}
    # Bit-sliced counting: all hashes side by side in one big integer, 64 bits each; for
    # each bit position, shift it to the bottom of every word, mask and count the ones.
    words = b"".join(hashlib.blake2b(s.encode(), digest_size=8).digest() for s in shingles)
    packed = int.from_bytes(words, "big")
    low_bits = int.from_bytes(_LOW_BIT * len(shingles), "big")  # bit 0 of every word
    value = 0
    for bit in range(_BITS):
        if 2 * ((packed >> bit) & low_bits).bit_count() > len(shingles):
            value |= 1 << bit
    return value - (1 << _BITS) if value >> (_BITS - 1) else value


def distance(a: int, b: int) -> int:
    """Hamming distance between two fingerprints (signed or unsigned)."""
    return ((a ^ b) & _MASK).bit_count()


def same_story(a: int, b: int) -> bool:
    """Whether two fingerprints are close enough to be one story."""
    return distance(a, b) <= SAME_STORY_MAX_DISTANCE


def key_hash(value: str) -> str:
    """A fixed-length key for long strings (entry keys, canonical URLs)."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def article_hash(url: str, entry_key: str, feed_url: str) -> str:
    """An article's ``url_hash`` (the same page twice is one article): the hash of its
    canonical URL. An article without one, whose item had no link, goes by its item's key
    joined to its feed's URL as a relative link would be: ``42`` in two feeds is two
    articles, a key that is an absolute URI (``urn:uuid:…``, ``tag:…``, ``hash:…``) stays as
    it is, and an item whose ``<guid>42</guid>`` was once taken for its link (as
    ``http://host/feed-dir/42``) keeps the hash it had then."""
    try:
        return key_hash(canonical_url(url or urljoin(feed_url, entry_key)))
    except ValueError:  # what urlsplit refuses ("//[x"): the string itself
        return key_hash(url or entry_key)


def entry_version(entry: Entry) -> str:
    """A hash of what the feed says about an entry (title and summary); it changes when the
    item is edited. Not its date: a feed that stamps every item with the request time has
    not edited them."""
    return key_hash("\x1f".join((entry.title, entry.summary)))[:32]


def dated_entry_version(entry: Entry) -> str:
    """``entry_version`` as stored before version 8 of the schema (the date included): a
    stored version equal to it is the same item, unedited."""
    published = entry.published.isoformat() if entry.published else ""
    return key_hash("\x1f".join((entry.title, entry.summary, published)))[:32]


def content_key(entry: Entry) -> str | None:
    """What an item is, whatever its GUID or date: its canonical link and its title (case
    and spacing aside; an item without a link: its title and summary). None for an item
    with none of them. Within one feed, an entry whose GUID is new but whose content key
    was seen is the same item re-published, not a new one."""
    title = " ".join(normalise_tokens(entry.title))
    link = canonical_url(entry.url) if entry.url else " ".join(normalise_tokens(entry.summary))
    if not (title or link):
        return None
    return key_hash(f"{link}\x1f{title}")[:32]
