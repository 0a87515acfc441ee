"""Durations (``30s``, ``10m``, ``1h30m``) and cron lines; pure."""

from __future__ import annotations

import math
import re
from typing import Any

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> float:
    """Seconds in ``30s``, ``10m``, ``1h30m``, ``2d`` or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s, 10m or 1h, got {value!r}")
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError("a duration must be positive")
        return _finite(float(value) if isinstance(value, float) or value < 2**53 else math.inf,
                       value)
    text = str(value).strip().lower()
    parts = _DURATION.findall(text)
    if not parts or _DURATION.sub("", text).strip():
        raise ValueError(f"expected a duration like 30s, 10m or 1h, got {value!r}")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return _finite(seconds, value)


def _finite(seconds: float, value: object) -> float:
    """``seconds`` unless it is infinite or NaN (TOML's ``inf``/``nan``, JSON's ``1e999``,
    more digits than a float holds): no comparison or JSON answer could use it."""
    if not math.isfinite(seconds):
        raise ValueError(f"expected a duration like 30s, 10m or 1h, got {str(value)[:40]!r}")
    return seconds


AGE_OFF = ("off", "0")
"""How ``max_age`` is switched off (the number 0 too): any age alerts."""


def parse_age(value: object) -> float:
    """Seconds of a ``max_age``: a duration (``7d``, ``36h``), or 0.0 for ``"off"``/``0``."""
    if (isinstance(value, int | float) and not isinstance(value, bool) and value == 0) or (
            isinstance(value, str) and value.strip().lower() in AGE_OFF):
        return 0.0
    try:
        return parse_duration(value)
    except ValueError:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise ValueError(f'expected an age like 7d or 36h, or "off", got {shown}') from None


def cron_trigger(expr: str, timezone: str = "UTC") -> Any:
    """An APScheduler CronTrigger for a crontab line; 6 fields = with seconds first.

    ``0 8 * * mon-fri`` (minute hour day month weekday), or
    ``30 0 8 * * mon-fri`` (second minute hour day month weekday). ValueError if invalid.
    """
    from zoneinfo import ZoneInfo

    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) == 6:
        names = ("second", "minute", "hour", "day", "month", "day_of_week")
        return CronTrigger(**dict(zip(names, fields, strict=True)), timezone=ZoneInfo(timezone))
    if len(fields) != 5:
        raise ValueError(f"wrong number of fields in {expr!r}: expected 5 (or 6 with seconds)")
    return CronTrigger.from_crontab(expr, timezone=ZoneInfo(timezone))


def check_cron(value: object) -> str:
    """``value`` when it is a valid cron line; ValueError naming the problem otherwise."""
    if not isinstance(value, str):
        raise ValueError("expected a cron expression like '0 8 * * mon-fri'")
    try:
        cron_trigger(value)
    except ValueError as e:
        raise ValueError(f"invalid cron expression {value!r}: {e}") from None
    return value
