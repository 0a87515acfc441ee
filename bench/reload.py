"""Resident memory across config reloads (SIGHUP) of a large rule set (issue 16, item 8).

Target: memory after 20 reloads within 10% of memory after one.

Writes a config like bench/memory.py's (``--feeds`` loopback feeds, never fetched; a
watchlist of ``--rules`` generated queries), builds the Daemon as ``monitor run`` does,
then calls ``Daemon.reload`` (what the SIGHUP handler calls) ``--reloads`` times: each
re-reads the file and compiles every rule again. ``rss_*_mb`` is VmRSS from
/proc/self/status after start, after the first reload and after the last;
``reload_s`` the median wall time of one reload.

    python bench/reload.py [--rules 50000] [--reloads 20] [--feeds 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import rss_mb
from memory import write_config


async def measure(path: Path, reloads: int) -> dict[str, Any]:
    from monitor.daemon import Daemon, load

    daemon = Daemon(load(str(path)), str(path))
    try:
        after = [rss_mb()]
        took = []
        for _ in range(reloads):
            started = time.perf_counter()
            daemon.reload()
            took.append(time.perf_counter() - started)
            after.append(rss_mb())
        assert daemon.reload_failed is None, daemon.reload_failed
        rules = len(daemon.config.watches)
    finally:
        await daemon.close()
    return {"rules": rules, "reloads": reloads, "rss_start_mb": round(after[0], 1),
            "rss_after_1_mb": round(after[1], 1), "rss_after_last_mb": round(after[-1], 1),
            "growth_pct": round(100 * (after[-1] - after[1]) / after[1], 1),
            "rss_mb_each": [round(x, 1) for x in after],
            "reload_s": round(statistics.median(took), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=50_000)
    parser.add_argument("--reloads", type=int, default=20)
    parser.add_argument("--feeds", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # not the config warnings, once per reload
    with tempfile.TemporaryDirectory(prefix="monitor-bench-") as tmp:
        path = write_config(Path(tmp), args.feeds, args.rules)
        print(json.dumps(asyncio.run(measure(path, args.reloads))))


if __name__ == "__main__":
    main()
