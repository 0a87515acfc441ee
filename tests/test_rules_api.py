"""Rules in the JSON API (issue 15): editors create, change and delete rules stored in the
database, config rules are read-only, every edit is audited, ``monitor rules export``
writes TOML that ``monitor check`` loads; through a real daemon serving on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.testing import NewsServer, WebhookReceiver
from tests.helpers import SECRET, write_config
from tests.webusers import csrf, serving, sign_in, users_toml

HOSTILE_NAME = '<script>alert("rule")</script> & "quotes"'
HOSTILE_QUERY = '"<img src=x onerror=alert(1)>" OR tariff'


@pytest.fixture
async def site(tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
               monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, Daemon, Path]]:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = write_config(tmp_path, news, None, hook, feeds=f"""
[[feeds]]
name = "Demo News"
url = "{news.base}/feed.xml"
tags = ["wires"]
""")
    path.write_text(path.read_text() + users_toml(tmp_path))
    async with serving(path) as (base, daemon):
        yield base, daemon, path


@asynccontextmanager
async def editor(base: str, name: str = "ed") -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in as ``name``, sending its CSRF token with every request."""
    async with httpx.AsyncClient(base_url=base, trust_env=False) as c:
        await sign_in(c, name)
        c.headers["X-CSRF-Token"] = await csrf(c)
        yield c


RULE = {"name": "tariffs", "query": "tariff AND steel", "channels": ["hook"],
        "feeds": ["wires"], "digest": "0 8 * * *", "max_alerts_per_hour": 5,
        "match": "exact"}


async def test_only_editors_write(site: tuple[str, Daemon, Path]) -> None:
    base, _, _ = site
    async with httpx.AsyncClient(base_url=base, trust_env=False) as nobody:
        assert (await nobody.post("/api/rules", json=RULE)).status_code == 401
        assert (await nobody.get("/api/rules")).status_code == 200  # loopback reads stay open
    async with editor(base, "vi") as vi:
        refused = await vi.post("/api/rules", json=RULE)
        assert refused.status_code == 403 and "viewer" in refused.json()["error"]
    async with editor(base) as ed:
        token = ed.headers.pop("X-CSRF-Token")
        assert (await ed.post("/api/rules", json=RULE)).status_code == 403  # no CSRF token
        ed.headers["X-CSRF-Token"] = token
        cross = await ed.post("/api/rules", json=RULE, headers={"Origin": "http://evil.test"})
        assert cross.status_code == 403
        made = await ed.post("/api/rules", json=RULE)
        assert made.status_code == 201, made.text
    async with httpx.AsyncClient(base_url=base, trust_env=False) as c:
        names = [r["name"] for r in (await c.get("/api/rules")).json()["rules"]]
        assert names.count("tariffs") == 1


async def test_crud_validation_and_read_only_config_rules(
        site: tuple[str, Daemon, Path]) -> None:
    base, _, _ = site
    async with editor(base) as ed:
        made = (await ed.post("/api/rules", json=RULE)).json()
        assert made["managed_by"] == "web" and made["enabled"] is True
        assert {k: made[k] for k in RULE} == {**RULE}
        listed = {r["name"]: r for r in (await ed.get("/api/rules")).json()["rules"]}
        assert listed["dpa"]["managed_by"] == "config" and listed["tariffs"]["id"] == made["id"]
        changed = await ed.put(f"/api/rules/{made['id']}",
                               json={"query": "tariff AND aluminium", "enabled": False})
        assert changed.status_code == 200, changed.text
        got = (await ed.get(f"/api/rules/{made['id']}")).json()
        assert got["query"] == "tariff AND aluminium" and got["enabled"] is False
        assert got["channels"] == ["hook"] and got["max_alerts_per_hour"] == 5  # kept

        bad = await ed.post("/api/rules", json={**RULE, "name": "x", "query": "tariff AND ("})
        assert bad.status_code == 400
        assert bad.json()["key"] == "query" and bad.json()["column"] == 12
        unknown = (await ed.post("/api/rules", json={**RULE, "name": "y", "channels": ["sms"],
                                                     "feeds": ["nope"], "colour": 1})).json()
        assert {p["key"] for p in unknown["problems"]} == {"channels", "feeds", "colour"}
        assert (await ed.post("/api/rules", json={**RULE, "match": "fuzzy"})).status_code == 400
        assert (await ed.post("/api/rules", json=[1])).status_code == 400
        taken = await ed.post("/api/rules", json={**RULE, "name": "dpa"})
        assert taken.status_code == 409 and "config" in taken.json()["error"]
        twice = await ed.post("/api/rules", json=RULE)
        assert twice.status_code == 409 and "taken" in twice.json()["error"]

        dpa = listed["dpa"]["id"]
        for refused in (await ed.put(f"/api/rules/{dpa}", json={"query": "x"}),
                        await ed.delete(f"/api/rules/{dpa}")):
            assert refused.status_code == 409
            assert refused.json()["managed_by"] == "config"
            assert "monitor.toml" in refused.json()["error"]
        assert (await ed.get(f"/api/rules/{dpa}")).json()["managed_by"] == "config"

        assert (await ed.delete(f"/api/rules/{made['id']}")).status_code == 200
        assert (await ed.get(f"/api/rules/{made['id']}")).status_code == 404
        assert (await ed.delete(f"/api/rules/{made['id']}")).status_code == 404
        assert (await ed.put("/api/rules/99999", json={"query": "x"})).status_code == 404
        again = await ed.post("/api/rules", json=RULE)  # a deleted rule's name is free
        assert again.status_code == 201 and again.json()["id"] != made["id"]


