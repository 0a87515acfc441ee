"""sd_notify against real AF_UNIX datagram sockets, as systemd listens for them."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor import sdnotify


@pytest.fixture
def listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A datagram socket bound in tmp_path and named by NOTIFY_SOCKET."""
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield sock


def drain(sock: socket.socket) -> list[bytes]:
    """Every datagram waiting on ``sock``, without blocking."""
    received = []
    sock.setblocking(False)
    try:
        while True:
            received.append(sock.recv(4096))
    except BlockingIOError:
        return received
    finally:
        sock.settimeout(2)


@pytest.mark.parametrize("state", ["READY=1", "WATCHDOG=1", "STOPPING=1\nSTATUS=draining"])
def test_notify_sends_state_to_socket_path(listener: socket.socket, state: str) -> None:
    assert sdnotify.notify(state) is True
    assert listener.recv(4096) == state.encode()


def test_notify_sends_to_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"monitor-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.notify("READY=1") is True
        assert sock.recv(4096) == b"READY=1"


@pytest.mark.parametrize("value", [None, "", "@", "relative/path", "vsock:2:1234"],
                         ids=["unset", "empty", "bare-at", "relative", "vsock"])
def test_notify_without_usable_socket_is_a_no_op(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    else:
        monkeypatch.setenv("NOTIFY_SOCKET", value)
    assert sdnotify.notify("READY=1") is False


def test_notify_to_missing_socket_returns_false(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    assert sdnotify.notify("READY=1") is False
    assert "event=sd_notify status=error" in caplog.text


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("60000000", None, 30.0),
        ("60000000", "self", 30.0),
        ("60000000", "other", None),
        ("1000", None, 0.0005),
        (None, None, None),
        ("", None, None),
        ("0", None, None),
        ("-5", None, None),
        ("sixty", None, None),
    ],
    ids=["60s", "pid-self", "pid-other", "1ms", "unset", "empty", "zero", "negative", "garbage"],
)
def test_watchdog_interval_is_half_of_watchdog_usec(
    monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None, expected: float | None
) -> None:
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            own = os.getpid()
            value = {"self": str(own), "other": str(own + 1)}.get(value, value)
            monkeypatch.setenv(name, value)
    assert sdnotify.watchdog_interval() == expected


async def test_watchdog_loop_pings_until_cancelled(listener: socket.socket) -> None:
    task = asyncio.create_task(sdnotify.watchdog_loop(0.01))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    pings = drain(listener)
    assert len(pings) >= 3
    assert set(pings) == {b"WATCHDOG=1"}


async def test_blocked_event_loop_stops_the_pings(listener: socket.socket) -> None:
    task = asyncio.create_task(sdnotify.watchdog_loop(0.01))
    await asyncio.sleep(0.05)
    drain(listener)
    time.sleep(0.2)  # a runaway callback: nothing else runs on the loop meanwhile
    assert drain(listener) == []
    await asyncio.sleep(0.05)
    assert drain(listener), "pings resume once the loop runs again"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_watchdog_loop_reads_interval_from_environment(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "20000")  # ping every 10 ms
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    task = asyncio.create_task(sdnotify.watchdog_loop())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(drain(listener)) >= 3


async def test_watchdog_loop_returns_without_watchdog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    await asyncio.wait_for(sdnotify.watchdog_loop(), timeout=1)
