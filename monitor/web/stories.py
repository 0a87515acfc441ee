"""``GET /api/stories``: one item per story some rule hit, newest first (issue 15).

Query parameters, all optional: ``rule`` (a rule id), ``feed`` (a feed's name), ``tag`` (a
feed tag of the running config: its feeds), ``state`` (new | relevant | dismissed | muted:
stories with a hit in it), ``since`` and ``until`` (ISO date or datetime, on the story's
latest hit's ``first_seen``; a date ``until`` takes the whole day), ``q`` (words: a story
with a copy having each of them, ``word*`` a prefix; ``text_words``), ``limit`` (20, at most 100),
``before`` (the ``next`` cursor of the page before), ``after`` (ISO datetime: only
stories with a hit first seen after it: the dashboard polls with the last ``newest``). A
bad value is 400, one line.

Each story shows its best snippet once: of all the snippets its hits' matches kept, each
marked with every word any of them marks (each rule marks only its own terms), the one
highlighting the most distinct words (then the most marks, then the first).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from monitor import timeutil
from monitor.alerts.render import highlight_html
from monitor.backtest import CATCH_UP
from monitor.config import Config
from monitor.errors import QueryError
from monitor.models import Snippet, TermHit
from monitor.rules import Rule, article_terms, compile_rules, prefilter
from monitor.rules.lemmas import DEFAULT_LANGUAGE
from monitor.store import HIT_STATES, Store, Story, StoryCopy, StoryFilter, StoryHit

log = logging.getLogger(__name__)

LIMIT, LIMIT_MAX = 20, 100
DASHBOARD_STORIES = 20
"""The dashboard's stories section shows this many, newest first."""
WORDS_MAX = 50  # marked words looked for in each candidate snippet
Q_WORDS = 8
"""Words a text filter may have (each is one clause of the full-text query)."""
_WORD = re.compile(r"([^\W_]+)(\*?)")


def hit_json(hit: StoryHit) -> dict[str, Any]:
    """A hit as the stories and triage APIs show it."""
    return {"hit_id": hit.id, "rule_id": hit.rule_id, "rule": hit.rule, "state": hit.state,
            "note": hit.note}


def _copy_json(c: StoryCopy) -> dict[str, Any]:
    return {"article_id": c.id, "url": c.url, "source": c.source, "title": c.title,
            "first_seen": timeutil.iso(c.first_seen)}


def best_snippet(terms: tuple[TermHit, ...]) -> Snippet | None:
    """The snippet that highlights the most distinct words, every rule's hits marked.

    A rule's snippet marks only its own terms; here each candidate also gets a mark on
    every whole-word occurrence of a word another snippet of the story marked."""
    texts: dict[str, set[tuple[int, int]]] = {}
    for term in terms:
        for snippet in term.snippets:
            texts.setdefault(snippet.text, set()).update(snippet.marks)
    words = sorted({text[s:e].casefold() for text, marks in texts.items() for s, e in marks
                    if text[s:e].strip()}, key=len, reverse=True)[:WORDS_MAX]
    pattern = (re.compile("|".join(rf"(?<!\w){re.escape(w)}(?!\w)" for w in words),
                          re.IGNORECASE) if words else None)
    best: tuple[int, int] | None = None
    found = None
    for text, marks in texts.items():
        more = {m.span() for m in pattern.finditer(text)} if pattern else set()
        spans = _disjoint(sorted(marks | more))
        score = (len({text[s:e].casefold() for s, e in spans}), len(spans))
        if best is None or score > best:
            best, found = score, Snippet(text, tuple(spans))
    return found


