"""The daemon: wires the stages, schedules polls and deliveries, handles signals.

Scheduling: each feed's next poll time lives in the database (``next_poll_at``, the
feed's interval with jitter, or a backoff after errors). An APScheduler job claims due
feeds every second and polls them concurrently; another drains the outbox. Because the
claim is a lease in the database, several daemons on one PostgreSQL share the feeds
without polling any twice, and a dead node's feeds return after its lease runs out.

Start-up waits for the database (``wait_for_database``): one ``event=database_wait`` line
per try, 1 s doubling to 30 s apart, /healthz 200 and /readyz 503 saying so meanwhile
(``daemonsetup.wait_for_start``), READY=1 only once it answers, SIGTERM exits 0; only a
bad config exits 2 (systemd's ``RestartPreventExitStatus=2``). A database error during a
poll is the store's, not the feed's: the claim is released for a retry soon.

SIGTERM/SIGINT: stop claiming, let in-flight polls and deliveries finish, leave the list
of live nodes, exit 0.
SIGHUP: reload the config; a bad config is logged, kept in mind (the dashboard and
/readyz say so until a reload works) and the old one kept. Settings read once at start
(``RESTART_KEYS``: the web listener, the database, the fetcher's limits...) are logged as
``event=reload_restart_needed`` when a reload changes them.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor import sdnotify
from monitor.alerts.build import build_channels
from monitor.alerts.notices import raise_health_notices
from monitor.alerts.outbox import Outbox, RetryPolicy, finish_rounds
from monitor.browser import Renderer
from monitor.config import RESTART_KEYS, Config
from monitor.daemonsetup import Services, leave, load, make_fetcher, node_name, wait_for_start
from monitor.errors import ConfigError, MonitorError, StorageError
from monitor.extract import Extractor
from monitor.liverules import CHECK_EVERY, Live, Refresher, live_rules
from monitor.log import FailureLog
from monitor.metrics import Metrics
from monitor.pipeline import Pipeline, poll_feed, record_crash, release_after_store_error
from monitor.retention import Retention
from monitor.rules import query_warnings
from monitor.spikes import raise_spike_notices
from monitor.store import FeedState, Store, hide_password, open_database

if TYPE_CHECKING:
    from monitor.web import WebServer

log = logging.getLogger(__name__)

MAX_PARALLEL_POLLS = 32
STOP_GRACE = 60.0
HEARTBEAT = 15.0  # seconds between heartbeats (lease / 3 when the lease is shorter)
RELEASE_RETRY = 5.0  # seconds between tries to release a feed after a store error...
RELEASE_RETRY_MAX = 30.0  # ...doubling up to this


class Daemon:
    """``monitor run``: one process polling, delivering and (optionally) serving the web UI."""

    def __init__(self, config: Config, config_path: str,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 store: Store | None = None, web: WebServer | None = None) -> None:
        """``store``: one already migrated (``run_daemon`` waits for it); else opened here.
        ``web``: the listener that served the probes meanwhile, to serve the app on."""
        self.config_path = config_path
        self.clock = clock
        self.node = node_name(config)
        if store is None:
            store = open_database(config.monitor)
            store.migrate()
        m = config.monitor
        fetcher = make_fetcher(config)
        self.services = Services(store, fetcher, Extractor(
            m.extract_workers, deadline=m.extract_timeout, memory_mb=m.extract_memory_mb),
            Renderer(fetcher, pages=m.browser_pages, deadline=m.browser_timeout,
                     chromium=m.browser_path, max_bytes=m.fetch.max_article_bytes))
        self.polls: dict[asyncio.Task[None], int] = {}  # poll under way -> the feed's id
        self.delivering: set[str] = set()  # alerts claimed by the outbox, not yet finished
        self.background: set[asyncio.Future[None]] = set()
        self.claiming = asyncio.Lock()
        self.reloading = asyncio.Lock()
        self.stopping = asyncio.Event()
        self.metrics = Metrics(store, clock=clock)
        self.retention = Retention(store, clock, self.metrics)
        self.web = web
        self.reload_failed: tuple[str, datetime] | None = None  # error, when; None: fine
        self.refresher = Refresher(store, self.services.reloading)  # edits: see liverules
        self.claims, self.beats = FailureLog(log, "claim"), FailureLog(log, "heartbeat")
        self.apply(config)

    def apply(self, config: Config) -> None:
        """Make ``config`` the running one (start-up; SIGHUP goes through ``reload_soon``).
        Rules are compiled in the reload thread, always: one malloc arena holds every set."""
        self.install(config, self.services.reloading.submit(self.prepare, config).result())

    def prepare(self, config: Config) -> Live:
        """Sync ``config``'s feeds and rules to the database, then compile its rules with
        the database's (blocking: a reload runs it in a thread, off the event loop)."""
        self.services.store.sync_feeds(config.feeds, self.clock())
        self.services.store.sync_rules(config.watches, self.clock())
        return live_rules(config, self.services.store)

    def install(self, config: Config, live: Live) -> None:
        """Run ``config`` with the compiled rules of ``live`` (``live_rules``) from now on
        (on the event loop)."""
        s = self.services
        gc.unfreeze()  # the running rules may be dropped now: let the collector see them
        self.live, self.config = live, config
        self.pipeline = Pipeline(live.config, s.store, s.fetcher, s.extractor, live.rules,
                                 node=self.node, clock=self.clock, metrics=self.metrics,
                                 renderer=s.renderer, matching=s.matching)
        if (old := getattr(self, "outbox", None)) is not None:
            old.stop()  # its rounds end after their batch; the new outbox's take over
        self.outbox = Outbox(s.store, build_channels(config, s.fetcher.client), node=self.node,
                             policy=RetryPolicy(horizon=config.monitor.delivery.delivery_horizon),
                             lease=config.monitor.cluster.lease, clock=self.clock,
                             metrics=self.metrics, holding=self.delivering)
        if old is not None:  # an outage under way is not logged again as new
            self.outbox.failures = old.failures
        self.metrics.feed_kinds = {f.name: f.kind for f in config.feeds}
        gc.collect()  # the replaced rules' cycles, before freezing would keep them for good
        gc.freeze()  # the compiled rules live until the next reload: keep them out of GC passes
        log.info("event=config_applied feeds=%d rules=%d channels=%d node=%s",
                 len(config.feeds), len(config.watches), len(config.channels), self.node)
        for warning in config.warnings:  # what `monitor check` warns about, in the journal too
            log.warning("event=config_warning warning=%r", warning)
        for w in config.watches:
            for advice in query_warnings(w.query):
                log.warning("event=query_warning rule=%r warning=%r", w.name, advice)

    def reload(self) -> None:
        """Re-read the config file; keep the old config if the new one is bad (blocking)."""
        self._reloaded(self.services.reloading.submit(self._read_and_prepare).result())

    def reload_soon(self) -> None:
        """SIGHUP: reload with the file reading, rule compiling and database syncing in a
        thread; reloads run one after another."""
        task = asyncio.ensure_future(self._reload_off_loop())
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def _reload_off_loop(self) -> None:
        async with self.reloading:
            self._reloaded(await asyncio.get_running_loop().run_in_executor(
                self.services.reloading, self._read_and_prepare))

    def _read_and_prepare(self) -> tuple[Config, Live] | MonitorError:
        try:
            config = load(self.config_path)
            return config, self.prepare(config)
        except MonitorError as e:
            return e

    def _reloaded(self, outcome: tuple[Config, Live] | MonitorError) -> None:
        if isinstance(outcome, MonitorError):
            self.reload_failed = (str(outcome), self.clock())
            log.error("event=reload_failed error=%r kept=old_config", str(outcome))
            return
        old = self.config.monitor
        self.install(*outcome)
        self.reload_failed = None
        for key in RESTART_KEYS:
            if old.value(key) != self.config.monitor.value(key):
                shown = "" if key == "web_token" else (
                    f" running={old.value(key)!r} configured="
                    f"{self.config.monitor.value(key)!r}")
                log.warning("event=reload_restart_needed key=%s%s", key, shown)

    async def run_once(self) -> int:
        """Poll every feed once, deliver what is due, return."""
        await asyncio.to_thread(self.services.store.heartbeat, self.node, self.clock())
        await self.poll_due(force=True)
        await asyncio.gather(*self.polls)
        await self.deliver()
        return 0

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT; return the exit status."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload_soon)
        scheduler = AsyncIOScheduler(timezone=UTC, event_loop=loop)
        now = self.clock()
        scheduler.add_job(self.poll_due, "interval", seconds=1, id="dispatch",
                          max_instances=1, coalesce=True, next_run_time=now)
        scheduler.add_job(self.deliver, "interval", id="deliver", kwargs={"wait": False},
                          seconds=self.config.monitor.delivery.delivery_interval,
                          max_instances=1, coalesce=True, next_run_time=now)
        scheduler.add_job(self.heartbeat, "interval", id="heartbeat",
                          seconds=min(HEARTBEAT, self.config.monitor.cluster.lease / 3),
                          max_instances=1, coalesce=True, next_run_time=now)
        scheduler.add_job(self.refresh_rules, "interval", id="rules", seconds=CHECK_EVERY,
                          max_instances=1, coalesce=True)
        scheduler.add_job(self.check_health, "interval", id="health",
                          seconds=self.config.monitor.health.health_interval,
                          max_instances=1, coalesce=True)
        self.retention.schedule(scheduler, lambda: self.config.monitor.retention, self.stopping)
        await self.start_web(scheduler)
        scheduler.start()
        watchdog = asyncio.create_task(sdnotify.watchdog_loop())
        sdnotify.notify("READY=1")
        log.info("event=started node=%s", self.node)
        await self.stopping.wait()
        sdnotify.notify("STOPPING=1")
        self.outbox.stop()
        log.info("event=stopping in_flight=%d delivery_rounds=%d", len(self.polls),
                 len(self.outbox.lanes))
        scheduler.shutdown(wait=False)
        watchdog.cancel()
        grace_ends = time.monotonic() + STOP_GRACE
        if self.polls:
            await asyncio.wait(self.polls, timeout=STOP_GRACE)
        # sends under way are recorded, not left "sending" to go out again after the lease
        await finish_rounds(max(0.0, grace_ends - time.monotonic()))
        if self.web:
            await self.web.stop()
        await asyncio.to_thread(leave, self.services.store, self.node)
        return 0

    async def start_web(self, scheduler: AsyncIOScheduler) -> None:
        """Serve the dashboard, /metrics and the probes on ``[monitor] web`` (if set)."""
        listen = self.config.monitor.web.listen
        if not listen and self.web is None:
            return
        from monitor.web import HostCheck, create_app, is_loopback, parse_address, serve

        host, port = (self.web.host, self.web.port) if self.web else parse_address(listen)
        token = self.config.monitor.web.token
        app = create_app(self.services.store, lambda: self.config, metrics=self.metrics,
                         scheduler_running=lambda: scheduler.running
                         and not self.stopping.is_set(),
                         token=token, require_token=bool(token) or not is_loopback(host),
                         reload_failure=lambda: self.reload_failed,
                         hosts=HostCheck(host, self.config.monitor.web.allowed_hosts))
        if self.web is None:  # else listening since the start (the wait for the database)
            self.web = await serve(app, host, port)
        self.web.switch(app)
        log.info("event=web_listening url=%s", self.web.url)

    async def poll_due(self, force: bool = False) -> None:
        """Claim the feeds that are due (all of them with ``force``) and poll them."""
        async with self.claiming:  # one claim at a time, as each counts the free slots
            free = MAX_PARALLEL_POLLS - len(self.polls)
            if self.stopping.is_set() or free <= 0:
                return
            try:  # in a thread, as the jobs' database calls: a frozen database holds the job
                feeds = await asyncio.to_thread(
                    self.services.store.claim_due_feeds, self.node, self.clock(),
                    free if not force else 10**6, self.config.monitor.cluster.lease,
                    force=force)
            except MonitorError as e:  # the database down: a few lines, not one a second
                self.claims.failed(e)
                return
            self.claims.succeeded()
            for feed in feeds:
                task = asyncio.create_task(self._poll(feed))
                self.polls[task] = feed.id
                task.add_done_callback(self._poll_done)

    def _poll_done(self, task: asyncio.Task[None]) -> None:
        """Refill the free slots once half are free, not only at the next 1 s tick."""
        self.polls.pop(task, None)
        if len(self.polls) == MAX_PARALLEL_POLLS // 2 and not self.stopping.is_set():
            refill = asyncio.ensure_future(self.poll_due())
            self.background.add(refill)
            refill.add_done_callback(self.background.discard)

    async def _poll(self, feed: FeedState) -> None:
        try:
            await poll_feed(self.pipeline, feed)
        except StorageError as e:  # the store failed, not the feed: retry it soon
            log.error("event=poll_store_failed feed=%s error=%r", feed.name, str(e))
            await self._release(feed)
        except Exception as e:  # noqa: BLE001 - the scheduler lives on
            log.critical("event=poll_crash feed=%s", feed.name, exc_info=e)
            try:  # a failure like any other: the feed backs off as a failing one does
                await asyncio.to_thread(record_crash, self.pipeline, feed, e)
            except MonitorError:
                log.error("event=poll_release_failed feed=%s", feed.name)

    async def _release(self, feed: FeedState) -> None:
        """Give ``feed`` back for a poll soon, its error count untouched, retrying while
        the database is down (the heartbeat keeps the lease meanwhile) for one lease at
        most; if this node stops or gives up first, the lease running out frees the feed."""
        delay, logged = RELEASE_RETRY, False
        give_up = time.monotonic() + self.config.monitor.cluster.lease
        while time.monotonic() < give_up:
            try:
                await asyncio.to_thread(release_after_store_error, self.pipeline, feed)
                return
            except StorageError as e:
                if not logged:  # one line per feed, however long the outage
                    log.error("event=poll_release_failed feed=%s error=%r retry_in=%g",
                              feed.name, str(e), delay)
                    logged = True
            try:
                await asyncio.wait_for(self.stopping.wait(), delay)
                return
            except TimeoutError:
                delay = min(delay * 2, RELEASE_RETRY_MAX)

    async def deliver(self, wait: bool = True) -> None:
        """Drain the outbox once. Without ``wait`` (the delivery job), start a round on each
        channel with none under way and return: a slow channel holds only its own round."""
        try:
            await self.outbox.drain(wait=wait)
        except MonitorError as e:
            self.outbox.failures.failed(e)
        except Exception as e:  # noqa: BLE001
            log.critical("event=deliver_crash", exc_info=e)

    async def check_health(self) -> None:
        """Notices to the outbox: feeds' health (if health_channel is set), rules' spikes."""
        m, store = self.config.monitor.health, self.services.store
        try:
            if m.health_channel:
                await asyncio.to_thread(raise_health_notices, store, m, m.health_channel,
                                        self.clock())
            await asyncio.to_thread(raise_spike_notices, store, self.pipeline.config.watches,
                                    self.clock(), self.config.monitor.web.public_url)
        except MonitorError as e:
            log.error("event=health_failed error=%r", str(e))
        except Exception as e:  # noqa: BLE001 - the scheduler lives on
            log.critical("event=health_crash", exc_info=e)

    async def refresh_rules(self) -> None:
        """Take up the database's rules when an edit (on any node) moved their version, or
        a finished background rebuild of the base (``liverules``)."""
        async with self.reloading:  # against the config of the running pipeline
            found = await self.refresher.refreshed(self.live)
            if found is not None:  # polls under way finish with the pipeline they began with
                self.live = found
                self.pipeline = replace(self.pipeline, config=found.config, rules=found.rules)

    async def heartbeat(self) -> None:
        """Tell other nodes this one is alive, and keep the leases of the feeds it is
        polling and the alerts it is delivering, however long those take."""
        store, now = self.services.store, self.clock()
        try:
            await asyncio.to_thread(store.heartbeat, self.node, now)
            await asyncio.to_thread(store.renew_leases, self.node, now,
                                    self.config.monitor.cluster.lease,
                                    feed_ids=list(self.polls.values()),
                                    alert_ids=list(self.delivering))
        except MonitorError as e:
            self.beats.failed(e)
        else:
            self.beats.succeeded()

    async def close(self) -> None:
        """Release the fetcher, the extraction pool and the database."""
        await self.services.renderer.aclose()
        await self.services.fetcher.aclose()
        self.services.extractor.close()
        self.services.matching.shutdown(wait=False)
        self.services.reloading.shutdown(wait=False)
        self.services.store.close()


async def run_daemon(config_path: str, once: bool = False) -> int:
    """Load the config, run the daemon (or one cycle), clean up; ConfigError propagates.

    The daemon waits for the database (SIGTERM meanwhile: exit 0; SIGHUP: a reload once
    started; the web listener answers the probes meanwhile); ``once`` does not, and exits 1
    when it is unreachable. Exit 2 (ConfigError)
    is for a bad config only."""
    config = load(config_path)
    status, store, web, reload = await wait_for_start(config, once)
    if status is not None:
        return status
    try:
        daemon = Daemon(config, config_path, store=store, web=web)
    except StorageError as e:  # the database went away again: systemd restarts us
        log.error("event=start_failed error=%r", hide_password(str(e), store.url))
        store.close()
        if web is not None:
            await web.stop()
        return 1
    if reload:
        daemon.reload()
    try:
        return await (daemon.run_once() if once else daemon.run())
    finally:
        await daemon.close()


__all__ = ["ConfigError", "Daemon", "load", "run_daemon"]
