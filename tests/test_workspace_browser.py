"""The workspace in a real browser (issue 15's acceptance): Debian's headless Chromium,
driven by Playwright, against a daemon with ``[[users]]`` serving on 127.0.0.1 and polling
five local news sites.

Signed in as an editor, the test writes a rule and watches the preview's count and
snippets follow the query (and a parse error point at its column), saves it, lets a poll
alert, triages the hits (buttons and keys), sees the rule's precision and a suggested
exclusion, adds it and sees the preview drop; the wire story that three rules match on
five sites is one card. A second test feeds hostile titles and snippets through every
view: nothing runs, the text shows literally. Screenshots go to the test's tmp dir; with
``MONITOR_SCREENSHOT=PATH`` the workspace's is also written there (the README's).
Playwright's own browser download is never used: only /usr/bin/chromium.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from aiohttp import web

from monitor.daemon import Daemon
from monitor.testing import SEED_TITLE, NewsServer, WebhookReceiver, load_seeds
from tests.conftest import ServeApp
from tests.helpers import SECRET, SEED_WATCHES, write_config
from tests.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS
from tests.webusers import PASSWORDS, csrf, serving, sign_in, users_toml

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")

PAGES = Path(__file__).parent / "data" / "pages"
SEED = load_seeds()[0]
STEEL = "Ministers agreed that the steel tariff will rise in the spring."
CELEBRITY = "Ministers agreed that the celebrity tariff will rise in the spring."
BEFORE = {"chipmaker-earnings": STEEL, "council-light-rail": STEEL,
          "bakery-closes": CELEBRITY, "derby-penalty": CELEBRITY}
AFTER = {"wildfire-bill": STEEL, "exoplanet-water": CELEBRITY,
         "sierra-snowstorm": CELEBRITY, "teen-sleep-study": CELEBRITY}
HOSTILE_TITLE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2"> tariff'
HOSTILE_BODY = ('Reporters quoted <img src=x onerror="window.pwned=3"> and '
                '<script>window.pwned=4</script> beside the tariff debate.')
WATCHES = SEED_WATCHES + """
[[watch]]
name = "pentagon"
query = 'Pentagon'
channels = CHANNELS
"""


@dataclass
class Sites:
    """Five news sites carrying the wire story; site 1 also runs its own stories."""

    own: list[tuple[str, str, str]] = field(default_factory=list)  # slug, title, body
    port: int = 0

    def page(self, site: int, title: str, body: str) -> str:
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n") if p.strip())
        return (f"<html><head><title>{html.escape(title)} - Site {site}</title></head><body>"
                f"<nav><a href='/'>Site {site} home</a></nav><article>"
                f"<h1>{html.escape(title)}</h1>{paras}</article>"
                f"<footer>Site {site} newsletter</footer></body></html>")

    def item(self, site: int, slug: str, title: str, body: str) -> str:
        link = f"http://127.0.0.1:{self.port}/site{site}/news/{slug}.html"
        return (f"<item><title>{html.escape(title)}</title><link>{link}</link>"
                f"<guid>site{site}-{slug}</guid>"
                f"<description>{html.escape(body[:150])}</description></item>")

    def stories(self, site: int) -> list[tuple[str, str, str]]:
        return [("wire", SEED.title, SEED.body)] + (self.own if site == 1 else [])

    async def feed(self, request: web.Request) -> web.Response:
        site = int(request.match_info["site"])
        items = "".join(self.item(site, *story) for story in self.stories(site))
        xml = f"<rss version='2.0'><channel><title>Site {site}</title>{items}</channel></rss>"
        return web.Response(text=xml, content_type="application/rss+xml")

    async def article(self, request: web.Request) -> web.Response:
        site, slug = int(request.match_info["site"]), request.match_info["slug"]
        _, title, body = next(s for s in self.stories(site) if s[0] == slug)
        return web.Response(text=self.page(site, title, body), content_type="text/html")

    def add(self, pages: dict[str, str]) -> None:
        for slug, sentence in pages.items():
            page = json.loads((PAGES / f"{slug}.expected.json").read_text())
            self.own.append((slug, page["title"], f"{page['text']}\n{sentence}"))


@pytest.fixture
async def sites(serve_app: ServeApp) -> Sites:
    found = Sites()
    app = web.Application()
    app.router.add_get("/site{site}/feed.xml", found.feed)
    app.router.add_get("/site{site}/news/{slug}.html", found.article)
    found.port = int((await serve_app(app)).rsplit(":", 1)[1])
    return found


@asynccontextmanager
async def workspace_daemon(tmp_path: Path, news: NewsServer, hook: WebhookReceiver,
                           sites: Sites) -> AsyncIterator[tuple[str, Daemon]]:
    """The daemon of the five sites (site1 tagged ``local``, the others ``wires``) with ed
    and vi as users, its first poll done."""
    feeds = "".join(f'[[feeds]]\nname = "site{i}"\nurl = "http://127.0.0.1:{sites.port}'
                    f'/site{i}/feed.xml"\ntags = ["{"local" if i == 1 else "wires"}"]\n'
                    for i in range(1, 6))
    path = write_config(tmp_path, news, None, hook, feeds=feeds, watches=WATCHES)
    path.write_text(path.read_text() + users_toml(tmp_path))
    async with serving(path) as (base, daemon):
        await poll(daemon)
        yield base, daemon


async def poll(daemon: Daemon) -> None:
    """What the scheduler would do next: take up rule edits, poll every feed, deliver."""
    while daemon.polls:  # the scheduler's first poll
        await asyncio.gather(*daemon.polls)
    await daemon.refresh_rules()
    await daemon.poll_due(force=True)
    await asyncio.gather(*daemon.polls)
    await daemon.deliver()


@asynccontextmanager
async def chromium(shots: Path) -> AsyncIterator[tuple[Page, list[str]]]:
    """A page of Debian's Chromium, and the console errors and dialogs it sees; when the
    test fails in it, the page as it was is ``shots/failed.png``."""
    playwright = pytest.importorskip("playwright.async_api")
    async with playwright.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                           args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1360, "height": 900})
            seen: list[str] = []
            page.on("pageerror", lambda error: seen.append(f"pageerror: {error}"))
            page.on("console", lambda m: seen.append(f"console: {m.text}")  # not 4xx answers
                    if m.type == "error" and "Failed to load resource" not in m.text else None)

            async def dialog(d: Any) -> None:
                seen.append(f"dialog: {d.message}")
                await d.dismiss()
            page.on("dialog", dialog)
            try:
                yield page, seen
            except BaseException:
                await page.screenshot(path=str(shots / "failed.png"), full_page=True)
                raise
        finally:
            await browser.close()


async def open_signed_in(page: Page, base: str, name: str = "ed") -> None:
    response = await page.goto(f"{base}/workspace")
    assert response is not None and response.status == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "require-trusted-types-for 'script'" in policy
    await page.wait_for_selector("body[data-ready='1']")
    await page.fill("#signin input[name=name]", name)
    await page.fill("#signin input[name=password]", PASSWORDS[name])
    await page.click("#signin button[type=submit]")
    role = "editor" if name == "ed" else "viewer"
    await page.wait_for_selector(f"#whoami:has-text('signed in as {name} ({role})')")


def raise_spike(daemon: Daemon, rule: str) -> int:
    """A spike of ``rule`` this hour (what ``monitor.spikes`` stores); its rule id."""
    from monitor.store import SpikeRow

    store = daemon.services.store
    rule_id = next(r.id for r in store.web_rules() if r.name == rule)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    assert store.raise_spike(SpikeRow(rule_id, hour, 4, 0.1), hour - timedelta(hours=1), [])
    return rule_id


async def has_count(locator: Locator, count: int) -> None:
    """Wait until ``locator`` finds ``count`` elements (the page's CSP forbids eval, so
    no ``wait_for_function`` with a string)."""
    from playwright.async_api import expect

    await expect(locator).to_have_count(count, timeout=15_000)


async def preview(page: Page, query: str, count: int) -> None:
    await page.fill("#rule-query", query)
    await page.wait_for_selector(f"#preview-count[data-count='{count}']")


async def saved_as(base: str, name: str, **want: Any) -> None:
    """Wait until ``/api/rules`` shows rule ``name`` with the ``want`` values."""
    async with httpx.AsyncClient(base_url=base, trust_env=False) as c:
        for _ in range(100):
            rules = {r["name"]: r for r in (await c.get("/api/rules")).json()["rules"]}
            got = {k: rules[name].get(k) for k in want}
            if got == want:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"rule {name}: {got}, not {want}")


async def test_write_try_save_triage_and_tune_a_rule(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, sites: Sites,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    sites.add(BEFORE)
    async with workspace_daemon(tmp_path, news, hook, sites) as (base, daemon), \
            chromium(tmp_path) as (page, seen):
        await open_signed_in(page, base)

        # write a rule: the preview follows the query, a parse error names its column
        await page.click("#new-rule")
        await page.fill("#rule-name", "tariffs")
        await preview(page, "tariff AND steel", 2)
        assert await page.locator("#preview-hits li.hit").count() == 2
        assert await page.locator("#preview-hits mark", has_text="steel").count() >= 2
        await page.fill("#rule-query", "tariff AND (")
        error = page.locator("#query-error")
        await error.wait_for(state="visible")
        assert "column 12" in await error.inner_text()
        await preview(page, "tariff", 4)
        assert not await error.is_visible()
        titles = await page.locator("#preview-hits h4").all_inner_texts()
        assert len(titles) == 4 and any("Bakery" in t for t in titles)
        assert await page.locator("#preview-hits mark", has_text="steel").count() == 0
        await page.screenshot(path=str(tmp_path / "preview.png"))

        await page.click("#rule-settings summary")
        await page.fill("#rule-digest", "0 8 * * *")
        await page.fill("#rule-cap", "3")
        await page.click("#save-rule")
        await page.wait_for_selector("#save-status:has-text('Saved.')")
        assert await page.locator("#rules .rule-item", has_text="tariffs").count() == 1
        assert await page.locator("#rules .rule-item",
                                  has_text="managed by config").count() == 3
        assert await page.inner_text("#rule-precision") == "–"

        # the digest and cap saved with it, emptied in the editor: the PUT clears them
        await saved_as(base, "tariffs", digest="0 8 * * *", max_alerts_per_hour=3)
        await page.fill("#rule-digest", "")
        await page.fill("#rule-cap", "")
        await page.click("#save-rule")
        await saved_as(base, "tariffs", digest=None, max_alerts_per_hour=None)

        # a poll alerts on the new stories, which appear without a reload
        sites.add(AFTER)
        await poll(daemon)
        for _ in range(100):  # the delivery job may hold some of them: 10 s at most
            alerted = sum(b.get("rule", {}).get("name") == "tariffs" for b in hook.bodies())
            if alerted >= 4:
                break
            await asyncio.sleep(0.1)
        assert alerted == 4
        rule_id = raise_spike(daemon, "tariffs")  # as the health job would, for the chart
        cards = page.locator("#stories .story")
        await has_count(cards, 5)  # the wire story and four new ones, polled in, no reload
        assert await page.inner_text("#stories-fresh") == "4 new"
        assert await cards.nth(4).locator("h3").inner_text() == SEED_TITLE  # newest first
        await page.select_option("#filter-rule", label="tariffs")
        await page.click("#story-filters button[type=submit]")
        await has_count(cards, 4)

        # triage: the first card with its buttons and a note, the rest with j and r/d
        for i in range(4):
            card = cards.nth(i)
            title = await card.locator("h3").inner_text()
            steel = any(t in title for t in ("wildfire", "Wildfire"))
            if i == 0:
                await card.locator(".note-input").fill("not our beat")
                await card.locator("button.triage.dismiss" if not steel
                                   else "button.triage.relevant").click()
            else:
                await page.keyboard.press("j")
                await page.keyboard.press("r" if steel else "d")
            want = "relevant" if steel else "dismissed"
            await card.locator(f".chip.state-{want}").wait_for()

        # the state and text filters
        await page.select_option("#filter-state", "dismissed")
        await page.click("#story-filters button[type=submit]")
        await has_count(cards, 3)
        await page.select_option("#filter-state", "")
        await page.fill("#filter-q", "Sierra")
        await page.press("#filter-q", "Enter")
        await has_count(cards, 1)
        await page.fill("#filter-q", "")

        # precision from triage, and the dismissed hits' word offered as an exclusion
        await page.wait_for_selector("#rule-precision:has-text('25%')")
        assert "1 relevant of 4 judged" in await page.inner_text("#rule-judged")
        assert await page.locator("#rule-chart path.spike").count() == 1
        feed = await page.get_attribute("#rule-feed", "href")
        assert feed and feed.startswith(f"{base}/rules/{rule_id}/feed.atom?token=")
        async with httpx.AsyncClient(trust_env=False) as reader:
            atom = await reader.get(feed)
        assert atom.status_code == 200 and atom.text.count("<entry>") == 4
        add = page.locator("#rule-exclusions li[data-term='celebrity'] button")
        await add.wait_for()
        await preview(page, "tariff", 8)
        await add.click()
        assert await page.input_value("#rule-query") == "tariff NOT celebrity"
        await page.wait_for_selector("#preview-count[data-count='3']")
        assert await page.inner_text("#preview-delta") == "was 8, removes 5"

        # the wire story: three rules, five sites, one card
        await page.select_option("#filter-rule", value="")
        await page.click("#story-filters button[type=submit]")
        wire = page.locator("#stories .story", has_text=SEED_TITLE)
        await wire.first.wait_for()
        assert await wire.count() == 1
        rules = await wire.locator(".chip-rule").all_inner_texts()
        assert sorted(rules) == ["dpa", "pentagon", "scr"]
        assert await wire.locator(".outlets summary").inner_text() == "5 outlets"
        await wire.locator(".outlets summary").click()
        assert await wire.locator(".outlets li").count() >= 4
        assert await wire.locator("p q.snippet").count() == 1
        # k/j reach it from the top, m mutes the story for its first rule not yet judged
        for _ in range(await cards.count()):
            await page.keyboard.press("k")
        for _ in range(await cards.count()):
            if "selected" in (await wire.get_attribute("class") or "").split():
                break
            await page.keyboard.press("j")
        assert "selected" in (await wire.get_attribute("class") or "").split()
        await page.keyboard.press("m")
        await wire.locator(".chip.state-muted").wait_for()
        assert await wire.locator(".chip.state-muted").count() == 1

        shot = tmp_path / "workspace.png"
        await page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        if target := os.environ.get("MONITOR_SCREENSHOT"):
            shutil.copyfile(shot, target)

        # a spike notice's link opens its rule, stories filtered to it: on load, and on a
        # second link followed in the open page (hashchange)
        dpa = next(r.id for r in daemon.services.store.rules() if r.name == "dpa")
        await page.goto("about:blank")
        await page.goto(f"{base}/workspace#rule={dpa}")
        await page.wait_for_selector("body[data-ready='1']")
        assert await page.inner_text("#editor-title") == "Rule: dpa"
        assert await page.input_value("#filter-rule") == str(dpa)
        await has_count(cards, 1)  # the wire story
        await page.goto(f"{base}/workspace#rule={rule_id}")
        await page.wait_for_selector("#editor-title:has-text('Rule: tariffs')")
        assert await page.input_value("#filter-rule") == str(rule_id)
        await has_count(page.locator("#rule-chart path.spike"), 1)
        await has_count(cards, 4)

        # disable the rule from the editor: the list says so, the database has it off
        await page.click("#toggle-rule")
        await page.wait_for_selector("#save-status:has-text('Disabled.')")
        assert await page.locator("#rules .rule-item", has_text="web, disabled").count() == 1
        assert [r.enabled for r in daemon.services.store.web_rules()] == [False]
        assert await page.inner_text("#toggle-rule") == "Enable"
        assert not seen, seen


async def test_spike_languages_and_age_in_the_editor_and_the_tag_filter(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, sites: Sites,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule's spike, languages and max_age are set in the editor and stored (an invalid
    one shows the API's error and stores nothing); the stories filter by feed tag."""
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    async with workspace_daemon(tmp_path, news, hook, sites) as (base, daemon), \
            chromium(tmp_path) as (page, seen):
        async with httpx.AsyncClient(base_url=base, trust_env=False) as c:
            await sign_in(c, "ed")
            made = await c.post("/api/rules", json={"name": "ports", "query": "tariff"},
                                headers={"X-CSRF-Token": await csrf(c)})
            assert made.status_code == 201, made.text
        sites.add({"bakery-closes": CELEBRITY})  # on site1 alone: a hit of ports
        await poll(daemon)
        await open_signed_in(page, base)

        # the tag filter: the configured tags offered, each keeping its feeds' stories
        cards = page.locator("#stories .story")
        await has_count(cards, 2)
        assert await page.locator("#filter-tag option").all_inner_texts() == [
            "any", "local", "wires"]
        await page.select_option("#filter-tag", "wires")
        await page.click("#story-filters button[type=submit]")
        await has_count(cards, 1)
        assert await cards.first.locator("h3").inner_text() == SEED_TITLE
        await page.select_option("#filter-tag", "local")
        await page.click("#story-filters button[type=submit]")
        await has_count(cards, 2)

        # open the rule: spike off, any language, each feed's age limit
        await page.click("#rules .rule-item[data-id] button:has-text('ports')")
        await page.wait_for_selector("#editor-title:has-text('Rule: ports')")
        await page.click("#rule-settings summary")
        assert not await page.is_checked("#rule-spike-on")
        assert await page.input_value("#rule-languages") == ""
        assert await page.input_value("#rule-max-age") == ""
        await page.check("#rule-spike-on")
        await page.fill("#rule-spike-factor", "2.5")
        await page.fill("#rule-spike-min-hits", "3")
        await page.fill("#rule-spike-baseline", "7")
        await page.fill("#rule-languages", "en, DE")
        await page.fill("#rule-max-age", "36h")
        await page.locator("#editor").screenshot(path=str(tmp_path / "editor.png"))
        await page.click("#save-rule")
        await page.wait_for_selector("#save-status:has-text('Saved.')")
        await saved_as(base, "ports", spike={"factor": 2.5, "min_hits": 3, "baseline_days": 7},
                       languages=["en", "de"], max_age=36 * 3600.0)

        # one the API refuses: its error beside the form, nothing stored
        await page.fill("#rule-spike-baseline", "90")
        await page.click("#save-rule")
        error = page.locator("#query-error")
        await error.wait_for(state="visible")
        assert "spike: baseline_days must be at most 60" in await error.inner_text()
        await page.fill("#rule-spike-baseline", "7")
        await page.fill("#rule-max-age", "soon")
        await page.click("#save-rule")
        await page.wait_for_selector("#query-error:has-text('max_age')")
        await saved_as(base, "ports", spike={"factor": 2.5, "min_hits": 3, "baseline_days": 7},
                       max_age=36 * 3600.0)

        # a config rule opens read-only; the web rule opens with what was stored
        await page.click("#rules .rule-item button:has-text('pentagon')")
        await page.wait_for_selector("#editor-title:has-text('Rule: pentagon')")
        assert await page.is_disabled("#rule-spike-on")
        assert not await page.is_checked("#rule-spike-on")
        assert await page.get_attribute("#rule-languages", "readonly") is not None
        assert await page.get_attribute("#rule-max-age", "readonly") is not None
        assert not await page.is_visible("#save-rule")
        await page.click("#rules .rule-item button:has-text('ports')")
        await page.wait_for_selector("#editor-title:has-text('Rule: ports')")
        assert await page.is_checked("#rule-spike-on")
        assert await page.is_enabled("#rule-spike-on")
        assert await page.input_value("#rule-spike-factor") == "2.5"
        assert await page.input_value("#rule-spike-baseline") == "7"
        assert await page.input_value("#rule-languages") == "en, de"
        assert await page.input_value("#rule-max-age") == "36h"

        # switched off and emptied: the PUT clears them; "off" is no age limit at all
        await page.uncheck("#rule-spike-on")
        await page.fill("#rule-languages", "")
        await page.fill("#rule-max-age", "off")
        await page.click("#save-rule")
        await saved_as(base, "ports", spike=None, languages=[], max_age=0.0)
        await page.wait_for_selector("#save-status:has-text('Saved.')")
        assert await page.input_value("#rule-max-age") == "off"
        await page.fill("#rule-max-age", "")
        await page.click("#save-rule")
        await saved_as(base, "ports", max_age=None)
        assert not seen, seen


