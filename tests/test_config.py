"""Config loading and validation, and `monitor check`."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config import (
    CHANNEL_KEYS,
    FEED_KEYS,
    MONITOR_KEYS,
    RESTART_KEYS,
    WATCH_KEYS,
    WATCHLIST_KEYS,
    AppriseSettings,
    EmailSettings,
    MonitorSettings,
    WebhookSettings,
    load_config,
    parse_duration,
)
from monitor.config.durations import parse_age
from monitor.config.validate import USER_KEYS
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


@pytest.mark.parametrize("text", ["10 minutes", "", "m", "-5s", "0s", True, math.inf, math.nan,
                                  10**400, "9" * 400 + "d"], ids=lambda t: repr(t)[:20])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("age", [math.inf, math.nan, 1e999, 10**400], ids=lambda t: repr(t)[:20])
def test_an_age_is_finite(age: object) -> None:
    """TOML's ``inf``/``nan`` and JSON's ``1e999`` are no age: stored, no JSON could show
    the rule again (``/api/rules`` answered 500 for every rule)."""
    with pytest.raises(ValueError, match="expected an age"):
        parse_age(age)


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
        ("co: Anthropic", "Anthropic", ("h",)),
        ('co: "Open AI" OR OpenAI', '"Open AI" OR OpenAI', ("h",))]


WATCHLIST_MAIN = """
[[watchlist]]
name = "orgs"
file = "orgs.txt"
channels = ["h"]
[channels.h]
type = "webhook"
url = "http://127.0.0.1/"
secret_env = "HOOK"
"""


def watchlist_rules(tmp_path: Path, lines: str) -> dict[str, str]:
    """Rule name -> query for a watchlist file holding ``lines``."""
    from monitor.daemon import load

    (tmp_path / "orgs.txt").write_text(lines)
    (tmp_path / "main.toml").write_text(WATCHLIST_MAIN)
    return {w.name: w.query for w in load(str(tmp_path / "main.toml")).watches}


def test_watchlist_rules_are_named_by_query_not_by_line(tmp_path: Path) -> None:
    before = watchlist_rules(tmp_path, '"Acme Corp"\nGlobex | Globex OR "Globex Inc"\n'
                                       "/acme|globex/ widget*\n")
    assert before == {
        'orgs: "Acme Corp"': '"Acme Corp"',
        "orgs: Globex": 'Globex OR "Globex Inc"',  # the NAME | QUERY form
        "orgs: /acme|globex/ widget*": "/acme|globex/ widget*",  # a pipe in a regex: a query
    }
    after = watchlist_rules(tmp_path, '# new comment\nInitech\n\n"Acme Corp"\n'
                                      "/acme|globex/ widget*\nGlobex | Globex OR \"Globex Inc\"\n")
    assert after == {**before, "orgs: Initech": "Initech"}  # inserted lines rename nothing


def test_long_watchlist_queries_get_short_stable_names(tmp_path: Path) -> None:
    long_a = " OR ".join(f'"company {i}"' for i in range(40))
    long_b = long_a + ' OR "company 40"'  # the same first hundred characters
    names = watchlist_rules(tmp_path, f"{long_a}\n{long_b}\n")
    assert len(names) == 2 and all(len(n) <= len("orgs: ") + 100 for n in names)
    assert set(names.values()) == {long_a, long_b}
    assert watchlist_rules(tmp_path, f"x\n{long_b}\n{long_a}\n").keys() - {"orgs: x"} \
        == names.keys()


def test_duplicate_watchlist_lines_are_an_error_naming_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        watchlist_rules(tmp_path, "Acme\nGlobex\n# c\nAcme\nA | Globex\nA | Initech\n")
    assert info.value.problems == [
        "orgs.txt:4: duplicate rule name 'orgs: Acme' (also at orgs.txt:1)",
        "orgs.txt:6: duplicate rule name 'orgs: A' (also at orgs.txt:5)",
    ]


@pytest.mark.parametrize("stored", [
    b"hunter2\n",
    b"\xef\xbb\xbfhunter2\r\n",  # saved by Notepad: the BOM went into the SMTP login
], ids=["plain", "byte-order-mark"])
def test_secrets_from_file_and_env(tmp_path: Path, stored: bytes) -> None:
    secret = tmp_path / "smtp"
    secret.write_bytes(stored)
    path = tmp_path / "c.toml"
    path.write_text(f"""
