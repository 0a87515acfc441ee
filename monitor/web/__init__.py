"""The web side of the daemon: dashboard, JSON API, /metrics, /healthz, /readyz.

``create_app`` builds the Starlette app over a Store; ``serve`` runs it with uvicorn on the
daemon's event loop and returns a ``WebServer`` to ``stop()``. ``parse_address`` and
``is_loopback`` help decide where to listen and whether a token is required, ``HostCheck``
which ``Host`` names it answers. ``waiting_app`` answers the probes while the daemon
waits for its database at start-up, on the listener the full app then takes over.
"""

from __future__ import annotations

from monitor.web.app import create_app
from monitor.web.hosts import HostCheck
from monitor.web.server import WebServer, is_loopback, parse_address, serve
from monitor.web.waiting import waiting_app

__all__ = ["HostCheck", "WebServer", "create_app", "is_loopback", "parse_address", "serve",
           "waiting_app"]
