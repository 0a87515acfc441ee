"""Spike notices: a rule's hits in the last hour against the same hour on earlier days,
raised once through the outbox (to a real local webhook receiver), none for a steady flow
or a count below ``min_hits``, once whichever of several nodes checks; the ``spike`` key in
``[[watch]]`` and API rules. A notice links to the rule in the workspace when
``public_url`` is set, and carries no link when not; the retention job prunes spikes older
than ``SPIKES_DAYS`` in batches. Hits go in through the store's real write path, or through
a daemon polling a local feed. On SQLite and PostgreSQL."""

from __future__ import annotations

import math
import re
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from monitor.alerts.apprise_channel import render_notice_markdown
from monitor.alerts.outbox import Outbox, RetryPolicy
from monitor.alerts.render import render_notice_email
from monitor.alerts.webhook import WebhookChannel
from monitor.cli import main
from monitor.config import FeedSettings, RetentionSettings, Spike, WatchSettings
from monitor.config.ruledata import check_rule, rule_toml, stored_rule
from monitor.daemon import Daemon, load
from monitor.errors import ConfigError
from monitor.metrics import Metrics
from monitor.models import Article, Entry, Match, TermHit
from monitor.retention import SPIKES_DAYS, Retention
from monitor.spikes import judge, poisson_tail, raise_spike_notices
from monitor.store import NewArticle, SpikeRow, Store
from monitor.testing import NewsServer, SeedArticle, WebhookReceiver
from tests.helpers import SECRET, Clock, write_config
from tests.store_helpers import store_article

NOW = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
RULE = WatchSettings("dpa", '"Defense Production Act"', ("hook",), spike=Spike(3.0, 5, 14))


def make_store(url: str, rule: WatchSettings = RULE) -> tuple[Store, int]:
    store = Store(url)
    store.migrate()
    store.sync_feeds([FeedSettings("wire", "http://127.0.0.1/feed", 600)], NOW)
    (rule_id,) = store.sync_rules([rule], NOW - timedelta(days=20)).values()
    return store, rule_id


def hits(store: Store, at: datetime, n: int, tag: str,
         published: datetime | None = None) -> None:
    """``n`` new stories matching ``dpa``, first seen at ``at``."""
    for i in range(n):
        key = f"{tag}-{i}"
        art = Article(f"http://127.0.0.1/{key}", f"story {key}", "Defense Production Act",
                      published=published)
        new = NewArticle(Entry(key, art.url, art.title), art, key, None,
                         (Match("dpa", RULE.query, (TermHit("defense production act", 1),)),))
        store_article(store, store.feeds()[0].id, "wire", new, {"dpa": []}, at)


def history(store: Store, per_day: int, days: int = 14) -> None:
    """``per_day`` hits in the same hour as NOW's on each of the last ``days`` days."""
    for day in range(1, days + 1):
        hits(store, NOW - timedelta(days=day, minutes=20), per_day, f"d{day}")


def test_the_poisson_tail_is_the_textbook_one() -> None:
    def exact(k: int, rate: float) -> float:
        return 1 - sum(math.exp(-rate) * rate**i / math.factorial(i) for i in range(k))

    for k, rate in ((1, 0.5), (5, 1.0), (10, 3.0), (3, 7.5), (40, 20.0)):
        assert poisson_tail(k, rate) == pytest.approx(exact(k, rate), rel=1e-9)
    assert poisson_tail(0, 2.0) == 1.0 and poisson_tail(3, 0.0) == 0.0
    assert 0 <= poisson_tail(2000, 1500.0) < 1e-20  # no overflow at large rates
    test = Spike(3.0, 5, 14)
    assert judge(8, [1] * 14, test).spike  # 8 against a mean of 1
    assert not judge(8, [3] * 14, test).spike  # under 3 x 3
    assert not judge(4, [0] * 14, test).spike  # under min_hits
    assert not judge(6, [0, 0, 0, 30] + [0] * 10, test).spike  # 6 is likely at that rate