[[feeds]]
url = "http://127.0.0.1/feed"
[channels.m]
type = "email"
to = ["a@example.org"]
from = "m@example.org"
smtp_host = "127.0.0.1"
username = "m"
password_file = "{secret}"
[channels.h]
type = "webhook"
url = "http://127.0.0.1/"
secret_env = "HOOK_SECRET"
""")
    config = load_config(path, environ={"HOOK_SECRET": "a b"})
    assert config.channels["m"].password.read() == "hunter2"
    assert config.channels["h"].secret.read({"HOOK_SECRET": "a b"}) == "a b"
    assert "hunter2" not in repr(config)


def test_every_key_is_documented_in_example() -> None:
    text = EXAMPLE.read_text()
    keys = set(MONITOR_KEYS) | set(FEED_KEYS) | set(WATCH_KEYS) | set(WATCHLIST_KEYS)
    keys |= {k for spec in CHANNEL_KEYS.values() for k in spec} | set(USER_KEYS)
    missing = sorted(k for k in keys if not re.search(rf"^#?\s*{k}\s*=", text, re.M))
    assert not missing, f"keys missing from config/example.toml: {missing}"


def test_every_key_is_named_in_the_readme() -> None:
    text = (ROOT / "README.md").read_text()
    keys = set(MONITOR_KEYS) | set(FEED_KEYS) | set(WATCH_KEYS) | set(WATCHLIST_KEYS)
    keys |= {k for spec in CHANNEL_KEYS.values() for k in spec} | {"include"} | set(USER_KEYS)
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert not missing, f"keys missing from README.md: {missing}"


# -- relative paths resolve against the config file's folder ---------------------------

def test_relative_paths_resolve_against_the_config_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "etc"
    (conf / "secrets").mkdir(parents=True)
    (conf / "secrets" / "hook").write_text("s3cret\n")
    (conf / "secrets" / "web").write_text("t0ken\n")
    (conf / "orgs.txt").write_text("Acme\n")
    (conf / "more.toml").write_text('[[feeds]]\nurl = "http://127.0.0.1/feed"\n')
    (conf / "monitor.toml").write_text("""
