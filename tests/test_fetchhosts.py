"""The fetcher's counters (``Gate``) and host slots (``HostSlots``), on a real event loop.

A unit taken without awaiting, handed over in order, never lost to a cancelled waiter; a
slow request's slot given back by the one sweep timer, and only the slow one's.
"""

from __future__ import annotations

import asyncio

from monitor.fetchhosts import Gate, HostSlots


async def test_a_gate_hands_a_released_unit_to_its_first_waiter() -> None:
    gate = Gate(1)
    assert gate.take() and not gate.take()
    first = asyncio.create_task(gate.wait())
    second = asyncio.create_task(gate.wait())
    await asyncio.sleep(0)
    gate.release()
    await first
    assert not second.done() and gate.free == 0
    gate.release()
    await second
    gate.release()
    assert gate.free == 1 and gate.take()


async def test_a_unit_handed_to_a_cancelled_waiter_goes_to_the_next() -> None:
    gate = Gate(1)
    assert gate.take()
    first = asyncio.create_task(gate.wait())
    second = asyncio.create_task(gate.wait())
    third = asyncio.create_task(gate.wait())
    await asyncio.sleep(0)
    second.cancel()  # cancelled while waiting: dropped from the queue
    gate.release()  # handed to the first ...
    first.cancel()  # ... which is cancelled before it runs: the unit goes on
    await asyncio.gather(first, second, return_exceptions=True)
    await asyncio.wait_for(third, 5)
    assert gate.free == 0 and not gate.take()
    gate.release()
    assert gate.free == 1


async def test_the_sweep_gives_back_only_the_slow_requests_slot() -> None:
    hosts = HostSlots(1, 0.05)
    slow = hosts.hold("a:80")
    assert slow.held
    waiting = hosts.hold("a:80")
    assert not waiting.held
    other = hosts.hold("b:80")  # another host: its own slot
    assert other.held
    await asyncio.wait_for(hosts.acquire(waiting), 5)  # the sweep let the slow one go
    assert waiting.held and not slow.held
    hosts.end(slow)  # its slot went back already: not released twice
    third = hosts.hold("a:80")
    assert not third.held
    hosts.end(waiting)
    await asyncio.wait_for(hosts.acquire(third), 5)
    for hold in (third, other):
        hosts.end(hold)
    fresh = hosts.hold("a:80")  # nobody holds or waits: the host starts afresh
    assert fresh.held and fresh.gate is not slow.gate
    hosts.end(fresh)
    assert hosts._sweep is None  # idle: no timer left on the loop
