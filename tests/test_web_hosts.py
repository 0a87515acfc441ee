"""The dashboard answers only the names it is reached by (issue 16, item 11: DNS rebinding).

A page the operator visits can point a name of its own at 127.0.0.1 and have the browser
read a tokenless loopback dashboard: such requests carry that name in ``Host``. Through a
real daemon serving on 127.0.0.1 (uvicorn), forged ``Host`` headers get 400 and a
cross-site ``Origin`` on anything but GET/HEAD gets 403, one log line each; loopback names
with the right port and ``allowed_hosts`` entries get through. Nothing dials beyond
loopback: the forged names only ever travel in headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from monitor.config import load_config
from monitor.daemon import Daemon, load
from monitor.errors import ConfigError
from monitor.testing import NewsServer
from monitor.web import HostCheck, create_app
from tests.helpers import write_config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def served(tmp_path: Path, news: NewsServer) -> AsyncIterator[tuple[int, Daemon]]:
    """A running daemon whose dashboard listens on 127.0.0.1 (no token), with one
    ``allowed_hosts`` entry for any port and one for port 8443 only."""
    port = free_port()
    path = write_config(tmp_path, news, None, None, watches="")
    path.write_text(path.read_text().replace(
        'web = ""', f'web = "127.0.0.1:{port}"\n'
                    'allowed_hosts = ["monitor.example.org", "desk.example.org:8443"]'))
    daemon = Daemon(load(str(path)), str(path))
    running = asyncio.create_task(daemon.run())
    try:
        for _ in range(200):
            if daemon.web:
                break
            await asyncio.sleep(0.05)
        assert daemon.web, "the dashboard did not start"
        yield port, daemon
    finally:
        daemon.stopping.set()
        await asyncio.wait_for(running, 30)
        await daemon.close()


@pytest.mark.parametrize(("host", "status"), [
    ("127.0.0.1:{port}", 200),
    ("localhost:{port}", 200),
    ("LOCALHOST.:{port}", 200),
    ("[::1]:{port}", 200),
    ("monitor.example.org:{port}", 200),     # allowed_hosts, any port
    ("monitor.example.org", 200),
    ("desk.example.org:8443", 200),          # allowed_hosts, that port only
    ("desk.example.org:{port}", 400),
    ("attacker.example:{port}", 400),        # DNS rebinding: the attacker's own name
    ("127.0.0.1.attacker.example:{port}", 400),
    ("localhost:{other}", 400),              # loopback names, but another port
    ("127.0.0.1", 400),
    ("[::1", 400),
], ids=["ip", "localhost", "localhost-dot-caps", "ipv6", "allowed", "allowed-no-port",
        "allowed-port", "allowed-wrong-port", "rebound-name", "lookalike", "other-port",
        "no-port", "malformed"])
async def test_host_header_is_checked_through_uvicorn(
        served: tuple[int, Daemon], host: str, status: int,
        caplog: pytest.LogCaptureFixture) -> None:
    port, _ = served
    forged = host.format(port=port, other=port + 1)
    caplog.set_level(logging.WARNING, logger="monitor.web.security")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for path in ("/api/feeds", "/healthz", "/"):
            answer = await http.get(path, headers={"Host": forged})
            assert answer.status_code == status, (path, answer.text)
    refusals = [r.getMessage() for r in caplog.records if "event=web_bad_host" in r.getMessage()]
    assert len(refusals) == (3 if status == 400 else 0)
    if status == 400:
        assert answer.json()["error"].startswith("unknown Host")
        assert answer.headers["x-frame-options"] == "DENY"  # still a secured response
        assert repr(forged) in refusals[0]


@pytest.mark.parametrize(("method", "origin", "status"), [
    ("POST", "http://attacker.example", 403),
    ("POST", "null", 403),
    ("DELETE", "http://127.0.0.1:{other}", 403),
    ("PUT", "https://localhost:{port}", 405),  # our own origin: on to the router (GET only)
    ("POST", "http://monitor.example.org", 405),
    ("POST", None, 405),                        # no Origin: not a browser's cross-site call
    ("GET", "http://attacker.example", 200),    # reads are guarded by Host
], ids=["foreign", "null", "other-port", "own", "allowed", "none", "get"])
async def test_origin_is_checked_for_requests_that_change_things(
        served: tuple[int, Daemon], method: str, origin: str | None, status: int,
        caplog: pytest.LogCaptureFixture) -> None:
    port, _ = served
    headers = {} if origin is None else {"Origin": origin.format(port=port, other=port + 1)}
    caplog.set_level(logging.WARNING, logger="monitor.web.security")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        answer = await http.request(method, "/api/feeds", headers=headers)
    assert answer.status_code == status, answer.text
    refusals = [r for r in caplog.records if "event=web_bad_origin" in r.getMessage()]
    assert len(refusals) == (1 if status == 403 else 0)


@contextlib.asynccontextmanager
async def asgi(listen: str, allowed: tuple[str, ...], tmp_path: Path,
               news: NewsServer) -> AsyncIterator[httpx.AsyncClient]:
    """The app as the daemon builds it for ``listen``, through an ASGI transport whose
    server is 127.0.0.1:8080."""
    path = write_config(tmp_path, news, None, None, watches="")
    daemon = Daemon(load(str(path)), str(path))
    app = create_app(daemon.services.store, lambda: daemon.config,
                     hosts=HostCheck(listen, allowed))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1:8080") as http:
            yield http
    finally:
        await daemon.close()


@pytest.mark.parametrize(("listen", "allowed", "host", "status"), [
    ("192.0.2.10", (), "192.0.2.10:8080", 200),          # one address: that address
    ("192.0.2.10", (), "127.0.0.1:8080", 400),
    ("192.0.2.10", (), "attacker.example:8080", 400),
    ("0.0.0.0", (), "attacker.example:8080", 200),       # every address, no list: token
    ("::", ("monitor.example.org",), "monitor.example.org:8080", 200),
    ("::", ("monitor.example.org",), "localhost:8080", 200),
    ("::", ("monitor.example.org",), "attacker.example:8080", 400),
], ids=["address", "address-not-loopback", "address-rebound", "every-unchecked",
        "every-allowed", "every-loopback", "every-rebound"])
async def test_where_it_listens_decides_the_names(
        tmp_path: Path, news: NewsServer, listen: str, allowed: tuple[str, ...], host: str,
        status: int) -> None:
    async with asgi(listen, allowed, tmp_path, news) as http:
        assert (await http.get("/healthz", headers={"Host": host})).status_code == status


async def test_unchecked_host_still_needs_a_same_site_origin(
        tmp_path: Path, news: NewsServer) -> None:
    async with asgi("0.0.0.0", (), tmp_path, news) as http:
        headers = {"Host": "10.1.2.3:8080", "Origin": "http://10.1.2.3:8080"}
        assert (await http.post("/api/feeds", headers=headers)).status_code == 405
        headers["Origin"] = "http://attacker.example"
        assert (await http.post("/api/feeds", headers=headers)).status_code == 403


def test_allowed_hosts_entries_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[monitor]\nallowed_hosts = ["ok.example", "http://bad.example/"]\n'
                    '[[feeds]]\nurl = "https://example.org/rss"\n')
    with pytest.raises(ConfigError, match=r"monitor.allowed_hosts\[1\]: expected host"):
        load_config(path)
