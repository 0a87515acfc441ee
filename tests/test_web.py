"""The web app: /metrics after a real poll, probes, dashboard and API, token, headers.

The poll is real (local feed server, webhook receiver, SQLite, the daemon's own
``run_once``); one test goes through uvicorn on 127.0.0.1, the rest call the ASGI app
in-process through httpx.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import ASGIApp

from monitor.config import Config, FeedSettings, MonitorSettings, WatchSettings
from monitor.daemon import Daemon, load
from monitor.errors import ConfigError
from monitor.metrics import Metrics
from monitor.models import Article, Entry, Match
from monitor.store import NewArticle, Store
from monitor.testing import NewsServer, SeedArticle, WebhookReceiver
from monitor.web import create_app, is_loopback, parse_address, serve
from tests.helpers import SECRET, write_config
from tests.store_helpers import store_article

XSS_FEED = "<script>alert('feed')</script> Wire"
XSS_TITLE = '<script>document.title="pwned"</script> Defense Production Act order'
XSS_ARTICLE = SeedArticle(
    "xss", XSS_TITLE, "2026-02-27",
    "<script>alert(1)</script> Officials said the Defense Production Act could be invoked. " * 6)


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)


def three_feeds(news: NewsServer) -> str:
    """A healthy feed, a feed that 404s, and a feed whose name is a script tag."""
    return f"""
[[feeds]]
name = "Demo News"
url = "{news.base}/feed.xml"

[[feeds]]
name = "Broken Feed"
url = "{news.base}/missing.xml"

[[feeds]]
name = "{XSS_FEED}"
url = "{news.base}/feed.xml?copy"
"""


def wire_metrics(daemon: Daemon) -> Metrics:
    """The daemon's Metrics (a new one on its pipeline and outbox if it has none yet)."""
    metrics = getattr(daemon, "metrics", None)
    if not isinstance(metrics, Metrics):
        metrics = Metrics(daemon.services.store)
    daemon.pipeline.metrics = metrics
    daemon.outbox.metrics = metrics
    return metrics


def make_daemon(tmp_path: Path, news: NewsServer, hook: WebhookReceiver) -> Daemon:
    """A daemon on the three feeds (plus an article with a script tag in its title)."""
    news.articles.append(XSS_ARTICLE)
    path = write_config(tmp_path, news, None, hook, feeds=three_feeds(news))
    return Daemon(load(str(path)), str(path))


def app_for(daemon: Daemon, metrics: Metrics | None = None, *, token: str | None = None,
            require_token: bool = False) -> ASGIApp:
    return create_app(daemon.services.store, lambda: daemon.config, metrics=metrics,
                      token=token, require_token=require_token)


