"""The hits area: one row per (rule, story), written with the matches (see ``articles``),
read here with the article that made it and its alerts, and triaged by a reader."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import and_, exists, select, update

from monitor.store import schema as t
from monitor.store.base import chunks
from monitor.store.codec import alert_row, hit_row
from monitor.store.records import HIT_STATES, AlertRow, HitRow

if TYPE_CHECKING:
    from monitor.store.base import StoreBase
else:
    StoreBase = object


class HitsMixin(StoreBase):
    """Hits: reads and triage."""

    def hits(self, limit: int = 50, alerted: bool = False) -> list[HitRow]:
        """The newest hits (by when the rule first matched the story), each with the
        story's first article the rule matched, the terms that fired there, and its
        alerts by channel; with ``alerted``, only hits that made an alert."""
        h, a, m = t.hits.c, t.articles.c, t.matches.c
        q = (select(t.hits, t.rules.c.name.label("rule"), m.terms, a.url, a.title, a.text,
                    a.author, a.published, a.language, a.source, a.from_feed,
                    a.partial)
             .join_from(t.hits, t.rules, t.rules.c.id == h.rule_id)
             .join(t.articles, a.id == h.article_id)
             .outerjoin(t.matches, and_(m.rule_id == h.rule_id, m.article_id == h.article_id))
             .order_by(h.first_seen.desc(), h.id.desc()).limit(limit))
        if alerted:
            q = q.where(exists().where(t.alerts.c.hit_id == h.id))
        with self._begin() as conn:
            rows = [r._mapping for r in conn.execute(q)]
            alerts: dict[int, list[AlertRow]] = {}
            for chunk in chunks([r["id"] for r in rows]):
                for r in conn.execute(t.alert_rows.where(t.alerts.c.hit_id.in_(chunk))
                                      .order_by(t.alerts.c.channel)):
                    alerts.setdefault(r.hit_id, []).append(alert_row(r._mapping))
        return [hit_row(r, tuple(alerts.get(r["id"], ()))) for r in rows]

    def triage_hit(self, hit_id: int, state: str, note: str | None = None) -> bool:
        """Set a hit's triage ``state`` (new | relevant | dismissed | muted) and, if
        given, its note; False if there is no such hit."""
        if state not in HIT_STATES:
            raise ValueError(f"unknown hit state {state!r}: one of {', '.join(HIT_STATES)}")
        values = {"state": state} if note is None else {"state": state, "note": note}
        with self._begin() as conn:
            done = conn.execute(update(t.hits).where(t.hits.c.id == hit_id).values(**values))
            return bool(done.rowcount)
