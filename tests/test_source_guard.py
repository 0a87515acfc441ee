"""The SSRF guard holds for every source kind: links a source's document names are third-
party URLs, fetched guarded (the operator's own source URL is trusted). A link to a private
or metadata address is refused on the address, never dialled (the conftest guard would
fail the test on any connection beyond loopback), and the item's own text stands in."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from monitor.testing import NewsServer, WebhookReceiver
from tests.helpers import write_config
from tests.sourcekit import (
    DPA_RULE,
    alerted,
    google_news_token,
    poll_once,
    webhook_secret,  # noqa: F401 - an autouse fixture
)

PRIVATE = ["http://10.20.30.40/2026/02/27/defense-production-act-order-signed",
           "http://169.254.169.254/latest/meta-data/defense-production-act-2026"]
TITLE = "Pentagon signs Defense Production Act order against AI lab"


def documents() -> dict[str, tuple[str, str]]:
    """kind -> (the document linking to PRIVATE, its options)."""
    items = "".join(f"<item><title>{TITLE}</title><link>{u}</link></item>" for u in PRIVATE)
    news = "".join(f"<item><title>{TITLE} - Wire</title><link>https://news.google.com/rss/"
                   f"articles/{google_news_token(u)}</link><source url='x'>Wire</source></item>"
                   for u in PRIVATE)
    urls = "".join(f"<url><loc>{u}</loc><news:news><news:title>{TITLE}</news:title>"
                   "</news:news></url>" for u in PRIVATE)
    cards = "".join(f"<article><h2><a href='{u}'>{TITLE}</a></h2></article>" for u in PRIVATE)
    api = ",".join(f'{{"title": "{TITLE}", "html_url": "{u}"}}' for u in PRIVATE)
    return {
        "feed": (f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>', ""),
        "google-news": (f'<rss version="2.0"><channel><title>t</title>{news}</channel></rss>',
                        'query = "x"\n'),
        "sitemap": ('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news='
                    f'"http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>', ""),
        "page": (f"<html><body><main>{cards}</main></body></html>",
                 'url_pattern = "defense-production"\n'),
        "json": (f'{{"results": [{api}]}}', 'preset = "federal-register"\n'),
    }


@pytest.mark.parametrize("kind", list(documents()))
async def test_links_to_private_addresses_are_refused_for_every_kind(
        kind: str, tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        httpserver: HTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    content, options = documents()[kind]
    httpserver.expect_request("/source").respond_with_data(content)
    where = f'base_url = "{httpserver.url_for("/")}"' if kind == "google-news" else \
        f'url = "{httpserver.url_for("/source")}"'
    if kind == "google-news":
        httpserver.expect_request("/rss/search").respond_with_data(content)
    feed = f'[[feeds]]\nname = "S"\nkind = "{kind}"\n{where}\n{options}' \
           "allow_private_networks = false\n"
    caplog.set_level(logging.WARNING, logger="monitor.pipeline")
    await poll_once(write_config(tmp_path, news, None, hook, feeds=feed, watches=DPA_RULE))
    refused = [r.getMessage() for r in caplog.records if "event=article_fallback" in
               r.getMessage()]
    assert len(refused) == 2 and all("is not public" in m for m in refused), refused
    # the items' own titles matched instead, under the links they name
    assert alerted(hook) == [("dpa", u) for u in PRIVATE]


async def test_a_feed_url_redirecting_on_its_own_origin_stays_trusted(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        httpserver: HTTPServer) -> None:
    """The operator's feed URL is trusted (loopback here, allow_private_networks off), and
    so is a redirect that stays on its origin; one to another origin is guarded."""
    with socket.socket() as sock:  # nothing listens there: refused on the address, not dialled
        sock.bind(("127.0.0.1", 0))
        other = sock.getsockname()[1]
    content, _ = documents()["feed"]
    httpserver.expect_request("/source").respond_with_data(content)
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": "/source"})
    httpserver.expect_request("/away").respond_with_data(
        "", status=301, headers={"Location": f"http://127.0.0.1:{other}/source"})
    feeds = "".join(f'[[feeds]]\nname = "{name}"\nurl = "{httpserver.url_for(path)}"\n'
                    "allow_private_networks = false\n"
                    for name, path in (("Moved", "/old"), ("Away", "/away")))
    states = await poll_once(write_config(tmp_path, news, None, hook, feeds=feeds,
                                          watches=DPA_RULE))
    errors = {s.name: s.last_error for s in states}
    assert errors["Moved"] is None
    assert "address 127.0.0.1 is not public" in str(errors["Away"])
    assert alerted(hook) == [("dpa", u) for u in PRIVATE]  # the moved feed's items