@pytest.mark.parametrize("public_url", ["", "https://monitor.example.org/news/"])
async def test_a_burst_raises_one_notice_delivered_once(
        db_url: str, hook: WebhookReceiver, client: httpx.AsyncClient, public_url: str) -> None:
    store, rule_id = make_store(db_url)
    history(store, 1)
    hits(store, NOW - timedelta(minutes=40), 8, "burst")
    (notice,) = raise_spike_notices(store, [RULE], NOW, public_url)
    assert (notice.kind, notice.rule, notice.channel, notice.feed) == ("spike", "dpa", "hook", "")
    link = f"https://monitor.example.org/news/workspace#rule={rule_id}" if public_url else None
    assert notice.url == (link or "")
    assert "8 hits in the last hour" in notice.message and "8.0x its usual 1.0" in notice.message
    # later checks in the same burst, this hour or the next, raise nothing more
    assert raise_spike_notices(store, [RULE], NOW + timedelta(minutes=10)) == []
    assert raise_spike_notices(store, [RULE], NOW + timedelta(minutes=35)) == []
    (spike,) = store.spikes(rule_id, NOW - timedelta(days=30))
    assert (spike.hour, spike.count, spike.baseline) == (NOW.replace(minute=0), 8, 1.0)
    clock = Clock(NOW)
    outbox = Outbox(store, {"hook": WebhookChannel("hook", hook.url, ["s"], client)},
                    node="a", policy=RetryPolicy(), clock=clock,
                    metrics=Metrics(store, clock=clock))
    assert await outbox.drain() == 1
    assert await outbox.drain() == 0
    ((headers, _),) = hook.received
    assert headers["webhook-id"] == notice.id
    (body,) = hook.bodies()
    assert (body["type"], body["state"]) == ("monitor.spike", "spike")
    assert body["rule"] == {"name": "dpa", "url": link}  # null without public_url
    assert "feed" not in body and body["message"] == notice.message
    assert store.list_notices()[0].notice.url == (link or "")  # as stored in the outbox
    store.close()


