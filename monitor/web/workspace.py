"""The analyst's workspace page: one HTML shell and its own script and style sheet.

``GET /workspace`` is the page (rules, preview, stories, triage, the rule panel), built in
the browser by ``static/workspace.js`` from the JSON API, so the server renders nothing
feed-derived into it; ``/workspace#rule=ID`` opens one rule (a spike notice's link,
``monitor.spikes.rule_link``). The script and the style sheet are files of this package, served
from ``/static/`` (no external assets, no build step). The page alone runs a script: its
Content-Security-Policy (``monitor.web.security.PAGE_POLICIES``) allows scripts and style
sheets from this origin only, and Trusted Types, so the one place that inserts markup (a
snippet's escaped text with ``<mark>`` around hits) is checked; the dashboard keeps its
no-script policy.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

PATH = "/workspace"
ASSETS = {"workspace.js": "text/javascript; charset=utf-8",
          "workspace.css": "text/css; charset=utf-8"}


@cache
def _asset(name: str) -> bytes:
    """A file of ``monitor/web/static`` (read once per process)."""
    return resources.files("monitor.web").joinpath("static", name).read_bytes()


@cache
def _page() -> bytes:
    return resources.files("monitor.web").joinpath("templates", "workspace.html").read_bytes()


def page(request: Request) -> Response:
    """GET /workspace: the page shell; everything in it comes from the JSON API."""
    return HTMLResponse(_page())


def asset(request: Request) -> Response:
    """GET /static/NAME: one of ``ASSETS`` (404 for anything else)."""
    name = str(request.path_params["name"])
    if name not in ASSETS:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(_asset(name), media_type=ASSETS[name])


def routes() -> list[Route]:
    """The page and its assets."""
    return [Route(PATH, page), Route("/static/{name}", asset)]
