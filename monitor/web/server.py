"""Serve the web app with uvicorn as a task on the daemon's own event loop.

``serve`` binds the socket itself (so a bad address is one clear error, raised before the
daemon says READY), starts uvicorn on it and returns a ``WebServer`` once it listens;
``await server.stop()`` ends it gracefully. Signals stay the daemon's: uvicorn's own
SIGINT/SIGTERM handlers are not installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from monitor.config import is_loopback as is_loopback  # re-exported by monitor.web
from monitor.config import parse_address as parse_address
from monitor.errors import ConfigError

log = logging.getLogger(__name__)

STOP_GRACE = 5


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the daemon owns SIGTERM/SIGINT/SIGHUP."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        raise ConfigError(f"monitor.web: cannot listen on {host}:{port}: {e.strerror or e}") \
            from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise ConfigError(f"monitor.web: cannot listen on {host}:{port}: {e.strerror or e}") \
            from None
    return sock


class _Switch:
    """The ASGI app uvicorn runs: hands each request to the app the server holds now."""

    def __init__(self, server: WebServer) -> None:
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.server.app(scope, receive, send)


class WebServer:
    """One uvicorn server on one socket; ``start`` then ``stop``."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.app = app  # ``switch`` replaces it
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the listening socket."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind, start serving, return once the server listens."""
        sock = _bind(self.host, self.port)
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(_Switch(self), log_level="warning", lifespan="off", log_config=None,
                                access_log=False, server_header=False, proxy_headers=False,
                                ws="none", http="h11", timeout_graceful_shutdown=STOP_GRACE)
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="web")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise ConfigError(f"monitor.web: the server on {self.url} did not start")
            await asyncio.sleep(0.01)
        log.info("event=web_started url=%s", self.url)

    def switch(self, app: ASGIApp) -> None:
        """Serve ``app`` from the next request on (requests under way finish on the old)."""
        self.app = app

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish (at most a few seconds)."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await self._task
        finally:
            self._server = self._task = None
        log.info("event=web_stopped url=%s", self.url)


async def serve(app: ASGIApp, host: str, port: int) -> WebServer:
    """Start serving ``app`` on ``host:port`` (0: any free port); stop with ``.stop()``."""
    server = WebServer(app, host, port)
    await server.start()
    return server
