"""monitor.fetch end to end against real aiohttp servers on 127.0.0.1.

Conditional GET, bounded bodies (bombs, trickles, endless bodies), redirects, Retry-After,
the per-host limit, html_only and the classification of outcomes.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import gzip
import socket
import struct
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
import brotli  # type: ignore[import-untyped]
import httpx
import pytest
from aiohttp import web

from monitor.errors import (
    FetchBlocked,
    FetchError,
    FetchHTTPStatus,
    FetchTimeout,
    FetchTooLarge,
    NotModified,
)
from monitor.fetch import Fetcher, FetchUnusable, classify, diagnose

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UA = "monitor-test/1.0 (+https://example.org/bot)"


@dataclass
class Local:
    """A running local server: its base URL and the requests it saw."""

    base: str
    requests: list[web.Request] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


Serve = Callable[[dict[str, Handler]], Awaitable[Local]]
MakeFetcher = Callable[..., Fetcher]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start aiohttp apps on 127.0.0.1 with the given GET routes; stopped after the test."""
    runners: list[web.AppRunner] = []

    async def start(routes: dict[str, Handler]) -> Local:
        local = Local("")

        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            local.requests.append(request)
            return await handler(request)

        app = web.Application(middlewares=[record])
        for path, handler in routes.items():
            app.router.add_get(path, handler)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        local.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        return local

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def make_fetcher() -> AsyncIterator[MakeFetcher]:
    """Fetchers open to loopback (test servers live there), closed after the test."""
    made: list[Fetcher] = []

    def make(**kwargs: object) -> Fetcher:
        options: dict[str, object] = {"user_agent": UA, "allow_private_networks": True,
                                      "deadline": 8.0}
        fetcher = Fetcher(**(options | kwargs))  # type: ignore[arg-type]
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.aclose()


def text(body: bytes | str, headers: dict[str, str] | None = None, status: int = 200) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        data = body.encode() if isinstance(body, str) else body
        return web.Response(body=data, status=status, headers=headers)
    return handler


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


# -- conditional GET -------------------------------------------------------------------------


