"""``POST /api/hits/{hit_id}/triage``: an editor's verdict on one hit (issue 15).

The body is JSON: ``{"action": "relevant" | "dismiss" | "reset" | "mute_story" |
"mute_source", "note": "optional text"}``; what each action does is
``monitor.store.triage``'s. The answer is the hit after it (``hit_id``, ``rule_id``,
``rule``, ``story_id``, ``article_id``, ``state``, ``note``, ``first_seen``, ``last_seen``,
and ``muted_source`` for ``mute_source``). An unknown hit is 404, a bad body 400 with one
line. Runs behind the editor gate (``monitor.web.auth``): viewers and requests without the
session's CSRF token are refused there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from monitor import timeutil
from monitor.store import TRIAGE_ACTIONS, Store
from monitor.web.auth import Actor
from monitor.web.stories import hit_json

NOTE_MAX = 2000


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def _unicode(text: str) -> bool:
    """Whether ``text`` can be stored: JSON's ``\\ud800`` escapes decode to lone
    surrogates, which UTF-8 (and so the database) cannot hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class TriageAPI:
    """The handler."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def triage(self, request: Request, actor: Actor, body: Any) -> Response:
        text = str(request.path_params.get("hit_id", ""))
        hit_id = int(text) if text.isascii() and text.isdigit() and len(text) < 10 else 0
        if not isinstance(body, dict):
            return _error(400, "send a JSON object: {\"action\": ..., \"note\": ...}")
        action = body.get("action")
        if action not in TRIAGE_ACTIONS:
            return _error(400, f"action: one of {', '.join(TRIAGE_ACTIONS)}")
        note = body.get("note")
        if note is not None and not isinstance(note, str):
            return _error(400, "note: expected text")
        if note is not None and len(note) > NOTE_MAX:
            return _error(400, f"note: at most {NOTE_MAX} characters")
        if note is not None and not _unicode(note):
            return _error(400, "note: not valid Unicode text (a lone surrogate escape)")
        hit, outlet = (self.store.triage(hit_id, action, note, actor.name, self.clock())
                       if hit_id else (None, None))
        if hit is None:
            return _error(404, f"no hit {text[:20]}")
        out = {**hit_json(hit), "story_id": hit.story_id, "article_id": hit.article_id,
               "first_seen": timeutil.iso(hit.first_seen),
               "last_seen": timeutil.iso(hit.last_seen)}
        if outlet is not None:
            out["muted_source"] = outlet
        return JSONResponse(out)
