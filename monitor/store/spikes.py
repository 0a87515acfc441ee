"""The spikes area: the hits of some rules in given hours, the spikes raised (one per rule
and hour, with its notices in the same transaction), and per-rule feeds: a rule's newest
hits and the secret its feed token is made with; and the key session cookies are signed
with (``monitor.web.auth``), the same kind of shared secret.

Raising is check-then-insert under one lock (PostgreSQL) or SQLite's single writer: of
several nodes seeing the same spike, one stores it and enqueues its notices; the others
find it stored and send nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, or_, select

from monitor.models import Notice
from monitor.store import schema as t
from monitor.store.base import chunks
from monitor.store.codec import as_utc, hit_row, rule_row
from monitor.store.outbox import insert_notices
from monitor.store.records import HitRow, RuleRow
from monitor.store.ruleedits import DELETED

if TYPE_CHECKING:
    from monitor.store.base import StoreBase
else:
    StoreBase = object

SPIKE_LOCK = 4242011  # pg_advisory_xact_lock key: raising a spike
FEED_SECRET, SESSION_SECRET = 1, 2  # rows of ``feed_secret``: the feed tokens', the cookies'


@dataclass(frozen=True, slots=True)
class SpikeRow:
    """One spike raised: the rule, the hour it was seen in, its count and baseline."""

    rule_id: int
    hour: datetime
    count: int
    baseline: float


class SpikesMixin(StoreBase):
    """Spikes and per-rule feeds."""

    def hit_times(self, rule_ids: Sequence[int], windows: Sequence[tuple[datetime, datetime]],
                  fresh: timedelta | None = None) -> dict[int, list[datetime]]:
        """When each rule in ``rule_ids`` first matched each story, for the hits whose
        ``first_seen`` falls in one of ``windows`` (after its start, up to its end); with
        ``fresh``, only hits whose article was published at most that long before (or
        has no date): old news found late (a new feed's backfill) is not news."""
        h, a = t.hits.c, t.articles.c
        within = or_(*(and_(h.first_seen > start, h.first_seen <= end)
                         for start, end in windows))
        out: dict[int, list[datetime]] = {i: [] for i in rule_ids}
        with self._begin() as conn:
            for chunk in chunks(list(rule_ids)):
                q = (select(h.rule_id, h.first_seen, a.published)
                     .join_from(t.hits, t.articles, a.id == h.article_id)
                     .where(h.rule_id.in_(chunk), within))
                for rule_id, seen, published in conn.execute(q):
                    seen = as_utc(seen)
                    if fresh is None or published is None or as_utc(published) >= seen - fresh:
                        out[rule_id].append(seen)
        return out

    def raise_spike(self, spike: SpikeRow, quiet_since: datetime,
                    notices: Sequence[Notice]) -> bool:
        """Store ``spike`` and enqueue ``notices`` in one transaction, unless a spike of
        its rule is stored for an hour from ``quiet_since`` on; whether this call did."""
        s = t.spikes.c
        with self._begin() as conn:
            self._lock(conn, SPIKE_LOCK)
            if conn.execute(select(s.hour).where(s.rule_id == spike.rule_id,
                                                 s.hour >= quiet_since).limit(1)).first():
                return False
            stmt = self._insert(t.spikes).on_conflict_do_nothing().returning(s.rule_id)
            row = {"rule_id": spike.rule_id, "hour": spike.hour, "count": spike.count,
                   "baseline": spike.baseline}
            if conn.execute(stmt, row).scalar() is None:
                return False
            insert_notices(self, conn, notices)
            return True

    def spikes(self, rule_id: int, since: datetime) -> list[SpikeRow]:
        """The spikes of ``rule_id`` in hours from ``since`` on, oldest first."""
        s = t.spikes.c
        q = (select(s.rule_id, s.hour, s.count, s.baseline)
             .where(s.rule_id == rule_id, s.hour >= since).order_by(s.hour))
        with self._begin() as conn:
            return [SpikeRow(r[0], as_utc(r[1]), r[2], r[3])
                    for r in conn.execute(q)]

    def rule_hits(self, rule_id: int, limit: int = 50) -> list[HitRow]:
        """The newest hits of ``rule_id`` (by first seen), each with its first article and
        the terms that fired there (no alerts: a feed does not show them)."""
        h, a, m = t.hits.c, t.articles.c, t.matches.c
        q = (select(t.hits, t.rules.c.name.label("rule"), m.terms, a.url, a.title, a.text,
                    a.author, a.published, a.language, a.source, a.from_feed, a.partial)
             .join_from(t.hits, t.rules, t.rules.c.id == h.rule_id)
             .join(t.articles, a.id == h.article_id)
             .outerjoin(t.matches, and_(m.rule_id == h.rule_id, m.article_id == h.article_id))
             .where(h.rule_id == rule_id)
             .order_by(h.first_seen.desc(), h.id.desc()).limit(limit))
        with self._begin() as conn:
            return [hit_row(r._mapping, ()) for r in conn.execute(q)]

    def feed_secret(self) -> bytes:
        """The secret every node makes feed tokens with: made once, on first use."""
        return self._shared_secret(FEED_SECRET)

    def session_key(self) -> bytes:
        """The key every node signs session cookies with: made once, on first use."""
        return self._shared_secret(SESSION_SECRET)

    def _shared_secret(self, secret_id: int) -> bytes:
        """Row ``secret_id`` of ``feed_secret``: 32 random bytes, the same on every node."""
        read = select(t.feed_secret.c.secret).where(t.feed_secret.c.id == secret_id)
        with self._begin() as conn:
            found = conn.execute(read).scalar()
        if found is None:  # of nodes making it at once, the first insert wins
            with self._begin() as conn:
                conn.execute(self._insert(t.feed_secret).on_conflict_do_nothing(),
                             {"id": secret_id, "secret": secrets.token_hex(32)})
                found = conn.execute(read).scalar_one()
        return bytes.fromhex(found)

    def rule_by_id(self, rule_id: int) -> RuleRow | None:
        """The rule stored under ``rule_id`` (enabled or not), or None (none, or deleted)."""
        r = t.rules.c
        with self._begin() as conn:
            found = conn.execute(select(t.rules).where(r.id == rule_id,
                                                       r.origin != DELETED)).first()
        return rule_row(found._mapping) if found else None