async def test_etag_second_fetch_is_not_modified(serve: Serve, make_fetcher: MakeFetcher) -> None:
    async def feed(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(text="<rss/>", headers={"ETag": '"v1"'})

    local = await serve({"/feed": feed})
    fetcher = make_fetcher()
    first = await fetcher.fetch(f"{local.base}/feed")
    assert (first.status, first.content, first.etag) == (200, b"<rss/>", '"v1"')
    with pytest.raises(NotModified):
        await fetcher.fetch(f"{local.base}/feed", etag=first.etag)
    assert local.requests[1].headers["If-None-Match"] == '"v1"'


async def test_last_modified_second_fetch_is_not_modified(serve: Serve,
                                                          make_fetcher: MakeFetcher) -> None:
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"

    async def feed(request: web.Request) -> web.Response:
        if request.headers.get("If-Modified-Since") == stamp:
            return web.Response(status=304)
        return web.Response(text="<rss/>", headers={"Last-Modified": stamp})

    local = await serve({"/feed": feed})
    fetcher = make_fetcher()
    first = await fetcher.fetch(f"{local.base}/feed")
    assert first.last_modified == stamp and first.etag is None
    with pytest.raises(NotModified):
        await fetcher.fetch(f"{local.base}/feed", last_modified=first.last_modified)


async def test_request_headers_and_shared_client(serve: Serve, make_fetcher: MakeFetcher) -> None:
    local = await serve({"/": text("ok")})
    fetcher = make_fetcher()
    await fetcher.fetch(f"{local.base}/")
    await fetcher.client.get(f"{local.base}/")  # the webhook channel's way in
    for request in local.requests:
        assert request.headers["User-Agent"] == UA
        assert request.headers["Accept-Encoding"] == "gzip, deflate, br"
    assert "If-None-Match" not in local.requests[0].headers


async def test_cookies_a_server_sets_are_never_sent_back(serve: Serve,
                                                        make_fetcher: MakeFetcher) -> None:
    async def setter(request: web.Request) -> web.Response:
        return web.Response(text="<rss/>", headers={"Set-Cookie": "session=abc; Path=/"})

    local = await serve({"/feed": setter, "/other": text("ok")})
    fetcher = make_fetcher()
    await fetcher.fetch(f"{local.base}/feed")
    await fetcher.fetch(f"{local.base}/other")
    await fetcher.client.get(f"{local.base}/other")  # the webhook channel's way in
    assert [r.headers.get("Cookie") for r in local.requests] == [None, None, None]
    assert not fetcher.client.cookies


# -- encodings and bounds --------------------------------------------------------------------

def _deflate_raw(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(("encoding", "encode"), [
    ("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", _deflate_raw),
    ("br", brotli.compress), ("identity", lambda data: data),
], ids=["gzip", "deflate-zlib", "deflate-raw", "br", "identity"])
async def test_body_is_decoded(serve: Serve, make_fetcher: MakeFetcher, encoding: str,
                               encode: Callable[[bytes], bytes]) -> None:
    page = b"<p>supply chain risk</p>" * 1000
    local = await serve({"/": text(encode(page), {"Content-Encoding": encoding})})
    result = await make_fetcher().fetch(f"{local.base}/")
    assert result.content == page


@functools.cache
def _brotli_bomb() -> bytes:
    """1 GB of zeros as about 1.6 KB of brotli: one read of it must not decode it all."""
    compressor, zeros = brotli.Compressor(quality=5), bytes(1 << 20)
    bomb: bytes = b"".join(compressor.process(zeros) for _ in range(1024)) + compressor.finish()
    return bomb


def _bomb(encoding: str) -> Handler:
    """1 GB of zeros, compressed on the fly (brotli: ahead of time), ~1 MB on the wire."""
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Encoding": encoding})
        await response.prepare(request)
        if encoding == "br":
            await response.write(_brotli_bomb())
            return response
        wbits = zlib.MAX_WBITS | 16 if encoding == "gzip" else zlib.MAX_WBITS
        compressor, zeros = zlib.compressobj(9, zlib.DEFLATED, wbits), bytes(1 << 20)
        for _ in range(1024):
            await response.write(compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH))
            await asyncio.sleep(0)  # let the client read; its disconnect ends the loop
        return response
    return handler


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
async def test_compression_bomb_stops_at_cap(serve: Serve, make_fetcher: MakeFetcher,
                                             encoding: str) -> None:
    local = await serve({"/bomb": _bomb(encoding)})
    fetcher = make_fetcher(max_bytes=5_000_000)
    before, started = rss_mb(), time.monotonic()
    with pytest.raises(FetchTooLarge) as caught:
        await fetcher.fetch(f"{local.base}/bomb")
    assert time.monotonic() - started < 10
    assert rss_mb() - before < 100
    assert classify(caught.value) == "too_large"


async def test_trickle_is_cut_off_at_the_deadline(serve: Serve, make_fetcher: MakeFetcher) -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "100"})
        await response.prepare(request)
        for _ in range(100):
            await response.write(b"x")
            await asyncio.sleep(1)
        return response

    local = await serve({"/slow": trickle})
    fetcher = make_fetcher(deadline=1.5, read_timeout=20)
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="deadline") as caught:
        await fetcher.fetch(f"{local.base}/slow")
    assert time.monotonic() - started < 10
    assert classify(caught.value) == "timeout"


async def test_endless_chunked_body_is_too_large(serve: Serve, make_fetcher: MakeFetcher) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        while True:
            await response.write(b"x" * 65536)

    local = await serve({"/endless": endless})
    with pytest.raises(FetchTooLarge):
        await make_fetcher(max_bytes=1_000_000).fetch(f"{local.base}/endless")


async def test_content_length_over_cap_fails_before_reading(serve: Serve,
                                                            make_fetcher: MakeFetcher) -> None:
    local = await serve({"/big": text(b"x" * 2_000_001)})
    with pytest.raises(FetchTooLarge, match="Content-Length"):
        await make_fetcher(max_bytes=2_000_000).fetch(f"{local.base}/big")


