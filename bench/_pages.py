"""bench/compare.py ``pages``: the first check of 200 news pages for a keyword, monitor
against changedetection.io (issue 17), CPU, rounds interleaved (not a benchmark itself).

The pages: bench/pipeline.py's ``make_pages`` (real-site pages of tests/data/pages, about
130 KB each with their boilerplate, navigation and "most read" boxes; paragraphs shuffled,
words swapped, one page in ten has a sentence naming the Defense Production Act, which
some templates name already), served by
bench/pipeline.py's loopback server in its own process (its CPU counts for neither side).

Like for like. A changedetection.io user watching 200 pages for a keyword adds 200 watches
with the keyword as ``trigger_text``; its first check of each fetches the page (the plain
requests fetcher), turns the whole HTML into text, looks for the trigger and saves the
snapshot (bench/_cdio.py runs exactly its worker's steps, in its own virtualenv, without
its UI). monitor has no single-URL watch: a monitor user follows a source that lists the
pages. The closest is one RSS feed listing the 200 pages and one rule
``"Defense Production Act"`` (``alert_on_first_poll``, no channel): ``Daemon.run_once()``
on a fresh SQLite database fetches the feed and every page, extracts the article (which
changedetection.io does not: it keeps the boilerplate), matches the rule and stores
articles and matches. monitor pays one feed fetch and parse more; changedetection.io
pays the snapshot compression. Timed: monitor's process CPU plus its warm extraction
workers' during ``run_once`` (worker start and config loading not counted), against
changedetection.io's process CPU during its check loop (imports and adding the watches
not counted). ``found`` shows both found the keyword (``pages_with_keyword``: pages whose
HTML holds it anywhere, boilerplate included).

changedetection.io's pins conflict with monitor's, so it lives in its own virtualenv:
``python -m venv /tmp/cdvenv && /tmp/cdvenv/bin/pip install changedetection.io``, found
through ``--cdio-python`` or ``MONITOR_BENCH_CDIO_PYTHON`` (default /tmp/cdvenv/bin/python).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from pipeline import cpu_s, feed_xml, make_pages, serve, stored, warm

from monitor.daemon import Daemon, load

HERE = Path(__file__).resolve().parent
KEYWORD = "Defense Production Act"
DEFAULT_PYTHON = "/tmp/cdvenv/bin/python"


def cdio_python(flag: str | None) -> str:
    return flag or os.environ.get("MONITOR_BENCH_CDIO_PYTHON") or DEFAULT_PYTHON


class Cdio:
    """bench/_cdio.py in changedetection.io's virtualenv, one round per request."""

    def __init__(self, python: str, urls: list[str]) -> None:
        if not Path(python).exists():
            raise RuntimeError(f"no python at {python}: create the virtualenv (see "
                               "bench/_pages.py) or pass --cdio-python")
        self._log = tempfile.TemporaryFile("w+", encoding="utf-8")  # never fills a pipe
        self._proc = subprocess.Popen([python, str(HERE / "_cdio.py")], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._log, text=True)
        self._send(json.dumps({"urls": urls, "keyword": KEYWORD}))
        self.version = self._answer()["version"]

    def round(self) -> dict[str, Any]:
        self._send("round")
        return self._answer()

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait(30)
        self._log.close()

    def _send(self, line: str) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()

    def _answer(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self._proc.wait(30)
            self._log.seek(0)
            raise RuntimeError(f"changedetection.io exited {self._proc.returncode}: "
                               f"{self._log.read().strip()[-400:]}")
        answer: dict[str, Any] = json.loads(line)
        return answer


def config(tmp: Path, base: str) -> Path:
    path = tmp / "pages.toml"
    path.write_text("\n".join([
        "[monitor]", f'database = "sqlite:///{tmp / "monitor.db"}"', 'web = ""',
        'user_agent = "monitor-bench/1.0 (+http://127.0.0.1/)"',
        "allow_private_networks = true", "alert_on_first_poll = true", "",
        "[[watch]]", 'name = "keyword"', f"query = '\"{KEYWORD}\"'", "channels = []", "",
        "[[feeds]]", 'name = "pages"', f'url = "{base}/feed/pages.xml"', ""]),
        encoding="utf-8")
    return path


async def monitor_round(base: str, warm_page: bytes) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as name:
        path = config(Path(name), base)
        daemon = Daemon(load(str(path)), str(path))
        try:
            await warm(daemon.services.extractor, warm_page)
            pids = daemon.services.extractor.worker_pids()
            cpu, pool = cpu_s(), cpu_s(pids)
            await daemon.run_once()
            spent = cpu_s() - cpu + cpu_s(pids) - pool
        finally:
            await daemon.close()
        return {"cpu_s": spent, **stored(Path(name) / "monitor.db")}


def pages_round(rounds: int, count: int, python: str | None) -> dict[str, Any]:
    """The first check of ``count`` pages for a keyword: monitor, then changedetection.io."""
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(theirs,))
    server.start()
    try:
        base = f"http://127.0.0.1:{ours.recv()}"
        pages = make_pages(count)
        site = {p.path: ("text/html", p.body) for p in pages}
        site["/feed/pages.xml"] = ("application/rss+xml", feed_xml(base, 0, pages))
        ours.send(site)
        ours.recv()
        planted = sum(KEYWORD.lower().encode() in p.body.lower() for p in pages)
        return _rounds(rounds, base, [base + p.path for p in pages], planted,
                       make_pages(1, seed=1)[0].body, cdio_python(python))
    finally:
        ours.send("stop")
        server.join(10)


def _rounds(rounds: int, base: str, urls: list[str], planted: int, warm_page: bytes,
            python: str) -> dict[str, Any]:
    try:
        cdio = Cdio(python, urls)
    except (OSError, RuntimeError, ValueError) as e:  # a missing or broken virtualenv
        return {"error": f"changedetection.io does not run ({python}): {e}"}
    mine: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    try:
        for r in range(rounds):
            order = ("monitor", "cdio") if r % 2 == 0 else ("cdio", "monitor")
            for side in order:
                if side == "monitor":
                    mine.append(asyncio.run(monitor_round(base, warm_page)))
                else:
                    theirs.append(cdio.round())
    except (OSError, RuntimeError, ValueError) as e:
        return {"error": f"changedetection.io failed mid-run: {e}"}
    finally:
        cdio.close()
    ratios = [m["cpu_s"] / t["cpu_s"] for m, t in zip(mine, theirs, strict=True)]
    errors = [e for t in theirs for e in t["errors"]]
    return {"version": cdio.version, "pages": len(urls), "keyword": KEYWORD,
            "pages_with_keyword": planted,
            "found": {"monitor_matches": mine[-1]["matches"],
                      "monitor_articles": mine[-1]["articles"],
                      "changedetection_triggered": theirs[-1]["found"]},
            "changedetection_errors": errors[:5],
            "monitor_cpu_s": [round(m["cpu_s"], 3) for m in mine],
            "changedetection_cpu_s": [round(t["cpu_s"], 3) for t in theirs],
            "ratio_per_round": [round(x, 3) for x in ratios],
            "ratio": round(statistics.median(ratios), 3)}
