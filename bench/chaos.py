"""Chaos run of issue 16 (items 1-4 and 6): one real daemon, 200 feeds, faults one at a time.

A loopback site (its own process, ``bench/_chaos_servers.py``) serves ``--feeds`` RSS feeds
whose items appear on a schedule (one per feed every ``period`` seconds, one in ``--every``
mentions the Defense Production Act); the rule ``dpa`` alerts three channels: ``good`` (a
webhook receiver here), ``mail`` (an SMTP endpoint that forwards to aiosmtpd or, during its
fault, accepts and never greets) and ``slow`` (a webhook that, during its fault, never
answers). ``numbers`` is the regex ``/\\d+[.,]?\\d* (million|billion)/`` and a watchlist
adds ``--rules`` generated rules (bench/match.py's mix); neither alerts. On PostgreSQL the
daemon reaches the database through a TCP proxy (its own process) that can refuse, forward
or freeze; without a server at 127.0.0.1:5432 the run uses SQLite and freezes it by holding
an exclusive lock (``database`` says which).

Phases, in order, each measured apart:

- ``fault6``: the proxy refuses connections at start, then forwards: the daemon must wait
  (``event=database_wait`` lines), not exit, and start once the database answers;
- ``warmup`` (first polls), then ``baseline``: no fault, every channel answers;
- ``smtp_silent`` and ``webhook_silent`` (fault 1): one bad channel each;
- ``regex`` (fault 2): an article with a 20,000-digit run appears;
- ``bombs`` (fault 3): two 2 MB pages of ``<p>x</p>`` appear; polls completed and extraction
  fallbacks (``/metrics``) during it against the baseline's rate;
- ``settle`` (no fault: the alerts of the phases before are out before the freeze holds
  them), then ``db_freeze`` (fault 4): the proxy holds every byte for ``freeze`` seconds;
  /healthz latency and /readyz statuses during it; then ``recover``;
- ``drain``: the feeds stop growing; the run ends when every alerting item reached ``good``.

Per phase: the good channel's latency (alert ``created_at`` to receipt) p50/p99 and their
ratio to the baseline's, and the longest event-loop stall. The daemon has no loop-lag
gauge, so the stall is measured from outside: ``/healthz`` timed at 20 Hz from a thread,
one request at a time (``stall_measure``). At the end: alerts lost (alerting items the
site served minus those that reached ``good``; must be 0) and duplicates with distinct ids
(one (rule, article) under two webhook-ids, on either webhook; must be 0).

    python bench/chaos.py [--quick] [--feeds 200] [--rules 1000] [--every 4] [--sqlite]
                          [--keep-log PATH]

Prints one JSON object; exits 1 if an alert was lost, duplicated under distinct ids, or
the daemon exited before it was told to. About 4 minutes; ``--quick`` about a minute
(shorter phases, ``extract_timeout = "4s"`` so the bombs time out within it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _chaos_probe as probe
import httpx
from _chaos_servers import (
    BOMBS_AT,
    BOMBS_FETCHED,
    DIGITS_AT,
    DIGITS_FETCHED,
    FORWARD,
    FROZEN,
    REFUSE,
    STOP,
    Hook,
    Schedule,
    SwitchSMTP,
    serve_db_proxy,
    serve_site,
)
from _common import write_watchlist
from scale import Schema

from monitor.testing import MailServer
from monitor.timeutil import parse_iso

ROOT = Path(__file__).resolve().parent.parent
REGEX = r"/\d+[.,]?\d* (million|billion)/"


@dataclass(frozen=True)
class Plan:
    """How long each phase lasts (at least), in seconds; how often items appear and feeds
    are polled; ``extract_timeout`` (None: the default, 20 s)."""

    db_down: float = 5
    warmup: float = 20
    baseline: float = 25
    smtp_silent: float = 25
    webhook_silent: float = 25
    regex: float = 15
    bombs: float = 30
    settle: float = 5
    freeze: float = 20
    recover: float = 10
    drain: float = 60  # at most
    period: float = 30  # a new item per feed
    interval: int = 15  # poll interval
    extract_timeout: int | None = None


FULL = Plan()
QUICK = Plan(db_down=3, warmup=6, baseline=6, smtp_silent=6, webhook_silent=6, regex=4, bombs=7,
             settle=3, freeze=5, recover=2, drain=30, period=12, interval=8, extract_timeout=4)


def write_config(path: Path, database: str, site: str, web: int, plan: Plan,
                 feeds: int, smtp: int, good: Hook, slow: Hook) -> None:
    listed = "".join(f'[[feeds]]\nname = "feed-{i}"\nurl = "{site}/feed/{i}.xml"\n'
                     f'interval = "{plan.interval}s"\n\n' for i in range(feeds))
    timeout = (f'extract_timeout = "{plan.extract_timeout}s"'
               if plan.extract_timeout else "")
    path.write_text(f"""