async def test_empty_body_is_unusable(serve: Serve, make_fetcher: MakeFetcher) -> None:
    local = await serve({"/": text(b"")})
    with pytest.raises(FetchUnusable) as caught:
        await make_fetcher().fetch(f"{local.base}/")
    assert classify(caught.value) == "empty"


async def test_corrupt_gzip_is_unusable(serve: Serve, make_fetcher: MakeFetcher) -> None:
    local = await serve({"/": text(b"not gzip at all", {"Content-Encoding": "gzip"})})
    with pytest.raises(FetchUnusable) as caught:
        await make_fetcher().fetch(f"{local.base}/")
    assert classify(caught.value) == "decode"


# -- redirects -------------------------------------------------------------------------------


async def test_redirects_are_followed_to_the_final_url(serve: Serve,
                                                       make_fetcher: MakeFetcher) -> None:
    routes: dict[str, Handler] = {f"/r{i}": _redirect(f"/r{i + 1}") for i in range(5)}
    local = await serve(routes | {"/r5": text("end")})
    result = await make_fetcher(max_redirects=5).fetch(f"{local.base}/r0")
    assert (result.url, result.content) == (f"{local.base}/r5", b"end")


async def test_redirect_loop_is_an_error(serve: Serve, make_fetcher: MakeFetcher) -> None:
    local = await serve({"/a": _redirect("/b"), "/b": _redirect("/a")})
    with pytest.raises(FetchError) as caught:
        await make_fetcher(max_redirects=5).fetch(f"{local.base}/a")
    assert classify(caught.value) == "redirects"
    assert len(local.requests) == 6


async def test_credentials_of_a_trusted_url_stay_on_the_first_hop(
        serve: Serve, make_fetcher: MakeFetcher) -> None:
    local = await serve({"/private.xml": text("<rss/>"), "/old.xml": _redirect("/private.xml")})
    fetcher = make_fetcher()
    creds = local.base.replace("http://", "http://reader:s3cret@")
    result = await fetcher.fetch(f"{creds}/private.xml", trusted=True)
    assert result.url == f"{local.base}/private.xml"  # results never carry the secret
    assert local.requests[0].headers["Authorization"].startswith("Basic ")
    await fetcher.fetch(f"{creds}/old.xml", trusted=True)
    assert "Authorization" not in local.requests[2].headers  # not carried over a redirect


def _redirect(to: str, status: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": to})
    return handler


# -- politeness ------------------------------------------------------------------------------


async def test_429_retry_after_delays_only_that_host(serve: Serve,
                                                     make_fetcher: MakeFetcher) -> None:
    limited = await serve({"/": text("slow down", {"Retry-After": "2"}, status=429)})
    other = await serve({"/": text("ok")})  # same IP, other port: another host
    fetcher = make_fetcher()
    with pytest.raises(FetchHTTPStatus) as first:
        await fetcher.fetch(f"{limited.base}/")
    assert (first.value.status, first.value.retry_after) == (429, 2.0)
    assert 0 < fetcher.host_delay(f"{limited.base}/anything") <= 2
    with pytest.raises(FetchHTTPStatus) as second:
        await fetcher.fetch(f"{limited.base}/")
    assert second.value.status == 429 and 0 < (second.value.retry_after or 0) <= 2
    assert len(limited.requests) == 1  # the second fetch never connected
    assert fetcher.host_delay(f"{other.base}/") == 0
    assert (await fetcher.fetch(f"{other.base}/")).content == b"ok"
    assert classify(second.value) == "http_429"


async def test_503_retry_after_http_date(serve: Serve, make_fetcher: MakeFetcher) -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    local = await serve({"/": text("down", {"Retry-After": when}, status=503)})
    fetcher = make_fetcher()
    with pytest.raises(FetchHTTPStatus) as caught:
        await fetcher.fetch(f"{local.base}/")
    assert caught.value.status == 503 and 100 < (caught.value.retry_after or 0) <= 120
    assert 100 < fetcher.host_delay(local.base) <= 120
    assert classify(caught.value) == "http_5xx"




async def test_per_host_limit(serve: Serve, make_fetcher: MakeFetcher) -> None:
    active, peak = 0, 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.15)
        active -= 1
        return web.Response(text="ok")

    local = await serve({"/": slow})
    fetcher = make_fetcher(per_host=2)
    results = await asyncio.gather(*(fetcher.fetch(f"{local.base}/?i={i}") for i in range(10)))
    assert [r.content for r in results] == [b"ok"] * 10
    assert peak == 2


