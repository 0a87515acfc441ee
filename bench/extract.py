"""Benchmark trafilatura's modes on the golden news pages; prints one JSON object.

For each mode: milliseconds per page (best of ``--rounds``), and the precision and recall
of the extracted text against the page's expected body (token multiset overlap, averaged
over pages), plus how many of the pages' listed boilerplate strings leaked into the text.

Then the chosen mode once more on pages cut by ``bench/_prestrip.strip_inert`` (comments,
styles and non-JSON scripts removed before trafilatura parses; the cut is timed too), with
whether every page's text came out the same. monitor itself no longer cuts: it never
rewrites a document before its parser, and on real pages the cut saved only 3-5%.

The choice rule: the best F0.5 (precision weighs double, since boilerplate in the text
becomes false alerts), compared to 3 decimals; among tied modes one that keeps trafilatura's
fallback extractors (fast=False) wins, since they guard recall on pages unlike these, then
the quickest.

    python bench/extract.py [--rounds 5] [--pages tests/data/pages]

The golden pages are our own fixtures, written to test extraction: they carry more inline
script than typical pages, so they overstate what the cut saves. ``--real DIR`` measures
the cut instead on a directory of real pages (``*.html``, ``*.html.gz``; no expected files):
for each page trafilatura in monitor's mode on the whole page (the baseline) and on the cut
page (the cut timed too), interleaved round by round so machine load hits both alike; each
page's median time of each, their ratio, and whether the text (and the title, author and
date monitor keeps) came out the same. Summary: the median and mean of the pages' ratios
and the ratio of the summed times. ``--truth FILE`` adds the F1 of monitor's extraction
(``extract_article``) and of trafilatura's default mode against the corpus's ground truth
(article-extraction-benchmark's metric: 4-word shingles, precision and recall per page,
averaged, then their F1).

The real corpus, not kept here (third-party pages): the 181 news pages of
https://github.com/scrapinghub/article-extraction-benchmark (``html/*.html.gz``, with
``ground-truth.json``):

    git clone https://github.com/scrapinghub/article-extraction-benchmark /tmp/aeb
    python bench/extract.py --real /tmp/aeb/html --truth /tmp/aeb/ground-truth.json

Any other directory of saved pages works the same, e.g. ``tests/cache`` of
https://github.com/adbar/trafilatura (blog and news pages, no ground truth).
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import pathlib
import re
import statistics
import time
from typing import Any

import lxml.etree  # type: ignore[import-untyped]
import trafilatura
from _prestrip import strip_inert
from trafilatura.settings import Document

from monitor import extract
from monitor.errors import ExtractError

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
            doc = trafilatura.bare_extraction(strip_inert(html) if prestrip else html,
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


def load_real(directory: pathlib.Path) -> list[tuple[str, bytes]]:
    """The saved pages in ``directory``, by name without the .html(.gz) suffix."""
    pages = []
    for f in sorted(directory.iterdir()):
        if f.name.endswith(".html.gz"):
            pages.append((f.name.removesuffix(".html.gz"), gzip.decompress(f.read_bytes())))
        elif f.name.endswith(".html"):
            pages.append((f.name.removesuffix(".html"), f.read_bytes()))
    return pages


def extracted(html: bytes, options: dict[str, Any]) -> tuple[str, str, str, str]:
    """The text, and the title, author and date monitor takes from the page."""
    try:
        doc = trafilatura.bare_extraction(html, **{**COMMON, **options})
    except (ValueError, TypeError, lxml.etree.LxmlError, RecursionError):
        return "", "", "", ""
    if not isinstance(doc, Document):
        return "", "", "", ""
    return doc.text or "", doc.title or "", doc.author or "", doc.date or ""


def timed(html: bytes, options: dict[str, Any],
          cut: bool) -> tuple[float, tuple[str, str, str, str]]:
    """Seconds for trafilatura on the page (cut first, and the cut timed, if ``cut``)."""
    start = time.perf_counter()
    result = extracted(strip_inert(html) if cut else html, options)
    return time.perf_counter() - start, result


def shingle_counts(true: str, pred: str) -> tuple[float, float, float]:
    """article-extraction-benchmark's evaluate.py: true/false positives and false negatives
    over 4-word shingles, as shares of their sum (so every page weighs the same)."""
    def shingles(text: str) -> collections.Counter[tuple[str, ...]]:
        words = re.findall(r"\w+", text)
        return collections.Counter(tuple(words[i:i + 4])
                                   for i in range(max(1, len(words) - 3)) if words[i:i + 4])
    t, p = shingles(true), shingles(pred)
    tp, fp, fn = sum((t & p).values()), sum((p - t).values()), sum((t - p).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def f1_against(truth: list[str], texts: list[str]) -> dict[str, float]:
    counts = [shingle_counts(t, p) for t, p in zip(truth, texts, strict=True)]
    precision = statistics.mean(1.0 if fp == fn == 0 else tp / (tp + fp)
                                for tp, fp, fn in counts if tp + fp > 0)
    recall = statistics.mean(1.0 if fp == fn == 0 else tp / (tp + fn)
                             for tp, fp, fn in counts if tp + fn > 0)
    return {"f1": round(2 * precision * recall / (precision + recall), 4),
            "precision": round(precision, 4), "recall": round(recall, 4)}


def monitor_text(html: bytes) -> str:
    try:
        return extract.extract_article(html, "").text
    except ExtractError:
        return ""


def real(directory: pathlib.Path, rounds: int, truth_file: pathlib.Path | None) -> dict[str, Any]:
    """The cut on real pages: trafilatura in monitor's mode with and without it."""
    pages = load_real(directory) if directory.is_dir() else []
    if not pages:
        raise SystemExit(f"bench/extract.py: no .html or .html.gz pages in {directory}")
    mode = {"favor_precision": extract.FAVOR_PRECISION, "fast": extract.FAST,
            "include_tables": extract.INCLUDE_TABLES}
    timed(pages[0][1], mode, False)  # warm up imports and caches outside the timings
    rows, cut_texts = [], []
    for i, (name, html) in enumerate(pages):
        times: dict[bool, list[float]] = {False: [], True: []}
        texts: dict[bool, tuple[str, str, str, str]] = {}
        for r in range(rounds):
            for cut in ((False, True) if (i + r) % 2 == 0 else (True, False)):
                seconds, texts[cut] = timed(html, mode, cut)
                times[cut].append(seconds)
        whole, cut_ms = (1000 * statistics.median(times[c]) for c in (False, True))
        cut_texts.append(texts[True][0])
        rows.append({"page": name, "kb": round(len(html) / 1024, 1),
                     "kb_cut": round(len(strip_inert(html)) / 1024, 1),
                     "ms": round(whole, 2), "ms_cut": round(cut_ms, 2),
                     "ratio": round(cut_ms / whole, 3),
                     "same_text": texts[False][0] == texts[True][0],
                     "same_metadata": texts[False][1:] == texts[True][1:]})
    ratios = [row["ratio"] for row in rows]
    total, total_cut = sum(row["ms"] for row in rows), sum(row["ms_cut"] for row in rows)
    result: dict[str, Any] = {
        "corpus": str(directory), "pages": len(pages), "rounds": rounds, "mode": mode,
        "median_kb": statistics.median(row["kb"] for row in rows),
        "median_kb_cut": statistics.median(row["kb_cut"] for row in rows),
        "share_of_bytes_cut": round(1 - sum(row["kb_cut"] for row in rows)
                                    / sum(row["kb"] for row in rows), 3),
        "median_ms_per_page": round(statistics.median(row["ms"] for row in rows), 2),
        "median_ms_per_page_cut": round(statistics.median(row["ms_cut"] for row in rows), 2),
        "ratio_cut_to_whole": {"median": round(statistics.median(ratios), 3),
                               "mean": round(statistics.mean(ratios), 3),
                               "of_summed_times": round(total_cut / total, 3)},
        "same_text_pages": sum(row["same_text"] for row in rows),
        "different_text_pages": [row["page"] for row in rows if not row["same_text"]],
        "same_metadata_pages": sum(row["same_metadata"] for row in rows),
        "different_metadata_pages": [row["page"] for row in rows if not row["same_metadata"]]}
    if truth_file is not None:
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
        known = [(i, truth[name]["articleBody"]) for i, (name, _) in enumerate(pages)
                 if name in truth]
        bodies = [body for _, body in known]
        result["against_ground_truth"] = {
            "pages": len(known),
            "monitor extract_article": f1_against(
                bodies, [monitor_text(pages[i][1]) for i, _ in known]),
            "monitor's mode, cut page": f1_against(bodies, [cut_texts[i] for i, _ in known]),
            "trafilatura default mode": f1_against(
                bodies, [extracted(pages[i][1], MODES["default"])[0] for i, _ in known])}
    result["per_page"] = rows
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pages", type=pathlib.Path,
                        default=pathlib.Path(__file__).parent.parent / "tests/data/pages")
    parser.add_argument("--real", type=pathlib.Path, metavar="DIR",
                        help="measure the cut on the saved pages in DIR instead")
    parser.add_argument("--truth", type=pathlib.Path, metavar="FILE",
                        help="with --real: ground-truth.json of article-extraction-benchmark")
    args = parser.parse_args()
    if args.real is not None:
        print(json.dumps(real(args.real, args.rounds, args.truth)))
        return
    pages = load(args.pages)
    modes = {name: measure(pages, options, args.rounds) for name, options in MODES.items()}
    for m in modes.values():
        m["f0.5"] = round(f_half(m), 4)
    chosen = choose(modes)
    # The chosen mode again on pages cut by strip_inert (timed with the cut), the
    # alternative monitor dropped: the same text on every page, in how much less time?
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
