"""setup_logging: line format, journal detection, quiet libraries, idempotence."""

from __future__ import annotations

import io
import logging
import os
import re
import time
from calendar import timegm
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.log import QUIET_LOGGERS, setup_logging

TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@pytest.fixture(autouse=True)
def restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo setup_logging's changes to the root and library loggers after each test."""
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


def test_line_has_utc_timestamp_level_logger_and_message() -> None:
    out = io.StringIO()
    setup_logging("INFO", stream=out)
    before = time.time()
    logging.getLogger("monitor.pipeline").info("event=poll feed=%s status=%s", "x", "ok")
    line = out.getvalue()
    assert re.fullmatch(TIMESTAMP + r" INFO monitor\.pipeline event=poll feed=x status=ok\n", line)
    stamp = timegm(time.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(stamp - before) < 5, "the timestamp is UTC"


def journal_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> io.TextIOWrapper:
    """A file standing in for the journal stream: JOURNAL_STREAM names its dev:inode."""
    stream = open(tmp_path / "journal", "w+")  # the caller closes it
    info = os.fstat(stream.fileno())
    monkeypatch.setenv("JOURNAL_STREAM", f"{info.st_dev}:{info.st_ino}")
    return stream


def test_journal_lines_have_priority_and_no_timestamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with journal_file(tmp_path, monkeypatch) as stream:
        setup_logging("INFO", stream=stream)
        log = logging.getLogger("monitor.pipeline")
        log.info("event=poll feed=%s status=ok", "x")
        log.warning("event=poll feed=%s status=error", "y")
        stream.seek(0)
        lines = stream.read().splitlines()
    assert lines == [
        "<6>INFO monitor.pipeline event=poll feed=x status=ok",
        "<4>WARNING monitor.pipeline event=poll feed=y status=error",
    ]


def test_journal_traceback_lines_keep_the_priority(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with journal_file(tmp_path, monkeypatch) as stream:
        setup_logging("INFO", stream=stream)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("monitor.daemon").critical("event=crash")
            logging.getLogger("monitor.daemon").exception("event=crash")
        stream.seek(0)
        lines = stream.read().splitlines()
    assert lines[0] == "<2>CRITICAL monitor.daemon event=crash"
    assert lines[1] == "<3>ERROR monitor.daemon event=crash"
    assert lines[-1] == "<3>RuntimeError: boom"
    assert all(line.startswith("<3>") for line in lines[1:])


@pytest.mark.parametrize("value", ["1:2", "garbage", ""], ids=["other-inode", "garbage", "empty"])
def test_inherited_journal_stream_keeps_timestamps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", value)
    with open(tmp_path / "log", "w+") as stream:
        setup_logging("INFO", stream=stream)
        logging.getLogger("monitor").info("event=start")
        stream.seek(0)
        assert re.fullmatch(TIMESTAMP + r" INFO monitor event=start\n", stream.read())


def test_journal_stream_with_a_stream_that_has_no_file_keeps_timestamps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal_file(tmp_path, monkeypatch).close()
    out = io.StringIO()
    setup_logging("INFO", stream=out)
    logging.getLogger("monitor").info("event=start")
    assert re.fullmatch(TIMESTAMP + r" INFO monitor event=start\n", out.getvalue())


def test_newlines_in_arguments_cannot_forge_lines() -> None:
    out = io.StringIO()
    setup_logging("INFO", stream=out)
    logging.getLogger("monitor.feeds").info("event=entry title=%s", "a\nFAKE INFO x\r")
    assert out.getvalue().count("\n") == 1
    assert out.getvalue().endswith("title=a\\nFAKE INFO x\\r\n")


def test_level_filters_and_is_case_insensitive() -> None:
    out = io.StringIO()
    setup_logging("warning", stream=out)
    log = logging.getLogger("monitor.fetch")
    log.info("event=hidden")
    log.warning("event=shown")
    assert "hidden" not in out.getvalue()
    assert "WARNING monitor.fetch event=shown" in out.getvalue()


@pytest.mark.parametrize("name", QUIET_LOGGERS)
def test_chatty_libraries_are_turned_down(name: str) -> None:
    out = io.StringIO()
    setup_logging("DEBUG", stream=out)
    logging.getLogger(name).info("noise")
    logging.getLogger(name + ".child").info("noise")
    logging.getLogger(name).warning("event=library_warning")
    assert "noise" not in out.getvalue()
    assert f"WARNING {name} event=library_warning" in out.getvalue()


def test_quiet_libraries_follow_a_stricter_level() -> None:
    out = io.StringIO()
    setup_logging("ERROR", stream=out)
    logging.getLogger("httpx").warning("noise")
    assert out.getvalue() == ""


def test_calling_twice_does_not_double_lines() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging("INFO", stream=first)
    setup_logging("DEBUG", stream=second)
    logging.getLogger("monitor").debug("event=once")
    assert first.getvalue() == ""
    assert second.getvalue().count("event=once") == 1


def test_default_stream_is_stderr_at_call_time(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging()
    logging.getLogger("monitor").info("event=hello")
    assert re.fullmatch(TIMESTAMP + r" INFO monitor event=hello\n", capsys.readouterr().err)


@pytest.mark.parametrize("level", ["LOUD", "", "20", "info level"])
def test_invalid_level_is_a_clear_value_error(level: str) -> None:
    with pytest.raises(ValueError, match=r"invalid log level .*expected one of DEBUG, INFO"):
        setup_logging(level)


async def test_a_job_still_running_is_no_line_a_second() -> None:
    """The daemon's jobs run one at a time: while one waits on a stalled database, the
    scheduler skips its next runs without a warning each (a real APScheduler)."""
    import asyncio

    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    out = io.StringIO()
    setup_logging("INFO", stream=out)
    runs: list[float] = []

    async def stalled() -> None:
        runs.append(time.monotonic())
        await asyncio.sleep(2.5)  # as poll_due waiting on a frozen database

    scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
    scheduler.add_job(stalled, "interval", seconds=0.5, max_instances=1, coalesce=True)
    scheduler.start()
    try:
        await asyncio.sleep(3.2)
    finally:
        scheduler.shutdown(wait=False)
    assert runs  # one run, its next ones skipped while it waits
    assert out.getvalue() == ""
    logging.getLogger("apscheduler.scheduler").warning("event=library_warning")
    assert "event=library_warning" in out.getvalue()  # its other warnings still show
