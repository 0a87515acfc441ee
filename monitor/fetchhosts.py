"""Politeness per host for :mod:`monitor.fetch`: how many requests to one host at a time
(:class:`HostSlots`) and the pause a host asked for with Retry-After (:class:`HostBackoff`).

Hosts are keyed ``host:port`` by the caller.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from monitor.errors import FetchPostponed
from monitor.retryafter import parse_retry_after

logger = logging.getLogger("monitor.fetch")


@dataclass(slots=True)
class _Slot:
    sem: asyncio.Semaphore
    users: int = 0


class HostSlots:
    """Per-host semaphores, made on demand and dropped when nobody holds or awaits them.

    A request running ``slow_after`` seconds gives its slot back and runs on to its own
    deadline: a slow response holds the host's other feeds that long, not its deadline."""

    def __init__(self, per_host: int, slow_after: float) -> None:
        self._per_host, self._slow_after = per_host, slow_after
        self._slots: dict[str, _Slot] = {}

    def hold(self, key: str) -> _Hold:
        """``async with`` this: one of the host's slots, held until the block ends or for
        ``slow_after`` seconds, whichever comes first."""
        return _Hold(self, key)


class _Hold:
    """One hold of a host's slot (a class, not a generator: it is on every request)."""

    __slots__ = ("_held", "_key", "_owner", "_slot", "_timer")

    def __init__(self, owner: HostSlots, key: str) -> None:
        self._owner, self._key = owner, key
        self._held = False
        self._timer: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> None:
        owner = self._owner
        slot = owner._slots.get(self._key)
        if slot is None:
            slot = owner._slots[self._key] = _Slot(asyncio.Semaphore(owner._per_host))
        slot.users += 1
        self._slot = slot
        try:
            await slot.sem.acquire()
        except BaseException:
            self._leave()
            raise
        self._held = True
        self._timer = asyncio.get_running_loop().call_later(owner._slow_after, self._give_back)

    async def __aexit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._give_back()
        self._leave()

    def _give_back(self) -> None:
        if self._held:
            self._held = False
            self._slot.sem.release()

    def _leave(self) -> None:
        self._slot.users -= 1
        if not self._slot.users:
            del self._owner._slots[self._key]


class HostBackoff:
    """Hosts that asked for a pause (429/503 with Retry-After; a 429 without one gets
    ``default_429`` seconds, a 503 without one none), until when, and after which status."""

    def __init__(self, default_429: float) -> None:
        self._default_429 = default_429
        self._until: dict[str, tuple[float, int]] = {}  # host -> (monotonic until, status)

    def __bool__(self) -> bool:
        """True while some host's pause may still run (``check`` then has work to do)."""
        return bool(self._until)

    def record(self, key: str, status: int, value: str | None) -> float | None:
        """Note a host's answer; the pause it asked for, in seconds, if any."""
        if status not in (429, 503):
            return None
        delay = parse_retry_after(value)
        if delay is None and status == 429:
            delay = self._default_429
        if delay:
            now = time.monotonic()
            if len(self._until) >= 1024:  # forget hosts whose delay has passed
                self._until = {k: v for k, v in self._until.items() if v[0] > now}
            self._until[key] = (now + delay, status)
            logger.info("event=host_backoff host=%s status=%d seconds=%.0f", key, status, delay)
        return delay

    def left(self, key: str) -> tuple[float, int]:
        """Seconds of the host's pause left (0 when none) and the status that asked for it."""
        until, status = self._until.get(key, (0.0, 0))
        if not until:
            return 0.0, 0
        left = until - time.monotonic()
        if left <= 0:
            del self._until[key]
        return max(left, 0.0), status

    def check(self, key: str, url: str) -> None:
        """Raise FetchPostponed while the host's pause runs."""
        left, status = self.left(key)
        if left > 0:
            raise FetchPostponed(f"host asked for a pause: {left:.0f}s left after HTTP {status}",
                                 url, status=status, retry_after=left)
