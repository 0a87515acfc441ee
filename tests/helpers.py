"""Small helpers shared by the end-to-end tests."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from monitor.daemon import Daemon
from monitor.testing import MailServer, NewsServer, WebhookReceiver

SEED_WATCHES = """
[[watch]]
name = "dpa"
query = '"Defense Production Act"'
channels = CHANNELS

[[watch]]
name = "scr"
query = '"supply chain risk"'
channels = CHANNELS
"""
"""The two rules the seed article matches; ``CHANNELS`` becomes the servers' channels."""

SECRET = "whsec_" + base64.b64encode(b"end-to-end-test-secret").decode()


def write_config(tmp_path: Path, news: NewsServer, mail: MailServer | None,
                 hook: WebhookReceiver | None, extra_monitor: str = "",
                 feeds: str | None = None, watches: str | None = None,
                 database: str | None = None) -> Path:
    """A config for the local servers, alerting on the first poll (SQLite unless given)."""
    feeds = feeds if feeds is not None else f"""
[[feeds]]
name = "Demo News"
url = "{news.base}/feed.xml"
"""
    watches = watches if watches is not None else SEED_WATCHES
    names = (["mail"] if mail else []) + (["hook"] if hook else [])
    text = f"""
[monitor]
database = "{database or f"sqlite:///{tmp_path / 'monitor.db'}"}"
allow_private_networks = true
alert_on_first_poll = true
max_age = "off"  # the seed articles are from February 2026
web = ""
extract_workers = 1
delivery_interval = "1s"
{extra_monitor}
{feeds}
{watches.replace("CHANNELS", repr(names).replace("'", '"'))}
"""
    if mail:
        text += f"""
[channels.mail]
type = "email"
to = ["desk@example.org"]
from = "monitor@example.org"
smtp_host = "127.0.0.1"
smtp_port = {mail.port}
"""
    if hook:
        text += f"""
[channels.hook]
type = "webhook"
url = "{hook.url}"
secret_env = "E2E_WEBHOOK_SECRET"
"""
    path = tmp_path / "monitor.toml"
    path.write_text(text)
    return path


def verify_standard_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks check, written independently of monitor's code."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(sig == f"v1,{expected}" for sig in headers["webhook-signature"].split())


class Clock:
    """A clock that moves only when a test sets ``now`` (by default, when it was made)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


ROOT = Path(__file__).resolve().parent.parent


async def start_daemon(config: Path, env: dict[str, str], log: IO[bytes]
                       ) -> asyncio.subprocess.Process:
    """``monitor run -c config`` as a real process (for crash tests), stderr to ``log``."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "run", "-c", str(config), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=log)


async def until(check: Callable[[], object], within: float, what: str) -> None:
    """Wait until ``check()`` is true, looking every 0.05 s; fail naming ``what`` once
    ``within`` seconds have passed."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not within {within:g}s: {what}"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(daemon: Daemon) -> AsyncIterator[Daemon]:
    """``daemon.run()`` in a task; on the way out the daemon is stopped, awaited, closed."""
    task = asyncio.create_task(daemon.run())
    try:
        yield daemon
    finally:
        daemon.stopping.set()
        await task
        await daemon.close()
