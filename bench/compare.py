"""monitor side by side with the anchors of issue 17, on the same inputs; prints one JSON object.

Each ratio is monitor's time over the anchor's (above 1: monitor is slower), from the
median of interleaved rounds per input (the order alternates round by round, so machine
load hits both alike), summed over the inputs.

- ``feeds``: ``monitor.sources.feed.parse_feed`` (fast path on; and off, as "before": every
  document through feedparser) against ``feedparser.parse`` with its defaults and
  ``fastfeedparser.parse``, on every feed document in tests/data/feeds (the corpus and the
  golden files) and on generated WordPress-shaped feeds of 50 items (UTF-8, CDATA excerpts
  and bodies, dc:creator, categories, permalink-less guids). ``fast_path_accepted`` counts
  the documents the fast reader took (the others went to feedparser); ``feedfast_reader``
  times the fast reader alone, without turning entries' HTML into text as parse_feed does.
- ``extraction``: ``monitor.extract.extract_article`` against trafilatura's default mode
  (``bench/extract.py``'s call) on the saved pages of tests/data/pages and
  tests/data/hardpages, plus ``--real DIR`` (``*.html``, ``*.html.gz``; see bench/extract.py
  for the real-news corpus). ``monitor`` is called with a feed entry (date, title, author)
  as the pipeline calls it, ``monitor_no_entry`` without (``monitor match FILE``); the
  ratios of summed medians and the median of the pages' ratios.
- ``match``: monitor's ``RuleSet.match`` with 50,000 generated rules (bench/match.py's
  generator and articles) against issue 17's anchor (bench/_hsmatch.py): Hyperscan screens
  monitor's folded tokens for the same triggers (one literal pattern each), then the same
  boolean evaluation runs on the candidates; ``identical`` checks every match on every
  article. Both also with every match's terms read. Hyperscan's database is compiled once
  and cached under ~/.cache/monitor-bench/.
- ``rss2email``: a poll round where nothing changed, ``--feeds`` (500) loopback feeds all
  answering 304: monitor's daemon round (bench/poll.py ``--store``, batched, SQLite) against
  one ``r2e run`` process of rss2email on the same feeds, rounds interleaved, CPU ratio
  (bench/_r2e.py); also without rss2email's start (``r2e --help``: the interpreter and
  the imports), which a cron run pays each round and a daemon does not.
- ``pages``: the first check of ``--pages`` (200) loopback news pages for a keyword, CPU:
  monitor's first poll of a feed listing them, with one rule, against changedetection.io's
  first check of one watch per page with the keyword as its trigger text; how the two are
  made like for like, and why, is in bench/_pages.py. changedetection.io runs in its own
  virtualenv (``--cdio-python``, default ``$MONITOR_BENCH_CDIO_PYTHON`` or
  /tmp/cdvenv/bin/python); when it is missing or fails, ``changedetection`` is
  ``{"error": ...}``.

An anchor that does not install is reported as ``{"status": "not installed: <reason>"}``.
The anchors are not monitor's dependencies; install them into this python for the bench::

    python -m pip install feedparser fastfeedparser trafilatura hyperscan rss2email
    python -m venv /tmp/cdvenv && /tmp/cdvenv/bin/pip install changedetection.io
    python bench/compare.py [--rounds 5] [--wordpress 10] [--rules 50000] [--real DIR]
        [--feeds 500] [--pages 200] [--cdio-python PATH]
        [--only feeds|extraction|match|poll|pages]
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import pathlib
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from match import Generator

from monitor.rules import compile_rules

ROOT = pathlib.Path(__file__).resolve().parent.parent
FEEDS = ROOT / "tests" / "data" / "feeds"
PARTS = ("feeds", "extraction", "match", "poll", "pages")
PAGES = (ROOT / "tests" / "data" / "pages", ROOT / "tests" / "data" / "hardpages")


def anchor(name: str) -> tuple[Any, dict[str, str] | None]:
    """The module, or None and its status when it does not import."""
    try:
        return importlib.import_module(name), None
    except Exception as e:  # any failure to import is the anchor's status, not the bench's
        return None, {"status": f"not installed: {type(e).__name__}: {e}"}


def side_by_side(inputs: list[Any], runners: dict[str, Callable[[Any], object]],
                 rounds: int) -> dict[str, list[float]]:
    """Each runner's median seconds per input, interleaved round by round."""
    medians: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for i, item in enumerate(inputs):
        times: dict[str, list[float]] = {name: [] for name in names}
        for r in range(rounds + 1):
            order = names if (i + r) % 2 == 0 else names[::-1]
            for name in order:
                start = time.perf_counter()
                try:
                    runners[name](item)
                except Exception:  # an anchor failing on an input: still timed, counted apart
                    pass
                if r:  # round 0 warms caches
                    times[name].append(time.perf_counter() - start)
        for name in names:
            medians[name].append(statistics.median(times[name]))
    return medians


