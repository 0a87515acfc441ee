"""Per-rule Atom feeds and spikes: ``/rules/{id}/feed.atom?token=T`` (the rule's newest
hits, for any feed reader), ``/api/rules/{id}/feed`` (that URL, token included) and
``/api/rules/{id}/spikes`` (the spikes raised, for the rule's chart).

The token is the credential of the feed URL, so the feed needs no bearer token or sign-in
(``FEED_PATH`` is open in ``monitor.web.security``; Host checks still apply): an
HMAC-SHA256 of the rule id under one random secret in the database (made on first use,
shared by every node), so it reads one rule's feed and nothing else. A wrong or missing
token is 404, as an unknown rule is: the answer never says whether the rule exists. The
XML is built with ``xml.etree`` (feed text is always character data, never markup), with
the characters XML 1.0 cannot hold dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from monitor import timeutil
from monitor.store import HitRow, RuleRow, Store
from monitor.web.stories import best_snippet

log = logging.getLogger(__name__)

FEED_PATH = re.compile(r"/rules/[0-9]{1,9}/feed\.atom")
"""The feed's path: open without the dashboard's token (its own token is in the query)."""
FEED_ENTRIES = 50
SUMMARY_CHARS = 300  # of the article's text, when no snippet is stored
ATOM = "http://www.w3.org/2005/Atom"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def feed_token(secret: bytes, rule_id: int) -> str:
    """The read-only token of rule ``rule_id``'s feed."""
    return hmac.new(secret, f"rule-feed:{rule_id}".encode(), hashlib.sha256).hexdigest()


def feed_url(store: Store, rule_id: int) -> str:
    """The path (and token) of rule ``rule_id``'s feed."""
    return f"/rules/{rule_id}/feed.atom?token={feed_token(store.feed_secret(), rule_id)}"


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (controls, lone surrogates)."""
    return _NOT_XML.sub("", text)


def summary_text(hit: HitRow) -> str:
    """The hit's best snippet (as the story view picks it), else its text's start."""
    found = best_snippet(hit.terms)
    if found is not None:
        return found.text
    text = " ".join(hit.article.text.split())
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS].rstrip() + "…"


def atom_feed(rule: RuleRow, hits: list[HitRow], self_url: str, now: datetime) -> bytes:
    """The Atom 1.0 document of ``rule``'s ``hits`` (newest first)."""
    feed = ET.Element("feed", {"xmlns": ATOM})
    created = (rule.created_at or now).date().isoformat()
    _add(feed, "id", f"tag:monitor,{created}:rule/{rule.id}")
    _add(feed, "title", f"monitor: {rule.name}", type="text")
    _add(feed, "updated", timeutil.iso(hits[0].first_seen if hits else now))
    ET.SubElement(feed, "link", rel="self", href=xml_text(self_url))
    ET.SubElement(ET.SubElement(feed, "author"), "name").text = "monitor"
    _add(feed, "generator", "monitor")
    for hit in hits:
        entry = ET.SubElement(feed, "entry")
        _add(entry, "id", f"tag:monitor,{hit.first_seen.date().isoformat()}:"
                          f"rule/{rule.id}/hit/{hit.id}")
        _add(entry, "title", hit.article.title or hit.article.url, type="text")
        if _web_link(hit.article.url):
            ET.SubElement(entry, "link", rel="alternate", href=xml_text(hit.article.url))
        _add(entry, "published", timeutil.iso(hit.article.published or hit.first_seen))
        _add(entry, "updated", timeutil.iso(hit.first_seen))
        if hit.article.source:
            _add(entry, "category", None, term=hit.article.source)
        _add(entry, "summary", summary_text(hit), type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


def _add(parent: ET.Element, tag: str, text: str | None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def _web_link(url: str) -> bool:
    try:
        return urlsplit(url).scheme.lower() in ("http", "https")
    except ValueError:
        return False


def _rule_id(request: Request) -> int:
    text = str(request.path_params.get("rule_id", ""))
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else 0


_NOT_FOUND = {"error": "not found"}


class RuleFeeds:
    """The handlers (plain functions: Starlette runs them, and their reads, in a thread)."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def atom(self, request: Request) -> Response:
        rule_id = _rule_id(request)
        given = request.query_params.get("token", "")
        expected = feed_token(self.store.feed_secret(), rule_id) if rule_id else ""
        rule = self.store.rule_by_id(rule_id) if rule_id else None
        if not (expected and hmac.compare_digest(given.encode(), expected.encode())
                and rule is not None):
            log.warning("event=rule_feed_refused path=%s client=%s", request.url.path,
                        (request.client.host if request.client else "-"))
            return Response("not found\n", status_code=404, media_type="text/plain")
        body = atom_feed(rule, self.store.rule_hits(rule_id, FEED_ENTRIES), str(request.url),
                         self.clock())
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    def url(self, request: Request) -> Response:
        rule_id = _rule_id(request)
        if not rule_id or self.store.rule_by_id(rule_id) is None:
            return JSONResponse(_NOT_FOUND, status_code=404)
        return JSONResponse({"url": feed_url(self.store, rule_id)})

    def spikes(self, request: Request) -> Response:
        rule_id = _rule_id(request)
        if not rule_id or self.store.rule_by_id(rule_id) is None:
            return JSONResponse(_NOT_FOUND, status_code=404)
        text = request.query_params.get("days", "")
        days = min(366, max(1, int(text))) if (
            text.isascii() and text.isdigit() and len(text) < 5) else 30
        found = self.store.spikes(rule_id, self.clock() - timedelta(days=days))
        return JSONResponse({"rule_id": rule_id, "spikes": [
            {"hour": timeutil.iso(s.hour), "count": s.count, "baseline": s.baseline}
            for s in found]})


def routes(store: Store, clock: Callable[[], datetime]) -> list[Route]:
    """The feed, its URL and the spikes, as Starlette routes."""
    feeds = RuleFeeds(store, clock)
    return [Route("/rules/{rule_id}/feed.atom", feeds.atom, methods=["GET"]),
            Route("/api/rules/{rule_id}/feed", feeds.url, methods=["GET"]),
            Route("/api/rules/{rule_id}/spikes", feeds.spikes, methods=["GET"])]
