"""The cluster area: nodes say they are alive, renew the leases they hold on feeds, alerts
and notices, and leave; any node (or ``monitor nodes``) lists the live ones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update

from monitor.store import schema as t
from monitor.store.base import chunks
from monitor.store.codec import as_utc
from monitor.store.records import NodeInfo

if TYPE_CHECKING:
    from monitor.store.base import StoreBase
else:
    StoreBase = object


class ClusterMixin(StoreBase):
    """Nodes, heartbeats and leases."""

    def heartbeat(self, node: str, now: datetime) -> None:
        """Say this node is alive."""
        with self._begin() as conn:
            stmt = self._insert(t.nodes).values(id=node, started_at=now, heartbeat_at=now)
            conn.execute(stmt.on_conflict_do_update(index_elements=["id"],
                                                    set_={"heartbeat_at": now}))

    def renew_leases(self, node: str, now: datetime, lease: float,
                     feed_ids: Sequence[int] = (), alert_ids: Sequence[str] = ()
                     ) -> tuple[int, int]:
        """Extend this node's leases on the feeds and alerts it is still working on, so a
        poll or a delivery that outlasts ``lease`` is not taken over while it runs. A lease
        that has run out is not renewed: another node may hold the row by now. The outbox's
        ``alert_ids`` may name notices too. Returns how many feed and outbox leases were
        renewed."""
        if not feed_ids and not alert_ids:
            return 0, 0
        until = now + timedelta(seconds=lease)
        with self._begin() as conn:
            def renew(table: Any, ids: Sequence[Any]) -> int:
                return sum(conn.execute(update(table).where(
                    table.c.id.in_(chunk), table.c.claimed_by == node,
                    table.c.lease_until >= now).values(lease_until=until)).rowcount
                    for chunk in chunks(ids))

            return renew(t.feeds, feed_ids), renew(t.alerts, alert_ids) + renew(
                t.notices, alert_ids)

    def forget_node(self, node: str) -> None:
        """A node stopping cleanly leaves the list of live nodes at once."""
        with self._begin() as conn:
            conn.execute(delete(t.nodes).where(t.nodes.c.id == node))

    def nodes(self, now: datetime, alive_within: float) -> list[NodeInfo]:
        """Nodes seen within ``alive_within`` seconds, with the feeds and alerts they hold."""
        cutoff = now - timedelta(seconds=alive_within)
        with self._begin() as conn:
            rows = conn.execute(select(t.nodes).where(t.nodes.c.heartbeat_at >= cutoff)
                                .order_by(t.nodes.c.id)).all()
            return [NodeInfo(r.id, as_utc(r.started_at), as_utc(r.heartbeat_at),
                             _held(conn, t.feeds, r.id, now),
                             _held(conn, t.alerts, r.id, now) + _held(conn, t.notices, r.id, now))
                    for r in rows]


def _held(conn: Any, table: Any, node: str, now: datetime) -> int:
    """How many rows of ``table`` ``node`` holds a live lease on."""
    c = table.c
    q = select(func.count()).where(c.claimed_by == node, c.lease_until >= now)
    return int(conn.execute(q).scalar() or 0)
