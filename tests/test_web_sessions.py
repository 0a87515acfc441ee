"""Sessions across nodes (issue 15): the cookie signing key is one random key in the
database, so a cookie made by one node's sign-in form is good on every node and after a
restart; a changed password still ends it everywhere, and so does signing out on any node
(the sign-out recorded in the database, its record pruned once the cookie has expired).
Two web apps over one database (a SQLite file, then PostgreSQL), each with its own
``Store`` as two nodes would have. The users' hash files are read once, and again when
they change."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect, select, text

from monitor.config import Config, RetentionSettings, Secret, load_config
from monitor.config.passwords import hash_password
from monitor.retention import Retention
from monitor.store import Store
from monitor.store import schema as t
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
    config = migrated(tmp_path, news, db_url)
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


def migrated(tmp_path: Path, news: NewsServer, db_url: str) -> Config:
    """The config of ed and vi over ``db_url``, its schema made."""
    path = write_config(tmp_path, news, None, None, watches="", database=db_url)
    path.write_text(path.read_text() + users_toml(tmp_path))
    config = load_config(path)
    first = Store(config.monitor.database)
    first.migrate()
    first.close()
    return config


async def signed_in(client: httpx.AsyncClient, name: str) -> tuple[str, str]:
    """A new session of ``name`` through the form: (its cookie, its CSRF token)."""
    client.cookies.clear()
    assert (await sign_in(client, name)).status_code == 303
    cookie = client.cookies["monitor_session"]
    return cookie, await csrf(client)


async def me(client: httpx.AsyncClient, cookie: str) -> bool:
    client.cookies.clear()
    client.cookies.set("monitor_session", cookie)
    return bool((await client.get("/api/session")).json()["signed_in"])


async def feeds(client: httpx.AsyncClient, cookie: str) -> int:
    """The status of GET /api/feeds with the session ``cookie``."""
    client.cookies.clear()
    client.cookies.set("monitor_session", cookie)
    return (await client.get("/api/feeds")).status_code


async def test_signing_out_on_one_node_ends_the_session_on_every_node(
        tmp_path: Path, news: NewsServer, db_url: str) -> None:
    config = migrated(tmp_path, news, db_url)
    async with node(config) as a, node(config) as b, node(config, beyond=True) as c:
        first, token = await signed_in(a, "ed")
        other, other_token = await signed_in(a, "ed")  # the same user, another browser
        assert await me(b, first) and await me(b, other)  # B has seen both, both good
        assert await feeds(c, first) == await feeds(c, other) == 200  # a session: C's token

        a.cookies.clear()
        a.cookies.set("monitor_session", first)
        out = await a.post("/logout", headers={"X-CSRF-Token": token})
        assert out.status_code == 200 and out.json() == {"signed_in": False}

        assert not await me(b, first)  # B's very next request refuses it
        b.cookies.set("monitor_session", first)
        refused = await b.post("/api/rules", json=RULE, headers={"X-CSRF-Token": token})
        assert refused.status_code == 401
        assert (await b.post("/logout", headers={"X-CSRF-Token": token})).status_code == 401
        assert await feeds(c, first) == 401  # beyond loopback: no token either

        assert await me(b, other)  # ed's other session goes on, on every node
        made = await b.post("/api/rules", json=RULE, headers={"X-CSRF-Token": other_token})
        assert made.status_code == 201, made.text
        assert await feeds(c, other) == 200
    async with node(config) as restarted:  # a node started after the sign-out
        assert not await me(restarted, first) and await me(restarted, other)

    store = Store(config.monitor.database)
    try:
        with store.engine.begin() as conn:
            rows = conn.execute(select(t.revoked_sessions)).all()
        assert [r[0] for r in rows] == [hashlib.sha256(first.encode()).hexdigest()]
        expires = int(first.split(".")[1])  # the cookie's own expiry, not the cookie
        stamp = rows[0][1] if rows[0][1].tzinfo else rows[0][1].replace(tzinfo=UTC)
        assert int(stamp.timestamp()) == expires
    finally:
        store.close()


async def test_expired_sign_outs_are_pruned(tmp_path: Path, news: NewsServer,
                                           db_url: str) -> None:
    config = migrated(tmp_path, news, db_url)
    async with node(config) as a:
        cookie, token = await signed_in(a, "vi")
        assert (await a.post("/logout", headers={"X-CSRF-Token": token})).status_code == 200
    store = Store(config.monitor.database)
    try:
        expires = datetime.fromtimestamp(int(cookie.split(".")[1]), UTC)
        digest = hashlib.sha256(cookie.encode()).hexdigest()
        store.revoke_session("0" * 64, expires - timedelta(hours=13))  # expired long ago
        assert store.session_revoked("0" * 64) and store.session_revoked(digest)
        settings = RetentionSettings(article_text_days=0, entries_days=0)

        now = await Retention(store, lambda: expires - timedelta(seconds=1)).run(settings)
        assert now.sessions == 1  # only the one whose cookie has expired
        assert not store.session_revoked("0" * 64) and store.session_revoked(digest)
        later = await Retention(store, lambda: expires + timedelta(seconds=1)).run(settings)
        assert later.sessions == 1 and not store.session_revoked(digest)
        with store.engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM revoked_sessions")).scalar() == 0
    finally:
        store.close()


async def test_a_hash_file_is_read_once_and_again_when_it_changes(
        tmp_path: Path, news: NewsServer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    config = migrated(tmp_path, news, f"sqlite:///{tmp_path / 'monitor.db'}")
    hashed = tmp_path / "ed.hash"
    settle(hashed, 600)  # written long ago, as a real hash file is
    reads: list[str] = []
    real = Secret.read

    def counted(secret: Secret, environ: Mapping[str, str] | None = None) -> str | None:
        if secret.file == str(hashed):
            reads.append(secret.file)
        return real(secret, environ)

    monkeypatch.setattr(Secret, "read", counted)
    async with node(config) as a:
        cookie, _ = await signed_in(a, "ed")
        for _ in range(20):
            assert await me(a, cookie)
        assert len(reads) == 1  # 22 requests, one read

        hashed.write_text(hash_password("a new passphrase", cost=CHEAP))  # same size, inode
        assert not await me(a, cookie)  # the next request sees it
        assert (await sign_in(a, "ed")).status_code == 401  # the old password
        a.cookies.clear()
        assert (await sign_in(a, "ed", "a new passphrase")).status_code == 303
        renewed = a.cookies["monitor_session"]
        settle(hashed, 300)
        before = len(reads)
        for _ in range(20):
            assert await me(a, renewed)
        assert len(reads) == before + 1  # read again once, then kept

        kept = hashed.read_text()
        hashed.unlink()
        with caplog.at_level(logging.ERROR, logger="monitor.web.auth"):
            assert not await me(a, renewed) and not await me(a, renewed)
        unreadable = [r.getMessage() for r in caplog.records
                      if "event=web_user_hash_unreadable" in r.getMessage()]
        assert len(unreadable) == 2 and "cannot read" in unreadable[0]  # each time, clearly
        hashed.write_text(kept)
        assert await me(a, renewed)  # back as soon as it is


def settle(path: Path, age: float) -> None:
    """Date ``path`` ``age`` seconds back (a file not touched lately)."""
    then = time.time() - age
    os.utime(path, (then, then))


def test_version_13_adds_the_sign_out_table(db_url: str) -> None:
    store = Store(db_url)
    try:
        store.migrate()
        with store.engine.begin() as conn:  # back to version 12, before it
            conn.execute(text("DROP TABLE revoked_sessions"))
            conn.execute(text("UPDATE schema_version SET version = 12"))
        assert store.migrate() == t.CURRENT_VERSION == 13
        found = inspect(store.engine)
        assert "revoked_sessions" in found.get_table_names()
        assert any(i["column_names"] == ["expires_at"]  # what the pruning deletes by
                   for i in found.get_indexes("revoked_sessions"))
        store.revoke_session("a" * 64, datetime.now(UTC) + timedelta(hours=1))
        assert store.session_revoked("a" * 64) and not store.session_revoked("b" * 64)
    finally:
        store.close()
