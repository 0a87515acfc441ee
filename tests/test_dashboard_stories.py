"""The server-rendered dashboard opens with stories, one card each (issue 15, "the main
view is one card per story"): a story three rules hit and five local sites carry is ONE
card naming the three rules (with their triage state) and its five outlets, its best
snippet shown once; hostile titles and text stay escaped; the page stays script-free."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.testing import WebhookReceiver
from tests.helpers import SECRET
from tests.storysites import HERD, HOSTILE, SYNDICATED, client, sites

CONTENTS = [[SYNDICATED, HERD], [SYNDICATED, HOSTILE], [SYNDICATED], [SYNDICATED],
            [SYNDICATED]]


def _cards(page: str) -> list[str]:
    section = page.split('<section id="stories"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<article class="story".*?</article>', section, re.DOTALL)


async def test_one_card_per_story_on_the_dashboard(
        tmp_path: Path, hook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    async with sites(tmp_path, hook, CONTENTS) as (base, daemon, servers):
        async with client(base) as c:
            got = await c.get("/")
    assert got.status_code == 200
    page = got.text
    assert page.index('id="stories"') < page.index('id="alerts"')  # stories first
    cards = _cards(page)
    assert len(cards) == 3, cards  # three stories, not one row per (rule, copy)
    wire = [card for card in cards if SYNDICATED.title in card]
    assert len(wire) == 1
    card = wire[0]
    for rule in ("quagga", "tariff", "schedule"):
        assert f"{rule}: <span class=\"triage-new\">new</span>" in card
    assert "5 outlets" in card
    assert card.count('<q>') == 1 and card.count("<mark>") >= 3  # the best snippet, once
    assert re.search(r'<a href="http://127\.0\.0\.1:\d+/articles/wire-story\.html"', card)
    assert '<a href="/workspace">Triage in the workspace</a>' in card
    herd = next(card for card in cards if HERD.title in card)
    assert "1 outlet<" in herd and "quagga: " in herd and "tariff: " not in herd
    hostile = next(card for card in cards if "Zebra news" in card)
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile
    assert "<script" not in page  # the dashboard stays script-free
    policy = got.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'") and "script-src" not in policy
    # the old section is still there, below: one row per (rule, alert)
    assert page.count('<article class="alert">') >= 3