def ratio(medians: dict[str, list[float]], top: str, bottom: str) -> float:
    return round(sum(medians[top]) / sum(medians[bottom]), 3)


def wordpress_feed(gen: Generator, rng: random.Random, n: int, items: int = 50) -> bytes:
    """A WordPress-shaped RSS 2.0 feed: CDATA excerpts and bodies, creators, categories."""
    site = f"https://blog{n}.example"
    now = datetime(2026, 3, 1, tzinfo=UTC)

    def words(k: int) -> str:
        return " ".join(gen.words(k))

    out = [f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
           'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
           'xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
           'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" '
           'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" '
           'xmlns:slash="http://purl.org/rss/1.0/modules/slash/">\n<channel>\n'
           f"\t<title>{words(3).title()} &#8211; Blog {n}</title>\n"
           f'\t<atom:link href="{site}/feed/" rel="self" type="application/rss+xml" />\n'
           f"\t<link>{site}</link>\n\t<description>{words(8)}</description>\n"
           "\t<lastBuildDate>Sun, 01 Mar 2026 09:00:00 +0000</lastBuildDate>\n"
           "\t<language>en-US</language>\n\t<sy:updatePeriod>\n\thourly\t</sy:updatePeriod>\n"
           "\t<sy:updateFrequency>\n\t1\t</sy:updateFrequency>\n"
           "\t<generator>https://wordpress.org/?v=6.7.2</generator>\n"]
    for i in range(items):
        post = 1000 + n * 100 + i
        slug = "-".join(gen.words(5))
        date = (now - timedelta(hours=7 * i)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        body = "\n".join(f"<p>{words(rng.randint(30, 70))} <a href=\"{site}/{slug}/#{k}\">"
                         f"{words(3)}</a> &#8220;{words(6)}&#8221; <strong>{words(2)}"
                         "</strong>.</p>" for k in range(rng.randint(4, 9)))
        cats = "".join(f"\t\t<category><![CDATA[{words(1).title()}]]></category>\n"
                       for _ in range(3))
        out.append(
            f"\t<item>\n\t\t<title>{words(rng.randint(5, 10)).title()} &#8217;s</title>\n"
            f"\t\t<link>{site}/2026/03/{slug}/</link>\n"
            f"\t\t<comments>{site}/2026/03/{slug}/#respond</comments>\n"
            f"\t\t<dc:creator><![CDATA[{words(2).title()}]]></dc:creator>\n"
            f"\t\t<pubDate>{date}</pubDate>\n{cats}"
            f'\t\t<guid isPermaLink="false">{site}/?p={post}</guid>\n'
            f"\t\t<description><![CDATA[{words(40)} [&#8230;]]]></description>\n"
            f"\t\t<content:encoded><![CDATA[{body}\n<figure><img src=\"{site}/i/{post}.jpg\" "
            f'alt="" /></figure>]]></content:encoded>\n'
            f"\t\t<wfw:commentRss>{site}/2026/03/{slug}/feed/</wfw:commentRss>\n"
            f"\t\t<slash:comments>{rng.randint(0, 9)}</slash:comments>\n\t</item>\n")
    out.append("</channel>\n</rss>\n")
    return "".join(out).encode()


def feeds(rounds: int, wordpress: int) -> dict[str, Any]:
    """(Run with PYTHONPATH at a checkout without the fast path to measure "before" there.)"""
    from monitor.sources.feed import parse_feed
    from monitor.sources.feedencoding import feed_charset

    try:
        from monitor.sources.feedfast import read_fast
    except ImportError:  # a checkout from before the fast path
        def read_fast(content: bytes, charset: str | None, content_type: str) -> None:
            return None

        def before(b: bytes) -> object:
            return parse_feed(b, "https://feeds.example/f")
    else:
        def before(b: bytes) -> object:
            return parse_feed(b, "https://feeds.example/f", fast=False)

    feedparser, missing = anchor("feedparser")
    if feedparser is None:
        return {"feedparser": missing}
    fast_anchor, fast_missing = anchor("fastfeedparser")
    corpus = sorted(p for p in FEEDS.rglob("*") if p.is_file() and p.suffix in (".xml", ".rdf"))
    gen, rng = Generator(), random.Random(17)
    sets = {"corpus": [p.read_bytes() for p in corpus],
            "wordpress_50_items": [wordpress_feed(gen, rng, n) for n in range(wordpress)]}
    runners: dict[str, Callable[[bytes], object]] = {
        "monitor": lambda b: parse_feed(b, "https://feeds.example/f"),
        "monitor_before": before,
        "feedparser": feedparser.parse,
        "feedfast_reader": lambda b: read_fast(b, feed_charset(b), "application/xml")}
    if fast_anchor is not None:
        runners["fastfeedparser"] = fast_anchor.parse
    result: dict[str, Any] = {}
    for name, docs in sets.items():
        medians = side_by_side(docs, runners, rounds)
        accepted = sum(read_fast(d.lstrip(b"\xef\xbb\xbf \t\r\n"), feed_charset(d),
                                 "application/xml") is not None for d in docs)
        row: dict[str, Any] = {
            "documents": len(docs), "fast_path_accepted": accepted,
            "ms_total": {k: round(1000 * sum(v), 2) for k, v in medians.items()},
            "monitor/feedparser": ratio(medians, "monitor", "feedparser"),
            "before: monitor/feedparser": ratio(medians, "monitor_before", "feedparser"),
            "reader alone (no text conversion) feedfast/feedparser": ratio(
                medians, "feedfast_reader", "feedparser"),
            "median_per_document monitor/feedparser": round(statistics.median(
                m / f for m, f in zip(medians["monitor"], medians["feedparser"], strict=True)), 3)}
        if fast_anchor is not None:
            failures = sum(_fails(fast_anchor.parse, d) for d in docs)
            row["monitor/fastfeedparser"] = ratio(medians, "monitor", "fastfeedparser")
            row["fastfeedparser/feedparser"] = ratio(medians, "fastfeedparser", "feedparser")
            row["fastfeedparser_failed_documents"] = failures
        result[name] = row
    if fast_missing:
        result["fastfeedparser"] = fast_missing
    return result


def _fails(parse: Callable[[bytes], object], doc: bytes) -> bool:
    try:
        parse(doc)
    except Exception:  # the anchor's own failure on this document
        return True
    return False


def load_pages(extra: pathlib.Path | None) -> list[bytes]:
    dirs = [*PAGES, *([extra] if extra else [])]
    pages = []
    for d in dirs:
        for f in sorted(d.iterdir()) if d.is_dir() else []:
            if f.name.endswith(".html.gz"):
                pages.append(gzip.decompress(f.read_bytes()))
            elif f.name.endswith(".html"):
                pages.append(f.read_bytes())
    return pages


def extraction(rounds: int, real: pathlib.Path | None) -> dict[str, Any]:
    trafilatura, missing = anchor("trafilatura")
    if trafilatura is None:
        return {"trafilatura": missing}
    from monitor import extract
    from monitor.models import Entry

    pages = load_pages(real)
    url = "https://news.example/a"
    # as the pipeline calls it: with the feed item, whose date, title and author a feed gives
    entry = Entry(key=url, url=url, title="The feed item's title", author="A. Writer",
                  published=datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
    runners: dict[str, Callable[[bytes], object]] = {
        "monitor": lambda html: extract.extract_article(html, url, entry=entry),
        "monitor_no_entry": lambda html: extract.extract_article(html, url),
        "trafilatura_default": lambda html: trafilatura.bare_extraction(
            html, include_comments=False, include_images=False, include_links=False,
            deduplicate=False, with_metadata=True)}
    medians = side_by_side(pages, runners, rounds)

    def per_page(top: str) -> float:
        return round(statistics.median(
            a / b for a, b in zip(medians[top], medians["trafilatura_default"], strict=True)), 3)

    return {"pages": len(pages), "real_dir": str(real) if real else None,
            "ms_total": {k: round(1000 * sum(v), 2) for k, v in medians.items()},
            "monitor/trafilatura_default": ratio(medians, "monitor", "trafilatura_default"),
            "monitor_no_entry/trafilatura_default": ratio(medians, "monitor_no_entry",
                                                          "trafilatura_default"),
            "median_page_ratio": {"monitor": per_page("monitor"),
                                  "monitor_no_entry": per_page("monitor_no_entry")},
            "note": "monitor: with a feed entry (date, title, author), as the pipeline calls "
                    "it; monitor_no_entry: no entry (monitor match FILE), the whole metadata "
                    "pass runs"}


def match(rule_count: int, articles: int, rounds: int) -> dict[str, Any]:
    """Issue 17's anchor: Hyperscan's screen on monitor's tokens, then monitor's evaluation
    (bench/_hsmatch.py), against monitor's ``RuleSet.match``, identical results checked."""
    from _hsmatch import compare

    hyperscan, missing = anchor("hyperscan")
    if hyperscan is None:
        return {"hyperscan": missing}
    gen = Generator()
    rules = gen.rules(rule_count)
    docs = [gen.article(rules[:1000], n) for n in range(articles)]
    start = time.perf_counter()
    ruleset = compile_rules(rules)
    build_s = time.perf_counter() - start
    try:
        found = compare(hyperscan, ruleset, docs, rounds, side_by_side)
    except hyperscan.error as e:
        return {"hyperscan": {"status": f"installed, but the triggers do not compile: {e}"}}
    return {"rules": rule_count, "articles": articles, "monitor_build_s": round(build_s, 1),
            **found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--wordpress", type=int, default=10, help="generated 50-item feeds")
    parser.add_argument("--rules", type=int, default=50_000)
    parser.add_argument("--articles", type=int, default=60)
    parser.add_argument("--real", type=pathlib.Path, metavar="DIR", help="more saved pages")
    parser.add_argument("--feeds", type=int, default=500, help="poll: loopback feeds")
    parser.add_argument("--pages", type=int, default=200, help="pages: loopback news pages")
    parser.add_argument("--cdio-python", help="pages: changedetection.io's virtualenv python")
    parser.add_argument("--only", choices=PARTS, action="append")
    args = parser.parse_args()
    parts = args.only or list(PARTS)
    result: dict[str, Any] = {"rounds": args.rounds}
    if "feeds" in parts:
        result["feeds"] = feeds(args.rounds, args.wordpress)
    if "extraction" in parts:
        result["extraction"] = extraction(args.rounds, args.real)
    if "match" in parts:
        result["match"] = match(args.rules, args.articles, args.rounds)
    if "poll" in parts:
        result["rss2email"] = poll_round(args.rounds, args.feeds)
    if "pages" in parts:
        from _pages import pages_round

        result["changedetection"] = pages_round(args.rounds, args.pages, args.cdio_python)
    print(json.dumps(result))


def poll_round(rounds: int, feeds: int) -> dict[str, Any]:
    """A poll round of ``feeds`` unchanged feeds: monitor's daemon against rss2email."""
    import asyncio

    from _pollstore import rounds as store_rounds
    from _r2e import Rss2email, anchor_folder, loopback_feeds

    rss2email, missing = anchor("rss2email")
    if missing:
        return missing
    with loopback_feeds() as base, anchor_folder() as folder:
        try:
            r2e = Rss2email(pathlib.Path(folder), base, feeds)
        except (OSError, RuntimeError, ValueError) as e:  # subprocess failures included
            return {"status": f"installed but does not run: {e}"}
        got = asyncio.run(store_rounds(base, feeds, rounds, None, None, anchor=r2e.round))
        startup = statistics.median(r2e.startup() for _ in range(3))
    mine, theirs = got["cpu_ms_per_round"]["batched"], got["anchor_cpu_ms_per_round"]
    return {"version": getattr(rss2email, "__version__", ""), "feeds": feeds,
            "monitor_cpu_ms_per_round": mine, "rss2email_cpu_ms_per_round": theirs,
            "ratio": got["ratio_batched_to_anchor"],
            "rss2email_startup_cpu_ms": round(startup * 1000, 1),
            "ratio_without_rss2email_startup": round(mine / (theirs - startup * 1000), 2)}


if __name__ == "__main__":
    main()
