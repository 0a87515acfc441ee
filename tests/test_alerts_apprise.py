"""The Apprise channel, through Apprise's json:// service, against a local receiver."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import pytest
from pytest_httpserver import HTTPServer

from monitor.alerts import AppriseChannel, Channel
from monitor.alerts.apprise_channel import MISSING, md_escape, render_markdown
from monitor.errors import DeliveryError
from monitor.models import Alert, Article, Digest, Snippet, TermHit

pytest.importorskip("apprise")

# Apprise 2.3 imports the stdlib's imghdr (deprecated in 3.11) when it loads its plugins.
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")


def make_alert(alert_id: str = "01JAPPRISE", title: str = "Pentagon talks stall") -> Alert:
    text = "officials may invoke the Defense Production Act, he wrote"
    start = text.index("Defense")
    article = Article(url="https://news.example/dpa", title=title, text=text, source="AP",
                      published=datetime(2026, 2, 26, 22, 5, tzinfo=UTC))
    term = TermHit("defense production act", 1, (), (Snippet(text, ((start, start + 22),)),))
    return Alert(id=alert_id, created_at=datetime(2026, 2, 26, 22, 10, tzinfo=UTC), rule="DPA",
                 query='"Defense Production Act"', article=article, terms=(term,))


def json_url(httpserver: HTTPServer, path: str) -> str:
    return f"json://127.0.0.1:{httpserver.port}{path}"


async def test_alert_reaches_the_receiver(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/notify", method="POST").respond_with_data("ok")
    channel = AppriseChannel("chat", [json_url(httpserver, "/notify")])
    assert isinstance(channel, Channel)
    await channel.send(make_alert())
    (request, _response), = httpserver.log
    got = json.loads(request.get_data())
    assert got["title"] == "[monitor] DPA: Pentagon talks stall"
    assert "may invoke the **Defense Production Act**, he wrote" in got["message"]
    assert "[Pentagon talks stall](https://news.example/dpa)" in got["message"]


async def test_digest_reaches_the_receiver(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/notify", method="POST").respond_with_data("ok")
    channel = AppriseChannel("chat", [json_url(httpserver, "/notify")])
    digest = Digest("dg", datetime(2026, 2, 27, tzinfo=UTC), "chat",
                    (make_alert("a1"), make_alert("a2", title="Other story")))
    await channel.send_digest(digest)
    (request, _response), = httpserver.log
    got = json.loads(request.get_data())
    assert got["title"] == "[monitor] digest: 1 article for 1 rule"
    assert "Pentagon talks stall" in got["message"] and "Other story" in got["message"]


async def test_failing_receiver_is_transient(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/notify", method="POST").respond_with_data("down", status=500)
    channel = AppriseChannel("chat", [json_url(httpserver, "/notify")])
    with pytest.raises(DeliveryError) as info:
        await channel.send(make_alert())
    assert info.value.permanent is False
    assert len(httpserver.log) == 1  # one attempt: Apprise's own retry stays off


def test_invalid_url_is_permanent_and_not_echoed() -> None:
    channel = AppriseChannel("chat", ["json://127.0.0.1/ok", "nosuchscheme://token123@x"])
    with pytest.raises(DeliveryError) as info:
        channel._load()
    assert info.value.permanent and "#2" in str(info.value) and "token123" not in str(info.value)


def test_missing_apprise_is_a_clear_permanent_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # import apprise -> ImportError
    with pytest.raises(DeliveryError, match=r"pip install monitor\[apprise\]") as info:
        AppriseChannel("chat", ["json://127.0.0.1/x"])._load()
    assert info.value.permanent and str(info.value) == MISSING


def test_feed_markdown_is_escaped() -> None:
    title, body = render_markdown(make_alert(title="[click](http://evil) <b>*x*</b>"))
    assert "\\[click\\](http://evil)" in body and "\\<b\\>\\*x\\*\\</b\\>" in body
    assert "\n" not in title
    assert md_escape(" a\r\nb_c ") == " a b\\_c "