def client(app: ASGIApp, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url="http://testserver", headers=headers)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page: (name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@dataclass
class Polled:
    daemon: Daemon
    metrics: Metrics
    app: ASGIApp


@pytest.fixture
async def polled(tmp_path: Path, news: NewsServer, hook: WebhookReceiver
                 ) -> AsyncIterator[Polled]:
    daemon = make_daemon(tmp_path, news, hook)
    try:
        metrics = wire_metrics(daemon)
        await daemon.run_once()
        yield Polled(daemon, metrics, app_for(daemon, metrics))
    finally:
        await daemon.close()


# -- /metrics and probes through a real server ------------------------------------------


async def test_metrics_move_after_a_matching_poll_through_uvicorn(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver) -> None:
    daemon = make_daemon(tmp_path, news, hook)
    server = None
    try:
        metrics = wire_metrics(daemon)
        server = await serve(app_for(daemon, metrics), "127.0.0.1", 0)
        async with httpx.AsyncClient(base_url=server.url) as http:
            before = samples((await http.get("/metrics")).text)
            assert not any(name == "monitor_polls_total" for name, _ in before)
            await daemon.run_once()
            page = await http.get("/metrics")
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/plain; version=0.0.4")
            after = samples(page.text)
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
    finally:
        if server:
            await server.stop()
        await daemon.close()

    def value(name: str, **labels: str) -> float:
        return after.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("monitor_polls_total", feed="Demo News", status="ok") == 1
    assert value("monitor_polls_total", feed="Broken Feed", status="error") == 1
    assert value("monitor_poll_errors_total", feed="Broken Feed") == 1
    assert value("monitor_matches_total", rule="dpa") >= 2  # the seed and the script-titled one
    assert value("monitor_matches_total", rule="scr") >= 1
    assert value("monitor_articles_extracted_total", mode="page") >= 6
    assert value("monitor_extraction_seconds_count") >= 6
    assert value("monitor_alerts_total", channel="hook", state="sent") == 3
    assert value("monitor_store_up") == 1
    assert value("monitor_outbox_depth") == 0
    assert value("monitor_oldest_pending_alert_age_seconds") == 0
    assert value("monitor_nodes_live") == 1
    assert value("monitor_feeds", state="ok") == 2
    assert value("monitor_feeds", state="failing") == 1
    with pytest.raises(httpx.ConnectError):  # stopped: nothing listens any more
        httpx.get(f"{server.url}/healthz", timeout=2)


async def test_metrics_of_two_apps_do_not_collide(tmp_path: Path) -> None:
    stores = [Store(f"sqlite:///{tmp_path / f'{i}.db'}") for i in range(2)]
    for store in stores:
        store.migrate()
    one, two = Metrics(stores[0]), Metrics(stores[1])
    one.poll("a", "ok")
    one.delivery("hook", "retry")
    assert b'monitor_polls_total{feed="a",status="ok"} 1.0' in one.render()
    assert b"monitor_polls_total{" not in two.render()
    assert b'monitor_alerts_total{channel="hook",state="retry"} 1.0' in one.render()


# -- readiness --------------------------------------------------------------------------


async def test_readyz_names_a_stale_poll_and_a_stopped_scheduler(polled: Polled) -> None:
    late = datetime.now(UTC) + timedelta(hours=10)  # intervals are 10m: bound is 30m
    store, config = polled.daemon.services.store, polled.daemon.config
    async with client(create_app(store, lambda: config, clock=lambda: late)) as http:
        stale = await http.get("/readyz")
    assert stale.status_code == 503
    assert stale.json()["failing"] == ["polling"]
    assert stale.json()["checks"]["polling"].startswith("stale: last poll")
    async with client(create_app(store, lambda: config, scheduler_running=lambda: False)) as http:
        stopped = await http.get("/readyz")
    assert stopped.status_code == 503 and stopped.json()["failing"] == ["scheduler"]


def _garbage_in_place(db: Path, store: Store) -> Callable[[], None]:
    """Overwrite the database, its WAL and its shared-memory index with garbage, in place."""
    saved = {p: p.read_bytes() for p in db.parent.glob(db.name + "*")}
    for path, data in saved.items():
        path.write_bytes(b"\xde\xad\xbe\xef" * (len(data) // 4 + 1))

    def restore() -> None:
        for path, data in saved.items():
            path.write_bytes(data)
        store.engine.dispose()
    return restore


def _directory_gone(db: Path, store: Store) -> Callable[[], None]:
    """Move the database's directory away and drop the pooled connections."""
    gone = db.parent.with_name(db.parent.name + "-gone")
    db.parent.rename(gone)
    store.engine.dispose()  # as after a restart, or when the pool replaces a connection

    def restore() -> None:
        gone.rename(db.parent)
        store.engine.dispose()
    return restore


@pytest.mark.parametrize("breakage", [_garbage_in_place, _directory_gone],
                         ids=["garbage-in-place", "directory-gone"])
async def test_readyz_503_when_the_database_is_unreadable(
        tmp_path: Path, breakage: Callable[[Path, Store], Callable[[], None]]) -> None:
    # the errors here wrote nothing: /readyz is ready again as soon as its own read works,
    # not STORE_ERROR_RECENT seconds later (a failed write: test_db_freeze.py)
    # Tests run as root, so chmod 000 would not stop a read. Instead:
    # - garbage-in-place: the file, -wal and -shm are overwritten (same inodes), so even the
    #   pooled connection fails ("file is not a database") on its next real read;
    # - directory-gone: the directory is renamed and the pool emptied, so store.ping()
    #   itself fails to open the file ("unable to open database file").
    db = tmp_path / "data" / "monitor.db"
    store = Store(f"sqlite:///{db}")
    store.migrate()
    store.sync_feeds([], datetime.now(UTC))
    config = Config(MonitorSettings(database=f"sqlite:///{db}"))
    async with client(create_app(store, lambda: config)) as http:
        assert (await http.get("/readyz")).status_code == 200
        restore = breakage(db, store)
        broken = await http.get("/readyz")
        scrape = await http.get("/metrics")
        dashboard = await http.get("/")
        restore()
        again = await http.get("/readyz")
    store.close()
    assert broken.status_code == 503, broken.text
    assert "database" in broken.json()["failing"]
    assert broken.json()["checks"]["database"].startswith("unavailable: ")
    assert scrape.status_code == 200 and "monitor_store_up 0.0" in scrape.text
    assert dashboard.status_code == 503 and "database unavailable" in dashboard.text
    assert again.status_code == 200, again.text


# -- dashboard and API ------------------------------------------------------------------


async def test_dashboard_highlights_and_escapes(polled: Polled) -> None:
    async with client(polled.app) as http:
        page = await http.get("/")
    html = page.text
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<mark>Defense Production Act</mark>" in html
    assert "<script" not in html.lower()  # neither the feed name nor the entry title
    assert "&lt;script&gt;alert(&#39;feed&#39;)&lt;/script&gt; Wire" in html
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in html
    assert 'data-state="failing"' in html and "HTTP 404" in html
    assert "<svg class=\"chart\"" in html


async def test_query_box_finds_and_reports_bad_queries(polled: Polled) -> None:
    async with client(polled.app) as http:
        good = await http.get("/", params={"q": '"Defense Production Act" AND Anthropic'})
        bad = await http.get("/", params={"q": '"Defense Production'})
        cs = await http.get("/", params={"q": '"defense production act"', "cs": "1"})
    assert good.status_code == 200
    found = re.search(r"(\d+) of (\d+) stored articles match", good.text)
    assert found and found.group(1) == "1" and int(found.group(2)) >= 5
    assert "<mark>Defense Production Act</mark>" in good.text.split('id="alerts"')[0]
    assert bad.status_code == 200 and 'id="query-error"' in bad.text
    assert re.search(r">0 of \d+ stored articles match", cs.text)


async def test_query_box_warns_about_lowercase_operators(polled: Polled) -> None:
    async with client(polled.app) as http:
        page = await http.get("/", params={"q": "Anthropic or Pentagon"})
        api = (await http.get("/api/search", params={"q": "Anthropic or Pentagon"})).json()
        plain = (await http.get("/api/search", params={"q": "Anthropic OR Pentagon"})).json()
    assert 'class="warning query-warning"' in page.text and "did you mean OR?" in page.text
    assert len(api["warnings"]) == 1 and "did you mean OR?" in api["warnings"][0]
    assert plain["warnings"] == []


async def test_json_api(polled: Polled) -> None:
    async with client(polled.app) as http:
        alerts = (await http.get("/api/alerts")).json()["alerts"]
        sent = (await http.get("/api/alerts", params={"status": "sent"})).json()["alerts"]
        failed = (await http.get("/api/alerts", params={"status": "failed"})).json()["alerts"]
        bogus = await http.get("/api/alerts", params={"status": "bogus"})
        feeds = {f["name"]: f for f in (await http.get("/api/feeds")).json()["feeds"]}
        rules = {r["name"]: r for r in (await http.get("/api/rules")).json()["rules"]}
        hits = (await http.get("/api/search", params={"q": '"supply chain risk"'})).json()
        bad = await http.get("/api/search", params={"q": "NOT alone"})
        nodes = (await http.get("/api/nodes")).json()["nodes"]
    assert len(alerts) == 3 and {a["status"] for a in alerts} == {"sent"}
    assert len(sent) == 3 and failed == []
    assert bogus.status_code == 400 and bogus.json()["error"].startswith("status: 'bogus'")
    assert alerts[0]["terms"][0]["snippets"][0]["marks"]
    assert feeds["Demo News"]["state"] == "ok"
    assert feeds["Broken Feed"]["state"] == "failing"
    assert feeds["Broken Feed"]["last_error"] == "HTTP 404"
    assert rules["dpa"]["matches_total"] >= 2 and rules["dpa"]["matches_recent"] >= 2
    today = datetime.now(UTC).date().isoformat()
    assert rules["dpa"]["matches_by_day"][today] >= 2 and len(rules["dpa"]["matches_by_day"]) == 14
    assert len(hits["hits"]) == 1
    assert hits["hits"][0]["article"]["title"].startswith("Anthropic says")
    assert bad.status_code == 400 and bad.json()["error"]
    assert len(nodes) == 1 and nodes[0]["id"] == polled.daemon.node


async def test_only_web_links_are_links(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'monitor.db'}")
    store.migrate()
    now = datetime.now(UTC)
    store.sync_feeds([FeedSettings("f", "http://127.0.0.1/feed", 600)], now)
    for i, url in enumerate(["javascript:alert(1)", "https://example.org/story"]):
        new = NewArticle(Entry(f"k{i}", url), Article(url, f"story {i}", "Defense Production Act"),
                         f"hash{i}", None, (Match("dpa", '"Defense Production Act"'),))
        store_article(store, store.feeds()[0].id, "f", new, {"dpa": [("hook", None)]}, now)
    config = Config(MonitorSettings(), watches=(WatchSettings("dpa", "x", ("hook",)),))
    async with client(create_app(store, lambda: config)) as http:
        html = (await http.get("/")).text
    store.close()
    assert "javascript:" not in html and "<span>story 0</span>" in html
    assert '<a href="https://example.org/story" rel="noreferrer noopener">story 1</a>' in html


# -- security ---------------------------------------------------------------------------


async def test_token_required_beyond_loopback(polled: Polled) -> None:
    app = app_for(polled.daemon, polled.metrics, token="s3cret-token", require_token=True)
    basic = base64.b64encode(b"anyone:s3cret-token").decode()
    async with client(app) as http:
        assert (await http.get("/healthz")).status_code == 200
        for path in ("/", "/readyz", "/metrics", "/api/alerts", "/api/feeds", "/nowhere"):
            refused = await http.get(path)
            assert refused.status_code == 401, path
            assert refused.headers["www-authenticate"].startswith("Bearer")
            wrong = await http.get(path, headers={"Authorization": "Bearer s3cret-tokeN"})
            assert wrong.status_code == 401, path
        for header in ("Bearer s3cret-token", f"Basic {basic}"):
            ok = await http.get("/api/feeds", headers={"Authorization": header})
            assert ok.status_code == 200, header
    with pytest.raises(ConfigError):
        app_for(polled.daemon, require_token=True)


async def test_security_headers_on_every_response(polled: Polled) -> None:
    app = app_for(polled.daemon, polled.metrics, token="t", require_token=True)
    async with client(app, headers={"Authorization": "Bearer t"}) as http:
        responses = [await http.get(p) for p in ("/", "/healthz", "/metrics", "/api/rules",
                                                 "/nowhere")]
        responses.append(await http.get("/", headers={"Authorization": "Bearer nope"}))
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 404, 401]
    for r in responses:
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(("value", "expected"), [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)),
    ("[::1]:9000", ("::1", 9000)),
    ("0.0.0.0:80", ("0.0.0.0", 80)),
    ("localhost:0", ("localhost", 0)),
], ids=["v4", "v6", "any", "name"])
def test_parse_address(value: str, expected: tuple[str, int]) -> None:
    assert parse_address(value) == expected


