"""One JSON shape per model (monitor/jsonshape.py), used by the CLI, the API and the
webhook alike, and written down in the README."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.cli import main
from monitor.daemon import Daemon
from monitor.demo import WebhookReceiver
from monitor.jsonshape import alert_json, article_json, hit_json, iso, term_json
from monitor.models import Article, Snippet, Span, TermHit
from monitor.store import AlertRow, NodeInfo
from monitor.web import create_app
from monitor.web.views import node_json

README = Path(__file__).resolve().parent.parent / "README.md"
WHEN = datetime(2026, 2, 26, 14, 0, tzinfo=timezone(timedelta(hours=2)))
ARTICLE = Article("https://news.example/a", "Pentagon talks", "the Defense Production Act",
                  author="A. Writer", published=WHEN, language="en", source="Wire")
TERM = TermHit("defense production act", 1, (Span("body", 4, 26),),
               (Snippet("the Defense Production Act", ((4, 26),)),))
ROW = AlertRow("a1", "dpa", "hook", 1, 1, "Wire", ARTICLE, (TERM,), '"dpa"',
               created_at=WHEN, next_attempt_at=WHEN)


def test_the_shapes() -> None:
    assert iso(WHEN) == "2026-02-26T12:00:00Z" and iso(datetime(2026, 2, 26)) == \
        "2026-02-26T00:00:00Z" and iso(None) is None
    assert article_json(ARTICLE) == {
        "url": "https://news.example/a", "title": "Pentagon talks", "source": "Wire",
        "published": "2026-02-26T12:00:00Z", "author": "A. Writer", "language": "en",
        "partial": False}
    assert article_json(ARTICLE, text=True)["text"] == ARTICLE.text
    assert term_json(TERM) == {
        "term": "defense production act", "count": 1,
        "spans": [{"field": "body", "start": 4, "end": 26}],
        "snippets": [{"text": "the Defense Production Act", "marks": [[4, 26]]}]}
    assert hit_json(ARTICLE, (TERM,), WHEN) == {
        "article": article_json(ARTICLE), "stored_at": "2026-02-26T12:00:00Z",
        "terms": [term_json(TERM)]}
    alert = alert_json(ROW, "410 Gone")
    assert alert["article"] == article_json(ARTICLE) and alert["terms"] == [term_json(TERM)]
    assert (alert["channel_disabled"], alert["query"], alert["sent_at"]) == \
        ("410 Gone", '"dpa"', None)
    json.dumps(alert)  # plain JSON: no datetimes left


def readme_shapes() -> str:
    text = README.read_text()
    start = text.index("### JSON shapes")
    return text[start:text.index("\n#", start + 1)]


def test_the_readme_writes_every_shape_down() -> None:
    section = readme_shapes()
    shapes = {"article": article_json(ARTICLE, text=True), "term": term_json(TERM),
              "hit": hit_json(ARTICLE, (TERM,), WHEN), "alert": alert_json(ROW),
              "node": node_json(NodeInfo("n1", WHEN, WHEN))}
    for name, shape in shapes.items():
        line = next((x for x in section.splitlines() if x.lstrip("* ").startswith(
            f"{name}:")), None)
        assert line is not None, f"README: no line for the {name} shape"
        block = section[section.index(line):]
        block = block[:block.index("\n* ", 1)] if "\n* " in block[1:] else block
        missing = [k for k in shape if f'"{k}"' not in block]
        assert not missing, f"README: the {name} shape does not name {missing}"



async def test_one_alert_listing_and_one_article_shape(
        ran_once: tuple[Daemon, Path], hook: WebhookReceiver,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`monitor alerts`, /api/alerts and the webhook describe the same alerts: the same
    rows in the same order, and each alert's article in the same shape as the webhook's."""
    daemon, path = ran_once
    app = create_app(daemon.services.store, lambda: daemon.config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as http:
        api: list[dict[str, Any]] = (await http.get("/api/alerts")).json()["alerts"]
    capsys.readouterr()
    assert main(["alerts", "-c", str(path)]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert len(api) >= 2 and listed == [a["id"] for a in api]
    bodies = {h["webhook-id"]: json.loads(b) for h, b in hook.received}
    for alert in api:
        body = bodies[alert["id"]]
        assert alert["article"] == body["article"] and alert["article"]["published"]
        assert [(t["term"], t["count"]) for t in alert["terms"]] == \
            [(m["term"], m["count"]) for m in body["matches"]]
        assert alert["query"] == body["rule"]["query"]
        assert all(set(s) == {"field", "start", "end"} for t in alert["terms"]
                   for s in t["spans"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", alert["created_at"])


def test_nodes_json_is_the_node_shape() -> None:
    now = datetime(2026, 2, 26, 12, 0, tzinfo=UTC)
    assert node_json(NodeInfo("n1", now, now, 2, 3)) == {
        "id": "n1", "started_at": "2026-02-26T12:00:00Z", "heartbeat_at": "2026-02-26T12:00:00Z",
        "feeds_claimed": 2, "alerts_claimed": 3}
