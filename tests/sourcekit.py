"""Helpers shared by the source-kind tests: real-shaped documents from tests/data/sources/
with their fictional site swapped for a local server, and a daemon polled once."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest

from monitor.daemon import Daemon, load
from monitor.testing import WebhookReceiver
from tests.helpers import SECRET

SOURCES = Path(__file__).resolve().parent / "data" / "sources"
SITE = "https://www.example-news.com"  # the news site the documents in data/sources link to

DPA_RULE = """
[[watch]]
name = "dpa"
query = '"Defense Production Act"'
channels = CHANNELS
"""


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook channel's secret (import this fixture into a test module to use it)."""
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)


def document(name: str, site: str = SITE, original: str = SITE) -> bytes:
    """``tests/data/sources/NAME`` with its site ``original`` (the news site) moved to
    ``site``, inside Google News tokens too."""
    text = (SOURCES / name).read_text(encoding="utf-8")
    text = _TOKEN.sub(lambda m: m[1] + _moved_token(m[2], site), text)
    return text.replace(original, site).encode()


_TOKEN = re.compile(r"(/rss/articles/)([A-Za-z0-9_-]+)")


def _moved_token(token: str, site: str) -> str:
    data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    fields, i = [], 3  # b"\x08\x13\x22", then field 4 and maybe field 26
    while i < len(data):
        size, i = _read_varint(data, i)
        fields.append(data[i:i + size].decode())
        i += size + 2  # the next field's two tag bytes (\xd2\x01)
    moved = [f.replace(SITE, site) for f in fields]
    return google_news_token(moved[0], *moved[1:2])


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        value |= (data[i] & 0x7F) << shift
        i += 1
        if not data[i - 1] & 0x80:
            return value, i
        shift += 7


def varint(n: int) -> bytes:
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def google_news_token(payload: str, amp: str = "") -> str:
    """A Google News article token as Google writes it: base64 of protobuf fields 1, 4, 26."""
    data = b"\x08\x13\x22" + varint(len(payload.encode())) + payload.encode()
    if amp:
        data += b"\xd2\x01" + varint(len(amp.encode())) + amp.encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


async def poll_once(path: Path, times: int = 1) -> list[Any]:
    """Run the daemon of the config at ``path`` once (or ``times`` times), close it, and
    return the feeds' stored states (``FeedState``: warning, error, …)."""
    daemon = Daemon(load(str(path)), str(path))
    try:
        for _ in range(times):
            await daemon.run_once()
        return list(daemon.services.store.feeds())
    finally:
        await daemon.close()


def alerted(hook: WebhookReceiver) -> list[tuple[str, str]]:
    """(rule, article URL) of every alert the webhook received."""
    return sorted((b["rule"]["name"], b["article"]["url"]) for b in hook.bodies())


def monitor_parse(*args: str, stdin: bytes = b"") -> tuple[int, list[dict[str, object]], str]:
    """``monitor parse ARGS`` as a process: exit code, the JSON lines, stderr."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "monitor", "parse", *args], cwd=root,
                          input=stdin, capture_output=True, timeout=60)
    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    return done.returncode, lines, done.stderr.decode()
