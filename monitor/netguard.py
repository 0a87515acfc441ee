"""Guards on what a remote server can make a fetch do: reach private addresses, or
hand us an unbounded body.

SSRF. Article links come from third-party feeds, so by default they may only reach
globally routable addresses. The guard works in two places:

* before each hop, on the URL alone (:func:`check_url`): the scheme must be http(s), a
  guarded URL carries no credentials, and an IP-literal host -- in any spelling, such as
  ``0x7f000001``, ``2130706434``, ``127.1``, ``::ffff:127.0.0.1`` -- must be public
  (:func:`normalise_url` first rewrites odd IPv4 spellings to dotted quads);
* at connect time, in :class:`CheckedResolver`: aiohttp asks it for a host's addresses;
  it resolves once, refuses the host if any address is not public, and returns exactly
  the checked addresses, which aiohttp dials without a second lookup (so a DNS-rebinding
  server gets no second chance).

Guarded and open requests go through two aiohttp sessions (:func:`session_factory`), so a
keep-alive connection opened to a private address for a trusted or intranet request is
never reused by a guarded one. Parsing a host as an IP literal is cached per host (a
poll round asks about the same hosts again and again); the rule itself is not.

Cookies. No session keeps any; :class:`CookielessClient` is an httpx client that keeps
none either (the webhook channels').

Bodies. :class:`BoundedBody` takes raw (still compressed) chunks and decompresses them
with bounded decompressors, so neither the raw nor the decoded body exceeds the cap.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
import zlib
from collections.abc import Awaitable, Callable

import aiohttp
import brotli  # type: ignore[import-untyped]
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from monitor.errors import FetchBlocked, FetchTooLarge

Resolve = Callable[[str, int], Awaitable[list[str]]]
"""An injectable resolver: ``(host, port) -> ["192.0.2.7", "2001:db8::7"]``."""

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEMES = frozenset({"http", "https"})
_NUMERIC_V4 = re.compile(r"^[0-9a-fA-FxX.]+$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")


def parse_ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """The address an IPv4 literal in any inet_aton spelling denotes, else None."""
    if not _NUMERIC_V4.match(host) or not any(c.isdigit() for c in host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def parse_literal(host: str) -> Address | None:
    """The address a URL host denotes if it is an IP literal (IPv4 odd forms too), else None."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.strip("[]"))
        except ValueError:
            return None
    return parse_ipv4_literal(host)


def _embedded_v4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, NAT64), if any."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr in _NAT64 or (int(addr) >> 32 == 0 and int(addr) > 1):
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def is_public(addr: Address) -> bool:
    """True if ``addr`` is globally routable unicast. Pure: touches no network."""
    if isinstance(addr, ipaddress.IPv6Address):
        inner = _embedded_v4(addr)
        if inner is not None:
            return is_public(inner)
        if addr.is_site_local:
            return False
    elif addr in _CGNAT:
        return False
    return addr.is_global and not (
        addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast
        or addr.is_reserved or addr.is_unspecified
    )


def check_address(text: str, host: str = "") -> None:
    """Raise FetchBlocked unless the address ``text`` is public."""
    addr = ipaddress.ip_address(text.split("%", 1)[0])
    if not is_public(addr):
        raise FetchBlocked(f"{host or text} resolves to non-public address {addr}")


@functools.lru_cache(maxsize=4096)
def _dotted(host: str) -> str | None:
    """The dotted quad an odd IPv4 literal host denotes, None when ``host`` is not one."""
    literal = parse_ipv4_literal(host)
    return None if literal is None or str(literal) == host else str(literal)


_literal = functools.lru_cache(maxsize=4096)(parse_literal)


def normalise_url(url: URL) -> URL:
    """``url`` with an odd IPv4 literal host (``2130706434``, ``127.1``) as a dotted quad."""
    dotted = _dotted(url.raw_host or "")
    return url if dotted is None else url.with_host(dotted)


def check_url(url: URL, *, guarded: bool) -> None:
    """Raise FetchBlocked if ``url`` may not be fetched; checks literals, never resolves."""
    if url.scheme not in _SCHEMES:
        raise FetchBlocked(f"scheme {url.scheme or '(none)'!r} is not http(s)", _shown(url))
    if not url.raw_host:
        raise FetchBlocked("URL has no host", _shown(url))
    if not guarded:
        return
    if url.raw_user or url.raw_password:
        raise FetchBlocked("URL carries credentials", _shown(url))
    literal = _literal(url.raw_host)
    if literal is not None and not is_public(literal):
        raise FetchBlocked(f"address {literal} is not public", _shown(url))


def same_origin(a: URL, b: URL) -> bool:
    """True if ``a`` and ``b`` share scheme, host and port (a default port written or not).

    Trust follows an origin: a redirect from a trusted URL (one the operator wrote) to the
    same origin reaches what the first hop reached, so it is trusted too. Pure."""
    return (a.scheme, (a.raw_host or "").lower(), a.port) == (
        b.scheme, (b.raw_host or "").lower(), b.port)


