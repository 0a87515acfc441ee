"""Throughput of 1, 2 and 3 daemons sharing one PostgreSQL (DESIGN.md §8, "Scaling out").

A loopback news site in its own process (a raw asyncio HTTP/1.1 server) serves
``/feed/<i>.xml`` (RSS, ETag) and ``/a/<i>/<j>.html`` (a small news page); one item in
``--match-every`` feeds mentions the Defense Production Act. For each node count, a fresh
PostgreSQL schema gets the feeds (written once, before the nodes start, so they can start
together) and N ``python -m monitor run`` processes poll them all once, match, and deliver
to a webhook receiver in this process. A run ends when every feed is polled and every
alert is out, or after ``--max-run`` seconds.

Rates are over [first node's start, last poll]: polls/s and articles/s as the database
saw them. Duplicates are checked twice: (rule, story, channel) groups with more than one
alert row (the unique key makes this 0), and webhook-ids the receiver saw more often than
the deliveries table has attempts for them, or two ids for one article.

Prints one JSON object; exits 1 if any duplicate was found. Besides the rates, each run
reports ``node_cpu_cores`` (CPU of the nodes and their extraction workers over their
lifetime, in cores: near ``cpus`` means the machine, not monitor, is the limit) and
``max_pg_connections`` (the most the nodes held at once, from ``pg_stat_activity``).

    python bench/scale.py [--feeds 3000] [--items 3] [--nodes 1,2,3] [--max-run 50]
                          [--extract-workers 1] [--async-commit]

All feeds are on one loopback host, so ``per_host_connections`` is raised to 8 (the default
of 2 models politeness towards one real site and would measure nothing but that limit).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import resource
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import sqlalchemy
from _common import MiniHTTP
from aiohttp import web

from monitor.daemon import load
from monitor.store import Store
from monitor.testing import start_app

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("MONITOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PHRASE = "Defense Production Act"
WORDS = [w for line in (ROOT / "tests" / "data" / "words.txt").read_text().splitlines()
         if not line.startswith("#") for w in line.split()]


# -- the news site (its own process) -----------------------------------------------------------


def matches(feed: int, item: int, every: int) -> bool:
    """Whether item ``item`` of feed ``feed`` mentions the Act."""
    return feed % every == 0 and item == 0


def page(feed: int, item: int, every: int) -> bytes:
    """A small news page: navigation, a headline, three paragraphs, a footer."""
    rng = random.Random(feed * 1000 + item)
    paras = [" ".join(rng.choice(WORDS) for _ in range(22)).capitalize() + "." for _ in range(3)]
    if matches(feed, item, every):
        paras[1] += f" Officials said the {PHRASE} would be invoked for plant {feed}."
    title = f"{' '.join(rng.choice(WORDS) for _ in range(5)).capitalize()} ({feed}/{item})"
    body = "".join(f"<p>{p}</p>\n" for p in paras)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}'
            f'</title></head><body><header><nav><a href="/">Home</a></nav></header><main>'
            f"<article><h1>{title}</h1>\n{body}</article></main><footer><p>Loopback Post"
            f"</p></footer></body></html>").encode()


def feed(base: str, number: int, items: int) -> bytes:
    """An RSS 2.0 document of ``items`` items."""
    entries = "".join(
        f"<item><title>Item {j} of feed {number}</title><link>{base}/a/{number}/{j}.html</link>"
        f"<guid>{base}/a/{number}/{j}.html</guid><pubDate>Mon, 02 Mar 2026 09:{j % 60:02d}:00"
        f" +0000</pubDate><description>Item {j}.</description></item>" for j in range(items))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed '
            f"{number}</title><link>{base}/</link><description>bench</description>{entries}"
            f"</channel></rss>").encode()


def response(status: bytes, body: bytes, kind: bytes, etag: bytes = b"") -> bytes:
    """A keep-alive HTTP/1.1 response."""
    head = b"HTTP/1.1 " + status + b"\r\nContent-Type: " + kind + b"\r\nContent-Length: "
    head += str(len(body)).encode() + b"\r\n"
    if etag:
        head += b"ETag: " + etag + b"\r\n"
    return head + b"\r\n" + body


class Site(MiniHTTP):
    """The feeds and their pages."""

    feeds: int = 0
    items: int = 0
    every: int = 1
    base: str = ""

    def answer(self, head: bytes) -> bytes:
        """The response to one request head."""
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")[1].decode().strip("/").split("/")
        try:
            if parts[0] == "feed" and int(parts[1].removesuffix(".xml")) < self.feeds:
                number = int(parts[1].removesuffix(".xml"))
                etag = b'"feed-%d"' % number
                if any(ln.lower().startswith(b"if-none-match:") and ln.split(b":", 1)[1].strip()
                       == etag for ln in lines[1:]):
                    return response(b"304 Not Modified", b"", b"application/rss+xml", etag)
                return response(b"200 OK", feed(self.base, number, self.items),
                                b"application/rss+xml", etag)
            if parts[0] == "a":
                number, item = int(parts[1]), int(parts[2].removesuffix(".html"))
                if number < self.feeds and item < self.items:
                    return response(b"200 OK", page(number, item, self.every),
                                    b"text/html; charset=utf-8")
        except (IndexError, ValueError):
            pass
        return response(b"404 Not Found", b"not found", b"text/plain")


def serve(conn: Connection, feeds: int, items: int, every: int) -> None:
    """Run the site on a free loopback port; send the port through ``conn``."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Site, "127.0.0.1", 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        Site.feeds, Site.items, Site.every = feeds, items, every
        Site.base = f"http://127.0.0.1:{port}"
        conn.send(port)
        await server.serve_forever()

    asyncio.run(main())


