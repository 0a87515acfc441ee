"""A source's own request settings: its headers, cookies, user agent and limits.

A ``[[feeds]]`` table may set ``headers = {...}``, ``user_agent``, ``max_bytes``,
``timeout`` and its cookies, which are a secret (``cookies_file`` or ``cookies_env``, never
inline) in one of two forms:

- a Netscape ``cookies.txt`` (what browsers' cookie export tools write: tab-separated
  domain, subdomains flag, path, secure flag, expiry, name, value; ``#HttpOnly_`` lines
  included): each cookie goes only where its domain, path and secure flag say;
- a ``Cookie`` header value, ``name=value; name2=value2``: sent only to the feed URL's host.

``check_headers`` and ``parse_cookies`` are pure and raise ValueError with a one-line reason;
``request_options`` reads the cookies secret now (ConfigError naming its key).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from monitor.config.settings import RENDER_MODES, FeedSettings
from monitor.errors import ConfigError
from monitor.models import Cookie, RequestOptions

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")
_REFUSED = {
    "cookie": "use cookies_file or cookies_env (cookies are never inline)",
    "user-agent": "use user_agent",
    "authorization": "secrets are never inline",
    "proxy-authorization": "secrets are never inline",
    "host": "is set from the URL",
    "content-length": "is set by the fetcher",
    "transfer-encoding": "is set by the fetcher",
    "connection": "is set by the fetcher",
    "accept-encoding": "is set by the fetcher (it decompresses under the byte cap)",
}
_NETSCAPE_FIELDS = 7
_HTTPONLY = "#HttpOnly_"


def check_headers(table: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    """``headers = {...}`` as (name, value) pairs; ValueError naming the first bad header."""
    out = []
    for name, value in table.items():
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"{name!r}: not a valid header name")
        if name.lower() in _REFUSED:
            raise ValueError(f"{name}: {_REFUSED[name.lower()]}")
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected a string, got {type(value).__name__}")
        if _BAD_VALUE.search(value):
            raise ValueError(f"{name}: control characters are not allowed in a header value")
        out.append((name, value))
    return tuple(out)


def parse_cookies(text: str, host: str) -> tuple[Cookie, ...]:
    """The cookies in ``text`` (cookies.txt, or ``name=value; ...`` for ``host`` only)."""
    lines = [line.strip("\r") for line in text.splitlines()]
    if any("\t" in line for line in lines) or text.lstrip().startswith("# "):
        return tuple(c for n, line in enumerate(lines, 1) if (c := _netscape(line, n)))
    return _header_form(text.strip(), host)


def _netscape(line: str, number: int) -> Cookie | None:
    if line.startswith(_HTTPONLY):
        line = line[len(_HTTPONLY):]
    elif not line.strip() or line.startswith("#"):
        return None
    fields = line.split("\t")
    if len(fields) != _NETSCAPE_FIELDS:
        raise ValueError(f"line {number}: expected 7 tab-separated fields (cookies.txt), "
                         f"got {len(fields)}")
    domain, subdomains, path, secure, expires, name, value = fields
    if not domain.strip(".") or not name or not expires.isdigit():
        raise ValueError(f"line {number}: needs a domain, a name and a numeric expiry")
    _check_cookie(name, value, f"line {number}")
    return Cookie(name, value, domain.lstrip("."),
                  subdomains.upper() == "TRUE" or domain.startswith("."),
                  path or "/", secure.upper() == "TRUE", int(expires))


def _header_form(text: str, host: str) -> tuple[Cookie, ...]:
    out = []
    for i, part in enumerate(p.strip() for p in text.split(";")):
        if not part:
            continue
        name, eq, value = part.partition("=")
        if not eq:
            raise ValueError(f"cookie {i + 1}: expected name=value")
        _check_cookie(name.strip(), value.strip(), f"cookie {i + 1}")
        out.append(Cookie(name.strip(), value.strip(), host))
    if not out:
        raise ValueError("no cookies in it (expected cookies.txt or name=value; ...)")
    return tuple(out)


def _check_cookie(name: str, value: str, where: str) -> None:
    if not _TOKEN.fullmatch(name):
        raise ValueError(f"{where}: not a valid cookie name")
    if not _COOKIE_VALUE.fullmatch(value.strip('"')):
        raise ValueError(f"{where} ({name}): the value has characters a cookie cannot carry")


def check_request_settings(feed: FeedSettings) -> list[tuple[str, str]]:
    """(key, problem) for the source's limits that cannot work."""
    out = []
    if feed.max_bytes is not None and feed.max_bytes < 1:
        out.append(("max_bytes", "must be at least 1"))
    if feed.timeout is not None and not feed.timeout > 0:
        out.append(("timeout", "must be more than 0s"))
    if feed.render not in RENDER_MODES:
        out.append(("render", f"must be one of {', '.join(map(repr, RENDER_MODES))}, "
                              f"not {feed.render!r}"))
    return out


def request_options(feed: FeedSettings,
                    environ: Mapping[str, str] | None = None) -> RequestOptions | None:
    """The feed's own request settings, its cookies read now; None when it sets none.

    ConfigError naming ``cookies_file``/``cookies_env`` when they cannot be read or parsed.
    """
    cookies: tuple[Cookie, ...] = ()
    if feed.cookies:
        cookies = read_cookies(feed, environ)
    if not (feed.headers or feed.user_agent or cookies or feed.max_bytes or feed.timeout):
        return None
    return RequestOptions(headers=feed.headers, user_agent=feed.user_agent or None,
                          cookies=cookies, deadline=feed.timeout, max_bytes=feed.max_bytes)


def read_cookies(feed: FeedSettings,
                 environ: Mapping[str, str] | None = None) -> tuple[Cookie, ...]:
    """The feed's cookies now; ConfigError naming the key when unreadable or malformed."""
    secret = feed.cookies
    text = secret.read(environ) if secret else None
    if not text or secret is None:
        return ()
    try:
        return parse_cookies(text, urlsplit(feed.url).hostname or "")
    except ValueError as e:
        where = "cookies_file" if secret.file is not None else "cookies_env"
        raise ConfigError(f"{where}: {e}") from None


def check_cookies(feed: FeedSettings,
                  environ: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(problems, warnings), each ``key: message``: cookies that cannot be parsed are a
    problem; cookies that cannot be read now only a warning (they may exist only inside the
    service's environment)."""
    if not feed.cookies:
        return [], []
    try:
        feed.cookies.read(environ)
    except ConfigError as e:
        return [], e.problems
    try:
        read_cookies(feed, environ)
    except ConfigError as e:
        return e.problems, []
    return [], []
