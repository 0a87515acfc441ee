"""End-to-end articles/s through the daemon, against trafilatura alone on the same pages.

DESIGN.md §9: the pipeline should take at most 1.2x the time trafilatura takes to extract
the same pages (the rest of the pipeline costs under 20%).

Pages: ``--pages`` (200) distinct news pages made from ``tests/data/pages/*.html`` (about
130 KB each, real-site boilerplate): the article's paragraphs are shuffled and a third of
their lowercase words of 4+ letters swapped for words of other articles, the title
likewise, and one page in ten gets a sentence naming the Defense Production Act. RSS feeds
of 10 items list them. A loopback aiohttp server in its own process serves feeds and pages
and receives the webhook alerts.

Baseline (``trafilatura_only_s``): ``monitor.extract.Extractor`` with the daemon's worker
count (``--workers``, the ``extract_workers`` default of 2) extracting every page's bytes,
all submitted at once, in the same process pool, with the same trafilatura options and
pickling as the daemon's. The page goes to trafilatura whole, as in the daemon, so that
is trafilatura's own time, the baseline of DESIGN §9; ``ratio`` is against it and says
what the rest of the pipeline (fetching, parsing feeds, matching, storing, delivering) adds.

Measured (``pipeline_s``): ``Daemon.run_once()`` on a fresh SQLite database in a temporary
directory: poll every feed, fetch every page, extract, fingerprint, match ``--rules``
(1,000) generated rules (bench/match.py's mix, as a watchlist) plus a few that match,
store, enqueue alerts and deliver them to the webhook. Each pool is warmed first (worker
start and trafilatura's import count nowhere); loading the config and compiling the rules
is ``setup_s``, not timed. ``--rounds`` (3) alternate the two; each one's best round is
reported (as in bench/extract.py: other work on the machine only ever adds time), and the
ratios are of those; CPU figures are medians.

``cpu_s`` splits where the CPU went (this process, the extraction workers, the loopback
server): when the machine's cores are all busy extracting, every CPU second the rest of
the pipeline spends lengthens the run. ``cpu_ratio`` is
the pipeline's total CPU over the baseline's: unlike the time ratios it holds on a machine
busy with other work.
``--profile [FILE]`` adds a profiled round and writes the top 30 functions, by cumulative and
by self time, of the daemon's event loop thread (cProfile, timed in thread CPU seconds) and
of one extraction worker (``MONITOR_PROFILE_WORKER``, see monitor/extractpool.py) to FILE
(default ``pipeline-profile.txt`` in the current directory), and prints where to stderr.

All pages are on 127.0.0.1, so ``per_host_connections`` is raised to 8 (``--per-host``),
as in bench/scale.py: the default of 2 models politeness towards one real site.

    python bench/pipeline.py [--pages 200] [--rules 1000] [--rounds 3] [--profile [FILE]]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import html
import json
import multiprocessing
import os
import random
import re
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _common import peak_rss_mb, write_profiles, write_watchlist
from aiohttp import web

from monitor.daemon import Daemon, load
from monitor.extract import Extractor
from monitor.extractpool import PROFILE_ENV
from monitor.testing import start_app

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "tests" / "data" / "pages"
SEED = 20260301
SWAP = 0.33  # share of lowercase words of 4+ letters replaced in a page's paragraphs
PER_FEED = 10
PLANTED = "Officials said the Defense Production Act could ease the supply chain risk."
MATCHING_RULES = {  # name -> query; the generated rules mostly match nothing
    "dpa": '"supply chain risk" OR "Defense Production Act"',
    "pentagon": "Pentagon NEAR/10 (Anthropic OR contract*)",
    "council": "title:council",
}
_WORD = re.compile(r"(?<![&#\w])[a-z]{4,}\b")


# -- pages and feeds -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Template:
    """A golden page with the spans of its article paragraphs located."""

    html: str
    title: str
    spans: tuple[tuple[int, int], ...]  # (start, end) of each paragraph in ``html``


@dataclass(frozen=True, slots=True)
class Page:
    """One generated page and what its feed item says about it."""

    path: str
    title: str
    summary: str
    body: bytes


def load_templates() -> list[Template]:
    """Every golden page that has an expected body, its paragraphs located in the HTML."""
    out = []
    for expected in sorted(PAGES.glob("*.expected.json")):
        data = json.loads(expected.read_text(encoding="utf-8"))
        page = expected.with_name(expected.name.replace(".expected.json", ".html"))
        text = page.read_text(encoding="utf-8")
        spans = []
        for line in filter(None, (s.strip() for s in data["text"].split("\n"))):
            for form in (html.escape(line, quote=False), line):
                if (at := text.find(form)) >= 0:
                    spans.append((at, at + len(form)))
                    break
        spans.sort()
        disjoint = [s for i, s in enumerate(spans) if i == 0 or s[0] >= spans[i - 1][1]]
        out.append(Template(text, data["title"], tuple(disjoint)))
    return out


def make_pages(count: int, seed: int = SEED) -> list[Page]:
    """``count`` distinct pages cycling through the templates."""
    rng = random.Random(seed)
    templates = load_templates()
    pool = sorted({w for t in templates for a, b in t.spans for w in _WORD.findall(t.html[a:b])})
    return [make_page(n, templates[n % len(templates)], pool, rng) for n in range(count)]


def make_page(n: int, t: Template, pool: list[str], rng: random.Random) -> Page:
    """Page ``n``: template ``t`` with its paragraphs shuffled and words swapped."""
    def swap(text: str) -> str:
        return _WORD.sub(lambda m: rng.choice(pool) if rng.random() < SWAP else m[0], text)

    paragraphs = [swap(t.html[a:b]) for a, b in t.spans]
    rng.shuffle(paragraphs)
    if n % 10 == 3:
        paragraphs[0] += " " + PLANTED
    parts, last = [], 0
    for (a, b), paragraph in zip(t.spans, paragraphs, strict=True):
        parts += [t.html[last:a], paragraph]
        last = b
    page = "".join(parts) + t.html[last:]
    title = swap(t.title)
    for form in {html.escape(t.title, quote=False), html.escape(t.title), t.title}:
        page = page.replace(form, html.escape(title, quote=False))
    summary = html.unescape(re.sub(r"<[^>]+>", "", paragraphs[0]))[:200]
    return Page(f"/a/{n}.html", title, summary, page.encode("utf-8"))


def feed_xml(base: str, number: int, pages: list[Page]) -> bytes:
    """An RSS 2.0 document listing ``pages``."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    items = "".join(
        f"<item><title>{html.escape(p.title)}</title><link>{base}{p.path}</link>"
        f"<guid>{base}{p.path}</guid>"
        f"<pubDate>{format_datetime(start + timedelta(minutes=7 * i))}</pubDate>"
        f"<description>{html.escape(p.summary)}</description></item>"
        for i, p in enumerate(pages))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Bench feed {number}</title><link>{base}/</link>"
            f"<description>bench</description>{items}</channel></rss>").encode()


