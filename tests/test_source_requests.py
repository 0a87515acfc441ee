"""Per-source request settings: headers, cookies, user agent, byte and time limits.

The requests are checked as a local server (pytest-httpserver) received them: the feed's
own fetch and its article fetches carry the feed's headers, user agent and cookies; each
cookie goes only to the hosts and paths it applies to, also across redirects; the
source's limits replace the global ones; the cookies never reach a log line.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.config import load_config
from monitor.config.requestopts import parse_cookies, request_options
from monitor.daemon import Daemon, load
from monitor.errors import ConfigError, FetchTimeout, FetchTooLarge
from monitor.fetch import Fetcher
from monitor.models import Cookie, RequestOptions
from monitor.testing import NewsServer, SeedArticle, WebhookReceiver, article_page, rss
from tests.helpers import SECRET, write_config

COOKIE_VALUE = "s3cr3t-session-value"
STORY = SeedArticle("consent", "Regulator fines shipping group",
                    "2026-03-02", "The Defense Production Act was invoked on Tuesday. " * 8)


def cookies_txt(host: str) -> str:
    return ("# Netscape HTTP Cookie File\n"
            f"{host}\tFALSE\t/\tFALSE\t0\tsession\t{COOKIE_VALUE}\n"
            f"#HttpOnly_{host}\tFALSE\t/articles\tFALSE\t0\tpaywall\tok\n"
            f"{host}\tFALSE\t/\tTRUE\t0\tsecure_only\tx\n"
            ".other.example\tTRUE\t/\tFALSE\t0\telsewhere\ty\n")


def received(server: HTTPServer, path: str) -> list[Request]:
    return [req for req, _ in server.log if req.path == path]


# -- end to end: the daemon's feed and article fetches --------------------------------------

async def test_feed_and_article_fetches_carry_the_sources_settings(
        tmp_path: Path, httpserver: HTTPServer, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    base = f"http://127.0.0.1:{httpserver.port}"
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(base, [STORY]), content_type="application/rss+xml")
    httpserver.expect_request("/articles/consent.html").respond_with_data(
        article_page(STORY), content_type="text/html")
    (tmp_path / "cookies.txt").write_text(cookies_txt("127.0.0.1"))
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = write_config(tmp_path, news, None, hook, feeds=f"""
[[feeds]]
name = "Walled"
url = "{base}/feed.xml"
headers = {{ "Accept-Language" = "de-CH", "X-Api-Key" = "public-key" }}
user_agent = "walled-reader/2.0"
cookies_file = "cookies.txt"
max_bytes = 200000
timeout = "30s"
""")
    daemon = Daemon(load(str(path)), str(path))
    caplog.set_level(logging.DEBUG)
    try:
        await daemon.run_once()
    finally:
        await daemon.close()
    feed = received(httpserver, "/feed.xml")
    article = received(httpserver, "/articles/consent.html")
    assert feed and article
    for req in (feed[0], article[0]):
        assert req.headers["Accept-Language"] == "de-CH"
        assert req.headers["X-Api-Key"] == "public-key"
        assert req.headers["User-Agent"] == "walled-reader/2.0"
        assert "secure_only" not in req.cookies and "elsewhere" not in req.cookies
        assert req.cookies["session"] == COOKIE_VALUE
    assert "paywall" not in feed[0].cookies  # its path is /articles
    assert article[0].cookies["paywall"] == "ok"
    assert [b["rule"]["name"] for b in hook.bodies()] == ["dpa"]
    assert COOKIE_VALUE not in caplog.text


async def test_cookies_from_an_environment_variable_go_to_the_feeds_host_only(
        httpserver: HTTPServer) -> None:
    feed_url = f"http://127.0.0.1:{httpserver.port}/start"
    httpserver.expect_request("/start").respond_with_response(Response(
        status=302, headers={"Location": f"http://localhost:{httpserver.port}/moved"}))
    httpserver.expect_request("/moved").respond_with_data("<html><p>moved</p></html>",
                                                          content_type="text/html")
    options = RequestOptions(cookies=parse_cookies(f"session={COOKIE_VALUE}; lang=de",
                                                   "127.0.0.1"))
    fetcher = Fetcher(user_agent="t/1", allow_private_networks=True)
    try:
        result = await fetcher.fetch(feed_url, options=options)
    finally:
        await fetcher.aclose()
    assert result.url.endswith("/moved")
    first = received(httpserver, "/start")[0]
    assert dict(first.cookies) == {"session": COOKIE_VALUE, "lang": "de"}
    assert not received(httpserver, "/moved")[0].cookies  # another host: none of them


async def test_the_sources_byte_cap_replaces_the_global_one(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000, content_type="text/plain")
    url = f"http://127.0.0.1:{httpserver.port}/big"
    fetcher = Fetcher(user_agent="t/1", allow_private_networks=True, max_bytes=1000)
    try:
        with pytest.raises(FetchTooLarge):
            await fetcher.fetch(url)
        assert len((await fetcher.fetch(url, options=RequestOptions(max_bytes=10_000))).content) \
            == 5000
        with pytest.raises(FetchTooLarge):
            await fetcher.fetch(url, options=RequestOptions(max_bytes=100))
    finally:
        await fetcher.aclose()


async def test_the_sources_timeout_replaces_the_global_deadline(httpserver: HTTPServer) -> None:
    def slow(_: Request) -> Response:
        time.sleep(1.5)
        return Response("late", content_type="text/plain")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    fetcher = Fetcher(user_agent="t/1", allow_private_networks=True, deadline=60.0)
    try:
        with pytest.raises(FetchTimeout, match=r"0\.2s"):
            await fetcher.fetch(f"http://127.0.0.1:{httpserver.port}/slow",
                                options=RequestOptions(deadline=0.2))
    finally:
        await fetcher.aclose()


# -- cookies, pure --------------------------------------------------------------------------

def test_cookies_txt_keeps_each_cookies_scope() -> None:
    cookies = parse_cookies(cookies_txt("news.example"), "ignored.example")
    assert [c.name for c in cookies] == ["session", "paywall", "secure_only", "elsewhere"]
    options = RequestOptions(cookies=cookies)
    assert options.cookie_header("news.example", "/", False, 0) == f"session={COOKIE_VALUE}"
    assert options.cookie_header("news.example", "/articles/x", True, 0) == \
        f"session={COOKIE_VALUE}; paywall=ok; secure_only=x"
    assert options.cookie_header("www.news.example", "/", True, 0) is None
    assert options.cookie_header("a.other.example", "/", False, 0) == "elsewhere=y"
    assert COOKIE_VALUE not in repr(cookies) and COOKIE_VALUE not in repr(options)


def test_an_expired_cookie_is_not_sent() -> None:
    cookie = Cookie("a", "b", "news.example", expires=1000)
    assert cookie.applies("news.example", "/", False, 999)
    assert not cookie.applies("news.example", "/", False, 1001)


@pytest.mark.parametrize(("text", "message"), [
    ("news.example\tFALSE\t/\tFALSE\t0\tonly-six", "line 1: expected 7"),
    ("# Netscape HTTP Cookie File\nnews.example\tFALSE\t/\tFALSE\tsoon\ta\tb", "line 2: needs"),
    ("novalue", "cookie 1: expected name=value"),
    ("a=b; bad name=c", "cookie 2: not a valid cookie name"),
    ("a=b c", r"cookie 1 \(a\): the value"),
    ("  ", "no cookies"),
], ids=["short-line", "bad-expiry", "no-equals", "bad-name", "space-in-value", "empty"])
def test_malformed_cookies_say_where(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_cookies(text, "news.example")


# -- config ---------------------------------------------------------------------------------

def feed_config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(f"""
[monitor]
database = "sqlite:///{tmp_path / 'm.db'}"
[[feeds]]
url = "https://news.example/feed.xml"
{extra}
""")
    return path


@pytest.mark.parametrize(("extra", "problem"), [
    ('headers = "X-A: b"', "feeds[0].headers: expected a table, got str"),
    ('headers = { Cookie = "a=b" }', "feeds[0].headers: Cookie: use cookies_file or cookies_env"),
    ('headers = { "User-Agent" = "x" }', "feeds[0].headers: User-Agent: use user_agent"),
    ('headers = { Authorization = "Bearer x" }', "feeds[0].headers: Authorization: secrets"),
    ('headers = { "Bad Name" = "x" }', "feeds[0].headers: 'Bad Name': not a valid header name"),
    ('headers = { X-A = 3 }', "feeds[0].headers: X-A: expected a string, got int"),
    ('cookies = "a=b"', "feeds[0].cookies: secrets are never inline: use cookies_file"),
    ("max_bytes = 0", "feeds[0].max_bytes: must be at least 1"),
    ('max_bytes = "1MB"', "feeds[0].max_bytes: expected an integer"),
    ('timeout = "soon"', "feeds[0].timeout:"),
    ('user_agent = 5', "feeds[0].user_agent: expected a string"),
    ('cookies_file = "bad.txt"', "feeds[0].cookies_file: line 1: expected 7"),
    ('render = "chrome"', "feeds[0].render: must be one of 'none', 'browser', not 'chrome'"),
], ids=["headers-not-table", "cookie-header", "ua-header", "auth-header", "bad-name",
        "not-string", "inline-cookies", "zero-bytes", "bytes-string", "bad-timeout", "ua-int",
        "bad-cookies-file", "bad-render"])
def test_bad_request_settings_name_the_key(tmp_path: Path, extra: str, problem: str) -> None:
    (tmp_path / "bad.txt").write_text("news.example\tFALSE\t/\n")
    with pytest.raises(ConfigError) as caught:
        load_config(feed_config(tmp_path, extra))
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_unreadable_cookies_are_a_warning_then_a_poll_error(tmp_path: Path) -> None:
    config = load_config(feed_config(tmp_path, 'cookies_env = "NEWS_COOKIES"'), environ={})
    assert config.warnings == ("feeds[0].cookies_env: environment variable NEWS_COOKIES is "
                               "not set",)
    with pytest.raises(ConfigError, match="cookies_env"):
        request_options(config.feeds[0], environ={})
    options = request_options(config.feeds[0], environ={"NEWS_COOKIES": "a=b"})
    assert options is not None and options.cookie_header("news.example", "/", True, 0) == "a=b"


def test_the_settings_hold_where_the_cookies_are_never_their_value(tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text(f"session={COOKIE_VALUE}")
    config = load_config(feed_config(tmp_path, 'cookies_file = "c.txt"\n'
                                                'headers = { "Accept-Language" = "fr" }'))
    feed = config.feeds[0]
    assert feed.headers == (("Accept-Language", "fr"),)
    assert COOKIE_VALUE not in repr(config)
    settings: Any = request_options(feed)
    assert settings.cookies[0].value == COOKIE_VALUE and settings.headers == feed.headers


def test_a_feed_without_request_settings_uses_the_global_ones(tmp_path: Path) -> None:
    assert request_options(load_config(feed_config(tmp_path, "")).feeds[0]) is None
