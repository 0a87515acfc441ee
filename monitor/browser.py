"""Rendering JavaScript-only pages in Debian's Chromium, every request through the fetcher.

``Renderer.render(url)`` loads ``url`` in headless Chromium (``/usr/bin/chromium``, driven
by Playwright, the optional extra ``monitor[browser]``; Playwright's own browser download
is never used) and returns the DOM after its scripts ran, serialised, as a FetchResult;
the caller extracts it as any page. Raises FetchError subclasses as ``Fetcher.fetch``
does, and FetchUnusable (reason ``browser``) when Playwright or Chromium is missing.

Decisions: Chromium itself connects nowhere. Every request a page makes (the document,
its scripts, their XHR/fetch calls, workers) is intercepted (``context.route``) and
sent by the project's :class:`~monitor.fetch.Fetcher`, so the SSRF guard (addresses
checked when resolved, redirects hop by hop), byte caps, per-host limits, Retry-After and
the source's headers and cookies apply to the browser's requests exactly as to the
daemon's; a refused request is aborted in the page (``blockedbyclient``) and logged as
``event=browser_blocked``. Only GET and HEAD go out (a monitor reads; it never posts a
form), at most ``MAX_REQUESTS`` a page; images, media, fonts and stylesheets are not
fetched at all (the text needs none); web sockets are closed; service workers are
blocked; and Chromium's own network (should anything escape the route) goes to a dead
proxy on loopback. At most ``pages`` pages render at once, each in a fresh browser
context (no cookies or storage shared between pages) under a ``deadline`` for the whole
page; the browser starts on first use and is started again if it died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from monitor.errors import FetchBlocked, FetchError, FetchHTTPStatus, FetchTimeout, FetchUnusable
from monitor.models import FetchResult, RequestOptions

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright, Request, Route, WebSocketRoute

log = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-extensions",
                 "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
                 "--proxy-bypass-list=<-loopback>", "--js-flags=--max-old-space-size=256"]
DEAD_PROXY = "http://127.0.0.1:9"  # discard port: nothing that escapes the route goes out
SKIPPED_TYPES = frozenset({"image", "media", "font", "stylesheet"})
_DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding",
                              "set-cookie", "connection"})
SETTLE = 2.0  # seconds to wait for the network to go quiet after load, within the deadline
MAX_REQUESTS = 200  # requests one page may make; the rest are aborted


@dataclass
class _Page:
    """What one page's requests found: its document (the first navigation) or why not."""

    document: FetchResult | None = None
    error: FetchError | None = None
    requests: int = 0


class PageFetcher(Protocol):
    """What the renderer needs of ``monitor.fetch.Fetcher``."""

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                    trusted: bool = False, allow_private: bool | None = None,
                    html_only: bool = False, max_bytes: int | None = None,
                    options: RequestOptions | None = None) -> FetchResult: ...