def hostile_body(slug: str) -> str:
    return json.loads((PAGES / f"{slug}.expected.json").read_text())["text"] + "\n" + HOSTILE_BODY


async def test_hostile_titles_and_snippets_stay_inert(
        tmp_path: Path, news: NewsServer, hook: WebhookReceiver, sites: Sites,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    sites.own.append(("hostile", HOSTILE_TITLE, hostile_body("teen-sleep-study")))
    async with workspace_daemon(tmp_path, news, hook, sites) as (base, daemon):
        async with httpx.AsyncClient(base_url=base, trust_env=False) as ed:
            await sign_in(ed, "ed")
            made = await ed.post("/api/rules", headers={"X-CSRF-Token": await csrf(ed)},
                                 json={"name": HOSTILE_TITLE, "query": "tariff",
                                       "channels": ["hook"]})
            assert made.status_code == 201, made.text
        sites.own.append(("hostile2", HOSTILE_TITLE + " again",
                          hostile_body("appeals-court-age-verification")))
        await poll(daemon)
        async with chromium(tmp_path) as (page, seen):
            await open_signed_in(page, base)
            await page.locator("#rules .rule-name", has_text=HOSTILE_TITLE).click()
            await page.wait_for_selector("#preview-count[data-count='2']")
            story = page.locator("#stories .story", has_text=HOSTILE_TITLE).first
            await story.wait_for()
            assert await page.locator("#preview-hits h4", has_text=HOSTILE_TITLE).count() == 2
            snippet = page.locator("#preview-hits q.snippet").first
            assert "<script>" in await snippet.inner_text()
            assert await page.locator("#stories .chip-rule",
                                      has_text=HOSTILE_TITLE).count() >= 1
            assert await page.evaluate("window.pwned === undefined")
            assert await page.evaluate("document.scripts.length") == 1  # its own file
            for where in ("#stories", "#preview-hits", "#rules", "#rule-panel"):
                assert await page.locator(f"{where} img").count() == 0, where
                assert await page.locator(f"{where} script").count() == 0, where
            await page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)

            # a viewer reads the same page without the write buttons
            await page.click("#signout")
            await page.locator("#signin").wait_for()
            await open_signed_in(page, base, "vi")
            await story.wait_for()
            assert await page.locator("#stories button.triage").count() == 0
            assert not await page.locator("#save-rule").is_visible()
            assert not [s for s in seen if s.startswith(("dialog", "pageerror"))], seen
            assert not [s for s in seen if re.search("Trusted|Content Security", s)], seen
