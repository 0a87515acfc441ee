"""Incremental rule edits (issue 15): an edit keeps the big compiled base set and compiles
only the database rules that changed into an overlay (``monitor.liverules.edited``,
``monitor.rules.overlay``), and the result is what a full rebuild gives: the same matches,
in the same order, explained the same way, routed by the same config. Random sequences of
creates, updates, disables and deletes on a real SQLite store are checked against
``live_rules`` after every edit; a compile seam counts what each edit compiles; a
``Refresher`` past its overlay limit rebuilds the base in the background and swaps it."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor import liverules
from monitor.config import Config, load_config
from monitor.liverules import Live, Refresher, edited, live_rules
from monitor.models import Article
from monitor.rules import Rule, RuleSet, compile_rules
from monitor.rules.overlay import OverlaidRules
from monitor.store import Store, WebRule
from monitor.testing import NewsServer, WebhookReceiver
from tests.helpers import SECRET, write_config

WORDS = ["steel", "tariff", "quagga", "bank", "oil", "strike", "Defense", "Production", "Act"]
QUERIES = ["steel", "tariff OR oil", "steel AND NOT bank", '"Defense Production Act"',
           "quagga NEAR/3 tariff", "strik*", "Steel", "=banks", "oil AND (bank OR strike)",
           "title:quagga", "/tarif+s?/"]
ARTICLES = [
    Article("http://127.0.0.1/1", "Quagga tariffs", "Steel tariff and oil. The bank said no."),
    Article("http://127.0.0.1/2", "Strikes", "Workers strike at the steel plant; oil falls."),
    Article("http://127.0.0.1/3", "Act", "The Defense Production Act and banks' quagga tariff"),
    Article("http://127.0.0.1/4", "Stahl", "Steel und Öl: der Zoll", language="de"),
    Article("http://127.0.0.1/5", "Nothing", "Weather is mild today."),
]
NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def setup(tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Config, Store]]:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    config = load_config(write_config(tmp_path, news, None, hook))
    store = Store(config.monitor.database)
    store.migrate()
    try:
        yield config, store
    finally:
        store.close()


def outcome(rules: Any) -> list[tuple[str, list[Any]]]:
    """What the pipeline sees of ``rules`` on every sample article: the matches in order,
    then the same explained (as ``match_article`` does), and ``match(explain=True)``."""
    out = []
    for article in ARTICLES:
        found = rules.match(article)
        out.append((article.url, [found, rules.explain(article, found),
                                  rules.match(article, explain=True)]))
    return out


def same_as_rebuild(live: Live, config: Config, store: Store) -> None:
    full = live_rules(config, store)
    assert live.version == full.version
    assert live.config.watches == full.config.watches  # routing: config wins, channels drop
    assert outcome(live.rules) == outcome(full.rules)
    assert len(live.rules) == len(full.rules)  # type: ignore[arg-type]
    assert live.rules.names == full.rules.names  # type: ignore[attr-defined]


def random_rule(rng: random.Random, rid: int = 0) -> WebRule:
    settings: dict[str, Any] = {"channels": rng.choice([["hook"], ["hook", "gone"], []])}
    if rng.random() < 0.2:
        settings["match"] = "exact"
    if rng.random() < 0.2:
        settings["languages"] = [rng.choice(["en", "de"])]
    return WebRule(rid, f"r{rng.randrange(12)}", rng.choice(QUERIES),
                   case_sensitive=rng.random() < 0.2, enabled=rng.random() < 0.85,
                   settings=settings)


@pytest.mark.parametrize("seed", range(6))
def test_random_edits_match_as_a_full_rebuild(setup: tuple[Config, Store], seed: int) -> None:
    config, store = setup
    rng = random.Random(seed)
    for _ in range(6):  # some database rules in the base already
        store.save_rule(random_rule(rng), "ed", NOW)
    live = live_rules(config, store)
    base = live.base
    for _ in range(25):
        ids = [r.id for r in store.web_rules()]
        action = rng.choice(["create", "update", "update", "toggle", "delete", "rename"])
        if action == "create" or not ids:
            store.save_rule(random_rule(rng), "ed", NOW)
        elif action == "delete":
            store.delete_rule(rng.choice(ids), "ed", NOW)
        else:
            old = store.web_rules(rng.choice(ids))[0]
            new = {"update": random_rule(rng, old.id),
                   "toggle": WebRule(old.id, old.name, old.query, old.case_sensitive,
                                     not old.enabled, old.settings),
                   "rename": WebRule(old.id, f"r{rng.randrange(12)}", old.query,
                                     old.case_sensitive, old.enabled, old.settings)}[action]
            store.save_rule(new, "ed", NOW)  # a taken name is refused: nothing changes
        live = edited(live, store)
        assert live.base is base
        same_as_rebuild(live, config, store)


def test_an_edit_compiles_only_the_rules_it_changed(
        setup: tuple[Config, Store], monkeypatch: pytest.MonkeyPatch) -> None:
    config, store = setup
    steel, _ = store.save_rule(WebRule(0, "steel", "steel"), "ed", NOW)
    oil, _ = store.save_rule(WebRule(0, "oil", "oil"), "ed", NOW)
    assert steel and oil
    live = live_rules(config, store)
    compiled: list[list[str]] = []

    def counting(rules: Iterable[Rule]) -> RuleSet:
        listed = list(rules)
        compiled.append([r.name for r in listed])
        return compile_rules(listed)

    monkeypatch.setattr(liverules, "compile_rules", counting)
    store.save_rule(WebRule(steel.id, "steel", "steel AND NOT bank"), "ed", NOW)
    after = edited(live, store)
    assert compiled == [["steel"]] and after.base is live.base and after.overlay == 1
    assert isinstance(after.rules, OverlaidRules) and after.rules.masked == {"steel"}
    same_as_rebuild(after, config, store)

    compiled.clear()  # channels only: the base's compiled rule still holds
    store.save_rule(WebRule(oil.id, "oil", "oil", settings={"channels": []}), "ed", NOW)
    only = edited(live, store)
    assert compiled == [["steel"]] and only.overlay == 1  # the first edit, not this one
    compiled.clear()
    store.save_rule(WebRule(steel.id, "steel", "steel"), "ed", NOW)  # back as it was
    back = edited(live, store)
    assert compiled == [] and back.rules is live.base and back.overlay == 0
    same_as_rebuild(back, config, store)


async def test_past_the_overlay_limit_the_base_is_rebuilt_in_the_background(
        setup: tuple[Config, Store]) -> None:
    config, store = setup
    rebuild = ThreadPoolExecutor(1)
    try:
        refresher = Refresher(store, rebuild, limit=2)
        live = live_rules(config, store)
        assert await refresher.refreshed(live) is None  # no edit: nothing to do
        for name in ("steel", "oil", "bank"):
            store.save_rule(WebRule(0, name, name), "ed", NOW)
            found = await refresher.refreshed(live)
            assert found is not None and found.base is live.base
            live = found
        assert live.overlay == 3 and refresher.rebuilding is not None
        await refresher.rebuilding
        store.save_rule(WebRule(0, "quagga", "quagga"), "ed", NOW)  # while it was rebuilding
        swapped = await refresher.refreshed(live)
        assert swapped is not None and swapped.base is not live.base
        assert swapped.overlay == 1 and refresher.rebuilding is None  # quagga only
        assert set(swapped.base.names) >= {"steel", "oil", "bank"}
        same_as_rebuild(swapped, config, store)
    finally:
        rebuild.shutdown()


async def test_a_rebuild_for_a_replaced_config_is_dropped(setup: tuple[Config, Store]) -> None:
    config, store = setup
    rebuild = ThreadPoolExecutor(1)
    try:
        refresher = Refresher(store, rebuild, limit=0)
        live = live_rules(config, store)
        store.save_rule(WebRule(0, "steel", "steel"), "ed", NOW)
        found = await refresher.refreshed(live)
        assert found is not None and refresher.rebuilding is not None
        await refresher.rebuilding
        reloaded = live_rules(config, store)  # a SIGHUP's full build, another config object
        reloaded = Live(replace(config), reloaded.config, reloaded.rules, reloaded.version,
                        reloaded.base, reloaded.base_web)
        assert await refresher.refreshed(reloaded) is None and refresher.rebuilding is None
    finally:
        rebuild.shutdown()


async def test_an_overlay_is_folded_into_the_base_once_edits_are_quiet(
        setup: tuple[Config, Store]) -> None:
    config, store = setup
    rebuild = ThreadPoolExecutor(1)
    now = [0.0]
    try:
        refresher = Refresher(store, rebuild, quiet=600.0, clock=lambda: now[0])
        live = live_rules(config, store)
        store.save_rule(WebRule(0, "steel", "steel"), "ed", NOW)
        now[0] = 1000.0
        found = await refresher.refreshed(live)
        assert found is not None and found.rules is not found.base  # an overlay now
        assert refresher.rebuilding is None  # the edit has just happened
        now[0] = 1599.0
        assert await refresher.refreshed(found) is None and refresher.rebuilding is None
        now[0] = 1600.0  # ten quiet minutes
        assert await refresher.refreshed(found) is None and refresher.rebuilding is not None
        await refresher.rebuilding
        folded = await refresher.refreshed(found)
        assert folded is not None and folded.rules is folded.base and folded.overlay == 0
        assert "steel" in folded.base.names
        same_as_rebuild(folded, config, store)
        now[0] = 5000.0  # no overlay: nothing more to rebuild
        assert await refresher.refreshed(folded) is None and refresher.rebuilding is None
    finally:
        rebuild.shutdown()
