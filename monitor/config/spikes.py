"""The ``spike`` key of a rule: when its hits per hour count as a spike worth a notice.

``spike = { factor = 3, min_hits = 5, baseline_days = 14 }`` in a ``[[watch]]`` table (or
the same object in an API-made rule); absent, the rule raises no spike notices. Pure: the
test itself is ``monitor.spikes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_BASELINE_DAYS = 60
"""The longest baseline: hits are kept about as long, and older hours say little."""


@dataclass(frozen=True, slots=True)
class Spike:
    """A rule's spike test: an hour's hits reach ``min_hits`` and ``factor`` times the mean
    of the same hour over the last ``baseline_days`` days (and are unlikely under it)."""

    factor: float = 3.0
    min_hits: int = 5
    baseline_days: int = 14

    def written(self) -> dict[str, float | int]:
        """As a TOML inline table or a JSON object writes it."""
        return {"factor": self.factor, "min_hits": self.min_hits,
                "baseline_days": self.baseline_days}


def parse_spike(value: object) -> Spike:
    """``value`` (a table) as a ``Spike``; ValueError says what is wrong with it."""
    if isinstance(value, Spike):
        return value
    if not isinstance(value, dict):
        raise ValueError("expected a table such as { factor = 3, min_hits = 5 }")
    unknown = sorted(set(value) - {"factor", "min_hits", "baseline_days"})
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (factor, min_hits, baseline_days)")
    factor = value.get("factor", 3.0)
    if (isinstance(factor, bool) or not isinstance(factor, int | float) or not factor >= 1
            or not math.isfinite(factor)):
        raise ValueError("factor must be a number of at least 1")
    counts = {k: value.get(k, d) for k, d in (("min_hits", 5), ("baseline_days", 14))}
    for key, number in counts.items():
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ValueError(f"{key} must be a whole number of at least 1")
    if counts["baseline_days"] > MAX_BASELINE_DAYS:
        raise ValueError(f"baseline_days must be at most {MAX_BASELINE_DAYS}")
    return Spike(float(factor), counts["min_hits"], counts["baseline_days"])
