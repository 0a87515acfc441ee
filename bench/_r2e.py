"""bench/compare.py ``poll``: rss2email's poll round where nothing changed, as the anchor of
monitor's (bench/_pollstore.py), rounds interleaved in one run (not a benchmark itself).

rss2email runs as its users run it, one ``r2e run`` process per round (from cron), on
the same loopback feeds (bench/poll.py's server: an ETag per feed, 304 when it matches).
Its first round takes the 200s and stores the ETags (``--no-send``: nothing is mailed);
every later round is all 304s. A round's cost is the CPU of that process
(``RUSAGE_CHILDREN``), interpreter start and imports included, as cron pays them.
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Rss2email:
    """One rss2email configuration polling ``feeds`` feeds of ``base``."""

    def __init__(self, folder: Path, base: str, feeds: int) -> None:
        r2e = shutil.which("r2e")
        if r2e is None:
            raise RuntimeError("the r2e command is not on PATH")
        self._cmd = [r2e, "-c", str(folder / "r2e.cfg"), "-d", str(folder / "r2e.json")]
        self._r2e("new", "bench@example.org")
        with (folder / "r2e.cfg").open("a", encoding="utf-8") as f:
            f.writelines(f"\n[feed.f{i}]\nurl = {base}/feed/{i}.xml\n" for i in range(feeds))
        self.round()  # 200s: the ETags stored
        state = json.loads((folder / "r2e.json").read_text(encoding="utf-8"))
        if not all(f["etag"] for f in state["feeds"]) or len(state["feeds"]) != feeds:
            raise RuntimeError("rss2email stored no ETag: its later rounds would not be 304s")

    def startup(self) -> float:
        """CPU seconds of ``r2e --help``: the interpreter's start and the imports alone."""
        before = children_cpu()
        self._r2e("--help")
        return children_cpu() - before

    def round(self) -> float:
        """CPU seconds of one ``r2e run`` round."""
        before = children_cpu()
        self._r2e("run", "--no-send")
        return children_cpu() - before

    def _r2e(self, *args: str) -> None:
        done = subprocess.run([*self._cmd, *args], capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"r2e {args[0]} exited {done.returncode}: "
                               f"{done.stderr.strip()[-300:]}")


@contextmanager
def loopback_feeds() -> Iterator[str]:
    """bench/poll.py's feed server in its own process; yields its base URL."""
    from poll import serve

    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(theirs,))
    server.start()
    try:
        yield f"http://127.0.0.1:{ours.recv()}"
    finally:
        ours.send("stop")
        server.join(5)


def anchor_folder() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="bench-r2e-")
