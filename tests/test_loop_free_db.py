"""The outbox's and the daemon's remaining database calls run off the event loop (issue 16
item 4): the outbox's ``start_delivery`` / ``finish_delivery`` (and their notice twins), a
SIGHUP reload's feed and rule sync, and ``leave()`` on a clean stop.

Each test holds one store method in a ``Gate``: the call waits until the test's own loop
opens the gate. A call made off the loop is let through at once; a call made on the loop
would stop the loop, so the test could never open the gate, and the call gives up waiting
after ``BOUND`` seconds and is counted as ``on_loop``. Real servers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.alerts.outbox import Outbox
from monitor.alerts.webhook import WebhookChannel
from monitor.config import FeedSettings
from monitor.daemon import Daemon
from monitor.models import Article, Entry, Match, TermHit
from monitor.store import NewArticle, Store
from monitor.testing import WebhookReceiver
from tests.helpers import Clock
from tests.store_helpers import store_article

NOW = datetime.now(UTC).replace(microsecond=0)
BOUND = 5.0  # seconds a held call waits for the gate before it counts as on the loop
WAIT = 30.0


class Gate:
    """Holds every call of ``store.NAME`` until the test's loop opens the gate."""

    def __init__(self, store: Store, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.on_loop = 0
        self.calls = 0
        real: Callable[..., Any] = getattr(store, name)

        def held(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            self.entered.set()
            if not self.opened.wait(BOUND):  # the loop never came back to open it
                self.on_loop += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(store, name, held)

    async def open_once_entered(self) -> None:
        """Wait (on the loop) until a call is inside, then let every call through."""
        for _ in range(int(WAIT / 0.01)):
            if self.entered.is_set():
                break
            await asyncio.sleep(0.01)
        assert self.entered.is_set(), "the held method was never called"
        self.opened.set()


def outbox_store(tmp_path: Path, alerts: int) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'm.db'}")
    store.migrate()
    store.sync_feeds([FeedSettings("wire", "http://127.0.0.1/feed", 60)], NOW)
    feed = store.feeds()[0]
    for i in range(alerts):
        url = f"http://127.0.0.1/a{i}"
        new = NewArticle(Entry(f"k{i}", url, f"Story {i}"), Article(url, f"Story {i}", "t " * 50),
                         f"h{i}", None, (Match("dpa", '"story"', (TermHit("story", 1),)),))
        store_article(store, feed.id, feed.name, new, {"dpa": [("hook", None)]}, NOW)
    return store


@pytest.mark.parametrize("method", ["start_delivery", "finish_delivery"])
async def test_the_outbox_records_attempts_off_the_loop(
        tmp_path: Path, client: httpx.AsyncClient, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    store = outbox_store(tmp_path, 3)
    gate = Gate(store, method, monkeypatch)
    outbox = Outbox(store, {"hook": WebhookChannel("hook", hook.url, [], client)},
                    clock=Clock(NOW))
    drained = asyncio.create_task(outbox.drain())
    await gate.open_once_entered()
    assert await asyncio.wait_for(drained, WAIT) == 3
    assert gate.on_loop == 0 and gate.calls == 3
    # store, then send, then record: every alert sent once and recorded as sent
    assert len(hook.bodies()) == 3
    assert {a.status for a in store.list_alerts(limit=None)} == {"sent"}


async def test_a_sighup_reload_syncs_feeds_and_rules_off_the_loop(
        seed_daemon: tuple[Daemon, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    daemon, path = seed_daemon
    gate = Gate(daemon.services.store, "sync_feeds", monkeypatch)
    path.write_text(path.read_text().replace('name = "scr"', 'name = "scr2"'))
    daemon.reload_soon()  # what SIGHUP does
    await gate.open_once_entered()
    await asyncio.wait_for(asyncio.gather(*daemon.background), WAIT)
    assert gate.on_loop == 0 and gate.calls == 1
    assert daemon.reload_failed is None
    assert sorted(w.name for w in daemon.config.watches) == ["dpa", "scr2"]
    assert "scr2" in {r.name for r in daemon.services.store.rules() if r.enabled}


async def test_a_bad_config_on_sighup_keeps_the_old_one(
        seed_daemon: tuple[Daemon, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    daemon, path = seed_daemon
    path.write_text(path.read_text().replace('"supply chain risk"\'',
                                             '"supply chain risk\''))
    daemon.reload_soon()
    await asyncio.wait_for(asyncio.gather(*daemon.background), WAIT)
    assert daemon.reload_failed is not None and "quote" in daemon.reload_failed[0]
    assert sorted(w.name for w in daemon.config.watches) == ["dpa", "scr"]


async def test_leaving_on_a_clean_stop_is_off_the_loop(
        seed_daemon: tuple[Daemon, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    daemon, path = seed_daemon
    gate = Gate(daemon.services.store, "forget_node", monkeypatch)
    running = asyncio.create_task(daemon.run())
    await asyncio.sleep(0.2)
    daemon.stopping.set()
    await gate.open_once_entered()
    assert await asyncio.wait_for(running, WAIT) == 0
    assert gate.on_loop == 0 and gate.calls == 1
    assert daemon.node not in {n.id for n in daemon.services.store.nodes(
        datetime.now(UTC), 3600.0)}
