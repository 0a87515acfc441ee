"""The retention job: prune old unmatched articles and old entries, a batch at a time, and
the records of signed-out sessions whose cookie has expired (every run, whatever the
settings: they are few, one short transaction).

The daemon has ``Retention.schedule`` run it every ``retention_interval``. Each batch is
one short transaction in a worker thread (``monitor.store`` says what is kept and why),
so the event loop never waits on it and no lock is held for long; the job stops between
batches when the daemon stops. Pruned rows are counted in ``/metrics``
(``monitor_retention_pruned_total{kind="articles"|"entries"|"sessions"|"spikes"}``) and logged once
per run.

Spikes (``spikes``, one row per rule and hour a spike was raised in) are kept
``SPIKES_DAYS``, a fixed window rather than a setting: they are small and few, the rule
panel's chart shows the last 30 days, and nothing else reads old ones (a spike is judged
against the hits table, not against earlier spikes, whatever a rule's ``baseline_days``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from monitor.config import RetentionSettings
from monitor.errors import MonitorError
from monitor.metrics import Metrics
from monitor.store import Store

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

PAUSE = 0.02
"""Seconds between two batches: other writers take the database meanwhile."""
SPIKES_DAYS = 90
"""Days a spike is kept: three times the chart's 30 (``GET /api/rules/{id}/spikes``)."""


@dataclass
class Pruned:
    """What one run pruned."""

    articles: int = 0
    entries: int = 0
    sessions: int = 0  # signed-out sessions' records, their cookies expired
    spikes: int = 0


class Retention:
    """The job, with its place in the articles (kept between runs: each run looks only at
    articles it has not looked at yet, plus none after a restart's first full pass)."""

    def __init__(self, store: Store, clock: Callable[[], datetime],
                 metrics: Metrics | None = None) -> None:
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.cursor = 0  # the last article id looked at

    def schedule(self, scheduler: AsyncIOScheduler, settings: Callable[[], RetentionSettings],
                 stopping: asyncio.Event) -> None:
        """Run every ``retention_interval`` (as at start), each time with ``settings()`` (the
        running config's), until ``stopping``."""
        async def job() -> None:
            await self.run(settings(), stopping)

        scheduler.add_job(job, "interval", id="retention", max_instances=1, coalesce=True,
                          seconds=settings().retention_interval)

    async def run(self, settings: RetentionSettings,
                  stopping: asyncio.Event | None = None) -> Pruned:
        """Prune what ``settings`` says has expired; never raises (a failure is logged and
        the next run tries again), and a cancelled run just ends."""
        pruned = Pruned()
        try:
            await self._run(settings, stopping or asyncio.Event(), pruned)
        except asyncio.CancelledError:  # the daemon stopping: the batch under way finishes
            log.info("event=retention_stopped")
        except MonitorError as e:
            log.error("event=retention_failed error=%r", str(e))
        except Exception as e:  # noqa: BLE001 - the scheduler lives on
            log.critical("event=retention_crash", exc_info=e)
        if pruned.articles or pruned.entries or pruned.sessions or pruned.spikes:
            log.info("event=retention articles=%d entries=%d sessions=%d spikes=%d",
                     pruned.articles, pruned.entries, pruned.sessions, pruned.spikes)
        return pruned

    async def _run(self, s: RetentionSettings, stopping: asyncio.Event, pruned: Pruned) -> None:
        now = self.clock()
        pruned.sessions = await asyncio.to_thread(self.store.prune_revoked_sessions, now)
        self._count("sessions", pruned.sessions)
        if s.article_text_days:
            before = now - timedelta(days=s.article_text_days)
            while not stopping.is_set():
                n, last = await asyncio.to_thread(self.store.prune_articles, before,
                                                  self.cursor, s.retention_batch)
                if last is None:
                    break
                self.cursor = last
                pruned.articles += n
                self._count("articles", n)
                await asyncio.sleep(PAUSE)
        if not await self._drain(partial(self.store.prune_spikes,
                                         now - timedelta(days=SPIKES_DAYS)),
                                 s.retention_batch, stopping, pruned, "spikes"):
            return
        if not s.entries_days:
            return
        limits = await asyncio.to_thread(self.store.entry_prune_limits,
                                         now - timedelta(days=s.entries_days))
        for feed_id, before in limits.items():
            if not await self._drain(partial(self.store.prune_entries, feed_id, before),
                                     s.retention_batch, stopping, pruned, "entries"):
                return

    async def _drain(self, prune: Callable[[int], int | None], batch: int,
                     stopping: asyncio.Event, pruned: Pruned, kind: str) -> bool:
        """Call ``prune(batch)`` in a worker thread until a batch comes back short or the
        daemon stops, adding the rows to ``pruned``'s ``kind``; False when another node's
        batch is under way (this round leaves the rest to it)."""
        n = batch
        while n == batch and not stopping.is_set():
            found = await asyncio.to_thread(prune, batch)
            if found is None:  # another node is pruning
                return False
            n = found
            setattr(pruned, kind, getattr(pruned, kind) + n)
            self._count(kind, n)
            await asyncio.sleep(PAUSE)
        return True

    def _count(self, kind: str, n: int) -> None:
        if self.metrics and n:
            self.metrics.pruned(kind, n)


__all__ = ["SPIKES_DAYS", "Pruned", "Retention"]
