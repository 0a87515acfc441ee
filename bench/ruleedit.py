"""Benchmark: from a rule edit to the new rules running on a node, with 50,000 config rules
(issue 15): incremental (the base kept, the edit compiled into an overlay) against a full
rebuild (every rule compiled again, what each edit cost before).

Prints one JSON object::

    {"config_rules": 50000, "edits": 6, "incremental_ms": ..., "full_ms": ...,
     "ratio": ..., "same_matches": true, "match_us_base": ..., "match_us_added": ...,
     "match_overhead_ratio": ..., ...}

Builds the Daemon as ``monitor run`` does, on a SQLite file, with a watchlist of
``--rules`` generated queries (bench/match.py's generator, as bench/memory.py writes it).
Then ``--edits`` times, alternately in either order so that a loaded machine weighs on
both alike: a database rule is created or its query changed, and

* incremental: ``Daemon.refresh_rules`` (what the 3 s check runs) until the new version
  runs: the version read, the web rules read, the changed ones compiled, the pipeline
  swapped;
* full: ``live_rules`` in the reload thread, the whole set compiled again (the old path).

``ratio`` is the median of the per-edit ratios full / incremental. On a node, an edit also
waits up to ``CHECK_EVERY`` (3 s) for the check that sees it, alike on both paths.
``same_matches``: at the end the incremental rules match 40 generated articles exactly as
a full rebuild does. ``match_us_base``: median time to match one article with the base alone;
``match_us_added``, ``match_overhead_ratio``: medians over the articles of what matching
with the base plus the overlay (the edits made) adds, and of the ratio (the fastest of 3
runs each, alternately).

    python bench/ruleedit.py [--rules 50000] [--edits 6]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from match import Generator
from memory import write_config


async def measure(path: Path, edits: int) -> dict[str, Any]:
    from monitor.daemon import Daemon, load
    from monitor.liverules import live_rules
    from monitor.store import WebRule

    started = time.perf_counter()
    daemon = Daemon(load(str(path)), str(path))
    start_s = time.perf_counter() - started
    store, gen = daemon.services.store, Generator(7)
    base, config_rules = daemon.live.base, len(daemon.config.watches)
    loop = asyncio.get_running_loop()
    made: list[int] = []

    def edit(i: int) -> None:
        now = datetime.now(UTC)
        if made and i % 3 == 2:  # every third edit changes the query of a rule made before
            old = store.web_rules(made[i % len(made)])[0]
            store.save_rule(WebRule(old.id, old.name, gen.query(), settings=old.settings),
                            "bench", now)
            return
        saved, why = store.save_rule(WebRule(0, f"web {i}", gen.query(),
                                             settings={"channels": ["hook"]}), "bench", now)
        assert saved is not None, why
        made.append(saved.id)

    async def incremental(i: int) -> float:
        edit(i)
        t0 = time.perf_counter()
        await daemon.refresh_rules()
        took = time.perf_counter() - t0
        assert daemon.live.version == store.rules_version() and daemon.live.base is base
        return took

    async def full(i: int) -> float:
        edit(i)
        t0 = time.perf_counter()
        await loop.run_in_executor(daemon.services.reloading, live_rules, daemon.config, store)
        took = time.perf_counter() - t0
        gc.collect()  # the set just built is dropped: its cycles not left to the next edit
        return took

    try:
        inc, fulls = [], []
        for i in range(edits):
            if i % 2:
                fulls.append(await full(2 * i))
                inc.append(await incremental(2 * i + 1))
            else:
                inc.append(await incremental(2 * i))
                fulls.append(await full(2 * i + 1))
        await daemon.refresh_rules()  # the last full run's edit too
        rebuilt = live_rules(daemon.config, store)
        sample = gen.rules(200)
        articles = [gen.article(sample, n) for n in range(40)]
        running = daemon.live.rules
        same = all(running.match(a) == rebuilt.rules.match(a) for a in articles)
        base_us, added_us, ratios_match = [], [], []
        for a in articles:  # each article 3 times on each, alternately; the fastest of each
            best = {id(base): float("inf"), id(running): float("inf")}
            for _ in range(3):
                for rules in (base, running):
                    t0 = time.perf_counter()
                    rules.match(a)
                    best[id(rules)] = min(best[id(rules)], (time.perf_counter() - t0) * 1e6)
            base_us.append(best[id(base)])
            added_us.append(best[id(running)] - best[id(base)])
            ratios_match.append(best[id(running)] / best[id(base)])
    finally:
        await daemon.close()
    ratios = [f / i for f, i in zip(fulls, inc, strict=True)]
    return {"config_rules": config_rules, "edits": edits, "start_s": round(start_s, 2),
            "overlay_rules": daemon.live.overlay,
            "incremental_ms": round(statistics.median(inc) * 1000, 1),
            "incremental_ms_each": [round(x * 1000, 1) for x in inc],
            "full_ms": round(statistics.median(fulls) * 1000, 1),
            "full_ms_each": [round(x * 1000, 1) for x in fulls],
            "ratio": round(statistics.median(ratios), 1), "same_matches": same,
            "match_us_base": round(statistics.median(base_us), 1),
            "match_us_added": round(statistics.median(added_us), 1),
            "match_overhead_ratio": round(statistics.median(ratios_match), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=50_000)
    parser.add_argument("--edits", type=int, default=6)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="monitor-bench-") as tmp:
        path = write_config(Path(tmp), 10, args.rules)
        print(json.dumps(asyncio.run(measure(path, args.edits))))


if __name__ == "__main__":
    main()