include = ["more.toml"]
[monitor]
database = "sqlite:///data/monitor.db"
web_token_file = "secrets/web"
[[watchlist]]
name = "orgs"
file = "orgs.txt"
channels = ["h"]
[channels.h]
type = "webhook"
url = "http://127.0.0.1/"
secret_file = "secrets/hook"
""")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    config = load_config("../etc/monitor.toml")
    assert config.monitor.database == f"sqlite:///{conf}/data/monitor.db"
    assert config.monitor.web.token == "t0ken"
    assert config.channels["h"].secret.read() == "s3cret"
    assert [w.query for w in config.watches] == ["Acme"] and len(config.feeds) == 1


@pytest.mark.parametrize(("written", "expected"), [
    (None, "sqlite:///{conf}/monitor.db"),  # the default is relative too
    ("sqlite:///db/m.db?timeout=5", "sqlite:///{conf}/db/m.db?timeout=5"),
    ("sqlite:////var/lib/monitor/monitor.db", "sqlite:////var/lib/monitor/monitor.db"),
    ("sqlite:///:memory:", "sqlite:///:memory:"),
    ("postgresql+psycopg://u@127.0.0.1/db", "postgresql+psycopg://u@127.0.0.1/db"),
], ids=["default", "relative", "absolute", "memory", "postgresql"])
def test_database_urls(tmp_path: Path, written: str | None, expected: str) -> None:
    line = f'[monitor]\ndatabase = "{written}"\n' if written else ""
    (tmp_path / "c.toml").write_text(line + '[[feeds]]\nurl = "http://127.0.0.1/f"\n')
    config = load_config(tmp_path / "c.toml")
    assert config.monitor.database == expected.format(conf=tmp_path)


# -- `monitor check` catches what the daemon would refuse or silently ignore -----------

FEED = '[[feeds]]\nurl = "http://127.0.0.1/feed"\n'
HOOK = '[channels.h]\ntype = "webhook"\nurl = "http://127.0.0.1/"\nsecret_env = "X"\n'


@pytest.mark.parametrize(("snippet", "expected"), [
    ('[monitor]\nweb = "8181"\n' + FEED,
     "monitor.web: expected HOST:PORT like 127.0.0.1:8080, got '8181' "
     "(to listen on port 8181 of this machine only: 127.0.0.1:8181)"),
    ('[monitor]\nweb = "0.0.0.0:8080"\n' + FEED,
     "monitor.web: 0.0.0.0:8080 is reachable from other machines: set web_token_file or "
     "web_token_env (the dashboard then asks for that bearer token), or listen on 127.0.0.1"),
    ('[monitor]\ndatabase = "postgres://u@db.example/monitor"\n' + FEED,
     "monitor.database: postgres:// is not a SQLAlchemy URL: write "
     "postgresql+psycopg://user@host/db"),
    ('[monitor]\ndatabase = "postgresql+nosuchdriver://u@db.example/monitor"\n' + FEED,
     "monitor.database: the driver of postgresql+nosuchdriver:// is not installed: write "
     "postgresql+psycopg://user@host/db"),
    ('[monitor]\ndatabase = "monitor.db"\n' + FEED,
     "monitor.database: not a database URL; expected sqlite:////var/lib/monitor/monitor.db "
     "or postgresql+psycopg://user@host/db"),
    ('[monitor]\ndatabase = "mysql://u:pw@db.example/m"\n' + FEED,
     "monitor.database: unsupported database 'mysql'; expected "
     "sqlite:////var/lib/monitor/monitor.db or postgresql+psycopg://user@host/db"),
    (FEED + '[channels.h]\ntype = "webhook"\nurl = "hooks.example.org/x"\nsecret_env = "X"\n',
     "channels.h.url: must start with http:// or https://"),
    (FEED + '[[watch]]\nname = "r"\nquery = "acme"\n',
     "watch[0].channels: is required: a rule without channels never alerts "
     "(write channels = [] to only record its matches for the dashboard)"),
    (FEED + '[[watchlist]]\nname = "l"\nfile = "l.txt"\n',
     "watchlist[0].channels: is required: a rule without channels never alerts "
     "(write channels = [] to only record its matches for the dashboard)"),
    (FEED + '[[feeds]]\nname = "again"\nurl = "http://127.0.0.1/feed"\n',
     "feeds[1].url: duplicate feed URL 'http://127.0.0.1/feed' (also at feeds[0].url)"),
    ('[monitor]\npoll_interval = "1m"\n' + FEED,
     "monitor.poll_interval: 60s is below min_poll_interval (120s), so it could never "
     "apply: raise it or lower min_poll_interval"),
    ("# nothing here yet\n",
     "{path}: nothing to do: no [[feeds]] and no [[watch]] or [[watchlist]]"),
    ('[monitor]\npoll_intervall = "10m"\n' + FEED,
     "monitor.poll_intervall: unknown key (did you mean poll_interval?)"),
    (FEED + HOOK + '[[watch]]\nname = "r"\nquery = "x"\nchanels = ["h"]\n',
     "watch[0].chanels: unknown key (did you mean channels?)"),
    (FEED + '[[feed]]\nurl = "http://127.0.0.1/other"\n',
     "feed: unknown key (did you mean feeds?)"),
    (FEED + '[channels.x]\ntype = ["email"]\n',
     "channels.x.type: must be one of email, webhook, apprise, got ['email']"),
], ids=["web-port-only", "web-no-token", "postgres-scheme", "no-driver", "not-a-url",
        "unsupported", "webhook-scheme", "watch-no-channels", "watchlist-no-channels",
        "duplicate-url", "poll-below-min", "empty", "did-you-mean", "did-you-mean-watch",
        "did-you-mean-top", "channel-type-not-a-string"])
def test_check_reports_each_problem_on_one_line(tmp_path: Path, snippet: str,
                                                expected: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(snippet)
    (tmp_path / "l.txt").write_text("acme\n")
    result = monitor_cli("check", "-c", str(path))
    assert result.returncode == 2, result.stdout
    assert result.stderr.splitlines() == [f"monitor: {expected.format(path=path)}"]


def test_the_daemon_refuses_what_check_refuses(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[monitor]\nweb = "8181"\n' + FEED)
    checked, run = monitor_cli("check", "-c", str(path)), monitor_cli("run", "-c", str(path))
    assert checked.returncode == run.returncode == 2
    assert checked.stderr == run.stderr and "monitor.web: expected HOST:PORT" in run.stderr


def test_an_empty_channel_list_only_records_matches(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(FEED + '[[watch]]\nname = "r"\nquery = "acme"\nchannels = []\n')
    assert load_config(path).watches[0].channels == ()


def test_a_webhook_without_secret_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(FEED + '[channels.h]\ntype = "webhook"\nurl = "https://127.0.0.1/h"\n')
    result = monitor_cli("check", "-c", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "monitor: warning: channels.h: no secret_file or secret_env: deliveries go unsigned, "
        "so receivers cannot tell them from forgeries"]


def test_problems_in_included_files_name_the_file_and_its_index(tmp_path: Path) -> None:
    (tmp_path / "feeds.toml").write_text(
        '[monitor]\nweb = "x"\n'
        '[[feeds]]\nurl = "http://127.0.0.1/a"\n[[feeds]]\nurl = "http://127.0.0.1/b"\n'
        '[[feeds]]\nurl = "http://127.0.0.1/main"\nnmae = "x"\n')
    (tmp_path / "rules.toml").write_text(
        '[[watch]]\nname = "ok"\nquery = "a"\nchannels = ["h"]\n'
        '[[watch]]\nname = "main"\nquery = "b"\nchannels = ["nope"]\nfeeds = ["nofeed"]\n')
    (tmp_path / "main.toml").write_text(
        'include = ["feeds.toml", "rules.toml"]\n' + HOOK
        + '[[feeds]]\nurl = "http://127.0.0.1/main"\n'
        + '[[watch]]\nname = "main"\nquery = "c"\nchannels = ["h"]\n')
    result = monitor_cli("check", "-c", str(tmp_path / "main.toml"))
    assert result.returncode == 2
    assert sorted(result.stderr.splitlines()) == sorted(f"monitor: {line}" for line in [
        "feeds.toml: monitor: allowed only in the main config file",
        "feeds.toml: feeds[2].nmae: unknown key (did you mean name?)",
        "feeds.toml: feeds[2].name: duplicate feed name 'http://127.0.0.1/main' "
        "(also at feeds[0].name)",
        "feeds.toml: feeds[2].url: duplicate feed URL 'http://127.0.0.1/main' "
        "(also at feeds[0].url)",
        "rules.toml: watch[1].name: duplicate rule name 'main' (also at watch[0].name)",
        "rules.toml: watch[1].channels[0]: unknown channel 'nope'",
        "rules.toml: watch[1].feeds[0]: no feed or tag named 'nofeed'",
    ])


def test_the_daemon_logs_what_check_warns_about(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """A warning `check` prints is in the daemon's journal too, at start and on reload."""
    from monitor.daemon import Daemon, load

    path = tmp_path / "c.toml"
    path.write_text(f'[monitor]\ndatabase = "sqlite:///{tmp_path / "m.db"}"\nweb = ""\n' + FEED
                    + '[channels.h]\ntype = "webhook"\nurl = "https://127.0.0.1/h"\n'
                    + '[[watch]]\nname = "trade"\nquery = "tariffs or sanctions"\n'
                    + 'channels = ["h"]\n')
    caplog.set_level("WARNING", logger="monitor.daemon")
    daemon = Daemon(load(str(path)), str(path))
    try:
        lines = [r.getMessage() for r in caplog.records]
        assert any(line.startswith("event=config_warning warning='channels.h: no secret_file")
                   for line in lines), lines
        assert any(line.startswith("event=query_warning rule='trade' warning='column 9: ")
                   and "did you mean OR?" in line for line in lines), lines
    finally:
        daemon.services.extractor.close()
        daemon.services.store.close()


