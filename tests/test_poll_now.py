"""``monitor feeds poll NAME`` while a daemon runs; a cleanly stopped node leaves at once.

A real daemon (``Daemon.run``, its 1 s dispatcher and heartbeat) on SQLite and on
PostgreSQL, a local feed server, and the CLI run beside it on the same database, as an
operator would from another shell or another machine.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.daemon import Daemon, load
from monitor.store import PollRecord
from monitor.testing import NewsServer, WebhookReceiver
from tests.helpers import SECRET, write_config

FAR = timedelta(days=30)


async def until(check: Callable[[], bool], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


async def test_feeds_poll_makes_a_running_daemon_poll_now_and_sigterm_leaves(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, db_url: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = write_config(tmp_path, news, None, hook, database=db_url)
    daemon = Daemon(load(str(path)), str(path))
    store = daemon.services.store
    now = datetime.now(UTC)
    (feed,) = store.claim_due_feeds("setup", now, 10, lease=60)  # parked a month out
    store.finish_poll(feed.id, "setup", PollRecord("ok", now + FAR), now)
    running = asyncio.create_task(daemon.run())
    try:
        assert await until(lambda: bool(store.nodes(datetime.now(UTC), 60)), 10)
        await asyncio.sleep(1.5)  # a few dispatcher ticks: nothing is due
        assert "/feed.xml" not in news.requests

        code = await asyncio.to_thread(main, ["feeds", "-c", str(path), "poll", "Demo News"])
        assert code == 0 and "'Demo News': due now" in capsys.readouterr().out
        assert await until(lambda: "/feed.xml" in news.requests, 5), "not polled"
        assert await until(lambda: store.feeds()[0].items_seen == 4, 10), "poll not finished"
        (feed,) = store.feeds()
        assert feed.next_poll_at is not None and feed.next_poll_at > datetime.now(UTC)

        code = await asyncio.to_thread(main, ["feeds", "-c", str(path), "poll", "Nope"])
        said = [ln for ln in capsys.readouterr().err.splitlines() if "event=" not in ln]
        assert code == 2 and said == [f"monitor: no feed named 'Nope' in {path}"]
        assert len(store.nodes(datetime.now(UTC), 60)) == 1

        os.kill(os.getpid(), signal.SIGTERM)  # the daemon's own handler stops it cleanly
        assert await asyncio.wait_for(running, 30) == 0
        assert store.nodes(datetime.now(UTC), 60) == []  # gone at once, not after a minute
        assert await asyncio.to_thread(main, ["nodes", "-c", str(path)]) == 1
    finally:
        daemon.stopping.set()
        await asyncio.wait_for(running, 30)
        await daemon.close()


@pytest.mark.parametrize(("args", "said"), [
    (["poll"], "monitor: usage: monitor feeds -c FILE poll NAME [NAME...]"),
    (["poll", "Demo News", "Nope", "Nor this"],
     "monitor: no feed named 'Nope', 'Nor this' in {path}"),
    (["list", "Demo News"], "monitor: usage: monitor feeds -c FILE list takes no arguments"),
], ids=["no-name", "unknown-names", "list-with-names"])
def test_feeds_poll_bad_input_is_one_line(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, args: list[str], said: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = write_config(tmp_path, news, None, hook)
    assert main(["feeds", "-c", str(path), *args]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [said.format(path=path)] and captured.out == ""
    assert not (tmp_path / "monitor.db").exists()  # nothing was due, nothing was written
