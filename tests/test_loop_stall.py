"""Matching never blocks the event loop (issue 16 item 2): while an article is being
matched, or the query box is searching, the daemon's loop goes on answering /healthz.

A match (or search) that blocks until the test releases it stands in for a slow one: had
it run on the loop, the loop would be stuck in it, and /healthz could only answer after
it finished. So the tests assert the order of events, not timings.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.daemon import Daemon, load
from monitor.models import Article, Match
from monitor.pipeline import RuleSetLike
from monitor.testing import NewsServer, WebhookReceiver
from monitor.web import views
from tests.helpers import SECRET, write_config

RELEASE_AFTER = 30.0  # seconds a held match waits at most (the test fails well before)


class Held:
    """Runs the wrapped call only once released; says when it started and finished."""

    def __init__(self, events: list[str], name: str) -> None:
        self.events, self.name = events, name
        self.started, self.release = threading.Event(), threading.Event()

    def run(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        self.events.append(f"{self.name}_started")
        self.started.set()
        self.release.wait(RELEASE_AFTER)
        self.release.set()  # held once: on the loop, later calls would hold it again
        self.events.append(f"{self.name}_done")
        return call(*args, **kwargs)


class HeldRules:
    """A rule set whose matches wait for the test."""

    def __init__(self, rules: RuleSetLike, held: Held) -> None:
        self.rules, self.held = rules, held

    def match(self, article: Article) -> list[Match]:
        result: list[Match] = self.held.run(self.rules.match, article)
        return result

    def explain(self, article: Article, matches: Sequence[Match]) -> list[Match]:
        return self.rules.explain(article, matches)


async def answered_while_held(held: Held, url: str) -> httpx.Response:
    """Wait until ``held`` started, ask ``url`` (from the loop), then release it."""
    try:
        assert await asyncio.to_thread(held.started.wait, RELEASE_AFTER), "never started"
        async with httpx.AsyncClient(trust_env=False, timeout=RELEASE_AFTER * 2) as http:
            answer = await http.get(url)
        held.events.append("healthz")
        return answer
    finally:
        held.release.set()


async def test_healthz_answers_while_an_article_is_matched(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = write_config(tmp_path, news, None, hook)
    path.write_text(path.read_text().replace('web = ""', 'web = "127.0.0.1:0"'))
    daemon = Daemon(load(str(path)), str(path))
    events: list[str] = []
    held = Held(events, "match")
    daemon.pipeline.rules = HeldRules(daemon.pipeline.rules, held)
    running = asyncio.create_task(daemon.run())
    try:
        while daemon.web is None and not running.done():
            await asyncio.sleep(0.01)
        assert daemon.web is not None
        answer = await answered_while_held(held, f"{daemon.web.url}/healthz")
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}
        for _ in range(600):  # the poll goes on to its alerts once the match is released
            if len(hook.received) == 2:
                break
            await asyncio.sleep(0.05)
        assert events[:3] == ["match_started", "healthz", "match_done"], events
        assert len(hook.received) == 2  # the held matches were the real ones
    finally:
        held.release.set()
        daemon.stopping.set()
        await running
        await daemon.close()


async def test_healthz_answers_while_the_query_box_searches(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    path = write_config(tmp_path, news, None, hook)
    path.write_text(path.read_text().replace('web = ""', 'web = "127.0.0.1:0"'))
    daemon = Daemon(load(str(path)), str(path))
    events: list[str] = []
    held = Held(events, "search")
    real = views.search
    monkeypatch.setattr(views, "search", lambda *a, **k: held.run(real, *a, **k))
    await daemon.run_once()  # the seed articles are stored, to be searched
    running = asyncio.create_task(daemon.run())
    try:
        while daemon.web is None and not running.done():
            await asyncio.sleep(0.01)
        assert daemon.web is not None
        async with httpx.AsyncClient(trust_env=False, timeout=RELEASE_AFTER * 2) as http:
            search = asyncio.create_task(http.get(
                f"{daemon.web.url}/api/search", params={"q": r"/\d+[.,]?\d* (million|billion)/"}))
            answer = await answered_while_held(held, f"{daemon.web.url}/healthz")
            found = await search
        assert answer.status_code == 200
        assert events == ["search_started", "healthz", "search_done"], events
        assert found.status_code == 200 and found.json()["scanned"] >= 1, found.text
    finally:
        held.release.set()
        daemon.stopping.set()
        await running
        await daemon.close()
