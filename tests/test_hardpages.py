"""Hard pages: consent walls and paywall teasers fall back to the feed's text, marked partial.

A table of what ``judge_page`` calls a wall and what it does not (a real article that
mentions cookies or subscriptions in passing is not one), on the real-shaped pages in
tests/data/hardpages as trafilatura extracts them; then end to end through a local
server: a feed whose article page is a consent wall alerts with the feed's text, marked
partial in the stored article, the webhook body and the dashboard.
"""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from monitor.alerts.render import render_email
from monitor.daemon import Daemon, load
from monitor.extract import extract_article
from monitor.hardpages import judge_page, past_the_wall
from monitor.models import Alert, Article, Entry
from monitor.testing import NewsServer, WebhookReceiver, article_page, load_seeds
from monitor.web import create_app
from tests.helpers import SECRET, write_config

DATA = Path(__file__).parent / "data"
PAGES = DATA / "hardpages"
FEED_TEXT = ("The Defense Production Act could be invoked to keep the terminal in public "
             "hands, the port authority's chair told the council on Monday, as talks with a "
             "private shipping group over the sale of the container terminal continued. "
             "Unions have asked the government to block the deal; the shipping group said it "
             "would keep every job for five years and invest in new cranes and rail sidings, "
             "and the council will vote on the sale before the summer recess.")


def page_text(name: str) -> str:
    return extract_article((PAGES / name).read_bytes(), "https://news.example/a").text


@pytest.mark.parametrize(("name", "feed_text", "verdict"), [
    ("consent-wall-de.html", "", "consent"),
    ("consent-wall-en.html", "", "consent"),
    ("consent-wall-en.html", FEED_TEXT, "consent"),
    ("paywall-teaser.html", "", "paywall"),
    ("paywall-teaser.html", FEED_TEXT, "paywall"),
    ("article-about-cookies.html", "", None),
    ("article-about-cookies.html", FEED_TEXT, None),
], ids=lambda v: str(v)[:24])
def test_real_shaped_pages(name: str, feed_text: str, verdict: str | None) -> None:
    assert judge_page(page_text(name), feed_text) == verdict


LONG_STORY = ("The council approved the budget on Tuesday after a four-hour debate. " * 12).strip()


@pytest.mark.parametrize(("text", "feed_text", "verdict"), [
    ("Nous utilisons des cookies pour mesurer l'audience et personnaliser les publicités.\n"
     "Tout accepter\nParamétrer les cookies", "", "consent"),
    ("Utilizziamo i cookie per migliorare la tua esperienza.\nAccetta tutti\nRifiuta tutti",
     "", "consent"),
    ("Wir nutzen Cookies und ähnliche Technologien.\nZustimmen", "", "consent"),
    ("Le maire a annoncé un nouveau plan pour les transports en commun de la ville.\n"
     "Réservé aux abonnés", "", "paywall"),
    ("Die Stadt plant eine neue Straßenbahnlinie bis zum Hauptbahnhof.\nJetzt abonnieren",
     "", "paywall"),
    ("The council approved the budget on Tuesday.", LONG_STORY, "short"),
    # negatives: the story carries the text; notices are mentioned in passing
    (LONG_STORY + "\nThe site said: \"We use cookies\" and showed an \"Accept all\" button.",
     "", None),
    (LONG_STORY + "\nReaders can subscribe to the council's newsletter.", "", None),
    ("Le gouvernement a refusé d'accepter les conditions posées par le syndicat. " * 4,
     "", None),
    ("Un homme a été assassiné hier soir à Lyon, selon la police. " * 5, "", None),
    ("Short brief about the budget.", "Short feed text.", None),
    (LONG_STORY, LONG_STORY, None),
    ("", "", None),
    ("We use cookies.\n" * 2000, "", None),  # over MAX_WALL_CHARS: never scanned
], ids=["fr-consent", "it-consent", "de-button", "fr-paywall", "de-paywall", "shorter-than-feed",
        "cookies-in-passing", "subscribe-in-passing", "accepter-in-prose", "assassine-in-prose",
        "short-feed-too", "same-as-feed", "empty", "huge"])