# -- html_only, classification, conversion ---------------------------------------------------


async def test_html_only_refuses_pdf(serve: Serve, make_fetcher: MakeFetcher) -> None:
    html = {"Content-Type": "text/html; charset=utf-8"}
    local = await serve({"/doc.pdf": text(b"%PDF-1.7", {"Content-Type": "application/pdf"}),
                         "/page": text("<p>hi</p>", html)})
    fetcher = make_fetcher()
    with pytest.raises(FetchUnusable) as caught:
        await fetcher.fetch(f"{local.base}/doc.pdf", html_only=True)
    assert classify(caught.value) == "not_html"
    assert (await fetcher.fetch(f"{local.base}/page", html_only=True)).content == b"<p>hi</p>"
    assert (await fetcher.fetch(f"{local.base}/doc.pdf")).content == b"%PDF-1.7"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_refused_connection_is_a_network_error(make_fetcher: MakeFetcher) -> None:
    with pytest.raises(FetchError) as caught:
        await make_fetcher().fetch(f"http://127.0.0.1:{_closed_port()}/")
    assert type(caught.value) is FetchError
    assert isinstance(caught.value.__cause__, aiohttp.ClientError)
    assert classify(caught.value) == "network"


@contextlib.asynccontextmanager
async def raw_server(handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                      Awaitable[None]]) -> AsyncIterator[int]:
    """A bare TCP server on 127.0.0.1 (not HTTP); yields its port."""
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(100)  # the request, then a TCP reset instead of an answer
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(100)  # a TLS ClientHello, answered as an HTTP server would
    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    await writer.drain()
    writer.close()


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(100)
    await asyncio.sleep(0.5)  # answers nothing within the read timeout
    writer.close()


@pytest.mark.parametrize(("scheme", "handle", "expected", "reason"), [
    ("http", _reset, "connection reset (is this an https URL on an http port?)", "network"),
    ("https", _plain_http, "TLS handshake failed (is this an http-only port?)", "tls"),
    ("http", _silent, "timed out after 0.2s waiting for 127.0.0.1:{port}", "timeout"),
], ids=["reset", "https-to-http-port", "read-timeout"])
async def test_network_errors_name_their_cause(
        make_fetcher: MakeFetcher, scheme: str, expected: str, reason: str,
        handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
        ) -> None:
    async with raw_server(handle) as port:
        with pytest.raises(FetchError) as caught:
            await make_fetcher(read_timeout=0.2).fetch(f"{scheme}://127.0.0.1:{port}/feed")
    assert str(caught.value) == expected.format(port=port)
    assert caught.value.url == f"{scheme}://127.0.0.1:{port}/feed"
    assert classify(caught.value) == reason
    assert isinstance(caught.value, FetchTimeout) == (reason == "timeout")


async def _short_gzip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1000)  # a gzip body 50 bytes short of its Content-Length
    body = gzip.compress(b"<rss><channel><title>t</title></channel></rss>" * 4)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                 b"Content-Encoding: gzip\r\nConnection: close\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body) + 50, body))
    await writer.drain()
    writer.close()


async def _binary_status(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1000)  # gzip bytes where the status line should be
    writer.write(gzip.compress(b"\n".join([b"x" * 40] * 30)) + b"\r\n\r\n")
    await writer.drain()
    writer.close()


@pytest.mark.parametrize(("handle", "says"), [
    (_short_gzip, "Not enough data to satisfy content length header"),
    (_binary_status, "Bad status line"),
], ids=["short-body", "binary-status-line"])
async def test_a_broken_http_exchange_is_named_on_one_line(
        make_fetcher: MakeFetcher, says: str,
        handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
        ) -> None:
    # aiohttp's parser errors span lines and quote the raw bytes: a feed's last_error and
    # `monitor parse` printed them as they came
    async with raw_server(handle) as port:
        with pytest.raises(FetchError) as caught:
            await make_fetcher().fetch(f"http://127.0.0.1:{port}/feed")
    message = str(caught.value)
    assert message.startswith(f"bad HTTP exchange with 127.0.0.1:{port}: ")
    assert says in message
    assert message.isprintable() and len(message) <= 250
    assert classify(caught.value) == "network"


