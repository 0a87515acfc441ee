"""``GET /api/stories`` (issue 15, "Stories, not rows"): one item per story however many
rules hit it and sites carry it, with its outlets, other copies and one best snippet;
filters, paging, polling with ``after``; hostile text stays inert. Through a real daemon
polling five local sites, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from monitor.testing import WebhookReceiver
from tests.helpers import SECRET
from tests.storysites import (
    HERD,
    HOSTILE,
    SYNDICATED,
    WATCHES,
    article,
    by_title,
    client,
    poll,
    rule_ids,
    sites,
    stories,
)

CONTENTS = [[SYNDICATED, HERD], [SYNDICATED, HOSTILE], [SYNDICATED], [SYNDICATED],
            [SYNDICATED]]


async def test_one_story_three_rules_five_outlets_and_the_filters(
        tmp_path: Path, hook: WebhookReceiver, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    async with sites(tmp_path, hook, CONTENTS, database=db_url) as (base, daemon, servers):
        async with client(base) as c:
            page = await stories(c)
            found = by_title(page)
            assert sorted(found) == sorted([SYNDICATED.title, HERD.title, HOSTILE.title])
            wire = found[SYNDICATED.title]
            assert sorted(r["rule"] for r in wire["rules"]) == ["quagga", "schedule", "tariff"]
            assert all(r["state"] == "new" and r["note"] == "" for r in wire["rules"])
            assert wire["outlets"] == 5 and len(wire["copies"]) == 4
            urls = {wire["url"], *(copy["url"] for copy in wire["copies"])}
            assert urls == {f"{s.base}/articles/wire-story.html" for s in servers}
            assert wire["source"] in {"Site A", "Site B", "Site C", "Site D", "Site E"}
            marked = wire["snippet"]["html"].lower()
            # the snippet once, every rule's term marked in it
            assert {"<mark>quagga</mark>", "<mark>tariff</mark>", "<mark>schedule</mark>"
                    } <= {part for part in _marks(marked)}
            assert wire["snippet"]["text"].strip("\u2026 ") in " ".join(SYNDICATED.body.split())
            herd = found[HERD.title]
            assert [r["rule"] for r in herd["rules"]] == ["quagga"] and herd["outlets"] == 1
            assert herd["copies"] == [] and herd["feed"] == "Site A"
            hostile = found[HOSTILE.title]
            assert "<script>" not in hostile["snippet"]["html"]
            assert "&lt;script&gt;" in hostile["snippet"]["html"]
            assert page["newest"] >= max(s["first_seen"] for s in page["stories"])

            ids = await rule_ids(c)
            titles = lambda p: sorted(s["title"] for s in p["stories"])  # noqa: E731
            assert titles(await stories(c, rule=ids["tariff"])) == sorted(
                [SYNDICATED.title, HOSTILE.title])
            assert titles(await stories(c, feed="Site A")) == sorted(
                [SYNDICATED.title, HERD.title])
            assert titles(await stories(c, feed="Site C")) == [SYNDICATED.title]
            feeds = (await c.get("/api/feeds")).json()["feeds"]  # the workspace's tag select
            assert {f["name"]: f["tags"] for f in feeds} == {
                "Site A": ["wires"], "Site B": ["wires"], "Site C": [], "Site D": [],
                "Site E": []}
            assert len((await stories(c, tag="wires"))["stories"]) == 3
            assert (await stories(c, tag="no-such-tag"))["stories"] == []
            assert (await stories(c, state="relevant"))["stories"] == []
            assert len((await stories(c, state="new"))["stories"]) == 3
            assert titles(await stories(c, q="ZEBRA")) == [HOSTILE.title]
            assert titles(await stories(c, q="import regime")) == [SYNDICATED.title]
            today = datetime.now(UTC).date()
            assert (await stories(c, since=str(today + timedelta(days=1))))["stories"] == []
            assert len((await stories(c, since=str(today), until=str(today)))["stories"]) == 3
            assert (await stories(c, until=str(today - timedelta(days=1))))["stories"] == []
            for bad in ({"state": "bogus"}, {"since": "yesterday"}, {"before": "%%%"},
                        {"limit": "many"}, {"rule": "tariff"}, {"rule": "9" * 30},
                        {"rule": "\u00b2"}, {"limit": "\u00b2"}, {"limit": "9" * 5000}):
                refused = await c.get("/api/stories", params=bad)
                assert refused.status_code == 400 and "\n" not in refused.json()["error"]
                assert refused.json()["error"].startswith(f"{next(iter(bad))}:")  # names it

            seen: list[int] = []
            cursor = None
            for _ in range(5):
                got = await stories(c, limit=1, **({"before": cursor} if cursor else {}))
                seen += [s["story_id"] for s in got["stories"]]
                cursor = got["next"]
                if cursor is None:
                    break
            assert seen == [s["story_id"] for s in page["stories"]] and len(seen) == 3

            newest = page["newest"]
            assert (await stories(c, after=newest))["stories"] == []
            servers[2].articles.append(article(
                "census", "A census of quaggas", "The quagga census found more animals "
                "this spring than last, the rangers said on Friday."))
            await poll(daemon)
            later = await stories(c, after=newest)
            assert titles(later) == ["A census of quaggas"]
            assert later["newest"] > newest
            assert (await stories(c))["stories"][0]["title"] == "A census of quaggas"


GERMAN = article("hafen", "Häfen melden Störungen",
                 "Die Lieferkette für ÖLPUMPEN ist nach dem Streik im Hafen unterbrochen, "
                 "sagte die Hafenbehörde am Freitag in einer Mitteilung.")
GERMAN_WATCHES = WATCHES + """
[[watch]]
name = "hafen"
query = 'Hafen'
channels = ["hook"]

