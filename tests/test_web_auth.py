"""Sign-in for writes (issue 15): ``[[users]]`` with scrypt hash files, a session cookie,
CSRF tokens, and the bearer token as before; through a real daemon serving on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from monitor.config import load_config
from monitor.config.passwords import check_hash, hash_password, verify_password
from monitor.daemon import Daemon
from monitor.errors import ConfigError
from monitor.store import Store
from monitor.testing import NewsServer
from monitor.web import HostCheck, create_app
from tests.helpers import write_config
from tests.webusers import CHEAP, PASSWORDS, serving, sign_in, users_toml


@pytest.fixture
async def site(tmp_path: Path, news: NewsServer) -> AsyncIterator[tuple[str, Daemon]]:
    path = write_config(tmp_path, news, None, None, watches="")
    path.write_text(path.read_text() + users_toml(tmp_path))
    async with serving(path) as served:
        yield served


def http(base: str, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, trust_env=False, headers=headers)


def test_hashes_verify_only_their_password() -> None:
    stored = hash_password("correct horse", cost=CHEAP)
    assert stored.startswith(f"scrypt${CHEAP}$8$1$") and check_hash(stored) is None
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert hash_password("correct horse", cost=CHEAP) != stored  # salted
    assert not verify_password("x", "plain-text-password")
    assert "monitor passwd" in (check_hash("plain-text-password") or "")
    assert "cost" in (check_hash("scrypt$1073741824$8$1$AAAAAAAAAAA$" + "A" * 43) or "")


def test_passwd_prints_a_hash_of_stdin() -> None:
    done = subprocess.run([sys.executable, "-m", "monitor", "passwd"], input="s3cret pass\n",
                          capture_output=True, text=True, check=True)
    assert verify_password("s3cret pass", done.stdout.strip())
    empty = subprocess.run([sys.executable, "-m", "monitor", "passwd"], input="\n",
                           capture_output=True, text=True)
    assert empty.returncode == 2 and "empty password" in empty.stderr


def test_users_are_validated(tmp_path: Path, news: NewsServer) -> None:
    path = write_config(tmp_path, news, None, None, watches="")
    (tmp_path / "plain").write_text("hunter2\n")
    path.write_text(path.read_text() + users_toml(tmp_path) + """
[[users]]
name = "ed"
password_file = "plain"
role = "admin"

