"""What the daemon is built from: the validated config (``load``), the database awaited
with the probes served meanwhile (``wait_for_start``), this node's name, the shared
fetcher and the long-lived services (split from ``monitor.daemon`` for size)."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from monitor.browser import Renderer
from monitor.config import Config, load_config
from monitor.errors import ConfigError, MonitorError, StorageError
from monitor.extract import Extractor
from monitor.fetch import Fetcher
from monitor.rules import check_query
from monitor.sources import source_kinds
from monitor.store import Store, WaitStatus, migrate_once, open_database, wait_interruptibly

if TYPE_CHECKING:
    from monitor.web import WebServer

log = logging.getLogger("monitor.daemon")  # the daemon's lines, wherever their code lives


def load(path: str) -> Config:
    """Load and fully validate a config (queries and source kinds included)."""
    return load_config(path, query_checker=lambda q, cs: check_query(q, case_sensitive=cs),
                       source_kinds=source_kinds())


async def wait_for_start(config: Config, once: bool
                         ) -> tuple[int | None, Store, WebServer | None, bool]:
    """The database migrated, awaited (``once``: not) with ``[monitor] web`` (if set)
    answering /healthz and /readyz meanwhile: (None, or the exit status when the wait
    ended without it; the store; that listener; whether a SIGHUP came meanwhile)."""
    try:
        store = open_database(config.monitor)
    except StorageError as e:  # the URL itself cannot be used: no retry will help
        raise ConfigError(f"monitor.database: {e}") from e
    waiting, web, reload = WaitStatus(), None, False
    status: int | None = -1  # until the wait says otherwise: whatever ends it, clean up
    try:
        web = None if once else await early_web(config, waiting.reason)
        status, reload = await (migrate_once(store) if once
                                else wait_interruptibly(store, waiting))
    finally:
        if status is not None:
            store.close()
            if web is not None:
                await web.stop()
    return status, store, web, reload


async def early_web(config: Config, reason: Callable[[], str]) -> WebServer | None:
    """The web listener, serving the probes until the daemon gives it its full app."""
    listen = config.monitor.web.listen
    if not listen:
        return None
    from monitor.web import HostCheck, parse_address, serve, waiting_app

    host, port = parse_address(listen)
    app = waiting_app(reason, token=config.monitor.web.token,
                      hosts=HostCheck(host, config.monitor.web.allowed_hosts))
    return await serve(app, host, port)


def leave(store: Store, node: str) -> None:
    """Stopping cleanly: leave the list of live nodes at once (``monitor nodes``)."""
    try:
        store.forget_node(node)
    except MonitorError as e:
        log.error("event=leave_failed node=%s error=%r", node, str(e))
    else:
        log.info("event=left node=%s", node)


def node_name(config: Config) -> str:
    """This daemon's id among several sharing one database."""
    return config.monitor.cluster.node_id or f"{socket.gethostname()}:{os.getpid()}"


def make_fetcher(config: Config) -> Fetcher:
    """The shared fetcher, configured from ``[monitor]``."""
    m = config.monitor.fetch
    return Fetcher(user_agent=m.user_agent, max_bytes=max(m.max_article_bytes, m.max_feed_bytes),
                   connect_timeout=m.connect_timeout, read_timeout=m.read_timeout,
                   deadline=m.fetch_deadline, max_connections=m.max_connections,
                   per_host=m.per_host_connections,
                   allow_private_networks=m.allow_private_networks)


@dataclass
class Services:
    """The long-lived collaborators, built once per process."""

    store: Store
    fetcher: Fetcher
    extractor: Extractor
    renderer: Renderer  # feeds with render = "browser"; Chromium starts on first use
    matching: ThreadPoolExecutor = field(  # one thread: more would take the loop's GIL turns
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="match"))
    reloading: ThreadPoolExecutor = field(  # one thread, so one malloc arena for every
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="reload"))  # rule set



__all__ = ["Services", "leave", "load", "make_fetcher", "node_name", "wait_for_start"]
