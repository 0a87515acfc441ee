"""How often hard-page detection calls a real article a wall; prints one JSON object.

Each page is extracted as monitor does (``extract_article``) and judged by
``monitor.hardpages.judge_page`` three ways: with no feed text (only the notice phrases
decide), with a 300-character lead as the feed's text (a teaser feed), and with the
page's whole ground-truth body as the feed's text (a full-text feed: "short" then means
the extraction got under half the article, where the feed's text is the better one).
Every verdict on these real articles other than None or that last "short" is a false
wall. The golden walls in tests/data/hardpages are judged too, as the baseline that
must be caught.

The corpus, not kept here (third-party pages): the 181 news pages of
https://github.com/scrapinghub/article-extraction-benchmark:

    git clone https://github.com/scrapinghub/article-extraction-benchmark /tmp/aeb
    python bench/hardpages.py --real /tmp/aeb/html --truth /tmp/aeb/ground-truth.json

Measured (2026-12): 181 pages, no wall found with no feed text or a lead; 3 "short" with
the whole body as feed text; every golden wall caught.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import pathlib
from typing import Any

from monitor.errors import ExtractError
from monitor.extract import extract_article
from monitor.hardpages import judge_page

GOLDEN = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "hardpages"
WALLS = {"consent-wall-de.html": "consent", "consent-wall-en.html": "consent",
         "paywall-teaser.html": "paywall"}


def page_bytes(path: pathlib.Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--real", type=pathlib.Path, required=True)
    parser.add_argument("--truth", type=pathlib.Path)
    args = parser.parse_args()
    truth: dict[str, Any] = json.loads(args.truth.read_text()) if args.truth else {}
    verdicts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    walls = []
    pages = sorted(args.real.glob("*.html*"))
    for path in pages:
        try:
            text = extract_article(page_bytes(path), "https://news.example/a").text
        except ExtractError:
            verdicts["no_text"]["skipped"] += 1
            continue
        body = truth.get(path.name.split(".")[0], {}).get("articleBody", "")
        for name, feed in (("no_feed_text", ""), ("lead_as_feed", body[:300]),
                           ("body_as_feed", body)):
            verdict = judge_page(text, feed)
            verdicts[name][str(verdict)] += 1
            if verdict in ("consent", "paywall") or (verdict and name != "body_as_feed"):
                walls.append({"page": path.name, "as": name, "verdict": verdict})
    golden = {name: judge_page(extract_article((GOLDEN / name).read_bytes(), "").text)
              for name in WALLS}
    print(json.dumps({"pages": len(pages), "verdicts": verdicts, "false_walls": walls,
                      "golden_walls_caught": sum(golden[n] == v for n, v in WALLS.items()),
                      "golden_walls": len(WALLS)}))


if __name__ == "__main__":
    main()
