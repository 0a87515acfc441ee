"""``GET /api/rules/{id}/stats`` (issue 15, "Triage"): precision from triage, hits per day,
and suggested exclusions (words frequent in dismissed hits, rare in relevant ones) after an
editor dismisses the noise; through a real daemon polling a local site."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.testing import WebhookReceiver
from tests.helpers import SECRET
from tests.storysites import article, by_title, client, sites, stories

NOISE = [
    article("derby", "Derby day", "The football derby ended level, and the quagga mascot "
            "danced along the touchline while fans sang loudly."),
    article("transfer", "Transfer rumours", "Pundits argued about a football transfer fee "
            "as supporters waved a giant quagga banner outside the ground."),
    article("cup", "Cup final tickets", "Tickets for the football cup final sold out within "
            "hours; the club's quagga emblem was printed on every scarf."),
]
RELEVANT = [
    article("reserve", "Quagga reserve expands", "Wildlife officers expanded the quagga "
            "reserve after conservation surveys found healthy breeding herds."),
    article("genome", "Quagga genome study", "Geneticists compared museum quagga samples "
            "with living zebras to guide conservation breeding programmes."),
]
WATCH = """
[[watch]]
name = "quagga"
query = 'quagga'
channels = ["hook"]
"""


async def test_precision_and_suggested_exclusions(tmp_path: Path, hook: WebhookReceiver,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    async with sites(tmp_path, hook, [NOISE + RELEVANT], watches=WATCH) as (base, _, _):
        async with client(base, "ed") as ed:
            found = by_title(await stories(ed))
            assert len(found) == 5
            rule_id = found["Derby day"]["rules"][0]["rule_id"]

            async def stats(**params: Any) -> dict[str, Any]:
                got = await ed.get(f"/api/rules/{rule_id}/stats", params=params)
                assert got.status_code == 200, got.text
                return dict(got.json())

            before = await stats(days=7)
            assert (before["judged"], before["precision"], before["exclusions"]) == (0, None, [])
            today = datetime.now(UTC).date()
            assert [d["day"] for d in before["hits_per_day"]] == [
                str(today - timedelta(days=6 - i)) for i in range(7)]
            assert [d["hits"] for d in before["hits_per_day"]] == [0] * 6 + [5]
            assert len((await stats())["hits_per_day"]) == 30
            for days in ("\u00b2", "9" * 5000, "0", "367"):  # "²" is a digit int() refuses
                bad = await ed.get(f"/api/rules/{rule_id}/stats", params={"days": days})
                assert bad.status_code == 400 and bad.json()["error"].startswith("days:")
            assert (await ed.get("/api/rules/\u00b2/stats")).status_code == 404

            for a in NOISE:
                hit = found[a.title]["rules"][0]["hit_id"]
                done = await ed.post(f"/api/hits/{hit}/triage", json={"action": "dismiss"})
                assert done.status_code == 200, done.text
            for a in RELEVANT[:1]:
                hit = found[a.title]["rules"][0]["hit_id"]
                await ed.post(f"/api/hits/{hit}/triage", json={"action": "relevant"})
            after = await stats()
            assert (after["judged"], after["relevant"], after["dismissed"]) == (4, 1, 3)
            assert after["precision"] == pytest.approx(0.25)
            terms = {e["term"]: e for e in after["exclusions"]}
            assert terms["football"] == {"term": "football", "dismissed": 3, "relevant": 0,
                                         "removes": 3}
            assert len(terms) <= 5 and "quagga" not in terms and "conservation" not in terms
            assert all(e["dismissed"] >= 2 for e in after["exclusions"])

            hit = found[RELEVANT[1].title]["rules"][0]["hit_id"]
            await ed.post(f"/api/hits/{hit}/triage", json={"action": "mute_story"})
            muted = await stats()
            assert (muted["muted"], muted["judged"]) == (1, 4)

            assert (await ed.get("/api/rules/999999/stats")).status_code == 404
            assert (await ed.get(f"/api/rules/{rule_id}/stats?days=0")).status_code == 400
