"""The web side of the daemon: dashboard, JSON API, /metrics, /healthz, /readyz.

``create_app`` builds the Starlette app over a Store; ``serve`` runs it with uvicorn on the
daemon's event loop and returns a ``WebServer`` to ``stop()``. ``parse_address`` and
``is_loopback`` help decide where to listen and whether a token is required, ``HostCheck``
which ``Host`` names it answers.
"""

from __future__ import annotations

from monitor.web.app import create_app
from monitor.web.hosts import HostCheck
from monitor.web.server import WebServer, is_loopback, parse_address, serve

__all__ = ["HostCheck", "WebServer", "create_app", "is_loopback", "parse_address", "serve"]