def cpu_s(pids: tuple[int, ...] = ()) -> float:
    """CPU seconds (user + system) of this process, or of the processes ``pids``."""
    if not pids:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    ticks = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


# -- the server (its own process) ------------------------------------------------------------


def serve(conn: Connection) -> None:
    """Send our port; then take messages: {path: (type, body)} to serve, "cpu", "stop"."""
    site: dict[str, tuple[str, bytes]] = {}
    hooks = 0

    async def get(request: web.Request) -> web.Response:
        found = site.get(request.path)
        if found is None:
            raise web.HTTPNotFound()
        return web.Response(body=found[1], content_type=found[0])

    async def hook(request: web.Request) -> web.Response:
        nonlocal hooks
        await request.read()
        hooks += 1
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/hook", hook)
        app.router.add_get("/{tail:.*}", get)
        runner, port = await start_app(app)
        conn.send(port)
        loop = asyncio.get_running_loop()
        while (message := await loop.run_in_executor(None, conn.recv)) != "stop":
            if message == "cpu":
                conn.send(cpu_s())
            else:
                site.update(message)
                conn.send("ok")
        await runner.cleanup()
        conn.send({"hooks": hooks, "cpu_s": cpu_s()})

    asyncio.run(main())


# -- the two sides ---------------------------------------------------------------------------