def test_detection_table(text: str, feed_text: str, verdict: str | None) -> None:
    assert judge_page(text, feed_text) == verdict


def test_a_walled_page_becomes_the_feeds_text_marked_partial() -> None:
    entry = Entry("k", "https://news.example/a", title="Port authority weighs terminal sale",
                  summary=FEED_TEXT)
    walled = extract_article((PAGES / "consent-wall-en.html").read_bytes(),
                             "https://news.example/a", entry=entry, source="Ledger")
    article, wall = past_the_wall(walled, entry)
    assert wall == "consent"
    assert article.partial and article.from_feed
    assert (article.title, article.text, article.source) == (entry.title, FEED_TEXT, "Ledger")
    page = extract_article(article_page(load_seeds()[0]).encode(), "https://news.example/b",
                           entry=entry)
    assert past_the_wall(page, entry) == (page, None)


# -- end to end -----------------------------------------------------------------------------

def feed_xml(base: str) -> str:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Ledger</title><link>{base}/</link><description>d</description>"
            f"<item><title>Port authority weighs terminal sale</title>"
            f"<link>{base}/news/terminal.html</link><guid>{base}/news/terminal.html</guid>"
            f"<pubDate>Mon, 02 Mar 2026 06:15:00 GMT</pubDate>"
            f"<description>{html.escape(FEED_TEXT)}</description></item>"
            f"</channel></rss>")


async def test_a_consent_wall_alerts_with_the_feeds_text_marked_partial(
        tmp_path: Path, httpserver: HTTPServer, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    base = f"http://127.0.0.1:{httpserver.port}"
    httpserver.expect_request("/feed.xml").respond_with_data(
        feed_xml(base), content_type="application/rss+xml")
    httpserver.expect_request("/news/terminal.html").respond_with_data(
        (PAGES / "consent-wall-en.html").read_bytes(), content_type="text/html")
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = write_config(tmp_path, news, None, hook,
                        feeds=f'[[feeds]]\nname = "Ledger"\nurl = "{base}/feed.xml"\n',
                        watches='[[watch]]\nname = "dpa"\nquery = \'"Defense Production Act"\''
                                "\nchannels = CHANNELS\n"
                                '[[watch]]\nname = "cookies"\nquery = "cookies OR partners"'
                                "\nchannels = CHANNELS\n")
    daemon = Daemon(load(str(path)), str(path))
    try:
        await daemon.run_once()
        [body] = hook.bodies()  # the consent text matched nothing: "cookies" never alerts
        assert body["rule"]["name"] == "dpa"
        assert body["article"]["partial"] is True
        assert body["article"]["title"] == "Port authority weighs terminal sale"
        assert "Defense Production Act" in body["matches"][0]["snippets"][0]
        [row] = daemon.services.store.hits(alerted=True)
        assert row.article.partial and row.article.from_feed and row.article.text == FEED_TEXT
        page = await dashboard(daemon)
        assert '<span class="partial"' in page
        assert daemon.metrics.registry.get_sample_value(
            "monitor_articles_extracted_total", {"mode": "partial"}) == 1
    finally:
        await daemon.close()


async def dashboard(daemon: Daemon) -> str:
    app = create_app(daemon.services.store, lambda: daemon.config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as c:
        return (await c.get("/")).text


def test_an_alert_email_says_the_article_is_partial() -> None:
    article = Article(url="https://news.example/a", title="Terminal sale", text=FEED_TEXT,
                      source="Ledger", from_feed=True, partial=True)
    alert = Alert(id="01JPARTIAL", created_at=datetime(2026, 3, 2, tzinfo=UTC), rule="dpa",
                  query='"Defense Production Act"', article=article, terms=(),
                  channel="mail")
    message = render_email(alert, "monitor@example.org", ["desk@example.org"])
    text, html_part = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html_part is not None
    assert "Partial: the page was a consent wall or paywall" in text.get_content()
    assert "partial: the page was a consent wall or paywall" in html_part.get_content()
    whole = render_email(replace(alert, article=replace(article, partial=False)),
                         "monitor@example.org", ["desk@example.org"])
    assert "artial" not in str(whole.get_body(("plain",)))
