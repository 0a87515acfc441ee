"""Benchmark the language detector on the golden news pages; prints one JSON object.

Each page is extracted once (``extract_article``), then timed in the same process, round
by round so machine load hits both alike: the extraction (the baseline: what every article
costs already) and ``article_language`` on the extracted article with its declaration
removed, so the detector runs. Reported: the model's one-time load (seconds, and the
resident memory it added), the median milliseconds per page of each, and their ratio.

    python bench/language.py [--rounds 5] [--pages tests/data/pages]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import time
from dataclasses import replace

from _common import rss_mb

from monitor.errors import ExtractError
from monitor.extract import extract_article
from monitor.language import article_language, detect_language

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pages", type=pathlib.Path, default=ROOT / "tests/data/pages")
    args = parser.parse_args()
    pages, articles = [], []
    for path in sorted(args.pages.glob("*.html")):
        try:
            article = extract_article(path.read_bytes(), path.as_uri())
        except ExtractError:  # the pages that test extraction failures
            continue
        pages.append((path.read_bytes(), path.as_uri()))
        articles.append(replace(article, language=None))
    before, started = rss_mb(), time.perf_counter()
    detect_language("The first call loads the model, so it is timed on its own here.")
    load_s, load_mb = time.perf_counter() - started, rss_mb() - before
    extract_ms: list[float] = []
    detect_ms: list[float] = []
    found: dict[str, int] = {}
    for _ in range(args.rounds):
        for (content, url), article in zip(pages, articles, strict=True):
            t0 = time.perf_counter()
            extract_article(content, url)
            t1 = time.perf_counter()
            code = article_language(article)
            t2 = time.perf_counter()
            extract_ms.append((t1 - t0) * 1000)
            detect_ms.append((t2 - t1) * 1000)
            found[str(code)] = found.get(str(code), 0) + 1
    extract, detect = statistics.median(extract_ms), statistics.median(detect_ms)
    print(json.dumps({
        "pages": len(pages), "rounds": args.rounds,
        "model_load_s": round(load_s, 3), "model_rss_mb": round(load_mb, 1),
        "baseline_extract_ms_median": round(extract, 3),
        "detect_ms_median": round(detect, 3),
        "detect_over_extract": round(detect / extract, 4),
        "languages": {k: v // args.rounds for k, v in sorted(found.items())},
    }))


if __name__ == "__main__":
    main()