async def test_refused_connection_names_the_host_and_port(make_fetcher: MakeFetcher) -> None:
    port = _closed_port()
    with pytest.raises(FetchError) as caught:
        await make_fetcher().fetch(f"http://127.0.0.1:{port}/")
    assert str(caught.value) == f"connection refused by 127.0.0.1:{port}"


async def test_a_failed_dns_lookup_names_the_host(make_fetcher: MakeFetcher) -> None:
    asked: list[tuple[str, int]] = []

    async def no_such_host(host: str, port: int) -> list[str]:  # the resolver seam
        asked.append((host, port))
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(FetchError) as caught:
        await make_fetcher(resolver=no_such_host).fetch("https://news.example.test/feed.xml")
    assert str(caught.value) == "DNS lookup failed for news.example.test"
    assert classify(caught.value) == "dns" and asked == [("news.example.test", 443)]


def test_diagnose_names_causes_without_a_connection() -> None:
    url = httpx.URL("https://news.example.test:8443/feed")
    cases = [
        (socket.gaierror(-2, "no such name"), "DNS lookup failed for news.example.test"),
        (ConnectionRefusedError(111, "refused"), "connection refused by news.example.test:8443"),
        (ConnectionResetError(104, "reset"), "connection reset by news.example.test:8443"),
        (httpx.ReadTimeout("x"), "timed out after 20s waiting for news.example.test:8443"),
    ]
    for root, expected in cases:
        outer = FetchError("x")
        outer.__cause__ = httpx.ConnectTimeout("x")  # as httpx-aiohttp wraps every one
        outer.__cause__.__cause__ = root
        assert diagnose(outer, url, httpx.Timeout(10, read=20))[1] == expected


async def test_our_own_bugs_are_not_wrapped(make_fetcher: MakeFetcher) -> None:
    async def broken(host: str, port: int) -> list[str]:
        raise TypeError("a bug in our resolver")

    with pytest.raises(TypeError):
        await make_fetcher(resolver=broken).fetch("http://feeds.test/")


@pytest.mark.parametrize(("outcome", "reason"), [
    (304, "not_modified"), (401, "http_401"), (403, "http_403"), (404, "http_404"),
    (410, "http_410"), (429, "http_429"), (500, "http_5xx"), (503, "http_5xx"),
    (418, "http_4xx"), (200, "ok"),
    (FetchHTTPStatus("x", status=410), "http_410"), (FetchTimeout("x"), "timeout"),
    (FetchTooLarge("x"), "too_large"), (FetchBlocked("x"), "blocked"),
    (NotModified(), "not_modified"), (FetchUnusable("x", reason="empty"), "empty"),
    (httpx.ReadTimeout("x"), "timeout"), (httpx.ConnectError("x"), "network"),
    (socket.gaierror(-2, "Name or service not known"), "dns"),
    (FetchError("x"), "error"), (ValueError("x"), "internal"),
], ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v))
def test_classify(outcome: BaseException | int, reason: str) -> None:
    assert classify(outcome) == reason


def test_classify_follows_the_cause_chain() -> None:
    import ssl

    tls = FetchError("handshake failed")
    tls.__cause__ = httpx.ConnectError("x")
    tls.__cause__.__cause__ = ssl.SSLCertVerificationError("certificate verify failed")
    assert classify(tls) == "tls"
    refused = FetchError("refused")  # httpx-aiohttp labels refusals ConnectTimeout
    refused.__cause__ = httpx.ConnectTimeout("x")
    refused.__cause__.__cause__ = ConnectionRefusedError(111, "refused")
    assert classify(refused) == "network"


def test_constructor_validates() -> None:
    with pytest.raises(ValueError, match="per_host"):
        Fetcher(user_agent=UA, per_host=0)
    with pytest.raises(ValueError, match="user_agent"):
        Fetcher(user_agent=" ")
