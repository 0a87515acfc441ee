"""An item whose only id is no URL has no link (monitor.sources.feed), end to end.

The daemon polls, from a real local server, an RSS feed whose items have only a
``<guid>42</guid>`` (no link) and an Atom feed whose entry has only a ``rel="self"`` link and
an ``urn:uuid:`` id, and a second RSS feed that uses the same guid ``42``. No page is fetched
for them (the made-up ``http://host/feed-dir/42`` is never asked for, no fallback warning),
their alerts carry the items' own text and no link, the same id in two feeds is two articles,
and a later poll of the changed documents alerts on none of them again.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.testing import NewsServer, WebhookReceiver
from tests.helpers import write_config
from tests.sourcekit import (
    DPA_RULE,
    monitor_parse,
    poll_once,
    webhook_secret,  # noqa: F401 - an autouse fixture
)

UUID = "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
TEXT = "The Defense Production Act order was signed on {}."


def _rss(title: str, polls: int) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}'
            f"</title><link>http://localhost/</link><lastBuildDate>poll {polls}</lastBuildDate>"
            f"<item><guid>42</guid><title>{title}: DPA order</title>"
            f"<description>{TEXT.format(title)}</description></item></channel></rss>").encode()


def _atom(polls: int) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Desk</title><id>urn:desk</id><subtitle>poll {polls}</subtitle>"
            f"<entry><id>{UUID}</id><title>Desk: DPA order</title>"
            '<link rel="self" href="/api/entries/1"/>'
            f"<summary>{TEXT.format('Desk')}</summary></entry></feed>").encode()


async def test_items_without_a_link_alert_on_their_own_text_once(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, httpserver: HTTPServer,
        caplog: pytest.LogCaptureFixture) -> None:
    polls = {"/feed-dir/rss": 0, "/desk/atom": 0, "/other/rss": 0}

    def serve(request: Request) -> Response:
        polls[request.path] += 1  # a new document each poll: its items are read again
        n = polls[request.path]
        body = (_atom(n) if request.path == "/desk/atom"
                else _rss("Wire" if request.path == "/feed-dir/rss" else "Other", n))
        return Response(body, content_type="application/xml")

    for path in polls:
        httpserver.expect_request(path).respond_with_handler(serve)
    feeds = "".join(f'[[feeds]]\nname = "{name}"\nurl = "{httpserver.url_for(path)}"\n'
                    for name, path in zip(("Wire", "Desk", "Other"), polls, strict=True))
    caplog.set_level(logging.WARNING, logger="monitor")
    states = await poll_once(write_config(tmp_path, news, None, hook, feeds=feeds,
                                          watches=DPA_RULE), times=2)

    assert all(s.last_error is None for s in states)
    assert polls == {"/feed-dir/rss": 2, "/desk/atom": 2, "/other/rss": 2}
    asked = [request.path for request, _ in httpserver.log]
    assert sorted(set(asked)) == sorted(polls)  # no /feed-dir/42, no /api/entries/1
    assert not [r.getMessage() for r in caplog.records if "article_fallback" in r.getMessage()]
    alerts = sorted((b["article"]["title"], b["article"]["url"]) for b in hook.bodies())
    assert alerts == [("Desk: DPA order", ""), ("Other: DPA order", ""), ("Wire: DPA order", "")]
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        stored = sorted(db.execute("SELECT title, url, text FROM articles"))
        keys = sorted(k for (k,) in db.execute("SELECT key FROM entries"))
    assert stored == [(f"{name}: DPA order", "", TEXT.format(name))
                      for name in ("Desk", "Other", "Wire")]
    assert keys == ["42", "42", UUID]  # the items' ids, as before


def test_monitor_parse_shows_no_link_for_an_id(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed-dir/rss").respond_with_data(
        _rss("Wire", 1), content_type="application/rss+xml")
    httpserver.expect_request("/desk/atom").respond_with_data(
        _atom(1), content_type="application/atom+xml")
    for path, key in (("/feed-dir/rss", "42"), ("/desk/atom", UUID)):
        code, lines, err = monitor_parse(httpserver.url_for(path))
        assert code == 0, err
        assert [(line["id"], line["link"]) for line in lines] == [(key, "")]
