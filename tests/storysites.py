"""Several local news sites carrying one syndicated story, a daemon polling them and
serving its API on 127.0.0.1 (``test_stories_api.py``, ``test_triage.py``,
``test_rule_stats.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from monitor.daemon import Daemon
from monitor.testing import NewsServer, SeedArticle, WebhookReceiver
from tests.helpers import until, write_config
from tests.webusers import csrf, serving, sign_in, users_toml

NAMES = ("Site A", "Site B", "Site C", "Site D", "Site E")
SYNDICATED = SeedArticle(
    "wire-story", "Officials plan a new import regime", "2026-02-27",
    "Officials said the quagga tariff schedule would return next month, "
    "according to people briefed on the plan. " * 5)
HERD = SeedArticle("herd", "A herd by the river", "2026-02-27",
                   "The quagga herd grazed near the river while rangers counted them "
                   "from the bank. " * 5)
HOSTILE = SeedArticle("hostile", '<script>alert("title")</script> Zebra news', "2026-02-27",
                      "Rangers wrote <script>alert('x')</script> about the zebra tariff "
                      "in the park today. " * 5)
WATCHES = """
[[watch]]
name = "quagga"
query = 'quagga'
channels = ["hook"]

[[watch]]
name = "tariff"
query = 'tariff'
channels = ["hook"]

[[watch]]
name = "schedule"
query = 'schedule'
channels = ["hook"]
"""


def article(slug: str, title: str, sentence: str) -> SeedArticle:
    """A dated seed article whose body is ``sentence`` five times (long enough to be
    compared for stories)."""
    return SeedArticle(slug, title, "2026-02-27", (sentence.strip() + " ") * 5)




async def settle(daemon: Daemon, since: dict[int, Any] | None = None) -> None:
    """Wait until every feed was polled (again, after ``since``) and no poll runs."""
    store = daemon.services.store

    def done() -> bool:
        feeds = store.feeds()
        return (all(f.last_polled_at and (since is None or f.last_polled_at != since.get(f.id))
                    for f in feeds) and not daemon.polls)
    await until(done, 60, "the polls")


async def poll(daemon: Daemon) -> None:
    """Poll every feed now and wait for it."""
    before = {f.id: f.last_polled_at for f in daemon.services.store.feeds()}
    await daemon.poll_due(force=True)
    await settle(daemon, before)


@asynccontextmanager
async def sites(tmp_path: Path, hook: WebhookReceiver, contents: list[list[SeedArticle]],
                watches: str = WATCHES, database: str | None = None,
                first_poll_alerts: bool = True
                ) -> AsyncIterator[tuple[str, Daemon, list[NewsServer]]]:
    """One news site per item of ``contents`` (feeds ``Site A``..., A and B tagged
    ``wires``), the daemon polling them once; (its base URL, it, the sites)."""
    async with AsyncExitStack() as stack:
        servers = []
        for articles in contents:
            server = await NewsServer(list(articles)).start()
            stack.push_async_callback(server.stop)
            servers.append(server)
        feeds = "".join(
            f'\n[[feeds]]\nname = "{NAMES[i]}"\nurl = "{s.base}/feed.xml"\n'
            + ('tags = ["wires"]\n' if i < 2 else "") for i, s in enumerate(servers))
        path = write_config(tmp_path, servers[0], None, hook, feeds=feeds, watches=watches,
                            database=database)
        text = path.read_text() + users_toml(tmp_path)
        if not first_poll_alerts:
            text = text.replace("alert_on_first_poll = true", "alert_on_first_poll = false")
        path.write_text(text)
        base, daemon = await stack.enter_async_context(serving(path))
        await settle(daemon)
        yield base, daemon, servers


@asynccontextmanager
async def client(base: str, name: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """A client; signed in as ``name`` (sending its CSRF token) if given."""
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=30) as c:
        if name:
            await sign_in(c, name)
            c.headers["X-CSRF-Token"] = await csrf(c)
        yield c


async def rule_ids(c: httpx.AsyncClient) -> dict[str, int]:
    """Rule name -> id, from ``/api/rules``."""
    return {r["name"]: r["id"] for r in (await c.get("/api/rules")).json()["rules"]}


async def stories(c: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    """``/api/stories`` with ``params``, checked 200."""
    got = await c.get("/api/stories", params=params)
    assert got.status_code == 200, got.text
    return dict(got.json())


def by_title(page: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["title"]: s for s in page["stories"]}
