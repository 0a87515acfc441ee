"""``monitor demo``: the whole pipeline on local servers, with no network at all.

It serves ``seeds/`` as an RSS feed and HTML article pages on 127.0.0.1, starts an SMTP
server (aiosmtpd) and a webhook receiver, runs one cycle with ``config/demo.toml`` and
prints what each receiver got. The servers live in ``monitor.testing``, shared with the
end-to-end tests.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import tempfile
from pathlib import Path

from monitor.testing import MailServer, NewsServer, WebhookReceiver

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo.toml"
DEMO_SECRET = "whsec_ZGVtby1zZWNyZXQtZm9yLW1vbml0b3I="


def demo_config(news: NewsServer, mail: MailServer, hook: WebhookReceiver, db: Path) -> str:
    """config/demo.toml with the local servers' ports and a temporary database."""
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    return (text.replace("http://127.0.0.1:8765", news.base)
            .replace("http://127.0.0.1:8766/hook", hook.url)
            .replace("smtp_port = 8825", f"smtp_port = {mail.port}")
            .replace("sqlite:///demo.db", f"sqlite:///{db}"))


async def run_demo() -> int:
    """Serve, poll once, deliver, print what the receivers got."""
    from monitor.daemon import run_daemon

    logging.getLogger("mail.log").setLevel(logging.WARNING)

    news, hook = await NewsServer().start(), await WebhookReceiver().start()
    mail = MailServer().start()
    os.environ.setdefault("MONITOR_DEMO_WEBHOOK_SECRET", DEMO_SECRET)
    try:
        with tempfile.TemporaryDirectory(prefix="monitor-demo-") as tmp:
            path = Path(tmp) / "demo.toml"
            path.write_text(demo_config(news, mail, hook, Path(tmp) / "demo.db"))
            await run_daemon(str(path), once=True)
        await asyncio.sleep(0.2)
        _print_received(mail, hook)
        alerted = {b["article"]["title"] for b in hook.bodies()}
        quiet = [a.title for a in news.articles if a.title not in alerted]
        print(f"\n== no alert for {len(quiet)} other article(s) in the feed:")
        for title in quiet:
            print(f"  {title}")
    finally:
        mail.stop()
        await news.stop()
        await hook.stop()
    return 0


def _print_received(mail: MailServer, hook: WebhookReceiver) -> None:
    print(f"\n== email: {len(mail.messages)} message(s) received by the local SMTP server")
    for msg in mail.messages:
        print(f"  Subject: {msg['Subject']}")
        part = msg.get_body(("plain",))
        lines = part.get_content().splitlines() if part is not None else []
        for line in [ln for ln in lines if "**" in ln][:2]:
            print(f"    {line.strip()}")
    print(f"\n== webhook: {len(hook.received)} POST(s) received by the local webhook receiver")
    for body in hook.bodies():
        print(f"  rule: {body['rule']['name']}   article: {body['article']['title']}")
        for m in body["matches"]:
            for snippet in m["snippets"][:1]:
                marked = re.sub(re.escape(m["term"]).replace(r"\ ", r"[\s-]+"),
                                lambda hit: f"**{hit.group(0)}**", snippet, flags=re.I)
                print(f"    [{m['term']} x{m['count']}] {marked}")
