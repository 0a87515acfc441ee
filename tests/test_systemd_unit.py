"""systemd/monitor.service: hardened enough, valid, and its sandbox fits the dependencies.

``systemd-analyze`` checks the unit offline, without a running systemd. The sandbox check
(``MemoryDenyWriteExecute=yes``) runs the real dependencies in a child process under the
same restriction systemd would impose.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "monitor.service"
INSTALLED_EXECUTABLE = "/opt/monitor/bin/monitor"
MAX_EXPOSURE = 2.0

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def analyze(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``systemd-analyze`` without pager or colours."""
    env = {**os.environ, "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"}
    return subprocess.run(["systemd-analyze", "--no-pager", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=60, check=False)


def directives(text: str) -> list[tuple[str, str]]:
    """``(key, value)`` for every directive line of a unit file, in order."""
    pairs = []
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            pairs.append((key.strip(), value.strip()))
    return pairs


@needs_analyze
def test_security_exposure_is_at_most_two() -> None:
    result = analyze("security", "--offline=yes", str(UNIT))
    output = result.stdout + result.stderr
    found = re.search(r"Overall exposure level for monitor\.service: (\d+(?:\.\d+)?)", output)
    assert found, output
    assert float(found.group(1)) <= MAX_EXPOSURE, output


@needs_analyze
def test_verify_finds_nothing(tmp_path: Path) -> None:
    # verify insists that every Exec*= binary exists; the unit names the installed path
    # /opt/monitor/bin/monitor, so a copy pointing at an existing executable is checked.
    # Nothing else in the unit changes.
    text = UNIT.read_text()
    assert INSTALLED_EXECUTABLE in text
    executable = shutil.which("true")
    assert executable
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(INSTALLED_EXECUTABLE, executable))
    result = analyze("verify", "--man=no", str(copy), cwd=tmp_path)
    output = (result.stdout + result.stderr).splitlines()
    about_unit = [line for line in output if UNIT.name in line or str(tmp_path) in line]
    assert about_unit == [], "\n".join(output)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("WatchdogSec", "60"),
        ("ExecStartPre", f"{INSTALLED_EXECUTABLE} check -c /etc/monitor/monitor.toml"),
        ("ExecStart", f"{INSTALLED_EXECUTABLE} run -c /etc/monitor/monitor.toml"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("LoadCredential", "smtp:/etc/monitor/credentials/smtp"),
        ("LoadCredential", "webhook:/etc/monitor/credentials/webhook"),
        ("StateDirectory", "monitor"),
        ("MemoryDenyWriteExecute", "yes"),
    ],
    ids=lambda v: str(v).split()[0][:40],
)
def test_unit_keeps_the_daemon_contract(key: str, value: str) -> None:
    # monitor/sdnotify.py sends READY/STOPPING/WATCHDOG; the config names credential paths.
    assert (key, value) in directives(UNIT.read_text())


README = UNIT.parent.parent / "README.md"


def readme_setup_steps() -> str:
    """The shell blocks of the README's "Running under systemd" section."""
    section = README.read_text().split("\n## Running under systemd\n", 1)[1].split("\n## ")[0]
    return "\n".join(re.findall(r"```sh\n(.*?)```", section, re.S))


def test_the_readme_creates_every_credential_the_unit_loads() -> None:
    # systemd refuses to start a unit whose LoadCredential= source file is missing.
    loaded = [v for k, v in directives(UNIT.read_text())
              if k in ("LoadCredential", "LoadCredentialEncrypted")]
    assert loaded
    steps = readme_setup_steps()
    for value in loaded:
        name, _, source = value.partition(":")
        assert source.startswith("/"), f"credential {name}: give its file's path"
        writes = rf"(?:>\s*|\b(?:tee|cp|install)\b[^\n|;]*\s){re.escape(source)}(?![\w./-])"
        assert re.search(writes, steps), f"README never creates {source} (credential {name})"


