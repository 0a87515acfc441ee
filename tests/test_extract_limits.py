"""Extraction has a deadline and a memory bound (issue 16, item 3).

Two 2 MB pages of ``<p>x</p>`` (under the byte cap; trafilatura works on each for about
half a minute and some 400 MB) used to hold the extraction pool, and with it every good
page, for minutes. Now a page over ``extract_timeout`` or ``extract_memory_mb`` raises
ExtractError, its worker is killed and replaced, and the other workers go on; the pipeline
falls back to the feed item's text and says so once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from pathlib import Path

import pytest
from aiohttp import web

from monitor.config import load_config
from monitor.daemon import Daemon, load
from monitor.errors import ConfigError, ExtractError
from monitor.extract import Extractor
from monitor.extractpool import OutOfMemory, WorkerPool
from monitor.testing import SeedArticle, WebhookReceiver, article_page, load_seeds, rss
from tests.conftest import ServeApp
from tests.helpers import SECRET, write_config

PAGES = Path(__file__).parent / "data" / "pages"
BAD = b"<html><body>" + b"<p>x</p>" * 250_000 + b"</body></html>"  # 2 MB
SLACK = 15.0  # generous: the machine may be busy; a bad page alone takes ~30 s


def good_pages() -> list[tuple[str, bytes]]:
    return [(p.stem, p.read_bytes()) for p in sorted(PAGES.glob("*.html"))[:4]]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def timed(coro: asyncio.Future[object] | object) -> tuple[float, object]:
    try:
        result: object = await coro  # type: ignore[misc]
    except ExtractError as e:
        result = e
    return time.monotonic(), result


async def test_a_slow_page_holds_up_only_its_own_worker() -> None:
    extractor = Extractor(workers=2, deadline=6.0)
    try:
        await extractor.extract(good_pages()[0][1], "https://news.example/warm")
        started = time.monotonic()
        bad = asyncio.ensure_future(timed(extractor.extract(BAD, "https://news.example/bad")))
        await asyncio.sleep(0.5)
        stuck = set(extractor.worker_pids())
        goods = [await timed(extractor.extract(body, f"https://news.example/{slug}"))
                 for slug, body in good_pages()]
        failed_at, error = await bad
        assert isinstance(error, ExtractError) and "still running after 6s" in str(error)
        assert failed_at - started < 6.0 + SLACK
        assert all(not isinstance(a, ExtractError) for _, a in goods)
        assert max(t for t, _ in goods) < failed_at  # served while the bad page ran
        killed = stuck - set(extractor.worker_pids())
        assert len(killed) == 1 and not any(map(alive, killed))
        after = await asyncio.gather(*(extractor.extract(body, f"https://news.example/{slug}")
                                       for slug, body in good_pages()[:2]))
        assert all(a.text for a in after)  # on the surviving worker and a fresh one
        assert len(extractor.worker_pids()) == 2 and not killed & set(extractor.worker_pids())
    finally:
        extractor.close()


async def test_two_slow_pages_delay_good_ones_by_at_most_the_deadline() -> None:
    extractor = Extractor(workers=2, deadline=2.0)
    try:
        await extractor.extract(good_pages()[0][1], "https://news.example/warm")
        started = time.monotonic()
        results = await asyncio.gather(
            *(timed(extractor.extract(BAD, f"https://news.example/bad{i}")) for i in range(2)),
            *(timed(extractor.extract(body, f"https://news.example/{slug}"))
              for slug, body in good_pages()))
        bad, good = results[:2], results[2:]
        assert all(isinstance(e, ExtractError) and "still running" in str(e) for _, e in bad)
        assert all(not isinstance(a, ExtractError) for _, a in good)
        assert max(t for t, _ in results) - started < 2.0 + SLACK
        article = await extractor.extract(good_pages()[2][1], "https://news.example/after")
        assert article.text
    finally:
        extractor.close()


async def test_a_call_over_the_memory_bound_fails_and_its_worker_is_replaced() -> None:
    pool: WorkerPool[int] = WorkerPool(1, deadline=60, memory_mb=128)
    allocate = functools.partial(eval, "len(bytes({} * 2**20))")  # in the worker, in MB
    try:
        assert await pool.run(functools.partial(eval, "1 + 1")) == 2
        (before,) = pool.pids()
        with pytest.raises(OutOfMemory, match="needed more than 128 MB"):
            await pool.run(functools.partial(eval, allocate.args[0].format(512)))
        assert not alive(before)
        assert await pool.run(functools.partial(eval, allocate.args[0].format(64))) == 64 * 2**20
        assert pool.pids() and pool.pids() != (before,)
        with pytest.raises(OutOfMemory):  # a call too large to be received, likewise
            await pool.run(functools.partial(len, b"x" * (256 * 2**20)))
        assert await pool.run(functools.partial(eval, "2 + 2")) == 4
    finally:
        pool.close()


async def test_a_page_over_the_memory_bound_raises_extract_error() -> None:
    extractor = Extractor(workers=1, deadline=60, memory_mb=64)
    try:
        started = time.monotonic()
        with pytest.raises(ExtractError):
            await extractor.extract(BAD, "https://news.example/bad")
        assert time.monotonic() - started < SLACK  # without the bound: ~30 s, then text
        slug, body = good_pages()[0]
        assert (await extractor.extract(body, f"https://news.example/{slug}")).text
    finally:
        extractor.close()


async def test_the_pipeline_falls_back_to_the_feed_text_and_says_so_once(
        tmp_path: Path, serve_app: ServeApp, hook: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    seed = load_seeds()[0]
    huge = [SeedArticle(f"huge-{i}", f"Huge page {i}", seed.date,
                        "A supply chain risk, in the feed's own words.") for i in range(2)]
    articles = [*huge, seed]
    base = ""

    async def feed(request: web.Request) -> web.Response:
        return web.Response(text=rss(base, articles), content_type="application/rss+xml")

    async def page(request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        body = BAD if slug.startswith("huge") else article_page(seed).encode()
        return web.Response(body=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/feed.xml", feed)
    app.router.add_get("/articles/{slug}.html", page)
    base = await serve_app(app)
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    feeds = f'[[feeds]]\nname = "Slow News"\nurl = "{base}/feed.xml"\n'
    path = write_config(tmp_path, None, None, hook, feeds=feeds,  # type: ignore[arg-type]
                        extra_monitor='extract_timeout = "2s"')
    caplog.set_level(logging.WARNING, logger="monitor.pipeline")
    daemon = Daemon(load(str(path)), str(path))
    try:
        started = time.monotonic()
        await daemon.run_once()
        assert time.monotonic() - started < 2.0 + 2 * SLACK
    finally:
        await daemon.close()
    bodies = {b["article"]["title"]: b for b in hook.bodies()}
    assert set(bodies) == {"Huge page 0", "Huge page 1", seed.title}
    fallbacks = [r.getMessage() for r in caplog.records if "event=article_fallback" in
                 r.getMessage()]
    assert sorted(m.split(" url=")[1].split()[0] for m in fallbacks) == [
        f"{base}/articles/huge-0.html", f"{base}/articles/huge-1.html"]
    assert all("still running after 2s" in m for m in fallbacks)


def test_the_limits_are_config_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    feed = '[[feeds]]\nurl = "https://example.org/rss"\n'
    path.write_text('[monitor]\nextract_timeout = "45s"\nextract_memory_mb = 512\n' + feed)
    monitor = load_config(path).monitor
    assert (monitor.extract_timeout, monitor.extract_memory_mb) == (45.0, 512)
    path.write_text("[monitor]\nextract_memory_mb = 64\n" + feed)
    with pytest.raises(ConfigError, match="monitor.extract_memory_mb: must be at least 128"):
        load_config(path)


async def test_workers_leave_out_the_language_detector_and_numpy() -> None:
    # trafilatura would import py3langid (and numpy's ~80 MB of thread-pool mappings, which
    # count against RLIMIT_DATA); the daemon detects languages itself, never in a worker
    pool: WorkerPool[list[str]] = WorkerPool(
        1, deadline=60, memory_mb=1024, preload=["monitor.extractprelude", "monitor.extract"])
    loaded = functools.partial(eval, "[m for m in ('trafilatura', 'py3langid', 'numpy') "
                                     "if __import__('sys').modules.get(m)]")
    try:
        assert await pool.run(loaded) == ["trafilatura"]
    finally:
        pool.close()