async def test_null_in_a_put_clears_a_key_back_to_its_default(
        site: tuple[str, Daemon, Path]) -> None:
    base, daemon, _ = site
    full = {**RULE, "name": "full", "languages": ["en", "de"], "max_age": "2d",
            "spike": {"factor": 4, "min_hits": 6, "baseline_days": 7}}
    async with editor(base) as ed:
        made = await ed.post("/api/rules", json=full)
        assert made.status_code == 201, made.text
        rule_id = made.json()["id"]
        assert made.json()["spike"] == {"factor": 4.0, "min_hits": 6, "baseline_days": 7}
        cleared = await ed.put(f"/api/rules/{rule_id}", json={
            "digest": None, "max_alerts_per_hour": None, "spike": None, "languages": None})
        assert cleared.status_code == 200, cleared.text
        got = (await ed.get(f"/api/rules/{rule_id}")).json()
        assert got["digest"] is None and got["max_alerts_per_hour"] is None
        assert got["spike"] is None and got["languages"] == []
        # what the body left out stays, max_age (not shown by the API) included
        assert got["channels"] == ["hook"] and got["feeds"] == ["wires"]
        assert got["match"] == "exact" and got["query"] == RULE["query"]
        stored = daemon.services.store.web_rules(rule_id)[0]
        assert stored.settings.get("max_age") == 2 * 86400
        assert not {"digest", "max_alerts_per_hour", "spike", "languages"} & set(stored.settings)
        # a kept key survives a PUT of another one; null on a required key is refused
        renamed = await ed.put(f"/api/rules/{rule_id}", json={"feeds": None})
        assert renamed.status_code == 200 and renamed.json()["feeds"] == []
        assert daemon.services.store.web_rules(rule_id)[0].settings.get("max_age") == 172800
        refused = await ed.put(f"/api/rules/{rule_id}", json={"name": None})
        assert refused.status_code == 400 and refused.json()["key"] == "name"
        assert (await ed.get(f"/api/rules/{rule_id}")).json()["name"] == "full"


async def test_every_edit_is_audited(site: tuple[str, Daemon, Path]) -> None:
    base, daemon, _ = site
    before = daemon.services.store.rules_version()
    async with editor(base) as ed:
        made = (await ed.post("/api/rules", json=RULE)).json()
        await ed.put(f"/api/rules/{made['id']}", json={"name": "steel tariffs"})
        await ed.post("/api/rules", json={**RULE, "query": "("})  # refused: not audited
        await ed.delete(f"/api/rules/{made['id']}")
        audit = (await ed.get("/api/audit")).json()["audit"]
    assert [e["action"] for e in audit] == ["delete", "update", "create"]
    assert {e["actor"] for e in audit} == {"ed"} and {e["rule_id"] for e in audit} == {made["id"]}
    delete, update, create = audit
    assert create["before"] is None and create["after"]["name"] == "tariffs"
    assert update["before"]["name"] == "tariffs" and update["after"]["name"] == "steel tariffs"
    assert delete["after"] is None and delete["before"]["query"] == RULE["query"]
    assert create["at"] <= update["at"] <= delete["at"]
    assert daemon.services.store.rules_version() == before + 3


async def test_hostile_names_and_queries_stay_data(site: tuple[str, Daemon, Path]) -> None:
    base, _, _ = site
    async with editor(base) as ed:
        made = await ed.post("/api/rules", json={"name": HOSTILE_NAME, "query": HOSTILE_QUERY,
                                                 "channels": []})
        assert made.status_code == 201, made.text
        listed = await ed.get("/api/rules")
        assert listed.headers["content-type"].startswith("application/json")
        assert listed.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in listed.headers["content-security-policy"]
        rule = next(r for r in listed.json()["rules"] if r["managed_by"] == "web")
        assert rule["name"] == HOSTILE_NAME and rule["query"] == HOSTILE_QUERY
        page = (await ed.get("/")).text
        assert "made through the API" in page  # the dashboard lists it
        assert "&lt;script&gt;alert(&#34;rule&#34;)&lt;/script&gt; &amp; &#34;quotes&#34;" in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "<script>alert" not in page and "<img src=x" not in page