async def warm(extractor: Extractor, page: bytes) -> None:
    """Start every worker (and its trafilatura) before timing."""
    await asyncio.gather(*(extractor.extract(page, "http://127.0.0.1/warm")
                           for _ in range(2 * extractor.workers)))


async def extract_only(pages: list[Page], base: str, workers: int,
                       warm_page: bytes) -> dict[str, float]:
    """Seconds for a warm pool to extract every page; CPU of this process and the pool."""
    extractor = Extractor(workers)
    try:
        await warm(extractor, warm_page)
        pids = extractor.worker_pids()
        cpu, pool_cpu, started = cpu_s(), cpu_s(pids), time.perf_counter()
        await asyncio.gather(*(extractor.extract(p.body, base + p.path) for p in pages))
        return {"seconds": time.perf_counter() - started, "main": cpu_s() - cpu,
                "workers": cpu_s(pids) - pool_cpu}
    finally:
        extractor.close()


def write_config(tmp: Path, base: str, feeds: int, rules_file: Path,
                 args: argparse.Namespace) -> Path:
    """The daemon's config: loopback feeds, a webhook channel, the watchlist, a few rules."""
    lines = [
        "[monitor]", f'database = "sqlite:///{tmp / "monitor.db"}"', 'web = ""',
        'user_agent = "monitor-bench/1.0 (+http://127.0.0.1/)"',
        "allow_private_networks = true", "alert_on_first_poll = true",
        f"per_host_connections = {args.per_host}", f"extract_workers = {args.workers}", "",
        "[channels.hook]", 'type = "webhook"', f'url = "{base}/hook"', "",
        "[[watchlist]]", 'name = "generated"', f'file = "{rules_file}"', "channels = []", "",
    ]
    for name, query in MATCHING_RULES.items():
        lines += ["[[watch]]", f'name = "{name}"', f"query = '{query}'",
                  'channels = ["hook"]', ""]
    for f in range(feeds):
        lines += ["[[feeds]]", f'name = "feed-{f}"', f'url = "{base}/feed/{f}.xml"', ""]
    path = tmp / "bench.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


async def pipeline_once(base: str, feeds: int, rules_file: Path, args: argparse.Namespace,
                        warm_page: bytes, profile: cProfile.Profile | None = None
                        ) -> dict[str, Any]:
    """One timed ``run_once`` of a fresh daemon on a fresh database; what it stored."""
    with tempfile.TemporaryDirectory(prefix="monitor-bench-") as name:
        tmp = Path(name)
        path = write_config(tmp, base, feeds, rules_file, args)
        started = time.perf_counter()
        daemon = Daemon(load(str(path)), str(path))
        setup = time.perf_counter() - started
        try:
            await warm(daemon.services.extractor, warm_page)
            pids = daemon.services.extractor.worker_pids()
            if profile:
                profile.enable()
            cpu, pool_cpu, started = cpu_s(), cpu_s(pids), time.perf_counter()
            await daemon.run_once()
            elapsed = time.perf_counter() - started
            cpu, pool_cpu = cpu_s() - cpu, cpu_s(pids) - pool_cpu
            if profile:
                profile.disable()
        finally:
            await daemon.close()
        return {"seconds": elapsed, "setup": setup, "main": cpu, "workers": pool_cpu,
                **stored(tmp / "monitor.db")}


def stored(db: Path) -> dict[str, Any]:
    """What the run left in the database, to check it did the whole job."""
    with sqlite3.connect(db) as conn:
        articles, fallbacks = conn.execute(
            "SELECT count(*), coalesce(sum(from_feed), 0) FROM articles").fetchone()
        stories = conn.execute("SELECT count(DISTINCT story_id) FROM articles").fetchone()[0]
        matches = conn.execute("SELECT count(*) FROM matches").fetchone()[0]
        alerts = dict(conn.execute("SELECT status, count(*) FROM alerts GROUP BY status"))
    return {"articles": articles, "feed_fallbacks": fallbacks, "stories": stories,
            "matches": matches, "alerts": alerts}