# The child process installs the restriction, then imports and exercises monitor's
# native dependencies. Exit 77 means the restriction cannot be installed here.
WORKLOAD = r'''
import asyncio, ctypes, mmap, struct, sys
from concurrent.futures import ProcessPoolExecutor

libc = ctypes.CDLL(None, use_errno=True)
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong,
                       ctypes.c_ulong]
ALLOW, EPERM = 0x7FFF0000, 0x00050000 | 1


def ins(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


LD, JEQ, JSET, AND, RET = 0x20, 0x15, 0x45, 0x54, 0x06
# systemd 252's MemoryDenyWriteExecute= filter (x86-64): refuse mmap with PROT_WRITE and
# PROT_EXEC, mprotect/pkey_mprotect with PROT_EXEC, shmat with SHM_EXEC. Arguments are at
# offset 16 + 8 * index of struct seccomp_data.
FILTER = [
    ins(LD, 0, 0, 4),            # 0  arch
    ins(JEQ, 1, 0, 0xC000003E),  # 1  x86-64 -> 3
    ins(RET, 0, 0, ALLOW),       # 2
    ins(LD, 0, 0, 0),            # 3  syscall number
    ins(JEQ, 4, 0, 9),           # 4  mmap -> 9
    ins(JEQ, 6, 0, 10),          # 5  mprotect -> 12
    ins(JEQ, 5, 0, 329),         # 6  pkey_mprotect -> 12
    ins(JEQ, 6, 0, 30),          # 7  shmat -> 14
    ins(RET, 0, 0, ALLOW),       # 8
    ins(LD, 0, 0, 32),           # 9  prot
    ins(AND, 0, 0, 6),           # 10 & (PROT_WRITE | PROT_EXEC)
    ins(JEQ, 5, 4, 6),           # 11 both -> 17 deny, else 16
    ins(LD, 0, 0, 32),           # 12 prot
    ins(JSET, 3, 2, 4),          # 13 PROT_EXEC -> 17 deny, else 16
    ins(LD, 0, 0, 32),           # 14 shmflg
    ins(JSET, 1, 0, 0o100000),   # 15 SHM_EXEC -> 17 deny, else 16
    ins(RET, 0, 0, ALLOW),       # 16
    ins(RET, 0, 0, EPERM),       # 17
]


def install(mode):
    if mode == "prctl":  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN: newer systemd on Linux >= 6.3
        if libc.prctl(65, 1, None, 0, 0) != 0:
            sys.exit(77)
        return
    program = ctypes.create_string_buffer(b"".join(FILTER))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(FILTER), ctypes.addressof(program))
    if libc.prctl(38, 1, None, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        sys.exit(77)
    if libc.prctl(22, 2, ctypes.addressof(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, FILTER
        sys.exit(77)


install(sys.argv[1])
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    sys.exit("W+X mapping still allowed: the restriction is not in force")
except PermissionError:
    pass
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
page = libc.mmap(None, 4096, mmap.PROT_READ | mmap.PROT_WRITE,
                 mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
if libc.mprotect(page, 4096, mmap.PROT_READ | mmap.PROT_EXEC) == 0:
    sys.exit("making written memory executable still allowed")

import ahocorasick, aiohttp, brotli, httpx, httpx_aiohttp, lxml.html, psycopg
import sqlalchemy, trafilatura
from aiohttp import web

assert psycopg.pq.__impl__ in ("binary", "c"), psycopg.pq.__impl__
PAGE = ("<html><head><title>Notice</title></head><body><article><h1>Supply chain</h1>"
        + "".join(f"<p>Paragraph {i}: the Defense Production Act and a supply chain risk.</p>"
                  for i in range(20)) + "</article></body></html>")
assert "Defense Production Act" in trafilatura.extract(PAGE)
with ProcessPoolExecutor(1) as pool:  # extract.py runs trafilatura in a process pool
    assert "Defense Production Act" in pool.submit(trafilatura.extract, PAGE).result()
assert lxml.html.fromstring(PAGE).findtext(".//title") == "Notice"

automaton = ahocorasick.Automaton()
automaton.add_word("supply", 1)
automaton.make_automaton()
assert list(automaton.iter("supply chain")) == [(5, 1)]
assert brotli.decompress(brotli.compress(b"x" * 1000)) == b"x" * 1000

engine = sqlalchemy.create_engine("sqlite://")
with engine.connect() as connection:
    assert connection.execute(sqlalchemy.text("select 1")).scalar() == 1

compare = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
numbers = (ctypes.c_int * 4)(3, 1, 4, 2)
libc.qsort(numbers, 4, ctypes.sizeof(ctypes.c_int), compare(lambda a, b: a[0] - b[0]))
assert list(numbers) == [1, 2, 3, 4], "ctypes callback (libffi closure)"


async def fetch_over_loopback():
    app = web.Application()
    body = brotli.compress(b"hello")
    app.router.add_get("/", lambda request: web.Response(
        body=body, headers={"Content-Encoding": "br"}))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        transport = httpx_aiohttp.AiohttpTransport()
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.get(f"http://127.0.0.1:{port}/")
            assert response.text == "hello", response.text
    finally:
        await runner.cleanup()


asyncio.run(fetch_over_loopback())
print("ALL OK")
'''


@pytest.mark.skipif(sys.platform != "linux" or platform.machine() != "x86_64",
                    reason="the seccomp emulation is written for Linux x86-64")
@pytest.mark.parametrize("mode", ["seccomp", "prctl"])
def test_dependencies_work_with_memory_deny_write_execute(tmp_path: Path, mode: str) -> None:
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    result = subprocess.run([sys.executable, str(script), mode], capture_output=True,
                            text=True, timeout=120, check=False)
    if result.returncode == 77:
        pytest.skip(f"cannot install the {mode} restriction on this kernel")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ALL OK" in result.stdout
