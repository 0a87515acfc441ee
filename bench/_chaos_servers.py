"""The local servers of bench/chaos.py (not a benchmark itself).

- ``serve_site`` (its own process): ``/feed/<i>.xml`` for N feeds whose items appear on a
  schedule (``published``), their pages, and the fault pages the parent switches on
  through shared values: two 2 MB pages of ``<p>x</p>`` and one with a 20,000-digit run;
- ``serve_db_proxy`` (its own process): a TCP proxy to the database that refuses
  connections, forwards, or freezes (holds every byte) as the parent says;
- ``SwitchSMTP``: an SMTP endpoint that forwards to a real (aiosmtpd) server, or accepts and
  never greets;
- ``Hook``: a webhook receiver that answers 200, or (``silent``) never answers.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from _common import MiniHTTP
from aiohttp import web
from scale import WORDS, response

from monitor.testing import start_app

PHRASE = "Defense Production Act"
BOMB_BYTES = 2 * 1024 * 1024  # each extraction bomb (under max_article_bytes, 5 MB)
DIGITS = 20_000
# the slots of the shared array: when the feeds stop growing (0: never), when each fault's
# page appears in its feed (0: not yet) and when it was last fetched
STOP, DIGITS_AT, BOMBS_AT, DIGITS_FETCHED, BOMBS_FETCHED = range(5)
BOMB_FEEDS, DIGITS_FEED = (1, 2), 3
# proxy modes
REFUSE, FORWARD, FROZEN = 0, 1, 2


@dataclass(frozen=True)
class Schedule:
    """When items appear: feed i's item j at ``t0 + i/feeds*period + j*period``; one item in
    ``every`` mentions the Act (so it alerts)."""

    t0: float
    feeds: int
    period: float
    every: int

    def count(self, feed: int, until: float) -> int:
        """How many items ``feed`` shows at time ``until``."""
        first = self.t0 + feed / self.feeds * self.period
        return 0 if until < first else math.floor((until - first) / self.period) + 1

    def published(self, feed: int, item: int) -> float:
        return self.t0 + feed / self.feeds * self.period + item * self.period

    def matches(self, feed: int, item: int) -> bool:
        return (feed + item) % self.every == 0

    def expected(self, base: str, until: float) -> set[str]:
        """The URLs of every alerting item shown up to ``until``."""
        return {f"{base}/a/{i}/{j}.html" for i in range(self.feeds)
                for j in range(self.count(i, until)) if self.matches(i, j)}


def page(feed: int, item: int, mention: bool) -> bytes:
    """A small news page of its own words (so no two are one story)."""
    rng = random.Random(feed * 100_003 + item)
    paras = [" ".join(rng.choice(WORDS) for _ in range(30)).capitalize() + "." for _ in range(3)]
    if mention:
        paras[1] += f" Officials said the {PHRASE} would be invoked for plant {feed}-{item}."
    title = f"{' '.join(rng.choice(WORDS) for _ in range(5)).capitalize()} ({feed}/{item})"
    body = "".join(f"<p>{p}</p>\n" for p in paras)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}'
            f"</title></head><body><main><article><h1>{title}</h1>\n{body}</article></main>"
            f"</body></html>").encode()


def digits_page() -> bytes:
    """A page whose text holds a 20,000-digit run not followed by million/billion, and a
    match after it: a backtracking engine tries every split of the run from every start
    before it gets there (cubic: 2,000 digits take Python's ``re`` about 20 s)."""
    run = "".join(random.Random(7).choice("123456789") for _ in range(DIGITS))
    return (b"<!DOCTYPE html><html><head><title>Numbers</title></head><body><article>"
            b"<h1>A table dump</h1><p>Figures follow.</p><p>" + run.encode()
            + b".</p><p>Revenue was 3 million dollars.</p></article></body></html>")


def item_xml(link: str, title: str, when: float, text: str) -> str:
    return (f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid><pubDate>"
            f"{formatdate(when, usegmt=True)}</pubDate><description>{text}</description></item>")


class Site(MiniHTTP):
    """The feeds, their pages and the fault pages."""

    schedule: Schedule
    faults: Any  # a multiprocessing Array of doubles, the slots above
    requests: Synchronized[int]
    base = ""
    bomb = b"<p>x</p>" * (BOMB_BYTES // 8)
    digits = digits_page()

    def feed(self, number: int, now: float) -> tuple[bytes, bytes]:
        stop = self.faults[STOP] or now
        count = self.schedule.count(number, min(now, stop))
        items = []
        for j in range(count):
            link = f"{self.base}/a/{number}/{j}.html"
            mention = self.schedule.matches(number, j)
            text = f"Item {j}." + (f" The {PHRASE} again, plant {number}-{j}." if mention else "")
            items.append(item_xml(link, f"Item {j} of feed {number}",
                                  self.schedule.published(number, j), text))
        specials = ""
        if number in BOMB_FEEDS and 0 < self.faults[BOMBS_AT] <= now:
            specials += "b"
            items.append(item_xml(f"{self.base}/bomb/{number}.html", "Big page",
                                  self.faults[BOMBS_AT], "A very long page."))
        if number == DIGITS_FEED and 0 < self.faults[DIGITS_AT] <= now:
            specials += "d"
            items.append(item_xml(f"{self.base}/digits.html", "Numbers",
                                  self.faults[DIGITS_AT], "A table dump."))
        body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>'
                f"Feed {number}</title><link>{self.base}/</link><description>chaos"
                f"</description>{''.join(reversed(items))}</channel></rss>").encode()
        return body, f'"{number}-{count}-{specials}"'.encode()

    def answer(self, head: bytes) -> bytes:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")[1].decode().strip("/").split("/")
        try:
            if parts[0] == "feed":
                Site.requests.value += 1
                body, etag = self.feed(int(parts[1].removesuffix(".xml")), time.time())
                if any(ln.lower().startswith(b"if-none-match:") and ln.split(b":", 1)[1].strip()
                       == etag for ln in lines[1:]):
                    return response(b"304 Not Modified", b"", b"application/rss+xml", etag)
                return response(b"200 OK", body, b"application/rss+xml", etag)
            if parts[0] == "a":
                number, item = int(parts[1]), int(parts[2].removesuffix(".html"))
                return response(b"200 OK", page(number, item, self.schedule.matches(number, item)),
                                b"text/html; charset=utf-8")
            if parts[0] == "bomb":
                self.faults[BOMBS_FETCHED] = time.time()
                return response(b"200 OK", self.bomb, b"text/html; charset=utf-8")
            if parts[0] == "digits.html":
                self.faults[DIGITS_FETCHED] = time.time()
                return response(b"200 OK", self.digits, b"text/html; charset=utf-8")
        except (IndexError, ValueError):
            pass
        return response(b"404 Not Found", b"not found", b"text/plain")


def serve_site(conn: Connection, schedule: Schedule, faults: Any,
               requests: Synchronized[int]) -> None:
    """Run the site on a free loopback port; send the port through ``conn``."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Site, "127.0.0.1", 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        Site.schedule, Site.faults, Site.requests = schedule, faults, requests
        Site.base = f"http://127.0.0.1:{port}"
        conn.send(port)
        await server.serve_forever()

    asyncio.run(main())


# -- the database proxy (its own process) -----------------------------------------------------


def serve_db_proxy(conn: Connection, upstream: int, mode: Synchronized[int]) -> None:
    """A proxy to 127.0.0.1:``upstream``: ``mode`` REFUSE closes each new connection, FORWARD
    forwards, FROZEN holds every byte (and new connections) until it is FORWARD again."""

    async def main() -> None:
        thawed = asyncio.Event()

        async def watch() -> None:
            while True:
                thawed.set() if mode.value != FROZEN else thawed.clear()
                await asyncio.sleep(0.02)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    await thawed.wait()
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                dst.close()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if mode.value == REFUSE:
                writer.close()
                return
            await thawed.wait()
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
            except OSError:
                writer.close()
                return
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

        watcher = asyncio.ensure_future(watch())
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        conn.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()
        watcher.cancel()

    asyncio.run(main())


# -- the channels' far ends (this process) ----------------------------------------------------


class SwitchSMTP:
    """Forwards to the SMTP server at ``upstream``; while ``silent``, accepts and never greets
    (held connections are closed when it turns good again)."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.silent = False
        self.held: list[asyncio.StreamWriter] = []
        self.port = 0

    async def start(self) -> SwitchSMTP:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def set_silent(self, silent: bool) -> None:
        self.silent = silent
        if not silent:
            for writer in self.held:
                writer.close()
            self.held.clear()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.silent:
            self.held.append(writer)
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def stop(self) -> None:
        self.set_silent(False)
        self.server.close()


@dataclass
class Arrival:
    """One POST a hook received."""

    at: float  # time.time() on receipt
    webhook_id: str
    rule: str
    url: str
    created_at: str


@dataclass
class Hook:
    """A webhook receiver; while ``silent`` a request gets no answer until it turns good."""

    arrivals: list[Arrival] = field(default_factory=list)
    silent: bool = False
    port: int = 0

    async def start(self) -> Hook:
        self.release = asyncio.Event()
        app = web.Application()
        app.router.add_post("/hook", self.hook)
        self.runner, self.port = await start_app(app)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def set_silent(self, silent: bool) -> None:
        self.silent = silent
        if silent:
            self.release = asyncio.Event()
        else:
            self.release.set()

    async def hook(self, request: web.Request) -> web.Response:
        if self.silent:
            await self.release.wait()
            return web.Response(status=503, text="was silent")
        body = json.loads(await request.read())
        if body.get("type") == "monitor.alert":
            self.arrivals.append(Arrival(time.time(), request.headers["webhook-id"],
                                         body["rule"]["name"], body["article"]["url"],
                                         body["created_at"]))
        return web.Response(text="ok")

    async def stop(self) -> None:
        self.set_silent(False)
        await self.runner.cleanup()
