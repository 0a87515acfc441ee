"""The outbox area: alerts claimed for delivery, each attempt written before sending and
its outcome after, the alert listing, and each channel's state (disabled after a 410)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, or_, select, update

from monitor.store import schema as t
from monitor.store.base import chunks
from monitor.store.codec import alert_row, as_utc
from monitor.store.records import AlertRow, ChannelState

if TYPE_CHECKING:
    from monitor.store.base import StoreBase
else:
    StoreBase = object


class OutboxMixin(StoreBase):
    """Alerts, their deliveries, and channel state."""

    def claim_due_alerts(self, node: str, now: datetime, limit: int,
                         lease: float) -> list[AlertRow]:
        """Claim up to ``limit`` pending alerts that are due on enabled channels."""
        c = t.alerts.c
        disabled = select(t.channel_state.c.name).where(t.channel_state.c.disabled.is_(True))
        due = select(c.id).where(
            c.status == "pending", c.next_attempt_at <= now,
            or_(c.lease_until.is_(None), c.lease_until < now),
            c.channel.not_in(disabled.scalar_subquery()),
        ).order_by(c.next_attempt_at).limit(limit)
        if self.postgres:
            due = due.with_for_update(skip_locked=True)
        stmt = (update(t.alerts).where(c.id.in_(due.scalar_subquery()))
                .values(claimed_by=node, lease_until=now + timedelta(seconds=lease))
                .returning(c.id))
        with self._begin() as conn:
            claimed = conn.execute(t.alert_rows.where(c.id.in_(
                list(conn.execute(stmt).scalars()))))  # with their rule's name and story
            rows = sorted((alert_row(r._mapping) for r in claimed),
                          key=lambda r: (r.created_at or now, r.id))
            # An attempt still "sending" belongs to a node that stopped before it knew the
            # outcome (its lease ran out): say so, the alert is sent again now.
            d = t.deliveries.c
            for chunk in chunks([r.id for r in rows if r.attempts]):
                conn.execute(update(t.deliveries).where(
                    d.alert_id.in_(chunk), d.outcome == "sending").values(
                    outcome="interrupted", finished_at=now,
                    detail="the node stopped before the outcome was known"))
            return rows

    @functools.cached_property
    def _delivery_sql(self) -> dict[str, Any]:
        """The statements of every delivery attempt, built once (see ``_article_sql``)."""
        a, d = t.alerts.c, t.deliveries.c
        return {
            "count_attempt": update(t.alerts).where(a.id == bindparam("id_"))
                             .values(attempts=a.attempts + 1).returning(a.attempts),
            "insert_delivery": t.deliveries.insert().returning(d.id),
            "finish_delivery": update(t.deliveries).where(d.id == bindparam("id_")),
            "update_alert": update(t.alerts).where(a.id == bindparam("id_")),
        }

    def start_delivery(self, alert_id: str, node: str, now: datetime) -> int:
        """Write the attempt before sending; return its id."""
        sql = self._delivery_sql
        with self._begin() as conn:
            attempts = conn.execute(sql["count_attempt"], {"id_": alert_id}).scalar_one()
            return int(conn.execute(sql["insert_delivery"], {
                "alert_id": alert_id, "attempt": attempts, "node": node, "started_at": now,
                "outcome": "sending"}).scalar_one())

    def finish_delivery(self, delivery_id: int, alert_id: str, outcome: str, now: datetime,
                        detail: str | None = None, retry_at: datetime | None = None) -> None:
        """Record the outcome (sent | retry | failed) of an attempt; release the claim."""
        status = {"sent": "sent", "retry": "pending", "failed": "failed"}[outcome]
        values: dict[str, Any] = {"id_": alert_id, "status": status, "claimed_by": None,
                                  "lease_until": None,
                                  "last_error": detail if outcome != "sent" else None}
        if outcome == "sent":
            values["sent_at"] = now
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        sql = self._delivery_sql
        with self._begin() as conn:
            conn.execute(sql["finish_delivery"], {"id_": delivery_id, "outcome": outcome,
                                                  "finished_at": now, "detail": detail})
            conn.execute(sql["update_alert"], values)

    def list_alerts(self, status: str | Sequence[str] | None = None, limit: int | None = 50,
                    channel: str | None = None, ids: Sequence[str] | None = None
                    ) -> list[AlertRow]:
        """Recent alerts, newest first, optionally of some statuses, one channel or some
        ids: the one alert listing (``monitor alerts``, /api/alerts, the dashboard)."""
        c = t.alerts.c
        q = t.alert_rows.order_by(c.created_at.desc(), c.id).limit(limit)
        if status:
            q = q.where(c.status.in_([status] if isinstance(status, str) else status))
        if channel is not None:
            q = q.where(c.channel == channel)
        if ids is not None:
            q = q.where(c.id.in_(ids))
        with self._begin() as conn:
            return [alert_row(r._mapping) for r in conn.execute(q)]

    def retry_alert(self, alert_id: str, now: datetime) -> bool:
        """Put a failed (or pending) alert back in the queue now; False if unknown."""
        with self._begin() as conn:
            result = conn.execute(update(t.alerts).where(
                t.alerts.c.id == alert_id, t.alerts.c.status != "sent").values(
                status="pending", next_attempt_at=now, claimed_by=None, lease_until=None))
            return bool(result.rowcount)

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