[[watch]]
name = "streik"
query = 'Streik'
channels = ["hook"]
languages = ["de"]
"""
"""``streik`` reads its query in German (and so does the text filter); it matches nothing
here: the test site's pages say ``lang="en"``."""


async def test_the_text_filter_asks_the_full_text_index_folding_as_matching(
        tmp_path: Path, hook: WebhookReceiver, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``q`` is words, each found as a rule's query would find it: case, accents and (in
    the languages the rules read, here German) word forms fold; ``word*`` is a prefix."""
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    async with sites(tmp_path, hook, [[SYNDICATED, GERMAN], [SYNDICATED]],
                     watches=GERMAN_WATCHES, database=db_url) as (base, daemon, servers):
        async with client(base) as c:
            titles = lambda p: sorted(s["title"] for s in p["stories"])  # noqa: E731
            assert titles(await stories(c)) == sorted([SYNDICATED.title, GERMAN.title])
            for q in ("Lieferketten", "lieferKETTE", "ölpumpen", "OLPUMPEN", "liefer*",
                      "HÄFEN", "hafen", "Lieferkette Streik"):
                assert titles(await stories(c, q=q)) == [GERMAN.title], q
            assert titles(await stories(c, q="import regime")) == [SYNDICATED.title]
            assert titles(await stories(c, q="Quagga")) == [SYNDICATED.title]
            for q in ("lieferkett", "Lieferkette tariff", "Streik quagga", "zebra*"):
                assert (await stories(c, q=q))["stories"] == [], q
            # with the other filters, and paged
            ids = await rule_ids(c)
            assert titles(await stories(c, q="Hafen", rule=ids["hafen"])) == [GERMAN.title]
            assert (await stories(c, q="Hafen", rule=ids["tariff"]))["stories"] == []
            assert titles(await stories(c, q="hafen", tag="wires", limit=1)) == [GERMAN.title]
            # a page in a fixed number of statements, however many stories it holds
            statements: list[str] = []

            def seen(conn: Any, cursor: Any, sql: str, *rest: Any) -> None:
                statements.append(sql)
            engine = daemon.services.store.engine
            event.listen(engine, "before_cursor_execute", seen)
            try:
                counts = []
                for limit in (1, 20):
                    statements.clear()
                    assert len((await stories(c, q="Hafen OR", limit=limit))["stories"]) == 0
                    assert len((await stories(c, q="die*", limit=limit))["stories"]) == 1
                    counts.append(len(statements))
            finally:
                event.remove(engine, "before_cursor_execute", seen)
            # each request asks the index twice: for articles not indexed yet, for the page
            assert counts[0] == counts[1] and sum("article_terms" in q for q in statements) == 4
            refused = await c.get("/api/stories", params={"q": "a b c d e f g h i"})
            assert refused.status_code == 400 and "at most 8 words" in refused.json()["error"]


def _marks(html: str) -> set[str]:
    out, rest = set(), html
    while "<mark>" in rest:
        start = rest.index("<mark>")
        end = rest.index("</mark>", start) + len("</mark>")
        out.add(rest[start:end])
        rest = rest[end:]
    return out
