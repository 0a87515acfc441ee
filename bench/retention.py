"""Disk use per 1,000 feeds per day, retention on and off (issue 16, item 9).

Simulates ``--days`` days of ``--feeds`` feeds on a SQLite file, twice: retention off,
then on (``--text-days``, ``--entries-days``: short, so the steady state shows within
the run). Each day every feed gets ``--items`` new articles, stored as the pipeline
stores them (entry, article, a match for ``--match-rate`` of them), with real-shaped text:
the article texts of tests/data/pages and seeds/, each copy made unique; each feed lists
its newest ``--listed`` items, which a poll marks as still listed. With retention on, the
job (``monitor.retention.Retention``, as the daemon runs it) runs after each day.

Prints one JSON: the database's size after each day both ways (page_count * page_size,
the /metrics figure), the growth per day per 1,000 feeds off and once retention is in
its steady state, and the size projected after a year at the default settings
(``article_text_days`` 30, ``entries_days`` 90: a month of everything, three months of
entries, then the steady growth: the matched articles that stay).

    python bench/retention.py [--feeds 1000] [--items 12] [--days 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.config import FeedSettings, RetentionSettings, WatchSettings
from monitor.dedup import key_hash
from monitor.models import AlertedSince, Article, Entry, Match
from monitor.retention import Retention
from monitor.store import ArticleWrite, NewArticle, RuleChannels, Store

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
BATCH = 50  # articles per transaction, as the group-committing writer does


def real_texts() -> list[str]:
    """Article texts: the expected extractions of tests/data/pages, and seeds/."""
    texts = [json.loads(p.read_text(encoding="utf-8"))["text"]
             for p in sorted((ROOT / "tests/data/pages").glob("*.expected.json"))]
    texts += [p.read_text(encoding="utf-8").split("\n", 2)[-1]
              for p in sorted((ROOT / "seeds/articles").glob("*.txt"))]
    texts.append((ROOT / "seeds/ap-2026-02-26-anthropic-pentagon.txt").read_text("utf-8"))
    return [t for t in texts if len(t) > 300]


def no_route(matches: Sequence[Match], alerted: AlertedSince) -> RuleChannels:
    return {}


def size(store: Store) -> float:
    return store.database_size() / MB


def entries_mb(path: Path) -> float | None:
    """MB the entries table and its indexes take (SQLite's dbstat), None without it."""
    with sqlite3.connect(path) as conn:
        try:
            found = conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name = 'entries' OR name "
                                 "IN (SELECT name FROM sqlite_schema WHERE tbl_name = 'entries' "
                                 "AND type = 'index')").fetchone()[0]
        except sqlite3.Error:
            return None
    return found / MB


async def simulate(path: Path, retention: RetentionSettings | None, args: Any,
                   texts: list[str]) -> dict[str, Any]:
    store = Store(f"sqlite:///{path}")
    store.migrate()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = {"now": start}
    store.sync_feeds([FeedSettings(f"feed{i}", f"https://f{i}.example/rss", 600.0)
                      for i in range(args.feeds)], start)
    store.sync_rules([WatchSettings("bench", "supply")], start)
    feed_ids = {f.name: f.id for f in store.feeds()}
    job = Retention(store, lambda: clock["now"])
    rng = random.Random(7)
    listed: dict[int, list[Entry]] = {i: [] for i in feed_ids.values()}
    sizes, pruned, n = [], {"articles": 0, "entries": 0}, 0
    for day in range(args.days):
        writes = []
        for step in range(args.items):
            clock["now"] = start + timedelta(days=day, hours=24 * step / args.items)
            for name, fid in feed_ids.items():
                n += 1
                url = f"https://f{fid}.example/{day}/{n}"
                text = f"Item {n}. " + " ".join(rng.sample(
                    (t := rng.choice(texts)).split(". "), k=len(t.split(". "))))
                entry = Entry(url, url, f"Story {n} from {name}", text[:200])
                matched = (Match("bench", "supply"),) if rng.random() < args.match_rate else ()
                art = Article(url, entry.title, text, "staff", clock["now"], "en", name)
                writes.append(ArticleWrite(fid, name, NewArticle(
                    entry, art, key_hash(url), None, matched), no_route, clock["now"]))
                listed[fid] = [entry, *listed[fid]][:args.listed]
                if len(writes) == BATCH:
                    store.store_articles(writes)
                    writes = []
        if writes:
            store.store_articles(writes)
        clock["now"] = start + timedelta(days=day + 1)
        for fid, entries in listed.items():  # each feed's polls of the day: still listed
            store.seen_entries(fid, entries, clock["now"])
        if retention is not None:
            done = await job.run(retention)
            pruned["articles"] += done.articles
            pruned["entries"] += done.entries
        sizes.append(round(size(store), 2))
    store.close()
    return {"db_mb_by_day": sizes, "entries_mb": entries_mb(path), "pruned": pruned,
            "articles": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=12, help="new articles per feed per day")
    parser.add_argument("--listed", type=int, default=24, help="items a feed lists")
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--match-rate", type=float, default=0.02)
    parser.add_argument("--text-days", type=int, default=1)
    parser.add_argument("--entries-days", type=int, default=2)
    args = parser.parse_args()
    texts = real_texts()
    on = replace(RetentionSettings(), article_text_days=args.text_days,
                 entries_days=args.entries_days)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        off = asyncio.run(simulate(Path(tmp) / "off.db", None, args, texts))
        with_ = asyncio.run(simulate(Path(tmp) / "on.db", on, args, texts))
    per_k = 1000 / args.feeds
    grow_off = (off["db_mb_by_day"][-1] - off["db_mb_by_day"][-2]) * per_k
    grow_on = (with_["db_mb_by_day"][-1] - with_["db_mb_by_day"][-2]) * per_k
    entry_rate = (off["entries_mb"] or 0.0) / args.days * per_k
    default = RetentionSettings()
    # a year at the defaults: a month of everything, 90 days of entries (those are in the
    # month already), and past the month only what retention keeps (steady growth)
    year_on = (default.article_text_days * (grow_off - entry_rate)
               + default.entries_days * entry_rate
               + (365 - default.article_text_days) * grow_on)
    print(json.dumps({
        "feeds": args.feeds, "new_articles_per_feed_per_day": args.items,
        "days": args.days, "match_rate": args.match_rate,
        "mean_text_chars": round(sum(map(len, texts)) / len(texts)),
        "retention_on": {"article_text_days": args.text_days,
                         "entries_days": args.entries_days},
        "off": off, "on": with_,
        "mb_per_1000_feeds_per_day_off": round(grow_off, 2),
        "mb_per_1000_feeds_per_day_on_steady": round(grow_on, 2),
        "entries_mb_per_1000_feeds_per_day": round(entry_rate, 2),
        "projected_mb_per_1000_feeds_after_365_days": {
            "off": round(365 * grow_off),
            f"on_defaults_{default.article_text_days}d_text_{default.entries_days}d_entries":
                round(year_on)},
        "seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
