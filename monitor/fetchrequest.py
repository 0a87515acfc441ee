"""What one fetch of :mod:`monitor.fetch` sends: its URL parsed and checked for odd hosts,
its headers, and what all of its hops share (:class:`Request`); the host key politeness
is kept by. Pure: no I/O.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

from yarl import URL

from monitor.errors import FetchUnusable
from monitor.fetcherrors import Timeouts, loggable
from monitor.models import RequestOptions
from monitor.netguard import normalise_url

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"


def host_key(url: URL) -> str:
    """``host:port`` (``[v6]:port``): what politeness and Retry-After pauses are kept by.
    The host as sent (an IDN's punycode: decoding it costs half a µs a request)."""
    host = url.raw_host or ""
    port = url.explicit_port or (443 if url.scheme == "https" else 80)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bare_url(url: URL) -> str:
    """The URL without credentials: what results and errors carry."""
    return str(url.with_user(None) if url.raw_user or url.raw_password else url)


def basic_auth(url: URL) -> str:
    """The Authorization header for the credentials in ``url``."""
    pair = f"{url.user or ''}:{url.password or ''}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


BAD_HOST_CHARS = frozenset(" \t\r\n<>\\^`{|}\"")


def parse_url(url: str, base: URL | None = None) -> URL:
    """``url`` parsed (joined to ``base``, a redirect's), an odd IPv4 host normalised."""
    try:
        parsed = base.join(URL(url)) if base is not None else URL(url)
        if parsed.raw_host and not BAD_HOST_CHARS.isdisjoint(parsed.raw_host):
            raise ValueError(f"invalid host {parsed.raw_host!r}")
        return normalise_url(parsed)
    except (ValueError, TypeError) as e:
        raise FetchUnusable(f"invalid URL: {e}", loggable(url), reason="invalid_url") from e


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 2 µs a fetch
class Request:
    """What every hop of one fetch shares (only ``ends`` is set later, once)."""

    headers: dict[str, str]
    guarded: bool  # later hops (the first, and its origin's, are guarded unless trusted)
    html_only: bool
    limit: int
    deadline: float
    timeout: Timeouts | None
    options: RequestOptions | None
    ends: float | None = None  # the loop time the deadline passes, once the first hop runs

    def hop_headers(self, url: URL) -> dict[str, str]:
        """The headers for one hop: the source's cookies go only where they apply."""
        cookie = self.options.cookie_header(url.host or "", url.path or "/", url.scheme == "https",
                                            time.time()) if self.options else None
        return {**self.headers, "Cookie": cookie} if cookie else self.headers


def request_headers(etag: str | None, last_modified: str | None, html_only: bool,
                    options: RequestOptions | None) -> dict[str, str]:
    """A fetch's own headers (the session adds the fetcher's defaults)."""
    headers = {"Accept": HTML_ACCEPT} if html_only else {}
    if options:
        headers.update(options.headers)
        if options.user_agent:
            headers["User-Agent"] = options.user_agent
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers
