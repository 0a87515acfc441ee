"""Several daemons on one PostgreSQL share the feeds and the outbox (DESIGN.md §8).

Three ``monitor run`` processes, each with its own ``node_id``, poll 300 local feeds
(5 items each, 20 of them about the Defense Production Act) into one PostgreSQL schema
and deliver to a local webhook receiver. The first test checks the work is shared
without doubles: every feed polled, every page fetched once, every (rule, story) alerted
once with one ``webhook-id``. The second SIGKILLs one node while it holds feeds and has
alerts on the wire, and checks the others finish both after its lease runs out.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import random
import signal
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from aiohttp import web

from monitor.testing import WebhookReceiver
from tests.conftest import ServeApp, pg_schema, postgres_available

ROOT = Path(__file__).resolve().parent.parent
FEEDS = 300
ITEMS = 5
MATCHING = {(i, i % ITEMS) for i in range(0, FEEDS, FEEDS // 20)}  # 20 items on 20 feeds
PHRASE = "Defense Production Act"
NODES = ("a", "b", "c")
LEASE = "5s"  # how long a dead node's feeds and alerts stay claimed
LONG_LEASE = "30s"  # outlasts any poll here: no lease runs out under a live node
DEADLINE = 90.0  # seconds to wait for all polls and alerts; the tests take far less
WORDS = [w for line in (ROOT / "tests" / "data" / "words.txt").read_text().splitlines()
         if not line.startswith("#") for w in line.split()]
DATE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not postgres_available(),
                       reason="no PostgreSQL server reachable at 127.0.0.1:5432"),
]


# -- the local news site -------------------------------------------------------------------


def article_text(feed: int, item: int) -> list[str]:
    """Three short paragraphs of distinct text; the matching items name the Act."""
    rng = random.Random(feed * 1000 + item)
    paragraphs = []
    for _ in range(3):
        words = [rng.choice(WORDS) for _ in range(22)]
        paragraphs.append(" ".join(words).capitalize() + ".")
    if (feed, item) in MATCHING:
        paragraphs[1] += f" Officials said the {PHRASE} would be invoked for the {feed} plant."
    return paragraphs


def article_title(feed: int, item: int) -> str:
    """The headline of item ``item`` of feed ``feed``."""
    rng = random.Random(-(feed * 1000 + item))
    return f"{' '.join(rng.choice(WORDS) for _ in range(5)).capitalize()} ({feed}/{item})"


def article_html(feed: int, item: int) -> str:
    """A small news page with the usual navigation and footer around the article."""
    title = html.escape(article_title(feed, item))
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in article_text(feed, item))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | Loopback Post</title>
<meta property="og:title" content="{title}"></head>
<body><header><nav><a href="/">Home</a> <a href="/local">Local</a></nav></header>
<main><article><h1>{title}</h1><p class="byline">By Staff, {DATE:%Y-%m-%d}</p>
{body}
</article></main><footer><p>Copyright 2026 Loopback Post.</p></footer></body></html>"""


def feed_xml(base: str, feed: int) -> str:
    """An RSS 2.0 document of the feed's items, newest first."""
    items = "".join(
        f"<item><title>{html.escape(article_title(feed, j))}</title>"
        f"<link>{base}/a/{feed}/{j}.html</link><guid>{base}/a/{feed}/{j}.html</guid>"
        f"<pubDate>{format_datetime(DATE - timedelta(minutes=j))}</pubDate>"
        f"<description>Item {j} of feed {feed}.</description></item>"
        for j in range(ITEMS))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Feed {feed}</title><link>{base}/</link><description>feed {feed}"
            f"</description>{items}</channel></rss>")


@dataclass
class NewsSite:
    """``/feed/<i>.xml`` (ETag, 304 on a match) and ``/a/<i>/<j>.html`` on 127.0.0.1."""

    hits: Counter[str] = field(default_factory=Counter)
    base: str = ""  # http://127.0.0.1:PORT, once served

    def app(self) -> web.Application:
        """The site, to serve with ``serve_app``."""
        app = web.Application()
        app.router.add_get("/feed/{feed:\\d+}.xml", self._feed)
        app.router.add_get("/a/{feed:\\d+}/{item:\\d+}.html", self._article)
        return app

    async def _feed(self, request: web.Request) -> web.Response:
        feed = int(request.match_info["feed"])
        self.hits[request.path] += 1
        etag = f'"feed-{feed}-v1"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=feed_xml(self.base, feed), content_type="application/rss+xml",
                            headers={"ETag": etag})

    async def _article(self, request: web.Request) -> web.Response:
        feed, item = int(request.match_info["feed"]), int(request.match_info["item"])
        if feed >= FEEDS or item >= ITEMS:
            raise web.HTTPNotFound()
        self.hits[request.path] += 1
        return web.Response(text=article_html(feed, item), content_type="text/html")


def matching_urls(site: NewsSite) -> set[str]:
    """The article URLs that should each raise one alert."""
    return {f"{site.base}/a/{i}/{j}.html" for i, j in MATCHING}


# -- daemons and the database --------------------------------------------------------------


def node_config(tmp_path: Path, node: str, database: str, site: NewsSite, hook_url: str,
                lease: str = LEASE, delivery: str = "1s", channel_extra: str = "") -> Path:
    """A config for node ``node``: the shared database, all feeds, one rule, one webhook."""
    feeds = "".join(f'[[feeds]]\nname = "feed-{i}"\nurl = "{site.base}/feed/{i}.xml"\n\n'
                    for i in range(FEEDS))
    path = tmp_path / f"node-{node}.toml"
    path.write_text(f"""
[monitor]
database = "{database}"
node_id = "{node}"
allow_private_networks = true
alert_on_first_poll = true
max_age = "off"
web = ""
extract_workers = 1
lease = "{lease}"
delivery_interval = "{delivery}"

{feeds}
[[watch]]
name = "dpa"
query = '"{PHRASE}"'
channels = ["hook"]

[channels.hook]
type = "webhook"
url = "{hook_url}"
{channel_extra}
""")
    return path


@dataclass
class Node:
    """One ``monitor run`` process and its log file."""

    name: str
    proc: asyncio.subprocess.Process
    log: Path

    def polled(self) -> set[str]:
        """Names of the feeds this node finished polling, from its log."""
        return {part.removeprefix("feed=") for line in self.tail(None).splitlines()
                if "event=poll " in line for part in line.split() if part.startswith("feed=")}

    def problems(self) -> str:
        """The log's WARNING, ERROR and CRITICAL lines (the first 20)."""
        levels = (" WARNING ", " ERROR ", " CRITICAL ")
        found = [ln for ln in self.tail(None).splitlines() if any(v in ln for v in levels)]
        return "\n".join(found[:20])

    def tail(self, chars: int | None = 3000) -> str:
        """The end of the log (all of it with None)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text if chars is None else text[-chars:]


async def start_node(name: str, config: Path, tmp_path: Path) -> Node:
    """Start ``python -m monitor run -c config``; stderr goes to a log file."""
    log = tmp_path / f"node-{name}.log"
    with log.open("ab") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor", "run", "-c", str(config), cwd=ROOT,
            env=dict(os.environ), stdout=asyncio.subprocess.DEVNULL, stderr=sink)
    return Node(name, proc, log)


async def start_nodes(configs: Mapping[str, Path], tmp_path: Path,
                      nodes: dict[str, Node]) -> None:
    """Start the first node, and the others once it has created the feeds.

    Started at the same instant, several nodes would race in ``Store.sync_feeds`` (each
    inserts the feeds it does not see yet) and all but one exit on a unique violation.
    """
    first, *rest = configs
    nodes[first] = await start_node(first, configs[first], tmp_path)
    end = time.monotonic() + DEADLINE
    while "event=started" not in nodes[first].tail(None):
        assert nodes[first].proc.returncode is None, nodes[first].tail()
        assert time.monotonic() < end, nodes[first].tail()
        await asyncio.sleep(0.05)
    for name in rest:
        nodes[name] = await start_node(name, configs[name], tmp_path)


async def stop_nodes(nodes: Mapping[str, Node]) -> dict[str, int | None]:
    """SIGTERM every live node, wait for it (SIGKILL after 30 s); return the exit codes."""
    for node in nodes.values():
        if node.proc.returncode is None:
            node.proc.send_signal(signal.SIGTERM)
    codes: dict[str, int | None] = {}
    for name, node in nodes.items():
        try:
            codes[name] = await asyncio.wait_for(node.proc.wait(), 30)
        except TimeoutError:
            node.proc.kill()
            await node.proc.wait()
            codes[name] = None
    return codes


class Db:
    """Queries on the shared schema, from the test process (the first node created it)."""

    def __init__(self, url: str) -> None:
        self.engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.NullPool)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        """All rows of ``sql``."""
        with self.engine.connect() as conn:
            return list(conn.execute(sqlalchemy.text(sql), params))

    def count(self, sql: str, **params: Any) -> int:
        """The single integer ``sql`` returns."""
        return int(self.rows(sql, **params)[0][0])

    def polled(self) -> int:
        """Feeds polled at least once."""
        return self.count("select count(*) from feeds where last_polled_at is not null")

    def sent(self) -> int:
        """Alerts delivered."""
        return self.count("select count(*) from alerts where status = 'sent'")

    def unfinished(self) -> str:
        """Feeds not polled or failing, alerts not sent: for a failure message."""
        feeds = self.rows("select name, state, claimed_by, lease_until, last_error from feeds "
                          "where last_polled_at is null or state <> 'ok' limit 10")
        alerts = self.rows("select id, status, attempts, claimed_by, last_error from alerts "
                           "where status <> 'sent' limit 10")
        return f"feeds: {[tuple(r) for r in feeds]}\nalerts: {[tuple(r) for r in alerts]}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for the daemons, dropped afterwards."""
    with pg_schema() as url:
        yield url


@pytest.fixture
async def site(serve_app: ServeApp) -> NewsSite:
    """300 feeds of 5 items on 127.0.0.1."""
    news = NewsSite()
    news.base = await serve_app(news.app())
    return news


async def wait_for_work(db: Db, nodes: Mapping[str, Node], alerts: int) -> None:
    """Until every feed is polled and ``alerts`` alerts are sent; ``nodes`` must live."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if db.polled() == FEEDS and db.sent() >= alerts:
            return
        dead = [n for n in nodes.values() if n.proc.returncode is not None]
        assert not dead, f"node {dead[0].name} exited early:\n{dead[0].tail()}"
        await asyncio.sleep(0.25)
    logs = "\n".join(f"--- {n.name}\n{n.problems()}\n{n.tail(1000)}" for n in nodes.values())
    pytest.fail(f"after {DEADLINE:g}s: {db.polled()} of {FEEDS} feeds polled, {db.sent()} "
                f"of {alerts} alerts sent\n{db.unfinished()}\n{logs}")


def assert_one_alert_per_story(db: Db, site: NewsSite) -> dict[str, str]:
    """Every matching article has exactly one sent alert; return article URL -> alert id."""
    doubled = db.rows("select h.rule_id, h.story_id, a.channel, count(*) from alerts a "
                      "join hits h on h.id = a.hit_id "
                      "group by h.rule_id, h.story_id, a.channel having count(*) > 1")
    assert doubled == []
    rows = db.rows("select a.id, a.status, r.url from alerts a "
                   "join articles r on r.id = a.article_id")
    by_url = {url: alert_id for alert_id, _, url in rows}
    assert len(by_url) == len(rows) == len(MATCHING)
    assert set(by_url) == matching_urls(site)
    assert {status for _, status, _ in rows} == {"sent"}
    return by_url


def ids_by_url(arrivals: list[tuple[str, str]]) -> dict[str, set[str]]:
    """Article URL -> the webhook-ids it arrived with."""
    out: dict[str, set[str]] = defaultdict(set)
    for webhook_id, url in arrivals:
        out[url].add(webhook_id)
    return out


# -- 1: three nodes share the work --------------------------------------------------------


async def test_three_nodes_share_feeds_and_alerts_without_doubles(
        tmp_path: Path, pg_url: str, site: NewsSite, hook: WebhookReceiver) -> None:
    db = Db(pg_url)
    nodes: dict[str, Node] = {}
    try:
        # No node dies here, so the lease only has to outlast the slowest poll (2-3 s on
        # 2 cores): were it shorter, a second node would rightly take over a feed mid-poll.
        await start_nodes({name: node_config(tmp_path, name, pg_url, site, hook.url,
                                             lease=LONG_LEASE) for name in NODES},
                          tmp_path, nodes)
        await wait_for_work(db, nodes, len(MATCHING))
        await asyncio.sleep(1.5)  # a double, were there one, would arrive in this time
    finally:
        codes = await stop_nodes(nodes)
    assert codes == dict.fromkeys(NODES, 0), {n: nodes[n].tail() for n in NODES}
    assert db.count("select count(*) from nodes") == 0  # each stopped node left at once
    assert db.count("select count(*) from feeds where last_polled_at is null") == 0
    assert db.count("select count(*) from feeds where state <> 'ok'") == 0
    # every feed and every page was fetched once: no feed was claimed by two nodes
    feeds = {f"/feed/{i}.xml" for i in range(FEEDS)}
    pages = {f"/a/{i}/{j}.html" for i in range(FEEDS) for j in range(ITEMS)}
    assert set(site.hits) == feeds | pages
    assert [p for p, n in site.hits.items() if n > 1] == []
    polled = {name: node.polled() for name, node in nodes.items()}
    assert all(polled.values()), {n: len(p) for n, p in polled.items()}  # all took a share
    assert set().union(*polled.values()) == {f"feed-{i}" for i in range(FEEDS)}
    assert sum(len(p) for p in polled.values()) == FEEDS  # and none polled a feed twice
    assert db.count("select count(*) from articles") == FEEDS * ITEMS
    assert db.count("select count(*) from matches") == len(MATCHING)
    by_url = assert_one_alert_per_story(db, site)
    arrivals = [(h["webhook-id"], json.loads(body)["article"]["url"])
                for h, body in hook.received]
    received = ids_by_url(arrivals)
    assert {u: len(ids) for u, ids in received.items() if len(ids) > 1} == {}
    assert {u: ids.pop() for u, ids in received.items()} == by_url
    assert len({i for i, _ in arrivals}) == len(MATCHING)
    # an id seen twice must be a retry, recorded as a second attempt in the database
    repeated = {i for i, n in Counter(i for i, _ in arrivals).items() if n > 1}
    retried = {r[0] for r in db.rows("select alert_id from deliveries group by alert_id "
                                     "having count(*) > 1")}
    assert repeated <= retried


# -- 2: a node dies holding feeds and alerts ------------------------------------------------


@dataclass
class HoldingReceiver:
    """``/hook/<node>``: requests to ``held`` wait until ``release``; others get 200 at once."""

    held: str
    arrivals: list[tuple[str, str, str]] = field(default_factory=list)  # (node, id, url)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    base: str = ""  # http://127.0.0.1:PORT, once served

    def url(self, node: str) -> str:
        """Where node ``node`` POSTs."""
        return f"{self.base}/hook/{node}"

    def app(self) -> web.Application:
        """The receiver, to serve with ``serve_app``."""
        app = web.Application()
        app.router.add_post("/hook/{node}", self._hook)
        return app

    async def _hook(self, request: web.Request) -> web.Response:
        node = request.match_info["node"]
        body = json.loads(await request.read())
        self.arrivals.append((node, request.headers["webhook-id"], body["article"]["url"]))
        if node == self.held:
            try:
                await asyncio.wait_for(self.release.wait(), DEADLINE)
            except TimeoutError:
                pass
        return web.Response(text="ok")


@dataclass(frozen=True)
class Holdings:
    """What the victim held when it was killed."""

    feeds: set[str]
    alerts: set[str]


def holdings(db: Db, node: str) -> Holdings:
    """Feeds under a live lease of ``node``, and alerts it claimed with an attempt on the wire."""
    feeds = db.rows("select name from feeds where claimed_by = :n and lease_until > now()",
                    n=node)
    alerts = db.rows("select a.id from alerts a join deliveries d on d.alert_id = a.id "
                     "where a.claimed_by = :n and a.status = 'pending' and d.node = :n "
                     "and d.outcome = 'sending'", n=node)
    return Holdings({r[0] for r in feeds}, {r[0] for r in alerts})


async def kill_when_holding(db: Db, victim: Node) -> Holdings:
    """SIGKILL ``victim`` as soon as it holds feeds and has an alert on the wire."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        held = holdings(db, victim.name)
        if held.feeds and held.alerts:
            victim.proc.send_signal(signal.SIGKILL)
            await victim.proc.wait()
            return holdings(db, victim.name)  # what it still held when it died
        assert victim.proc.returncode is None, victim.tail()
        await asyncio.sleep(0.05)
    pytest.fail(f"node {victim.name} never held feeds and alerts at once:\n{victim.tail()}")


async def test_killed_node_work_is_finished_by_the_others(
        tmp_path: Path, pg_url: str, site: NewsSite, serve_app: ServeApp) -> None:
    receiver = HoldingReceiver(held="a")
    receiver.base = await serve_app(receiver.app())
    db = Db(pg_url)
    nodes: dict[str, Node] = {}
    try:
        # b and c deliver less often, so "a" gets alerts to hold; its webhook never times out
        configs = {name: node_config(tmp_path, name, pg_url, site, receiver.url(name),
                                     delivery="1s" if name == "a" else "3s",
                                     channel_extra='timeout = "60s"') for name in NODES}
        await start_nodes(configs, tmp_path, nodes)
        held = await kill_when_holding(db, nodes["a"])
        receiver.release.set()
        await wait_for_work(db, {n: nodes[n] for n in ("b", "c")}, len(MATCHING))
    finally:
        receiver.release.set()
        codes = await stop_nodes(nodes)
    assert codes == {"a": -signal.SIGKILL, "b": 0, "c": 0}, nodes["a"].tail()
    assert held.feeds and held.alerts  # it died holding both
    # its feeds were polled by the others once its lease ran out
    assert db.count("select count(*) from feeds where last_polled_at is null") == 0
    rows = db.rows("select name, claimed_by, state from feeds where name = any(:names)",
                   names=sorted(held.feeds))
    assert {(name, claimed, state) for name, claimed, state in rows} == {
        (name, None, "ok") for name in held.feeds}
    assert held.feeds <= nodes["b"].polled() | nodes["c"].polled()
    # its claimed alerts were sent by another node, with the same id
    by_url = assert_one_alert_per_story(db, site)
    attempts = db.rows("select alert_id, node, outcome, finished_at from deliveries "
                       "where alert_id = any(:ids) order by id", ids=sorted(held.alerts))
    by_alert: dict[str, list[tuple[str, str, Any]]] = defaultdict(list)
    for alert_id, node, outcome, finished in attempts:
        by_alert[alert_id].append((node, outcome, finished))
    for alert_id in held.alerts:
        first, *rest = by_alert[alert_id]
        # a's attempt never got an outcome; the node that took the alert over says so
        assert first[:2] == ("a", "interrupted") and first[2] is not None
        assert rest and {node for node, _, _ in rest} <= {"b", "c"}
        assert rest[-1][1] == "sent"
    others = {(i, u) for n, i, u in receiver.arrivals if n != "a"}
    assert {(i, u) for i, u in others if i in held.alerts} == {
        (i, u) for u, i in by_url.items() if i in held.alerts}
    received = ids_by_url([(i, u) for _, i, u in receiver.arrivals])
    assert {u: ids for u, ids in received.items() if len(ids) > 1} == {}
    assert {u: ids.pop() for u, ids in received.items()} == by_url
