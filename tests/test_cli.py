"""The `monitor` command: match, backtest, alerts, feeds, extract — exit codes and output."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitor.cli import _parser
from monitor.daemon import Daemon, load
from monitor.testing import SEED_TITLE, MailServer, NewsServer, SeedArticle, WebhookReceiver
from tests.helpers import SECRET, write_config

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "ap-2026-02-26-anthropic-pentagon.txt"
PAGE = ROOT / "tests" / "data" / "pages" / "ap-anthropic-pentagon.html"
NEAR_MISS = ROOT / "seeds" / "articles" / "port-congestion.txt"


def monitor(*args: str, stdin: str | None = None, cwd: Path = ROOT,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    if env is None:
        env = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run([sys.executable, "-m", "monitor", *args], input=stdin, cwd=cwd,
                          capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize(("args", "stdin", "code", "matched"), [
    (["-q", '"supply chain risk"', str(SEED), str(NEAR_MISS)], None, 0, [str(SEED)]),
    (["-q", '"supply chain risk"', str(NEAR_MISS)], None, 1, []),
    (["-q", "title:pentagon", str(PAGE)], None, 0, [str(PAGE)]),  # HTML: title extracted
    (["-q", "title:parnell", str(PAGE)], None, 1, []),  # only in the body
    (["-q", "ANTHROPIC", "--case-sensitive", str(SEED)], None, 1, []),
    (["-q", "supply NEAR/1 risk"], "a supply-chain risk", 0, ["-"]),
], ids=["text", "near-miss", "html-title", "html-body-only", "case-sensitive", "stdin"])
def test_match(args: list[str], stdin: str | None, code: int, matched: list[str]) -> None:
    result = monitor("match", *args, stdin=stdin)
    assert result.returncode == code, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == matched
    for line in lines:
        assert all(t["count"] == len(t["spans"]) >= 1 for t in line["terms"])


@pytest.mark.parametrize(("query", "message"), [
    ('"supply chain', "unbalanced quote at column 1"),
    ("NOT risk", "no term that must occur"),
    ("a NEAR b", "NEAR needs a number"),
], ids=["quote", "pure-negative", "near"])
def test_match_bad_query_is_one_line_exit_2(query: str, message: str) -> None:
    result = monitor("match", "-q", query, str(SEED))
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_match_spans_point_at_the_original_words() -> None:
    result = monitor("match", "-q", '"Defense Production Act"', str(SEED))
    (line,) = [json.loads(x) for x in result.stdout.splitlines()]
    text = SEED.read_text()
    for span in line["terms"][0]["spans"]:
        assert text[span["start"]:span["end"]] == "Defense Production Act"


def test_extract_file_prints_the_article() -> None:
    result = monitor("extract", str(PAGE))
    assert result.returncode == 0, result.stderr
    article = json.loads(result.stdout)
    assert article["title"] == SEED_TITLE and "Defense Production Act" in article["text"]


def test_extract_missing_file_is_exit_2() -> None:
    result = monitor("extract", "/nonexistent/page.html")
    assert result.returncode == 2 and "cannot read" in result.stderr


async def test_backtest_alerts_and_feeds_over_a_real_run(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    hook.script = [400]  # the first delivery fails for good
    path = write_config(tmp_path, news, None, hook)
    daemon = Daemon(load(str(path)), str(path))
    try:
        await daemon.run_once()
    finally:
        await daemon.close()
    cfg = ["-c", str(path)]
    hits = monitor("backtest", *cfg, "-q", '"supply chain"')
    assert hits.returncode == 0, hits.stderr
    found = [json.loads(line) for line in hits.stdout.splitlines()]
    titles = sorted(h["article"]["title"] for h in found)
    assert titles == sorted([SEED_TITLE, "Port congestion eases as shipping schedules return "
                             "to normal"])
    assert all(h["terms"][0]["snippets"][0]["text"] and h["article"]["url"].startswith(news.base)
               for h in found)
    assert monitor("backtest", *cfg, "-q", "zebra").returncode == 1

    failed = monitor("alerts", *cfg, "--failed")
    assert failed.returncode == 0 and len(failed.stdout.splitlines()) == 1
    assert "HTTP 400" in failed.stdout or "400" in failed.stdout
    alert_id = failed.stdout.split()[0]
    retried = monitor("alerts", *cfg, "retry", alert_id)
    assert retried.returncode == 0 and alert_id in retried.stdout
    assert alert_id in monitor("alerts", *cfg, "--pending").stdout
    assert monitor("alerts", *cfg, "retry", "no-such-id").returncode == 2

    feeds = monitor("feeds", *cfg)
    assert feeds.returncode == 0 and "'Demo News' state=ok" in feeds.stdout
    opml = monitor("feeds", *cfg, "export")
    assert opml.returncode == 0 and f"{news.base}/feed.xml" in opml.stdout


async def test_hostile_titles_arrive_inert(
        tmp_path: Path, hook: WebhookReceiver, mail: MailServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    evil = "Defense Production Act\r\nBcc: victim@example.org <script>alert(1)</script> {{ 7*7 }}"
    news = await NewsServer([SeedArticle("evil", evil, "2026-02-26",
                                         "The Defense Production Act was invoked. " * 10)]).start()
    try:
        path = write_config(tmp_path, news, mail, hook)
        daemon = Daemon(load(str(path)), str(path))
        try:
            await daemon.run_once()
        finally:
            await daemon.close()
    finally:
        await news.stop()
    (message,) = mail.messages
    assert message["Bcc"] is None and "\n" not in str(message["Subject"])
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    for part in (html, text, str(message["Subject"])):
        assert "{{ 7*7 }}" in part
    (body,) = hook.bodies()
    assert "{{ 7*7 }}" in body["article"]["title"] and "<script>" in body["article"]["title"]


@pytest.fixture
async def failed_run(tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
                     monkeypatch: pytest.MonkeyPatch
                     ) -> AsyncIterator[tuple[Daemon, list[str]]]:
    """A real run whose every webhook delivery failed for good (400); the receiver now 200s."""
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    hook.script = [400] * 50
    watches = """
