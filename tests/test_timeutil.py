"""monitor.timeutil is the one home of UTC conversion and ISO text; nobody else does it by hand."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.timeutil import human, iso, now, parse_iso, utc

PACKAGE = Path(__file__).resolve().parent.parent / "monitor"
PLUS2 = timezone(timedelta(hours=2))


@pytest.fixture
def tokyo() -> Iterator[None]:
    """Local time is not UTC, so a naive value read as local time would shift."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.mark.parametrize(("given", "expected"), [
    (datetime(2026, 2, 26, 22, 5), datetime(2026, 2, 26, 22, 5, tzinfo=UTC)),
    (datetime(2026, 2, 27, 0, 5, tzinfo=PLUS2), datetime(2026, 2, 26, 22, 5, tzinfo=UTC)),
    (datetime(2026, 2, 26, 22, 5, tzinfo=UTC), datetime(2026, 2, 26, 22, 5, tzinfo=UTC)),
], ids=["naive-is-utc", "offset-converted", "utc-unchanged"])
def test_utc(tokyo: None, given: datetime, expected: datetime) -> None:
    got = utc(given)
    assert got == expected and got.tzinfo is UTC and got.hour == 22


@pytest.mark.parametrize(("given", "expected"), [
    (datetime(2026, 2, 26, 22, 5), "2026-02-26T22:05:00Z"),
    (datetime(2026, 2, 27, 0, 5, 7, 120, tzinfo=PLUS2), "2026-02-26T22:05:07.000120Z"),
    (None, None),
], ids=["naive", "offset-with-microseconds", "none"])
def test_iso(tokyo: None, given: datetime | None, expected: str | None) -> None:
    assert iso(given) == expected


@pytest.mark.parametrize("text", [
    "2026-02-26T22:05:00Z", "2026-02-27T00:05:00+02:00", "2026-02-26T22:05:00",
    "2026-02-26 22:05:00+00:00",
], ids=["z", "offset", "naive", "space"])
def test_parse_iso_reads_what_iso_writes(tokyo: None, text: str) -> None:
    parsed = parse_iso(text)
    assert parsed == datetime(2026, 2, 26, 22, 5, tzinfo=UTC) and parsed.tzinfo is UTC
    assert iso(parsed) == "2026-02-26T22:05:00Z"


def test_parse_iso_refuses_what_is_not_a_time() -> None:
    with pytest.raises(ValueError):
        parse_iso("last tuesday")


def test_human_and_now(tokyo: None) -> None:
    assert human(datetime(2026, 2, 27, 0, 5, tzinfo=PLUS2)) == "2026-02-26 22:05 UTC"
    assert human(datetime(2026, 2, 26, 22, 5)) == "2026-02-26 22:05 UTC"
    before = datetime.now(UTC)
    assert now().tzinfo is UTC and before <= now() <= datetime.now(UTC)


# modules still converting by hand, until issue 12's store and config rewrites land
PENDING = ("store/", "config")
BY_HAND = re.compile(r"astimezone\(UTC\)|replace\(tzinfo=|\"\+00:00\"|%H:%M UTC|"
                     r"def _?utcnow\b|\bas_utc\b")


def test_nobody_else_converts_times_by_hand() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name == "timeutil.py" or name.startswith(PENDING):
            continue
        found += [f"monitor/{name}:{n}: {line.strip()}"
                  for n, line in enumerate(path.read_text().splitlines(), 1)
                  if BY_HAND.search(line)]
    assert not found, "use monitor.timeutil:\n" + "\n".join(found)