[[users]]
name = "nobody"
""")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = "\n".join(caught.value.problems)
    assert "users[2].role: must be one of 'viewer', 'editor', not 'admin'" in problems
    assert "users[2].password_file: expected scrypt$" in problems
    assert "users[2].name: duplicate user name 'ed'" in problems
    assert "users[3].password_file: is required" in problems
    good = write_config(tmp_path, news, None, None, watches="")
    good.write_text(good.read_text() + users_toml(tmp_path))
    users = load_config(good).users
    assert [(u.name, u.role) for u in users] == [("ed", "editor"), ("vi", "viewer")]
    assert "long passphrase" not in repr(users)


async def test_sign_in_sets_a_strict_http_only_cookie(site: tuple[str, Daemon]) -> None:
    base, _ = site
    async with http(base) as c:
        assert (await c.get("/api/session")).json()["signed_in"] is False
        signed = await sign_in(c, "ed")
        assert signed.status_code == 303 and signed.headers["location"] == "/"
        cookie = next(v for v in signed.headers.get_list("set-cookie")
                      if v.startswith("monitor_session="))
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/"} <= flags
        assert "secure" not in flags  # on loopback: plain http must keep working
        me = (await c.get("/api/session")).json()
        assert me["signed_in"] and me["name"] == "ed" and me["role"] == "editor"
        assert len(me["csrf"]) >= 32


async def test_wrong_password_and_unknown_user_are_refused(site: tuple[str, Daemon]) -> None:
    base, _ = site
    async with http(base) as c:
        for name, password in (("ed", "wrong"), ("nobody", "x"), ("vi", PASSWORDS["ed"])):
            refused = await sign_in(c, name, password)
            assert refused.status_code == 401, name
            assert "monitor_session" not in c.cookies
        form = await c.get("/login")
        as_json = await c.post("/login", json={"name": "vi", "password": PASSWORDS["vi"]},
                               headers={"X-CSRF-Token": form.headers["x-csrf-token"]})
        assert as_json.status_code == 200 and as_json.json()["role"] == "viewer"


async def test_sign_in_and_out_need_their_csrf_tokens(site: tuple[str, Daemon]) -> None:
    base, _ = site
    async with http(base) as c:
        await c.get("/login")  # the double-submit cookie alone is not enough
        bare = await c.post("/login", data={"name": "ed", "password": PASSWORDS["ed"]})
        assert bare.status_code == 403 and "monitor_session" not in c.cookies
        forged = await c.post("/login", data={"name": "ed", "password": PASSWORDS["ed"],
                                              "csrf": "guessed"})
        assert forged.status_code == 403
        assert (await sign_in(c, "ed")).status_code == 303
        assert (await c.post("/logout")).status_code == 403
        token = (await c.get("/api/session")).json()["csrf"]
        cookie = c.cookies["monitor_session"]
        assert (await c.post("/logout", headers={"X-CSRF-Token": token})).status_code == 200
        c.cookies.set("monitor_session", cookie)  # a copy kept after sign-out is dead
        assert (await c.get("/api/session")).json()["signed_in"] is False


async def test_a_sign_in_body_is_bounded_and_strict(site: tuple[str, Daemon]) -> None:
    """Anyone may post to /login (its token is one GET away): a huge body is refused before
    it is read whole, a deeply nested one is no sign-in, not a 500."""
    base, _ = site
    async with http(base) as c:
        token = (await c.get("/login")).headers["x-csrf-token"]
        json_body = {"Content-Type": "application/json", "X-CSRF-Token": token}
        huge = await c.post("/login", headers=json_body, content=json.dumps(
            {"name": "ed", "password": "x" * 2_000_000}))
        assert huge.status_code == 413 and "larger than" in huge.json()["error"]
        form = await c.post("/login", data={"name": "ed", "password": "x" * 2_000_000,
                                            "csrf": token})
        assert form.status_code == 413
        deep = await c.post("/login", headers=json_body, content=b"[" * 100_000)
        assert deep.status_code == 401 and "monitor_session" not in c.cookies
        assert (await sign_in(c, "ed")).status_code == 303  # the token still works


async def test_a_cross_site_form_post_is_refused(site: tuple[str, Daemon]) -> None:
    base, _ = site
    async with http(base, Origin="http://evil.example") as c:
        form = await c.get("/login")
        posted = await c.post("/login", data={"name": "ed", "password": PASSWORDS["ed"],
                                              "csrf": form.headers["x-csrf-token"]})
        assert posted.status_code == 403 and "cross-site" in posted.json()["error"]


async def test_a_forged_cookie_is_nobody(site: tuple[str, Daemon]) -> None:
    base, _ = site
    async with http(base) as c:
        await sign_in(c, "vi")
        real = c.cookies["monitor_session"]
        name, expires, nonce, mac = real.split(".")
        ed = "ZWQ"  # base64 of "ed": a viewer's cookie renamed
        for forged in (f"{ed}.{expires}.{nonce}.{mac}", f"{name}.9999999999.{nonce}.{mac}",
                       "garbage", "a.b.c.d"):
            c.cookies.set("monitor_session", forged)
            assert (await c.get("/api/session")).json()["signed_in"] is False, forged


async def test_cookies_are_secure_beyond_loopback(tmp_path: Path, news: NewsServer) -> None:
    path = write_config(tmp_path, news, None, None, watches="")
    path.write_text(path.read_text() + users_toml(tmp_path))
    config = load_config(path)
    store = Store(config.monitor.database)
    store.migrate()
    try:
        app = create_app(store, lambda: config, token="tok", require_token=True,
                         hosts=HostCheck("0.0.0.0"))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="https://127.0.0.1") as c:
            page = await c.get("/login")  # public, though every other page needs the token
            assert page.status_code == 200
            assert re.search(r"name=csrf value=\"[\w-]+\"", page.text)
            assert (await c.get("/api/feeds")).status_code == 401
            signed = await c.post("/login", data={"name": "vi", "password": PASSWORDS["vi"],
                                                  "csrf": page.headers["x-csrf-token"]})
            assert signed.status_code == 303
            cookie = next(v for v in signed.headers.get_list("set-cookie")
                          if v.startswith("monitor_session="))
            assert "secure" in cookie.lower()
            assert (await c.get("/api/feeds")).status_code == 200  # a session is the token
    finally:
        store.close()


async def test_the_bearer_token_writes_basic_only_reads(tmp_path: Path,
                                                        news: NewsServer) -> None:
    path = write_config(tmp_path, news, None, None)
    config = load_config(path)
    store = Store(config.monitor.database)
    store.migrate()
    rule = {"name": "steel", "query": "steel", "channels": []}
    basic = "Basic " + base64.b64encode(b"x:tok").decode()
    try:
        app = create_app(store, lambda: config, token="tok", require_token=True,
                         hosts=HostCheck("127.0.0.1"))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1") as c:
            assert (await c.get("/api/rules", headers={"Authorization": basic})).is_success
            refused = await c.post("/api/rules", json=rule, headers={"Authorization": basic})
            assert refused.status_code == 401  # Basic rides along cross-site: no writes
            wrong = await c.post("/api/rules", json=rule, headers={"Authorization": "Bearer x"})
            assert wrong.status_code == 401
            made = await c.post("/api/rules", json=rule, headers={"Authorization": "Bearer tok"})
            assert made.status_code == 201 and made.json()["managed_by"] == "web"
    finally:
        store.close()


async def test_repeated_failures_are_throttled(site: tuple[str, Daemon]) -> None:
    base, _ = site
    async with http(base) as c:
        for _ in range(10):
            assert (await sign_in(c, "ed", "guess")).status_code == 401
        slowed = await sign_in(c, "ed")  # the right password, too late
        assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) > 0
        assert "monitor_session" not in c.cookies
