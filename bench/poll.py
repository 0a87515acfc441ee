"""Feed polls per second through monitor.fetch.Fetcher against a loopback server.

A raw asyncio HTTP/1.1 server in a separate process serves ``/feed/<i>.xml`` (a small RSS
document with an ETag; 304 when If-None-Match matches). The Fetcher polls every feed
twice: round 1 gets 200s, round 2 sends the ETags and gets 304s. For comparison a plain
``httpx.AsyncClient()`` (httpcore's pool) runs the round-2 workload in the same run.

Prints one JSON object. Targets (DESIGN.md §9): >= 1,000 polls/s in the 304 round,
< 200 MB peak RSS of the polling process.

    python bench/poll.py [--feeds 10000] [--concurrency 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection

import httpx
from _common import MiniHTTP

from monitor.errors import NotModified
from monitor.fetch import Fetcher

RSS = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed %d</title>'
       b"<item><title>Story %d</title><link>http://127.0.0.1/story/%d</link>"
       b"<guid>story-%d</guid><description>Supply chain risk, item %d.</description>"
       b"</item></channel></rss>")


# -- the server (its own process) ------------------------------------------------------------


class FeedProtocol(MiniHTTP):
    """The feeds, with ETags."""

    def answer(self, head: bytes) -> bytes:
        return respond(head)


def respond(head: bytes) -> bytes:
    lines = head.split(b"\r\n")
    path = lines[0].split(b" ")[1]
    number = int(path.rsplit(b"/", 1)[-1].split(b".")[0] or 0)
    etag = b'"%d-v1"' % number
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"if-none-match" and value.strip() == etag:
            return b"HTTP/1.1 304 Not Modified\r\nETag: " + etag + b"\r\n\r\n"
    body = RSS % ((number,) * 5)
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: " + etag
            + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def serve(conn: Connection) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(FeedProtocol, "127.0.0.1", 0, backlog=1024)
        conn.send(server.sockets[0].getsockname()[1])
        await loop.run_in_executor(None, conn.recv)  # any message: stop
        server.close()

    asyncio.run(main())


# -- the polling side ------------------------------------------------------------------------


async def run_workers(count: int, concurrency: int, poll: Callable[[int], Awaitable[str]],
                      tally: dict[str, int]) -> float:
    """Poll feeds 0..count-1 with ``concurrency`` workers; polls per second."""
    todo = iter(range(count))

    async def worker() -> None:
        for i in todo:
            outcome = await poll(i)
            tally[outcome] = tally.get(outcome, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


async def fetcher_rounds(base: str, feeds: int, concurrency: int,
                         tally: dict[str, int]) -> tuple[float, float]:
    fetcher = Fetcher(user_agent="monitor-bench/1.0", allow_private_networks=True,
                      max_connections=concurrency, per_host=concurrency)
    etags: dict[int, str | None] = {}

    async def poll(i: int) -> str:
        try:
            result = await fetcher.fetch(f"{base}/feed/{i}.xml", etag=etags.get(i), trusted=True)
        except NotModified:
            return "not_modified"
        etags[i] = result.etag
        return "ok"

    try:
        round1 = await run_workers(feeds, concurrency, poll, tally)
        round2 = await run_workers(feeds, concurrency, poll, tally)
    finally:
        await fetcher.aclose()
    return round1, round2


async def httpx_round(base: str, feeds: int, concurrency: int, tally: dict[str, int]) -> float:
    async with httpx.AsyncClient() as client:
        async def poll(i: int) -> str:
            response = await client.get(f"{base}/feed/{i}.xml",
                                        headers={"If-None-Match": f'"{i}-v1"'})
            return f"httpx_{response.status_code}"

        return await run_workers(feeds, concurrency, poll, tally)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(theirs,))
    server.start()
    try:
        base = f"http://127.0.0.1:{ours.recv()}"
        tally: dict[str, int] = {}
        cpu = cpu_seconds()
        round1, round2 = asyncio.run(fetcher_rounds(base, args.feeds, args.concurrency, tally))
        cpu, peak = cpu_seconds() - cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        baseline = asyncio.run(httpx_round(base, args.feeds, args.concurrency, tally))
    finally:
        ours.send("stop")
        server.join(5)
    print(json.dumps({
        "feeds": args.feeds, "concurrency": args.concurrency,
        "round1_polls_per_s": round(round1), "round2_polls_per_s": round(round2),
        "cpu_s": round(cpu, 2), "peak_rss_mb": round(peak / 1024, 1),
        "baseline_httpx_default_polls_per_s": round(baseline),
        "ratio": round(round2 / baseline, 2), "outcomes": tally,
    }))


if __name__ == "__main__":
    main()
