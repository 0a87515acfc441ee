"""The SSRF guard of monitor.fetch: decisions on addresses, never dials.

Every test here records each socket connect; only loopback may ever be dialled, and the
refusal tests assert that nothing was dialled at all. Addresses outside loopback appear
only as answers of an injected resolver, which is all the guard needs to decide.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web
from yarl import URL

from monitor.errors import FetchBlocked
from monitor.fetch import Fetcher, classify
from monitor.netguard import is_public, parse_literal, same_origin

UA = "monitor-test/1.0 (+https://example.org/bot)"
BLOCKED = ["10.0.0.1", "169.254.169.254", "100.64.0.1", "fc00::1", "::1", "::ffff:127.0.0.1",
           "127.0.0.1", "0.0.0.0", "192.168.1.1", "172.16.5.4", "224.0.0.1", "255.255.255.255",
           "240.0.0.1", "fe80::1", "::", "::127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::1",
           "64:ff9b::a00:1", "ff02::1", "198.18.0.1"]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"]


@pytest.fixture
def dials(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address a socket in this process connects to; a non-loopback one fails the test."""
    seen: list[str] = []
    real = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        seen.append(host)
        assert ipaddress.ip_address(host.split("%")[0]).is_loopback, f"dialled {address!r}"
        return real(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


class Resolver:
    """A fake DNS: fixed answers, and a log of the names asked."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers, self.asked = answers, list[str]()

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.answers[host]


@pytest.fixture
async def fetchers() -> AsyncIterator[Callable[..., Fetcher]]:
    made: list[Fetcher] = []

    def make(**kwargs: object) -> Fetcher:
        fetcher = Fetcher(user_agent=UA, deadline=5.0, **kwargs)  # type: ignore[arg-type]
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.aclose()


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[str]]]:
    """One app on 127.0.0.1:P and 127.0.0.2:P: (P, paths it was asked for)."""
    paths: list[str] = []

    async def page(request: web.Request) -> web.Response:
        paths.append(request.path)
        if request.path == "/feed":
            return web.Response(status=302, headers={"Location": request.query["to"]})
        return web.Response(text="<p>secret</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    await web.TCPSite(runner, "127.0.0.2", port).start()
    yield port, paths
    await runner.cleanup()


# -- pure decisions --------------------------------------------------------------------------


@pytest.mark.parametrize("address", BLOCKED, ids=BLOCKED)
def test_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC, ids=PUBLIC)
def test_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(("host", "address"), [
    ("0x7f000001", "127.0.0.1"), ("2130706434", "127.0.0.2"), ("127.1", "127.0.0.1"),
    ("017700000001", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("1.2.3.4", "1.2.3.4"),
    ("::ffff:127.0.0.1", "::ffff:7f00:1"), ("example.org", None), ("cafe", None),
    ("1.2.3.4.example", None),
], ids=lambda v: str(v))
def test_parse_literal(host: str, address: str | None) -> None:
    parsed = parse_literal(host)
    assert (str(parsed) if parsed else None) == address


# -- refused without dialling ----------------------------------------------------------------


@pytest.mark.parametrize("address", BLOCKED[:8] + ["0x7f000001"], ids=BLOCKED[:8] + ["hex"])
async def test_hostname_resolving_to_non_public_is_refused(
        address: str, dials: list[str], fetchers: Callable[..., Fetcher]) -> None:
    answer = str(parse_literal(address) or address)
    resolver = Resolver({"news.test": [answer]})
    with pytest.raises(FetchBlocked) as caught:
        await fetchers(resolver=resolver).fetch("http://news.test/story")
    assert resolver.asked == ["news.test"] and dials == []
    assert classify(caught.value) == "blocked"


async def test_one_private_answer_among_public_ones_refuses_the_host(
        dials: list[str], fetchers: Callable[..., Fetcher]) -> None:
    resolver = Resolver({"mixed.test": ["93.184.216.34", "10.0.0.1"]})
    with pytest.raises(FetchBlocked):
        await fetchers(resolver=resolver).fetch("https://mixed.test/")
    assert dials == []


@pytest.mark.parametrize("url", [
    "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/",
    "http://[fc00::1]/", "http://[::1]:8080/", "http://[::ffff:127.0.0.1]/",
    "http://0x7f000001/", "http://2130706433/", "http://127.1/", "http://0/",
    "ftp://example.org/file", "file:///etc/passwd", "http://user:pass@example.org/",
    "gopher://127.0.0.1:25/",
])
async def test_url_refused_before_any_lookup(url: str, dials: list[str],
                                            fetchers: Callable[..., Fetcher]) -> None:
    resolver = Resolver({})
    with pytest.raises(FetchBlocked):
        await fetchers(resolver=resolver).fetch(url)
    assert resolver.asked == [] and dials == []


async def test_scheme_is_refused_even_when_trusted(fetchers: Callable[..., Fetcher]) -> None:
    with pytest.raises(FetchBlocked):
        await fetchers(allow_private_networks=True).fetch("ftp://127.0.0.1/", trusted=True)


# -- end to end through the real fetch path --------------------------------------------------


def _article_urls(port: int) -> list[str]:
    return [f"http://127.0.0.2:{port}/a", f"http://localhost:{port}/b",
            f"http://2130706434:{port}/c"]


async def test_loopback_article_links_reach_no_server(
        server: tuple[int, list[str]], dials: list[str],
        fetchers: Callable[..., Fetcher]) -> None:
    port, paths = server
    fetcher = fetchers()  # the real system resolver: localhost is 127.0.0.1 here
    for url in _article_urls(port):
        with pytest.raises(FetchBlocked):
            await fetcher.fetch(url, html_only=True)
    assert paths == [] and dials == []


async def test_allow_private_opens_loopback(server: tuple[int, list[str]], dials: list[str],
                                            fetchers: Callable[..., Fetcher]) -> None:
    port, paths = server
    per_call, per_fetcher = fetchers(), fetchers(allow_private_networks=True)
    for url in _article_urls(port):
        assert (await per_call.fetch(url, allow_private=True)).content == b"<p>secret</p>"
        assert (await per_fetcher.fetch(url)).status == 200
    with pytest.raises(FetchBlocked):  # the per-call flag overrides the constructor
        await per_fetcher.fetch(_article_urls(port)[0], allow_private=False)
    assert paths == ["/a", "/a", "/b", "/b", "/c", "/c"]
    assert dials and all(ipaddress.ip_address(d).is_loopback for d in dials)


async def test_trusted_feed_redirect_to_loopback_is_refused(
        server: tuple[int, list[str]], dials: list[str],
        fetchers: Callable[..., Fetcher]) -> None:
    port, paths = server
    fetcher = fetchers()
    for target in (f"http://127.0.0.2:{port}/article", f"http://localhost:{port}/article"):
        with pytest.raises(FetchBlocked):
            await fetcher.fetch(f"http://127.0.0.1:{port}/feed?to={target}", trusted=True)
    assert paths == ["/feed", "/feed"]  # the trusted first hop only
    assert set(dials) == {"127.0.0.1"}


async def test_trusted_redirect_on_the_same_origin_is_followed(
        server: tuple[int, list[str]], dials: list[str],
        fetchers: Callable[..., Fetcher]) -> None:
    port, paths = server
    fetcher = fetchers()
    for base in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        for target in ("/article", f"{base}/article", f"{base.upper()}/article"):
            result = await fetcher.fetch(f"{base}/feed?to={target}", trusted=True)
            assert result.content == b"<p>secret</p>"
            assert result.url.lower() == f"{base}/article"
    assert paths == ["/feed", "/article"] * 6
    assert dials and all(ipaddress.ip_address(d).is_loopback for d in dials)


def _free_port() -> int:
    with socket.socket() as sock:  # nothing listens on it once closed
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_trusted_redirect_to_another_origin_is_refused_on_the_address(
        server: tuple[int, list[str]], dials: list[str],
        fetchers: Callable[..., Fetcher]) -> None:
    port, paths = server
    other = _free_port()
    fetcher = fetchers()
    targets = [f"http://127.0.0.1:{other}/article",  # another port: another origin
               f"https://127.0.0.1:{port}/article",  # another scheme
               f"http://127.0.0.2:{port}/article", f"http://[::1]:{port}/article"]
    for target in targets:
        with pytest.raises(FetchBlocked, match="not public"):
            await fetcher.fetch(f"http://127.0.0.1:{port}/feed?to={target}", trusted=True)
    assert paths == ["/feed"] * len(targets)  # refused before connecting: no other dial
    assert set(dials) == {"127.0.0.1"}
    allowed = fetchers(allow_private_networks=True)  # unless private networks are allowed
    result = await allowed.fetch(f"http://127.0.0.1:{port}/feed?to=http://127.0.0.2:{port}/a")
    assert result.url == f"http://127.0.0.2:{port}/a"


@pytest.mark.parametrize(("a", "b", "same"), [
    ("http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b?x=1", True),
    ("http://Example.org/a", "http://example.org:80/b", True),
    ("https://example.org/a", "https://example.org:443/", True),
    ("http://example.org/a", "https://example.org/a", False),
    ("http://127.0.0.1:8080/a", "http://127.0.0.1:8081/a", False),
    ("http://127.0.0.1/a", "http://localhost/a", False),
    ("http://example.org/a", "http://www.example.org/a", False),
])
def test_same_origin(a: str, b: str, same: bool) -> None:
    assert same_origin(URL(a), URL(b)) is same


async def test_connects_to_the_checked_address_only(
        server: tuple[int, list[str]], dials: list[str],
        fetchers: Callable[..., Fetcher]) -> None:
    port, paths = server
    resolver = Resolver({"intranet.test": ["127.0.0.2"]})
    fetcher = fetchers(resolver=resolver)
    result = await fetcher.fetch(f"http://intranet.test:{port}/x", allow_private=True)
    assert result.url == f"http://intranet.test:{port}/x" and dials == ["127.0.0.2"]
    with pytest.raises(FetchBlocked):  # no reuse of the open session's keep-alive connection
        await fetcher.fetch(f"http://intranet.test:{port}/y")
    assert paths == ["/x"] and resolver.asked == ["intranet.test", "intranet.test"]

