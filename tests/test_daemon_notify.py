"""The daemon speaks sd_notify: READY=1, WATCHDOG=1 pings, STOPPING=1 after SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from monitor.testing import NewsServer

ROOT = Path(__file__).resolve().parent.parent


async def test_ready_watchdog_stopping(tmp_path: Path, news: NewsServer) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text(f"""
[monitor]
database = "sqlite:///{tmp_path / 'm.db'}"
web = ""
allow_private_networks = true

[[feeds]]
name = "demo"
url = "{news.base}/feed.xml"
""")
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"}
    log = (tmp_path / "daemon.log").open("ab")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "run", "-c", str(config), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=log)
    loop = asyncio.get_running_loop()
    messages: list[str] = []

    async def receive() -> str:
        data = await asyncio.wait_for(loop.sock_recv(sock, 4096), 30)
        messages.append(data.decode())
        return messages[-1]

    try:
        while "READY=1" not in messages:
            await receive()
        while messages.count("WATCHDOG=1") < 3:
            await receive()
        proc.send_signal(signal.SIGTERM)
        while not any(m.startswith("STOPPING=1") for m in messages):
            await receive()
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()
        sock.close()
    ready = messages.index("READY=1")
    first_ping = messages.index("WATCHDOG=1")
    stopping = next(i for i, m in enumerate(messages) if m.startswith("STOPPING=1"))
    assert ready < first_ping < stopping