async def test_bad_ids_numbers_and_bodies_are_4xx_and_write_nothing(
        site: tuple[str, Daemon, Path]) -> None:
    base, _, _ = site
    async with editor(base) as ed:
        made = (await ed.post("/api/rules", json=RULE)).json()
        audited = len((await ed.get("/api/audit")).json()["audit"])
        # digits that are not ASCII (int() refuses "²"), ids past the database's integer
        for rule_id in ("\u00b2", "\u0661", "9" * 30):
            assert (await ed.get(f"/api/rules/{rule_id}")).status_code == 404
            assert (await ed.put(f"/api/rules/{rule_id}", json={"query": "x"})
                    ).status_code == 404
            assert (await ed.delete(f"/api/rules/{rule_id}")).status_code == 404
        for params in ({"rule": "9" * 30}, {"rule": "\u00b2"}, {"limit": "\u00b2"},
                       {"rule": "garbage"}, {"limit": "-1"}):
            got = await ed.get("/api/audit", params=params)  # a filter is never ignored
            assert got.status_code == 400, params
            assert got.json()["error"].startswith(f"{next(iter(params))}: ")
        mine = (await ed.get("/api/audit", params={"rule": str(made["id"])})).json()["audit"]
        assert mine and {e["rule_id"] for e in mine} == {made["id"]}
        # no NaN or Infinity in JSON, no number past a float's range, nesting too deep
        for body in ('{"max_age": NaN}', '{"max_age": 1e999}',
                     '{"spike": {"factor": 1e999}}', "[" * 100_000):
            for method, path in (("POST", "/api/rules"), ("PUT", f"/api/rules/{made['id']}")):
                got = await ed.request(method, path, content=body,
                                       headers={"Content-Type": "application/json"})
                assert got.status_code == 400, (body[:30], got.text)
                assert got.json()["error"] == "the body is not JSON"
        huge = await ed.post("/api/rules", json={**RULE, "name": "huge",
                                                 "query": "tariff " * 50_000})
        assert huge.status_code == 413 and "larger than" in huge.json()["error"]
        long = await ed.put(f"/api/rules/{made['id']}", json={"query": " OR ".join(
            f"tariff{i}" for i in range(2000))})  # a valid query, 23,000 characters
        assert long.status_code == 400 and long.json()["error"].startswith("query: at most")
        # media types ignore case
        upper = await ed.post("/api/rules", content=json.dumps({**RULE, "name": "upper"}),
                              headers={"Content-Type": "Application/JSON"})
        assert upper.status_code == 201, upper.text
        audit = (await ed.get("/api/audit")).json()["audit"]
        assert len(audit) == audited + 1 and audit[0]["after"]["name"] == "upper"
        assert (await ed.get("/api/rules")).status_code == 200
        # Starlette's own refusals are JSON under /api/ too
        wrong = await ed.patch("/api/rules")
        assert wrong.status_code == 405 and "method not allowed" in wrong.json()["error"]
        assert "GET" in wrong.headers["allow"]
        assert (await ed.get("/api/nowhere")).json()["error"] == "not found: GET /api/nowhere"


