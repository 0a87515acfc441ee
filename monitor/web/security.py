"""Security for every response: strict headers, the names it answers, the bearer token.

A pure ASGI middleware (no buffering, works for any response). Every page's policy forbids
scripts but the workspace's (``PAGE_POLICIES``), which allows its own script file only.
With a ``HostCheck`` (``monitor.web.hosts``) a request whose ``Host`` the dashboard is not
reached by gets 400, and one other than GET/HEAD from a page of another site (its
``Origin``) gets 403: each is one ``event=web_bad_host`` / ``event=web_bad_origin`` line
(DNS rebinding, cross-site requests). With ``require_token`` every path except the public
ones (``/healthz``, ``/login``, and paths matching ``open_paths``: a rule's Atom feed, whose
own token is in its URL) needs ``Authorization: Bearer <token>`` or a signed-in user's
session cookie (``monitor.web.auth``); ``Basic`` with the token as the password is accepted
too, so a browser can log in. Tokens are compared in constant time (as SHA-256 digests, so
length leaks nothing).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.web.hosts import HostCheck

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                           "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
WORKSPACE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                    "img-src data:; form-action 'self'; base-uri 'none'; "
                    "frame-ancestors 'none'; require-trusted-types-for 'script'; "
                    "trusted-types workspace-marks")
"""The workspace page's policy: its own script and style sheet only (``monitor.web.workspace``),
requests to this origin only, and Trusted Types: markup is inserted through one checked
policy (escaped text with ``<mark>``), never from a plain string."""
PAGE_POLICIES = {"/workspace": WORKSPACE_POLICY}
"""Pages whose policy is not ``CONTENT_SECURITY_POLICY`` (no script at all)."""
SECURITY_HEADERS = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-resource-policy", "same-origin"),
    ("cache-control", "no-store"),
)
CHALLENGE = 'Bearer realm="monitor", Basic realm="monitor", charset="UTF-8"'


def _digest(value: str | bytes) -> bytes:
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    return hashlib.sha256(raw).digest()


def token_matches(header: str, token: str) -> bool:
    """Whether an Authorization header carries ``token`` (Bearer, or Basic password)."""
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True)
        except (binascii.Error, ValueError):
            return False
        credentials_bytes = decoded.partition(b":")[2]
        return hmac.compare_digest(_digest(credentials_bytes), _digest(token))
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(_digest(credentials), _digest(token))


class SecurityMiddleware:
    """Adds the security headers to every response; enforces the token when required."""

    def __init__(self, app: ASGIApp, token: str | None = None, require_token: bool = False,
                 public: Iterable[str] = ("/healthz", "/login"), hosts: HostCheck | None = None,
                 session: Callable[[Scope], Awaitable[object | None]] | None = None,
                 open_paths: Iterable[re.Pattern[str]] = (),
                 prepare: Callable[[], Awaitable[object]] | None = None) -> None:
        self.app = app
        self.prepare = prepare  # awaited before ``session`` is asked (loads its key)
        self.open_paths = tuple(open_paths)  # whole paths that carry their own credential
        self.session = session  # a signed-in user's cookie stands for the token
        self.token = token
        self.require_token = require_token
        self.public = frozenset(public)
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        policy = PAGE_POLICIES.get(scope.get("path", ""))

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers[name] = value
                if policy is not None:
                    headers["content-security-policy"] = policy
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send_secured)
            return
        if self.require_token and self.prepare is not None:
            await self.prepare()
        if self.require_token and not await self._allowed(scope):
            log.warning("event=web_unauthorized path=%s client=%s", scope.get("path"),
                        (scope.get("client") or ("-",))[0])
            response = JSONResponse({"error": "unauthorized: send Authorization: Bearer TOKEN"},
                                    status_code=401, headers={"WWW-Authenticate": CHALLENGE})
            await response(scope, receive, send_secured)
            return
        await self.app(scope, receive, send_secured)

    async def _allowed(self, scope: Scope) -> bool:
        path = str(scope.get("path", ""))
        if path in self.public or any(p.fullmatch(path) for p in self.open_paths):
            return True
        header = Headers(scope=scope).get("authorization")
        if self.token and header is not None and token_matches(header, self.token):
            return True
        return self.session is not None and await self.session(scope) is not None

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        """400 for a Host this server is not reached by, 403 for a cross-site change."""
        if self.hosts is None:
            return None
        headers = Headers(scope=scope)
        host, origin = headers.get("host"), headers.get("origin")
        port = int((scope.get("server") or ("", 80))[1] or 80)
        client = (scope.get("client") or ("-",))[0]
        if not self.hosts.host_allowed(host, port):
            log.warning("event=web_bad_host host=%r path=%s client=%s", host, scope.get("path"),
                        client)
            return JSONResponse({"error": "unknown Host: add the name to allowed_hosts"},
                                status_code=400)
        if not self.hosts.origin_allowed(scope.get("method", "GET"), origin, host, port):
            log.warning("event=web_bad_origin origin=%r method=%s path=%s client=%s", origin,
                        scope.get("method"), scope.get("path"), client)
            return JSONResponse({"error": "cross-site request refused"}, status_code=403)
        return None
