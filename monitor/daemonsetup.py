"""What the daemon is built from: the validated config (``load``), this node's name, the
shared fetcher and the long-lived services (split from ``monitor.daemon`` for size)."""

from __future__ import annotations

import os
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from monitor.browser import Renderer
from monitor.config import Config, load_config
from monitor.extract import Extractor
from monitor.fetch import Fetcher
from monitor.rules import check_query
from monitor.sources import source_kinds
from monitor.store import Store


def load(path: str) -> Config:
    """Load and fully validate a config (queries and source kinds included)."""
    return load_config(path, query_checker=lambda q, cs: check_query(q, case_sensitive=cs),
                       source_kinds=source_kinds())


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



__all__ = ["Services", "load", "make_fetcher", "node_name"]
