"""Language and age end to end: a local feed of German, English and French articles, a
webhook receiver and a real database (SQLite and PostgreSQL), through the daemon's own
poll; then the stored articles through ``monitor backtest`` and ``/api/search``.

* each article gets a language (declared by its page, else detected) and it is stored;
* ``lang:de Lieferkette`` alerts only on the German article (whose ``Lieferketten`` folds
  by the German dictionary), a rule with ``languages = ["fr"]`` only on the French one;
* an item older than ``max_age`` is stored but alerts only the rules whose own
  ``max_age`` lets it through; a fresh one alerts them all;
* ``published:`` and ``lang:`` filter backtests and the search API.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from monitor.backtest import Backtest
from monitor.daemon import Daemon, load
from monitor.testing import NewsServer, WebhookReceiver
from monitor.web import create_app
from tests.conftest import ServeApp
from tests.helpers import SECRET, write_config


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)


GERMAN = ("Die Lieferketten der deutschen Autoindustrie stehen unter Druck, weil wichtige "
          "Bauteile aus Asien seit Wochen fehlen. Die Hersteller drosseln ihre Produktion "
          "und warnen vor weiteren Engpässen in den kommenden Monaten.")
ENGLISH = ("Car makers are cutting production because parts from Asia have been missing for "
           "weeks. German suppliers call it a crisis of the Lieferkette, the supply chain, "
           "and warn of further shortages in the coming months.")
FRENCH = ("Les constructeurs automobiles réduisent leur production car des pièces venues "
          "d'Asie manquent depuis des semaines. Ils craignent de nouvelles pénuries dans les "
          "mois à venir, disent les syndicats.")

PAGES = {  # slug -> (<html> attributes, title, text); only English declares its language
    "de": ("", "Autoindustrie unter Druck", GERMAN),
    "en": (' lang="en-GB"', "Car makers under pressure", ENGLISH),
    "fr": ("", "Les constructeurs sous pression", FRENCH),
}


def page(attributes: str, title: str, text: str) -> str:
    paragraphs = "".join(f"<p>{text}</p>" for _ in range(3))
    return (f"<!doctype html><html{attributes}><head><title>{title}</title></head><body>"
            f"<article><h1>{title}</h1>{paragraphs}</article></body></html>")


def rss(items: str) -> str:
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>Mixed</title>{items}" \
           "</channel></rss>"


async def mixed_feed(serve_app: ServeApp) -> str:
    """A feed of three article pages, each in its language; the feed declares none."""
    now = format_datetime(datetime.now(UTC) - timedelta(hours=1))
    app = web.Application()
    base = ""

    async def feed(_: web.Request) -> web.Response:
        items = "".join(f"<item><guid>{slug}</guid><title>{title}</title>"
                        f"<link>{base}/{slug}.html</link><pubDate>{now}</pubDate></item>"
                        for slug, (_, title, _) in PAGES.items())
        return web.Response(text=rss(items), content_type="application/rss+xml")

    async def article(request: web.Request) -> web.Response:
        attributes, title, text = PAGES[request.match_info["slug"]]
        return web.Response(text=page(attributes, title, text), content_type="text/html")

    app.router.add_get("/feed.xml", feed)
    app.router.add_get("/{slug}.html", article)
    base = await serve_app(app)
    return base


LANGUAGE_RULES = """
[[watch]]
name = "de"
query = 'lang:de Lieferkette'
channels = CHANNELS

[[watch]]
name = "fr"
query = 'Lieferkette OR pénurie'
languages = ["fr"]
channels = CHANNELS

