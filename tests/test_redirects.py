"""Redirect links unwrapped for every feed (monitor.sources.redirects), and
``resolve_redirects``: Google Alerts and other ``?url=`` wrappers, Google News tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from monitor.models import Entry
from monitor.sources import parse_source
from monitor.sources.redirects import (
    google_news_target,
    is_opaque,
    landing_target,
    unwrap_entry,
    unwrap_url,
)
from monitor.testing import NewsServer, WebhookReceiver
from tests.helpers import write_config
from tests.sourcekit import (
    DPA_RULE,
    SITE,
    alerted,
    document,
    google_news_token,
    poll_once,
    webhook_secret,  # noqa: F401 - an autouse fixture
)

ARTICLE = "https://www.reuters.com/world/us/pentagon-weighs-dpa-2026-02-27/"
OLD_TOKEN = google_news_token(ARTICLE, amp=ARTICLE + "?amp")
NEW_TOKEN = google_news_token("AU_yqLNbH3tB5fPq0rQ7k3ZTxwUbLhO6k9m3Y_c2eIj4gTQ1sHwX")


@pytest.mark.parametrize(("wrapped", "expected"), [
    (f"https://www.google.com/url?rct=j&sa=t&url={ARTICLE}&ct=ga&usg=AOvVaw0", ARTICLE),
    (f"https://www.google.co.uk/url?q={ARTICLE}&sa=U&ved=2ahUKE", ARTICLE),
    ("https://www.google.com/url?url=https%3A%2F%2Fexample.org%2Fa%3Fb%3D1%26c%3D2",
     "https://example.org/a?b=1&c=2"),
    (f"https://l.facebook.com/l.php?u={ARTICLE}&h=AT0", ARTICLE),
    (f"https://duckduckgo.com/l/?uddg={ARTICLE}&rut=abc", ARTICLE),
    (f"https://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&url={ARTICLE}&c=1", ARTICLE),
    (f"https://out.reddit.com/t3_abc?url={ARTICLE}&token=x", ARTICLE),
    (f"https://news.google.com/rss/articles/{OLD_TOKEN}?oc=5", ARTICLE),
    (f"https://news.google.com/articles/{OLD_TOKEN}?hl=en-US", ARTICLE),
    ("https://www.google.com/url?url=https://www.google.com/url?url=" + ARTICLE, ARTICLE),
], ids=["google-alerts", "google-q", "percent-encoded", "facebook", "duckduckgo", "bing",
        "reddit", "google-news-old", "google-news-articles", "nested"])
def test_redirect_links_are_unwrapped_offline(wrapped: str, expected: str) -> None:
    assert unwrap_url(wrapped) == expected
    assert not is_opaque(wrapped)


@pytest.mark.parametrize("url", [
    ARTICLE,
    "https://example.org/share?url=https://other.example/x",  # a share button, not a redirect
    "https://www.google.com/url?url=/relative/path",
    "https://www.google.com/url?url=javascript:alert(1)",
    "https://www.google.com/search?q=https://example.org/",
    f"https://news.google.com/rss/articles/{NEW_TOKEN}?oc=5",
    "https://news.google.com/rss/articles/%%%%not-base64",
    "",
], ids=["plain", "share", "relative", "javascript", "search", "google-news-new", "garbage",
        "empty"])
def test_other_links_stay_as_they_are(url: str) -> None:
    assert unwrap_url(url) == url


def test_new_google_news_tokens_are_opaque_and_old_ones_decode() -> None:
    assert google_news_target(NEW_TOKEN) is None
    assert google_news_target(OLD_TOKEN) == ARTICLE
    assert is_opaque(f"https://news.google.com/rss/articles/{NEW_TOKEN}?oc=5")
    assert is_opaque(f"http://127.0.0.1:8000/rss/articles/{NEW_TOKEN}")  # base_url in tests
    assert not is_opaque(ARTICLE)


def test_an_entry_keyed_by_its_link_is_keyed_by_the_unwrapped_link() -> None:
    wrapped = f"https://www.google.com/url?url={ARTICLE}&usg=x"
    assert unwrap_entry(Entry(key=wrapped, url=wrapped)) == Entry(key=ARTICLE, url=ARTICLE)
    assert unwrap_entry(Entry(key="guid-1", url=wrapped)) == Entry(key="guid-1", url=ARTICLE)


@pytest.mark.parametrize(("page", "expected"), [
    (b'<html><head><meta http-equiv="refresh" content="0;url=\'https://a.example/x\'">',
     "https://a.example/x"),
    (b'<html><body><c-wiz><div data-n-au="https://b.example/y"></div></c-wiz></body></html>',
     "https://b.example/y"),
    (b'<html><head><link rel="canonical" href="https://c.example/z"></head></html>',
     "https://c.example/z"),
    (b'<html><head><link rel="canonical" href="/rss/articles/x"></head></html>', None),
    (b"", None),
], ids=["meta-refresh", "data-n-au", "canonical", "own-host", "empty"])
def test_a_landing_page_names_its_target(page: bytes, expected: str | None) -> None:
    assert landing_target(page, "https://news.google.com/rss/articles/x") == expected


def test_every_kind_unwraps_a_google_alerts_feed() -> None:
    feed = parse_source("feed", document("google-alerts.atom"), "https://www.google.com/alerts/f")
    assert [(e.key, e.url) for e in feed.entries] == [
        ("tag:google.com,2013:googlealerts/feed:12869364893640563178",
         f"{SITE}/articles/anthropic-pentagon.html"),
        ("tag:google.com,2013:googlealerts/feed:4407735093017413640",
         f"{SITE}/articles/no-such-story.html")]
    assert feed.entries[0].title == "Anthropic says it cannot in good conscience accede to " \
                                    "Pentagon's demands"


# -- end to end: a Google Alerts feed and the site's own feed, one story -------------------

async def test_google_alerts_links_alert_once_per_story_with_the_site_feed(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/alerts/feeds/1/2").respond_with_data(
        document("google-alerts.atom", news.base), content_type="application/atom+xml")
    feeds = f"""
