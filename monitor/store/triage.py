"""Triage: a reader's verdict on a hit, and the mutes that keep a rule quiet.

Actions (``TRIAGE_ACTIONS``): ``relevant``, ``dismiss`` and ``reset`` set the hit's state
(relevant | dismissed | new); ``mute_story`` sets it ``muted``: the rule never alerts for
that story again, later copies included; ``mute_source`` dismisses the hit and records
(rule, outlet) in ``rule_mutes``: the rule no longer alerts for any article of that outlet
(``monitor.store.stories.outlet_of``: the article's source, else its URL's host).

Mutes are read where alerts are made, inside the transaction that stores an article
(``muted_rules``: one indexed query per matched article), so every node honours a mute
from the next article it stores, with no rebuild of the rule set: the rules version is
not bumped. Matches and hits are still stored; only the alerts are left out
(``event=muted``). Each triage is in the audit log (action ``triage``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from monitor.store import schema as t
from monitor.store.base import StoreBase
from monitor.store.codec import as_utc
from monitor.store.stories import StoryHit, outlet_of

log = logging.getLogger(__name__)

TRIAGE_ACTIONS = {"relevant": "relevant", "dismiss": "dismissed", "reset": "new",
                  "mute_story": "muted", "mute_source": "dismissed"}
"""Action -> the state it leaves the hit in."""


class TriageMixin(StoreBase):
    """Reading one hit, triaging it, the mutes."""

    def hit(self, hit_id: int) -> StoryHit | None:
        """One hit with its rule's name (None: no such hit)."""
        with self._begin() as conn:
            return _hit(conn, hit_id)

    def triage(self, hit_id: int, action: str, note: str | None, actor: str,
               now: datetime) -> tuple[StoryHit | None, str | None]:
        """Apply ``action`` (one of ``TRIAGE_ACTIONS``) to a hit, with ``note`` if given;
        the hit after it (None: no such hit) and, for ``mute_source``, the outlet muted."""
        state = TRIAGE_ACTIONS[action]  # KeyError: the caller checks the action
        with self._begin() as conn:
            before = _hit(conn, hit_id)
            if before is None:
                return None, None
            values: dict[str, Any] = {"state": state}
            if note is not None:
                values["note"] = note
            conn.execute(update(t.hits).where(t.hits.c.id == hit_id).values(**values))
            outlet = None
            if action == "mute_source":
                a = t.articles.c
                row = conn.execute(select(a.source, a.url).where(a.id == before.article_id)
                                   ).one()
                outlet = outlet_of(row.source or "", row.url)
                conn.execute(self._insert(t.rule_mutes).on_conflict_do_nothing(), {
                    "rule_id": before.rule_id, "source": outlet, "actor": actor,
                    "hit_id": hit_id, "created_at": now})
            after = _hit(conn, hit_id)
            conn.execute(t.rule_audit.insert(), {
                "at": now, "actor": actor, "action": "triage", "rule_id": before.rule_id,
                "before": _audited(before), "after": {**_audited(after), "action": action,
                                                      **({"muted_source": outlet}
                                                         if outlet is not None else {})}})
        log.info("event=triage hit_id=%d rule_id=%d action=%s actor=%r", hit_id,
                 before.rule_id, action, actor)
        return after, outlet

    def rule_mutes(self, rule_id: int | None = None) -> list[tuple[int, str]]:
        """The (rule id, outlet) pairs muted, of one rule or all."""
        m = t.rule_mutes.c
        q = select(m.rule_id, m.source).order_by(m.rule_id, m.source)
        if rule_id is not None:
            q = q.where(m.rule_id == rule_id)
        with self._begin() as conn:
            return [(int(r.rule_id), str(r.source)) for r in conn.execute(q)]


def muted_rules(conn: Connection, rule_ids: Collection[int], source: str, url: str
                ) -> set[int]:
    """Which of ``rule_ids`` muted the outlet of an article (``source``, ``url``)."""
    if not rule_ids:
        return set()
    m = t.rule_mutes.c
    return {int(r) for r in conn.execute(select(m.rule_id).where(
        m.source == outlet_of(source, url), m.rule_id.in_(list(rule_ids)))).scalars()}


def _hit(conn: Connection, hit_id: int) -> StoryHit | None:
    h, r = t.hits.c, t.rules.c
    row = conn.execute(select(h.id, h.rule_id, r.name, h.state, h.note, h.article_id,
                              h.story_id, h.first_seen, h.last_seen)
                       .join_from(t.hits, t.rules, r.id == h.rule_id)
                       .where(h.id == hit_id)).first()
    if row is None:
        return None
    return StoryHit(row.id, row.rule_id, row.name, row.state, row.note or "", row.article_id,
                    as_utc(row.first_seen), as_utc(row.last_seen), story_id=row.story_id)


def _audited(hit: StoryHit | None) -> dict[str, Any]:
    return {} if hit is None else {"hit_id": hit.id, "state": hit.state, "note": hit.note}