[[watch]]
name = "dpa"
query = '"Defense Production Act"'
channels = CHANNELS

[[watch]]
name = "any"
query = '/./'
channels = CHANNELS
"""
    path = write_config(tmp_path, news, None, hook, watches=watches)
    daemon = Daemon(load(str(path)), str(path))
    try:
        await daemon.run_once()
        hook.script = []
        yield daemon, ["-c", str(path)]
    finally:
        await daemon.close()


ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"


async def test_alerts_list_times_and_url_and_no_alerts(
        failed_run: tuple[Daemon, list[str]], news: NewsServer) -> None:
    daemon, cfg = failed_run
    rows = daemon.services.store.list_alerts()
    assert len(rows) >= 3 and {r.status for r in rows} == {"failed"}
    listed = monitor("alerts", *cfg)
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [r.id for r in rows]
    for line, row in zip(lines, rows, strict=True):
        assert re.search(rf" channel=hook created={ISO} sent=- next=- attempts=1 ", line)
        url = row.article.url
        assert url.startswith(news.base) and f" url={url} " in line
    none = monitor("alerts", *cfg, "--sent")
    assert (none.returncode, none.stdout, none.stderr) == (1, "", "no sent alerts\n")
    other = monitor("alerts", *cfg, "--channel", "mail")
    assert (other.returncode, other.stderr) == (1, "no alerts on channel mail\n")

    queued = monitor("alerts", *cfg, "retry", rows[0].id)
    assert queued.returncode == 0
    pending = monitor("alerts", *cfg, "--pending").stdout
    assert re.search(rf"^{rows[0].id}  pending channel=hook created={ISO} sent=- "
                     rf"next={ISO} ", pending)
    await daemon.deliver()
    sent = monitor("alerts", *cfg, "--sent").stdout
    assert re.search(rf"^{rows[0].id}  sent    channel=hook created={ISO} sent={ISO} "
                     r"next=- attempts=2 ", sent)


async def test_alerts_retry_many_failed_and_by_channel(
        failed_run: tuple[Daemon, list[str]]) -> None:
    daemon, cfg = failed_run
    store = daemon.services.store
    rows = store.list_alerts()
    a, b, c = (r.id for r in rows[:3])
    two = monitor("alerts", *cfg, "retry", a, b)
    assert two.returncode == 0
    assert two.stdout == (f"alert {a} queued for delivery on hook\n"
                          f"alert {b} queued for delivery on hook\n")
    mixed = monitor("alerts", *cfg, "retry", c, "no-such-id")
    assert mixed.returncode == 2
    assert mixed.stdout == f"alert {c} queued for delivery on hook\n"
    assert mixed.stderr == "monitor: no unsent alert with id no-such-id\n"

    rest = monitor("alerts", *cfg, "retry", "--failed")
    assert rest.returncode == 0
    assert sorted(line.split()[1] for line in rest.stdout.splitlines()) == \
        sorted(r.id for r in rows[3:])
    assert {r.status for r in store.list_alerts()} == {"pending"}
    again = monitor("alerts", *cfg, "retry", "--failed")
    assert (again.returncode, again.stdout, again.stderr) == (1, "", "no failed alerts\n")

    channel = monitor("alerts", *cfg, "retry", "--channel", "hook")  # failed and pending
    assert channel.returncode == 0 and len(channel.stdout.splitlines()) == len(rows)
    for bad, said in [
        (["retry"], "usage: monitor alerts -c FILE retry ID"),
        (["retry", a, "--failed"], "usage: monitor alerts -c FILE retry ID"),
        (["retry", "--channel", "nope"], "unknown channel 'nope' (configured: hook)"),
        (["retry", "--sent"], "sent alerts are not sent again"),
        (["resend", a], "usage: monitor alerts -c FILE retry ID"),
    ]:
        result = monitor("alerts", *cfg, *bad)
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, bad
        assert result.stderr.startswith(f"monitor: {said}"), result.stderr

    await daemon.deliver()
    assert {r.status for r in store.list_alerts()} == {"sent"}
    done = monitor("alerts", *cfg, "retry", "--channel", "hook")
    assert (done.returncode, done.stderr) == (1, "no failed or pending alerts on channel "
                                                 "hook\n")
    assert monitor("alerts", *cfg, "retry", a).returncode == 2  # sent: nothing to retry


async def test_backtest_limit_limits_results_and_scan_the_articles(
        failed_run: tuple[Daemon, list[str]]) -> None:
    daemon, cfg = failed_run
    stored = len(list(daemon.services.store.iter_articles()))
    assert stored >= 3
    every = monitor("backtest", *cfg, "-q", "/./")
    assert every.returncode == 0 and len(every.stdout.splitlines()) == stored
    assert every.stderr == f"{stored} of {stored} stored article(s) would have alerted\n"
    limited = monitor("backtest", *cfg, "-q", "/./", "--limit", "1")
    assert limited.returncode == 0 and len(limited.stdout.splitlines()) == 1
    assert limited.stderr == (f"{stored} of {stored} stored article(s) would have alerted, "
                              "the first 1 shown\n")
    scanned = monitor("backtest", *cfg, "-q", "/./", "--scan", "2")
    assert scanned.returncode == 0 and len(scanned.stdout.splitlines()) == 2
    assert scanned.stderr == "2 of the 2 newest stored article(s) would have alerted\n"
    assert scanned.stdout.splitlines() == every.stdout.splitlines()[:2]
    for bad in (["--limit", "0"], ["--scan", "-1"], ["--limit", "x"]):
        result = monitor("backtest", *cfg, "-q", "/./", *bad)
        assert result.returncode == 2 and "backtest: error: argument" in result.stderr


def test_alerts_and_backtest_options_have_help() -> None:
    for command, options in (("alerts", ["--pending", "--failed", "--sent", "--channel",
                                         "--limit"]),
                             ("backtest", ["--limit", "--scan"]),
                             ("channels", ["-c"])):
        shown = monitor(command, "--help").stdout
        for option in options:
            line = next(ln for ln in shown.splitlines() if ln.strip().startswith(option))
            rest = line.strip()[len(option):].strip()
            words = rest.split()
            assert words and not (len(words) == 1 and words[0].isupper()), (command, line)
# -- the parser: help everywhere, --version, --log-level anywhere, MONITOR_CONFIG ------

def _all_parsers(parser: argparse.ArgumentParser, name: str = "monitor"
                 ) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(name, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                found += _all_parsers(sub, f"{name} {sub_name}")
    return found


def test_every_option_of_every_command_has_help() -> None:
    parsers = _all_parsers(_parser())
    assert len(parsers) > 10
    missing = [f"{name}: {'/'.join(a.option_strings) or a.dest}"
               for name, parser in parsers for a in parser._actions
               if not isinstance(a, argparse._SubParsersAction)
               and (not a.help or a.help == argparse.SUPPRESS)]
    assert not missing, missing


def test_version_comes_from_the_package_metadata() -> None:
    result = monitor("--version")
    assert result.returncode == 0
    assert result.stdout == f"monitor {importlib.metadata.version('monitor')}\n"


@pytest.mark.parametrize(("argv", "level"), [
    (["alerts", "-c", "f"], "INFO"),
    (["--log-level", "WARNING", "alerts", "-c", "f"], "WARNING"),
    (["alerts", "-c", "f", "--log-level", "DEBUG"], "DEBUG"),
    (["--log-level", "ERROR", "check", "--log-level", "DEBUG"], "DEBUG"),
], ids=["default", "before", "after", "both"])
def test_log_level_before_or_after_the_command(argv: list[str], level: str) -> None:
    assert _parser().parse_args(argv).log_level == level


def test_log_level_after_the_command_sets_logging(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[feeds]]\nurl = "http://127.0.0.1:1/feed"\n')
    result = monitor("check", "-c", str(config), "--log-level", "CRITICAL")
    assert result.returncode == 0, result.stderr
    bad = monitor("check", "-c", str(config), "--log-level", "LOUD")
    assert bad.returncode == 2 and "invalid choice: 'LOUD'" in bad.stderr


def test_monitor_config_is_the_default_config(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text('[[feeds]]\nurl = "http://127.0.0.1:1/feed"\n')
    bad.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    from_env = monitor("check", env={**env, "MONITOR_CONFIG": str(good)})
    assert from_env.returncode == 0 and from_env.stdout.startswith(f"{good}: ok")
    flag_wins = monitor("check", "-c", str(bad), env={**env, "MONITOR_CONFIG": str(good)})
    assert flag_wins.returncode == 2 and "nothing to do" in flag_wins.stderr
    neither = monitor("check", env=env)
    assert neither.returncode == 2
    assert neither.stderr == "monitor: no config file: pass -c FILE or set MONITOR_CONFIG\n"


# -- read-only commands never create a database ------------------------------------------

@pytest.mark.parametrize("command", [
    ["alerts"], ["alerts", "--failed"], ["feeds"], ["feeds", "list"], ["nodes"],
    ["backtest", "-q", "acme"],
], ids=" ".join)
def test_read_only_commands_never_create_a_database(tmp_path: Path, command: list[str]) -> None:
    conf, cwd = tmp_path / "etc", tmp_path / "other"
    conf.mkdir()
    cwd.mkdir()
    (conf / "monitor.toml").write_text(
        '[monitor]\ndatabase = "sqlite:///state/monitor.db"\n'
        '[[feeds]]\nurl = "http://127.0.0.1:1/feed"\n')
    result = monitor(command[0], "-c", "../etc/monitor.toml", *command[1:], cwd=cwd)
    assert result.returncode == 2
    assert result.stderr == (f"monitor: no database at {conf}/state/monitor.db (run `monitor "
                             "run` first, or check [monitor] database)\n")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["etc", "monitor.toml", "other"]


def test_the_database_lives_next_to_the_config_whatever_the_cwd(tmp_path: Path) -> None:
    conf, cwd = tmp_path / "etc", tmp_path / "other"
    conf.mkdir()
    cwd.mkdir()
    (conf / "monitor.toml").write_text(
        '[monitor]\ndatabase = "sqlite:///monitor.db"\nweb = ""\n'
        '[[feeds]]\nname = "dead"\nurl = "http://127.0.0.1:1/feed"\n')
    run = monitor("run", "--once", "-c", "../etc/monitor.toml", cwd=cwd)
    assert run.returncode == 0, run.stderr
    assert (conf / "monitor.db").is_file() and list(cwd.iterdir()) == []
    feeds = monitor("feeds", "-c", str(conf / "monitor.toml"), cwd=cwd)
    assert feeds.returncode == 0 and "'dead'" in feeds.stdout
    alerts = monitor("alerts", "-c", "../etc/monitor.toml", cwd=cwd)
    assert alerts.returncode in (0, 1) and "no database" not in alerts.stderr
    assert list(cwd.iterdir()) == []


def test_output_to_a_closed_pipe_is_no_traceback() -> None:
    """`monitor alerts | head -1`: the reader stops early; no traceback, exit 0."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    env = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)
    try:
        done = subprocess.run([sys.executable, "-m", "monitor", "match", "-q",
                               '"supply chain risk"', str(SEED)], stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=60, cwd=ROOT, env=env)
    finally:
        os.close(write)
    assert done.stderr == ""
    assert done.returncode == 0