@pytest.mark.parametrize("value", ["8080", "host:", ":8080", "h:99999", "h:x"])
def test_parse_address_rejects(value: str) -> None:
    with pytest.raises(ConfigError, match="monitor.web"):
        parse_address(value)


def test_is_loopback() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.2", "example.org"]))



async def test_disabled_channel_on_dashboard_metrics_and_api(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver) -> None:
    hook.script = [410] * 20  # the receiver is gone: the first delivery disables the channel
    daemon = make_daemon(tmp_path, news, hook)
    try:
        metrics = wire_metrics(daemon)
        await daemon.run_once()
        app = app_for(daemon, metrics)
        async with client(app) as http:
            page = (await http.get("/")).text
            scraped = samples((await http.get("/metrics")).text)
            channels = (await http.get("/api/channels")).json()["channels"]
            alerts = (await http.get("/api/alerts")).json()["alerts"]
            daemon.services.store.enable_channel("hook", datetime.now(UTC))
            page_after = (await http.get("/")).text
            scraped_after = samples((await http.get("/metrics")).text)
            channels_after = (await http.get("/api/channels")).json()["channels"]
    finally:
        await daemon.close()
    reason = "receiver answered 410 Gone: ok"
    assert re.search(r'id="channels-disabled">.*1 channel disabled: hook</a>', page)
    row = re.search(r'<tr class="channel" data-state="disabled">(.*?)</tr>', page, re.S)
    assert row and "hook" in row[1] and f": {reason}" in row[1]
    assert "(channel disabled)" in page
    assert scraped[("monitor_channel_disabled", (("channel", "hook"),))] == 1
    (hook_state,) = channels
    assert hook_state["name"] == "hook" and hook_state["type"] == "webhook"
    assert hook_state["state"] == "disabled" and hook_state["reason"] == reason
    assert hook_state["disabled_since"] and hook_state["pending"] == len(alerts) == 3
    assert {a["channel_disabled"] for a in alerts} == {reason}
    assert 'id="channels-disabled"' not in page_after and "(channel disabled)" not in page_after
    assert '<tr class="channel" data-state="enabled">' in page_after
    assert scraped_after[("monitor_channel_disabled", (("channel", "hook"),))] == 0
    assert channels_after[0]["state"] == "enabled" and channels_after[0]["reason"] is None


