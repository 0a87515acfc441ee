"""Request bodies for the write gate and sign-in (``monitor.web.auth``): read once, at most
``BODY_MAX`` bytes (by the Content-Length, or as the body streams in: a longer one is not
read further, and answered 413), JSON parsed strictly (no ``NaN`` or ``Infinity``, no
number past a float's range such as ``1e999``: no JSON answer could show such a value
again), forms by the standard library.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request

BODY_MAX = 256 * 1024
"""Bytes a request body may have (a rule, a triage, a sign-in are a few hundred)."""
_KEPT = "monitor.body"  # the scope key the body read once is kept under


def is_json(request: Request) -> bool:
    """Whether the request says its body is JSON (media types ignore case)."""
    media = request.headers.get("content-type", "").split(";")[0]
    return media.strip().lower() == "application/json"


async def read_body(request: Request) -> bytes | None:
    """The request body, read once (kept for the next caller); None: over ``BODY_MAX``."""
    if (kept := request.scope.get(_KEPT)) is not None:
        return bytes(kept)
    length = request.headers.get("content-length", "").strip()
    if length and not (length.isascii() and length.isdigit() and int(length) <= BODY_MAX):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_MAX:
            return None
    request.scope[_KEPT] = bytes(body)
    return bytes(body)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {text[:40]}")
    return number


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def strict_json(raw: bytes) -> Any:
    """A JSON body's value; ValueError for what is not strict JSON, RecursionError when it
    nests too deep."""
    return json.loads(raw, parse_float=_finite, parse_constant=_no_constant)


async def fields_of(request: Request) -> dict[str, Any] | None:
    """A form's (urlencoded, as a plain ``<form method=post>`` sends it) or a JSON object's
    fields ({} for anything else, or what cannot be read); parsed by the standard library,
    no multipart. None: the body is over ``BODY_MAX``."""
    json_body = is_json(request)
    if not (json_body or request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded")):
        return {}
    if (raw := await read_body(request)) is None:
        return None
    try:
        if json_body:
            data = strict_json(raw)
            return data if isinstance(data, dict) else {}
        text = raw.decode("utf-8")
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return {}
    return {k: v[0] for k, v in parse_qs(text, max_num_fields=100).items()}
