"""The outbox area: alerts and notices claimed for delivery, each attempt written before
sending and its outcome after, their listings, and each channel's state (disabled after a
410).

Alerts (``alerts``, attempts in ``deliveries``) and notices (``notices``, attempts in
``notice_deliveries``) are two queues with the same columns, claimed, leased, attempted and
retried by the same code (``_Queue``).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Select, Table, bindparam, or_, select, update
from sqlalchemy.engine import Connection, Row

from monitor.models import Notice
from monitor.store import schema as t
from monitor.store.base import chunks
from monitor.store.codec import alert_row, as_utc, notice_row, notice_to_row
from monitor.store.records import AlertRow, ChannelState, NoticeRow

if TYPE_CHECKING:
    from monitor.store.base import StoreBase
else:
    StoreBase = object


class _Queue(NamedTuple):
    """One kind of outbox row: its table, the table of its attempts, the attempts' column
    naming the row, and what reading a row selects."""

    rows: Table
    attempts: Table
    key: str
    read: Select[Any]


_EPOCH = datetime.min.replace(tzinfo=UTC)

ALERTS = _Queue(t.alerts, t.deliveries, "alert_id", t.alert_rows)  # with rule and story
NOTICES = _Queue(t.notices, t.notice_deliveries, "notice_id", select(t.notices))


class OutboxMixin(StoreBase):
    """Alerts and notices, their deliveries, and channel state."""

    def claim_due_alerts(self, node: str, now: datetime, limit: int, lease: float,
                         only: str | None = None, exclude: Collection[str] = ()
                         ) -> list[AlertRow]:
        """Claim up to ``limit`` pending alerts that are due on enabled channels (on channel
        ``only`` if given, on none of ``exclude``)."""
        rows = [alert_row(r._mapping)
                for r in self._claim(ALERTS, node, now, limit, lease, only, exclude)]
        return sorted(rows, key=lambda r: (r.created_at or now, r.id))

    def claim_due_notices(self, node: str, now: datetime, limit: int, lease: float,
                          only: str | None = None, exclude: Collection[str] = ()
                          ) -> list[NoticeRow]:
        """Claim up to ``limit`` pending notices that are due on enabled channels (as
        ``claim_due_alerts``)."""
        rows = [notice_row(r._mapping)
                for r in self._claim(NOTICES, node, now, limit, lease, only, exclude)]
        return sorted(rows, key=lambda r: (r.created_at, r.id))

    def _claim(self, q: _Queue, node: str, now: datetime, limit: int, lease: float,
               only: str | None = None, exclude: Collection[str] = ()) -> list[Row[Any]]:
        c = q.rows.c
        disabled = select(t.channel_state.c.name).where(t.channel_state.c.disabled.is_(True))
        due = select(c.id).where(
            c.status == "pending", c.next_attempt_at <= now,
            or_(c.lease_until.is_(None), c.lease_until < now),
            c.channel.not_in(disabled.scalar_subquery()),
        ).order_by(c.next_attempt_at).limit(limit)
        if only is not None:
            due = due.where(c.channel == only)
        if exclude:
            due = due.where(c.channel.not_in(list(exclude)))
        if self.postgres:
            due = due.with_for_update(skip_locked=True)
        stmt = (update(q.rows).where(c.id.in_(due.scalar_subquery()))
                .values(claimed_by=node, lease_until=now + timedelta(seconds=lease))
                .returning(c.id))
        with self._begin() as conn:
            claimed = list(conn.execute(stmt).scalars())
            rows = list(conn.execute(q.read.where(c.id.in_(claimed))))
            # An attempt still "sending" belongs to a node that stopped before it knew the
            # outcome (its lease ran out): say so, the row is sent again now.
            d = q.attempts.c
            for chunk in chunks([r.id for r in rows if r.attempts]):
                conn.execute(update(q.attempts).where(
                    d[q.key].in_(chunk), d.outcome == "sending").values(
                    outcome="interrupted", finished_at=now,
                    detail="the node stopped before the outcome was known"))
            return rows

    @functools.cached_property
    def _delivery_sql(self) -> dict[str, dict[str, Any]]:
        """The statements of every delivery attempt, per queue, built once (see
        ``_article_sql``)."""
        out = {}
        for q in (ALERTS, NOTICES):
            a, d = q.rows.c, q.attempts.c
            out[q.key] = {
                "count_attempt": update(q.rows).where(a.id == bindparam("id_"))
                                 .values(attempts=a.attempts + 1).returning(a.attempts),
                "insert_delivery": q.attempts.insert().returning(d.id),
                "finish_delivery": update(q.attempts).where(d.id == bindparam("id_")),
                "update_row": update(q.rows).where(a.id == bindparam("id_")),
            }
        return out

    def start_delivery(self, alert_id: str, node: str, now: datetime) -> int:
        """Write the attempt before sending; return its id."""
        return self._start(ALERTS, alert_id, node, now)

    def start_notice_delivery(self, notice_id: str, node: str, now: datetime) -> int:
        """Write the attempt to send a notice before sending; return its id."""
        return self._start(NOTICES, notice_id, node, now)

    def _start(self, q: _Queue, row_id: str, node: str, now: datetime) -> int:
        sql = self._delivery_sql[q.key]
        with self._begin() as conn:
            attempts = conn.execute(sql["count_attempt"], {"id_": row_id}).scalar_one()
            return int(conn.execute(sql["insert_delivery"], {
                q.key: row_id, "attempt": attempts, "node": node, "started_at": now,
                "outcome": "sending"}).scalar_one())

    def finish_delivery(self, delivery_id: int, alert_id: str, outcome: str, now: datetime,
                        detail: str | None = None, retry_at: datetime | None = None) -> None:
        """Record the outcome (sent | retry | failed) of an attempt; release the claim."""
        self._finish(ALERTS, delivery_id, alert_id, outcome, now, detail, retry_at)

    def finish_notice_delivery(self, delivery_id: int, notice_id: str, outcome: str,
                               now: datetime, detail: str | None = None,
                               retry_at: datetime | None = None) -> None:
        """Record the outcome of an attempt to send a notice, as ``finish_delivery``."""
        self._finish(NOTICES, delivery_id, notice_id, outcome, now, detail, retry_at)

    def _finish(self, q: _Queue, delivery_id: int, row_id: str, outcome: str, now: datetime,
                detail: str | None, retry_at: datetime | None) -> None:
        status = {"sent": "sent", "retry": "pending", "failed": "failed"}[outcome]
        values: dict[str, Any] = {"id_": row_id, "status": status, "claimed_by": None,
                                  "lease_until": None,
                                  "last_error": detail if outcome != "sent" else None}
        if outcome == "sent":
            values["sent_at"] = now
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        sql = self._delivery_sql[q.key]
        with self._begin() as conn:
            conn.execute(sql["finish_delivery"], {"id_": delivery_id, "outcome": outcome,
                                                  "finished_at": now, "detail": detail})
            conn.execute(sql["update_row"], values)

    def list_alerts(self, status: str | Sequence[str] | None = None, limit: int | None = 50,
                    channel: str | None = None, ids: Sequence[str] | None = None
                    ) -> list[AlertRow]:
        """Recent alerts, newest first, optionally of some statuses, one channel or some
        ids: the one alert listing (``monitor alerts``, /api/alerts, the dashboard)."""
        q = _listing(ALERTS, status, limit, channel, ids)
        with self._begin() as conn:
            return [alert_row(r._mapping) for r in conn.execute(q)]

    def list_notices(self, status: str | Sequence[str] | None = None, limit: int | None = 50,
                     channel: str | None = None, ids: Sequence[str] | None = None
                     ) -> list[NoticeRow]:
        """Recent notices, newest first, chosen as ``list_alerts`` chooses alerts."""
        q = _listing(NOTICES, status, limit, channel, ids)
        with self._begin() as conn:
            return [notice_row(r._mapping) for r in conn.execute(q)]

    def list_outbox(self, status: str | Sequence[str] | None = None, limit: int | None = 50,
                    channel: str | None = None, ids: Sequence[str] | None = None
                    ) -> list[AlertRow | NoticeRow]:
        """Alerts and notices together, newest first, chosen as ``list_alerts`` chooses:
        every row of the outbox (``monitor alerts``)."""
        rows: list[AlertRow | NoticeRow] = [*self.list_alerts(status, limit, channel, ids),
                                            *self.list_notices(status, limit, channel, ids)]
        rows.sort(key=lambda r: r.id)
        rows.sort(key=lambda r: r.created_at or _EPOCH, reverse=True)
        return rows[:limit] if limit is not None else rows

    def enqueue_notices(self, notices: Sequence[Notice]) -> list[str]:
        """Put ``notices`` in the outbox, due at once; the ids of those that were not there
        already (a notice's id is its identity: enqueuing it twice sends it once)."""
        with self._begin() as conn:
            return insert_notices(self, conn, notices)

    def retry_alert(self, alert_id: str, now: datetime) -> bool:
        """Put a failed (or pending) alert or notice back in the queue now; False if
        unknown. A node's claim stays: the row may be under way on it, and another node
        takes it only once that lease is released or runs out (else it went out twice)."""
        with self._begin() as conn:
            for table in (t.alerts, t.notices):
                result = conn.execute(update(table).where(
                    table.c.id == alert_id, table.c.status != "sent").values(
                    status="pending", next_attempt_at=now))
                if result.rowcount:
                    return True
            return False

    # -- channel state ------------------------------------------------------------------------

    def disable_channel(self, name: str, reason: str, now: datetime,
                        config_hash: str | None = None) -> None:
        """Stop delivering on a channel whose receiver is gone (HTTP 410), remembering the
        hash of the settings it failed under (a change of them re-enables it)."""
        values = {"disabled": True, "reason": reason, "changed_at": now,
                  "config_hash": config_hash}
        with self._begin() as conn:
            stmt = self._insert(t.channel_state).values(name=name, **values)
            conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=values))

    def enable_channel(self, name: str, now: datetime) -> bool:
        """Deliver on ``name`` again; False if it was not disabled."""
        cs = t.channel_state.c
        with self._begin() as conn:
            result = conn.execute(update(t.channel_state).where(
                cs.name == name, cs.disabled.is_(True)).values(
                disabled=False, reason=None, changed_at=now, config_hash=None))
            return bool(result.rowcount)

    def enable_changed_channels(self, hashes: Mapping[str, str], now: datetime) -> list[str]:
        """Re-enable each disabled channel whose settings hash is no longer the one it was
        disabled under; return their names. One disabled without a hash stays disabled."""
        changed = [s.name for s in self.channel_states().values()
                   if s.disabled and s.config_hash is not None and s.name in hashes
                   and hashes[s.name] != s.config_hash]
        cs = t.channel_state.c
        with self._begin() as conn:
            for name in changed:
                conn.execute(update(t.channel_state).where(
                    cs.name == name, cs.config_hash != hashes[name]).values(
                    disabled=False, reason=None, changed_at=now, config_hash=None))
        return changed

    def channel_states(self) -> dict[str, ChannelState]:
        """Every channel with a recorded state (enabled again, or disabled), by name."""
        with self._begin() as conn:
            return {r.name: ChannelState(r.name, bool(r.disabled), r.reason or "",
                                         as_utc(r.changed_at) if r.changed_at else None,
                                         r.config_hash)
                    for r in conn.execute(select(t.channel_state))}

    def disabled_channels(self) -> dict[str, str]:
        """Disabled channels with the reason."""
        return {n: s.reason for n, s in self.channel_states().items() if s.disabled}


def insert_notices(store: StoreBase, conn: Connection, notices: Sequence[Notice]) -> list[str]:
    """``enqueue_notices`` inside the caller's transaction (a health mark's, so the mark
    and its notice are stored together or not at all)."""
    stmt = store._insert(t.notices).on_conflict_do_nothing().returning(t.notices.c.id)
    return [i for n in notices
            if (i := conn.execute(stmt, notice_to_row(n)).scalar()) is not None]


def _listing(queue: _Queue, status: str | Sequence[str] | None, limit: int | None,
             channel: str | None, ids: Sequence[str] | None) -> Any:
    c = queue.rows.c
    q = queue.read.order_by(c.created_at.desc(), c.id).limit(limit)
    if status:
        q = q.where(c.status.in_([status] if isinstance(status, str) else status))
    if channel is not None:
        q = q.where(c.channel == channel)
    if ids is not None:
        q = q.where(c.id.in_(ids))
    return q
