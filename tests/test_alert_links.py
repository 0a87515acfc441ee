"""Alert links lose their tracking parameters exactly as the dedup key does, nothing else.

``strip_tracking`` is checked on its own and against ``canonical_url``; then an alert
stored with a tracked URL (and a tracked copy of its story) is rendered by every channel's
renderer, and delivered through the outbox to a real webhook receiver.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from monitor.alerts.apprise_channel import render_digest_markdown, render_markdown
from monitor.alerts.outbox import Outbox
from monitor.alerts.render import render_digest_email, render_email, webhook_payload
from monitor.alerts.webhook import WebhookChannel
from monitor.config import FeedSettings
from monitor.dedup import canonical_url, strip_tracking
from monitor.models import Article, Digest, Entry, Match, TermHit
from monitor.store import NewArticle, Store
from monitor.testing import WebhookReceiver
from tests.store_helpers import store_article

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

STRIP_CASES = [
    ("https://News.example/World/Story-1?utm_source=rss&utm_medium=feed",
     "https://News.example/World/Story-1"),
    ("HTTP://ex.org/A/b/?id=3&fbclid=IwAR0&Page=2#Comments",
     "HTTP://ex.org/A/b/?id=3&Page=2#Comments"),
    ("https://ex.org/a?q=caf%C3%A9+au+lait&gclid=x&z=1&UTM_Campaign=y",
     "https://ex.org/a?q=caf%C3%A9+au+lait&z=1"),
    ("https://ex.org/a?utm%5Fsource=x&keep", "https://ex.org/a?keep"),
    ("https://ex.org/a?mc_cid=1&mc_eid=2&pk_campaign=3", "https://ex.org/a"),
    ("https://ex.org/a?id=1", "https://ex.org/a?id=1"),
    ("https://ex.org/a#utm_source=x", "https://ex.org/a#utm_source=x"),
    ("https://ex.org/a?a=1&&b=2", "https://ex.org/a?a=1&&b=2"),
    ("https://ex.org/amp/a?amp=1&utm_source=x", "https://ex.org/amp/a?amp=1"),
    ("", ""),
    ("not a url?utm_source=x", "not a url?utm_source=x"),
    ("/relative/a?utm_source=x", "/relative/a?utm_source=x"),
]


@pytest.mark.parametrize(("url", "stripped"), STRIP_CASES, ids=[
    "utm-only", "fbclid-keeps-case-order-fragment", "encoding-kept", "encoded-key",
    "other-trackers", "nothing-to-strip", "fragment-untouched", "empty-pair-kept",
    "amp-kept", "empty", "not-a-url", "relative"])
def test_strip_tracking(url: str, stripped: str) -> None:
    assert strip_tracking(url) == stripped


@pytest.mark.parametrize("url", [u for u, _ in STRIP_CASES if u])
def test_strip_tracking_agrees_with_the_dedup_key(url: str) -> None:
    assert canonical_url(strip_tracking(url)) == canonical_url(url)
    assert strip_tracking(strip_tracking(url)) == strip_tracking(url)


TRACKED = "https://News.example/World/DPA-Order?id=7&utm_source=rss&utm_medium=feed&fbclid=AbC"
CLEAN = "https://News.example/World/DPA-Order?id=7"
COPY = "https://Mirror.example/Wire/DPA?gclid=XyZ&Section=Home"
COPY_CLEAN = "https://Mirror.example/Wire/DPA?Section=Home"


def store_tracked_alert(url: str) -> Store:
    """An alert on an article with a tracked URL, and a tracked copy of its story."""
    store = Store(url)
    store.migrate()
    store.sync_feeds([FeedSettings("wire", "http://127.0.0.1/feed", 60)], NOW)
    (feed,) = store.feeds()
    text = "The Defense Production Act was invoked on Monday. " * 20
    match = Match("dpa", '"Defense Production Act"', (TermHit("defense production act", 1),))
    for link, key in ((TRACKED, "k1"), (COPY, "k2")):  # one story: one alert
        article = Article(link, "DPA invoked", text, source="Wire")
        new = NewArticle(Entry(key, link, article.title), article, key, 42, (match,))
        store_article(store, feed.id, "wire", new, {"dpa": [("hook", None)]}, NOW,
                      lambda a, b: a == b)
    return store


def test_every_renderer_gets_the_stripped_links(tmp_path: Path) -> None:
    store = store_tracked_alert(f"sqlite:///{tmp_path / 'm.db'}")
    (row,) = store.list_alerts()
    alert = Outbox(store, {}).alert(row)
    digest = Digest("d1", NOW, "hook", (alert,))
    payload = webhook_payload(alert)
    assert payload["article"]["url"] == CLEAN
    assert payload["also_seen_at"] == [COPY_CLEAN]
    mails: list[EmailMessage] = [render_email(alert, "m@example.org", ["d@example.org"]),
                                 render_digest_email(digest, "m@example.org", ["d@example.org"])]
    for msg in mails:
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                body = part.get_content()
                assert CLEAN in body.replace("&amp;", "&")
                assert "utm_" not in body and "fbclid" not in body and "gclid" not in body
    for _, markdown in (render_markdown(alert), render_digest_markdown(digest)):
        assert f"({CLEAN})" in markdown
        assert "utm_" not in markdown and "fbclid" not in markdown and "gclid" not in markdown



async def test_webhook_receiver_gets_the_stripped_links(
        tmp_path: Path, hook: WebhookReceiver, client: httpx.AsyncClient) -> None:
    store = store_tracked_alert(f"sqlite:///{tmp_path / 'm.db'}")
    outbox = Outbox(store, {"hook": WebhookChannel("hook", hook.url, [], client)},
                    clock=lambda: NOW)
    assert await outbox.drain() == 1
    (body,) = hook.bodies()
    assert body["article"]["url"] == CLEAN
    assert body["also_seen_at"] == [COPY_CLEAN]
    (row,) = store.list_alerts()
    assert row.article.url == TRACKED  # the stored article keeps its URL