def _shown(url: URL) -> str:
    """``url`` without credentials, as errors show it."""
    return str(url.with_user(None) if url.raw_user or url.raw_password else url)


async def system_resolve(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver (getaddrinfo), in its order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class CheckedResolver(AbstractResolver):
    """aiohttp resolver that resolves once and, when ``guard`` is set, checks every address."""

    def __init__(self, resolve: Resolve, *, guard: bool) -> None:
        self._resolve = resolve
        self._guard = guard

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        literal = parse_literal(host.rstrip("."))
        addrs = [str(literal)] if literal is not None else await self._resolve(host, port)
        if not addrs:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} has no addresses")
        if self._guard:
            for addr in addrs:
                check_address(addr, host)
        return [_result(host, addr, port) for addr in addrs]

    async def close(self) -> None:
        """Nothing to release."""


def _result(host: str, addr: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    return ResolveResult(hostname=host, host=addr, port=port, family=family, proto=0,
                         flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV)


def session_factory(resolve: Resolve, *, guard: bool, limit: int, per_host: int,
                    headers: dict[str, str] | None = None
                    ) -> Callable[[], aiohttp.ClientSession]:
    """A factory for an aiohttp session whose resolver checks every address when ``guard``
    is set; aiohttp wants the session built inside the running loop. It keeps no cookies,
    reads no proxy from the environment and does not decompress (:class:`BoundedBody`)."""
    resolver = CheckedResolver(resolve, guard=guard)

    def make() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(resolver=resolver, limit=limit, limit_per_host=per_host,
                                         ssl=httpx.create_ssl_context(trust_env=True))
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                     auto_decompress=False, trust_env=False, headers=headers)

    return make


class CookielessClient(httpx.AsyncClient):
    """The webhook channels' client, which keeps no cookies: it reads none from responses
    (httpx would wrap each one for urllib's cookie jar)."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        raise TypeError("monitor's fetcher keeps no cookies: send a source's own per request")


class _NoCookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_NO_COOKIES = _NoCookies()


# -- bounded bodies -------------------------------------------------------------------------


class BodyDecodeError(Exception):
    """The body's content-encoding is unsupported or its data is corrupt."""


Step = Callable[[bytes, int], bytes]
"""A decompression step: (compressed chunk, room) -> about ``room`` bytes at most."""


class _ZlibStep:
    """gzip, or deflate (zlib-wrapped, falling back to raw deflate on the first chunk)."""

    def __init__(self, wbits: int) -> None:
        self._d, self._retry_raw = zlib.decompressobj(wbits), wbits == zlib.MAX_WBITS

    def __call__(self, data: bytes, room: int) -> bytes:
        retry_raw, self._retry_raw = self._retry_raw, False
        try:
            return self._d.decompress(data, room)
        except zlib.error:
            if not retry_raw:
                raise
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._d.decompress(data, room)


class _BrotliStep:
    def __init__(self) -> None:
        self._d = brotli.Decompressor()

    def __call__(self, data: bytes, room: int) -> bytes:
        out: bytes = self._d.process(data, output_buffer_limit=room)
        while len(out) < room and not self._d.can_accept_more_data():
            out += self._d.process(b"", output_buffer_limit=room - len(out))
        return out


def _identity(data: bytes, room: int) -> bytes:
    return data


def _decoder(encoding: str) -> Step:
    codings = [c.strip() for c in encoding.lower().split(",") if c.strip() not in ("", "identity")]
    if not codings:
        return _identity
    if codings in (["gzip"], ["x-gzip"]):
        return _ZlibStep(zlib.MAX_WBITS | 16)
    if codings == ["deflate"]:
        return _ZlibStep(zlib.MAX_WBITS)
    if codings == ["br"]:
        return _BrotliStep()
    raise BodyDecodeError(f"unsupported content-encoding {encoding!r}")


class BoundedBody:
    """Collects a body from raw chunks; more than ``limit`` bytes raw or decoded is refused.

    Raises FetchTooLarge past the cap and BodyDecodeError on a bad encoding.
    """

    def __init__(self, encoding: str, limit: int, url: str) -> None:
        self._step = _decoder(encoding)
        self._limit, self._url = limit, url
        self._raw = self._size = 0
        self._parts: list[bytes] = []

    def feed(self, chunk: bytes) -> None:
        self._raw += len(chunk)
        if self._raw > self._limit:
            raise FetchTooLarge(f"body over {self._limit} bytes", self._url)
        try:
            out = self._step(chunk, self._limit - self._size + 1)
        except (zlib.error, brotli.error) as e:
            raise BodyDecodeError(f"corrupt body: {e}") from e
        self._size += len(out)
        if self._size > self._limit:
            raise FetchTooLarge(f"body over {self._limit} bytes decompressed", self._url)
        self._parts.append(out)

    def content(self) -> bytes:
        return b"".join(self._parts)
