"""Redirect links unwrapped offline: the article a search feed's link stands for.

Google Alerts links are ``https://www.google.com/url?...&url=<the article>``; many other
services wrap links the same way (``?url=``, ``?u=``, ``?q=``). Google News links are
``https://news.google.com/rss/articles/<token>``: in the older format the token is base64
of a small protobuf message that carries the article's URL; the newer one (payload
starting ``AU_yqL``) carries only an id that Google's servers resolve, so it stays as it
is (``is_opaque``), and the feed's own text stands in for the page unless the feed asks
for ``resolve_redirects`` (see ``monitor.sources.follow``).

Pure: strings in, strings out; nothing here touches the network.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import replace
from urllib.parse import SplitResult, parse_qsl, urljoin, urlsplit

import lxml.etree  # type: ignore[import-untyped]
import lxml.html  # type: ignore[import-untyped]

from monitor.models import Entry

MAX_DEPTH = 3  # a redirector wrapping a redirector wrapping the article, at most
_PARAMS = ("url", "u", "q", "uddg", "target", "dest", "destination", "to", "redirect")
_REDIRECT_PATHS = frozenset({"/url", "/l.php", "/l", "/link", "/redirect", "/redir", "/out",
                             "/r", "/click", "/goto", "/away", "/exit", "/news/apiclick.aspx"})
_GOOGLE_NEWS = re.compile(r"^/(?:__i/)?(?:rss/)?(?:read|articles)/(?P<token>[A-Za-z0-9_-]{8,})")
_GOOGLE_NEWS_HOSTS = frozenset({"news.google.com"})


def unwrap_url(url: str) -> str:
    """The URL ``url`` stands for: the target of a redirect link decoded offline (through
    up to ``MAX_DEPTH`` wrappers), else ``url`` itself."""
    for _ in range(MAX_DEPTH):
        target = _target(url)
        if target is None:
            return url
        url = target
    return url


def is_opaque(url: str) -> bool:
    """Whether ``url`` is a redirect link whose target cannot be read offline (a Google
    News article link of the newer format): fetching it yields Google's page, not the
    article's."""
    token = _google_news_token(url)
    return token is not None and google_news_target(token) is None


def unwrap_entry(entry: Entry) -> Entry:
    """``entry`` with its link unwrapped; its key too when the key was the link."""
    url = unwrap_url(entry.url) if entry.url else entry.url
    if url == entry.url:
        return entry
    return replace(entry, url=url, key=url if entry.key == entry.url else entry.key)


def _target(url: str) -> str | None:
    parts = _split(url)
    if parts is None or not parts.hostname:
        return None
    if (token := _google_news_token(url)) is not None:
        return google_news_target(token)
    if parts.path.lower().rstrip("/") not in _REDIRECT_PATHS and not parts.hostname.startswith(
            ("l.", "lm.", "out.")):
        return None
    query = dict(parse_qsl(parts.query))
    for name in _PARAMS:
        value = query.get(name, "").strip()
        if _absolute_http(value) and _split(value) is not None:
            return value
    return None


def _google_news_token(url: str) -> str | None:
    """The token of a Google News article link: on news.google.com, or on any host under
    ``/rss/articles/`` (a ``base_url`` standing in for Google's, as in tests)."""
    parts = _split(url)
    if parts is None or not (m := _GOOGLE_NEWS.match(parts.path)):
        return None
    if parts.hostname in _GOOGLE_NEWS_HOSTS or parts.path.startswith("/rss/articles/"):
        return m["token"]
    return None


def google_news_target(token: str) -> str | None:
    """The article URL in a Google News article token of the older format, else None.

    The token is URL-safe base64 of a protobuf message: field 1 (a varint, 19), field 4
    (the URL), and sometimes field 26 (the AMP URL); the first http(s) string is it."""
    try:
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    for value in _length_fields(data):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if _absolute_http(text) and _split(text) is not None:
            return text
    return None


def _length_fields(data: bytes) -> list[bytes]:
    """The length-delimited values of a protobuf message's top level, as far as it parses."""
    out, i = [], 0
    while i < len(data):
        tag, i = _varint(data, i)
        wire = tag & 7
        if wire == 0:
            _, i = _varint(data, i)
        elif wire == 2:
            size, i = _varint(data, i)
            out.append(data[i:i + size])
            i += size
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            break
    return out


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while i < len(data):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i += 1
        if not byte & 0x80 or shift > 63:
            return value, i
        shift += 7
    return value, len(data) + 1


def _absolute_http(value: str) -> bool:
    return value.lower().startswith(("http://", "https://")) and not any(
        c.isspace() for c in value)


def _split(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:
        return None


def landing_target(content: bytes, url: str) -> str | None:
    """Where a redirect link's landing page (fetched from ``url``) sends the reader: its
    meta refresh, Google's ``data-n-au`` attribute or a canonical link off its own host."""
    try:
        doc = lxml.html.document_fromstring(content)
    except (lxml.etree.ParserError, ValueError):
        return None
    host = (_split(url) or urlsplit("")).hostname
    found = [m.split("=", 1)[1].strip(" '\"") for m in doc.xpath(
        "//meta[translate(@http-equiv,'REFSH','refsh')='refresh']/@content")
        if "=" in m] + doc.xpath("//@data-n-au") + doc.xpath("//link[@rel='canonical']/@href")
    for target in found:
        target = urljoin(url, str(target).strip())
        parts = _split(target)
        if _absolute_http(target) and parts is not None and parts.hostname != host:
            return target
    return None