def test_a_spike_notice_names_its_rule_in_email_markdown_and_the_listing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'monitor.db'}"
    rule = WatchSettings("<b>dpa</b>", RULE.query, ("hook",), spike=Spike())
    store, rule_id = make_store(db, rule)  # no hits on earlier days
    for i in range(6):
        new = NewArticle(Entry(f"k{i}", f"http://127.0.0.1/{i}", "t"),
                                 Article(f"http://127.0.0.1/{i}", "t", "x"), f"h{i}", None,
                                 (Match(rule.name, rule.query, (TermHit("x", 1),)),))
        store_article(store, store.feeds()[0].id, "wire", new, {rule.name: []},
                      NOW - timedelta(minutes=5))
    (notice,) = raise_spike_notices(store, [rule], NOW, "https://monitor.example.org")
    store.close()
    link = f"https://monitor.example.org/workspace#rule={rule_id}"
    msg = render_notice_email(notice, "monitor@example.org", ["desk@example.org"])
    assert msg["Subject"] == ("[monitor] rule spike: rule '<b>dpa</b>': 6 hits in the last "
                              "hour, usually none at this hour (last 14 days)")
    html = msg.get_body(("html",))
    assert html is not None
    assert f'Rule <a href="{link}">&lt;b&gt;dpa&lt;/b&gt;</a>' in html.get_content()
    assert "Feed" not in html.get_content()
    text = msg.get_body(("plain",))
    assert text is not None and f"Open it in the workspace: {link}\n" in text.get_content()
    title, body = render_notice_markdown(notice)
    assert title == msg["Subject"] and "Rule: \\<b\\>dpa\\</b\\>" in body
    assert f"({link})**" in body  # the message, linked
    # the same notice without public_url: no link anywhere
    bare = replace(notice, url="")
    plain = render_notice_email(bare, "monitor@example.org", ["desk@example.org"])
    assert "workspace" not in plain.as_string() and "href" not in plain.as_string()
    assert "](" not in render_notice_markdown(bare)[1]
    config = tmp_path / "monitor.toml"
    config.write_text(f'[monitor]\ndatabase = "{db}"\nweb = ""\n\n'
                      '[[feeds]]\nname = "wire"\nurl = "http://127.0.0.1/feed"\n\n'
                      '[[watch]]\nname = "x"\nquery = "x"\nchannels = ["hook"]\n\n'
                      '[channels.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:9/hook"\n')
    assert main(["alerts", "-c", str(config)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert f"notice=spike rule='<b>dpa</b>' url={link} message=" in line


def test_a_steady_flow_raises_none(db_url: str) -> None:
    store, rule_id = make_store(db_url)
    history(store, 6)
    hits(store, NOW - timedelta(minutes=30), 7, "now")  # >= min_hits, but as usual
    assert raise_spike_notices(store, [RULE], NOW) == []
    assert store.spikes(rule_id, NOW - timedelta(days=30)) == []
    assert store.list_notices() == []
    store.close()


def test_below_min_hits_or_without_history_raises_none(db_url: str) -> None:
    store, rule_id = make_store(db_url)
    hits(store, NOW - timedelta(minutes=30), 4, "few")  # a quiet rule, 4 < min_hits
    assert raise_spike_notices(store, [RULE], NOW) == []
    fresh = WatchSettings("fresh", "x", ("hook",), spike=Spike())
    store.sync_rules([RULE, fresh], NOW - timedelta(days=2))  # two days: too new to judge
    hits(store, NOW - timedelta(minutes=20), 9, "many")  # these are dpa's: now a spike
    assert raise_spike_notices(store, [fresh], NOW) == []
    assert [n.rule for n in raise_spike_notices(store, [RULE, fresh], NOW)] == ["dpa"]
    off = WatchSettings("dpa", RULE.query, ("hook",))  # spike not set: never judged
    assert raise_spike_notices(store, [off], NOW + timedelta(hours=3)) == []
    store.close()


def test_old_news_found_late_is_no_spike(db_url: str) -> None:
    store, rule_id = make_store(db_url)
    history(store, 1)
    old = NOW - timedelta(days=3)  # a new feed's backfill: old items, first seen now
    hits(store, NOW - timedelta(minutes=40), 12, "backfill", published=old)
    hits(store, NOW - timedelta(minutes=30), 2, "fresh", published=NOW - timedelta(hours=5))
    assert raise_spike_notices(store, [RULE], NOW) == []
    hits(store, NOW - timedelta(minutes=20), 6, "news", published=NOW - timedelta(minutes=50))
    (notice,) = raise_spike_notices(store, [RULE], NOW)
    assert "8 hits in the last hour" in notice.message
    store.close()


def test_two_nodes_checking_at_once_raise_it_once(db_url: str) -> None:
    store, rule_id = make_store(db_url)
    history(store, 1)
    hits(store, NOW - timedelta(minutes=40), 9, "burst")
    nodes = [Store(db_url) for _ in range(3)]
    raised: list[int] = []
    start = threading.Barrier(len(nodes))

    def check(node: Store) -> None:
        start.wait()
        raised.append(len(raise_spike_notices(node, [RULE], NOW)))

    threads = [threading.Thread(target=check, args=(n,)) for n in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(raised) == [0, 0, 1]
    assert len(store.list_notices()) == 1 and len(store.spikes(rule_id, NOW - timedelta(1))) == 1
    for node in nodes:
        node.close()
    store.close()


def test_the_spike_key_in_watch_tables_and_api_rules(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    base = ('[channels.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:9/h"\n'
            '[[feeds]]\nurl = "http://127.0.0.1:9/f"\n')
    path.write_text(base + '[[watch]]\nname = "a"\nquery = "x"\nchannels = ["hook"]\n'
                    'spike = { factor = 2.5, min_hits = 4 }\n')
    (watch,) = load(str(path)).watches
    assert watch.spike == Spike(2.5, 4, 14)
    path.write_text(base + '[[watch]]\nname = "a"\nquery = "x"\nchannels = ["hook"]\n'
                    'spike = { factor = 0.5, min_hit = 4 }\n')
    with pytest.raises(ConfigError, match=r"watch\[0\]\.spike: unknown key 'min_hit'"):
        load(str(path))

    def checker(query: str, case_sensitive: bool) -> None:
        return None

    fields = {"name": "b", "query": "x", "channels": ["hook"],
              "spike": {"factor": 3, "min_hits": 6, "baseline_days": 7}}
    rule, problems = check_rule(fields, checker, channels={"hook"}, feeds=set())
    assert problems == [] and rule is not None and rule.spike == Spike(3.0, 6, 7)
    assert "spike = { factor = 3.0, min_hits = 6, baseline_days = 7 }" in rule_toml([rule])
    assert stored_rule(1, "b", "x", {"spike": rule.spike.written()}).spike == rule.spike
    bad, problems = check_rule({**fields, "spike": {"baseline_days": 90}}, checker,
                               channels={"hook"}, feeds=set())
    assert bad is None and [p.key for p in problems] == ["spike"]
    # an infinite factor (TOML's inf, JSON's 1e999) no JSON answer could show again
    bad, problems = check_rule({**fields, "spike": {"factor": math.inf}}, checker,
                               channels={"hook"}, feeds=set())
    assert bad is None and [p.key for p in problems] == ["spike"]


BURST = [SeedArticle(f"zebra-{i}", f"Zebra alarm number {i} in district {i * 7}", "2026-03-02",
                     f"Residents of district {i * 7} reported a zebra alarm. " * (i + 2))
         for i in range(7)]
QUIET = [SeedArticle("weather", "Weather stays mild", "2026-02-10", "Mild weather ahead.")]


async def test_a_daemon_polling_a_burst_sends_one_spike_notice(
        tmp_path: Path, hook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    news = await NewsServer(QUIET).start()
    watches = ('[[watch]]\nname = "zebra"\nquery = \'"zebra alarm"\'\nchannels = CHANNELS\n'
               'spike = { factor = 3, min_hits = 5 }\n')
    path = write_config(tmp_path, news, None, hook, watches=watches,
                        extra_monitor='public_url = "https://monitor.example.org/"')
    clock = Clock(NOW - timedelta(days=15))
    daemon = Daemon(load(str(path)), str(path), clock=clock)
    try:
        await daemon.run_once()  # the rule is made, the feed known: nothing matches
        clock.now = NOW
        news.articles = QUIET + BURST
        await daemon.run_once()  # seven alerts
        clock.now = NOW + timedelta(minutes=5)
        await daemon.check_health()
        await daemon.check_health()  # a second check: nothing more
        await daemon.deliver()
    finally:
        await daemon.close()
        await news.stop()
    bodies = hook.bodies()
    spikes = [b for b in bodies if b["type"] == "monitor.spike"]
    assert len(bodies) == 8 and len(spikes) == 1
    link = re.fullmatch(r"https://monitor\.example\.org/workspace#rule=([0-9]+)",
                        spikes[0]["rule"]["url"])
    assert spikes[0]["rule"]["name"] == "zebra" and link
    store = Store(daemon.config.monitor.database)
    (zebra,) = (r.id for r in store.rules() if r.name == "zebra")
    store.close()
    assert int(link.group(1)) == zebra
    assert "7 hits in the last hour" in spikes[0]["message"]


@pytest.mark.parametrize("url", ["monitor.example.org", "ftp://monitor.example.org",
                                 "https://monitor.example.org/?a=1", "https:///workspace"])
def test_public_url_must_be_an_http_address(tmp_path: Path, url: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(f'[monitor]\npublic_url = "{url}"\n[[feeds]]\nurl = "http://127.0.0.1:9/f"\n')
    with pytest.raises(ConfigError, match=r"monitor\.public_url: expected the http\(s\) "):
        load(str(path))
    path.write_text('[monitor]\npublic_url = "https://monitor.example.org/news/"\n'
                    '[[feeds]]\nurl = "http://127.0.0.1:9/f"\n')
    assert load(str(path)).monitor.web.public_url == "https://monitor.example.org/news"


async def test_retention_prunes_old_spikes_in_batches_and_keeps_recent_ones(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _ = make_store(db_url)
    other = WatchSettings("other", "x", ("hook",), spike=Spike())
    ids = store.sync_rules([RULE, other], NOW - timedelta(days=200))
    cutoff = NOW - timedelta(days=SPIKES_DAYS)
    old = [cutoff - timedelta(days=d, hours=1) for d in (80, 30, 1, 0)]
    kept = [cutoff + timedelta(hours=1), NOW - timedelta(days=10), NOW]
    for rid, hours in ((ids["dpa"], old[:3] + kept), (ids["other"], old[3:] + kept[:1])):
        for h in hours:
            h = h.replace(minute=0, second=0, microsecond=0)
            assert store.raise_spike(SpikeRow(rid, h, 9, 1.0), h, [])
    calls: list[int | None] = []
    prune = store.prune_spikes

    def counted(before: datetime, batch: int) -> int | None:
        calls.append(found := prune(before, batch))
        return found

    monkeypatch.setattr(store, "prune_spikes", counted)
    clock = Clock(NOW)
    metrics = Metrics(store, clock=clock)
    job = Retention(store, clock, metrics)
    settings = RetentionSettings(retention_batch=3)
    assert (await job.run(settings)).spikes == 4
    assert calls == [3, 1]  # one full batch, then the rest
    since = NOW - timedelta(days=366)
    assert [s.hour for s in store.spikes(ids["dpa"], since)] == [
        h.replace(minute=0, second=0, microsecond=0) for h in kept]
    assert [s.hour for s in store.spikes(ids["other"], since)] == [
        kept[0].replace(minute=0, second=0, microsecond=0)]
    assert 'monitor_retention_pruned_total{kind="spikes"} 4.0' in metrics.render().decode()
    calls.clear()
    assert (await job.run(settings)).spikes == 0 and calls == [0]  # nothing left: idempotent
    store.close()
