"""Start-up's wait for the database: a reboot during a database restart must not leave the
daemon dead (systemd does not restart exit 2, which is for a bad config only)."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitor import sdnotify
from monitor.config import MonitorSettings
from monitor.errors import StorageError
from monitor.store.db import Store

log = logging.getLogger(__name__)

DB_WAIT_FIRST = 1.0  # seconds before the second try to reach the database at start...
DB_WAIT_MAX = 30.0  # ...doubling up to this


@dataclass
class WaitStatus:
    """Where the wait for the database is (the web listener's /readyz says it meanwhile)."""

    attempt: int = 0  # failed tries so far
    error: str = ""  # the last one's, its password hidden

    def reason(self) -> str:
        """Why the daemon is not ready, on one line."""
        if not self.attempt:
            return "waiting for the database"
        return f"waiting for the database (try {self.attempt}): {self.error}"


def open_database(settings: MonitorSettings) -> Store:
    """The store on ``[monitor] database``, every wait bounded by the database timeouts
    (it connects on first use)."""
    return Store(settings.database, connect_timeout=settings.database_connect_timeout,
                 timeout=settings.database_timeout)


async def migrate_once(store: Store) -> tuple[int | None, bool]:
    """``monitor run --once``'s start, without waiting: (None, False) once migrated;
    (1, False) when the database is unreachable."""
    try:
        await asyncio.to_thread(store.migrate)
    except StorageError as e:
        log.error("event=database_unavailable error=%r", hide_password(str(e), store.url))
        return 1, False
    return None, False


async def wait_for_database(store: Store, stop: asyncio.Event,
                            first: float = DB_WAIT_FIRST, most: float = DB_WAIT_MAX,
                            status: WaitStatus | None = None) -> bool:
    """Migrate ``store``, retrying with backoff while the database is unreachable; True once
    it answers, False when ``stop`` is set first. systemd hears why it waits (STATUS=) and
    that the start is not hung (EXTEND_TIMEOUT_USEC=, watchdog pings); ``status`` is kept
    up to date for /readyz."""
    status = status or WaitStatus()
    delay, attempt = first, 0
    watchdog: asyncio.Task[None] | None = None
    stopped = asyncio.ensure_future(stop.wait())
    try:
        while True:
            attempt += 1
            migrate = asyncio.ensure_future(asyncio.to_thread(store.migrate))
            await asyncio.wait({migrate, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not migrate.done():  # a try under way (at most the connect timeout) ends alone
                return False
            try:
                migrate.result()
                if attempt > 1:
                    log.info("event=database_ready attempt=%d", attempt)
                return True
            except StorageError as e:
                status.attempt, status.error = attempt, hide_password(str(e), store.url)
                log.warning("event=database_wait attempt=%d retry_in=%g error=%r",
                            attempt, delay, status.error)
                sdnotify.notify(f"STATUS=waiting for the database (try {attempt})\n"
                                f"EXTEND_TIMEOUT_USEC={int((delay + 60) * 1e6)}")
            watchdog = watchdog or asyncio.create_task(sdnotify.watchdog_loop())
            await asyncio.wait({stopped}, timeout=delay)
            if stopped.done():
                return False
            delay = min(delay * 2, most)
    finally:
        stopped.cancel()
        if watchdog:
            watchdog.cancel()


def hide_password(message: str, url: str) -> str:
    """``message`` without the password of the database ``url``, should a driver quote it."""
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        return message
    return message.replace(str(password), "***") if password else message


async def wait_interruptibly(store: Store, status: WaitStatus | None = None
                             ) -> tuple[int | None, bool]:
    """``wait_for_database`` that SIGTERM/SIGINT end: (None once the database answers,
    else exit status 0) and whether a SIGHUP came meanwhile (to reload once started)."""
    loop, stop, hup = asyncio.get_running_loop(), asyncio.Event(), asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, hup.set)
    try:
        if await wait_for_database(store, stop, status=status):
            return None, hup.is_set()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    log.info("event=stopped_waiting reason=signal")
    return 0, False