# -- the webhook receiver (this process) -------------------------------------------------------


class Receiver:
    """Keeps (webhook-id, article URL) of every POST and answers 200."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[str, str]] = []
        self.port = 0

    async def start(self) -> Receiver:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/hook", self.hook)
        self.runner, self.port = await start_app(app)
        return self

    async def hook(self, request: web.Request) -> web.Response:
        """Keep the id and the article URL; answer 200."""
        body = json.loads(await request.read())
        self.arrivals.append((request.headers["webhook-id"], body["article"]["url"]))
        return web.Response(text="ok")


# -- one run -----------------------------------------------------------------------------------


class Schema:
    """A fresh PostgreSQL schema, queried from this process."""

    def __init__(self) -> None:
        self.name = f"bench_{uuid.uuid4().hex[:12]}"
        admin = sqlalchemy.create_engine(PG_URL, poolclass=sqlalchemy.NullPool)
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f"CREATE SCHEMA {self.name}"))
        self.url = f"{PG_URL}?options=-csearch_path%3D{self.name}"
        self.engine = sqlalchemy.create_engine(self.url, poolclass=sqlalchemy.NullPool)

    def scalar(self, sql: str) -> Any:
        """The first column of the first row of ``sql``."""
        with self.engine.connect() as conn:
            return conn.execute(sqlalchemy.text(sql)).scalar()

    def rows(self, sql: str) -> list[Any]:
        """All rows of ``sql``."""
        with self.engine.connect() as conn:
            return list(conn.execute(sqlalchemy.text(sql)))

    def drop(self) -> None:
        """Drop the schema and everything in it."""
        self.engine.dispose()
        with self.engine.begin() as conn:
            conn.execute(sqlalchemy.text(f"DROP SCHEMA IF EXISTS {self.name} CASCADE"))
        self.engine.dispose()


def write_config(path: Path, node: str, database: str, site: str, hook: int,
                 feeds: int, extract_workers: int) -> None:
    """One node's config: every feed, one rule, one webhook."""
    listed = "".join(f'[[feeds]]\nname = "feed-{i}"\nurl = "{site}/feed/{i}.xml"\n\n'
                     for i in range(feeds))
    path.write_text(f"""
[monitor]
database = "{database}"
node_id = "{node}"
allow_private_networks = true
alert_on_first_poll = true
web = ""
extract_workers = {extract_workers}
per_host_connections = 8
lease = "60s"
delivery_interval = "1s"

{listed}
[[watch]]
name = "dpa"
query = '"{PHRASE}"'
channels = ["hook"]

[channels.hook]
type = "webhook"
url = "http://127.0.0.1:{hook}/hook"
""")


async def run(nodes: int, args: argparse.Namespace, site: str, tmp: Path) -> dict[str, Any]:
    """N daemons on a fresh schema until all is polled and sent, or --max-run passes."""
    receiver = await Receiver().start()
    schema = Schema()
    try:
        return await run_nodes(nodes, args, site, tmp, schema, receiver)
    finally:
        await receiver.runner.cleanup()
        schema.drop()


