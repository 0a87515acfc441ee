"""Feed polls per second through monitor.fetch.Fetcher against a loopback server.

A raw asyncio HTTP/1.1 server in a separate process serves ``/feed/<i>.xml`` (a small RSS
document with an ETag; 304 when If-None-Match matches). The Fetcher polls every feed
twice: round 1 gets 200s, round 2 sends the ETags and gets 304s. For comparison a plain
``httpx.AsyncClient()`` (httpcore's pool) runs the round-2 workload in the same run.

Prints one JSON object. Targets (DESIGN.md §9): >= 1,000 polls/s in the 304 round,
< 200 MB peak RSS of the polling process.

``--mixed`` measures whole polls by source kind instead: each of ``--feeds`` sources of
each kind (an RSS feed, a news sitemap, a section page, each of ``ITEMS`` items) is
fetched (200) and parsed by ``monitor.sources.parse_source``, kind after kind in the same
run; the feed kind's rate is the baseline the others are held against.

``--store`` measures a daemon's poll round where nothing changed (bench/_pollstore.py):
``--feeds`` feeds (say 500) in a real store, polled once (200s), then round after round of
304s, the feeds' outcomes committed in groups (``PollWriter``) and, alternately, each on
its own (the baseline): CPU of this process per round, state commits per round.

``--pairs N`` then runs N pairs of a 304 round and a round of aiohttp alone in the same
loop, alternating which goes first, and reports the median of their CPU ratios (steadier on
a shared machine than the one aiohttp-alone round run after httpx's). Run against an older
checkout (``PYTHONPATH`` at it) the same bench measures that checkout's fetcher.

    python bench/poll.py [--feeds 10000] [--concurrency 100] [--mixed]
    python bench/poll.py --guarded --feeds 3000 --pairs 5
    python bench/poll.py --store --feeds 500 [--repeat 5] [--db-url URL] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import multiprocessing
import resource
import statistics
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection

import aiohttp
import httpx
from _common import MiniHTTP, write_profiles

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


ITEMS = 20  # items per document in the mixed run
MIXED = {
    "feed": (b"application/rss+xml",
             b'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed</title>%s'
             b"</channel></rss>",
             b"<item><title>Story number %d about the supply chain</title><link>"
             b"http://127.0.0.1/story/%d</link><description>Supply chain risk, day %d, "
             b"item %d.</description></item>"),
    "sitemap": (b"application/xml",
                b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/'
                b'0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">%s</urlset>',
                b"<url><loc>http://127.0.0.1/story/%d</loc><news:news><news:title>Story number "
                b"%d about the supply chain</news:title><news:publication_date>2026-02-2%dT10:"
                b"00:00Z</news:publication_date></news:news></url><!-- %d -->"),
    "page": (b"text/html",
             b"<!doctype html><html><head><title>Section</title></head><body><header><nav>"
             b'<a href="/">Home</a><a href="/world/">World</a></nav></header><main>%s</main>'
             b'<aside class="most-read"><h2>Most read</h2><a href="/2026/01/01/old-story-'
             b'here">An old story that is still read a lot</a></aside></body></html>',
             b'<article><h2><a href="/2026/02/27/story-number-%d-about-supply">Story number %d '
             b"about the supply chain</a></h2><time datetime='2026-02-2%dT10:00:00Z'>"
             b"</time><!-- %d --></article>"),
}


def mixed_body(kind: str, number: int) -> tuple[bytes, bytes]:
    """The content type and document of source ``number`` of ``kind``."""
    content_type, shell, item = MIXED[kind]
    items = b"".join(item % (number * ITEMS + j, number * ITEMS + j, j % 8 + 1, j)
                     for j in range(ITEMS))
    return content_type, shell % items


def respond(head: bytes) -> bytes:
    lines = head.split(b"\r\n")
    path = lines[0].split(b" ")[1]
    kind = path.split(b"/")[1].decode()
    if kind in MIXED and not path.endswith(b".xml"):  # /feed/<i>.xml: the ETag feeds
        content_type, body = mixed_body(kind, int(path.rsplit(b"/", 1)[-1]))
        return (b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type
                + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
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


async def fetcher_rounds(base: str, feeds: int, concurrency: int, tally: dict[str, int],
                         guarded: bool = False, profile: str | None = None, pairs: int = 0,
                         paired: list[float] | None = None) -> tuple[float, float]:
    fetcher = Fetcher(user_agent="monitor-bench/1.0", allow_private_networks=not guarded,
                      max_connections=concurrency, per_host=concurrency)
    etags: dict[int, str | None] = {}

    async def poll(i: int) -> str:  # as the daemon polls: a 304 is returned, not raised
        url = f"{base}/feed/{i}.xml"
        try:  # (fetch: the fetcher of an older checkout, as a baseline)
            result = await (fetcher.fetch_if_changed(url, etag=etags.get(i), trusted=not guarded)
                            if hasattr(fetcher, "fetch_if_changed")
                            else fetcher.fetch(url, etag=etags.get(i), trusted=not guarded))
        except NotModified as e:
            result = e
        if isinstance(result, NotModified):
            return "not_modified"
        etags[i] = result.etag
        return "ok"

    try:
        round1 = await run_workers(feeds, concurrency, poll, tally)
        cpu = cpu_seconds()
        round2 = await run_workers(feeds, concurrency, poll, tally)
        tally["round2_cpu_us"] = round((cpu_seconds() - cpu) * 1e6)
        if pairs and paired is not None:
            paired.extend(await paired_rounds(base, feeds, concurrency, pairs, poll))
        if profile:  # one more 304 round, profiled (this thread only: the event loop)
            profiler = cProfile.Profile()
            profiler.enable()
            await run_workers(feeds, concurrency, poll, {})
            profiler.disable()
            write_profiles(profile, profiler, [])
    finally:
        await fetcher.aclose()
    return round1, round2


async def paired_rounds(base: str, feeds: int, concurrency: int, pairs: int,
                        poll: Callable[[int], Awaitable[str]]) -> list[float]:
    """``pairs`` times a 304 round of ``poll`` and one of aiohttp alone, in this loop, in
    alternating order: the CPU ratio of each pair (a loaded machine moves both alike)."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    ratios = []
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        async def alone(i: int) -> str:
            async with session.get(f"{base}/feed/{i}.xml",
                                   headers={"If-None-Match": f'"{i}-v1"'}) as response:
                await response.read()
                return f"aiohttp_{response.status}"

        await run_workers(feeds, concurrency, alone, {})  # its connections opened
        for n in range(pairs):
            cpu: dict[str, float] = {}
            for name, run in (("ours", poll), ("alone", alone))[::1 if n % 2 else -1]:
                started = cpu_seconds()
                await run_workers(feeds, concurrency, run, {})
                cpu[name] = cpu_seconds() - started
            ratios.append(cpu["ours"] / max(cpu["alone"], 1e-9))
    return ratios


