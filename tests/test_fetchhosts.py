"""The fetcher's counters (``Gate``) and host slots (``HostSlots``), on a real event loop.

A unit taken without awaiting, handed over in order, never lost to a cancelled waiter; a
slow request's slot given back by the one sweep timer, and only the slow one's. A pause
asked by an internationalised host is logged with its Unicode name.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from pytest_httpserver import HTTPServer

from monitor.errors import FetchHTTPStatus
from monitor.fetch import Fetcher
from monitor.fetchhosts import Gate, HostSlots, unicode_host


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


async def test_a_pause_asked_by_an_internationalised_host_is_logged_in_unicode(
        httpserver: HTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    """The 429 comes from a real server on loopback, reached as ``bücher.test``."""
    httpserver.expect_request("/feed").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "120"})
    asked: list[str] = []

    async def to_loopback(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    fetcher = Fetcher(user_agent="monitor-test", allow_private_networks=True, deadline=8.0,
                      resolver=to_loopback)
    caplog.set_level(logging.INFO, logger="monitor.fetch")
    try:
        with pytest.raises(FetchHTTPStatus):
            await fetcher.fetch(f"http://bücher.test:{httpserver.port}/feed")
    finally:
        await fetcher.aclose()
    assert asked == ["xn--bcher-kva.test"]  # sent as punycode, as DNS wants it
    lines = [r.getMessage() for r in caplog.records if "event=host_backoff" in r.getMessage()]
    assert lines == [f"event=host_backoff host='bücher.test:{httpserver.port}' status=429 "
                     "seconds=120"]


def test_a_host_that_is_not_valid_punycode_is_logged_as_sent() -> None:
    assert unicode_host("xn--zz.example:80") == "xn--zz.example:80"
    assert unicode_host("[::1]:8080") == "[::1]:8080"
    assert unicode_host("a.xn--bcher-kva.example:443") == "a.bücher.example:443"