# -- one declaration per key; grouped settings; no import cycle ------------------------

def _written(kind: object, key: str) -> tuple[str, object]:
    """A TOML value of ``kind`` unlike any default, and the value it loads as."""
    if kind in ("duration", "age"):
        return '"7777s"', 7777.0
    if kind is bool:
        return "true", True
    if kind is int:
        return "7", 7
    if kind is list:
        return f'["x-{key}"]', (f"x-{key}",)
    return f'"x-{key}"', f"x-{key}"


@pytest.mark.parametrize("key", sorted(k for k in MONITOR_KEYS if k not in {
    "database", "web", "timezone", "health_channel", "web_token_file", "web_token_env",
    "poll_interval", "min_poll_interval", "max_poll_interval", "silent_factor",
    "extract_memory_mb", "public_url"}))
def test_each_monitor_key_lands_where_its_declaration_says(tmp_path: Path, key: str) -> None:
    """MONITOR_KEYS is derived from the settings' fields: each key it lists is accepted and
    its value is read back through the grouped settings, by the same name."""
    text, value = _written(MONITOR_KEYS[key], key)
    (tmp_path / "c.toml").write_text(f"[monitor]\n{key} = {text}\n" + FEED)
    monitor = load_config(tmp_path / "c.toml").monitor
    assert monitor.value(key) == value
    assert MonitorSettings().value(key) != value


