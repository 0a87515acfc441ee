"""The rules area: the rules table synced from the config as feeds are, each rule with an
id that outlives a rename, and the lookup that turns a match's rule name into that id.

A config rule keeps its row by its explicit ``id`` (``[[watch]] id = 7``), else by its
name, else, renamed, by an unchanged query. Its hits, matches and alerts hang off the id,
so they follow it under its new name. Config rules no longer written are disabled, never
deleted; rules of another origin (the workspace's ``web``) are left alone.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.engine import Connection

from monitor.config import WatchSettings
from monitor.models import Match
from monitor.store import schema as t
from monitor.store.base import STORY_LOCK, chunks
from monitor.store.codec import rule_row
from monitor.store.records import RuleRow

if TYPE_CHECKING:
    from monitor.store.base import StoreBase
else:
    StoreBase = object

log = logging.getLogger(__name__)


class RulesMixin(StoreBase):
    """Rules and their stable ids."""

    def sync_rules(self, watches: Sequence[WatchSettings], now: datetime) -> dict[str, int]:
        """Make the rules table match the config's rules; return each one's id by name."""
        r = t.rules.c
        with self._begin() as conn:
            self._lock(conn, STORY_LOCK)  # article writes add rules under it too
            rows = [RuleRow(*row) for row in conn.execute(select(  # no dates: a sync reads all
                r.id, r.name, r.query, r.case_sensitive, r.origin, r.enabled))]
            pairs = list(zip(watches, pair_rules(watches, rows), strict=True))
            ids = {w.name: self._update_rule(conn, w, found, now)
                   for w, found in pairs if found is not None}
            ids.update(self._insert_rules(conn, [w for w, found in pairs if found is None], now))
            kept = set(ids.values())
            gone = [row.id for row in rows
                    if row.origin == "config" and row.enabled and row.id not in kept]
            for chunk in chunks(gone):
                conn.execute(update(t.rules).where(r.id.in_(chunk))
                             .values(enabled=False, updated_at=now))
        self._rule_ids.clear()  # a name may stand for another row now: look it up again
        return ids

    def rules(self) -> list[RuleRow]:
        """Every rule, enabled or not, by id."""
        with self._begin() as conn:
            return [rule_row(row._mapping)
                    for row in conn.execute(select(t.rules).order_by(t.rules.c.id))]

    def _update_rule(self, conn: Connection, watch: WatchSettings, found: RuleRow,
                     now: datetime) -> int:
        values = _values(watch)
        if found.name != watch.name:
            log.info("event=rule_renamed rule_id=%d old=%r new=%r", found.id, found.name,
                     watch.name)
        if any(getattr(found, k) != v for k, v in values.items()):
            conn.execute(update(t.rules).where(t.rules.c.id == found.id)
                         .values(**values, updated_at=now))
        return found.id

    def _insert_rules(self, conn: Connection, watches: Sequence[WatchSettings],
                      now: datetime) -> dict[str, int]:
        """Store new rules, those with an explicit id first, the rest in one statement."""
        stamped = {"created_at": now, "updated_at": now}
        named = [w for w in watches if w.id is not None]
        if named:
            conn.execute(t.rules.insert(), [{**_values(w), **stamped, "id": w.id}
                                            for w in named])
            if self.postgres:  # rules added later are numbered after these
                conn.execute(text("SELECT setval(pg_get_serial_sequence('rules', 'id'), "
                                  "(SELECT max(id) FROM rules))"))
        ids = {w.name: int(w.id) for w in named if w.id is not None}
        insert = t.rules.insert().returning(t.rules.c.id, sort_by_parameter_order=True)
        for chunk in chunks([w for w in watches if w.id is None]):
            added = conn.execute(insert, [{**_values(w), **stamped} for w in chunk]).scalars()
            ids.update(zip((w.name for w in chunk), added, strict=True))
        return ids

    # -- a match's rule, inside an article write -------------------------------------------

    @functools.cached_property
    def _rule_ids(self) -> dict[str, int]:
        """Rule name -> id, as article writes since the last sync looked them up."""
        return {}

    @functools.cached_property
    def _rule_sql(self) -> dict[str, Any]:
        r = t.rules.c
        return {"by_name": select(r.id).where(r.name == bindparam("name_"))
                .order_by(r.enabled.desc(), r.id.desc()).limit(1),
                "insert": t.rules.insert().returning(r.id)}

    def _rule_id(self, conn: Connection, match: Match, now: datetime,
                 learned: dict[str, int]) -> int:
        """The id of ``match``'s rule; a rule no sync has stored yet (a pipeline run
        without the daemon) is added. ``learned`` collects the lookups of this
        transaction, remembered once it commits."""
        found = learned.get(match.rule) or self._rule_ids.get(match.rule)
        if found is None:
            sql = self._rule_sql
            found = conn.execute(sql["by_name"], {"name_": match.rule}).scalar()
            if found is None:
                found = conn.execute(sql["insert"], {
                    "name": match.rule, "query": match.query, "case_sensitive": False,
                    "origin": "config", "enabled": True, "created_at": now,
                    "updated_at": now}).scalar_one()
            learned[match.rule] = int(found)
        return int(found)


def pair_rules(watches: Sequence[WatchSettings], rows: Sequence[RuleRow]
               ) -> list[RuleRow | None]:
    """The stored row each config rule keeps (None: a new rule), in four passes: an
    explicit ``id``; the same name; the same query (a rename); else none. A row goes to
    one rule at most; among several, an enabled one, then the newest. Pure."""
    by_id = {row.id: row for row in rows}
    out: list[RuleRow | None] = [by_id.get(w.id) if w.id is not None else None
                                 for w in watches]
    taken = {w.id for w in watches if w.id is not None}
    config = sorted((row for row in rows if row.origin == "config"),
                    key=lambda row: (not row.enabled, -row.id))
    for key in (_name, _query):
        index: dict[str | None, list[RuleRow]] = {}
        for row in config:
            index.setdefault(key(row), []).append(row)
        for i, watch in enumerate(watches):
            if watch.id is not None or out[i] is not None:
                continue
            found = next((row for row in index.get(key(watch), ()) if row.id not in taken),
                         None)
            if found is not None:
                out[i] = found
                taken.add(found.id)
    return out


def _values(watch: WatchSettings) -> dict[str, Any]:
    """What a config rule's row says of it."""
    return {"name": watch.name, "query": watch.query, "case_sensitive": watch.case_sensitive,
            "origin": "config", "enabled": True}


def _name(rule: WatchSettings | RuleRow) -> str:
    return rule.name


def _query(rule: WatchSettings | RuleRow) -> str | None:
    return rule.query or None  # a back-filled row's unknown query is no one's
