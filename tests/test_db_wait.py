"""A database down at start is waited for, not a bad config (issue 16 item 6).

``monitor run`` against an unreachable database logs ``event=database_wait`` per try, does
not signal READY=1, does not exit (least of all with 2, which systemd's
``RestartPreventExitStatus=2`` would leave dead) and stops cleanly on SIGTERM; once the
database answers (here: a local TCP proxy that starts forwarding to PostgreSQL) it starts.
A database that accepts connections and never answers fails the try after the connect
timeout instead of hanging start-up. While it waits, the web listener answers /healthz
(200) and /readyz (503, why), and then serves the daemon's app on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from monitor.errors import StorageError
from monitor.store import Store, hide_password
from monitor.testing import NewsServer
from tests.conftest import pg_schema, postgres_available
from tests.pgproxy import Switch
from tests.test_systemd_unit import UNIT, directives

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "s3cret-pw"

needs_postgres = pytest.mark.skipif(not postgres_available(),
                                    reason="no PostgreSQL server reachable at 127.0.0.1:5432")


def closed_port() -> int:
    """A loopback port nothing listens on (just released by a socket of ours)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp_path: Path, database: str, news: NewsServer | None = None,
                 web: str = "") -> Path:
    path = tmp_path / "monitor.toml"
    base_url = news.base if news else "http://127.0.0.1:1"  # never polled without news
    feed = f'[[feeds]]\nname = "demo"\nurl = "{base_url}/feed.xml"\n'
    path.write_text(f'[monitor]\ndatabase = "{database}"\nweb = "{web}"\n'
                    f"allow_private_networks = true\nextract_workers = 1\n\n{feed}")
    return path


