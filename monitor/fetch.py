"""HTTP fetching on aiohttp: byte caps, conditional GET, the SSRF guard, politeness.

``Fetcher.fetch(url)`` returns a :class:`~monitor.models.FetchResult` or raises (a 304:
``fetch_if_changed`` returns the NotModified)::

    NotModified       the server answered 304 (a signal, not an error)
    FetchBlocked      refused before connecting: scheme, credentials, non-public address
    FetchHTTPStatus   a non-success status; 429/503 carry ``retry_after``
    FetchPostponed    (a FetchHTTPStatus) raised at once, without connecting, while the
                      host's Retry-After runs: the request was never sent
    FetchTimeout      a connect/read timeout, or the total deadline passed
    FetchTooLarge     Content-Length, raw bytes or decompressed bytes over ``max_bytes``
    FetchUnusable     bad URL, not HTML, empty body, too many redirects, undecodable body
    FetchError        any other failure: refused, reset, DNS, TLS

:func:`classify` and :func:`diagnose` (in :mod:`monitor.fetcherrors`, re-exported
here) name a failure.

Decisions: fetches go straight to aiohttp, on two sessions, guarded and open (see
:mod:`monitor.netguard`: the guard is the guarded session's resolver), which do not
decompress: bodies are read raw and decompressed under the cap. URLs are yarl's, which
aiohttp sends as they are (no adapter, no second parse: httpx → adapter → aiohttp cost
about 4x aiohttp alone per 304, bench/poll.py). The httpx client that ``client`` gives
the webhook channels is separate, on its own aiohttp session (httpcore's single pool
collapses under concurrency, encode/httpx#3215). Redirects are followed here, each hop
checked; ``trusted`` opens the first hop, and the redirects that stay on its origin
(scheme, host, port: ``netguard.same_origin``) until one leaves it. The deadline starts
when the first hop gets its connection slots (queueing behind fetches to the same host
does not count) and covers every later hop and body (each hop gets the time left as
aiohttp's total timeout).
Credentials in a URL go as an Authorization header, first hop only. Hosts are keyed
``host:port``, ``per_host`` requests at a time (one running ``SLOW_AFTER`` s lets the next
go; :mod:`monitor.fetchhosts`). While a host's Retry-After runs, ``fetch``
raises without connecting (callers may ask ``host_delay`` first); a 429 without
Retry-After backs off 60 s, a 503 without one not at all. Cookies are never kept (a
source's own, from its ``RequestOptions``, are chosen anew at each hop); environment
proxies are ignored.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Coroutine

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from yarl import URL

from monitor.errors import (
    FetchBlocked,
    FetchError,
    FetchHTTPStatus,
    FetchPostponed,
    FetchTimeout,
    FetchTooLarge,
    FetchUnusable,
    NotModified,
)
from monitor.fetcherrors import Timeouts, classify, diagnose, log_outcome, loggable
from monitor.fetchhosts import Gate, HostBackoff, HostSlots
from monitor.fetchrequest import Request, bare_url, basic_auth, host_key, parse_url, request_headers
from monitor.models import FetchResult, RequestOptions
from monitor.netguard import (
    BodyDecodeError,
    BoundedBody,
    CookielessClient,
    Resolve,
    check_url,
    same_origin,
    session_factory,
    system_resolve,
)
from monitor.retryafter import parse_retry_after

__all__ = ["FetchPostponed", "FetchUnusable", "Fetcher", "classify", "diagnose",
           "parse_retry_after"]

logger = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HTML_TYPES = frozenset({"", "text/html", "application/xhtml+xml"})
_DEFAULT_429_DELAY = 60.0
_CHUNK = 64 * 1024
SLOW_AFTER = 5.0  # seconds a request runs before its host's politeness slot goes to the next
SLOW_OVERFLOW = 4
"""Connections to one host at most, as a multiple of ``per_host`` (slow requests let go)."""


def _foreign(e: BaseException, url: URL, timeout: Timeouts) -> FetchError:
    """The FetchError subclass an expected foreign exception ``e`` becomes (raise it from e)."""
    bare = bare_url(url)
    if isinstance(e, FetchBlocked):  # raised by the guarded resolver, deep inside aiohttp
        return FetchBlocked(str(e), e.url or bare)
    if isinstance(e, BodyDecodeError):
        return FetchUnusable(str(e), bare, reason="decode")
    reason, cause = diagnose(e, url, timeout)
    return (FetchTimeout if reason == "timeout" else FetchError)(cause, bare)


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")


class Fetcher:
    """Fetches URLs under byte, time, redirect and politeness limits; one per event loop."""

    def __init__(self, *, user_agent: str, max_bytes: int = 5_000_000,
                 connect_timeout: float = 10.0, read_timeout: float = 20.0,
                 deadline: float = 60.0, max_redirects: int = 5, max_connections: int = 100,
                 per_host: int = 2, allow_private_networks: bool = False,
                 resolver: Resolve | None = None) -> None:
        _check_positive(max_bytes=max_bytes, connect_timeout=connect_timeout,
                        read_timeout=read_timeout, deadline=deadline,
                        max_connections=max_connections, per_host=per_host)
        if max_redirects < 0 or not user_agent.strip():
            raise ValueError("max_redirects must be >= 0 and user_agent not blank")
        self._max_bytes, self._deadline = max_bytes, deadline
        self._max_redirects, self._allow_private = max_redirects, allow_private_networks
        resolve, connections = resolver or system_resolve, per_host * SLOW_OVERFLOW
        headers = {"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate, br",
                   "Accept": "*/*"}
        self._timeouts = Timeouts(connect=connect_timeout, read=read_timeout)
        self._default_timeout = self._client_timeout(self._timeouts, deadline)
        self._make_open = session_factory(resolve, guard=False, limit=max_connections,
                                          per_host=connections, headers=headers)
        self._make_guarded = session_factory(resolve, guard=True, limit=max_connections,
                                             per_host=connections, headers=headers)
        self._sessions: tuple[aiohttp.ClientSession, aiohttp.ClientSession] | None = None
        self._client = CookielessClient(
            transport=AiohttpTransport(client=session_factory(
                resolve, guard=False, limit=max_connections, per_host=connections)),
            headers=headers,
            timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout,
                                  write=read_timeout, pool=deadline),
            follow_redirects=False, trust_env=False)
        self._all = Gate(max_connections)
        self._hosts = HostSlots(per_host, SLOW_AFTER)
        self._backoff = HostBackoff(_DEFAULT_429_DELAY)

    @staticmethod
    def _client_timeout(t: Timeouts, left: float) -> aiohttp.ClientTimeout:
        """``connect`` and ``read`` per socket operation; the deadline's time ``left`` as
        aiohttp's total (its one timer a request, not rounded up to a second), which covers
        the wait for a pooled connection and the body, instead of an ``asyncio.timeout``."""
        return aiohttp.ClientTimeout(total=left, sock_connect=t.connect, sock_read=t.read,
                                     ceil_threshold=math.inf)

    @property
    def client(self) -> httpx.AsyncClient:
        """An httpx client for the webhook channels: not guarded (operator-written URLs),
        sharing no connection with the fetches."""
        return self._client

    def host_delay(self, url: str) -> float:
        """Seconds until the host of ``url`` may be contacted again (Retry-After), 0 if free."""
        try:
            key = host_key(URL(url))
        except (ValueError, TypeError):
            return 0.0
        return self._backoff.left(key)[0]

    def _session(self, guarded: bool) -> aiohttp.ClientSession:
        """The guarded or the open session, made at first use (aiohttp wants a running loop)."""
        if self._sessions is None:
            self._sessions = (self._make_open(), self._make_guarded())
        return self._sessions[guarded]

    async def aclose(self) -> None:
        if self._sessions is not None:
            for session in self._sessions:
                await session.close()
        await self._client.aclose()

    async def fetch(self, url: str, *, etag: str | None = None,
                    last_modified: str | None = None, trusted: bool = False,
                    allow_private: bool | None = None, html_only: bool = False,
                    max_bytes: int | None = None,
                    options: RequestOptions | None = None) -> FetchResult:
        """GET ``url`` following redirects; see the module docstring for what it raises.

        ``trusted`` (operator-written URLs) skips the SSRF guard for the first hop and for
        redirects on its origin (scheme, host, port), until a redirect leaves it;
        ``allow_private`` overrides the constructor's ``allow_private_networks``;
        ``max_bytes`` lowers the byte cap for this request. ``options`` are the source's
        own headers, user agent and cookies (sent only where each applies, hop by hop),
        and its byte cap and deadline, which replace the fetcher's (higher or lower).
        """
        result = await self.fetch_if_changed(
            url, etag=etag, last_modified=last_modified, trusted=trusted,
            allow_private=allow_private, html_only=html_only, max_bytes=max_bytes,
            options=options)
        if isinstance(result, NotModified):
            try:
                raise result
            finally:  # no cycle through this frame's traceback: freed without the GC
                del result
        return result

    async def fetch_if_changed(self, url: str, *, etag: str | None = None,
                               last_modified: str | None = None, trusted: bool = False,
                               allow_private: bool | None = None, html_only: bool = False,
                               max_bytes: int | None = None, options: RequestOptions | None = None
                               ) -> FetchResult | NotModified:
        """:meth:`fetch`, but a 304 is returned (a NotModified), not raised: a poll round
        of 304s raises nothing (bench/poll.py)."""
        open_ = self._allow_private if allow_private is None else allow_private
        started = time.monotonic()
        req = self._request(etag, last_modified, html_only, max_bytes, options, not open_)
        try:  # the redirects, hop by hop (in this frame: one coroutine less per request)
            target, guarded = parse_url(url), not (trusted or open_)
            origin = target if trusted else None  # the origin the operator vouched for
            for _ in range(self._max_redirects + 1):
                result = await self._hop(target, req, guarded)
                if not isinstance(result, URL):
                    break
                if origin is not None and not same_origin(result, origin):
                    origin = None  # left it: guarded from here on, back on it or not
                target, guarded = result, req.guarded and origin is None
            else:
                raise FetchUnusable(f"more than {self._max_redirects} redirects",
                                    bare_url(target), reason="redirects")
        except FetchError as e:
            log_outcome(logger, url, e, started)
            raise
        if isinstance(result, NotModified):
            log_outcome(logger, url, result, started)
        elif logger.isEnabledFor(logging.DEBUG):
            logger.debug("event=fetch url=%s final=%s status=%d bytes=%d duration_ms=%d",
                         loggable(url), loggable(result.url), result.status,
                         len(result.content), (time.monotonic() - started) * 1000)
        return result

    def _request(self, etag: str | None, last_modified: str | None, html_only: bool,
                 max_bytes: int | None, options: RequestOptions | None,
                 guarded: bool) -> Request:
        limit = min(max_bytes or self._max_bytes, self._max_bytes)
        deadline, timeout = self._deadline, None
        if options and options.max_bytes:
            limit = options.max_bytes
        if options and options.deadline:
            deadline = options.deadline
            connect = min(self._timeouts.connect or deadline, deadline)
            timeout = Timeouts(connect=connect, read=deadline)
        return Request(request_headers(etag, last_modified, html_only, options), guarded,
                        html_only, limit, deadline, timeout, options)

    def _past_deadline(self, req: Request, url: URL) -> FetchTimeout:
        return FetchTimeout(f"timed out after {req.deadline:g}s (the deadline for the whole "
                            "request)", bare_url(url))

    async def _wait(self, waiting: Coroutine[None, None, None], req: Request,
                    url: URL) -> None:
        """Wait for a slot; after the first hop, within the deadline (queueing for the
        first hop does not count)."""
        if req.ends is None:
            return await waiting
        try:
            async with asyncio.timeout_at(req.ends):
                await waiting
        except TimeoutError as e:
            raise self._past_deadline(req, url) from e

    async def _hop(self, url: URL, req: Request,
                   guarded: bool) -> FetchResult | NotModified | URL:
        """One request: a result, a 304, or the next URL of a redirect."""
        check_url(url, guarded=guarded)
        key = host_key(url)
        if self._backoff:
            self._backoff.check(key, bare_url(url))
        hold = self._hosts.hold(key)  # the host's slot, then one of all requests'
        counted = False
        try:
            if not hold.held:
                await self._wait(self._hosts.acquire(hold), req, url)
            if not self._all.take():
                await self._wait(self._all.wait(), req, url)
            counted = True
            timeout = self._hop_timeout(req, url)
            if self._backoff:
                self._backoff.check(key, bare_url(url))
            headers, sent = req.hop_headers(url), url
            if url.raw_user or url.raw_password:  # sent in an Authorization header
                headers, sent = {**headers, "Authorization": basic_auth(url)}, url.with_user(None)
            async with self._session(guarded).get(sent, headers=headers, allow_redirects=False,
                                                  timeout=timeout) as response:
                outcome = self._status(response, sent, key)
                if outcome is not None:
                    return outcome
                return await self._result(response, sent, req.html_only, req.limit)
        except (FetchBlocked, BodyDecodeError, aiohttp.ClientError, OSError) as e:
            if isinstance(e, TimeoutError) and asyncio.get_running_loop().time() >= (req.ends or 0):
                raise self._past_deadline(req, url) from e
            raise _foreign(e, url, req.timeout or self._timeouts) from e
        finally:
            if counted:
                self._all.release()
            self._hosts.end(hold)

    def _hop_timeout(self, req: Request, url: URL) -> aiohttp.ClientTimeout:
        """aiohttp's timeouts for a hop whose slots are held; the first starts the deadline."""
        now = asyncio.get_running_loop().time()
        if req.ends is None:  # the first hop: all of the deadline left
            req.ends = now + req.deadline
            return (self._client_timeout(req.timeout, req.deadline) if req.timeout
                    else self._default_timeout)
        left = req.ends - now
        if left <= 0:
            raise self._past_deadline(req, url)
        return self._client_timeout(req.timeout or self._timeouts, left)

    def _status(self, response: aiohttp.ClientResponse, url: URL,
                key: str) -> NotModified | URL | None:
        """What a status other than 2xx means; None for a 2xx (read the body)."""
        status = response.status
        if status == 304:  # returned, not raised: most polls end here (bench/poll.py)
            return NotModified(loggable(url))
        if 200 <= status <= 299:
            return None
        location = response.headers.get("location")
        if status in _REDIRECTS and location:  # credentials are not carried over
            return parse_url(location, url.with_user(None))
        retry_after = self._backoff.record(key, status, response.headers.get("retry-after"))
        raise FetchHTTPStatus(f"HTTP {status}", bare_url(url), status=status,
                              retry_after=retry_after)

    async def _result(self, response: aiohttp.ClientResponse, url: URL,
                      html_only: bool, limit: int) -> FetchResult:
        headers = response.headers
        ctype = headers.get("content-type", "")
        if html_only and ctype.split(";")[0].strip().lower() not in _HTML_TYPES:
            raise FetchUnusable(f"not HTML: {ctype}", bare_url(url), reason="not_html")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchTooLarge(f"Content-Length {declared} over {limit}", bare_url(url))
        bare = bare_url(url)
        body = BoundedBody(headers.get("content-encoding", ""), limit, bare)
        async for chunk in response.content.iter_chunked(_CHUNK):
            body.feed(chunk)
        content = body.content()
        if not content:
            raise FetchUnusable("empty body", bare, reason="empty")
        return FetchResult(url=bare, status=response.status, content=content,
                           content_type=ctype, etag=headers.get("etag"),
                           last_modified=headers.get("last-modified"),
                           headers=tuple((k.lower(), v) for k, v in headers.items()))
