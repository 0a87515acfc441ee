"""What bench/chaos.py measures from outside the daemon (not a benchmark itself): the
/healthz heartbeat, /readyz checks, /metrics scrapes, percentiles, a held SQLite lock."""

from __future__ import annotations

import asyncio
import math
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

HEARTBEAT_HZ = 20


def postgres_available() -> bool:
    """Whether a PostgreSQL server answers on 127.0.0.1:5432."""
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A loopback port free now (for the daemon's web listener)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Heartbeat(threading.Thread):
    """Times GET ``url`` at 20 Hz, one request at a time, from a thread of its own: a request
    that waits on a stalled event loop takes as long as the stall."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.samples: list[tuple[float, float]] = []  # (time.time() sent, seconds taken)
        self.failed = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=300) as client:
            while not self.stopping.is_set():
                sent, started = time.time(), time.monotonic()
                try:
                    client.get(self.url).raise_for_status()
                except httpx.HTTPError:
                    self.failed += 1
                took = time.monotonic() - started
                self.samples.append((sent, took))
                self.stopping.wait(max(0.0, 1 / HEARTBEAT_HZ - took))

    def stop(self) -> None:
        self.stopping.set()
        self.join(310)

    def within(self, start: float, end: float) -> list[float]:
        return [took for sent, took in self.samples if start <= sent < end]

    def longest(self, start: float, end: float) -> float:
        """The longest wait for an answer within [start, end): a request's time clipped to
        the window, so a stall that began before it counts only for its part inside."""
        clipped = [min(end, sent + took) - max(start, sent) for sent, took in self.samples]
        return round(max([c for c in clipped if c > 0], default=0.0), 3)

    def p50(self, start: float, end: float) -> float | None:
        return percentile(self.within(start, end), 0.5)


@dataclass
class Check:
    """One check of a probe (/healthz, /readyz)."""

    sent: float
    took: float
    status: int | str

    def as_json(self, start: float) -> dict[str, Any]:
        return {"at_s": round(self.sent - start, 1), "took_s": round(self.took, 3),
                "status": self.status}


async def every_second(url: str, out: list[Check], seconds: float) -> None:
    """GET ``url`` once a second for ``seconds``, each with a 5 s timeout, without waiting
    for the previous one."""

    async def once(client: httpx.AsyncClient) -> None:
        sent, started = time.time(), time.monotonic()
        try:
            status: int | str = (await client.get(url)).status_code
        except httpx.TimeoutException:
            status = "timeout"
        except httpx.HTTPError as e:
            status = type(e).__name__
        out.append(Check(sent, time.monotonic() - started, status))

    async with httpx.AsyncClient(timeout=5) as client:
        tasks = []
        for _ in range(max(1, math.ceil(seconds))):
            tasks.append(asyncio.ensure_future(once(client)))
            await asyncio.sleep(1)
        await asyncio.gather(*tasks)
    out.sort(key=lambda r: r.sent)


async def scrape(base: str) -> dict[str, list[tuple[dict[str, str], float]]] | None:
    """/metrics as {sample name: [(labels, value)]}; None when it does not answer in 10 s."""
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            text = (await client.get(f"{base}/metrics")).text
    except httpx.HTTPError:
        return None
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def total(metrics: dict[str, list[tuple[dict[str, str], float]]], name: str,
          **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(v for found, v in metrics.get(name, [])
               if all(found.get(k) == want for k, want in labels.items()))


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile, in seconds rounded to ms; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 3)


def summary(latencies: list[float]) -> dict[str, Any]:
    """Count, p50, p99 and max of the good channel's latencies."""
    return {"good_alerts": len(latencies), "p50_s": percentile(latencies, 0.5),
            "p99_s": percentile(latencies, 0.99), "max_s": percentile(latencies, 1.0)}


def hold_sqlite_lock(path: Path, seconds: float) -> None:
    """Hold an exclusive lock on the SQLite database at ``path`` for ``seconds``."""
    conn = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        conn.execute("ROLLBACK")
    finally:
        conn.close()
