"""Benchmark: the preview's first page at 100,000 stored articles, with the full-text
prefilter and with a scan of every stored article (the baseline), in the same process.

Prints one JSON object::

    {"articles": 100000, "build_s": ..., "databases": [{"database": "sqlite",
      "first_page": {"prefilter": {"median_s", "p95_s"}, "scan": {...}},
      "preview_30d": {"prefilter": {...}}, "queries": [{"query", "prefiltered",
      "hits", "prefilter_s", "scan_s"}, ...]}, ...]}

Articles are real-shaped news: sentences of the seed articles (seeds/) and of the test
pages' expected texts (tests/data/pages/), shuffled and mixed with sentences of
bench/match.py's generator (Zipf words, named entities), ~1.5 KB each, stored over the
last 60 days. Their terms are computed as the pipeline does (``article_terms``) and the
rows written in bulk. 20 queries: words, phrases, prefixes, AND/NOT/NEAR, acronyms,
compounds, and two the prefilter cannot take (a regex, ``x OR NOT y``: scanned).
``first_page`` is the newest 20 matches (what a user sees while typing); ``preview_30d``
the whole preview (counts per day over 30 days, the newest 20), prefiltered only.
PostgreSQL is measured too when a server answers on 127.0.0.1:5432 (a fresh schema).

Run: ``python bench/preview.py`` (a few minutes on 2 cores); ``python bench/preview.py
20000`` for fewer articles.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy
from match import SEED, Generator

from monitor.models import Article
from monitor.rules import article_terms
from monitor.store import Store
from monitor.web.preview import first_page, preview

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
QUERIES = [
    "tariffs", '"export licenses"', "chip* AND export", "Pentagon", '"light rail"',
    "bakery NOT closes", "court NEAR/5 age", "earnings", '"port congestion"',
    "budget AND council", 'AI OR "artificial intelligence"', "U.S. sanctions", "COVID-19",
    "wildfire*", "semiconductor* NOT earnings", '"supply chain"', "lawmakers AND vote",
    "Anthropic", "/defen[cs]e contract/", "tariffs OR NOT steel",
]
CHUNK = 2000


def sentences() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in (ROOT / "seeds").rglob("*.txt")]
    texts += [json.loads(p.read_text(encoding="utf-8"))["text"]
              for p in (ROOT / "tests" / "data" / "pages").glob("*.expected.json")]
    found = [s.strip() for t in texts for s in re.split(r"(?<=[.!?])\s+|\n+", t)]
    return [s for s in found if len(s) > 30 and not s.startswith(("title:", "date:"))]


def articles(count: int) -> list[tuple[Article, datetime]]:
    rng, gen, pool = random.Random(SEED), Generator(SEED), sentences()
    made = []
    for i in range(count):
        body = rng.sample(pool, 6) + [gen.sentence([]) for _ in range(3)]
        rng.shuffle(body)
        title = " ".join(rng.choice(pool).split()[:9])
        when = NOW - timedelta(seconds=(count - i) * 60 * 86400 / count)
        made.append((Article(f"https://news{i % 97}.example/{i}", title, " ".join(body),
                             source=f"feed{i % 50}", language="en"), when))
    return made


def fill(store: Store, made: list[tuple[Article, datetime]],
         terms: list[str]) -> None:
    """The articles and their terms, written in bulk (the writer's rows, faster)."""
    arts = sqlalchemy.table("articles", *map(sqlalchemy.column, (
        "url", "url_hash", "title", "author", "source", "text", "language", "from_feed",
        "partial", "created_at", "story_id")))
    with store.engine.begin() as conn:
        for start in range(0, len(made), CHUNK):
            conn.execute(arts.insert(), [
                {"url": a.url, "url_hash": uuid.uuid4().hex, "title": a.title, "author": "",
                 "source": a.source, "text": a.text, "language": a.language,
                 "from_feed": False, "partial": False, "created_at": when, "story_id": None}
                for a, when in made[start:start + CHUNK]])
        ids = list(conn.execute(sqlalchemy.text("SELECT id FROM articles ORDER BY id"))
                   .scalars())
        if store.postgres:
            conn.execute(sqlalchemy.text(
                "UPDATE article_terms SET terms = CAST(:t AS tsvector) WHERE article_id = :i"),
                [{"i": i, "t": t} for i, t in zip(ids, terms, strict=True)])
        else:
            conn.execute(sqlalchemy.text("DELETE FROM article_terms"))
            conn.execute(sqlalchemy.text(
                "INSERT INTO article_terms (rowid, terms) VALUES (:i, :t)"),
                [{"i": i, "t": t} for i, t in zip(ids, terms, strict=True)])


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_s": round(statistics.median(ordered), 4), "p95_s": round(p95, 4)}


def measure(url: str, name: str, made: list[tuple[Article, datetime]],
            terms: list[str]) -> dict[str, object]:
    store = Store(url, timeout=600)
    store.migrate()
    fill(store, made, terms)
    rows, fast, slow, full = [], [], [], []
    for query in QUERIES:
        with_s, hits = timed(lambda q=query: first_page(store, q))
        scan_s, scanned = timed(lambda q=query: first_page(store, q, use_prefilter=False))
        assert hits == scanned, query  # the same page either way
        full_s, found = timed(lambda q=query: preview(store, q, NOW))
        fast.append(with_s)
        slow.append(scan_s)
        full.append(full_s)
        rows.append({"query": query, "prefiltered": bool(found["prefiltered"]),  # type: ignore[index]
                     "hits": len(hits), "matched_30d": found["matched"],  # type: ignore[index, arg-type]
                     "prefilter_s": round(with_s, 4), "scan_s": round(scan_s, 4),
                     "preview_30d_s": round(full_s, 4)})
    store.close()
    return {"database": name,
            "first_page": {"prefilter": stats(fast), "scan": stats(slow)},
            "first_page_prefiltered_only": stats(
                [r["prefilter_s"] for r in rows if r["prefiltered"]]),  # type: ignore[misc]
            "preview_30d": {"prefilter": stats(full)}, "queries": rows}


def postgres_url() -> str | None:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return None
    base = os.environ.get("MONITOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = sqlalchemy.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return f"{base}?options=-csearch_path%3D{schema}"


def drop_schema(url: str) -> None:
    base, schema = url.split("?")[0], url.rsplit("%3D", 1)[1]
    engine = sqlalchemy.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    build_s, made = timed(lambda: articles(count))
    terms_s, terms = timed(lambda: [article_terms(a) for a, _ in made])  # type: ignore[union-attr]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(measure(f"sqlite:///{tmp}/bench.db", "sqlite", made, terms))  # type: ignore[arg-type]
    pg = postgres_url()
    if pg:
        try:
            results.append(measure(pg, "postgresql", made, terms))  # type: ignore[arg-type]
        finally:
            drop_schema(pg)
    print(json.dumps({"articles": count, "build_s": round(build_s, 1),
                      "terms_per_article_ms": round(1000 * terms_s / count, 3),
                      "databases": results}))


if __name__ == "__main__":
    main()
