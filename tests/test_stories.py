"""Alerts users can trust: one alert per story, in-place edits, digests, rate limits."""

from __future__ import annotations

import asyncio
import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from monitor.daemon import Daemon, load
from monitor.testing import (
    SEED_TITLE,
    MailServer,
    NewsServer,
    SeedArticle,
    WebhookReceiver,
    load_seeds,
)
from tests.conftest import ServeApp
from tests.helpers import SECRET, SEED_WATCHES, write_config

PAGES = Path(__file__).parent / "data" / "pages"
SEED = load_seeds()[0]
SAME_TOPIC = json.loads((PAGES / "ledger-anthropic-deadline.expected.json").read_text())


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)


@dataclass
class Syndication:
    """Five news sites carrying one wire story with their own templates and tracking links."""

    bodies: dict[int, str] = field(default_factory=dict)
    extra: dict[int, list[tuple[str, str, str]]] = field(default_factory=dict)
    port: int = 0

    def page(self, site: int, title: str, body: str) -> str:
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n") if p.strip())
        return (f"<html><head><title>{html.escape(title)} - Site {site}</title></head><body>"
                f"<nav><a href='/'>Site {site} home</a> <a href='/sports'>Sports</a></nav>"
                f"<article><h1>{html.escape(title)}</h1><p>From the wire, site {site}.</p>"
                f"{paras}</article><footer>Site {site} newsletter: sign up today</footer>"
                "</body></html>")

    def item(self, site: int, slug: str, title: str, body: str) -> str:
        link = (f"http://127.0.0.1:{self.port}/site{site}/news/{slug}.html"
                f"?utm_source=rss&amp;utm_medium=feed&amp;fbclid=x{site}")
        return (f"<item><title>{html.escape(title)}</title><link>{link}</link>"
                f"<guid>site{site}-{slug}</guid>"
                f"<description>{html.escape(body[:150])}</description></item>")

    async def feed(self, request: web.Request) -> web.Response:
        site = int(request.match_info["site"])
        items = self.item(site, "anthropic", SEED_TITLE, self.bodies[site])
        items += "".join(self.item(site, s, t, b) for s, t, b in self.extra.get(site, []))
        xml = f"<rss version='2.0'><channel><title>Site {site}</title>{items}</channel></rss>"
        return web.Response(text=xml, content_type="application/rss+xml")

    async def article(self, request: web.Request) -> web.Response:
        site, slug = int(request.match_info["site"]), request.match_info["slug"]
        if slug == "anthropic":
            return web.Response(text=self.page(site, SEED_TITLE, self.bodies[site]),
                                content_type="text/html")
        _, title, body = next(e for e in self.extra[site] if e[0] == slug)
        return web.Response(text=self.page(site, title, body), content_type="text/html")


@pytest.fixture
async def sites(serve_app: ServeApp) -> Syndication:
    syn = Syndication({i: SEED.body for i in range(1, 6)})
    syn.bodies[3] = "Updated 6:02 PM EST, February 26, 2026\n" + SEED.body
    syn.bodies[4] = SEED.body.replace("Sean Parnell said Thursday on social media",
                                      "Pentagon spokesman Sean Parnell wrote on Thursday")
    syn.extra[5] = [("ledger", SAME_TOPIC["title"], SAME_TOPIC["text"])]
    app = web.Application()
    app.router.add_get("/site{site}/feed.xml", syn.feed)
    app.router.add_get("/site{site}/news/{slug}.html", syn.article)
    syn.port = int((await serve_app(app)).rsplit(":", 1)[1])
    return syn


WATCHES = SEED_WATCHES + """
[[watch]]
name = "claude-gov"
query = '"Claude Gov"'
channels = CHANNELS
"""