class Renderer:
    """Renders pages in one shared headless Chromium, ``pages`` at a time."""

    def __init__(self, fetcher: PageFetcher, *, pages: int = 2, deadline: float = 30.0,
                 chromium: str = CHROMIUM, max_bytes: int = 5_000_000) -> None:
        self.fetcher, self.deadline, self.chromium = fetcher, deadline, chromium
        self.max_bytes = max_bytes
        self.pages = pages
        self.blocked: list[str] = []  # the URLs refused in pages so far (the newest 100)
        self._gate: asyncio.Semaphore | None = None
        self._lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    async def render(self, url: str, *, allow_private: bool | None = None,
                     options: RequestOptions | None = None) -> FetchResult:
        """The page at ``url`` after its scripts ran, as HTML bytes."""
        self._gate = self._gate or asyncio.Semaphore(self.pages)
        async with self._gate:
            browser = await self._start()
            started = time.monotonic()
            context = await browser.new_context(service_workers="block",
                                                java_script_enabled=True)
            try:
                async with asyncio.timeout(self.deadline):
                    result = await self._load(context, url, allow_private, options)
            except TimeoutError as e:
                raise FetchTimeout(f"browser: page not rendered within {self.deadline:g}s",
                                   url) from e
            finally:
                await context.close()
        log.debug("event=browser_render url=%s bytes=%d duration_ms=%d", result.url,
                  len(result.content), (time.monotonic() - started) * 1000)
        return result

    async def _load(self, context: Any, url: str, allow_private: bool | None,
                    options: RequestOptions | None) -> FetchResult:
        state = _Page()

        async def handle(route: Route, request: Request) -> None:
            await self._route(route, request, allow_private, options, state)

        await context.route("**/*", handle)
        await context.route_web_socket("**/*", _close_socket)
        page = await context.new_page()
        try:
            await page.goto(url, wait_until="load", timeout=0)  # the deadline is ours
        except Exception as e:  # Playwright's Error: the document itself failed
            raise state.error or FetchUnusable(f"browser: {_first_line(e)}", url,
                                               reason="browser") from e
        if state.document is None:
            raise state.error or FetchUnusable("browser: the page did not load", url,
                                               reason="browser")
        with contextlib.suppress(Exception):  # a page that never goes quiet is read as it is
            await page.wait_for_load_state("networkidle", timeout=SETTLE * 1000)
        html = await page.content()
        first = state.document
        return FetchResult(url=first.url, status=first.status, content=html.encode("utf-8"),
                           content_type="text/html; charset=utf-8")

    async def _route(self, route: Route, request: Request, allow_private: bool | None,
                     options: RequestOptions | None, state: _Page) -> None:
        url, navigation = request.url, request.is_navigation_request()
        state.requests += 1
        if (request.method not in ("GET", "HEAD") or request.resource_type in SKIPPED_TYPES
                or state.requests > MAX_REQUESTS):
            await route.abort("blockedbyclient")
            return
        try:
            result = await self.fetcher.fetch(url, allow_private=allow_private,
                                              html_only=navigation, options=options,
                                              max_bytes=self.max_bytes)
        except FetchBlocked as e:
            self._note_blocked(url, e)
            if navigation and state.document is None:
                state.error = state.error or e
            await route.abort("blockedbyclient")
            return
        except FetchHTTPStatus as e:
            await route.fulfill(status=e.status, body=b"")
            return
        except FetchError as e:
            if navigation and state.document is None:
                state.error = state.error or e
            await route.abort("failed")
            return
        if navigation and state.document is None:
            state.document = result
        headers = {k: v for k, v in result.headers if k.lower() not in _DROPPED_HEADERS}
        await route.fulfill(status=result.status, headers=headers, body=result.content)

    def _note_blocked(self, url: str, error: FetchBlocked) -> None:
        self.blocked = [*self.blocked[-99:], url]
        log.info("event=browser_blocked url=%s reason=%r", _loggable(url), str(error))

    async def _start(self) -> Browser:
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            await self._stop()
            if not Path(self.chromium).exists():
                raise FetchUnusable(f"browser rendering needs Chromium at {self.chromium} "
                                    "(apt-get install chromium)", reason="browser")
            try:
                from playwright.async_api import async_playwright
            except ImportError as e:
                raise FetchUnusable("browser rendering needs Playwright: pip install "
                                    "'monitor[browser]'", reason="browser") from e
            self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(
                executable_path=self.chromium, headless=True, args=CHROMIUM_ARGS,
                proxy={"server": DEAD_PROXY})
            return self._browser

    async def _stop(self) -> None:
        browser, playwright, self._browser, self._playwright = (self._browser, self._playwright,
                                                                None, None)
        with contextlib.suppress(Exception):  # a browser already gone
            if browser is not None:
                await browser.close()
        with contextlib.suppress(Exception):
            if playwright is not None:
                await playwright.stop()

    async def aclose(self) -> None:
        """Close the browser (a later ``render`` starts it again)."""
        async with self._lock:
            await self._stop()


async def _close_socket(ws: WebSocketRoute) -> None:
    await ws.close(code=1008, reason="blocked")


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def _loggable(url: str) -> str:
    return url.split("?", 1)[0].split("#", 1)[0]


__all__ = ["CHROMIUM", "PageFetcher", "Renderer"]
