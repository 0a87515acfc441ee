"""A daemon killed between matching and delivery loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest
from aiohttp import web

from monitor.testing import NewsServer, WebhookReceiver
from tests.helpers import SECRET, write_config

ROOT = Path(__file__).resolve().parent.parent


def pending(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("select count(*) from alerts where status='pending'").fetchone()[0]
    except sqlite3.Error:
        return 0


async def monitor(*args: str, log: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "E2E_WEBHOOK_SECRET": SECRET}
    with log.open("ab") as sink:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor", *args, cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=sink)


@pytest.mark.slow
async def test_sigkill_after_match_before_delivery(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver) -> None:
    slow = write_config(tmp_path, news, None, hook, extra_monitor="").read_text()
    path = tmp_path / "monitor.toml"
    path.write_text(slow.replace('delivery_interval = "1s"', 'delivery_interval = "1h"'))
    log = tmp_path / "daemon.log"
    proc = await monitor("run", "-c", str(path), log=log)
    db = tmp_path / "monitor.db"
    try:
        for _ in range(300):
            if pending(db) == 2:
                break
            await asyncio.sleep(0.1)
        assert pending(db) == 2, log.read_text()[-3000:]
        assert hook.received == []
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    path.write_text(slow)
    again = await monitor("run", "-c", str(path), "--once", log=log)
    await asyncio.wait_for(again.wait(), 60)
    assert again.returncode == 0, log.read_text()[-3000:]
    assert sorted(b["rule"]["name"] for b in hook.bodies()) == ["dpa", "scr"]
    assert pending(db) == 0


async def test_sigterm_exits_zero(tmp_path: Path, news: NewsServer,
                                  hook: WebhookReceiver) -> None:
    path = write_config(tmp_path, news, None, hook)
    log = tmp_path / "daemon.log"
    proc = await monitor("run", "-c", str(path), log=log)
    db = tmp_path / "monitor.db"
    for _ in range(300):
        if pending(db) or hook.received:
            break
        await asyncio.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proc.wait(), 60)
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert "event=stopping" in log.read_text()


class SlowReceiver(WebhookReceiver):
    """A webhook receiver that answers 200 two seconds after each request arrives."""

    async def _hook(self, request: web.Request) -> web.Response:
        await request.read()
        self.received.append(({}, b"{}"))
        await asyncio.sleep(2)
        return web.Response(status=200, text="ok")


async def test_sigterm_lets_deliveries_under_way_finish(tmp_path: Path,
                                                         news: NewsServer) -> None:
    hook = await SlowReceiver().start()
    try:
        path = write_config(tmp_path, news, None, hook)
        log = tmp_path / "daemon.log"
        proc = await monitor("run", "-c", str(path), log=log)
        for _ in range(300):
            if hook.received:
                break
            await asyncio.sleep(0.1)
        assert hook.received, log.read_text()[-3000:]
        proc.send_signal(signal.SIGTERM)  # while the receiver holds the first sends
        await asyncio.wait_for(proc.wait(), 60)
    finally:
        await hook.stop()
    assert proc.returncode == 0, log.read_text()[-3000:]
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        outcomes = [r[0] for r in conn.execute("select outcome from deliveries")]
        claimed = conn.execute(
            "select count(*) from alerts where claimed_by is not null").fetchone()[0]
    # every send the receiver got is recorded as sent, none left "sending" to go out
    # again once its lease runs out, no alert left claimed by the node that stopped
    assert outcomes and set(outcomes) == {"sent"}, outcomes
    assert len(outcomes) == len(hook.received)
    assert claimed == 0
