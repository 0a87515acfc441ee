"""Reloads do not leak the rule sets they replace (issue 16, item 8).

A real ``monitor run`` with 5,000 rules gets 20 SIGHUPs; its resident memory (VmRSS of
/proc/PID/status) after the 20th reload is within 10% of that after the first. Before the
fix each reload kept the previous set for good (``gc.freeze()`` put its reference cycles
out of the collector's reach): about +7 MB a reload here (bench/reload.py).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RULES = 5_000
RELOADS = 20


def generated_rules(count: int, seed: int = 16) -> str:
    """``count`` watchlist lines of varied queries (words, phrases, boolean, NEAR, prefixes,
    fields, regexes) over pseudo-words, so each rule compiles to structures of its own."""
    rng = random.Random(seed)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]

    def word() -> str:
        return "".join(rng.choices(syllables, k=rng.randint(2, 4)))

    forms = [
        lambda: word(),
        lambda: f'"{word()} {word()}"',
        lambda: f"{word()} AND ({word()} OR {word()})",
        lambda: f"{word()} NEAR/{rng.randint(1, 9)} {word()}",
        lambda: f"{word()}* -{word()}",
        lambda: f"title:{word()} {word()}",
        lambda: rf"/\b{word()}\s+{word()}\b/",
    ]
    return "".join(f"r{i} | {rng.choice(forms)()}\n" for i in range(count))


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


async def wait_for_lines(log: Path, text: str, count: int, timeout: float = 60) -> None:
    async def seen() -> None:
        while log.read_text(errors="replace").count(text) < count:
            await asyncio.sleep(0.05)
    try:
        await asyncio.wait_for(seen(), timeout)
    except TimeoutError:
        raise AssertionError(log.read_text(errors="replace")[-3000:]) from None


@pytest.mark.slow
async def test_twenty_reloads_keep_memory_flat(tmp_path: Path) -> None:
    (tmp_path / "rules.txt").write_text(generated_rules(RULES), encoding="utf-8")
    config = tmp_path / "monitor.toml"
    config.write_text(
        f'[monitor]\ndatabase = "sqlite:///{tmp_path / "monitor.db"}"\nweb = ""\n\n'
        '[channels.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:9/hook"\n\n'
        '[[watchlist]]\nname = "generated"\nfile = "rules.txt"\nchannels = ["hook"]\n',
        encoding="utf-8")
    log = tmp_path / "daemon.log"
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor", "run", "-c", str(config), cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.DEVNULL, stderr=sink)
    try:
        await wait_for_lines(log, "event=started", 1)
        assert f"rules={RULES}" in log.read_text()
        sizes = []
        for reload in range(1, RELOADS + 1):
            proc.send_signal(signal.SIGHUP)
            await wait_for_lines(log, "event=config_applied", reload + 1)
            sizes.append(rss_kib(proc.pid))
        assert "event=reload_failed" not in log.read_text()
        first, last = sizes[0], sizes[-1]
        assert last <= first * 1.10, f"VmRSS after each reload (KiB): {sizes}"
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
    assert proc.returncode == 0, log.read_text()[-3000:]
