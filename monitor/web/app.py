"""The web app: dashboard, JSON API, /metrics, /healthz and /readyz (Starlette).

Handlers are plain functions, so Starlette runs them (and their blocking database reads)
in a worker thread, off the daemon's event loop; the probes are coroutines: /healthz
answers from memory, /readyz asks the database in a thread, bounded in time
(``monitor.web.ready``). Pages are rendered server-side by Jinja2
with autoescaping: feed-derived text is always data, never markup; the only markup that
wraps it is ``<mark>`` around escaped hits. The dashboard opens with the newest stories,
one card each (``stories.dashboard_stories``, the query ``/api/stories`` makes). No
scripts, no external assets; the workspace (``monitor.web.workspace``) is the one page
with a script, its own file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from monitor import timeutil
from monitor.alerts.render import highlight_html
from monitor.config import Config, is_loopback
from monitor.errors import ConfigError, StorageError
from monitor.jsonshape import alert_json
from monitor.metrics import CONTENT_TYPE, NODE_ALIVE_WITHIN, Metrics
from monitor.models import Snippet
from monitor.store import Store
from monitor.web import preview, rulefeeds, views, workspace
from monitor.web.auth import Auth
from monitor.web.hosts import HostCheck
from monitor.web.ready import DatabaseProbe
from monitor.web.rulesapi import RulesAPI
from monitor.web.rulestats import RuleStatsAPI
from monitor.web.security import SecurityMiddleware
from monitor.web.stories import StoriesAPI, dashboard_stories
from monitor.web.triage import TriageAPI

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ReloadFailure = Callable[[], tuple[str, datetime] | None]
"""The last failed config reload (error, when), None when the last reload worked."""


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return timeutil.iso(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class APIResponse(JSONResponse):
    """JSON with datetimes as ISO-8601 UTC."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=_default, ensure_ascii=False).encode("utf-8")


@dataclass
class _Handlers:
    store: Store
    config: Callable[[], Config]
    metrics: Metrics
    scheduler_running: Callable[[], bool]
    clock: Clock
    env: Environment
    reload_failure: ReloadFailure
    probe: DatabaseProbe

    # -- probes ---------------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        """Alive: answered from memory on the event loop, whatever the database does."""
        return APIResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        """Answered within ``ready.READY_BOUND`` seconds, the database frozen or not."""
        checks = views.readiness(await self.probe.check(), self.config(),
                                 self.scheduler_running, self.clock())
        failing = [name for name, verdict in checks.items() if verdict != "ok"]
        if failing:
            log.debug("event=not_ready failing=%s", ",".join(failing))
        # a failed reload leaves the previous config running: worth saying, not unready
        return APIResponse({"status": "not_ready" if failing else "ready", "checks": checks,
                            "failing": failing,
                            "reload": views.reload_verdict(self.reload_failure())},
                           status_code=503 if failing else 200)

    def metrics_text(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)

    # -- dashboard ------------------------------------------------------------------------

    def dashboard(self, request: Request) -> Response:
        now = self.clock()
        query = request.query_params.get("q", "").strip()
        case_sensitive = request.query_params.get("cs") == "1"
        found = views.search(self.store, query, case_sensitive) if query else None
        feeds = self.store.feeds()
        page = self.env.get_template("dashboard.html").render(
            now=now, q=query, cs=case_sensitive, search=found, feeds=feeds,
            stories=dashboard_stories(self.store),
            alerts=views.recent_alerts(self.store)[:50],
            rules=views.rule_views(self.store, self.config(), now),
            nodes=self.store.nodes(now, NODE_ALIVE_WITHIN),
            pending=self.store.count_alerts().get("pending", 0),
            channels=views.channel_views(self.store, self.config(), self.metrics),
            kinds=views.feed_kinds(self.config()),
            failing=sum(f.state == "failing" for f in feeds),
            degraded=sum(f.health == "degraded" for f in feeds),
            reload_failure=self.reload_failure(),
            chart_width=views.CHART_DAYS * (views.BAR_WIDTH + views.BAR_GAP),
            chart_height=views.CHART_HEIGHT, bar_width=views.BAR_WIDTH,
            scan_limit=views.SEARCH_SCAN)
        return HTMLResponse(page)

    # -- JSON API -------------------------------------------------------------------------

    def api_alerts(self, request: Request) -> Response:
        status = request.query_params.get("status") or None
        if status not in (None, *ALERT_STATUSES):
            return APIResponse({"error": f"status: {status!r} is not one of "
                                         f"{', '.join(ALERT_STATUSES)}"}, 400)
        limit = _int(request.query_params.get("limit"), 50, 1, 500)
        rows = self.store.list_alerts(status, limit)
        disabled = self.store.disabled_channels()
        return APIResponse({"alerts": [alert_json(r, disabled.get(r.channel)) for r in rows]})

    def api_channels(self, request: Request) -> Response:
        channels = views.channel_views(self.store, self.config(), self.metrics)
        return APIResponse({"channels": [views.channel_json(c) for c in channels]})

    def api_feeds(self, request: Request) -> Response:
        kinds, tags = views.feed_kinds(self.config()), views.feed_tags(self.config())
        return APIResponse({"feeds": [views.feed_json(f, kinds.get(f.name, "unknown"),
                                                      tags.get(f.name))
                                      for f in self.store.feeds()]})

    def api_search(self, request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        if not query:
            return APIResponse({"error": "missing query: /api/search?q=QUERY"}, 400)
        found = views.search(self.store, query, request.query_params.get("cs") == "1")
        if found.error:
            return APIResponse({"error": found.error, "column": found.column}, 400)
        return APIResponse(views.search_json(found))

    def api_nodes(self, request: Request) -> Response:
        nodes = self.store.nodes(self.clock(), NODE_ALIVE_WITHIN)
        return APIResponse({"nodes": [views.node_json(n) for n in nodes]})


ALERT_STATUSES = ("pending", "sent", "failed")
"""The ``status=`` values of /api/alerts: an alert's states in the outbox."""


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(high, max(low, int(value))) if value else default
    except ValueError:
        return default


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such path, method not allowed): under /api/ as JSON
    ``{"error"}`` like every other API answer, plain text elsewhere."""
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        return APIResponse({"error": f"{exc.detail.lower()}: {request.method} "
                                     f"{request.url.path[:200]}"},
                           status_code=exc.status_code, headers=exc.headers)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


async def _storage_error(request: Request, exc: Exception) -> Response:
    log.error("event=web_storage_error path=%s error=%r", request.url.path, str(exc))
    message = f"database unavailable: {exc}"
    if request.url.path.startswith("/api/"):
        return APIResponse({"error": message}, status_code=503)
    return HTMLResponse(f"<!DOCTYPE html><title>monitor</title><p>{escape(message)}</p>",
                        status_code=503)


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("monitor.web", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["highlight"] = _highlight
    env.filters["when"] = _when
    env.filters["href"] = _href
    env.filters["ago"] = _ago
    return env


def _highlight(snippet: Snippet) -> Markup:
    return highlight_html(snippet)


def _when(value: datetime | None) -> str:
    return timeutil.human(value) if value else "never"


def _ago(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "never"
    seconds = int((now - value).total_seconds())
    future, seconds = seconds < 0, abs(seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m"), (1, "s")):
        if seconds >= size or unit == "s":
            amount = f"{seconds // size}{unit}"
            return f"in {amount}" if future else f"{amount} ago"
    return ""  # pragma: no cover - the loop always returns


def _href(url: str) -> str | None:
    """``url`` if it is a web link (http/https); None for javascript:, data: and the rest."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    return url if scheme in ("http", "https") else None


