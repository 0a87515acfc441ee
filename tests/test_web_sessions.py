"""Sessions across nodes (issue 15): the cookie signing key is one random key in the
database, so a cookie made by one node's sign-in form is good on every node and after a
restart; a changed password still ends it everywhere. Two web apps over one database
(a SQLite file, then PostgreSQL), each with its own ``Store`` as two nodes would have."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from monitor.config import Config, load_config
from monitor.config.passwords import hash_password
from monitor.store import Store
from monitor.testing import NewsServer
from monitor.web import HostCheck, create_app
from tests.helpers import write_config
from tests.webusers import CHEAP, csrf, sign_in, users_toml

RULE = {"name": "steel", "query": "steel AND tariff", "channels": []}


@asynccontextmanager
async def node(config: Config, beyond: bool = False) -> AsyncIterator[httpx.AsyncClient]:
    """A client of one node: its own store over the shared database, its own app (with
    ``beyond``, listening beyond loopback: every read needs the token or a session)."""
    store = Store(config.monitor.database)
    try:
        app = (create_app(store, lambda: config, token="tok", require_token=True,
                          hosts=HostCheck("0.0.0.0")) if beyond
               else create_app(store, lambda: config, hosts=HostCheck("127.0.0.1")))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="https://127.0.0.1") as c:
            yield c
    finally:
        store.close()


async def test_a_cookie_from_node_a_writes_on_node_b_and_survives_a_restart(
        tmp_path: Path, news: NewsServer, db_url: str) -> None:
    path = write_config(tmp_path, news, None, None, watches="", database=db_url)
    path.write_text(path.read_text() + users_toml(tmp_path))
    config = load_config(path)
    first = Store(config.monitor.database)
    first.migrate()
    first.close()
    async with node(config) as a, node(config) as b:
        signed = await sign_in(a, "ed")  # the real form: GET /login, then POST it
        assert signed.status_code == 303
        cookie = a.cookies["monitor_session"]
        token = await csrf(a)
        b.cookies.set("monitor_session", cookie)
        seen = (await b.get("/api/session")).json()
        assert seen["signed_in"] is True and seen["name"] == "ed"
        assert seen["csrf"] == token  # the CSRF token holds on every node too
        made = await b.post("/api/rules", json=RULE, headers={"X-CSRF-Token": token})
        assert made.status_code == 201, made.text
        audit = (await a.get("/api/audit")).json()["audit"]
        assert audit[0]["actor"] == "ed" and audit[0]["action"] == "create"

        # sign-out ends the session on the node that got it; elsewhere its expiry bounds it
        out = await b.post("/logout", headers={"X-CSRF-Token": token})
        assert out.status_code == 200
        b.cookies.set("monitor_session", cookie)
        assert (await b.get("/api/session")).json()["signed_in"] is False
        assert (await a.get("/api/session")).json()["signed_in"] is True

    async with node(config, beyond=True) as remote:  # the cookie stands for the token there
        assert (await remote.get("/api/feeds")).status_code == 401
        remote.cookies.set("monitor_session", cookie)
        assert (await remote.get("/api/feeds")).status_code == 200

    async with node(config) as restarted:  # a new process over the same database
        restarted.cookies.set("monitor_session", cookie)
        assert (await restarted.get("/api/session")).json()["signed_in"] is True
        again = await restarted.post("/api/rules", json={**RULE, "name": "steel 2"},
                                     headers={"X-CSRF-Token": token})
        assert again.status_code == 201, again.text

        (tmp_path / "ed.hash").write_text(hash_password("a new passphrase", cost=CHEAP))
        assert (await restarted.get("/api/session")).json()["signed_in"] is False
        refused = await restarted.post("/api/rules", json={**RULE, "name": "steel 3"},
                                       headers={"X-CSRF-Token": token})
        assert refused.status_code == 401
    async with node(config) as other:
        other.cookies.set("monitor_session", cookie)
        assert (await other.get("/api/session")).json()["signed_in"] is False


def test_the_session_key_is_made_once_and_shared(tmp_path: Path, db_url: str) -> None:
    one, two = Store(db_url), Store(db_url)
    try:
        one.migrate()
        key = two.session_key()
        assert len(key) == 32 and one.session_key() == key
        assert one.feed_secret() != key  # its own row, not the feed tokens' secret
    finally:
        one.close()
        two.close()