async def test_one_alert_per_story_across_five_sites_and_an_edit(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, sites: Syndication,
        db_url: str) -> None:
    feeds = "".join(f'[[feeds]]\nname = "site{i}"\nurl = "http://127.0.0.1:{sites.port}'
                    f'/site{i}/feed.xml"\n' for i in range(1, 6))
    path = write_config(tmp_path, news, None, hook, feeds=feeds, watches=WATCHES,
                        database=db_url)
    daemon = Daemon(load(str(path)), str(path))
    try:
        await daemon.run_once()
        bodies = hook.bodies()
        wire = [b for b in bodies if b["article"]["title"] == SEED_TITLE]
        other = [b for b in bodies if b["article"]["title"] == SAME_TOPIC["title"]]
        # each rule alerts once for the wire story, which lists the four other sites
        assert sorted(b["rule"]["name"] for b in wire) == ["dpa", "scr"]
        for body in wire:
            also = body["also_seen_at"]
            assert len(also) == 4, also
            sites_seen = {u.split("/")[3] for u in also + [body["article"]["url"]]}
            assert sites_seen == {f"site{i}" for i in range(1, 6)}
        # a different story on the same topic is not merged: it alerts on its own
        assert sorted(b["rule"]["name"] for b in other) == ["dpa", "scr"]

        # site 2 edits the story in place (its feed item changes with it): it now also
        # matches "Claude Gov", and alerts again for that rule only
        sites.bodies[2] = "The company also offers Claude Gov to agencies.\n" + SEED.body
        await daemon.run_once()
        new = hook.bodies()[len(bodies):]
        assert [b["rule"]["name"] for b in new] == ["claude-gov"]
        assert new[0]["article"]["url"].split("/")[3] == "site2"
    finally:
        await daemon.close()


def distinct_story(n: int) -> SeedArticle:
    slugs = ["derby-penalty", "exoplanet-water", "sierra-snowstorm"]
    page = json.loads((PAGES / f"{slugs[n]}.expected.json").read_text())
    return SeedArticle(f"story{n}", page["title"], "2026-02-26",
                       page["text"] + "\nOfficials cited the Defense Production Act.")


async def test_digest_collects_matches_until_its_time(
        tmp_path: Path, hook: WebhookReceiver, mail: MailServer, db_url: str) -> None:
    news = await NewsServer([distinct_story(i) for i in range(3)]).start()
    fire = datetime.now(UTC) + timedelta(seconds=4)
    cron = f"{fire.second} {fire.minute} {fire.hour} * * *"
    watches = f"""
[[watch]]
name = "dpa"
query = '"Defense Production Act"'
channels = CHANNELS
digest = "{cron}"
"""
    path = write_config(tmp_path, news, mail, hook, watches=watches, database=db_url)
    daemon = Daemon(load(str(path)), str(path))
    try:
        await daemon.run_once()
        assert hook.received == [] and mail.messages == []  # nothing before the digest time
        assert daemon.services.store.count_alerts() == {"pending": 6}
        await asyncio.sleep(max(0.0, (fire - datetime.now(UTC)).total_seconds()) + 0.5)
        await daemon.deliver()
        assert len(hook.received) == 1 and len(mail.messages) == 1
        (digest,) = hook.bodies()
        assert digest["type"] == "monitor.digest" and len(digest["alerts"]) == 3
        assert "3 articles" in str(mail.messages[0]["Subject"])
        await daemon.deliver()  # an empty digest sends nothing
        assert len(hook.received) == 1 and len(mail.messages) == 1
    finally:
        await daemon.close()
        await news.stop()


async def test_rate_limit_rolls_the_rest_into_the_next_digest(
        tmp_path: Path, hook: WebhookReceiver, db_url: str) -> None:
    news = await NewsServer([distinct_story(i) for i in range(3)]).start()
    watches = """
[[watch]]
name = "dpa"
query = '"Defense Production Act"'
channels = CHANNELS
max_alerts_per_hour = 1
"""
    path = write_config(tmp_path, news, None, hook, watches=watches, database=db_url)
    daemon = Daemon(load(str(path)), str(path))
    try:
        await daemon.run_once()
        assert len(hook.received) == 1
        waiting = daemon.services.store.list_alerts("pending")
        assert len(waiting) == 2
        top_of_hour = (datetime.now(UTC) + timedelta(hours=1)).replace(
            minute=0, second=0, microsecond=0)
        assert all(r.digest_at == top_of_hour for r in waiting)
    finally:
        await daemon.close()
        await news.stop()
