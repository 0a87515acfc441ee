"""``GET /api/stories`` (issue 15, "Stories, not rows"): one item per story however many
rules hit it and sites carry it, with its outlets, other copies and one best snippet;
filters, paging, polling with ``after``; hostile text stays inert. Through a real daemon
polling five local sites, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.testing import WebhookReceiver
from tests.helpers import SECRET
from tests.storysites import (
    HERD,
    HOSTILE,
    SYNDICATED,
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
                        {"limit": "many"}, {"rule": "tariff"}):
                refused = await c.get("/api/stories", params=bad)
                assert refused.status_code == 400 and "\n" not in refused.json()["error"]

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


def _marks(html: str) -> set[str]:
    out, rest = set(), html
    while "<mark>" in rest:
        start = rest.index("<mark>")
        end = rest.index("</mark>", start) + len("</mark>")
        out.add(rest[start:end])
        rest = rest[end:]
    return out
