"""Rules in the JSON API: list, read, create, replace, delete; the audit log.

``GET /api/rules`` lists the config's rules (``"managed_by": "config"``, read-only: a
change is 409 with the reason) and those made through the API (``"managed_by": "web"``,
stored in the database, ``monitor.store.ruleedits``). A written rule has ``[[watch]]``'s
keys (``monitor.config.ruledata``) plus ``enabled``; its query is checked by the rules
parser (400 naming the key and, for a query, the column). A PUT keeps the keys its body
leaves out and clears those it sends as ``null`` back to their defaults. Writes go through
the editor gate (``monitor.web.auth``): handlers here run in a worker thread with the body
read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from monitor import timeutil
from monitor.config import Config, WatchSettings
from monitor.config.ruledata import RuleProblem, check_rule, rule_settings, stored_rule
from monitor.rules import check_query
from monitor.store import AuditEntry, Store, WebRule
from monitor.web import views
from monitor.web.auth import Actor

log = logging.getLogger(__name__)

AUDIT_MAX = 500
QUERY_MAX = 10_000
"""Characters a web rule's query may have (a long OR list is a few thousand; the matcher
runs each query on every article)."""


def _check(query: str, case_sensitive: bool) -> None:
    check_query(query, case_sensitive=case_sensitive)


def _error(status: int, message: str, **more: Any) -> Response:
    return JSONResponse({"error": message, **more}, status_code=status)


def watch_json(w: WatchSettings) -> dict[str, Any]:
    """A rule's settings as the API shows them."""
    return {"name": w.name, "query": w.query, "channels": list(w.channels),
            "feeds": list(w.feeds), "digest": w.digest, "case_sensitive": w.case_sensitive,
            "match": w.match, "max_alerts_per_hour": w.max_alerts_per_hour,
            "languages": list(w.languages), "max_age": w.max_age,
            "spike": w.spike.written() if w.spike else None}


def web_watch(rule: WebRule) -> WatchSettings:
    """A stored web rule as the matcher takes it."""
    return replace(stored_rule(rule.id, rule.name, rule.query, rule.settings),
                   case_sensitive=rule.case_sensitive)


def stored_fields(rule: WebRule) -> dict[str, Any]:
    """A stored rule as the fields a body would write: the keys at defaults left out."""
    return {"name": rule.name, "query": rule.query,
            **rule_settings(web_watch(rule))}


def web_rule_json(rule: WebRule) -> dict[str, Any]:
    return {"id": rule.id, **watch_json(web_watch(rule)), "enabled": rule.enabled,
            "managed_by": "web", "created_at": timeutil.iso(rule.created_at),
            "updated_at": timeutil.iso(rule.updated_at)}


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": timeutil.iso(entry.at), "actor": entry.actor,
            "action": entry.action, "rule_id": entry.rule_id, "before": entry.before,
            "after": entry.after}


def _problems_json(problems: list[RuleProblem]) -> dict[str, Any]:
    first = problems[0]
    column = next((p.column for p in problems if p.column), None)
    return {"error": "; ".join(f"{p.key}: {p.message}" if p.key else p.message
                               for p in problems),
            "problems": [{"key": p.key, "message": p.message, "column": p.column or None}
                         for p in problems],
            "key": first.key, "column": column}


