"""Sign-in for writes: ``[[users]]`` sessions in a signed cookie, CSRF tokens, the write gate.

Reading stays as it was (open on loopback, the bearer token beyond it); changing anything
needs an editor. A request is one when it carries ``Authorization: Bearer TOKEN`` (the
API's token; browsers never add it on their own, so it needs no CSRF token) or the session
cookie of a signed-in user whose role, read from the running config, is ``editor``, plus
that session's CSRF token in an ``X-CSRF-Token`` header or a ``csrf`` form field. The
Origin check (``monitor.web.hosts``) runs before all of this, in the security middleware.

The cookie is ``NAME.EXPIRES.NONCE.MAC``: HMAC-SHA256 over the rest and a digest of the
user's stored hash, so a new password or a removed user ends its sessions. The key is one
random key kept in the database (``Store.session_key``: made once, on first use, in one
transaction, whichever node comes first), so every node accepts the cookies any node
made and a restart keeps everyone signed in. It is read once per process, off the event
loop (``prepare``; until it is read no cookie stands for anyone). The cookie is
``HttpOnly``, ``SameSite=Strict`` and ``Secure`` unless the dashboard listens on loopback.
The CSRF token is an HMAC of the cookie (session-bound), so it too holds on every node;
the sign-in form has its own, double-submitted in a short-lived cookie.

Sign-out (``POST /logout``) ends the session on every node: the SHA-256 of the cookie
(never the cookie) is recorded with the cookie's expiry in the shared database
(``revoked_sessions``, ``monitor.web.signout``), and every node looks each cookie whose
signature holds up there (a primary-key read, in a worker thread) before it lets it stand
for anyone. A node keeps the sign-outs it has seen in memory, never "not signed out", so
every node refuses a signed-out cookie from the first request after the sign-out
committed; the user's other sessions go on. The retention job deletes the records whose
cookie has expired. Should the database be unreachable, a cookie is refused (its sign-out
cannot be checked), and a sign-out holds on its own node only (answered 503, logged).

The users' hash files are read once and again only when their stat changes
(``monitor.web.hashfiles``): a new password takes effect on the next request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import escape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import Scope

from monitor.config import UserSettings
from monitor.config.passwords import hash_password, verify_password
from monitor.errors import ConfigError, StorageError
from monitor.web.bodies import BODY_MAX, fields_of, is_json, read_body, strict_json
from monitor.web.hashfiles import HashFiles
from monitor.web.signout import Revocations, cookie_digest

log = logging.getLogger(__name__)

SESSION_COOKIE = "monitor_session"
LOGIN_COOKIE = "monitor_login"  # the sign-in form's double-submitted CSRF token
CSRF_HEADER = "x-csrf-token"
SESSION_SECONDS = 12 * 3600
LOGIN_SECONDS = 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FAILURES = 10  # failed sign-ins per (name, client address) within FAILURE_WINDOW
FAILURE_WINDOW = 900.0
FAILURE_KEYS = 10_000  # (name, address) pairs remembered at most (the oldest go first)

Handler = Callable[[Request, "Actor", Any], Response]
"""A write handler: the request, who makes it, and its body (a JSON value, a form's fields,
or None when there is none or it is no JSON)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a request: a user's name and role, or ``token`` for the bearer token."""

    name: str
    role: str
    csrf: str = ""  # the session's CSRF token ("" for the bearer token)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Auth:
    """Sessions of the users ``users()`` lists now, signed with the key ``key()`` gives
    (the database's, shared by every node; None: a random key for this app alone), signed
    out through ``revoke(digest, expiry)`` and ``revoked(digest)`` (the database's; None:
    in this process only)."""

    def __init__(self, users: Callable[[], Sequence[UserSettings]], *, secure: bool,
                 token: str | None = None, clock: Callable[[], float] = time.time,
                 key: Callable[[], bytes] | None = None,
                 revoked: Callable[[str], bool] | None = None,
                 revoke: Callable[[str, datetime], None] | None = None) -> None:
        self.users = users
        self.secure = secure
        self.token = token
        self.clock = clock
        self._load_key = key
        self._key: bytes | None = None if key else secrets.token_bytes(32)
        self.signouts = Revocations(revoked, revoke, clock)
        self.hashes = HashFiles()
        self._dummy: str | None = None  # verified against for an unknown name
        self._failures: dict[str, list[float]] = {}  # "ADDR NAME" -> failure times

    async def prepare(self) -> bool:
        """Read the signing key (once, in a worker thread); False: the database could not
        give it (then no cookie stands for anyone, and signing in is 503)."""
        if self._key is None and self._load_key is not None:
            try:
                self._key = await run_in_threadpool(self._load_key)
            except StorageError as e:
                log.error("event=web_session_key_unavailable error=%r", str(e))
                return False
        return self._key is not None

    def _signing_key(self) -> bytes:
        if self._key is None:  # every caller awaited prepare() first
            raise StorageError("the session key is not loaded yet")
        return self._key

    # -- passwords and cookies --------------------------------------------------------------

    def _stored(self, user: UserSettings) -> str | None:
        try:
            return self.hashes.read(user.password) if user.password else None
        except ConfigError as e:
            log.error("event=web_user_hash_unreadable user=%r error=%r", user.name, str(e))
            return None

    def _user(self, name: str) -> UserSettings | None:
        return next((u for u in self.users() if u.name == name), None)

    def check_password(self, name: str, password: str) -> UserSettings | None:
        """The user ``name`` when ``password`` is theirs; as slow for an unknown name."""
        user = self._user(name)
        stored = self._stored(user) if user else None
        if stored is None:
            self._dummy = self._dummy or hash_password(secrets.token_hex(8))
            verify_password(password, self._dummy)
            return None
        return user if verify_password(password, stored) else None

    def throttled(self, keys: Sequence[str]) -> float:
        """Seconds until any of ``keys`` may try again; 0: now."""
        now, wait = self.clock(), 0.0
        for key in keys:
            times = [t for t in self._failures.get(key, []) if t > now - FAILURE_WINDOW]
            if len(times) >= MAX_FAILURES:
                wait = max(wait, times[-MAX_FAILURES] + FAILURE_WINDOW - now)
        return wait

    def failed(self, keys: Sequence[str]) -> None:
        now = self.clock()
        for key in keys:
            times = [t for t in self._failures.pop(key, []) if t > now - FAILURE_WINDOW]
            self._failures[key] = [*times[-MAX_FAILURES:], now]  # newest last in the dict
        while len(self._failures) > FAILURE_KEYS:
            self._failures.pop(next(iter(self._failures)))

    def _mac(self, body: str, stored: str) -> str:
        pinned = hashlib.sha256(stored.encode("utf-8")).hexdigest()
        key = self._signing_key()
        return _b64(hmac.new(key, f"{body}|{pinned}".encode(), hashlib.sha256).digest())

    def issue(self, user: UserSettings) -> str:
        """A new session cookie's value for ``user``."""
        body = (f"{_b64(user.name.encode('utf-8'))}.{int(self.clock()) + SESSION_SECONDS}."
                f"{secrets.token_hex(12)}")
        return f"{body}.{self._mac(body, self._stored(user) or '')}"

    async def session(self, cookie: str | None) -> Actor | None:
        """The signed-in user a cookie stands for now, or None (forged, expired, signed out
        on any node, the user gone or their password changed; or the database unable to
        say whether it was signed out)."""
        actor = self._signed(cookie or "")
        if actor is None:
            return None
        try:
            if await self.signouts.revoked(cookie_digest(cookie or "")):
                return None
        except StorageError as e:
            log.error("event=web_session_unchecked user=%r error=%r", actor.name, str(e))
            return None
        return actor

    def _signed(self, cookie: str) -> Actor | None:
        """Who ``cookie`` stands for by its signature, date and the user's hash alone."""
        parts = cookie.split(".")
        if len(parts) != 4 or self._key is None:
            return None
        try:
            name = _unb64(parts[0]).decode("utf-8")
            expires = int(parts[1])
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        user = self._user(name)
        stored = self._stored(user) if user else None
        if user is None or stored is None or expires < self.clock():
            return None
        body = ".".join(parts[:3])
        if not _same(parts[3], self._mac(body, stored)):
            return None
        return Actor(user.name, user.role, self.csrf(cookie))

    def csrf(self, cookie: str) -> str:
        """The CSRF token bound to a session cookie."""
        key = self._signing_key()
        return _b64(hmac.new(key, f"csrf|{cookie}".encode(), hashlib.sha256).digest())

    async def scope_session(self, scope: Scope) -> Actor | None:
        """The session of a raw ASGI request (the security middleware's question)."""
        return await self.session(Request(scope).cookies.get(SESSION_COOKIE))

    # -- who writes ---------------------------------------------------------------------------

    def bearer(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not self.token:
            return False
        return _same(given.strip(), self.token)

    async def writer(self, request: Request) -> Actor | Response:
        """The editor making this request, or the refusal (401 unknown, 403 otherwise)."""
        if self.bearer(request):
            return Actor("token", "editor")
        if not await self.prepare():
            return _refuse(503, "database unavailable: the session key cannot be read")
        actor = await self.session(request.cookies.get(SESSION_COOKIE))
        if actor is None:
            return _refuse(401, "sign in first (POST /login) or send Authorization: Bearer "
                                "TOKEN")
        if (sent := await _sent_csrf(request)) is None:
            return _too_large()
        if not _same(sent, actor.csrf):
            log.warning("event=web_csrf_refused user=%r path=%s", actor.name, request.url.path)
            return _refuse(403, "missing or wrong CSRF token (X-CSRF-Token header or csrf "
                                "form field, from GET /api/session)")
        if actor.role != "editor":
            return _refuse(403, f"user {actor.name!r} is a {actor.role}: editors only")
        return actor

    def guard(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` (run in a thread, with the body read) for editors only, refusals
        answered here."""
        async def endpoint(request: Request) -> Response:
            actor = await self.writer(request)
            if isinstance(actor, Response):
                return actor
            body: Any = None
            if is_json(request):
                if (raw := await read_body(request)) is None:
                    return _too_large()
                try:
                    body = strict_json(raw or b"null")
                except (ValueError, UnicodeDecodeError, RecursionError):
                    return _refuse(400, "the body is not JSON")
            elif (fields := await fields_of(request)) is None:
                return _too_large()
            else:
                body = fields or None
            return await run_in_threadpool(handler, request, actor, body)
        return endpoint

    # -- the endpoints ------------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        """GET /login: the sign-in form, its CSRF token also in ``X-CSRF-Token``."""
        token = secrets.token_urlsafe(24)
        page = (f"<!DOCTYPE html><html lang=en><meta charset=utf-8><title>monitor: sign in"
                f"</title><form method=post action=/login><input type=hidden name=csrf "
                f"value=\"{escape(token)}\"><label>Name <input name=name autocomplete=username>"
                f"</label> <label>Password <input type=password name=password "
                f"autocomplete=current-password></label> <button>Sign in</button></form>")
        response = HTMLResponse(page, headers={"X-CSRF-Token": token})
        self._cookie(response, LOGIN_COOKIE, token, LOGIN_SECONDS)
        return response

    async def login(self, request: Request) -> Response:
        """POST /login (form or JSON: name, password, csrf): sets the session cookie."""
        fields, sent = await fields_of(request), await _sent_csrf(request)
        if fields is None or sent is None:
            return _too_large()
        if not await self.prepare():
            return _refuse(503, "database unavailable: the session key cannot be read")
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not _same(sent, expected):
            return _refuse(403, "missing or wrong CSRF token: GET /login first")
        name, password = str(fields.get("name", "")), str(fields.get("password", ""))
        client = request.client.host if request.client else "-"
        keys = (f"{client} {name[:200]}",)  # not per name alone: no one locks others out
        if wait := self.throttled(keys):
            log.warning("event=web_login_throttled user=%r client=%s", name[:100], client)
            return JSONResponse({"error": f"too many failed sign-ins: try again in "
                                          f"{int(wait) + 1} s"}, status_code=429,
                                headers={"Retry-After": str(int(wait) + 1)})
        user = await run_in_threadpool(self.check_password, name, password)
        if user is None:
            self.failed(keys)
            log.warning("event=web_login_failed user=%r client=%s", name[:100], client)
            return _refuse(401, "wrong name or password")
        cookie = self.issue(user)
        log.info("event=web_login user=%r role=%s", user.name, user.role)
        body = {"name": user.name, "role": user.role, "csrf": self.csrf(cookie)}
        response: Response = (JSONResponse(body) if is_json(request)
                              else RedirectResponse("/", status_code=303))
        self._cookie(response, SESSION_COOKIE, cookie, SESSION_SECONDS)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    async def logout(self, request: Request) -> Response:
        """POST /logout: ends this session on every node (its CSRF token required); 503
        when the database could not record it (then it ends on this node only)."""
        cookie = request.cookies.get(SESSION_COOKIE, "")
        await self.prepare()
        actor = await self.session(cookie)
        if actor is None:
            return _refuse(401, "not signed in")
        if (sent := await _sent_csrf(request)) is None:
            return _too_large()
        if not _same(sent, actor.csrf):
            return _refuse(403, "missing or wrong CSRF token")
        expires = float(cookie.split(".")[1])  # a signed cookie's, an integer
        recorded = await self.signouts.revoke(cookie_digest(cookie), expires, actor.name)
        log.info("event=web_logout user=%r everywhere=%s", actor.name, recorded)
        response = JSONResponse({"signed_in": False} if recorded else {
            "signed_in": False, "error": "database unavailable: signed out on this node "
                                         "only; others accept the cookie until it expires"},
            status_code=200 if recorded else 503)
        response.delete_cookie(SESSION_COOKIE, path="/", secure=self.secure, httponly=True,
                               samesite="strict")
        return response

    async def whoami(self, request: Request) -> Response:
        """GET /api/session: who is signed in, and the CSRF token to send with changes."""
        await self.prepare()
        actor = await self.session(request.cookies.get(SESSION_COOKIE))
        if actor is None:
            return JSONResponse({"signed_in": False, "bearer": self.bearer(request)})
        return JSONResponse({"signed_in": True, "name": actor.name, "role": actor.role,
                             "csrf": actor.csrf})

    def _cookie(self, response: Response, name: str, value: str, age: int) -> None:
        response.set_cookie(name, value, max_age=age, path="/", secure=self.secure,
                            httponly=True, samesite="strict")


def _same(given: str, expected: str) -> bool:
    """Constant-time equality of two strings, whatever characters they hold."""
    digest = hashlib.sha256
    return hmac.compare_digest(digest(given.encode("utf-8", "surrogateescape")).digest(),
                               digest(expected.encode("utf-8", "surrogateescape")).digest())


def _refuse(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def _too_large() -> Response:
    return _refuse(413, f"the body is larger than {BODY_MAX} bytes")


async def _sent_csrf(request: Request) -> str | None:
    """The CSRF token a request carries: the header, else a form's ``csrf`` field (None:
    the body is over ``BODY_MAX``)."""
    header = Headers(scope=request.scope).get(CSRF_HEADER)
    if header:
        return header
    if is_json(request):
        return ""  # JSON bodies send it in the header
    fields = await fields_of(request)
    return None if fields is None else str(fields.get("csrf", ""))