# -- reloads ----------------------------------------------------------------------------


async def test_a_failed_reload_shows_until_one_works_and_web_needs_a_restart(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        caplog: pytest.LogCaptureFixture) -> None:
    import asyncio
    import os
    import signal
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = write_config(tmp_path, news, None, hook)
    good = path.read_text().replace('web = ""', f'web = "127.0.0.1:{port}"')
    path.write_text(good)
    daemon = Daemon(load(str(path)), str(path))
    running = asyncio.create_task(daemon.run())

    async def sighup() -> None:
        os.kill(os.getpid(), signal.SIGHUP)  # the daemon's own handler reloads
        await asyncio.sleep(0.2)

    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(100):
                if daemon.web:
                    break
                await asyncio.sleep(0.05)
            ready = await http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["reload"] == "ok"

            path.write_text(good.replace("[[watch]]", "[[watch]]\nbogus = 1", 1))
            await sighup()
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text  # the previous config still runs
            assert ready.json()["reload"].startswith("failed: watch[0].bogus: unknown key")
            page = (await http.get("/")).text
            assert 'id="reload-failed"' in page and "watch[0].bogus: unknown key" in page

            caplog.clear()
            path.write_text(good.replace(f"127.0.0.1:{port}", "127.0.0.1:8181"))
            await sighup()
            assert (await http.get("/readyz")).json()["reload"] == "ok"
            assert 'id="reload-failed"' not in (await http.get("/")).text
            restart = [r.getMessage() for r in caplog.records
                       if "event=reload_restart_needed" in r.getMessage()]
            assert restart == [f"event=reload_restart_needed key=web "
                               f"running='127.0.0.1:{port}' configured='127.0.0.1:8181'"]
    finally:
        daemon.stopping.set()
        await asyncio.wait_for(running, 30)
        await daemon.close()


async def test_each_feeds_source_kind_on_dashboard_api_and_metrics(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver) -> None:
    feeds = f"""
[[feeds]]
name = "Demo News"
url = "{news.base}/feed.xml"

[[feeds]]
name = "Site Map"
url = "{news.base}/sitemap.xml"
kind = "sitemap"
"""
    path = write_config(tmp_path, news, None, hook, feeds=feeds)
    daemon = Daemon(load(str(path)), str(path))
    try:
        async with client(app_for(daemon, daemon.metrics)) as http:
            page = (await http.get("/")).text
            api = {f["name"]: f["kind"] for f in (await http.get("/api/feeds")).json()["feeds"]}
            after = samples((await http.get("/metrics")).text)
    finally:
        await daemon.close()
    assert '<td class="feed-kind">sitemap</td>' in page
    assert '<td class="feed-kind">feed</td>' in page
    assert api == {"Demo News": "feed", "Site Map": "sitemap"}
    assert after[("monitor_feeds_by_kind", (("kind", "sitemap"), ("state", "new")))] == 1
    assert after[("monitor_feeds_by_kind", (("kind", "feed"), ("state", "new")))] == 1
