"""``POST /api/hits/{id}/triage`` (issue 15, "Triage"): editors mark hits relevant,
dismissed or new; viewers and requests without the CSRF token are refused; muting a story
stops its later copies' alerts for that rule, muting a source stops that rule's alerts
for that source and no other rule's. Through a real daemon polling local sites whose
first poll stores without alerting, so a later copy of a stored story would alert."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.daemon import Daemon
from monitor.testing import WebhookReceiver
from tests.helpers import SECRET
from tests.storysites import HERD, SYNDICATED, article, by_title, client, poll, sites, stories


def _hit(story: dict[str, Any], rule: str) -> int:
    return int(next(r["hit_id"] for r in story["rules"] if r["rule"] == rule))


def _alerted(daemon: Daemon, story_id: int) -> set[str]:
    """The rules that made an alert of the story."""
    return {a.rule for a in daemon.services.store.list_alerts(None, None)
            if a.story_id == story_id}


async def _triage(c: httpx.AsyncClient, hit_id: int, action: str,
                  note: str | None = None) -> httpx.Response:
    body = {"action": action, **({"note": note} if note is not None else {})}
    return await c.post(f"/api/hits/{hit_id}/triage", json=body)


async def test_triage_states_and_who_may(tmp_path: Path, hook: WebhookReceiver,
                                         db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    async with sites(tmp_path, hook, [[SYNDICATED, HERD]], database=db_url) as (base, _, _):
        async with client(base) as nobody:
            wire = by_title(await stories(nobody))[SYNDICATED.title]
            hit = _hit(wire, "tariff")
            assert (await _triage(nobody, hit, "relevant")).status_code == 401
        async with client(base, "vi") as vi:
            refused = await _triage(vi, hit, "relevant")
            assert refused.status_code == 403 and "viewer" in refused.json()["error"]
        async with client(base, "ed") as ed:
            token = ed.headers.pop("X-CSRF-Token")
            assert (await _triage(ed, hit, "relevant")).status_code == 403  # no CSRF token
            ed.headers["X-CSRF-Token"] = token
            assert (await _triage(ed, hit, "relevant", "<b>useful</b>")).status_code == 200
            done = (await _triage(ed, hit, "relevant")).json()
            assert done["state"] == "relevant" and done["note"] == "<b>useful</b>"
            assert done["hit_id"] == hit and done["rule"] == "tariff"
            assert done["story_id"] == wire["story_id"]
            assert (await _triage(ed, _hit(wire, "quagga"), "dismiss")).json()["state"] == \
                "dismissed"
            assert (await stories(ed, state="relevant"))["stories"][0]["story_id"] == \
                wire["story_id"]
            assert (await stories(ed, state="dismissed"))["stories"][0]["title"] == \
                SYNDICATED.title
            reset = (await _triage(ed, hit, "reset", "")).json()
            assert (reset["state"], reset["note"]) == ("new", "")
            bad = await _triage(ed, hit, "destroy")
            assert bad.status_code == 400 and "action: one of" in bad.json()["error"]
            assert (await ed.post(f"/api/hits/{hit}/triage", json=["relevant"])
                    ).status_code == 400
            assert (await _triage(ed, 999999, "relevant")).status_code == 404
            assert (await ed.post("/api/hits/\u00b2/triage", json={"action": "relevant"})
                    ).status_code == 404  # a digit int() refuses
            surrogate = await ed.post(f"/api/hits/{hit}/triage", headers={
                "Content-Type": "application/json"},
                content=b'{"action": "relevant", "note": "\\ud800"}')  # no database holds it
            assert surrogate.status_code == 400 and surrogate.json()["error"].startswith("note:")
            audit = (await ed.get("/api/audit")).json()["audit"]
            assert [e["after"]["state"] for e in audit if e["action"] == "triage"][:4] == [
                "new", "dismissed", "relevant", "relevant"]
            assert audit[0]["actor"] == "ed"


async def test_mute_story_and_mute_source(tmp_path: Path, hook: WebhookReceiver,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    async with sites(tmp_path, hook, [[SYNDICATED, HERD], [], []], first_poll_alerts=False
                     ) as (base, daemon, servers):
        async with client(base, "ed") as ed:
            found = by_title(await stories(ed))
            wire, herd = found[SYNDICATED.title], found[HERD.title]
            assert _alerted(daemon, wire["story_id"]) == set()  # stored, not alerted
            muted = await _triage(ed, _hit(wire, "quagga"), "mute_story")
            assert muted.status_code == 200 and muted.json()["state"] == "muted"
            by_source = (await _triage(ed, _hit(herd, "quagga"), "mute_source")).json()
            assert by_source["state"] == "dismissed" and by_source["muted_source"] == "Site A"

            servers[1].articles.append(SYNDICATED)  # a later copy of the muted story
            servers[0].articles.append(article(  # Site A again: quagga muted, tariff not
                "quagga-tariff", "Quaggas and tariffs",
                "The quagga export tariff was debated again by the committee this week."))
            servers[2].articles.append(article(  # another site: quagga alerts
                "quagga-count", "Quaggas counted",
                "Rangers counted every quagga in the reserve during the dry season."))
            await poll(daemon)

            found = by_title(await stories(ed))
            assert len(found[SYNDICATED.title]["copies"]) == 1  # the copy joined the story
            assert _alerted(daemon, wire["story_id"]) == {"tariff", "schedule"}
            assert _alerted(daemon, found["Quaggas and tariffs"]["story_id"]) == {"tariff"}
            assert _alerted(daemon, found["Quaggas counted"]["story_id"]) == {"quagga"}
            # the matches are still stored: the muted rule still lists the story
            assert sorted(r["rule"] for r in found["Quaggas and tariffs"]["rules"]) == [
                "quagga", "tariff"]
            assert daemon.services.store.rule_mutes() == [
                (_rule_id(found["Quaggas and tariffs"], "quagga"), "Site A")]


def _rule_id(story: dict[str, Any], rule: str) -> int:
    return int(next(r["rule_id"] for r in story["rules"] if r["rule"] == rule))


def test_the_migration_adds_rule_mutes_and_the_story_index(db_url: str) -> None:
    from sqlalchemy import inspect, text

    from monitor.store import Store
    from monitor.store.schema import CURRENT_VERSION

    store = Store(db_url)
    try:
        store.migrate()
        with store.engine.begin() as conn:  # back to version 10, before them
            conn.execute(text("DROP TABLE rule_mutes"))
            conn.execute(text("DROP INDEX ix_hits_story"))
            conn.execute(text("UPDATE schema_version SET version = 10"))
        assert store.migrate() == CURRENT_VERSION
        found = inspect(store.engine)
        assert "rule_mutes" in found.get_table_names()
        assert "ix_hits_story" in {i["name"] for i in found.get_indexes("hits")}
        assert store.rule_mutes() == []
    finally:
        store.close()
