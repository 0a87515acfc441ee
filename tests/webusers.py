"""Users for the sign-in tests: hash files, a daemon serving its dashboard on 127.0.0.1,
and signing in through the real forms (``test_web_auth.py``, ``test_rules_api.py``)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from monitor.config.passwords import hash_password
from monitor.daemon import Daemon, load

PASSWORDS = {"ed": "ed's long passphrase", "vi": "vi's long passphrase"}
CHEAP = 2**10  # scrypt cost for tests only: the format is the same


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def users_toml(folder: Path) -> str:
    """``[[users]]`` for ed (editor) and vi (viewer), their hashes in files in ``folder``."""
    text = ""
    for name, role in (("ed", "editor"), ("vi", "viewer")):
        (folder / f"{name}.hash").write_text(hash_password(PASSWORDS[name], cost=CHEAP) + "\n")
        text += f'\n[[users]]\nname = "{name}"\npassword_file = "{name}.hash"\nrole = "{role}"\n'
    return text


@asynccontextmanager
async def serving(config: Path, listen_extra: str = "") -> AsyncIterator[tuple[str, Daemon]]:
    """The daemon of ``config`` (``web = ""`` in it) listening on a free loopback port."""
    port = free_port()
    config.write_text(config.read_text().replace(
        'web = ""', f'web = "127.0.0.1:{port}"\n{listen_extra}'))
    daemon = Daemon(load(str(config)), str(config))
    running = asyncio.create_task(daemon.run())
    try:
        for _ in range(400):
            if daemon.web:
                break
            await asyncio.sleep(0.05)
        assert daemon.web, "the dashboard did not start"
        yield f"http://127.0.0.1:{port}", daemon
    finally:
        daemon.stopping.set()
        await asyncio.wait_for(running, 30)
        await daemon.close()


async def sign_in(client: httpx.AsyncClient, name: str, password: str | None = None
                  ) -> httpx.Response:
    """GET /login then POST it as the form does; the client keeps the cookies."""
    form = await client.get("/login")
    token = form.headers["x-csrf-token"]
    return await client.post("/login", data={"name": name, "csrf": token,
                                             "password": password or PASSWORDS[name]})


async def csrf(client: httpx.AsyncClient) -> str:
    """The signed-in session's CSRF token."""
    return str((await client.get("/api/session")).json()["csrf"])