[monitor]
database = "{database}"
allow_private_networks = true
alert_on_first_poll = true
web = "127.0.0.1:{web}"
poll_interval = "{plan.interval}s"
min_poll_interval = "5s"
per_host_connections = 8
delivery_interval = "1s"
lease = "60s"
{timeout}

{listed}
[[watch]]
name = "dpa"
query = '"Defense Production Act"'
channels = ["good", "mail", "slow"]

[[watch]]
name = "numbers"
query = '{REGEX}'
channels = []

[[watchlist]]
name = "bulk"
file = "rules.txt"
channels = []

[channels.good]
type = "webhook"
url = "{good.url}"

[channels.slow]
type = "webhook"
url = "{slow.url}"

[channels.mail]
type = "email"
to = ["desk@example.org"]
from = "monitor@example.org"
smtp_host = "127.0.0.1"
smtp_port = {smtp}
""")


class Chaos:
    """One run: the servers, the daemon, the phases and what they measured."""

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args, self.tmp = args, tmp
        self.plan = QUICK if args.quick else FULL
        self.phases: dict[str, dict[str, Any]] = {}
        self.windows: dict[str, tuple[float, float]] = {}
        self.faults = multiprocessing.Array("d", 5)
        self.requests = multiprocessing.Value("q", 0)
        self.proxy_mode = multiprocessing.Value("i", REFUSE)
        self.web = probe.free_port()
        self.base = f"http://127.0.0.1:{self.web}"
        self.log_path = tmp / "daemon.log"
        self.children: list[multiprocessing.Process] = []

    def spawn(self, target: Any, *args: Any) -> int:
        parent, child = multiprocessing.Pipe()
        proc = multiprocessing.Process(target=target, args=(child, *args), daemon=True)
        proc.start()
        self.children.append(proc)
        return int(parent.recv())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def start(self) -> None:
        args = self.args
        self.schedule = Schedule(time.time(), args.feeds, self.plan.period, args.every)
        port = self.spawn(serve_site, self.schedule, self.faults, self.requests)
        self.site = site = f"http://127.0.0.1:{port}"
        self.mail = MailServer().start()
        self.smtp = await SwitchSMTP(self.mail.port).start()
        self.good, self.slow = await Hook().start(), await Hook().start()
        use_pg = not self.args.sqlite and probe.postgres_available()
        self.schema = Schema() if use_pg else None
        if self.schema:
            port = self.spawn(serve_db_proxy, 5432, self.proxy_mode)
            database = self.schema.url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
        else:
            self.sqlite = self.tmp / "monitor.db"
            database = f"sqlite:///{self.sqlite}"
        write_watchlist(self.tmp / "rules.txt", args.rules)
        self.config = self.tmp / "monitor.toml"
        write_config(self.config, database, site, self.web, self.plan, args.feeds,
                     self.smtp.port, self.good, self.slow)

    async def start_daemon(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.log_file = self.log_path.open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor", "run", "-c", str(self.config), cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=self.log_file)

    async def until_healthy(self, limit: float) -> float | None:
        """Seconds until /healthz answers 200 (None: not within ``limit``, or it exited)."""
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() - started < limit and self.proc.returncode is None:
                try:
                    if (await client.get(f"{self.base}/healthz")).status_code == 200:
                        return round(time.monotonic() - started, 2)
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        return None

    # -- phases -----------------------------------------------------------------------------

    async def fault6(self) -> dict[str, Any]:
        """Database down at start (the proxy refuses), then up."""
        if not self.schema:
            await self.start_daemon()
            started = await self.until_healthy(120)
            return {"skipped": "sqlite: no database server to take down",
                    "started_in_s": started, "started": started is not None}
        self.proxy_mode.value = REFUSE
        await self.start_daemon()
        down = time.monotonic()
        # at least db_down seconds and two tries (start-up itself takes a few seconds)
        while self.proc.returncode is None and time.monotonic() - down < 60 and (
                time.monotonic() - down < self.plan.db_down
                or self.log().count("event=database_wait") < 2):
            await asyncio.sleep(0.1)
        waits = self.log().count("event=database_wait")
        exited = self.proc.returncode
        self.proxy_mode.value = FORWARD
        down = time.monotonic() - down
        started = await self.until_healthy(120)
        return {"down_s": round(down, 1), "database_wait_lines": waits,
                "exited_while_down": exited, "started_after_up_s": started,
                "started": exited is None and waits >= 1 and started is not None}

    async def phase(self, name: str, seconds: float, settle: Any = None) -> dict[str, Any]:
        """Run ``name`` for ``seconds`` (longer while ``settle()`` says so, up to 3x)."""
        before = await probe.scrape(self.base)
        requests, start = self.requests.value, time.time()
        await asyncio.sleep(seconds)
        while settle and settle() and time.time() - start < 3 * seconds:
            await asyncio.sleep(0.5)
        end = time.time()
        after = await probe.scrape(self.base)
        self.windows[name] = (start, end)
        result: dict[str, Any] = {"seconds": round(end - start, 1),
                                  "feed_requests": self.requests.value - requests}
        if before is not None and after is not None:
            polls = probe.total(after, "monitor_polls_total") - probe.total(
                before, "monitor_polls_total")
            result.update(polls_completed=int(polls), polls_per_s=round(polls / (end - start), 2),
                          extraction_fallbacks=int(
                              probe.total(after, "monitor_articles_extracted_total",
                                          mode="feed_fallback")
                              - probe.total(before, "monitor_articles_extracted_total",
                                            mode="feed_fallback")))
        self.phases[name] = result
        return result

    async def channel_state(self, name: str) -> dict[str, Any]:
        state: dict[str, Any] = {}
        async with httpx.AsyncClient(timeout=10) as client:
            try:
                listed = (await client.get(f"{self.base}/api/channels")).json()["channels"]
                state.update(next((c for c in listed if c["name"] == name), {}))
            except (httpx.HTTPError, ValueError, KeyError):
                state["api"] = "unavailable"
        metrics = await probe.scrape(self.base)
        if metrics is not None:
            for gauge in ("monitor_channel_inflight", "monitor_channel_oldest_send_seconds",
                          "monitor_channel_failures_in_a_row", "monitor_channel_stalled"):
                state[gauge.removeprefix("monitor_channel_")] = probe.total(
                    metrics, gauge, channel=name)
        return state

    async def fault1(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, switch, channel in (("smtp_silent", self.smtp, "mail"),
                                      ("webhook_silent", self.slow, "slow")):
            switch.set_silent(True)
            await self.phase(name, getattr(self.plan, name))
            self.phases[name]["bad_channel"] = await self.channel_state(channel)
            switch.set_silent(False)
            out[name] = {}  # filled in by summarise(), once latencies are known
        return out

    async def fault2(self) -> dict[str, Any]:
        self.faults[DIGITS_AT] = time.time()
        # until the digits page was fetched, then a few seconds for extraction and matching
        await self.phase("regex", self.plan.regex, lambda: not 0 < self.faults[
            DIGITS_FETCHED] < time.time() - 5)
        return {"digits_page_fetched": self.faults[DIGITS_FETCHED] > 0}

    async def fault3(self) -> dict[str, Any]:
        self.faults[BOMBS_AT] = time.time()
        limit = (self.plan.extract_timeout or 20) + 3
        await self.phase("bombs", self.plan.bombs, lambda: not 0 < self.faults[
            BOMBS_FETCHED] < time.time() - limit)
        return {"bomb_pages_fetched": self.faults[BOMBS_FETCHED] > 0}

    async def fault4(self) -> dict[str, Any]:
        # a few seconds without a fault first, so the alerts of the phase before are out
        # before the freeze holds them (the settle phase's own are held: it says so)
        await self.phase("settle", self.plan.settle)
        freeze = self.plan.freeze
        healthz: list[probe.Check] = []
        readyz: list[probe.Check] = []
        checks = asyncio.gather(probe.every_second(f"{self.base}/healthz", healthz, freeze),
                                probe.every_second(f"{self.base}/readyz", readyz, freeze))
        if self.schema:
            self.proxy_mode.value = FROZEN
            freezing = asyncio.ensure_future(self.thaw_after(freeze))
            how = "postgresql: the proxy holds every byte"
        else:
            freezing = asyncio.ensure_future(asyncio.to_thread(
                probe.hold_sqlite_lock, self.sqlite, freeze))
            how = "sqlite: an exclusive lock held by another connection"
        start = time.time()
        await self.phase_without_scrape("db_freeze", freeze)
        await freezing
        await checks
        await self.phase("recover", self.plan.recover)
        took = [c.took for c in healthz]
        return {"how": how, "frozen_s": freeze,
                "healthz_p50_s": probe.percentile(took, 0.5),
                "healthz_max_s": probe.percentile(took, 1.0),
                "healthz": [c.as_json(start) for c in healthz],
                "readyz": [c.as_json(start) for c in readyz]}

    async def thaw_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.proxy_mode.value = FORWARD

    async def phase_without_scrape(self, name: str, seconds: float) -> None:
        """A phase whose /metrics would wait on the database: timed only."""
        requests, start = self.requests.value, time.time()
        await asyncio.sleep(seconds)
        self.windows[name] = (start, time.time())
        self.phases[name] = {"seconds": round(time.time() - start, 1),
                             "feed_requests": self.requests.value - requests}

    def delivered(self) -> set[str]:
        return {a.url for a in self.good.arrivals if a.rule == "dpa"}

    async def drain(self) -> None:
        self.faults[STOP] = time.time()
        expected = self.schedule.expected(self.site, self.faults[STOP])
        start = time.time()
        while time.time() - start < self.plan.drain and not expected <= self.delivered():
            await asyncio.sleep(0.5)
        self.windows["drain"] = (start, time.time())
        self.phases["drain"] = {"seconds": round(time.time() - start, 1)}
        self.expected = expected

    # -- the run ----------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        await self.start()
        result: dict[str, Any] = {
            "database": "postgresql (through a local proxy)" if self.schema else "sqlite",
            "feeds": self.args.feeds, "rules": self.args.rules + 2, "quick": self.args.quick,
            "stall_measure": "/healthz timed at 20 Hz from outside (no loop-lag gauge)",
            "cpus": os.cpu_count(), "load_at_start": round(os.getloadavg()[0], 1)}
        try:
            result["fault6"] = await self.fault6()
            if not result["fault6"]["started"]:
                raise RuntimeError("the daemon did not start")
            heartbeat = probe.Heartbeat(f"{self.base}/healthz")
            heartbeat.start()
            await self.phase("warmup", self.plan.warmup)
            await self.phase("baseline", self.plan.baseline)
            result["fault1"] = await self.fault1()
            result["fault2"] = await self.fault2()
            result["fault3"] = await self.fault3()
            result["fault4"] = await self.fault4()
            await self.drain()
            heartbeat.stop()
            result.update(self.report(heartbeat))
            self.summarise(result)
        except Exception as e:  # the partial result is still worth printing
            result["error"] = f"{type(e).__name__}: {e}"
        finally:
            proc = getattr(self, "proc", None)
            result["exited_early"] = proc is not None and proc.returncode is not None
            result["daemon_exit"] = await self.stop()
        result["load_at_end"] = round(os.getloadavg()[0], 1)
        log = self.log()
        if "error" in result:
            result["log_tail"] = log.splitlines()[-5:]
        result["log"] = {k: log.count(k) for k in (
            "Traceback", "CRITICAL", "event=article_fallback", "event=database_wait")}
        return result

    def report(self, heartbeat: probe.Heartbeat) -> dict[str, Any]:
        latencies: dict[str, list[float]] = defaultdict(list)
        slowest: dict[str, tuple[float, str]] = {}  # phase -> (latency, article URL)
        seen: set[str] = set()
        for a in self.good.arrivals:
            if a.rule != "dpa" or a.url in seen:
                continue
            seen.add(a.url)
            created = parse_iso(a.created_at).timestamp()
            when = next((n for n, (s, e) in self.windows.items() if s <= created < e), "other")
            latencies[when].append(a.at - created)
            slowest[when] = max(slowest.get(when, (0.0, "")), (a.at - created, a.url))
        base = probe.summary(latencies["baseline"])
        base_stall = heartbeat.longest(*self.windows["baseline"])
        for name, phase in self.phases.items():
            phase.update(probe.summary(latencies[name]))
            if name in slowest:
                phase["slowest_url"] = slowest[name][1]
            phase["longest_stall_s"] = heartbeat.longest(*self.windows[name])
            for key in ("p50_s", "p99_s"):
                if phase.get(key) is not None and base.get(key):
                    phase[key.replace("_s", "_ratio")] = round(phase[key] / base[key], 2)
            if base_stall:
                phase["stall_ratio"] = round(phase["longest_stall_s"] / base_stall, 2)
        delivered = self.delivered()
        lost = self.expected - delivered
        result = {"phases": self.phases, "longest_stall_s": heartbeat.longest(0, time.time()),
                  "baseline_healthz_p50_s": heartbeat.p50(*self.windows["baseline"]),
                  "alerts_expected": len(self.expected), "alerts_delivered": len(
                      delivered & self.expected), "alerts_lost": len(lost),
                  "lost_sample": sorted(lost)[:5],
                  "duplicates_distinct_ids": duplicates(self.good) + duplicates(self.slow),
                  "mail_received": len(self.mail.messages),
                  "slow_hook_received": len({a.url for a in self.slow.arrivals})}
        result["outbox_at_end"] = {f"{c}/{s}": n for c, s, n in self.rows(
            "select channel, status, count(*) from alerts group by channel, status")}
        return result

    def rows(self, sql: str) -> list[Any]:
        """All rows of ``sql`` on the daemon's database (read directly, not through the proxy)."""
        if self.schema:
            return self.schema.rows(sql)
        with contextlib.closing(sqlite3.connect(self.sqlite, timeout=30)) as conn:
            return conn.execute(sql).fetchall()

    def summarise(self, result: dict[str, Any]) -> None:
        """Each fault's own numbers beside the baseline's (the phases hold the rest)."""
        phases, base = self.phases, self.phases["baseline"]
        keep = ("good_alerts", "p50_s", "p99_s", "p50_ratio", "p99_ratio", "longest_stall_s",
                "bad_channel")
        for name in ("smtp_silent", "webhook_silent"):
            result["fault1"][name] = {k: phases[name].get(k) for k in keep}
        result["fault1"]["baseline"] = {k: base.get(k) for k in keep[:3]}
        result["fault2"].update(longest_stall_s=phases["regex"]["longest_stall_s"],
                                baseline_stall_s=base["longest_stall_s"],
                                stall_ratio=phases["regex"].get("stall_ratio"))
        # the rule matched the page (after the run): the regex did run
        result["fault2"]["regex_rule_hits"] = self.rows(
            "select count(*) from hits h join rules r on r.id = h.rule_id "
            "where r.name = 'numbers'")[0][0]
        bombs = phases["bombs"]
        result["fault3"].update(
            polls_completed=bombs.get("polls_completed"), polls_per_s=bombs.get("polls_per_s"),
            baseline_polls_per_s=base.get("polls_per_s"),
            extraction_fallbacks=bombs.get("extraction_fallbacks"),
            good_p99_s=bombs.get("p99_s"), good_p99_ratio=bombs.get("p99_ratio"))
        result["fault4"].update(longest_stall_s=phases["db_freeze"]["longest_stall_s"],
                                delivered_after=result["alerts_lost"] == 0)

    async def stop(self) -> int | None:
        code = None
        if getattr(self, "proc", None) is not None:
            if self.proc.returncode is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    code = await asyncio.wait_for(self.proc.wait(), 30)
                except TimeoutError:
                    self.proc.kill()
                    code = await self.proc.wait()
            else:
                code = self.proc.returncode
            self.log_file.close()
        self.proxy_mode.value = FORWARD
        await asyncio.gather(self.good.stop(), self.slow.stop())
        self.smtp.stop()
        self.mail.stop()
        for child in self.children:
            child.terminate()
            child.join()
        if self.schema:
            self.schema.drop()
        return code


def duplicates(hook: Hook) -> int:
    """(rule, article) pairs a hook received under more than one webhook-id."""
    ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for a in hook.arrivals:
        ids[(a.rule, a.url)].add(a.webhook_id)
    return sum(1 for found in ids.values() if len(found) > 1)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="monitor-chaos-") as tmp:
        try:
            return await Chaos(args, Path(tmp)).run()
        finally:
            if args.keep_log:
                shutil.copyfile(Path(tmp) / "daemon.log", args.keep_log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a minute (smoke use)")
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--rules", type=int, default=1000, help="generated rules besides two")
    parser.add_argument("--every", type=int, default=4, help="one item in N alerts")
    parser.add_argument("--keep-log", type=Path, help="copy the daemon's log here")
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if PostgreSQL answers")
    args = parser.parse_args()
    result = asyncio.run(bench(args))
    print(json.dumps(result))
    bad = ("error" in result or result["alerts_lost"] or result["duplicates_distinct_ids"]
           or result["exited_early"])
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
