"""The workspace page without a browser: its policy, its assets, and the dashboard's
no-script policy kept (``monitor.web.workspace``, ``monitor.web.security``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from monitor.config import Config, MonitorSettings
from monitor.store import Store
from monitor.web import create_app
from monitor.web.security import CONTENT_SECURITY_POLICY, WORKSPACE_POLICY
from tests.test_web import client

STATIC = Path(__file__).resolve().parent.parent / "monitor" / "web" / "static"


def app(tmp_path: Path) -> object:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    store = Store(url)
    store.migrate()
    store.sync_feeds([], datetime.now(UTC))
    config = Config(MonitorSettings(database=url))
    return create_app(store, lambda: config)


async def test_the_workspace_alone_runs_a_script_its_own(tmp_path: Path) -> None:
    async with client(app(tmp_path)) as http:  # type: ignore[arg-type]
        page = await http.get("/workspace")
        script = await http.get("/static/workspace.js")
        style = await http.get("/static/workspace.css")
        dashboard = await http.get("/")
        refused = [await http.get(p) for p in ("/static/nope.js", "/static/../app.py",
                                               "/static/workspace.html")]
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == WORKSPACE_POLICY
    assert "script-src 'self'" in WORKSPACE_POLICY and "'unsafe" not in WORKSPACE_POLICY
    assert "require-trusted-types-for 'script'" in WORKSPACE_POLICY
    # the page's only script is the file, loaded from this origin; no inline handlers
    assert re.findall(r"<script[^>]*>", page.text) == [
        '<script src="/static/workspace.js" defer>']
    assert not re.search(r"\son[a-z]+=", page.text)
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert script.content == (STATIC / "workspace.js").read_bytes()
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert script.headers["x-content-type-options"] == "nosniff"
    # the dashboard keeps its no-script policy, and links to the workspace
    assert dashboard.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY
    assert "<script" not in dashboard.text and 'href="/workspace"' in dashboard.text
    assert [r.status_code for r in refused] == [404, 404, 404]


def test_the_script_inserts_markup_only_through_its_checked_policy() -> None:
    """A guard on the hand-written script: ``innerHTML`` is assigned in one place, from
    the Trusted Types policy that admits escaped text with ``<mark>`` only; nothing
    evaluates strings or writes the document."""
    source = (STATIC / "workspace.js").read_text()
    assignments = re.findall(r"\.(?:innerHTML|outerHTML)\s*=\s*([^;]+);", source)
    assert assignments == ["marks.createHTML(html)"]
    for banned in ("insertAdjacentHTML", "document.write", "eval(", "new Function",
                   "setTimeout(\"", "setAttribute(\"style\"", "http://", "https://"):
        assert banned not in source.replace("http://www.w3.org/2000/svg", ""), banned
    assert r"const MARKED = /^(?:[^<>]|<mark>|<\/mark>)*$/;" in source