def _disjoint(marks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted marks with overlapping ones joined."""
    out: list[tuple[int, int]] = []
    for start, end in marks:
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def story_json(story: Story) -> dict[str, Any]:
    snippet = best_snippet(story.terms)
    lead = story.lead
    return {
        "story_id": story.id, "title": lead.title, "url": lead.url, "source": lead.source,
        "feed": lead.feed, "first_seen": timeutil.iso(story.first_seen),
        "last_seen": timeutil.iso(story.last_seen),
        "rules": [hit_json(h) for h in story.hits], "outlets": story.outlets,
        "copies": [_copy_json(c) for c in story.copies],
        "snippet": ({"text": snippet.text,
                     "html": str(highlight_html(snippet))} if snippet is not None
                    else {"text": "", "html": ""}),
    }


def dashboard_stories(store: Store, limit: int = DASHBOARD_STORIES
                      ) -> list[tuple[Story, Snippet | None]]:
    """The newest stories for the dashboard's cards, each with its best snippet: the
    same page and snippet ``GET /api/stories`` gives without filters."""
    page, _ = store.stories(StoryFilter(), limit)
    return [(story, best_snippet(story.terms)) for story in page]


def parse_when(text: str, name: str, end_of_day: bool = False) -> datetime:
    """An ISO date or datetime (UTC when it names no zone); a date ``end_of_day`` is the
    start of the day after it."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end_of_day else start
        return timeutil.parse_iso(text)
    except ValueError as e:
        raise ValueError(f"{name}: expected an ISO date or datetime, got {text[:40]!r}") from e


def cursor(story: Story) -> str:
    """The opaque ``next`` of a page ending with ``story``."""
    raw = f"{timeutil.iso(story.latest)}|{story.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _uncursor(text: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        when, story_id = raw.rsplit("|", 1)
        return parse_when(when, "before"), int(story_id)
    except (ValueError, binascii.Error) as e:
        raise ValueError("before: not a cursor this API gave (use the 'next' of a page)") from e


def _limit(text: str | None) -> int:
    if not text:
        return LIMIT
    if not (text.strip().isascii() and text.strip().isdigit() and len(text.strip()) < 10):
        raise ValueError(f"limit: expected a number up to {LIMIT_MAX}, got {text[:40]!r}")
    return min(LIMIT_MAX, max(1, int(text)))


def text_words(text: str, languages: tuple[str, ...]
               ) -> tuple[tuple[tuple[str, ...], ...], ...] | None:
    """Each word of ``text`` as the full-text index is asked for it: the prefilter of the
    word as a rule's query (``"word"``, or ``word*`` for a prefix) read in ``languages``, so
    case, accents and word forms fold as in matching (``Lieferketten`` asks for
    ``lieferkette`` too, with ``de``). None when ``text`` has no word, or a word has no
    safe prefilter: the caller falls back to a substring. ValueError: too many words."""
    found = _WORD.findall(text)
    if len(found) > Q_WORDS:
        raise ValueError(f"q: at most {Q_WORDS} words, got {len(found)}")
    clauses = [_word_prefilter(word, bool(star), languages) for word, star in found]
    if not clauses or any(c is None for c in clauses):
        return None
    return tuple(c for c in clauses if c is not None)


@lru_cache(maxsize=1024)
def _word_prefilter(word: str, prefix: bool, languages: tuple[str, ...]
                    ) -> tuple[tuple[str, ...], ...] | None:
    query = f"{word}*" if prefix else f'"{word}"'
    try:
        found = prefilter(compile_rules([Rule(query, query, languages=languages)]))
    except QueryError:
        return None
    return tuple(found) if found else None


def story_filter(params: dict[str, str], config: Config,
                 languages: tuple[str, ...] = (DEFAULT_LANGUAGE,)) -> StoryFilter:
    """The filter the query parameters ask for (ValueError: one unreadable); a text
    filter's words are read in ``languages``."""
    def get(name: str) -> str | None:
        return (params.get(name) or "").strip() or None

    rule = get("rule")
    if rule is not None and not (rule.isascii() and rule.isdigit() and len(rule) < 10):
        raise ValueError(f"rule: expected a rule id (a number), got {rule[:40]!r}")
    state = get("state")
    if state is not None and state not in HIT_STATES:
        raise ValueError(f"state: one of {', '.join(HIT_STATES)}")
    feeds: tuple[str, ...] | None = None
    if (feed := get("feed")) is not None:
        feeds = (feed,)
    if (tag := get("tag")) is not None:  # a tag no feed has: no story, not every one
        tagged = tuple(f.name for f in config.feeds if tag in f.tags)
        feeds = tagged if feeds is None else tuple(f for f in feeds if f in tagged)
    since, until, after, before = get("since"), get("until"), get("after"), get("before")
    text = get("q")
    return StoryFilter(
        rule_id=int(rule) if rule else None, feeds=feeds, state=state,
        since=parse_when(since, "since") if since else None,
        until=parse_when(until, "until", end_of_day=True) if until else None,
        after=parse_when(after, "after") if after else None, text=text,
        words=text_words(text, languages) if text else None,
        before=_uncursor(before) if before else None)


class StoriesAPI:
    """The handler; ``config()`` is the running config (for tags)."""

    def __init__(self, store: Store, config: Callable[[], Config]) -> None:
        self.store = store
        self.config = config

    def languages(self) -> tuple[str, ...]:
        """The languages a text filter's words are read in: English and every language a
        rule (config or web) reads its query in."""
        found = {DEFAULT_LANGUAGE} | {c for w in self.config().watches for c in w.languages}
        for rule in self.store.web_rules():
            languages = rule.settings.get("languages") or []
            found |= {str(c) for c in languages} if isinstance(languages, list) else set()
        return tuple(sorted(found))

    def list(self, request: Request) -> Response:
        params = dict(request.query_params)
        text = (params.get("q") or "").strip()
        try:
            where = story_filter(params, self.config(),
                                 self.languages() if text else (DEFAULT_LANGUAGE,))
            limit = _limit(params.get("limit"))
        except ValueError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        if where.words:  # articles stored before the index (or edited since) first
            if indexed := self.store.index_pending(article_terms, CATCH_UP):
                log.info("event=articles_indexed count=%d", indexed)
        page, more = self.store.stories(where, limit)
        return JSONResponse({
            "stories": [story_json(s) for s in page],
            "next": cursor(page[-1]) if more and page else None,
            "newest": timeutil.iso(max(s.latest for s in page)) if page else None})
