"""Benchmark: the longest event-loop stall while a big, hostile article is matched.

A heartbeat task on the loop sleeps 10 ms at a time and records how late it wakes; the
longest lateness is the loop's longest stall. Measured, in one process, for:

* ``pipeline``: 50,000 generated rules (bench/match.py's mix) plus the regex
  ``/\\d+[.,]?\\d* (million|billion)/`` matched against an article of about 1 MB of text
  with a 20,000-digit run: ``baseline`` runs ``RuleSet.match`` and ``explain`` on the loop (the old
  behaviour), ``after`` awaits ``monitor.pipeline.match_article`` (one matching thread);
* ``search``: the dashboard's query box with that regex over the stored hostile article:
  ``baseline`` runs ``views.search`` on the loop, ``after`` asks ``/api/search`` of the
  real app (Starlette runs the handler in a thread);
* ``workers``: what matching in the extraction workers would cost instead: the rule set
  pickled, per worker and per reload (``pickle_s``, ``pickle_mb``), since each worker
  would need its own copy of the rules.

The rules are kept out of the collector's passes (``gc.freeze()``) as the daemon keeps
them. Prints one JSON object. Run: ``python bench/loopstall.py`` (about a minute).
"""

from __future__ import annotations

import asyncio
import gc
import json
import pickle
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from match import Generator

from monitor.config import FeedSettings, load_config
from monitor.models import Article, Entry
from monitor.pipeline import match_article
from monitor.rules import Rule, compile_rules
from monitor.store import ArticleWrite, NewArticle, Store
from monitor.web import create_app, views

RULES = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 50_000
REGEX = r"/\d+[.,]?\d* (million|billion)/"
TICK = 0.010


class EveryRule:
    """A stand-in for the routing's watches: every rule watches every feed."""

    def get(self, rule: str) -> EveryRule:
        return self

    def applies_to(self, feed: FeedSettings) -> bool:
        return True


async def longest_stall(work: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """(longest heartbeat lateness, seconds ``work`` took), both in seconds."""
    worst, done = 0.0, asyncio.Event()

    async def heartbeat() -> None:
        nonlocal worst
        loop = asyncio.get_running_loop()
        while not done.is_set():
            start = loop.time()
            await asyncio.sleep(TICK)
            worst = max(worst, loop.time() - start - TICK)

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(TICK * 3)  # the heartbeat is running
    started = time.perf_counter()
    await work()
    took = time.perf_counter() - started
    done.set()
    await beat
    return worst, took


def hostile_article(gen: Generator, rules: list[Rule]) -> Article:
    parts: list[str] = []
    while sum(map(len, parts)) < 1_000_000:
        parts.append(gen.article(rules[:1000], len(parts)).text)
    text = "\n\n".join(parts) + "\n\nRevenue rose to " + "7" * 20_000 + " million."
    return Article(url="https://news.example.org/hostile", title="Quarterly figures",
                   text=text, source="Wire")


def result(baseline: tuple[float, float], after: tuple[float, float]) -> dict[str, float]:
    return {"baseline_stall_ms": round(baseline[0] * 1000, 1),
            "after_stall_ms": round(after[0] * 1000, 1),
            "baseline_work_s": round(baseline[1], 2), "after_work_s": round(after[1], 2)}


async def bench_pipeline(rules: Any, article: Article) -> dict[str, float]:
    matching = ThreadPoolExecutor(1, thread_name_prefix="match")
    p: Any = SimpleNamespace(rules=rules, matching=matching, routing=SimpleNamespace(
        watches=EveryRule()))
    feed = FeedSettings("Wire", "https://news.example.org/feed.xml", 600.0)

    async def on_loop() -> None:
        rules.explain(article, rules.match(article))

    async def off_loop() -> None:
        await match_article(p, article, feed)

    await off_loop()  # warm the caches alike for both
    out = result(await longest_stall(on_loop), await longest_stall(off_loop))
    matching.shutdown()
    return out


async def bench_search(article: Article, folder: Path) -> dict[str, float]:
    store = Store(f"sqlite:///{folder / 'monitor.db'}")
    store.migrate()
    config = folder / "monitor.toml"
    config.write_text('[monitor]\nweb = ""\n')
    app = create_app(store, lambda: load_config(str(config)))
    now = datetime.now(UTC)
    entry = Entry(key="hostile", url=article.url, title=article.title, summary="",
                  published=now)
    store.sync_feeds([FeedSettings("Wire", "https://news.example.org/feed.xml", 600.0)], now)
    (feed,) = store.feeds()
    new = NewArticle(entry, article, "hostile", None, ())
    store.store_articles([ArticleWrite(feed.id, "Wire", new, lambda m, a: {}, now)], None)

    async def on_loop() -> None:
        views.search(store, REGEX)

    async def over_http() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1") as client:
            answer = await client.get("/api/search", params={"q": REGEX})
            answer.raise_for_status()

    out = result(await longest_stall(on_loop), await longest_stall(over_http))
    store.close()
    return out


def bench_workers(rules: Any) -> dict[str, float]:
    started = time.perf_counter()
    blob = pickle.dumps(rules, protocol=pickle.HIGHEST_PROTOCOL)
    pickled = time.perf_counter() - started
    started = time.perf_counter()
    pickle.loads(blob)
    return {"pickle_s": round(pickled, 2), "unpickle_s": round(time.perf_counter() - started, 2),
            "pickle_mb": round(len(blob) / 2**20, 1)}


async def main() -> None:
    gen = Generator()
    rules = gen.rules(RULES) + [Rule("money", REGEX)]
    article = hostile_article(gen, rules)
    started = time.perf_counter()
    compiled = compile_rules(rules)
    gc.collect()
    gc.freeze()  # as the daemon does after compiling: the rules stay out of GC passes
    report: dict[str, Any] = {"rules": len(rules), "article_chars": len(article.text),
                              "compile_s": round(time.perf_counter() - started, 2)}
    report["pipeline"] = await bench_pipeline(compiled, article)
    if "--no-search" not in sys.argv:
        with tempfile.TemporaryDirectory() as folder:
            report["search"] = await bench_search(article, Path(folder))
    try:
        report["workers"] = bench_workers(compiled)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        report["workers"] = {"error": f"the rule set does not pickle: {e}"}
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
