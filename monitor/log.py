"""Logging setup: one event per line, key=value friendly, aware of the systemd journal.

Every line is ``[TIMESTAMP] LEVEL LOGGER MESSAGE``, and messages are written as stable
``key=value`` pairs with %-style arguments::

    logger.info("event=poll feed=%s status=%s new=%d", name, status, new)
    2026-11-26T19:40:00Z INFO monitor.pipeline event=poll feed=x status=ok new=0

When stderr is the journal (systemd sets ``JOURNAL_STREAM`` to its device:inode) the
timestamp is left out, since journald records its own, and each line starts with a
``<N>`` syslog priority prefix that journald turns into the entry's priority (so
``journalctl -p warning`` works) and strips. Newlines inside a message are escaped, so
an argument taken from a feed cannot forge a second line; a traceback still follows on
its own lines.

Chatty libraries (``httpx``, ``httpcore``, ``aiohttp.access``, ``apscheduler``,
``trafilatura``) are turned down to WARNING. APScheduler's notes that a run of a job was
skipped (the previous one still running) or started late are dropped: the daemon's jobs run
one at a time on purpose, so a database that stalls a job for 30 s would otherwise log a
line a second; the stall itself is the daemon's own line (``event=claim_failed``,
``event=database_frozen``...).

``FailureLog`` keeps a failure that repeats (the database down: the claim loop fails every
second) to a few lines: the first failure with its error, then one reminder a minute
(``still_failing=N since=...``), then one ``event=..._recovered`` line once it works again.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

QUIET_LOGGERS = ("httpx", "httpcore", "aiohttp.access", "apscheduler", "trafilatura",
                 "charset_normalizer")

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_SYSLOG_PRIORITY = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}
_TIMED_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_JOURNAL_FORMAT = "%(levelname)s %(name)s %(message)s"
_ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"
REMIND_EVERY = 60.0  # seconds between a FailureLog's reminders while it keeps failing


class _LineFormatter(logging.Formatter):
    """One event per line: newlines in the message are escaped; timestamps are UTC."""

    converter = staticmethod(time.gmtime)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (override)
        return super().formatMessage(record).replace("\r", "\\r").replace("\n", "\\n")


class _JournalFormatter(_LineFormatter):
    """Prefixes every line (traceback lines too) with the record's syslog priority."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_SYSLOG_PRIORITY.get(record.levelname, 6)}>"
        return "\n".join(prefix + line for line in super().format(record).split("\n"))


class _Handler(logging.StreamHandler[TextIO]):
    """The one handler setup_logging installs; found again by type to replace it."""


_SCHEDULER_NOTES = ('Execution of job "%s" skipped', 'Run time of job "%s" was missed')


def _not_a_scheduler_note(record: logging.LogRecord) -> bool:
    """False for APScheduler's skipped-run and late-run warnings (see the module)."""
    return not (record.name.startswith("apscheduler") and isinstance(record.msg, str)
                and record.msg.startswith(_SCHEDULER_NOTES))


class FailureLog:
    """One repeating failure, ``event=NAME_failed``, logged readably through an outage.

    The first ``failed`` is an ERROR line with the error (and ``fields``); the next ones are
    counted, not logged, but for one ERROR reminder per ``remind_every`` seconds
    (``still_failing=N since=TIME``, N counting the first). The first ``succeeded`` after
    that is one INFO line ``event=NAME_recovered failures=N duration_s=S``; a success with
    no failure before logs nothing. Call both from one thread (the event loop).
    """

    def __init__(self, logger: logging.Logger, name: str, *,
                 remind_every: float = REMIND_EVERY,
                 clock: Callable[[], float] = time.time) -> None:
        self.logger, self.name = logger, name
        self.remind_every, self.clock = remind_every, clock
        self.failures = 0  # since the last success
        self.since = self.reminded = 0.0  # the clock at the first failure, the last line

    def failed(self, error: object, **fields: object) -> bool:
        """Count one failure; True when it was logged (the first one, or a reminder)."""
        now, self.failures = self.clock(), self.failures + 1
        pairs = "".join(f" {key}=%s" for key in fields)  # the keys are the code's own
        if self.failures == 1:
            self.since = self.reminded = now
            first = f"event=%s_failed{pairs} error=%r"
            self.logger.error(first, self.name, *fields.values(), str(error))
            return True
        if now - self.reminded < self.remind_every:
            return False
        self.reminded = now
        reminder = f"event=%s_failed{pairs} still_failing=%d since=%s error=%r"
        self.logger.error(reminder, self.name, *fields.values(), self.failures,
                          time.strftime(_ISO_UTC, time.gmtime(self.since)), str(error))
        return True

    def succeeded(self) -> None:
        """It worked: after failures, one line saying how many and for how long."""
        if not self.failures:
            return
        self.logger.info("event=%s_recovered failures=%d duration_s=%.1f", self.name,
                         self.failures, max(0.0, self.clock() - self.since))
        self.failures = 0


def setup_logging(level: str = "INFO", *, stream: TextIO | None = None) -> None:
    """Send all logging to ``stream`` (default: stderr at call time) at ``level``.

    ``level`` is a level name, case-insensitive; anything else raises ValueError. Calling
    again replaces the previous setup instead of adding a second handler.
    """
    threshold = _parse_level(level)
    stream = sys.stderr if stream is None else stream
    handler = _Handler(stream)
    handler.addFilter(_not_a_scheduler_note)
    if _is_journal(stream):
        handler.setFormatter(_JournalFormatter(_JOURNAL_FORMAT))
    else:
        handler.setFormatter(_LineFormatter(_TIMED_FORMAT, datefmt=_ISO_UTC))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(threshold)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(threshold, logging.WARNING))


def _parse_level(level: str) -> int:
    """The numeric level for a level name such as ``"info"``; ValueError otherwise."""
    name = str(level).strip().upper()
    if name not in _LEVELS:
        raise ValueError(f"invalid log level {level!r}: expected one of {', '.join(_LEVELS)}")
    return logging.getLevelNamesMapping()[name]


def _is_journal(stream: TextIO) -> bool:
    """True when ``stream`` is the journal stream named by ``JOURNAL_STREAM`` (dev:inode).

    Comparing the inode, as systemd.exec(5) advises, keeps timestamps when the variable
    was merely inherited and the output actually goes to a file or a terminal.
    """
    value = os.environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in value.split(":"))
        info = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (info.st_dev, info.st_ino) == (device, inode)