class RulesAPI:
    """The handlers; ``config()`` is the running config."""

    def __init__(self, store: Store, config: Callable[[], Config],
                 clock: Callable[[], datetime]) -> None:
        self.store = store
        self.config = config
        self.clock = clock

    # -- reads ------------------------------------------------------------------------------

    def list(self, request: Request) -> Response:
        config_rules = [{**views.rule_json(v), **watch_json(v.watch), "enabled": True,
                         "managed_by": "config"}
                        for v in views.rule_views(self.store, self.config(), self.clock())
                        if v.managed_by == "config"]
        web = [web_rule_json(r) for r in self.store.web_rules()]
        return JSONResponse({"rules": config_rules + web,
                             "version": self.store.rules_version()})

    def get(self, request: Request) -> Response:
        rule_id = _rule_id(request)
        found = self.store.web_rules(rule_id) if rule_id else []
        if found:
            return JSONResponse(web_rule_json(found[0]))
        config = self._config_rule(rule_id)
        if config is not None:
            return JSONResponse({"id": rule_id, **watch_json(config), "enabled": True,
                                 "managed_by": "config"})
        return _error(404, f"no rule {request.path_params['rule_id']}")

    def audit(self, request: Request) -> Response:
        given = {k: request.query_params.get(k, "") for k in ("limit", "rule")}
        for key, text in given.items():
            if text and not _rule_id(request, text):
                return _error(400, f"{key}: {text[:40]!r} is not a positive whole number")
        limit = min(_rule_id(request, given["limit"]) or 100, AUDIT_MAX)
        rule = _rule_id(request, given["rule"])
        entries = self.store.audit_log(limit, rule or None)
        return JSONResponse({"audit": [audit_json(e) for e in entries]})

    # -- writes (through the editor gate) ---------------------------------------------------

    def create(self, request: Request, actor: Actor, body: Any) -> Response:
        return self._save(None, actor, body)

    def update(self, request: Request, actor: Actor, body: Any) -> Response:
        rule_id = _rule_id(request)
        if refusal := self._refuse_config(rule_id):
            return refusal
        found = self.store.web_rules(rule_id) if rule_id else []
        if not found:
            return _error(404, f"no rule {request.path_params['rule_id']}")
        return self._save(found[0], actor, body)

    def delete(self, request: Request, actor: Actor, body: Any) -> Response:
        rule_id = _rule_id(request)
        if refusal := self._refuse_config(rule_id):
            return refusal
        if not rule_id or not self.store.delete_rule(rule_id, actor.name, self.clock()):
            return _error(404, f"no rule {request.path_params['rule_id']}")
        return JSONResponse({"deleted": rule_id, "version": self.store.rules_version()})

    def _save(self, current: WebRule | None, actor: Actor, body: Any) -> Response:
        if not isinstance(body, dict):
            return _error(400, "send the rule as a JSON object (Content-Type: "
                               "application/json)")
        fields = dict(body)
        if isinstance(fields.get("query"), str) and len(fields["query"]) > QUERY_MAX:
            return _error(400, f"query: at most {QUERY_MAX} characters", key="query")
        enabled = fields.pop("enabled", current.enabled if current else True)
        if not isinstance(enabled, bool):
            return _error(400, "enabled: expected true or false", key="enabled")
        if current is not None:  # PUT: what the body does not say stays
            fields = {**stored_fields(current), **fields}
        # null clears a key back to its default (a required one is then missing)
        fields = {k: v for k, v in fields.items() if v is not None}
        config = self.config()
        known = {f.name for f in config.feeds} | {t for f in config.feeds for t in f.tags}
        rule, problems = check_rule(fields, _check, channels=set(config.channels),
                                    feeds=known)
        if rule is None:
            return JSONResponse(_problems_json(problems), status_code=400)
        if any(w.name == rule.name for w in config.watches):
            return _error(409, f"the name {rule.name!r} is a rule managed by config",
                          key="name")
        saved, why = self.store.save_rule(
            WebRule(current.id if current else 0, rule.name, rule.query, rule.case_sensitive,
                    enabled, rule_settings(rule)), actor.name, self.clock())
        if saved is None:
            return _error(409, why, key="name")
        return JSONResponse(web_rule_json(saved), status_code=200 if current else 201)

    def _config_rule(self, rule_id: int) -> WatchSettings | None:
        rows = {r.id: r for r in self.store.rules() if r.origin == "config" and r.enabled}
        row = rows.get(rule_id)
        if row is None:
            return None
        return next((w for w in self.config().watches if w.name == row.name), None)

    def _refuse_config(self, rule_id: int) -> Response | None:
        if self._config_rule(rule_id) is None:
            return None
        path = self.config().path or "the config file"
        return _error(409, f"rule {rule_id} is managed by config: edit it in {path} and "
                           "reload (SIGHUP)", managed_by="config")


def _rule_id(request: Request, text: str | None = None) -> int:
    """The ``{rule_id}`` of the path, or ``text``, as a number (0 when it is none: ASCII
    digits only, so ``²`` is no id, and fewer than 10, so it fits the database's integer)."""
    text = str(request.path_params.get("rule_id", "")) if text is None else text
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else 0
