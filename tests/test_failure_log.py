"""FailureLog: a failure repeating through an outage is a few lines, not one a try.

Unit tests with a fake clock (the first line, silence, a reminder a minute, the recovery
line with the count), then a daemon on PostgreSQL behind the tests' proxy: while the
database refuses every connection for several seconds the claim loop (every second), the
delivery rounds, the rules check and the heartbeat each log one ERROR line, and each that
failed logs one ``..._recovered`` line once the database is back. Lines are counted, not
timed.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

import pytest

from monitor.daemon import Daemon, load
from monitor.errors import StorageError
from monitor.log import FailureLog
from monitor.testing import NewsServer, WebhookReceiver
from tests.conftest import postgres_available
from tests.helpers import running, until, write_config
from tests.pgproxy import proxied_schema

WAIT = 60.0  # seconds any awaited state may take at most (a generous bound)
T0 = 1_796_000_000.0  # 2026-11-30T00:53:20Z


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "test.fl"]


@pytest.fixture
def clocked(caplog: pytest.LogCaptureFixture) -> tuple[FailureLog, Clock]:
    caplog.set_level(logging.INFO, logger="test.fl")
    clock = Clock()
    return FailureLog(logging.getLogger("test.fl"), "claim", clock=clock), clock


def test_the_first_failure_is_one_error_line_then_silence(
        clocked: tuple[FailureLog, Clock], caplog: pytest.LogCaptureFixture) -> None:
    failures, clock = clocked
    assert failures.failed(StorageError("database unavailable: refused"), channel="hook")
    for _ in range(59):  # one a second, as the claim loop tries
        clock.now += 1
        assert not failures.failed(StorageError("database unavailable: refused"),
                                   channel="hook")
    assert lines(caplog) == [("ERROR", "event=claim_failed channel=hook "
                                       "error='database unavailable: refused'")]
    assert failures.failures == 60


def test_one_reminder_a_minute_with_the_count_and_the_start(
        clocked: tuple[FailureLog, Clock], caplog: pytest.LogCaptureFixture) -> None:
    failures, clock = clocked
    for _ in range(150):  # 150 s of failures, one a second
        failures.failed(StorageError("gone"))
        clock.now += 1
    logged = lines(caplog)
    assert [level for level, _ in logged] == ["ERROR"] * 3  # at 0 s, 60 s and 120 s
    assert logged[1][1] == ("event=claim_failed still_failing=61 "
                            "since=2026-11-30T00:53:20Z error='gone'")
    assert logged[2][1].startswith("event=claim_failed still_failing=121 since=")


def test_success_after_failures_is_one_recovery_line_and_a_new_start(
        clocked: tuple[FailureLog, Clock], caplog: pytest.LogCaptureFixture) -> None:
    failures, clock = clocked
    failures.succeeded()  # nothing failed: nothing to say
    for _ in range(12):
        failures.failed(StorageError("gone"))
        clock.now += 2.5
    failures.succeeded()
    failures.succeeded()  # said once
    failures.failed(StorageError("again"))  # a new outage: its first line again
    assert lines(caplog) == [
        ("ERROR", "event=claim_failed error='gone'"),
        ("INFO", "event=claim_recovered failures=12 duration_s=30.0"),
        ("ERROR", "event=claim_failed error='again'")]


def test_a_field_with_a_percent_sign_is_logged_as_it_is(
        clocked: tuple[FailureLog, Clock], caplog: pytest.LogCaptureFixture) -> None:
    failures, _ = clocked
    failures.failed("100% %s gone", channel="a%sb")
    assert lines(caplog) == [("ERROR", "event=claim_failed channel=a%sb "
                                       "error='100% %s gone'")]


EVENT = re.compile(r"event=(\w+)")


def events(caplog: pytest.LogCaptureFixture, level: int) -> Counter[str]:
    """How many lines of each event the daemon's loggers wrote at ``level``."""
    return Counter(m.group(1) for r in caplog.records
                   if r.levelno == level and r.name.startswith("monitor")
                   and (m := EVENT.match(r.getMessage())))




@pytest.mark.postgres
async def test_a_postgresql_outage_is_a_few_lines_and_a_recovery(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    if not postgres_available():
        pytest.skip("no PostgreSQL server reachable at 127.0.0.1:5432")
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", "s3cret-for-the-test")
    with proxied_schema() as (switch, url):
        path = write_config(tmp_path, news, None, hook, database=url,
                            extra_monitor='lease = "6s"\n'  # a heartbeat every 2 s
                                          'database_connect_timeout = "2s"')
        daemon = Daemon(load(str(path)), str(path))
        async with running(daemon):
            await until(lambda: hook.received, WAIT, "the seed alerts are delivered")
            with caplog.at_level(logging.INFO):
                caplog.clear()
                switch.down()  # every connection closed, every new one refused
                await until(lambda: daemon.claims.failures >= 8
                            and daemon.beats.failures >= 2
                            and daemon.outbox.failures.failures >= 4
                            and daemon.refresher.failures.failures >= 2, WAIT,
                            "every loop failed a few times")
                failed = events(caplog, logging.ERROR)
                switch.refusing = False
                await until(lambda: events(caplog, logging.INFO)["heartbeat_recovered"]
                            and events(caplog, logging.INFO)["claim_recovered"], WAIT,
                            "the claim and the heartbeat work again")
                await until(lambda: not daemon.outbox.failures.failures
                            and not daemon.refresher.failures.failures, WAIT,
                            "the delivery and the rules check work again")
            for event in ("claim_failed", "deliver_failed", "rules_refresh_failed",
                          "heartbeat_failed"):
                assert failed[event] == 1, failed
            assert sum(failed.values()) <= 8, failed  # 47 lines in 25 s, before
            recovered = [r.getMessage() for r in caplog.records
                         if "_recovered" in r.getMessage()]
            assert len(recovered) == 4, recovered
            claim = next(m for m in recovered if m.startswith("event=claim_recovered"))
            count = int(re.findall(r"failures=(\d+)", claim)[0])
            assert count >= 8 and "duration_s=" in claim, claim


async def test_a_reload_during_an_outage_keeps_counting_the_delivery_failures(
        tmp_path: Path, news: NewsServer, caplog: pytest.LogCaptureFixture) -> None:
    path = write_config(tmp_path, news, None, None, watches="")
    daemon = Daemon(load(str(path)), str(path))
    try:
        with caplog.at_level(logging.INFO):
            daemon.outbox.failures.failed(StorageError("database unavailable: refused"))
            old = daemon.outbox
            daemon.reload()  # SIGHUP: a new outbox, the same outage
            assert daemon.outbox is not old
            assert not daemon.outbox.failures.failed(StorageError("still refused"))
        assert daemon.outbox.failures.failures == 2
        assert events(caplog, logging.ERROR)["deliver_failed"] == 1
    finally:
        await daemon.close()
