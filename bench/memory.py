"""Resident memory of a daemon with 10,000 feeds and 50,000 rules loaded (DESIGN.md §9).

Target: under 200 MB resident.

This process writes a config with ``--feeds`` (10,000) ``[[feeds]]`` on 127.0.0.1 (never
fetched) and a ``[[watchlist]]`` file of ``--rules`` (50,000) queries from bench/match.py's
generator (entities, topics, AND/OR/NOT, NEAR/ONEAR, prefixes, ``title:``, regexes), with
a webhook channel and a SQLite database in a temporary directory. Then, each in a fresh
Python process:

* baseline: ``import monitor.daemon`` (all of monitor's code and libraries, no data);
* measured: the same import, then ``load(config)`` and ``Daemon(config, path)`` inside a
  running event loop, as ``monitor run`` does: the config is validated (every query
  parsed), the rules compiled, the feeds synced to the database. Nothing is polled and
  the extraction pool is not started. Then one article is matched against the rules (so
  lazily built match structures are counted) and the garbage collected.

``rss_mb`` is VmRSS from /proc/self/status at the end; ``peak_rss_mb`` is ru_maxrss (the
high-water mark while loading); ``load_s`` is the wall time of load + Daemon.

    python bench/memory.py [--feeds 10000] [--rules 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import peak_rss_mb, rss_mb, write_watchlist

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "seeds" / "ap-2026-02-26-anthropic-pentagon.txt"


def write_config(tmp: Path, feeds: int, rules: int) -> Path:
    """The config: ``feeds`` loopback feeds (never fetched) and a ``rules``-line watchlist."""
    write_watchlist(tmp / "rules.txt", rules)
    lines = [
        "[monitor]", f'database = "sqlite:///{tmp / "monitor.db"}"', 'web = ""', "",
        "[channels.hook]", 'type = "webhook"', 'url = "http://127.0.0.1:9/hook"', "",
        "[[watchlist]]", 'name = "generated"', 'file = "rules.txt"', 'channels = ["hook"]', "",
    ]
    for f in range(feeds):
        lines += ["[[feeds]]", f'name = "feed-{f}"', f'url = "http://127.0.0.1:9/feed/{f}.xml"',
                  f'tags = ["{("wire", "local", "business", "tech")[f % 4]}"]', ""]
    path = tmp / "monitor.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# -- the measured processes ------------------------------------------------------------------


def measure_baseline() -> dict[str, Any]:
    """RSS of a process that imported the daemon's code and nothing else."""
    import monitor.daemon  # noqa: F401 - the import is what is measured

    gc.collect()
    return {"rss_mb": rss_mb(), "peak_rss_mb": peak_rss_mb()}


def measure_loaded(path: str) -> dict[str, Any]:
    """RSS after loading ``path`` into a Daemon (rules compiled, feeds synced)."""
    from monitor.daemon import Daemon, load
    from monitor.extract import article_from_text

    imported = rss_mb()

    async def build() -> dict[str, Any]:
        started = time.perf_counter()
        config = load(path)
        daemon = Daemon(config, path)
        load_s = time.perf_counter() - started
        article = article_from_text(ARTICLE.read_text(encoding="utf-8"), "http://127.0.0.1/a")
        matched = len(daemon.pipeline.rules.match(article))
        gc.collect()
        rss = rss_mb()
        feeds, rules = len(daemon.config.feeds), len(daemon.config.watches)
        await daemon.close()
        return {"rss_mb": rss, "load_s": load_s, "feeds": feeds, "rules": rules,
                "matched": matched}

    result = asyncio.run(build())
    return {**result, "import_rss_mb": imported, "peak_rss_mb": peak_rss_mb()}


def child(*args: str) -> dict[str, Any]:
    """Run this file with ``args`` in a fresh interpreter; its JSON line."""
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          timeout=240, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=50_000)
    parser.add_argument("--child", choices=("baseline", "loaded"), help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        out = measure_baseline() if args.child == "baseline" else measure_loaded(args.config)
        print(json.dumps(out))
        return
    with tempfile.TemporaryDirectory(prefix="monitor-bench-") as tmp:
        path = write_config(Path(tmp), args.feeds, args.rules)
        baseline = child("--child", "baseline")
        loaded = child("--child", "loaded", "--config", str(path))
    print(json.dumps({
        "feeds": loaded["feeds"], "rules": loaded["rules"],
        "rss_mb": round(loaded["rss_mb"], 1), "peak_rss_mb": round(loaded["peak_rss_mb"], 1),
        "baseline_rss_mb": round(baseline["rss_mb"], 1),
        "data_mb": round(loaded["rss_mb"] - baseline["rss_mb"], 1),
        "load_s": round(loaded["load_s"], 2), "target_mb": 200,
        "import_rss_mb": round(loaded["import_rss_mb"], 1), "matched": loaded["matched"],
    }))


if __name__ == "__main__":
    main()