[[feeds]]
name = "Alerts"
url = "{httpserver.url_for('/alerts/feeds/1/2')}"

[[feeds]]
name = "Demo News"
url = "{news.base}/feed.xml"
"""
    await poll_once(write_config(tmp_path, news, None, hook, feeds=feeds, watches=DPA_RULE))
    # the story in both feeds alerts once, for its real URL; the missing page is matched on
    # the alert's own text, under its unwrapped link too
    assert alerted(hook) == [("dpa", f"{news.base}/articles/anthropic-pentagon.html"),
                             ("dpa", f"{news.base}/articles/no-such-story.html")]
    assert "/articles/no-such-story.html" in news.requests  # the unwrapped link was fetched


async def test_opaque_links_use_the_feed_text_unless_resolve_redirects(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, httpserver: HTTPServer) -> None:
    opaque = f"/rss/articles/{NEW_TOKEN}"
    item = (f"<item><title>Pentagon weighs Defense Production Act - Demo News</title>"
            f"<link>{httpserver.url_for(opaque)}?oc=5</link><guid>g1</guid>"
            "<description>The Defense Production Act, said the Pentagon.</description></item>")
    httpserver.expect_request("/rss.xml").respond_with_data(
        f'<rss version="2.0"><channel><title>t</title>{item}</channel></rss>')
    httpserver.expect_request(opaque).respond_with_data(
        "", status=302, headers={"Location": f"{news.base}/articles/anthropic-pentagon.html"})
    feed = f'[[feeds]]\nname = "N"\nurl = "{httpserver.url_for("/rss.xml")}"\n'

    await poll_once(write_config(tmp_path, news, None, hook, feeds=feed, watches=DPA_RULE))
    assert alerted(hook) == [("dpa", f"{httpserver.url_for(opaque)}?oc=5")]  # the feed's text
    assert not any(r.path == opaque for r, _ in httpserver.log)  # Google's page never fetched

    (tmp_path / "monitor.db").unlink()
    hook.received.clear()
    await poll_once(write_config(tmp_path, news, None, hook, watches=DPA_RULE,
                                 feeds=feed + "resolve_redirects = true\n"))
    assert alerted(hook) == [("dpa", f"{news.base}/articles/anthropic-pentagon.html")]
    assert any(r.path == opaque for r, _ in httpserver.log)


async def test_resolve_redirects_follows_a_landing_page_to_its_article(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, httpserver: HTTPServer) -> None:
    opaque = f"/rss/articles/{NEW_TOKEN}"
    target = f"{news.base}/articles/anthropic-pentagon.html"
    httpserver.expect_request("/rss.xml").respond_with_data(
        '<rss version="2.0"><channel><title>t</title><item><title>Pentagon weighs Defense '
        f"Production Act</title><link>{httpserver.url_for(opaque)}</link></item></channel></rss>")
    httpserver.expect_request(opaque).respond_with_data(  # Google's page, which scripts away
        f'<html><body><c-wiz><div jscontroller="x" data-n-au="{target}"></div></c-wiz>'
        "<script>window.location.replace(...)</script></body></html>", content_type="text/html")
    feed = f'[[feeds]]\nname = "N"\nurl = "{httpserver.url_for("/rss.xml")}"\n' \
           "resolve_redirects = true\n"
    await poll_once(write_config(tmp_path, news, None, hook, feeds=feed, watches=DPA_RULE))
    assert alerted(hook) == [("dpa", target)]
