"""Prometheus metrics, in a registry of their own (never the process-global one).

The pipeline and the outbox count events through ``Metrics`` methods (``poll``,
``extracted``, ``matched``, ``delivery``); gauges that describe the database (outbox depth,
oldest waiting alert, live nodes, feeds by state) are read from the store when /metrics
is scraped, so every node of a cluster reports the same shared state. Several daemons
(or tests) in one process each get their own ``Metrics`` and never collide.

Counters::

    monitor_polls_total{feed,status}            status: ok|first_poll|not_modified|unchanged|error|
                                                postponed (the host asked for a pause)
    monitor_poll_errors_total{feed}
    monitor_poll_seconds                        histogram of whole polls
    monitor_articles_extracted_total{mode}      mode: page|partial|feed_fallback
    monitor_extraction_seconds                  histogram of page extractions
    monitor_matches_total{rule}
    monitor_alerts_total{channel,state}         state: sent|retry|failed
    monitor_retention_pruned_total{kind}        rows pruned by this process's retention job;
                                                kind: articles|entries|sessions|spikes

Gauges read at scrape time::

    monitor_store_up                            1 when the database answered this scrape
    monitor_database_bytes                      the database's size (SQLite: its pages, free
                                                ones included; PostgreSQL: pg_database_size)
    monitor_outbox_depth                        pending alerts (due or waiting for a digest)
                                                and notices
    monitor_oldest_pending_alert_age_seconds    how long the oldest due alert (or notice) has
                                                waited
    monitor_nodes_live                          daemons with a heartbeat in the last minute
    monitor_feeds{state}                        active feeds by state: new|ok|degraded|failing
                                                (degraded: ok, but the last parse warned)
    monitor_feeds_by_kind{kind,state}           the same, by source kind (``[[feeds]] kind``;
                                                unknown: a feed the running config lacks)
    monitor_channel_disabled{channel}           1 while delivery on the channel is disabled
                                                (its receiver answered 410), else 0

Gauges of this process's own sending (not the database's)::

    monitor_channel_inflight{channel}           sends under way on the channel
    monitor_channel_oldest_send_seconds{channel}  how long the oldest send under way has
                                                taken (0: none); past the channel's timeout
                                                it is stuck
    monitor_channel_stalled{channel}            1 while the oldest send under way has taken
                                                longer than the channel's timeout or
                                                STALL_AFTER, whichever is shorter, or the
                                                channel has been sending that long with no
                                                success (a server that never answers), else 0
    monitor_channel_failures_in_a_row{channel}  attempts that failed since the channel's
                                                last success
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor import timeutil
from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The Content-Type of ``Metrics.render()`` (Prometheus text format 0.0.4)."""

