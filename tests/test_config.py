"""Config loading and validation, and `monitor check`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config import load_config, parse_duration
from monitor.configschema import CHANNEL_KEYS, FEED_KEYS, MONITOR_KEYS, WATCH_KEYS, WATCHLIST_KEYS
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "example.toml"


def monitor_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("10m", 600), ("1h", 3600), ("1h30m", 5400), ("2d", 172800), (45, 45),
    ("500ms", 0.5), ("1w", 604800),
], ids=str)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10 minutes", "", "m", "-5s", "0s", True], ids=repr)
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_example_config_checks_ok() -> None:
    result = monitor_cli("check", "-c", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "ok (1 feeds" in result.stdout


def test_demo_config_checks_ok() -> None:
    result = monitor_cli("check", "-c", str(ROOT / "config" / "demo.toml"))
    assert result.returncode == 0, result.stderr


BAD = """
[monitor]
poll_intervall = "10m"

[[feeds]]
name = "wire"
url = "http://127.0.0.1:1/feed"
interval = "10 minutes"

[[watch]]
name = "r"
query = '"supply chain risk"'
channels = ["nope"]
"""


def test_bad_config_names_every_key_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BAD)
    result = monitor_cli("check", "-c", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3, lines
    assert any("monitor.poll_intervall: unknown key" in ln for ln in lines)
    assert any(ln.startswith("monitor: feeds[0].interval:") for ln in lines)
    assert any("watch[0].channels[0]: unknown channel 'nope'" in ln for ln in lines)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("snippet", "expected"), [
    ('[[watch]]\nname = "r"\nquery = \'"supply chain\'\n', r"watch\[0\]\.query: .*quote"),
    ('[channels.h]\ntype = "webhook"\nurl = "http://x"\nsecret = "s3cret"\n',
     r"channels\.h\.secret: secrets are never inline"),
    ('[channels.h]\ntype = "pigeon"\n', r"channels\.h\.type: must be one of"),
    ('[[feeds]]\nurl = "ftp://x/feed"\n', r"feeds\[0\]\.url: must start with http"),
    ('[[watch]]\nname = "r"\nquery = "x"\ndigest = "every day"\n', r"watch\[0\]\.digest"),
    ('[monitor]\ntimezone = "Mars/Olympus"\n', r"monitor\.timezone: unknown time zone"),
    ("[[feeds]]\n", r"feeds\[0\]\.url: is required"),
    ("not toml [", r"invalid TOML"),
], ids=["query", "inline-secret", "channel-type", "feed-scheme", "cron", "tz", "required",
        "toml"])
def test_config_problems(tmp_path: Path, snippet: str, expected: str) -> None:
    from monitor.daemon import load

    path = tmp_path / "c.toml"
    path.write_text(snippet)
    with pytest.raises(ConfigError) as info:
        load(str(path))
    assert any(re.search(expected, p) for p in info.value.problems), info.value.problems


def test_watchlist_and_include(tmp_path: Path) -> None:
    from monitor.daemon import load

    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "companies.txt").write_text(
        "# companies\nAnthropic\n\n\"Open AI\" OR OpenAI\n\"unbalanced\n")
    (tmp_path / "lists" / "more.toml").write_text(
        '[[watchlist]]\nname = "co"\nfile = "companies.txt"\nchannels = ["h"]\n')
    (tmp_path / "main.toml").write_text(
        'include = ["lists/*.toml"]\n[channels.h]\ntype = "webhook"\nurl = "http://x/"\n')
    with pytest.raises(ConfigError) as info:
        load(str(tmp_path / "main.toml"))
    assert [p for p in info.value.problems if p.startswith("companies.txt:5: ")], \
        info.value.problems
    (tmp_path / "lists" / "companies.txt").write_text("Anthropic\n# c\n\"Open AI\" OR OpenAI\n")
    config = load(str(tmp_path / "main.toml"))
    assert [(w.name, w.query, w.channels) for w in config.watches] == [
        ("co:1", "Anthropic", ("h",)), ("co:3", '"Open AI" OR OpenAI', ("h",))]


def test_secrets_from_file_and_env(tmp_path: Path) -> None:
    secret = tmp_path / "smtp"
    secret.write_text("hunter2\n")
    path = tmp_path / "c.toml"
    path.write_text(f"""
[channels.m]
type = "email"
to = ["a@example.org"]
from = "m@example.org"
smtp_host = "127.0.0.1"
password_file = "{secret}"
[channels.h]
type = "webhook"
url = "http://127.0.0.1/"
secret_env = "HOOK_SECRET"
""")
    config = load_config(path, environ={"HOOK_SECRET": "a b"})
    assert config.channels["m"].secret("password") == "hunter2"
    assert config.channels["h"].secret("secret", {"HOOK_SECRET": "a b"}) == "a b"
    assert "hunter2" not in repr(config)


def test_every_key_is_documented_in_example() -> None:
    text = EXAMPLE.read_text()
    keys = set(MONITOR_KEYS) | set(FEED_KEYS) | set(WATCH_KEYS) | set(WATCHLIST_KEYS)
    keys |= {k for spec in CHANNEL_KEYS.values() for k in spec}
    missing = sorted(k for k in keys if not re.search(rf"^#?\s*{k}\s*=", text, re.M))
    assert not missing, f"keys missing from config/example.toml: {missing}"


def test_every_key_is_named_in_the_readme() -> None:
    text = (ROOT / "README.md").read_text()
    keys = set(MONITOR_KEYS) | set(FEED_KEYS) | set(WATCH_KEYS) | set(WATCHLIST_KEYS)
    keys |= {k for spec in CHANNEL_KEYS.values() for k in spec} | {"include"}
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert not missing, f"keys missing from README.md: {missing}"