class Daemon:
    """``monitor run`` in a child process, its log lines and sd_notify messages collected."""

    def __init__(self, proc: asyncio.subprocess.Process, notify: socket.socket) -> None:
        self.proc, self.notify = proc, notify
        self.lines: list[str] = []
        self.messages: list[str] = []
        self.tasks = [asyncio.ensure_future(self._read()), asyncio.ensure_future(self._hear())]

    async def _read(self) -> None:
        assert self.proc.stderr
        async for line in self.proc.stderr:
            self.lines.append(line.decode(errors="replace"))

    async def _hear(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.messages.append((await loop.sock_recv(self.notify, 4096)).decode())

    def log(self) -> str:
        return "".join(self.lines)

    async def until(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            assert self.proc.returncode is None, f"exited {self.proc.returncode}:\n{self.log()}"
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.log()}"
            await asyncio.sleep(0.05)

    def waits(self) -> int:
        return self.log().count("event=database_wait")


@contextlib.asynccontextmanager
async def run_daemon(config: Path, tmp_path: Path) -> AsyncIterator[Daemon]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    env = {**os.environ, "NOTIFY_SOCKET": path, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "run", "-c", str(config), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    daemon = Daemon(proc, sock)
    try:
        yield daemon
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for task in daemon.tasks:
            task.cancel()
        await asyncio.gather(*daemon.tasks, return_exceptions=True)
        sock.close()


async def stop(daemon: Daemon) -> int:
    daemon.proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(daemon.proc.wait(), 30)


async def test_a_database_down_at_start_is_waited_for(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://monitor:{PASSWORD}@127.0.0.1:{closed_port()}/monitor"
    async with run_daemon(write_config(tmp_path, url), tmp_path) as daemon:
        await daemon.until("attempt=2")
        daemon.proc.send_signal(signal.SIGHUP)  # a reload while waiting does not kill it
        await daemon.until("attempt=3")  # tries 1 s, then 2 s apart
        assert daemon.proc.returncode is None  # not exit 2: systemd would leave it dead
        assert "READY=1" not in daemon.messages
        assert any(m.startswith("STATUS=waiting for the database") for m in daemon.messages)
        assert await stop(daemon) == 0  # SIGTERM while waiting: a clean stop
    log = daemon.log()
    waits = [line for line in daemon.lines if "event=database_wait" in line]
    assert [f"attempt={n} " in line for n, line in enumerate(waits, 1)] == [True] * len(waits)
    assert "retry_in=1 " in waits[0] and "retry_in=2 " in waits[1], waits
    assert "Traceback" not in log and PASSWORD not in log
    assert "event=stopped_waiting" in log


@pytest.mark.postgres
@needs_postgres
async def test_the_daemon_starts_once_the_database_answers(tmp_path: Path,
                                                           news: NewsServer) -> None:
    proxy = Switch(refusing=True).start()
    with pg_schema() as real_url:
        url = real_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        try:
            async with run_daemon(write_config(tmp_path, url, news), tmp_path) as daemon:
                await daemon.until("attempt=2")
                assert "READY=1" not in daemon.messages and "event=started" not in daemon.log()
                daemon.proc.send_signal(signal.SIGHUP)  # a reload asked for while waiting...
                await asyncio.sleep(0.2)
                proxy.refusing = False  # PostgreSQL is back
                await daemon.until("event=started")
                assert daemon.log().count("event=config_applied") == 2  # ...is done at start
                await daemon.until("event=poll status=first_poll feed=demo")
                assert "READY=1" in daemon.messages
                assert await stop(daemon) == 0
            assert "event=database_ready" in daemon.log()
        finally:
            proxy.stop()


async def test_the_probes_answer_while_the_database_is_awaited(tmp_path: Path,
                                                              news: NewsServer) -> None:
    # a SQLite "file" that is a directory cannot be opened: each try fails until it goes
    db = tmp_path / "data" / "monitor.db"
    db.mkdir(parents=True)
    port = closed_port()
    config = write_config(tmp_path, f"sqlite:///{db}", news, web=f"127.0.0.1:{port}")
    async with run_daemon(config, tmp_path) as daemon, httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=10, trust_env=False) as http:
        await daemon.until("attempt=2")
        alive, unready, api = (await http.get("/healthz"), await http.get("/readyz"),
                               await http.get("/api/feeds"))
        db.rmdir()  # the database can be created now
        await daemon.until("event=started")
        for _ in range(200):  # the daemon's own /readyz, on the same port, once it polled
            ready = await http.get("/readyz")
            if ready.status_code == 200:
                break
            await asyncio.sleep(0.1)
        feeds = await http.get("/api/feeds")
        assert await stop(daemon) == 0
    assert alive.status_code == 200 and alive.json()["status"] == "ok", alive.text
    assert unready.status_code == 503, unready.text
    assert unready.json()["failing"] == ["database"]
    assert unready.json()["checks"]["database"].startswith(
        "waiting for the database (try "), unready.text
    assert "unable to open database file" in unready.json()["checks"]["database"]
    assert api.status_code == 503 and "waiting for the database" in api.text
    assert ready.status_code == 200, ready.text
    assert feeds.status_code == 200 and [f["name"] for f in feeds.json()["feeds"]] == ["demo"]
    assert "Traceback" not in daemon.log()


async def test_sigterm_while_waiting_with_the_probes_up_stops_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "monitor.db"
    db.mkdir()
    port = closed_port()
    config = write_config(tmp_path, f"sqlite:///{db}", web=f"127.0.0.1:{port}")
    async with run_daemon(config, tmp_path) as daemon, httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=10, trust_env=False) as http:
        await daemon.until("attempt=1")
        assert (await http.get("/healthz")).status_code == 200
        assert await stop(daemon) == 0
        with pytest.raises(httpx.ConnectError):  # the listener is gone with the daemon
            await http.get("/healthz")
    assert "event=stopped_waiting" in daemon.log() and "Traceback" not in daemon.log()


def test_a_database_that_never_answers_fails_the_try_in_time() -> None:
    # accepts (the kernel completes the handshake) and never says a word: the try fails
    # after the connect timeout (10 s) instead of hanging start-up without a log line
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    store = Store(f"postgresql+psycopg://monitor@127.0.0.1:{port}/monitor")
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(store.ping)
            with pytest.raises(StorageError):
                future.result(timeout=40)  # without a connect timeout: forever
    finally:
        silent.close()
        store.close()
    assert time.monotonic() - started < 30


def restarts(exit_status: int) -> bool:
    """Whether systemd restarts the unit after the main process exits with ``exit_status``
    (``Restart=on-failure`` minus ``RestartPreventExitStatus=``), read from the unit."""
    found = dict(directives(UNIT.read_text()))
    assert found["Restart"] == "on-failure"
    prevent = {int(v) for v in found.get("RestartPreventExitStatus", "").split() if v.isdigit()}
    return exit_status != 0 and exit_status not in prevent


async def test_the_unit_restarts_after_a_database_fault_not_after_a_bad_config(
        tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    async def monitor(*args: str) -> int:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor", *args, cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        return await asyncio.wait_for(proc.wait(), 60)

    bad = tmp_path / "bad.toml"
    bad.write_text('[monitor]\ndatabase = "sqlite:///x.db"\nno_such_key = 1\n')
    assert await monitor("run", "-c", str(bad)) == 2
    assert not restarts(2)  # a bad config stays down: a restart cannot fix it
    down = write_config(tmp_path, f"postgresql+psycopg://monitor@127.0.0.1:{closed_port()}/m")
    once = await monitor("run", "--once", "-c", str(down))
    assert once != 2 and restarts(once)  # a one-shot fails, and is not taken for bad config
    # the daemon itself does not exit at all while the database is down (the test above)


def test_the_wait_line_never_carries_the_password() -> None:
    url = f"postgresql+psycopg://monitor:{PASSWORD}@db.example/monitor"
    quoted = f"connection to {url} failed: password {PASSWORD} refused"
    assert PASSWORD not in hide_password(quoted, url)
    assert hide_password("refused", "sqlite:///x.db") == "refused"


async def test_a_sqlite_file_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    """SQLite's own error names no file: the wait line does (here the path is a folder)."""
    (tmp_path / "taken").mkdir()
    url = f"sqlite:///{tmp_path / 'taken'}"
    async with run_daemon(write_config(tmp_path, url), tmp_path) as daemon:
        await daemon.until("attempt=1")
        assert await stop(daemon) == 0
    (wait, *_) = [line for line in daemon.lines if "event=database_wait" in line]
    assert f"unable to open database file (file {tmp_path / 'taken'})" in wait, wait
