"""Politeness per host for :mod:`monitor.fetch`: how many requests to one host at a time
(:class:`HostSlots`, on :class:`Gate`, which also bounds all requests at once) and the
pause a host asked for with Retry-After (:class:`HostBackoff`).

Hosts are keyed ``host:port`` by the caller.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from monitor.errors import FetchPostponed
from monitor.retryafter import parse_retry_after

logger = logging.getLogger("monitor.fetch")


class Gate:
    """``count`` units taken without awaiting while one is free (:meth:`take`), else
    awaited in order (:meth:`wait`); a released unit goes straight to the next waiter.

    Not an ``asyncio.Semaphore``: its ``acquire`` is a coroutine even when a unit is free,
    and this runs on every request (bench/poll.py)."""

    __slots__ = ("free", "users", "_waiters")

    def __init__(self, count: int) -> None:
        self.free, self.users = count, 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    def take(self) -> bool:
        """Take a unit if one is free and nobody waits; True if taken."""
        if self.free and not self._waiters:
            self.free -= 1
            return True
        return False

    async def wait(self) -> None:
        """Wait for a unit (one freed since ``take`` failed is taken at once); on
        cancellation none is kept."""
        if self.take():
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():  # handed over, then cancelled
                self.release()
            elif future in self._waiters:
                self._waiters.remove(future)
            raise

    def release(self) -> None:
        """Give a unit back: to the first waiter still waiting, else to the free ones."""
        waiters = self._waiters
        while waiters:
            future = waiters.popleft()
            if not future.done():
                future.set_result(None)
                return
        self.free += 1


class Hold:
    """One request's hold of its host's slot (see :meth:`HostSlots.hold`)."""

    __slots__ = ("gate", "held", "key", "since")

    def __init__(self, gate: Gate, key: str) -> None:
        self.gate, self.key = gate, key
        self.held, self.since = False, 0.0


class HostSlots:
    """Per-host gates, made on demand and dropped when nobody holds or awaits them.

    A request running ``slow_after`` seconds gives its slot back and runs on to its own
    deadline: a slow response holds the host's other feeds that long, not its deadline.
    One timer per loop does that (not one per request): it fires when the oldest request
    in flight turns slow, gives back the slots of all those that have, and is set again
    for the next oldest. In-flight requests are kept in the order they got their slots,
    which is the order they turn slow in."""

    def __init__(self, per_host: int, slow_after: float) -> None:
        self._per_host, self._slow_after = per_host, slow_after
        self._gates: dict[str, Gate] = {}
        self._flight: dict[Hold, None] = {}
        self._sweep: asyncio.TimerHandle | None = None

    def hold(self, key: str) -> Hold:
        """A hold on one of the host's slots, taken at once when one is free (``held``);
        otherwise ``await acquire(hold)``. Always end it with :meth:`end`."""
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = Gate(self._per_host)
        gate.users += 1
        hold = Hold(gate, key)
        if gate.take():
            self._start(hold)
        return hold

    async def acquire(self, hold: Hold) -> None:
        """Wait for the slot of a hold that did not get one at once."""
        await hold.gate.wait()
        self._start(hold)

    def _start(self, hold: Hold) -> None:
        loop = asyncio.get_running_loop()
        hold.held, hold.since = True, loop.time()
        self._flight[hold] = None
        if self._sweep is None:
            self._sweep = loop.call_at(hold.since + self._slow_after, self._give_back_slow)

    def end(self, hold: Hold) -> None:
        """The request is over: its slot back (unless given back already), the hold gone."""
        if hold.held:
            hold.held = False
            del self._flight[hold]
            hold.gate.release()
            if not self._flight and self._sweep is not None:  # idle: no timer left behind
                self._sweep.cancel()
                self._sweep = None
        hold.gate.users -= 1
        if not hold.gate.users:
            del self._gates[hold.key]

    def _give_back_slow(self) -> None:
        """The sweep: slots of requests running ``slow_after`` seconds go back."""
        self._sweep = None
        loop = asyncio.get_running_loop()
        cutoff = loop.time() - self._slow_after + 1e-3  # the loop may run a timer that early
        while self._flight:
            hold = next(iter(self._flight))
            if hold.since > cutoff:
                self._sweep = loop.call_at(hold.since + self._slow_after, self._give_back_slow)
                return
            hold.held = False
            del self._flight[hold]
            hold.gate.release()


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
            logger.info("event=host_backoff host=%r status=%d seconds=%.0f", unicode_host(key),
                        status, delay)
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


def unicode_host(key: str) -> str:
    """``host:port`` with an internationalised host as people write it (``bücher.example``,
    not ``xn--bcher-kva.example``), for logs; as it was when it is not valid punycode."""
    host, colon, port = key.rpartition(":")
    if "xn--" not in host.lower():
        return key
    try:
        return host.encode("ascii").decode("idna") + colon + port
    except UnicodeError:
        return key
