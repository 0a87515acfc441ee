"""bench/poll.py ``--store``: whole daemon poll rounds (claim, fetch, schedule, record)
against a real store, the feeds' outcomes committed in groups (``PollWriter``) or each
alone (the baseline), alternately in the same run (not a benchmark itself)."""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import io
import pstats
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from monitor.daemon import Daemon, load
from monitor.testing import count_state_commits


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write_config(folder: Path, base: str, feeds: int, database: str | None) -> Path:
    url = database or f"sqlite:///{folder / 'monitor.db'}"
    lines = [
        "[monitor]", f'database = "{url}"',
        'web = ""', "allow_private_networks = true", "backfill = 0", "extract_workers = 1",
        "max_connections = 100", "per_host_connections = 100",  # as if 500 hosts
    ]
    for i in range(feeds):
        lines += ["[[feeds]]", f'name = "feed {i}"', f'url = "{base}/feed/{i}.xml"']
    path = folder / "monitor.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def one_round(daemon: Daemon) -> None:
    await daemon.poll_due(force=True)
    await asyncio.gather(*daemon.polls)


@contextlib.contextmanager
def own_schema(database: str | None) -> Iterator[str | None]:
    """``database``, on a fresh PostgreSQL schema dropped afterwards (SQLite: as given)."""
    if not database or not database.startswith("postgresql"):
        yield database
        return
    name = f"bench_poll_{uuid.uuid4().hex[:8]}"
    engine = create_engine(database)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    try:
        yield f"{database}?options=-csearch_path%3D{name}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        engine.dispose()


async def rounds(base: str, feeds: int, repeat: int, database: str | None,
                 profile: str | None, anchor: Callable[[], float] | None = None
                 ) -> dict[str, Any]:
    """The store bench's figures; ``anchor`` (CPU seconds of one round of another poller,
    bench/_r2e.py) runs after each pair of monitor's rounds, interleaved."""
    with tempfile.TemporaryDirectory() as folder, own_schema(database) as url:
        database = url
        path = write_config(Path(folder), base, feeds, database)
        daemon = Daemon(load(str(path)), str(path))
        try:
            commits = count_state_commits(daemon.services.store.engine)
            await one_round(daemon)  # first polls: 200s, every item marked seen
            if daemon.services.store.feeds()[0].etag is None:
                raise SystemExit("round 1 stored no ETag: the 304 round would not be one")
            cpu: dict[str, list[float]] = {"batched": [], "one_by_one": []}
            wall: dict[str, list[float]] = {"batched": [], "one_by_one": []}
            counts: dict[str, list[int]] = {"batched": [], "one_by_one": []}
            anchored: list[float] = []
            for _ in range(repeat):
                for mode in ("one_by_one", "batched"):
                    daemon.pipeline.polls.batch = mode == "batched"
                    before, started, n = cpu_seconds(), time.perf_counter(), len(commits)
                    await one_round(daemon)
                    cpu[mode].append(cpu_seconds() - before)
                    wall[mode].append(time.perf_counter() - started)
                    counts[mode].append(len(commits) - n)
                if anchor is not None:
                    anchored.append(anchor())
            statuses = {f.state for f in daemon.services.store.feeds()}
            profiled = None
            if profile:
                daemon.pipeline.polls.batch = True
                profiler = cProfile.Profile()
                profiler.enable()
                await one_round(daemon)
                profiler.disable()
                profiled = top(profiler, profile)
        finally:
            await daemon.close()
    med = {k: statistics.median(v) for k, v in cpu.items()}
    extra: dict[str, Any] = {}
    if anchored:
        ratios = [b / a for b, a in zip(cpu["batched"], anchored, strict=True)]
        extra = {"anchor_cpu_ms_per_round": round(statistics.median(anchored) * 1000, 1),
                 "ratio_batched_to_anchor": round(statistics.median(ratios), 2)}
    return {**extra,
        "feeds": feeds, "rounds_each": repeat, "database": "postgresql" if database
        and database.startswith("postgresql") else "sqlite",
        "cpu_ms_per_round": {k: round(v * 1000, 1) for k, v in med.items()},
        "cpu_us_per_feed": {k: round(v * 1e6 / feeds) for k, v in med.items()},
        "wall_ms_per_round": {k: round(statistics.median(v) * 1000, 1)
                              for k, v in wall.items()},
        "state_commits_per_round": {k: statistics.median(v) for k, v in counts.items()},
        "ratio_batched_to_one_by_one": round(med["batched"] / med["one_by_one"], 2),
        "feed_states": sorted(statuses), "profile": profiled,
    }


def top(profiler: cProfile.Profile, path: str, count: int = 30) -> str:
    """Write the top ``count`` functions by cumulative and by self time to ``path``."""
    out = io.StringIO()
    for order in ("cumulative", "tottime"):
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(count)
    Path(path).write_text(out.getvalue(), encoding="utf-8")
    return path
