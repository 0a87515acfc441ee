"""sd_notify(3) for the daemon, standard library only.

systemd runs monitor as ``Type=notify`` with ``WatchdogSec=`` (systemd/monitor.service).
The daemon tells it ``READY=1`` once it is serving, ``STOPPING=1`` when it starts to shut
down, and sends ``WATCHDOG=1`` from :func:`watchdog_loop`. The pings come from a task on
the asyncio event loop, so a loop blocked by a runaway callback stops them and systemd
restarts the service.

Outside systemd (``NOTIFY_SOCKET`` unset) every function here is a harmless no-op.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

logger = logging.getLogger(__name__)

# notify() runs on the event loop: a wedged service manager may stall it this long at most.
_SEND_TIMEOUT = 1.0


def notify(state: str) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``, newline-separated assignments) to systemd.

    Returns True when the datagram was sent, False when ``NOTIFY_SOCKET`` is unset or
    names no usable socket or the send fails. Never raises: a lost notification must not
    stop the daemon.
    """
    configured = os.environ.get("NOTIFY_SOCKET", "")
    address = _socket_address(configured)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.settimeout(_SEND_TIMEOUT)
            sock.sendto(state.encode(), address)
    except OSError as e:
        logger.warning("event=sd_notify status=error socket=%s error=%r", configured, e)
        return False
    return True


def _socket_address(value: str) -> str | None:
    """Map ``NOTIFY_SOCKET`` to an AF_UNIX address: a path, or ``@name`` for abstract."""
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # unset, empty, or a kind we do not speak (vsock:...)


def watchdog_interval() -> float | None:
    """The ping period in seconds: half of ``WatchdogSec=``, or None if there is no watchdog.

    Reads ``WATCHDOG_USEC``; when ``WATCHDOG_PID`` is set it must be this process (a child
    that inherited the environment must not ping on the parent's behalf).
    """
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None
    try:
        usec = int(os.environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1_000_000


async def watchdog_loop(interval: float | None = None) -> None:
    """Send ``WATCHDOG=1`` every ``interval`` seconds (default :func:`watchdog_interval`).

    Run it as a task for the daemon's lifetime and cancel it at shutdown. Returns at once
    when no watchdog is configured.
    """
    if interval is None:
        interval = watchdog_interval()
    if interval is None:
        return
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)
