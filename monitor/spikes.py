"""Spike notices: each rule's hits in the last hour against its own baseline, raised once,
through the outbox, to the rule's channels (``spike = { factor, min_hits, baseline_days }``).

The count is a sliding hour: hits first seen in (now - 1 h, now]. The baseline is the same
hour of day on each of the rule's last ``baseline_days`` days, not an EWMA of the hours just
before: news has a strong daily cycle (quiet nights, a morning peak) that an EWMA would
flag every morning, while the same hour on earlier days knows it. It is also stateless:
any node computes it from the hits table alone, with nothing to keep in step.

A spike is raised when the count reaches ``min_hits``, reaches ``factor`` times the baseline
mean, and a one-sided Poisson test says so many are unlikely at the baseline's rate
(P(X >= count) < ``P_VALUE``). That rate is the mean with one pseudo-day of one hit added,
((sum + 1) / (days + 1)): a rule silent on every earlier day is not certain to stay so.
Only days since the rule was made count, at least ``MIN_BASELINE_DAYS`` of them: a new rule
has no habit yet. Only fresh hits count: those whose article was published at most
``FRESH`` before it was first seen (or has no date), so a new feed's first poll (its
backfill of old items) is not a spike.

A spike is stored under the hour it is seen in (now, floored) with its notices, in one
transaction (``Store.raise_spike``), unless the rule has a spike stored for this hour or the
one before: a burst raises one notice, not one per check. A notice's id is derived from
(rule id, hour, channel), so nodes checking at once send it once.

A notice links to the rule opened in the workspace (``rule_link``: its chart with the spike
marked, its stories), when ``[monitor] public_url`` says where readers reach the
dashboard; without it a notice has no link (``url`` empty): a link guessed from the
listening address would not open for most readers.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.config import Spike, WatchSettings
from monitor.models import Notice
from monitor.store import SpikeRow, Store

log = logging.getLogger(__name__)

P_VALUE = 0.01
"""A count at least this unlikely under the baseline rate is a spike (with the others)."""
MIN_BASELINE_DAYS = 3
"""Days of history a rule needs before its hours are judged."""
FRESH = timedelta(days=1)
"""A hit counts if its article was published at most this long before it was first seen."""
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WORKSPACE = "/workspace"
"""The workspace's path (``monitor.web.workspace``); ``#rule=ID`` opens one rule."""


def poisson_tail(k: int, rate: float) -> float:
    """P(X >= k) for X ~ Poisson(rate), summed upward from k in logs (no cancellation
    for tiny tails, no overflow for large rates)."""
    if k <= 0:
        return 1.0
    if rate <= 0:
        return 0.0
    log_rate, i = math.log(rate), k
    log_term = k * log_rate - rate - math.lgamma(k + 1)
    total = 0.0
    while i < k + rate + 10_000:
        term = math.exp(log_term)
        total += term
        if i > rate and term <= total * 1e-17:
            break
        i += 1
        log_term += log_rate - math.log(i)
    return min(1.0, total)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One rule's last hour, judged: its count, the baseline mean and rate, the tail."""

    count: int
    mean: float
    rate: float
    p: float
    spike: bool


def judge(count: int, earlier: Sequence[int], test: Spike) -> Verdict:
    """Whether ``count`` hits in an hour is a spike against ``earlier`` (the same hour's
    counts on earlier days)."""
    mean = sum(earlier) / len(earlier) if earlier else 0.0
    rate = (sum(earlier) + 1) / (len(earlier) + 1)
    p = poisson_tail(count, rate)
    spike = count >= test.min_hits and count >= test.factor * mean and p < P_VALUE
    return Verdict(count, mean, rate, p, spike)


def hour_counts(times: Sequence[datetime], now: datetime, days: int) -> tuple[int, list[int]]:
    """Of hit ``times``: how many fell in (now - 1 h, now], and in the same hour on each of
    the ``days`` days before."""
    counts = [0] * (days + 1)
    for seen in times:
        back = int((now - seen) / DAY)
        if 0 <= back <= days and now - back * DAY - HOUR < seen <= now - back * DAY:
            counts[back] += 1
    return counts[0], counts[1:]


def rule_link(public_url: str, rule_id: int) -> str:
    """The workspace with rule ``rule_id`` open, under ``public_url`` ("" without one)."""
    return f"{public_url.rstrip('/')}{WORKSPACE}#rule={rule_id}" if public_url else ""


def spike_notice(watch: WatchSettings, rule_id: int, hour: datetime, verdict: Verdict,
                 days: int, channel: str, now: datetime, url: str = "") -> Notice:
    """The notice of a spike of ``watch`` on ``channel``, linking to ``url`` (the rule's
    page, or none); its id is (rule, hour, channel)'s."""
    usual = (f"{verdict.count / verdict.mean:.1f}x its usual {verdict.mean:.1f}"
             if verdict.mean else "usually none")
    message = (f"rule {watch.name!r}: {verdict.count} hits in the last hour, {usual} "
               f"at this hour (last {days} days)")
    key = "\x1f".join(("spike", str(rule_id), hour.isoformat(), channel))
    return Notice(id=str(uuid.uuid5(uuid.NAMESPACE_URL, key)), created_at=now, kind="spike",
                  feed="", message=message, url=url, channel=channel, rule=watch.name)


def raise_spike_notices(store: Store, watches: Sequence[WatchSettings], now: datetime,
                        public_url: str = "") -> list[Notice]:
    """Judge the last hour of every rule with a ``spike`` test; store the spikes found and
    enqueue their notices (linking to each rule's page under ``public_url``, if set). The
    notices this node raised (another may have been first)."""
    watching = [w for w in watches if w.spike is not None]
    if not watching:
        return []
    rows = {r.name: r for r in store.rules() if r.enabled}
    chosen: list[tuple[WatchSettings, Spike, int, int]] = []  # rule, test, id, days
    for w in watching:
        row = rows.get(w.name)
        if w.spike is None or row is None or row.created_at is None:
            continue  # not stored yet: the next sync or match makes its row
        history = int((now - HOUR - row.created_at) / DAY)
        days = min(w.spike.baseline_days, history)
        if days >= MIN_BASELINE_DAYS:
            chosen.append((w, w.spike, w.id or row.id, days))
    if not chosen:
        return []
    longest = max(days for *_, days in chosen)
    windows = [(now - k * DAY - HOUR, now - k * DAY) for k in range(longest + 1)]
    times = store.hit_times([rule_id for _, _, rule_id, _ in chosen], windows, FRESH)
    hour = now.replace(minute=0, second=0, microsecond=0)
    out: list[Notice] = []
    for w, test, rule_id, days in chosen:
        verdict = judge(*hour_counts(times[rule_id], now, days), test)
        if not verdict.spike:
            continue
        url = rule_link(public_url, rule_id)
        notices = [spike_notice(w, rule_id, hour, verdict, days, c, now, url)
                   for c in w.channels]
        if store.raise_spike(SpikeRow(rule_id, hour, verdict.count, verdict.mean),
                             hour - HOUR, notices):
            log.warning("event=rule_spike rule_id=%d count=%d baseline=%.2f p=%.2g "
                        "notices=%d", rule_id, verdict.count, verdict.mean, verdict.p,
                        len(notices))
            out += notices
    return out