# -- main ------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, conn: Connection, tmp: Path) -> dict[str, Any]:
    """Publish the site, then alternate the two sides ``args.rounds`` times."""
    base = f"http://127.0.0.1:{conn.recv()}"
    pages = make_pages(args.pages)
    feeds = [pages[i:i + PER_FEED] for i in range(0, len(pages), PER_FEED)]
    site = {p.path: ("text/html", p.body) for p in pages}
    site |= {f"/feed/{f}.xml": ("application/rss+xml", feed_xml(base, f, items))
             for f, items in enumerate(feeds)}
    conn.send(site)
    conn.recv()
    rules_file = tmp / "generated.txt"
    write_watchlist(rules_file, args.rules)
    warm_page = make_pages(1, seed=SEED + 1)[0].body
    whole, runs = [], []
    for _ in range(args.rounds):
        whole.append(await extract_only(pages, base, args.workers, warm_page))
        conn.send("cpu")
        server_cpu = conn.recv()
        runs.append(await pipeline_once(base, len(feeds), rules_file, args, warm_page))
        conn.send("cpu")
        runs[-1]["server"] = conn.recv() - server_cpu
    if args.profile:
        profile = cProfile.Profile(time.thread_time)  # CPU of the event loop's thread
        os.environ[PROFILE_ENV] = str(tmp / "worker")  # the round's workers profile too
        try:
            await pipeline_once(base, len(feeds), rules_file, args, warm_page, profile)
        finally:
            del os.environ[PROFILE_ENV]
        where = write_profiles(args.profile, profile, sorted(tmp.glob("worker.*")))
        print(f"profile: {where}", file=sys.stderr)
    return summary(args, pages, len(feeds), whole, runs)


def summary(args: argparse.Namespace, pages: list[Page], feeds: int,
            whole: list[dict[str, float]], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Best times over the rounds, median CPU split, and what the last round stored."""
    def median(rows: list[dict[str, Any]], key: str) -> float:
        return round(statistics.median(float(r[key]) for r in rows), 3)

    trafilatura_s = round(min(r["seconds"] for r in whole), 3)
    pipeline_s = round(min(float(r["seconds"]) for r in runs), 3)
    cpu_whole = median(whole, "main") + median(whole, "workers")
    cpu_pipe = median(runs, "main") + median(runs, "workers") + median(runs, "server")
    return {
        "pages": len(pages), "trafilatura_only_s": trafilatura_s, "pipeline_s": pipeline_s,
        "ratio": round(pipeline_s / trafilatura_s, 3),
        "cpu_ratio": round(cpu_pipe / cpu_whole, 3),
        "articles_per_s": round(len(pages) / pipeline_s, 1),
        "trafilatura_only_pages_per_s": round(len(pages) / trafilatura_s, 1),
        "workers": args.workers, "cpus": os.cpu_count(), "feeds": feeds,
        "rules": args.rules + len(MATCHING_RULES), "per_host_connections": args.per_host,
        "page_kb": round(statistics.mean(len(p.body) for p in pages) / 1024, 1),
        "rounds": {"trafilatura_only_s": [round(r["seconds"], 3) for r in whole],
                   "pipeline_s": [round(r["seconds"], 3) for r in runs]},
        "cpu_s": {"trafilatura_only": {"main": median(whole, "main"),
                                       "workers": median(whole, "workers")},
                  "pipeline": {"main": median(runs, "main"), "workers": median(runs, "workers"),
                               "server": median(runs, "server")}},
        "setup_s": median(runs, "setup"),
        "stored": {k: runs[-1][k] for k in ("articles", "feed_fallbacks", "stories", "matches",
                                            "alerts")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rules", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="extract_workers (both sides)")
    parser.add_argument("--per-host", type=int, default=8, help="per_host_connections")
    parser.add_argument("--profile", nargs="?", const="pipeline-profile.txt", metavar="FILE",
                        help="profile one more round: main process and one worker, to FILE")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server = context.Process(target=serve, args=(theirs,), daemon=True)
    server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="monitor-bench-") as tmp:
            result = asyncio.run(bench(args, ours, Path(tmp)))
    finally:
        ours.send("stop")
        tail = ours.recv() if ours.poll(10) else {}
        server.join(5)
    result["webhooks_received"] = tail.get("hooks")
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
