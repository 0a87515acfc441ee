"""The stats area: counts for the dashboard, ``monitor channels`` and /metrics (matches per
rule id and day, alerts and notices by status, alerts by channel, the oldest due alert or
notice). Reads only."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from monitor.store import schema as t
from monitor.store.codec import as_utc

if TYPE_CHECKING:
    from monitor.store.base import StoreBase
else:
    StoreBase = object


class StatsMixin(StoreBase):
    """Counts over matches and alerts."""

    def match_counts(self, since: datetime) -> dict[int, dict[str, int]]:
        """Matches per rule id per UTC day (``YYYY-MM-DD``) since ``since``."""
        c = t.matches.c
        day = (func.to_char(func.timezone("UTC", c.created_at), "YYYY-MM-DD") if self.postgres
               else func.strftime("%Y-%m-%d", c.created_at))
        q = (select(c.rule_id, day, func.count()).where(c.created_at >= since)
             .group_by(c.rule_id, day))
        out: dict[int, dict[str, int]] = {}
        with self._begin() as conn:
            for rule_id, when, n in conn.execute(q):
                out.setdefault(rule_id, {})[str(when)] = int(n)
        return out

    def match_totals(self) -> dict[int, int]:
        """Matches per rule id, all time."""
        c = t.matches.c
        with self._begin() as conn:
            rows = conn.execute(select(c.rule_id, func.count()).group_by(c.rule_id))
            return {rule_id: int(n) for rule_id, n in rows}

    def count_alerts(self) -> dict[str, int]:
        """Number of alerts by status."""
        with self._begin() as conn:
            rows = conn.execute(select(t.alerts.c.status, func.count())
                                .group_by(t.alerts.c.status))
            return {status: int(n) for status, n in rows}

    def count_alerts_by_channel(self) -> dict[str, dict[str, int]]:
        """Number of alerts by channel, then by status."""
        c = t.alerts.c
        out: dict[str, dict[str, int]] = {}
        with self._begin() as conn:
            for channel, status, n in conn.execute(
                    select(c.channel, c.status, func.count()).group_by(c.channel, c.status)):
                out.setdefault(channel, {})[status] = int(n)
        return out

    def count_notices(self) -> dict[str, int]:
        """Number of notices by status."""
        with self._begin() as conn:
            rows = conn.execute(select(t.notices.c.status, func.count())
                                .group_by(t.notices.c.status))
            return {status: int(n) for status, n in rows}

    def oldest_due_alert(self, now: datetime) -> datetime | None:
        """When the longest-waiting pending alert or notice became due (an alert's digest
        time, else its creation)."""
        c, n = t.alerts.c, t.notices.c
        due = func.coalesce(c.digest_at, c.created_at)
        with self._begin() as conn:
            found = [conn.execute(select(func.min(due)).where(c.status == "pending",
                                                              due <= now)).scalar(),
                     conn.execute(select(func.min(n.created_at)).where(
                         n.status == "pending", n.created_at <= now)).scalar()]
        return min((as_utc(f) for f in found if f is not None), default=None)
