"""/readyz's look at the database: bounded in time, and never more than one ask at once.

A frozen or unreachable database must not make /readyz hang with it (nor pile up threads
waiting on it): ``DatabaseProbe.check`` reads the feeds in a thread and answers within
``READY_BOUND`` seconds, with the read's rows or why there are none. While a read is
under way, the next check waits on that one instead of starting another. A store error
within ``STORE_ERROR_RECENT`` seconds (a full disk fails writes while reads still work)
makes the database check fail too, with that error, unless a later transaction recovered
from it: any later write, or, for an error that wrote nothing (the database unreachable),
this check's own read (``monitor.store.outcome``).
"""

from __future__ import annotations

import asyncio

from monitor.errors import MonitorError
from monitor.store import FeedState, Store

READY_BOUND = 3.0
"""Seconds /readyz waits for the database before it says it does not answer."""
STORE_ERROR_RECENT = 60.0
"""A store error this many seconds old or newer, not recovered from, fails the database check."""


class DatabaseProbe:
    """The database check of /readyz, over ``store``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._reading: asyncio.Future[list[FeedState]] | None = None

    async def check(self) -> tuple[str, list[FeedState] | None]:
        """(``ok`` or why not, the feeds when they could be read)."""
        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(asyncio.to_thread(self._read))
            self._reading.add_done_callback(_retrieved)
        try:
            feeds = await asyncio.wait_for(asyncio.shield(self._reading), READY_BOUND)
        except TimeoutError:
            return f"no answer within {READY_BOUND:g}s", None
        except MonitorError as e:
            return f"unavailable: {e}", None
        failed = self.store.health.error_within(STORE_ERROR_RECENT)
        if failed:
            return f"failing: {failed[0]} ({failed[1]:.0f}s ago)", feeds
        return "ok", feeds

    def _read(self) -> list[FeedState]:
        self.store.ping()
        return self.store.feeds()  # a real read: on SQLite, SELECT 1 never touches the file


def _retrieved(future: asyncio.Future[list[FeedState]]) -> None:
    if not future.cancelled():
        future.exception()  # a read that outlived its check: its error was reported