async def run_nodes(nodes: int, args: argparse.Namespace, site: str, tmp: Path, schema: Schema,
                    receiver: Receiver) -> dict[str, Any]:
    """Start the nodes, wait for the work (bounded), stop them, measure."""
    tag = f"scale-{schema.name}"  # pg_stat_activity tells the nodes' connections apart
    options = "%20-csynchronous_commit%3Doff" if args.async_commit else ""
    configs = [tmp / f"n{nodes}-{k}.toml" for k in range(nodes)]
    for k, path in enumerate(configs):
        write_config(path, f"node-{k}", f"{schema.url}{options}&application_name={tag}-{k}",
                     site, receiver.port, args.feeds, args.extract_workers)
    # Nodes started together race in Store.sync_feeds (each inserts the feeds it does not
    # see yet; all but one exit on a unique violation), so the feeds are written first.
    store = Store(schema.url)
    store.migrate()
    store.sync_feeds(load(str(configs[0])).feeds, datetime.now(UTC))
    store.close()
    expected = len([i for i in range(args.feeds) if matches(i, 0, args.match_every)])
    logs = [(tmp / f"n{nodes}-{k}.log").open("wb") for k in range(nodes)]
    cpu_before, wall_before = children_cpu(), time.monotonic()
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "run", "-c", str(path), cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=log) for path, log in zip(configs, logs,
                                                                          strict=True)]
    end = time.monotonic() + args.max_run
    connections = 0
    try:
        while time.monotonic() < end:
            connections = max(connections, schema.scalar(
                f"select count(*) from pg_stat_activity where application_name like '{tag}-%'"))
            polled = schema.scalar("select count(*) from feeds where last_polled_at is not null")
            sent = schema.scalar("select count(*) from alerts where status = 'sent'")
            if polled == args.feeds and sent == expected:
                break
            if any(p.returncode is not None for p in procs):
                raise RuntimeError(f"a node exited early; see {tmp}/n{nodes}-*.log")
            await asyncio.sleep(0.5)
    finally:
        for p in procs:
            if p.returncode is None:
                p.send_signal(signal.SIGTERM)
        codes = [await p.wait() for p in procs]
        for log in logs:
            log.close()
    result = measure(schema, receiver, nodes, args.feeds, expected)
    # CPU of the nodes and their extraction workers over their lifetime, in cores
    result["node_cpu_cores"] = round((children_cpu() - cpu_before)
                                     / (time.monotonic() - wall_before), 2)
    result["max_pg_connections"] = connections
    result["exit_codes"] = codes
    return result


def children_cpu() -> float:
    """User + system seconds of the reaped child processes (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(schema: Schema, receiver: Receiver, nodes: int, feeds: int,
            expected: int) -> dict[str, Any]:
    """Rates and duplicate counts of a finished run."""
    start, last, polled = schema.rows(
        "select (select min(started_at) from nodes), max(last_polled_at), count(*) "
        "from feeds where last_polled_at is not null")[0]
    seconds = (last - start).total_seconds() if polled else 0.0
    articles = schema.scalar("select count(*) from articles")
    doubled = schema.rows("select h.rule_id, h.story_id, a.channel from alerts a "
                          "join hits h on h.id = a.hit_id "
                          "group by h.rule_id, h.story_id, a.channel having count(*) > 1")
    attempts = dict(schema.rows("select alert_id, count(*) from deliveries group by alert_id"))
    seen = Counter(i for i, _ in receiver.arrivals)
    by_url: dict[str, set[str]] = defaultdict(set)
    for webhook_id, url in receiver.arrivals:
        by_url[url].add(webhook_id)
    unexplained = [i for i, n in seen.items() if n > attempts.get(i, 0)]
    return {
        "nodes": nodes,
        "polls_per_s": round(polled / seconds, 1) if seconds else 0.0,
        "articles_per_s": round(articles / seconds, 1) if seconds else 0.0,
        "alerts": schema.scalar("select count(*) from alerts"),
        "duplicate_alerts": len(doubled),
        "webhook_duplicates": len(unexplained) + sum(len(v) - 1 for v in by_url.values()),
        "polled": polled,
        "complete": polled == feeds,
        "articles": articles,
        "expected_alerts": expected,
        "sent": schema.scalar("select count(*) from alerts where status = 'sent'"),
        "seconds": round(seconds, 1),
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, daemon=True,
                                     args=(child, args.feeds, args.items, args.match_every))
    server.start()
    site = f"http://127.0.0.1:{parent.recv()}"
    try:
        with tempfile.TemporaryDirectory(prefix="monitor-scale-") as tmp:
            runs = [await run(n, args, site, Path(tmp)) for n in args.nodes]
    finally:
        server.terminate()
        server.join()
    return {"feeds": args.feeds, "items_per_feed": args.items, "cpus": os.cpu_count(),
            "extract_workers": args.extract_workers, "async_commit": args.async_commit,
            "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=3000)
    parser.add_argument("--items", type=int, default=3)
    parser.add_argument("--match-every", type=int, default=25)
    parser.add_argument("--nodes", type=lambda s: [int(n) for n in s.split(",")],
                        default=[1, 2, 3])
    parser.add_argument("--max-run", type=float, default=50.0)
    parser.add_argument("--extract-workers", type=int, default=1)
    parser.add_argument("--async-commit", action="store_true",
                        help="the nodes' sessions commit with synchronous_commit=off")
    args = parser.parse_args()
    result = asyncio.run(bench(args))
    print(json.dumps(result))
    bad = any(r["duplicate_alerts"] or r["webhook_duplicates"] for r in result["runs"])
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
