"""Rules take effect on every node (issue 15): two daemons on one PostgreSQL database, a
rule created through node A's API (the bearer token) is taken up by node B within 10 s,
off its event loop, and alerts on B's next poll; disabling it on A drops it on B. Neither
edit compiles B's start-up rule set again: it stays, the edit in an overlay."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from monitor.daemon import Daemon, load
from monitor.testing import NewsServer, SeedArticle, WebhookReceiver
from tests.conftest import pg_schema, postgres_available
from tests.helpers import SECRET, until, write_config
from tests.webusers import free_port

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not postgres_available(), reason="no PostgreSQL at 127.0.0.1:5432"),
]

TOKEN = "node-a-api-token"
TAKE_UP = 10.0  # seconds within which every node runs an edit (the bound)
QUAGGA = SeedArticle("quagga", "Quagga tariffs return", "2026-02-27",
                     "Officials said the quagga tariff schedule would return next month. " * 6)




def node_config(tmp_path: Path, news: NewsServer, hook: WebhookReceiver, url: str,
                name: str, web: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "token").write_text(TOKEN)
    path = write_config(folder, news, None, hook, database=url, extra_monitor=(
        f'node_id = "{name}"\nweb_token_file = "token"'))
    path.write_text(path.read_text().replace('web = ""', f'web = "{web}"'))
    return path


async def test_a_rule_made_on_node_a_alerts_on_node_b(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    with pg_schema() as url:
        port = free_port()
        a = Daemon(*_loaded(node_config(tmp_path, news, hook, url, "node-a",
                                        f"127.0.0.1:{port}")))
        b = Daemon(*_loaded(node_config(tmp_path, news, hook, url, "node-b", "")))
        running = asyncio.create_task(b.run())  # B polls; A only serves the API
        try:
            await a.start_web(SimpleNamespace(running=True))  # type: ignore[arg-type]
            store = b.services.store
            await until(lambda: all(f.last_polled_at for f in store.feeds()) and not b.polls,
                        30, "node B's first poll")
            assert "quagga watch" not in b.pipeline.routing.watches
            base = b.live.base  # compiled at start-up: an edit keeps it (an overlay)
            news.articles.append(QUAGGA)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False,
                                         headers={"Authorization": f"Bearer {TOKEN}"}) as api:
                made = await api.post("/api/rules", json={
                    "name": "quagga watch", "query": "quagga", "channels": ["hook"]})
                assert made.status_code == 201, made.text
                version = store.rules_version()
                await until(lambda: b.live.version >= version, TAKE_UP, "node B took it up")
                assert "quagga watch" in b.pipeline.routing.watches
                assert b.live.base is base and b.pipeline.rules is not base
                await b.poll_due(force=True)
                await until(lambda: any("quagga watch" in json.dumps(body)
                                        for body in hook.bodies()), 30, "the alert")
                hit = next(body for body in hook.bodies() if "quagga watch" in json.dumps(body))
                assert "Quagga tariffs return" in json.dumps(hit)

                off = await api.put(f"/api/rules/{made.json()['id']}", json={"enabled": False})
                assert off.status_code == 200
                version = store.rules_version()
                await until(lambda: b.live.version >= version, TAKE_UP, "node B dropped it")
                assert "quagga watch" not in b.pipeline.routing.watches
                assert b.live.base is base and b.pipeline.rules is base  # nothing added
                audit = (await api.get("/api/audit")).json()["audit"]
                assert [e["actor"] for e in audit] == ["token", "token"]
        finally:
            b.stopping.set()
            await asyncio.wait_for(running, 30)
            if a.web:
                await a.web.stop()
            await a.close()
            await b.close()


def _loaded(path: Path) -> tuple[Any, str]:
    return load(str(path)), str(path)