def create_app(store: Store, config_getter: Callable[[], Config], *,
               metrics: Metrics | None = None,
               scheduler_running: Callable[[], bool] = lambda: True,
               token: str | None = None, require_token: bool = False,
               clock: Clock = timeutil.now,
               reload_failure: ReloadFailure = lambda: None,
               hosts: HostCheck | None = None) -> Starlette:
    """The web app over ``store``; ``config_getter`` returns the running config.

    ``metrics`` is the daemon's (a fresh one, with only the store gauges moving, if None).
    ``reload_failure`` says whether the last config reload failed (dashboard, /readyz).
    With ``require_token`` every route but /healthz needs ``Authorization: Bearer token``;
    with ``hosts`` only the Host names (and Origins) it allows are answered (the daemon
    always passes one).
    """
    if require_token and not token:
        raise ConfigError("monitor.web_token_file: a token is required when the dashboard "
                          "listens beyond loopback (or set monitor.web_token_env)")
    auth = Auth(lambda: config_getter().users, token=token, key=store.session_key,
                revoked=store.session_revoked, revoke=store.revoke_session,
                secure=hosts is not None and not is_loopback(hosts.listen))
    rules = RulesAPI(store, config_getter, clock)
    stories, triage = StoriesAPI(store, config_getter), TriageAPI(store, clock)
    h = _Handlers(store, config_getter, metrics or Metrics(store, clock=clock),
                  scheduler_running, clock, _environment(), reload_failure,
                  DatabaseProbe(store))
    routes = [
        Route("/", h.dashboard), Route("/healthz", h.healthz), Route("/readyz", h.readyz),
        Route("/metrics", h.metrics_text), Route("/api/alerts", h.api_alerts),
        Route("/api/feeds", h.api_feeds), Route("/api/rules", rules.list, methods=["GET"]),
        Route("/api/rules", auth.guard(rules.create), methods=["POST"]),
        Route("/api/rules/{rule_id}", rules.get, methods=["GET"]),
        Route("/api/rules/{rule_id}", auth.guard(rules.update), methods=["PUT"]),
        Route("/api/rules/{rule_id}", auth.guard(rules.delete), methods=["DELETE"]),
        Route("/api/rules/{rule_id}/stats", RuleStatsAPI(store, clock).stats),
        Route("/api/audit", rules.audit), Route("/api/stories", stories.list),
        Route("/api/hits/{hit_id}/triage", auth.guard(triage.triage), methods=["POST"]),
        Route("/api/search", h.api_search), Route("/api/nodes", h.api_nodes),
        Route("/api/channels", h.api_channels), preview.route(store, clock),
        *rulefeeds.routes(store, clock),
        Route("/login", auth.login_form, methods=["GET"]),
        Route("/login", auth.login, methods=["POST"]),
        Route("/logout", auth.logout, methods=["POST"]), Route("/api/session", auth.whoami),
        *workspace.routes(),
    ]
    middleware = [Middleware(SecurityMiddleware, token=token, require_token=require_token,
                             hosts=hosts, session=auth.scope_session, prepare=auth.prepare,
                             open_paths=[rulefeeds.FEED_PATH])]
    return Starlette(routes=routes, middleware=middleware,
                     exception_handlers={StorageError: _storage_error,
                                         HTTPException: _http_error})