[[watch]]
name = "any"
query = 'Lieferkette'
channels = CHANNELS
"""


async def test_rules_filter_by_the_articles_language(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, serve_app: ServeApp,
        db_url: str) -> None:
    base = await mixed_feed(serve_app)
    feeds = f'[[feeds]]\nname = "Mixed"\nurl = "{base}/feed.xml"\n'
    path = write_config(tmp_path, news, None, hook, feeds=feeds, watches=LANGUAGE_RULES,
                        database=db_url)
    daemon = Daemon(load(str(path)), str(path))
    try:
        await daemon.run_once()
        alerted = sorted((b["rule"]["name"], b["article"]["url"].rsplit("/", 1)[1],
                          b["article"]["language"]) for b in hook.bodies())
        assert alerted == [("any", "de.html", "de"), ("any", "en.html", "en"),
                           ("de", "de.html", "de"), ("fr", "fr.html", "fr")]
        store = daemon.services.store
        stored = {s.article.url.rsplit("/", 1)[1]: s.article.language
                  for s in store.iter_articles()}
        assert stored == {"de.html": "de", "en.html": "en", "fr.html": "fr"}

        backtest = Backtest("lang:(de OR en) Lieferkette")
        assert sorted(s.article.language for s, _ in backtest.run(store)) == ["de", "en"]
        app = create_app(store, lambda: daemon.config)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://testserver") as http:
            hits = (await http.get("/api/search", params={"q": "lang:de Lieferkette"})).json()
            bad = await http.get("/api/search", params={"q": "Lieferkette lang:german"})
        assert [h["article"]["language"] for h in hits["hits"]] == ["de"]
        assert bad.status_code == 400 and bad.json()["column"] == 18
        assert "2-letter language code" in bad.json()["error"]
    finally:
        await daemon.close()


AGE_RULES = """
[[watch]]
name = "feed-age"
query = 'Lieferkette'
channels = CHANNELS

[[watch]]
name = "any-age"
query = 'Lieferkette'
max_age = "off"
channels = CHANNELS

[[watch]]
name = "year"
query = 'Lieferkette'
max_age = "365d"
channels = CHANNELS
"""


async def test_an_old_item_is_stored_but_alerts_only_rules_that_allow_its_age(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, serve_app: ServeApp,
        db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    now = datetime.now(UTC)
    dated = {"old": now - timedelta(days=120), "fresh": now - timedelta(hours=2),
             "undated": None}
    texts = {"old": GERMAN, "fresh": FRENCH + " Lieferkette.", "undated": ENGLISH}
    items = "".join(  # three stories: one text each, so none is another's duplicate
        f"<item><guid isPermaLink='false'>{key}</guid><title>{key} Lieferkette</title>"
        + (f"<pubDate>{format_datetime(when)}</pubDate>" if when else "")
        + f"<description>{texts[key]}</description></item>" for key, when in dated.items())
    app = web.Application()

    async def feed(_: web.Request) -> web.Response:
        return web.Response(text=rss(items), content_type="application/rss+xml")

    app.router.add_get("/feed.xml", feed)
    base = await serve_app(app)
    feeds = f'[[feeds]]\nname = "Reposts"\nurl = "{base}/feed.xml"\nmax_age = "30d"\n'
    path = write_config(tmp_path, news, None, hook, feeds=feeds, watches=AGE_RULES,
                        database=db_url)
    daemon = Daemon(load(str(path)), str(path))
    try:
        with caplog.at_level(logging.INFO, logger="monitor.pipeline"):
            await daemon.run_once()
        alerted = sorted((b["rule"]["name"], b["article"]["title"].split()[0])
                         for b in hook.bodies())
        assert alerted == [("any-age", "fresh"), ("any-age", "old"), ("any-age", "undated"),
                           ("feed-age", "fresh"), ("feed-age", "undated"),
                           ("year", "fresh"), ("year", "old"), ("year", "undated")]
        too_old = [r.getMessage() for r in caplog.records if "event=too_old" in r.getMessage()]
        assert len(too_old) == 1 and "rules=feed-age" in too_old[0]
        store = daemon.services.store
        assert sorted(s.article.title.split()[0] for s in store.iter_articles()) == [
            "fresh", "old", "undated"]

        # published: in backtests; the undated item counts as published when stored (today)
        week_ago = (now - timedelta(days=7)).date().isoformat()
        recent = Backtest(f"Lieferkette published:>={week_ago}")
        assert sorted(s.article.title.split()[0] for s, _ in recent.run(store)) == [
            "fresh", "undated"]
        older = Backtest(f"Lieferkette published:<{week_ago}")
        assert [s.article.title.split()[0] for s, _ in older.run(store)] == ["old"]
    finally:
        await daemon.close()
