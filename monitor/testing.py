"""Test and demo support: the seed articles and local servers on 127.0.0.1.

Nothing the daemon runs imports this module; ``monitor demo`` and the tests do
(tests/test_layers.py keeps it that way). It holds:

- ``load_seeds`` and ``SeedArticle``: the articles of ``seeds/`` (a source checkout),
  with ``article_page`` and ``rss`` to render them as a news site would;
- ``NewsServer``: ``/feed.xml`` (with ETag/304) and the article pages;
- ``MailServer``: an aiosmtpd SMTP server that keeps the messages it receives;
- ``WebhookReceiver``: a webhook endpoint that keeps every request and answers the statuses
  it is scripted to;
- ``start_app``: serve an aiohttp application on a free loopback port.
"""

from __future__ import annotations

import email
import email.policy
import html
import json
import socket
from dataclasses import dataclass, field
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from sqlalchemy import event
from sqlalchemy.engine import Engine

from monitor.timeutil import parse_iso

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_ARTICLE = "ap-2026-02-26-anthropic-pentagon.txt"
SEED_TITLE = "Anthropic says it cannot in good conscience accede to Pentagon's demands"


@dataclass(frozen=True, slots=True)
class SeedArticle:
    """One article of seeds/, as the demo serves it."""

    slug: str
    title: str
    date: str
    body: str


def load_seeds(seeds: Path = SEEDS) -> list[SeedArticle]:
    """The seed article and the demo articles, in feed order."""
    # the seed's first line is " date YYYY-MM-DD" followed by the first paragraph
    _, date, text = (seeds / SEED_ARTICLE).read_text(encoding="utf-8").split(maxsplit=2)
    out = [SeedArticle("anthropic-pentagon", SEED_TITLE, date, text.strip())]
    for path in sorted((seeds / "articles").glob("*.txt")):
        head, date, *body = path.read_text(encoding="utf-8").splitlines()
        out.append(SeedArticle(path.stem, head.removeprefix("title:").strip(),
                               date.removeprefix("date:").strip(), "\n".join(body).strip()))
    return out


def article_page(a: SeedArticle) -> str:
    """A news page around the article, with the boilerplate real sites have."""
    paragraphs = "\n".join(f"<p>{html.escape(p)}</p>" for p in a.body.split("\n") if p.strip())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(a.title)} | Demo News</title>
<meta property="og:title" content="{html.escape(a.title)}">
<meta name="author" content="Demo News staff">
<meta property="article:published_time" content="{a.date}T12:00:00Z"></head>
<body><header><nav><a href="/">Home</a> <a href="/world">World</a>
<a href="/business">Business</a> <a href="/subscribe">Subscribe</a></nav></header>
<main><article><h1>{html.escape(a.title)}</h1>
<p class="byline">By Demo News staff, {a.date}</p>
{paragraphs}
</article></main>
<aside><h2>Most read</h2><ul><li><a href="/x">Weather turns cold</a></li></ul></aside>
<footer><p>Copyright 2026 Demo News. All rights reserved.</p></footer></body></html>"""


def rss(base: str, articles: list[SeedArticle]) -> str:
    """An RSS 2.0 feed of ``articles`` served under ``base``."""
    items = "".join(
        f"<item><title>{html.escape(a.title)}</title><link>{base}/articles/{a.slug}.html</link>"
        f"<guid>{base}/articles/{a.slug}.html</guid>"
        f"<pubDate>{format_datetime(parse_iso(a.date))}"
        f"</pubDate><description>{html.escape(a.body[:200])}</description></item>"
        for a in articles)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Demo News</title><link>{base}/</link><description>demo</description>"
            f"{items}</channel></rss>")


async def start_app(app: web.Application, port: int = 0,
                    **options: Any) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on 127.0.0.1 (a free port unless ``port``); return the runner and port."""
    runner = web.AppRunner(app, access_log=None, **options)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


class NewsServer:
    """A local news site: ``/feed.xml`` (with ETag/304) and ``/articles/<slug>.html``."""

    def __init__(self, articles: list[SeedArticle] | None = None) -> None:
        self.articles = list(articles if articles is not None else load_seeds())
        self.requests: list[str] = []
        self.statuses: list[int] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> NewsServer:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_get("/feed.xml", self._feed)
        app.router.add_get("/articles/{slug}.html", self._article)
        self.runner, self.port = await start_app(app)
        return self

    async def stop(self) -> None:
        """Close the server."""
        if self.runner:
            await self.runner.cleanup()

    async def _feed(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        body = rss(self.base, self.articles)
        etag = f'"{abs(hash(body)):x}"'
        status = 304 if request.headers.get("If-None-Match") == etag else 200
        self.statuses.append(status)
        if status == 304:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body.encode(), content_type="application/rss+xml",
                            headers={"ETag": etag})

    async def _article(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        slug = request.match_info["slug"]
        found = next((a for a in self.articles if a.slug == slug), None)
        if found is None:
            raise web.HTTPNotFound()
        return web.Response(text=article_page(found), content_type="text/html")


class _Collect:
    def __init__(self, box: list[email.message.EmailMessage]) -> None:
        self.box = box
        self.reply: str | None = None  # set to e.g. "451 try later" to refuse

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.reply:
            return self.reply
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.box.append(msg)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MailServer:
    """An aiosmtpd server on 127.0.0.1 that keeps what it receives."""

    port: int = 0
    messages: list[email.message.EmailMessage] = field(default_factory=list)

    def start(self) -> MailServer:
        """Listen (on a free port unless ``port`` is set)."""
        self.handler = _Collect(self.messages)
        self.port = self.port or _free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        self.port = self.controller.port
        return self

    def stop(self) -> None:
        """Stop listening."""
        self.controller.stop()


@dataclass
class WebhookReceiver:
    """A webhook endpoint on 127.0.0.1 that keeps every request; ``script`` sets statuses."""

    script: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        """Where to POST."""
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> WebhookReceiver:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self.runner, self.port = await start_app(app, self.port)
        return self

    async def stop(self) -> None:
        """Close the server."""
        await self.runner.cleanup()

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(({k.lower(): v for k, v in request.headers.items()}, body))
        status = self.script.pop(0) if self.script else 200
        return web.Response(status=status, text="ok")

    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies received (every attempt, in order)."""
        return [json.loads(body) for _, body in self.received]


def count_state_commits(engine: Engine) -> list[int]:
    """A list that gains one item per committed transaction that updated a feed's row
    (how the poll-batching tests and ``bench/poll.py --store`` count state commits)."""
    commits: list[int] = []

    def executed(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE FEEDS"):
            conn.info["feeds_written"] = True

    def committed(conn: Any) -> None:
        if conn.info.pop("feeds_written", False):
            commits.append(1)

    event.listen(engine, "before_cursor_execute", executed)
    event.listen(engine, "commit", committed)
    return commits