FEED_STATES = ("new", "ok", "degraded", "failing")
NODE_ALIVE_WITHIN = 60.0
EXTRACTION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STALL_AFTER = 10.0
"""A send under way this long (or the channel's timeout, if shorter) is stalled: no channel
needs as long when its server works, and a send fails only at its timeout (30 s for mail)."""
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """The daemon's metrics; pass one instance to the Pipeline, the Outbox and the web app."""

    def __init__(self, store: Store | None = None, *, clock: Clock = timeutil.now) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("monitor_polls", "Feed polls by outcome.", ("feed", "status"),
                             registry=r)
        self.poll_errors = Counter("monitor_poll_errors", "Feed polls that failed.", ("feed",),
                                   registry=r)
        self.poll_seconds = Histogram("monitor_poll_seconds", "Duration of one poll of a feed.",
                                      buckets=POLL_BUCKETS, registry=r)
        self.articles = Counter("monitor_articles_extracted",
                                "Articles read, from their page or from the feed item's own "
                                "text when the page failed.", ("mode",), registry=r)
        self.extraction = Histogram("monitor_extraction_seconds",
                                    "Time to extract the text of one article page.",
                                    buckets=EXTRACTION_BUCKETS, registry=r)
        self.matches = Counter("monitor_matches", "Articles matched, by rule.", ("rule",),
                               registry=r)
        self.alerts = Counter("monitor_alerts", "Delivery attempts by channel and outcome.",
                              ("channel", "state"), registry=r)
        self.pruned_rows = Counter("monitor_retention_pruned", "Rows pruned by the retention "
                                   "job, by kind (articles, entries, sessions, spikes).", ("kind",),
                                   registry=r)
        self.channel_names: tuple[str, ...] = ()  # the configured channels (the outbox's)
        self.sending: dict[str, dict[int, float]] = {}  # channel -> send -> monotonic start
        self.failures: dict[str, int] = {}  # channel -> failed attempts since a success
        self.timeouts: dict[str, float] = {}  # channel -> its timeout (the outbox's)
        self.busy: dict[str, float] = {}  # channel -> sending since, without a success
        self.feed_kinds: dict[str, str] = {}  # feed -> its source kind (the running config's)
        self._tokens = itertools.count(1)
        r.register(ChannelCollector(self))
        if store is not None:
            r.register(StoreCollector(store, clock, lambda: self.channel_names,
                                      lambda: self.feed_kinds))

    # -- events ---------------------------------------------------------------------------

    def poll(self, feed: str, status: str, seconds: float | None = None) -> None:
        """One poll of ``feed`` ended with ``status`` (``error`` also counts a poll error)."""
        self.polls.labels(feed=feed, status=status).inc()
        if status == "error":
            self.poll_errors.labels(feed=feed).inc()
        if seconds is not None:
            self.poll_seconds.observe(seconds)

    def extracted(self, mode: str, seconds: float | None = None) -> None:
        """One article was read: ``page`` (extraction took ``seconds``), ``partial`` (a
        consent wall or paywall teaser: the feed's text) or ``feed_fallback``."""
        self.articles.labels(mode=mode).inc()
        if seconds is not None:
            self.extraction.observe(seconds)

    def matched(self, rule: str) -> None:
        """``rule`` matched one article."""
        self.matches.labels(rule=rule).inc()

    def pruned(self, kind: str, rows: int) -> None:
        """The retention job pruned ``rows`` rows of ``kind``."""
        self.pruned_rows.labels(kind=kind).inc(rows)

    def delivery(self, channel: str, state: str) -> None:
        """One delivery attempt on ``channel`` ended as ``sent``, ``retry`` or ``failed``."""
        self.alerts.labels(channel=channel, state=state).inc()
        self.failures[channel] = 0 if state == "sent" else self.failures.get(channel, 0) + 1
        if state == "sent" and channel in self.busy:
            self.busy[channel] = time.monotonic()

    def send_started(self, channel: str) -> int:
        """A send on ``channel`` began; the token to pass to ``send_ended``."""
        token = next(self._tokens)
        self.busy.setdefault(channel, time.monotonic())
        self.sending.setdefault(channel, {})[token] = time.monotonic()
        return token

    def send_ended(self, channel: str, token: int) -> None:
        """The send of ``token`` on ``channel`` ended (however it ended)."""
        sends = self.sending.get(channel, {})
        sends.pop(token, None)
        if not sends:
            self.busy.pop(channel, None)

    def oldest_send(self, channel: str) -> float:
        """Seconds the oldest send under way on ``channel`` has taken (0: none)."""
        starts = list(self.sending.get(channel, {}).values())  # one step: the loop adds
        return time.monotonic() - min(starts) if starts else 0.0

    def stalled(self, channel: str) -> bool:
        """The oldest send under way on ``channel`` has taken longer than its timeout (or
        ``STALL_AFTER``, if shorter), or the channel has been sending that long without a
        success: its server hangs (each send fails only at its timeout, so
        ``failures_in_a_row`` lags behind)."""
        timeout = self.timeouts.get(channel)
        if timeout is None:
            return False
        since = self.busy.get(channel)
        busy = time.monotonic() - since if since is not None else 0.0
        return max(busy, self.oldest_send(channel)) > min(timeout, STALL_AFTER)

    # -- exposition -----------------------------------------------------------------------

    def render(self) -> bytes:
        """The registry in the Prometheus text format (reads the store: blocking)."""
        return generate_latest(self.registry)


