"""``GET /api/rules/{rule_id}/stats?days=30``: how good a rule is, from its triage.

``precision`` is relevant / judged (judged = relevant + dismissed; null before the first
verdict); ``hits_per_day`` counts the hits first seen on each of the last ``days`` UTC days
(1 to 366, 30 by default), oldest first, zeros included.

Suggested exclusions are words that mark noise: the words of the hits' articles (title
and body, the newest ``monitor.store.rulestats.TEXTS_MAX`` hits), folded as the rules
fold them (``monitor.rules.tokenize``), less stopwords, numbers, words under 3 characters
and the query's own words. With D dismissed and R relevant hits, and d and r of them
whose article has the word, a word scores

    (d + 0.5) / (D + 1) - (r + 0.5) / (R + 1)

(frequent in dismissed hits, rare in relevant ones, smoothed so one article decides
little); words with d >= 2 and a positive score are suggested, the best ``SUGGESTIONS``
(ties: more dismissed, then alphabetical). ``removes`` is how many of the rule's hits'
articles have the word: what adding ``NOT word`` would take away.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from monitor import timeutil
from monitor.rules import tokenize
from monitor.store import Store

DAYS, DAYS_MAX = 30, 366
SUGGESTIONS = 5
MIN_DISMISSED = 2
MIN_LENGTH = 3
STOPWORDS = frozenset(
    "a about after again all also an and any are as at be been before being but by can "
    "could did do does for from had has have he her here hers him his how i if in into is "
    "it its just more most much near new no nor not now of off on one only or other our "
    "out over said says she should so some such than that the their them then there these "
    "they this those through to too two under up very was we were what when where which "
    "while who whom why will with would year years you your".split())


def words(text: str) -> set[str]:
    """The distinct folded words of ``text`` worth suggesting."""
    return {w for token in tokenize(text) if len(w := token.text) >= MIN_LENGTH
            and w not in STOPWORDS and not any(c.isdigit() for c in w)}


def exclusions(query: str, texts: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The suggested exclusions of a rule's hits' ``(state, text)`` (the module's score)."""
    own = {token.text for token in tokenize(query)}
    dismissed: Counter[str] = Counter()
    relevant: Counter[str] = Counter()
    everywhere: Counter[str] = Counter()
    big_d = big_r = 0
    for state, text in texts:
        found = words(text) - own
        everywhere.update(found)
        if state == "dismissed":
            big_d += 1
            dismissed.update(found)
        elif state == "relevant":
            big_r += 1
            relevant.update(found)
    scored = []
    for word, d in dismissed.items():
        r = relevant[word]
        score = (d + 0.5) / (big_d + 1) - (r + 0.5) / (big_r + 1)
        if d >= MIN_DISMISSED and score > 0:
            scored.append((-score, -d, word))
    return [{"term": word, "dismissed": dismissed[word], "relevant": relevant[word],
             "removes": everywhere[word]}
            for _, _, word in sorted(scored)[:SUGGESTIONS]]


class RuleStatsAPI:
    """The handler."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def stats(self, request: Request) -> Response:
        text = str(request.path_params.get("rule_id", ""))
        days_text = request.query_params.get("days", "").strip()
        if days_text and not (days_text.isascii() and days_text.isdigit()
                              and len(days_text) < 4 and 1 <= int(days_text) <= DAYS_MAX):
            return JSONResponse({"error": f"days: a number from 1 to {DAYS_MAX}"},
                                status_code=400)
        days = int(days_text) if days_text else DAYS
        first = timeutil.utc(self.clock()).date() - timedelta(days=days - 1)
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        record = (self.store.rule_record(int(text), start)
                  if text.isascii() and text.isdigit() and len(text) < 10 else None)
        if record is None:
            return JSONResponse({"error": f"no rule {text[:20]}"}, status_code=404)
        per_day = Counter(seen.date() for seen in record.seen)
        relevant = record.states.get("relevant", 0)
        dismissed = record.states.get("dismissed", 0)
        judged = relevant + dismissed
        return JSONResponse({
            "rule_id": record.rule_id, "judged": judged, "relevant": relevant,
            "dismissed": dismissed, "muted": record.states.get("muted", 0),
            "precision": relevant / judged if judged else None,
            "hits_per_day": [{"day": (day := first + timedelta(days=i)).isoformat(),
                              "hits": per_day.get(day, 0)} for i in range(days)],
            "exclusions": exclusions(record.query, record.texts)})
