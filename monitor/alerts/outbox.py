"""The outbox: claim due alerts and notices, send them, record the outcome. Retry lives
only here.

Store, then send, then record: the alert row exists before any attempt (it was written
with the match), as a notice's does (written with the health mark that raised it); an
attempt is written before sending and its outcome after. A crash between the two leaves
the row claimed until its lease runs out, then it is sent again with the same id, so
receivers can drop the duplicate. Every database call runs in a thread (a frozen database
holds the sends waiting on it, never the event loop), awaited in that order. Notices are
sent one by one (never in a digest), with the same leases, retries, channel states and
metrics as alerts.

Each channel has its own round (``drain``): it claims only that channel's rows and sends at
most ``concurrency`` at once, so a channel whose server hangs holds only its own alerts; the
daemon's delivery job starts a round on every channel without one under way and does not
wait, and the heartbeat renews the leases of what a round holds (``holding``).

A node claims only rows of the channels its config names: a row naming another channel (one
added to another node's config before this node reloads, or removed from the config) stays
pending, untried, until a node that has the channel claims it, so a config rolled out node by
node fails none; ``monitor channels`` lists such a channel as not configured.

A receiver that is gone (HTTP 410) disables its channel: its alerts stay pending, unclaimed,
until ``monitor channels enable NAME`` or a change of the channel's settings (seen when the
outbox first drains after a (re)load) enables it again. Links in alerts lose their tracking
parameters (``utm_*``, ``fbclid`` ...) as the dedup key does; the rest stays as published.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from monitor.alerts.base import Channel
from monitor.alerts.build import Channels
from monitor.dedup import strip_tracking
from monitor.errors import DeliveryError, MonitorError
from monitor.log import FailureLog
from monitor.metrics import Metrics
from monitor.models import Alert, Digest
from monitor.store import AlertRow, NoticeRow, Store

log = logging.getLogger(__name__)

_RUNNING: set[asyncio.Task[int]] = set()  # every round under way (asyncio keeps weak refs)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, honouring Retry-After, for up to ``horizon``."""

    base: float = 10.0
    cap: float = 3600.0
    horizon: float = 3 * 86400.0
    max_retry_after: float = 86400.0

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds before the next attempt after ``attempts`` failed ones."""
        backoff = min(self.cap, self.base * 2.0 ** max(0, attempts - 1))
        backoff *= random.uniform(0.5, 1.0)  # jitter: spread retries of a burst
        if retry_after is not None:
            backoff = max(backoff, min(retry_after, self.max_retry_after))
        return backoff


class Queued(Protocol):
    """What a failed attempt's outcome depends on, of an alert's or a notice's row."""

    @property
    def channel(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def created_at(self) -> datetime | None: ...


@dataclass
class Outbox:
    """Delivers what the store holds on the configured channels."""

    store: Store
    channels: Mapping[str, Channel]
    node: str = "local"
    policy: RetryPolicy = RetryPolicy()
    lease: float = 300.0
    batch: int = 100
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    metrics: Metrics | None = None
    holding: set[str] = field(default_factory=set)  # ids claimed and not yet finished
    concurrency: int = 8  # sends under way at once, per channel
    lanes: dict[str, asyncio.Task[int]] = field(default_factory=dict)  # channel -> its round
    slots: dict[str, asyncio.Semaphore] = field(default_factory=dict, init=False)
    settings_checked: bool = field(default=False, init=False)
    stopped: bool = field(default=False, init=False)  # claim nothing more (``stop``)
    failures: FailureLog = field(  # a database outage: a few lines, not one per round
        default_factory=lambda: FailureLog(log, "deliver"), init=False)

    def __post_init__(self) -> None:
        if self.metrics:
            self.metrics.channel_names = tuple(self.channels)
            timeouts = {name: getattr(c, "timeout", None) for name, c in self.channels.items()}
            self.metrics.timeouts = {name: float(t) for name, t in timeouts.items()
                                     if isinstance(t, int | float)}  # stalled past it

    async def drain(self, wait: bool = True) -> int:
        """Start a delivery round on every channel that has none under way: each channel
        claims and sends its own alerts and notices, batch after batch, at most
        ``concurrency`` at once, so a slow or dead channel delays only itself.

        With ``wait``, wait for every channel's round (those started earlier too) and
        return how many this call's rounds sent; without, return 0 at once (the daemon's
        delivery job: a channel still sending is skipped, the others go on)."""
        if self.stopped:
            return 0
        if not self.settings_checked:
            await asyncio.to_thread(self.enable_changed_channels)
        due_by = self.clock()  # retries scheduled during this round wait for the next
        started: list[asyncio.Task[int]] = []
        for name in self.channels:  # another channel's rows wait for a node that has it
            if name in self.lanes:
                continue
            lane = asyncio.create_task(self._round(name, due_by), name=f"deliver {name}")
            self.lanes[name] = lane
            _RUNNING.add(lane)
            lane.add_done_callback(functools.partial(self._round_ended, name))
            started.append(lane)
        if not wait:
            return 0
        await asyncio.wait(list(self.lanes.values()))
        return sum(t.result() for t in started if not t.cancelled() and not t.exception())

    async def _round(self, name: str, due_by: datetime) -> int:
        """Claim and send channel ``name``'s due rows, batch after batch; return how many
        were sent."""
        sent = 0
        while not self.stopped:
            rows = await asyncio.to_thread(  # off the loop: the database may be frozen
                self.store.claim_due_alerts, self.node, due_by, self.batch, self.lease,
                only=name)
            notices = await asyncio.to_thread(
                self.store.claim_due_notices, self.node, due_by, self.batch, self.lease,
                only=name)
            ids = {r.id for r in rows} | {n.id for n in notices}
            self.holding |= ids  # the daemon's heartbeat renews their leases meanwhile
            try:
                sent += await self.deliver(rows, notices) if ids else 0
            finally:
                self.holding -= ids
            if len(rows) < self.batch and len(notices) < self.batch:
                return sent
        return sent

    def stop(self) -> None:
        """Claim nothing more: each round ends once the batch it is sending is recorded
        (SIGTERM; a reload stops the outbox it replaces)."""
        self.stopped = True

    def _round_ended(self, name: str, lane: asyncio.Task[int]) -> None:
        _RUNNING.discard(lane)
        if self.lanes.get(name) is lane:
            del self.lanes[name]
        if lane.cancelled():
            return
        error = lane.exception()
        if isinstance(error, MonitorError):
            self.failures.failed(error, channel=name)
        elif error is not None:
            log.critical("event=deliver_crash channel=%s", name, exc_info=error)
        else:
            self.failures.succeeded()

    @contextlib.asynccontextmanager
    async def _slot(self, name: str) -> AsyncIterator[None]:
        """One of channel ``name``'s ``concurrency`` sending slots, counted in metrics."""
        slots = self.slots.setdefault(name, asyncio.Semaphore(self.concurrency))
        async with slots:
            token = self.metrics.send_started(name) if self.metrics else 0
            try:
                yield
            finally:
                if self.metrics:
                    self.metrics.send_ended(name, token)

    def enable_changed_channels(self) -> None:
        """Re-enable each disabled channel whose settings differ from those it was disabled
        under (once per outbox: the config it was built from does not change)."""
        hashes = self.channels.hashes if isinstance(self.channels, Channels) else {}
        for name in self.store.enable_changed_channels(hashes, self.clock()):
            log.warning("event=channel_enabled channel=%s reason=settings_changed", name)
        self.settings_checked = True

    async def deliver(self, rows: Sequence[AlertRow], notices: Sequence[NoticeRow] = ()
                      ) -> int:
        """Send claimed rows: digests grouped per channel, the rest (and every notice) one
        by one."""
        digests: dict[str, list[AlertRow]] = defaultdict(list)
        single: list[AlertRow] = []
        for row in rows:
            (digests[row.channel] if row.digest_at is not None else single).append(row)
        tasks = [self._send_one(r) for r in single]
        tasks += [self._send_digest(ch, group) for ch, group in digests.items()]
        tasks += [self._send_notice(n) for n in notices]
        results = await asyncio.gather(*tasks)
        return sum(results)

    async def _send_one(self, row: AlertRow) -> int:
        async with self._slot(row.channel):
            return await self._send_one_now(row)

    async def _send_one_now(self, row: AlertRow) -> int:
        channel = self.channels.get(row.channel)
        # each database call in a thread, as the pipeline's: a frozen database holds only
        # this send; still store, then send, then record
        delivery, alert = await asyncio.to_thread(self._start, row)
        try:
            if channel is None:
                raise DeliveryError(f"no channel named {row.channel!r} in the config",
                                    permanent=True)
            await channel.send(alert)
        except Exception as e:  # noqa: BLE001 - every failure is recorded, none is fatal
            await self._failed([row], [delivery], e)
            return 0
        await asyncio.to_thread(self.store.finish_delivery, delivery, row.id, "sent",
                                self.clock())
        if self.metrics:
            self.metrics.delivery(row.channel, "sent")
        log.info("event=delivered alert=%s channel=%s rule=%r feed=%s attempt=%d", row.id,
                 row.channel, row.rule, row.feed, row.attempts + 1)
        return 1

    def _start(self, row: AlertRow) -> tuple[int, Alert]:
        """Write the attempt of ``row`` and read its Alert (blocking: run in a thread)."""
        return self.store.start_delivery(row.id, self.node, self.clock()), self.alert(row)

    async def _send_digest(self, name: str, rows: list[AlertRow]) -> int:
        async with self._slot(name):
            return await self._send_digest_now(name, rows)

    async def _send_digest_now(self, name: str, rows: list[AlertRow]) -> int:
        channel = self.channels.get(name)
        started = await asyncio.to_thread(lambda: [self._start(r) for r in rows])
        deliveries = [delivery for delivery, _ in started]
        digest = Digest(id=_digest_id(rows), created_at=self.clock(), channel=name,
                        alerts=tuple(alert for _, alert in started))
        try:
            if channel is None:
                raise DeliveryError(f"no channel named {name!r} in the config", permanent=True)
            await channel.send_digest(digest)
        except Exception as e:  # noqa: BLE001
            await self._failed(rows, deliveries, e)
            return 0
        await asyncio.to_thread(self._finish, rows, deliveries, [("sent", None)] * len(rows))
        for row in rows:
            if self.metrics:
                self.metrics.delivery(row.channel, "sent")
        log.info("event=digest_delivered channel=%s alerts=%d", name, len(rows))
        return len(rows)

    def alert(self, row: AlertRow) -> Alert:
        """The Alert a row stands for, with the story's other URLs."""
        also_seen_at = self.store.also_seen_at(row.story_id, row.article_id)
        return Alert(id=row.id, created_at=row.created_at or self.clock(), rule=row.rule,
                     query=row.query,
                     article=replace(row.article, url=strip_tracking(row.article.url)),
                     terms=row.terms,
                     also_seen_at=tuple(strip_tracking(u) for u in also_seen_at),
                     channel=row.channel)

    async def _send_notice(self, row: NoticeRow) -> int:
        async with self._slot(row.channel):
            return await self._send_notice_now(row)

    async def _send_notice_now(self, row: NoticeRow) -> int:
        channel = self.channels.get(row.channel)
        delivery = await asyncio.to_thread(self.store.start_notice_delivery, row.id,
                                           self.node, self.clock())
        try:
            if channel is None:
                raise DeliveryError(f"no channel named {row.channel!r} in the config",
                                    permanent=True)
            await channel.send_notice(row.notice)
        except Exception as e:  # noqa: BLE001 - every failure is recorded, none is fatal
            error, ((outcome, retry_at),) = await asyncio.to_thread(self._judge, [row], e)
            await asyncio.to_thread(self.store.finish_notice_delivery, delivery, row.id,
                                    outcome, self.clock(), str(error), retry_at)
            if self.metrics:
                self.metrics.delivery(row.channel, outcome)
            log.error("event=delivery_failed notice=%s channel=%s kind=%s feed=%s "
                      "outcome=%s error=%r", row.id, row.channel, row.notice.kind,
                      row.notice.feed, outcome, str(error))
            return 0
        await asyncio.to_thread(self.store.finish_notice_delivery, delivery, row.id, "sent",
                                self.clock())
        if self.metrics:
            self.metrics.delivery(row.channel, "sent")
        log.info("event=delivered notice=%s channel=%s kind=%s feed=%s attempt=%d", row.id,
                 row.channel, row.notice.kind, row.notice.feed, row.attempts + 1)
        return 1

    async def _failed(self, rows: Sequence[AlertRow], deliveries: Sequence[int],
                      error: BaseException) -> None:
        error, outcomes = await asyncio.to_thread(self._judge, rows, error)  # may disable
        await asyncio.to_thread(self._finish, rows, deliveries, outcomes, str(error))
        for row, (outcome, _) in zip(rows, outcomes, strict=True):
            if self.metrics:
                self.metrics.delivery(row.channel, outcome)
            log.error("event=delivery_failed alert=%s channel=%s rule=%r feed=%s url=%s "
                      "outcome=%s error=%r", row.id, row.channel, row.rule, row.feed,
                      row.article.url, outcome, str(error))

    def _finish(self, rows: Sequence[AlertRow], deliveries: Sequence[int],
                outcomes: Sequence[tuple[str, datetime | None]], error: str | None = None
                ) -> None:
        """Record each attempt's outcome (blocking: run in a thread)."""
        now = self.clock()
        for row, delivery, (outcome, retry_at) in zip(rows, deliveries, outcomes, strict=True):
            self.store.finish_delivery(delivery, row.id, outcome, now, error, retry_at)

    def _judge(self, rows: Sequence[Queued], error: BaseException
               ) -> tuple[MonitorError, list[tuple[str, datetime | None]]]:
        """What a failed send of ``rows`` (one channel's) means: the error as a
        MonitorError, and per row ``failed`` or ``retry`` at a time. A 410 disables the
        channel first; its rows are due again at once, to wait until it is enabled."""
        now = self.clock()
        if not isinstance(error, MonitorError):
            log.critical("event=delivery_crash channel=%s", rows[0].channel, exc_info=error)
            error = DeliveryError(f"unexpected {type(error).__name__}: {error}")
        assert isinstance(error, MonitorError)
        disable = isinstance(error, DeliveryError) and error.disable
        permanent = isinstance(error, DeliveryError) and error.permanent and not disable
        retry_after = error.retry_after if isinstance(error, DeliveryError) else None
        if disable:  # the rows wait, unclaimed, until the channel is enabled again
            self._disable(rows[0].channel, str(error), now)
        outcomes: list[tuple[str, datetime | None]] = []
        for row in rows:
            age = (now - (row.created_at or now)).total_seconds()
            if permanent or age > self.policy.horizon:
                outcomes.append(("failed", None))
            else:
                delay = 0.0 if disable else self.policy.delay(row.attempts + 1, retry_after)
                outcomes.append(("retry", now + timedelta(seconds=delay)))
        return error, outcomes

    def _disable(self, name: str, reason: str, now: datetime) -> None:
        hashes = self.channels.hashes if isinstance(self.channels, Channels) else {}
        self.store.disable_channel(name, reason, now, hashes.get(name))
        log.error("event=channel_disabled channel=%s reason=%r", name, reason)


async def finish_rounds(timeout: float) -> int:
    """Wait up to ``timeout`` seconds for every delivery round under way, of every outbox
    (one a reload replaced too), to record its sends; return how many were under way."""
    rounds = list(_RUNNING)
    if rounds:
        await asyncio.wait(rounds, timeout=timeout)
    return len(rounds)


def _digest_id(rows: Sequence[AlertRow]) -> str:
    """A digest's id: stable for the same set of alerts, so a retried digest keeps it."""
    import hashlib

    joined = ",".join(sorted(r.id for r in rows))
    return "digest-" + hashlib.sha256(joined.encode()).hexdigest()[:32]