class ChannelCollector(Collector):
    """Per channel: sends under way, the age of the oldest, failures in a row."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        """Yield the three gauges, a sample per configured (or seen) channel."""
        m = self.metrics
        names = sorted({*m.channel_names, *m.sending, *m.failures})
        inflight = GaugeMetricFamily("monitor_channel_inflight", "Sends under way on the "
                                     "channel, in this process.", labels=["channel"])
        oldest = GaugeMetricFamily("monitor_channel_oldest_send_seconds", "How long the "
                                   "oldest send under way on the channel has taken (0: none).",
                                   labels=["channel"])
        failing = GaugeMetricFamily("monitor_channel_failures_in_a_row", "Delivery attempts on "
                                    "the channel that failed since its last success.",
                                    labels=["channel"])
        stalled = GaugeMetricFamily("monitor_channel_stalled", "1 while the oldest send under "
                                    "way on the channel has taken longer than its timeout.",
                                    labels=["channel"])
        for name in names:
            inflight.add_metric([name], len(m.sending.get(name, {})))
            oldest.add_metric([name], m.oldest_send(name))
            failing.add_metric([name], m.failures.get(name, 0))
            stalled.add_metric([name], float(m.stalled(name)))
        return [inflight, oldest, failing, stalled]


class StoreCollector(Collector):
    """Gauges read from the database at scrape time; a failing database gives store_up 0."""

    def __init__(self, store: Store, clock: Clock = timeutil.now,
                 channels: Callable[[], Sequence[str]] = tuple,
                 kinds: Callable[[], Mapping[str, str]] = dict) -> None:
        self.store = store
        self.clock = clock
        self.channels = channels
        self.kinds = kinds

    def collect(self) -> Iterable[Metric]:
        """Yield the gauges (only ``monitor_store_up`` when the database fails)."""
        up = GaugeMetricFamily("monitor_store_up",
                               "1 when the database answered this scrape, else 0.")
        try:
            gauges = [*self._read(), self._channel_gauge()]
        except MonitorError as e:
            log.warning("event=metrics_store_failed error=%r", str(e))
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *gauges]

    def _read(self) -> list[Metric]:
        now = self.clock()
        store = self.store
        pending = store.count_alerts().get("pending", 0) + store.count_notices().get("pending", 0)
        oldest = store.oldest_due_alert(now)
        age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
        nodes = len(store.nodes(now, NODE_ALIVE_WITHIN))
        feeds, kinds = store.feeds(), self.kinds()
        states = Tally(f.health for f in feeds)
        by_kind = Tally((kinds.get(f.name, "unknown"), f.health) for f in feeds)
        return [
            _gauge("monitor_database_bytes", "Bytes the database takes (SQLite: its pages, "
                   "free ones included; PostgreSQL: pg_database_size).", store.database_size()),
            _gauge("monitor_outbox_depth", "Alerts (due or in a digest) and notices waiting in "
                   "the outbox.", pending),
            _gauge("monitor_oldest_pending_alert_age_seconds",
                   "Seconds the oldest due, undelivered alert has waited (0 when none).", age),
            _gauge("monitor_nodes_live",
                   "Daemons with a heartbeat in the last minute.", nodes),
            _gauge("monitor_feeds", "Active feeds by state (degraded: polled fine, but the last "
                   "parse warned that items may be lost).", None, ("state",),
                   [((s,), states.get(s, 0)) for s in (*FEED_STATES, *sorted(
                       set(states) - set(FEED_STATES)))]),
            _gauge("monitor_feeds_by_kind", "Active feeds by source kind and state.", None,
                   ("kind", "state"), sorted(by_kind.items())),
        ]

    def _channel_gauge(self) -> Metric:
        """1 per disabled channel, 0 per enabled one: every configured channel when the
        outbox said which, else every channel with a recorded state."""
        states = self.store.channel_states()
        names = self.channels() or sorted(states)
        return _gauge("monitor_channel_disabled",
                      "1 while delivery on the channel is disabled (its receiver answered "
                      "410; `monitor channels enable NAME`), else 0.", None, ("channel",),
                      [((n,), float(n in states and states[n].disabled)) for n in names])


def _gauge(name: str, doc: str, value: float | None, labels: Sequence[str] = (),
           samples: Sequence[tuple[Sequence[str], float]] = ()) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=list(labels) if labels else None)
    if value is not None:
        family.add_metric([], value)
    for label_values, sample in samples:
        family.add_metric(list(label_values), sample)
    return family


__all__ = ["CONTENT_TYPE", "Metrics", "StoreCollector"]
