"""Per-rule Atom feeds and the spikes API: a feed served by a real daemon on 127.0.0.1 is
followable (fetched with httpx, parsed with feedparser) with its own token and without the
dashboard's; a wrong or missing token is 404, as an unknown rule is; hostile titles and
snippets stay text; the secret is made once and shared by every node."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import pytest

from monitor.models import Article, Snippet, TermHit
from monitor.store import HitRow, RuleRow, SpikeRow, Store, WebRule
from monitor.testing import NewsServer, SeedArticle, WebhookReceiver
from monitor.web.rulefeeds import atom_feed, feed_token
from tests.helpers import SECRET, write_config
from tests.webusers import serving

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
EVIL = '<script>alert(1)</script> & "q" \x07\x00 <b>bold</b> ]]>'


def hit(i: int, title: str, url: str, snippet: str) -> HitRow:
    article = Article(url, title, "Defense Production Act text " * 30, source="wire <i>")
    terms = (TermHit("dpa", 2, snippets=(Snippet("short", ()), Snippet(snippet, ((0, 3),)))),)
    return HitRow(i, 7, "dpa", i, i, article, NOW - timedelta(minutes=i), NOW, terms)


def test_the_feed_is_atom_and_hostile_text_stays_text() -> None:
    rule = RuleRow(7, "dpa <rule>", "q", created_at=NOW - timedelta(days=3))
    hits = [hit(1, EVIL, "http://127.0.0.1/a?x=1&y=2", EVIL),
            hit(2, "plain", "javascript:alert(1)", "snip")]
    body = atom_feed(rule, hits, "http://127.0.0.1/rules/7/feed.atom?token=t", NOW)
    assert b"<script" not in body and b"<b>" not in body and b"\x07" not in body
    parsed = feedparser.parse(body)
    assert not parsed.bozo and parsed.version == "atom10"
    assert parsed.feed.title == "monitor: dpa <rule>"
    first, second = parsed.entries
    assert first.title == EVIL.replace("\x07", "").replace("\x00", "")
    assert first.title_detail.type == "text/plain"
    assert first.summary == first.title  # the snippet with most marks, as text
    assert first.link == "http://127.0.0.1/a?x=1&y=2"
    assert first.id == "tag:monitor,2026-03-02:rule/7/hit/1"
    assert first.published_parsed[:5] == (2026, 3, 2, 11, 59)
    assert b"javascript:" not in body and second.title == "plain"  # not a web link: no link
    bare = HitRow(3, 7, "dpa", 3, 3, Article("http://127.0.0.1/c", "c", "word " * 200), NOW, NOW)
    (entry,) = feedparser.parse(atom_feed(rule, [bare], "x", NOW)).entries
    assert entry.summary == "word " * 59 + "word…"  # no snippet stored: the text's start
    assert [e.id for e in feedparser.parse(atom_feed(rule, hits, "x", NOW)).entries] == [
        first.id, second.id]  # stable


def test_the_secret_is_made_once_and_shared(db_url: str) -> None:
    a, b = Store(db_url), Store(db_url)
    a.migrate()
    secret = b.feed_secret()
    assert len(secret) == 32 and a.feed_secret() == secret == b.feed_secret()
    assert feed_token(secret, 1) != feed_token(secret, 2)
    made, _ = a.save_rule(WebRule(0, "web rule", "steel"), "ed", NOW)
    assert made is not None and b.rule_by_id(made.id) is not None
    assert a.delete_rule(made.id, "ed", NOW) and b.rule_by_id(made.id) is None  # no feed
    a.close()
    b.close()


HOSTILE = SeedArticle("hostile", "Defense Production Act <script>alert(1)</script> invoked",
                      "2026-03-01", "The Defense Production Act was invoked <img src=x> today.")


async def test_a_daemon_serves_a_followable_feed_with_its_own_token(
        tmp_path: Path, hook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("DASH_TOKEN", "dash-token")
    news = await NewsServer([HOSTILE]).start()
    path = write_config(tmp_path, news, None, hook, extra_monitor='web_token_env = "DASH_TOKEN"')
    try:
        async with serving(path) as (base, daemon), httpx.AsyncClient(
                base_url=base, trust_env=False) as http:
            store = daemon.services.store
            ids = {r.name: r.id for r in store.rules()}
            for _ in range(400):  # the first poll, on the daemon's own schedule
                if store.rule_hits(ids["dpa"]):
                    break
                await asyncio.sleep(0.05)
            auth = {"Authorization": "Bearer dash-token"}
            assert (await http.get(f"/api/rules/{ids['dpa']}/feed")).status_code == 401
            url = (await http.get(f"/api/rules/{ids['dpa']}/feed", headers=auth)).json()["url"]
            assert url.startswith(f"/rules/{ids['dpa']}/feed.atom?token=")
            answer = await http.get(url)  # no bearer token, no session: the URL's token
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("application/atom+xml")
            parsed = feedparser.parse(answer.content)
            assert not parsed.bozo
            (entry,) = parsed.entries
            assert entry.title == HOSTILE.title and entry.link.endswith("/articles/hostile.html")
            assert "Defense Production Act" in entry.summary and "<img" not in answer.text
            token = url.partition("token=")[2]
            refused = [await http.get(f"/rules/{ids['dpa']}/feed.atom"),
                       await http.get(f"/rules/{ids['dpa']}/feed.atom?token=" + "0" * 64),
                       await http.get(f"/rules/{ids['scr']}/feed.atom?token={token}"),
                       await http.get(f"/rules/999/feed.atom?token={token}")]
            assert [r.status_code for r in refused] == [404] * 4
            assert len({r.text for r in refused}) == 1  # never says whether the rule exists
            other = await http.get(url, headers={"Host": "evil.example"})
            assert other.status_code == 400  # Host checks still apply
            assert (await http.get(f"/api/rules/{ids['dpa']}/spikes")).status_code == 401
            hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            assert store.raise_spike(SpikeRow(ids["dpa"], hour, 9, 1.5), hour, [])
            spikes = await http.get(f"/api/rules/{ids['dpa']}/spikes?days=30", headers=auth)
            assert spikes.json() == {"rule_id": ids["dpa"], "spikes": [
                {"hour": hour.isoformat().replace("+00:00", "Z"), "count": 9, "baseline": 1.5}]}
            assert (await http.get("/api/rules/999/spikes", headers=auth)).status_code == 404
            # "²" is a digit to str.isdigit, not to int()
            odd = await http.get(f"/rules/\u00b2/feed.atom?token={token}", headers=auth)
            assert odd.status_code == 404  # not a FEED_PATH: the bearer token lets it in
            for path in ("/api/rules/\u00b2/feed", "/api/rules/\u00b2/spikes"):
                assert (await http.get(path, headers=auth)).status_code == 404
            same = await http.get(f"/api/rules/{ids['dpa']}/spikes?days=\u00b2", headers=auth)
            assert same.json() == spikes.json()  # an unreadable days is the default
    finally:
        await news.stop()