async def mixed_rounds(base: str, feeds: int, concurrency: int,
                       tally: dict[str, int]) -> dict[str, float]:
    """Whole polls (fetch and parse) per second, for each kind in turn."""
    from monitor.sources import parse_source

    fetcher = Fetcher(user_agent="monitor-bench/1.0", allow_private_networks=True,
                      max_connections=concurrency, per_host=concurrency)
    rates = {}
    try:
        for kind in MIXED:
            async def poll(i: int, kind: str = kind) -> str:
                result = await fetcher.fetch(f"{base}/{kind}/{i}", trusted=True)
                parsed = parse_source(kind, result.content, result.url,
                                      content_type=result.content_type)
                return f"{kind}_{len(parsed.entries)}_entries"

            rates[kind] = await run_workers(feeds, concurrency, poll, tally)
    finally:
        await fetcher.aclose()
    return rates


async def aiohttp_round(base: str, feeds: int, concurrency: int,
                        tally: dict[str, int]) -> float:
    """The round-2 workload on aiohttp alone: the floor under monitor's HTTP stack."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        async def poll(i: int) -> str:
            async with session.get(f"{base}/feed/{i}.xml",
                                   headers={"If-None-Match": f'"{i}-v1"'}) as response:
                await response.read()
                return f"aiohttp_{response.status}"

        return await run_workers(feeds, concurrency, poll, tally)


def guard_loopback() -> None:
    """``--guarded``: the SSRF guard runs on every request (URL checks, the checked
    resolver, the guarded session) but takes loopback for public, so the loopback server
    can answer: what the guard costs, not what it refuses."""
    from monitor import netguard

    real = netguard.is_public
    netguard.is_public = lambda addr: addr.is_loopback or real(addr)  # type: ignore[assignment]


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
    parser.add_argument("--mixed", action="store_true",
                        help="whole polls of feeds, sitemaps and pages, per kind")
    parser.add_argument("--store", action="store_true",
                        help="whole daemon poll rounds of 304s into a store, batched or not")
    parser.add_argument("--repeat", type=int, default=5, help="--store: rounds of each mode")
    parser.add_argument("--db-url", help="--store: a database (default: a SQLite file)")
    parser.add_argument("--profile", help="cProfile one more 304 round (--store: a batched "
                        "one) into FILE")
    parser.add_argument("--pairs", type=int, default=0,
                        help="then N pairs of a 304 round and one of aiohttp alone, in one "
                        "loop: the median of their CPU ratios")
    parser.add_argument("--guarded", action="store_true",
                        help="the SSRF guard on (loopback taken for public)")
    args = parser.parse_args()
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(theirs,))
    server.start()
    try:
        base = f"http://127.0.0.1:{ours.recv()}"
        tally: dict[str, int] = {}
        if args.store:
            from _pollstore import rounds

            print(json.dumps(asyncio.run(rounds(base, args.feeds, args.repeat, args.db_url,
                                                args.profile))))
            return
        if args.mixed:
            rates = asyncio.run(mixed_rounds(base, args.feeds, args.concurrency, tally))
            print(json.dumps({
                "feeds": args.feeds, "items_per_document": ITEMS,
                "concurrency": args.concurrency,
                "polls_per_s": {k: round(v) for k, v in rates.items()},
                "ratio_to_feed": {k: round(v / rates["feed"], 2) for k, v in rates.items()},
                "outcomes": tally}))
            return
        if args.guarded:
            guard_loopback()
        cpu, paired = cpu_seconds(), []
        round1, round2 = asyncio.run(fetcher_rounds(base, args.feeds, args.concurrency, tally,
                                                    args.guarded, args.profile, args.pairs,
                                                    paired))
        cpu, peak = cpu_seconds() - cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        baseline = asyncio.run(httpx_round(base, args.feeds, args.concurrency, tally))
        floor_cpu = cpu_seconds()
        floor = asyncio.run(aiohttp_round(base, args.feeds, args.concurrency, tally))
        floor_cpu = cpu_seconds() - floor_cpu
    finally:
        ours.send("stop")
        server.join(5)
    print(json.dumps({
        "feeds": args.feeds, "concurrency": args.concurrency,
        "round1_polls_per_s": round(round1), "round2_polls_per_s": round(round2),
        "cpu_s": round(cpu, 2), "peak_rss_mb": round(peak / 1024, 1),
        "baseline_httpx_default_polls_per_s": round(baseline),
        "ratio": round(round2 / baseline, 2), "guarded": args.guarded,
        "baseline_aiohttp_alone_polls_per_s": round(floor),
        "aiohttp_alone_cpu_ms_per_poll": round(floor_cpu * 1000 / args.feeds, 3),
        "ratio_round2_to_aiohttp_alone": round(round2 / floor, 2),
        "cpu_ratio_round2_to_aiohttp_alone": round(
            tally["round2_cpu_us"] / 1e6 / max(floor_cpu, 1e-9), 2),
        "round2_cpu_ms_per_poll": round(tally.pop("round2_cpu_us") / 1000 / args.feeds, 3),
        **({"paired_cpu_ratios_to_aiohttp_alone": [round(r, 2) for r in paired],
            "median_paired_cpu_ratio": round(statistics.median(paired), 2)} if paired else {}),
        "outcomes": tally,
    }))


if __name__ == "__main__":
    main()
