"""Benchmark trafilatura's modes on the golden news pages; prints one JSON object.

For each mode: milliseconds per page (best of ``--rounds``), and the precision and recall
of the extracted text against the page's expected body (token multiset overlap, averaged
over pages), plus how many of the pages' listed boilerplate strings leaked into the text.

Then the chosen mode once more on pages cut by ``monitor.extract.strip_inert`` (comments,
styles and non-JSON scripts removed before trafilatura parses; the cut is timed too), as
``monitor.extract`` runs it, with whether every page's text came out the same.

The choice rule: the best F0.5 (precision weighs double, since boilerplate in the text
becomes false alerts), compared to 3 decimals; among tied modes one that keeps trafilatura's
fallback extractors (fast=False) wins, since they guard recall on pages unlike these, then
the quickest.

    python bench/extract.py [--rounds 5] [--pages tests/data/pages]
"""

from __future__ import annotations

import argparse
import collections
import json
import pathlib
import re
import statistics
import time
from typing import Any

import trafilatura
from trafilatura.settings import Document

from monitor import extract

MODES: dict[str, dict[str, Any]] = {
    "default": {},
    "fast": {"fast": True},
    "favor_precision": {"favor_precision": True},
    "favor_recall": {"favor_recall": True},
    "favor_precision+fast": {"favor_precision": True, "fast": True},
    "favor_precision-tables": {"favor_precision": True, "include_tables": False},
}
COMMON: dict[str, Any] = {"include_comments": False, "include_images": False,
                          "include_links": False, "deduplicate": False, "with_metadata": True}


def tokens(text: str) -> collections.Counter[str]:
    return collections.Counter(re.findall(r"\w+", text.casefold()))


def score(got: str, expected: str) -> tuple[float, float]:
    g, x = tokens(got), tokens(expected)
    overlap = sum((g & x).values())
    return overlap / max(1, sum(g.values())), overlap / max(1, sum(x.values()))


def load(pages: pathlib.Path) -> list[tuple[str, bytes, dict[str, Any]]]:
    return [(f.name.removesuffix(".expected.json"),
             f.with_name(f.name.replace(".expected.json", ".html")).read_bytes(),
             json.loads(f.read_text(encoding="utf-8")))
            for f in sorted(pages.glob("*.expected.json"))]


def measure(pages: list[tuple[str, bytes, dict[str, Any]]], options: dict[str, Any],
            rounds: int, prestrip: bool = False) -> dict[str, Any]:
    times, precision, recall, leaks, texts = [], [], [], 0, []
    for _, html, expected in pages:
        best = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            doc = trafilatura.bare_extraction(extract.strip_inert(html) if prestrip else html,
                                              **{**COMMON, **options})
            best = min(best, time.perf_counter() - start)
        text = doc.text or "" if isinstance(doc, Document) else ""
        texts.append(text)
        p, r = score(text, expected["text"])
        times.append(best)
        precision.append(p)
        recall.append(r)
        leaks += sum(b in text for b in expected["boilerplate"] + expected["known_leaks"])
    return {"ms_per_page": round(1000 * statistics.mean(times), 2),
            "precision": round(statistics.mean(precision), 4),
            "recall": round(statistics.mean(recall), 4),
            "min_recall": round(min(recall), 4), "boilerplate_leaks": leaks, "texts": texts}


def f_half(m: dict[str, float]) -> float:
    p, r = m["precision"], m["recall"]
    return 1.25 * p * r / (0.25 * p + r) if p + r else 0.0


def choose(modes: dict[str, dict[str, float]]) -> str:
    best = max(round(f_half(m), 3) for m in modes.values())
    tied = [name for name, m in modes.items() if round(f_half(m), 3) == best]
    return min(tied, key=lambda n: (MODES[n].get("fast", False), modes[n]["ms_per_page"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pages", type=pathlib.Path,
                        default=pathlib.Path(__file__).parent.parent / "tests/data/pages")
    args = parser.parse_args()
    pages = load(args.pages)
    modes = {name: measure(pages, options, args.rounds) for name, options in MODES.items()}
    for m in modes.values():
        m["f0.5"] = round(f_half(m), 4)
    chosen = choose(modes)
    # The chosen mode again on pages cut by extract.strip_inert (timed with the cut), as
    # monitor.extract runs it: the same text on every page, in less time?
    stripped = measure(pages, MODES[chosen], args.rounds, prestrip=True)
    same = stripped.pop("texts") == modes[chosen]["texts"]
    for m in modes.values():
        del m["texts"]
    prestrip = {"mode": chosen, **stripped, "same_text_on_every_page": same,
                "speedup": round(modes[chosen]["ms_per_page"] / stripped["ms_per_page"], 2)}
    in_module = {"favor_precision": extract.FAVOR_PRECISION, "fast": extract.FAST,
                 "include_tables": extract.INCLUDE_TABLES}
    expected = {"favor_precision": False, "fast": False, "include_tables": True, **MODES[chosen]}
    print(json.dumps({"pages": len(pages), "modes": modes, "chosen": chosen, "prestrip": prestrip,
                      "monitor.extract uses": in_module,
                      "module matches choice": in_module == expected}))


if __name__ == "__main__":
    main()