def test_monitor_keys_are_grouped_by_what_they_configure(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t0ken\n")
    (tmp_path / "c.toml").write_text(
        '[monitor]\nconnect_timeout = "3s"\nmin_poll_interval = "1m"\npoll_interval = "5m"\n'
        'delivery_horizon = "1d"\nlease = "2m"\nsilent_factor = 3\nweb = "0.0.0.0:8181"\n'
        'web_token_file = "token"\n' + FEED)
    m = load_config(tmp_path / "c.toml").monitor
    assert (m.fetch.connect_timeout, m.poll.min_poll_interval, m.poll.poll_interval) \
        == (3.0, 60.0, 300.0)
    assert (m.delivery.delivery_horizon, m.cluster.lease, m.health.silent_factor) \
        == (86400.0, 120.0, 3)
    assert (m.web.listen, m.web.token) == ("0.0.0.0:8181", "t0ken")
    assert "t0ken" not in repr(m)
    assert set(RESTART_KEYS) <= {k.removesuffix("_file").removesuffix("_env")
                                 for k in MONITOR_KEYS}


def test_channel_tables_are_typed_per_channel_type(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(FEED + """
[channels.m]
type = "email"
to = ["a@example.org"]
from = "m@example.org"
smtp_host = "127.0.0.1"
smtp_port = 2525
username = "m"
password_env = "SMTP_PASSWORD"
[channels.h]
type = "webhook"
url = "http://127.0.0.1/h"
secret_file = "hook"
timeout = "4s"
[channels.a]
type = "apprise"
urls = ["json://127.0.0.1/x"]
""")
    channels = load_config(tmp_path / "c.toml", environ={"SMTP_PASSWORD": "pw"}).channels
    m, h, a = channels["m"], channels["h"], channels["a"]
    assert isinstance(m, EmailSettings) and isinstance(h, WebhookSettings)
    assert isinstance(a, AppriseSettings)
    assert (m.to, m.sender, m.smtp_port, m.starttls, m.timeout) \
        == (("a@example.org",), "m@example.org", 2525, False, 30.0)
    assert m.password.read({"SMTP_PASSWORD": "pw"}) == "pw"
    assert (h.url, h.secret.file, h.timeout) == ("http://127.0.0.1/h", str(tmp_path / "hook"), 4.0)
    assert a.urls == ("json://127.0.0.1/x",) and not a.more_urls


@pytest.mark.parametrize(("options", "expected"), [
    ('starttls = true\ntls = true\nusername = "m"\npassword_env = "P"\n',
     "channels.m: email channel: starttls and use_tls exclude each other"),
    ('username = "m"\n', "channels.m: email channel: username and password go together"),
    ('password_env = "P"\n', "channels.m: email channel: username and password go together"),
], ids=["starttls-and-tls", "username-alone", "password-alone"])
def test_the_daemon_refuses_email_options_that_check_refuses(
        tmp_path: Path, options: str, expected: str) -> None:
    """Email cross-checks live in EmailSettings: `check` and the daemon's start-up both
    refuse them, with the same line (the daemon used to start with the channel unusable)."""
    path = tmp_path / "c.toml"
    path.write_text(FEED + '[channels.m]\ntype = "email"\nto = ["a@example.org"]\n'
                    'from = "m@example.org"\nsmtp_host = "127.0.0.1"\n' + options)
    checked, run = monitor_cli("check", "-c", str(path)), monitor_cli("run", "-c", str(path))
    assert checked.returncode == run.returncode == 2
    assert checked.stderr == run.stderr == f"monitor: {expected}\n"


def test_email_without_recipients_is_one_line_and_a_missing_key_only_its_own(
        tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(FEED + '[channels.m]\ntype = "email"\nto = []\nfrom = "m@example.org"\n'
                    'smtp_host = "127.0.0.1"\n[channels.n]\ntype = "email"\n'
                    'from = "m@example.org"\nsmtp_host = "127.0.0.1"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == ["channels.m: email channel needs at least one recipient",
                                   "channels.n.to: is required"]


def test_an_unreadable_web_token_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "token").write_bytes(b"\xff\xfe binary")
    path = tmp_path / "c.toml"
    path.write_text('[monitor]\nweb_token_file = "token"\n' + FEED)
    result = monitor_cli("check", "-c", str(path))
    assert result.returncode == 2
    assert result.stderr == (f"monitor: monitor.web_token_file: cannot read {tmp_path}/token: "
                             "not UTF-8 text\n")


def test_a_config_saved_in_latin1_is_one_line_and_a_reload_keeps_the_old(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from monitor.daemon import Daemon, load

    path = tmp_path / "c.toml"
    head = f'[monitor]\ndatabase = "sqlite:///{tmp_path / "m.db"}"\nweb = ""\n'
    path.write_text(head + FEED, encoding="utf-8")
    daemon = Daemon(load(str(path)), str(path))
    try:
        # a feed named Café, the file saved by an editor in Latin-1: it was a traceback
        # (exit 1) from `monitor check` and a reload that raised instead of keeping the old
        path.write_bytes((head + FEED + 'name = "Caf\u00e9"\n').encode("latin-1"))
        result = monitor_cli("check", "-c", str(path))
        assert result.returncode == 2
        assert result.stderr == (f"monitor: {path}: not UTF-8 text (byte 0xe9 on line 6); "
                                 "TOML files are UTF-8\n")
        caplog.set_level("ERROR", logger="monitor.daemon")
        daemon.reload()
        assert daemon.reload_failed is not None and "not UTF-8" in daemon.reload_failed[0]
        assert [r.getMessage() for r in caplog.records if "reload_failed" in r.getMessage()]
        assert daemon.config.feeds[0].url == "http://127.0.0.1/feed"
    finally:
        daemon.services.extractor.close()
        daemon.services.store.close()


def test_a_config_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    # Windows Notepad saves UTF-8 with a BOM: it was "invalid TOML: Invalid statement (at
    # line 1, column 1)"
    path = tmp_path / "c.toml"
    path.write_bytes(b"\xef\xbb\xbf" + (FEED + 'name = "Caf\u00e9"\n').encode())
    result = monitor_cli("check", "-c", str(path))
    assert result.returncode == 0, result.stderr
    assert load_config(path).feeds[0].name == "Caf\u00e9"


def test_a_reload_names_grouped_keys_that_need_a_restart(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from monitor.daemon import Daemon, load

    path = tmp_path / "c.toml"
    head = f'[monitor]\ndatabase = "sqlite:///{tmp_path / "m.db"}"\nweb = ""\n'
    path.write_text(head + FEED)
    daemon = Daemon(load(str(path)), str(path))
    try:
        path.write_text(head + 'connect_timeout = "3s"\nbackfill = 5\n' + FEED)
        caplog.set_level("WARNING", logger="monitor.daemon")
        daemon.reload()
        assert daemon.config.monitor.poll.backfill == 5  # applied; no restart needed
        assert [r.getMessage() for r in caplog.records
                if "reload_restart_needed" in r.getMessage()] == [
            "event=reload_restart_needed key=connect_timeout running=10.0 configured=3.0"]
    finally:
        daemon.services.extractor.close()
        daemon.services.store.close()


def _config_modules() -> dict[str, set[str]]:
    """Each module of the config group (monitor/config/, or monitor/config*.py as it once
    was) -> the monitor modules it imports."""
    from tests.test_layers import PACKAGE, imports

    out = {}
    for path in sorted([*PACKAGE.glob("config*.py"), *(PACKAGE / "config").glob("*.py")]):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(("monitor", *parts)).removesuffix(".__init__")] = imports(path)
    return out


def test_the_config_package_has_no_import_cycle() -> None:
    """Its modules import each other bottom up; none imports the package's public face."""
    graph = _config_modules()
    assert not [m for m, targets in graph.items()
                if m != "monitor.config" and "monitor.config" in targets]
    order: list[str] = []
    while len(order) < len(graph):
        ready = [m for m in graph if m not in order
                 and all(t in order or t not in graph or t == m for t in graph[m])]
        assert ready, f"import cycle among {sorted(set(graph) - set(order))}"
        order += ready


# -- languages and max_age ----------------------------------------------------------------

LANG_AGE = """
[[feeds]]
name = "wire"
url = "https://example.org/feed"
{feed}

[[watch]]
name = "r"
query = "Lieferkette"
channels = []
{watch}
"""


@pytest.mark.parametrize(("feed", "watch", "languages", "feed_age", "rule_age"), [
    ("", "", (), 7 * 86400.0, 7 * 86400.0),
    ('max_age = "36h"', "", (), 36 * 3600.0, 36 * 3600.0),
    ('max_age = "36h"', 'max_age = "1d"', (), 36 * 3600.0, 86400.0),
    ("", 'max_age = "off"', (), 7 * 86400.0, 0.0),
    ("max_age = 0", "", (), 0.0, 0.0),
    ('max_age = "0"', 'max_age = "3d"', (), 0.0, 3 * 86400.0),
    ("", 'languages = ["DE", "fr", "de"]', ("de", "fr"), 7 * 86400.0, 7 * 86400.0),
    ("", "", (), 3600.0, 3600.0),  # with [monitor] max_age = "1h" (see below)
], ids=["defaults", "feed", "rule-overrides-feed", "rule-off", "feed-off-number",
        "feed-off-rule-on", "languages-lowered-and-deduplicated", "monitor-default"])
def test_languages_and_max_age(tmp_path: Path, feed: str, watch: str,
                               languages: tuple[str, ...], feed_age: float,
                               rule_age: float) -> None:
    path = tmp_path / "c.toml"
    top = '[monitor]\nmax_age = "1h"\n' if feed_age == 3600.0 else ""
    path.write_text(top + LANG_AGE.format(feed=feed, watch=watch))
    config = load_config(path)
    rule, wire = config.watches[0], config.feeds[0]
    assert rule.languages == languages
    assert (wire.max_age, rule.age_limit(wire)) == (feed_age, rule_age)


@pytest.mark.parametrize(("feed", "watch", "expected"), [
    ("", 'languages = ["english"]',
     r"^watch\[0\]\.languages\[0\]: 'english' is not a 2-letter language code"),
    ("", 'languages = ["de", "d1"]', r"^watch\[0\]\.languages\[1\]: 'd1' is not"),
    ("", 'languages = "de"', r"^watch\[0\]\.languages: expected an array"),
    ('max_age = "a week"', "", r"^feeds\[0\]\.max_age: expected an age like 7d or 36h"),
    ("", 'max_age = "-1d"', r"^watch\[0\]\.max_age: expected an age"),
    ("", "max_age = true", r"^watch\[0\]\.max_age: expected an age"),
], ids=["long-code", "digit", "not-a-list", "feed-age-words", "negative", "bool"])
def test_bad_languages_and_max_age(tmp_path: Path, feed: str, watch: str,
                                   expected: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(LANG_AGE.format(feed=feed, watch=watch))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert any(re.search(expected, p) for p in info.value.problems), info.value.problems
