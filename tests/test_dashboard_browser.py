"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright.

After a real poll of a local feed (the seed article), a feed that 404s and a feed named
with a script tag, the page served by uvicorn on 127.0.0.1 must show the highlighted
alert, each feed's health, a working query box, and run no script at all.
Playwright's own browser download is never used: only /usr/bin/chromium.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from monitor.testing import NewsServer, WebhookReceiver
from monitor.web import serve
from tests.test_web import XSS_FEED, XSS_TITLE, app_for, make_daemon, wire_metrics

if TYPE_CHECKING:
    from playwright.async_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers import SECRET

    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)


async def test_dashboard_in_headless_chromium(tmp_path: Path, news: NewsServer,
                                              hook: WebhookReceiver) -> None:
    playwright = pytest.importorskip("playwright.async_api")
    daemon = make_daemon(tmp_path, news, hook)
    server = None
    try:
        metrics = wire_metrics(daemon)
        await daemon.run_once()
        server = await serve(app_for(daemon, metrics), "127.0.0.1", 0)
        async with playwright.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                               args=CHROMIUM_ARGS)
            try:
                await check_dashboard(browser, server.url, tmp_path)
            finally:
                await browser.close()
    finally:
        if server:
            await server.stop()
        await daemon.close()


async def check_dashboard(browser: Browser, url: str, tmp_path: Path) -> None:
    page = await browser.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    response = await page.goto(f"{url}/")
    assert response is not None and response.status == 200
    assert "default-src 'none'" in response.headers["content-security-policy"]

    # the alert, with the matched phrase in a <mark>
    marks = page.locator("#alerts mark", has_text="Defense Production Act")
    assert await marks.count() >= 1
    assert await marks.first.inner_text() == "Defense Production Act"

    # feed health: the good feed healthy, the broken one failing with its error
    good = page.locator("tr.feed", has_text="Demo News")
    assert (await good.locator("td.state").inner_text()).startswith("healthy")
    broken = page.locator("tr.feed", has_text="Broken Feed")
    assert (await broken.locator("td.state").inner_text()).startswith("failing")
    assert await broken.locator(".feed-error").inner_text() == "HTTP 404"

    # script tags from feeds are text: none in the DOM, nothing ran, the text shows
    assert await page.evaluate("document.getElementsByTagName('script').length") == 0
    assert await page.evaluate("window.pwned === undefined")
    assert "pwned" not in await page.title()
    assert await page.get_by_text(XSS_FEED).first.is_visible()
    assert await page.get_by_text(XSS_TITLE).first.is_visible()

    # the query box: fill, submit, the seed article is found with its hit marked
    await page.fill("input[name=q]", '"Defense Production Act" AND Anthropic')
    async with page.expect_navigation():
        await page.click("#search button[type=submit]")
    hits = page.locator("#search li.hit")
    assert await hits.count() == 1
    assert (await hits.first.locator("h3").inner_text()).startswith("Anthropic says")
    assert await hits.first.locator("mark", has_text="Defense Production Act").count() >= 1

    shot = tmp_path / "dashboard.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert not [line for line in console if "Content Security Policy" in line or
                line.startswith("pageerror")], console
