"""The workspace's rules: rules made through the API (origin ``web``), edited in one
transaction with their audit row and a bump of the rules version every node watches.

A web rule's name, query, case and enabled flag are its ``rules`` row, the rest (channels,
feeds, digest, rate cap, match mode) its ``rule_settings`` row. A name is one live rule's
only: an enabled config rule or any web rule holding it makes a create or rename fail.
Deleting keeps the row (hits and alerts hang off its id) as origin ``deleted``, disabled.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Connection

from monitor.store import schema as t
from monitor.store.base import STORY_LOCK
from monitor.store.codec import as_utc, utc_or_none
from monitor.store.rules import RulesMixin

log = logging.getLogger(__name__)

WEB = "web"
DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class WebRule:
    """A rule made through the API, as stored."""

    id: int
    name: str
    query: str
    case_sensitive: bool = False
    enabled: bool = True
    settings: dict[str, Any] = field(default_factory=dict)  # [[watch]] keys: channels ...
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def audited(self) -> dict[str, Any]:
        """What the audit log keeps of it (before or after an edit)."""
        return {"id": self.id, "name": self.name, "query": self.query,
                "case_sensitive": self.case_sensitive, "enabled": self.enabled,
                **self.settings}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One edit of a rule: who, when, what, and the rule before and after it."""

    id: int
    at: datetime
    actor: str
    action: str  # create | update | delete
    rule_id: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class RuleEditsMixin(RulesMixin):
    """Rules written through the API, their audit log and the rules version."""

    def web_rules(self, rule_id: int | None = None) -> list[WebRule]:
        """The web rules (enabled or not; deleted ones never), by id; one with ``rule_id``."""
        r, s = t.rules.c, t.rule_settings.c
        query = (select(t.rules, s.settings).join_from(
            t.rules, t.rule_settings, s.rule_id == r.id, isouter=True)
            .where(r.origin == WEB).order_by(r.id))
        if rule_id is not None:
            query = query.where(r.id == rule_id)
        with self._begin() as conn:
            return [_web_rule(row._mapping) for row in conn.execute(query)]

    def rules_version(self) -> int:
        """A number every edit of a web rule raises (0 before the first)."""
        with self._begin() as conn:
            found = conn.execute(select(t.rules_version.c.version)).scalar()
        return int(found or 0)

    def save_rule(self, rule: WebRule, actor: str, now: datetime) -> tuple[WebRule | None, str]:
        """Create (``rule.id`` 0) or replace a web rule; ``(saved, "")`` or ``(None,
        why)``: the name is taken, or the rule is gone."""
        r = t.rules.c
        with self._begin() as conn:
            self._lock(conn, STORY_LOCK)  # rule syncs and article writes add rules under it
            taken = conn.execute(select(r.id, r.origin).where(
                r.name == rule.name, r.id != rule.id,
                or_(r.origin == WEB, and_(r.origin == "config", r.enabled))).limit(1)).first()
            if taken is not None:
                return None, (f"the name {rule.name!r} is taken by rule {taken.id} "
                              f"({'managed by config' if taken.origin == 'config' else 'web'})")
            values = {"name": rule.name, "query": rule.query, "enabled": rule.enabled,
                      "case_sensitive": rule.case_sensitive, "updated_at": now}
            before = None
            if rule.id:
                found = self._web_rule(conn, rule.id)
                if found is None:
                    return None, f"no rule {rule.id} made through the API"
                before = found.audited()
                conn.execute(update(t.rules).where(r.id == rule.id).values(**values))
                conn.execute(update(t.rule_settings).where(t.rule_settings.c.rule_id == rule.id)
                             .values(settings=rule.settings))
                rule_id = rule.id
            else:
                rule_id = conn.execute(t.rules.insert().returning(r.id), {
                    **values, "origin": WEB, "created_at": now}).scalar_one()
                conn.execute(t.rule_settings.insert(),
                             {"rule_id": rule_id, "settings": rule.settings})
            saved = self._web_rule(conn, rule_id)
            assert saved is not None
            self._audit(conn, actor, "update" if rule.id else "create", rule_id, before,
                        saved.audited(), now)
        self._rule_ids[saved.name] = rule_id  # an old name keeps its id: polls under way
        log.info("event=rule_saved rule_id=%d actor=%r action=%s", rule_id, actor,
                 "update" if rule.id else "create")
        return saved, ""

    def delete_rule(self, rule_id: int, actor: str, now: datetime) -> bool:
        """Delete a web rule (False: there is none with this id)."""
        with self._begin() as conn:
            self._lock(conn, STORY_LOCK)
            found = self._web_rule(conn, rule_id)
            if found is None:
                return False
            conn.execute(update(t.rules).where(t.rules.c.id == rule_id)
                         .values(origin=DELETED, enabled=False, updated_at=now))
            self._audit(conn, actor, "delete", rule_id, found.audited(), None, now)
        log.info("event=rule_deleted rule_id=%d actor=%r", rule_id, actor)
        return True

    def audit_log(self, limit: int = 100, rule_id: int | None = None) -> list[AuditEntry]:
        """The newest edits first."""
        a = t.rule_audit.c
        query = select(t.rule_audit).order_by(a.id.desc()).limit(limit)
        if rule_id is not None:
            query = query.where(a.rule_id == rule_id)
        with self._begin() as conn:
            rows = [row._mapping for row in conn.execute(query)]
        return [AuditEntry(m["id"], as_utc(m["at"]), m["actor"], m["action"], m["rule_id"],
                           m["before"], m["after"]) for m in rows]

    def remember_rule_ids(self, ids: Mapping[str, int]) -> None:
        """Rule name -> id, as the rules just built say (another node may have renamed or
        added one). Names no longer in use keep their ids, so a poll still matching with
        the rules it started with files its hits under the rule it meant (a rename made
        meanwhile included), never under a new row of the old name."""
        self._rule_ids.update(ids)

    def _web_rule(self, conn: Connection, rule_id: int) -> WebRule | None:
        r, s = t.rules.c, t.rule_settings.c
        row = conn.execute(select(t.rules, s.settings).join_from(
            t.rules, t.rule_settings, s.rule_id == r.id, isouter=True)
            .where(r.id == rule_id, r.origin == WEB)).first()
        return None if row is None else _web_rule(row._mapping)

    def _audit(self, conn: Connection, actor: str, action: str, rule_id: int,
               before: dict[str, Any] | None, after: dict[str, Any] | None,
               now: datetime) -> None:
        conn.execute(t.rule_audit.insert(), {"at": now, "actor": actor, "action": action,
                                             "rule_id": rule_id, "before": before,
                                             "after": after})
        v = t.rules_version.c
        bumped = conn.execute(update(t.rules_version).where(v.id == 1).values(
            version=v.version + 1, changed_at=now)).rowcount
        if not bumped:
            conn.execute(t.rules_version.insert(), {"id": 1, "version": 1, "changed_at": now})


def _web_rule(m: Any) -> WebRule:
    return WebRule(id=m["id"], name=m["name"], query=m["query"],
                   case_sensitive=bool(m["case_sensitive"]), enabled=bool(m["enabled"]),
                   settings=dict(m["settings"] or {}), created_at=utc_or_none(m["created_at"]),
                   updated_at=utc_or_none(m["updated_at"]))

