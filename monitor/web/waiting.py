"""The web app while the daemon waits for its database at start-up.

systemd and load balancers probe the daemon from its first second: ``/healthz`` says it
is alive, ``/readyz`` says 503 and why (the wait's latest try), neither asking the
database; every other path is a 503 saying the daemon is starting. The same listener then
serves the full app (``WebServer.switch``), so the probes never meet a closed port.
The token and the Host check are the full app's.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from monitor.config import is_loopback
from monitor.errors import ConfigError
from monitor.web.hosts import HostCheck
from monitor.web.security import SecurityMiddleware

STARTING = "starting: waiting for the database"


def waiting_app(reason: Callable[[], str], *, token: str | None, hosts: HostCheck) -> Starlette:
    """/healthz and /readyz while the database is awaited; ``reason`` says why not ready."""
    require_token = bool(token) or not is_loopback(hosts.listen)
    if require_token and not token:  # as create_app, so a bad config fails before the wait
        raise ConfigError("monitor.web_token_file: a token is required when the dashboard "
                          "listens beyond loopback (or set monitor.web_token_env)")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "starting": "waiting for the database"})

    async def readyz(request: Request) -> Response:
        return JSONResponse({"status": "not_ready", "checks": {"database": reason()},
                             "failing": ["database"], "reload": "ok"}, status_code=503)

    async def starting(request: Request) -> Response:
        return JSONResponse({"error": STARTING}, status_code=503,
                            headers={"Retry-After": "5"})

    routes = [Route("/healthz", healthz), Route("/readyz", readyz),
              Route("/{path:path}", starting, methods=["GET", "HEAD", "POST", "PUT", "DELETE"])]
    return Starlette(routes=routes, middleware=[Middleware(
        SecurityMiddleware, token=token, require_token=require_token, hosts=hosts)])