def test_export_loads_in_monitor_check(tmp_path: Path, news: NewsServer,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.config.ruledata import rule_settings
    from monitor.store import Store, WebRule

    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    config = write_config(tmp_path, news, None, None, watches="")
    config.write_text('include = ["web-rules.toml"]\n' + config.read_text())
    (tmp_path / "web-rules.toml").write_text("")
    store = Store(load_config(config).monitor.database)
    store.migrate()
    rules = load_config(config)  # no rules yet
    assert rules.watches == ()
    now = datetime.now(UTC)
    hostile = WebRule(0, 'quote " back\\slash\nline \x7f',
                      '"steel tariff" OR Müller\tOR a\\b', True,
                      settings={"languages": ["en"], "max_age": 86400.0, "match": "exact"})
    plain = WebRule(0, "steel", "steel AND tariff", settings={"digest": "0 8 * * *"})
    off = WebRule(0, "off", "off", enabled=False)
    ids = [store.save_rule(r, "ed", now)[0] for r in (hostile, plain, off)]
    store.close()
    done = subprocess.run([sys.executable, "-m", "monitor", "rules", "export", "-c",
                           str(config), "-o", str(tmp_path / "web-rules.toml")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    check = subprocess.run([sys.executable, "-m", "monitor", "check", "-c", str(config)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert "2 rules" in check.stdout
    loaded = {w.name: w for w in load_config(config).watches}
    assert set(loaded) == {hostile.name, "steel"}
    assert loaded[hostile.name].query == hostile.query
    assert loaded[hostile.name].case_sensitive and loaded[hostile.name].match == "exact"
    assert rule_settings(loaded[hostile.name]) == {**hostile.settings, "case_sensitive": True}
    assert loaded["steel"].digest == "0 8 * * *"
    assert [loaded[hostile.name].id, loaded["steel"].id] == [r.id for r in ids[:2] if r]


def test_the_migration_adds_the_workspace_tables(db_url: str) -> None:
    from sqlalchemy import inspect, text

    from monitor.store import Store
    from monitor.store.schema import CURRENT_VERSION

    store = Store(db_url)
    try:
        store.migrate()
        with store.engine.begin() as conn:  # back to the version before the workspace
            for table in ("rules_version", "rule_audit", "rule_settings"):
                conn.execute(text(f"DROP TABLE {table}"))
            # and before the full-text index, which came after it (version 10)
            conn.execute(text("DROP TABLE article_terms"))
            conn.execute(text("DROP TRIGGER article_terms_new" + (
                " ON articles" if conn.dialect.name == "postgresql" else "")))
            # version 8: the workspace is MIGRATIONS[8] (later steps keep tables they find)
            conn.execute(text("UPDATE schema_version SET version = 8"))
        assert store.migrate() == CURRENT_VERSION
        names = set(inspect(store.engine).get_table_names())
        assert {"rules_version", "rule_audit", "rule_settings"} <= names
        assert store.rules_version() == 0 and store.web_rules() == []
    finally:
        store.close()


def test_config_rules_shadow_database_rules_and_missing_channels_drop(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from monitor.liverules import live_rules
    from monitor.store import Store, WebRule

    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    config = load_config(write_config(tmp_path, news, None, hook))
    store = Store(config.monitor.database)
    store.migrate()
    try:
        now = datetime.now(UTC)
        for rule in (WebRule(0, "dpa", "shadowed"),
                     WebRule(0, "steel", "steel", settings={"channels": ["hook", "gone"]}),
                     WebRule(0, "off", "off", enabled=False)):
            store.save_rule(rule, "ed", now)
        live = live_rules(config, store)
        merged, rules, version = live.config, live.rules, live.version
        watches = {w.name: w for w in merged.watches}
        assert set(watches) == {"dpa", "scr", "steel"} and version == 3
        assert watches["dpa"].query == '"Defense Production Act"'  # the config's
        assert watches["steel"].channels == ("hook",)
        assert sorted(m.rule for m in rules.match(_article("steel and more"))) == ["steel"]
        assert "event=web_rule_shadowed" in caplog.text and "missing=gone" in caplog.text
    finally:
        store.close()


def _article(text: str) -> Any:
    from monitor.models import Article

    return Article(url="http://127.0.0.1/a", title="", text=text)


def test_a_poll_with_the_old_rules_files_hits_under_the_renamed_rule(db_url: str) -> None:
    """Between an edit and a node's refresh, polls match with the rules they started with:
    a hit for the old name goes to the renamed rule's id, never to a new row."""
    from monitor.config import FeedSettings
    from monitor.models import Article, Entry, Match
    from monitor.store import NewArticle, Store, WebRule
    from tests.store_helpers import store_article

    now = datetime.now(UTC)
    node_a, node_b = Store(db_url), Store(db_url)
    try:
        node_a.migrate()
        node_a.sync_feeds([FeedSettings("wire", "http://127.0.0.1/feed", 600)], now)
        made, _ = node_a.save_rule(WebRule(0, "old name", "steel"), "ed", now)
        assert made is not None
        node_b.remember_rule_ids({"old name": made.id})  # node B built its rules
        renamed, _ = node_a.save_rule(replace(made, name="new name"), "ed", now)
        assert renamed is not None and renamed.id == made.id
        art = Article("http://127.0.0.1/s", "steel", "steel " * 5)
        new = NewArticle(Entry("s", art.url), art, "hash-s", None, (Match("old name", "steel"),))
        store_article(node_b, node_b.feeds()[0].id, "wire", new, {"old name": []}, now)
        assert [(r.id, r.name) for r in node_b.rules()] == [(made.id, "new name")]
        assert [h.rule for h in node_b.hits(10)] == ["new name"]
    finally:
        node_a.close()
        node_b.close()
