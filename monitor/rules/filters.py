"""The values of the metadata filters ``lang:`` and ``published:``, and their tests.

Pure: no I/O. Columns are 1-based, in the query as written.

* ``lang:en``, ``lang:(de OR fr)``: 2-letter language codes (any case), joined by ``OR``.
* ``published:>2026-03-01`` (after that day), ``>=`` (from it), ``<`` (before it), ``<=``
  (up to it), ``published:2026-03-01`` (that day), ``published:2026-03-01..2026-03-31``
  (both days included). Days are UTC; dates are ``YYYY-MM-DD``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from monitor.errors import QueryError
from monitor.rules.nodes import Lang, Published

__all__ = ["article_day", "lang_true", "language_of", "parse_lang", "parse_published",
           "published_true"]

_CODE = re.compile(r"[A-Za-z]{2}")
_WORD = re.compile(r"\S+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COMPARISON = re.compile(r"(>=|<=|>|<)?(.*)")
_DAY = timedelta(days=1)
_DATE_EXAMPLE = "a date like 2026-03-01 (YYYY-MM-DD)"


def parse_lang(value: str, column: int, at: int) -> Lang:
    """``Lang`` of the value of ``lang:`` starting at ``column``; ``at``: the filter's."""
    words = [(m[0], column + m.start()) for m in _WORD.finditer(value)]
    codes = []
    for n, (word, where) in enumerate(words):
        if n % 2:
            if word != "OR":
                raise QueryError("join language codes with OR, as in lang:(de OR fr)", where)
        elif not _CODE.fullmatch(word):
            raise QueryError(f"{word!r} is not a 2-letter language code such as en, de or fr",
                             where)
        else:
            codes.append(word.lower())
    if len(words) % 2 == 0:
        raise QueryError("OR needs a language code on both sides", words[-1][1])
    return Lang(tuple(dict.fromkeys(codes)), at)


def parse_published(value: str, column: int, at: int) -> Published:
    """``Published`` of the value of ``published:`` starting at ``column``."""
    m = _COMPARISON.fullmatch(value)
    assert m is not None  # the pattern matches any string
    op, rest = m[1] or "", m[2]
    where = column + len(op)
    if not op and ".." in rest:
        first, _, last = rest.partition("..")
        start = _date(first, where)
        end = _date(last, where + len(first) + 2)
        if end < start:
            raise QueryError("this range ends before it starts", where)
        return Published(start, end + _DAY, at)
    day = _date(rest, where)
    if op == ">":
        return Published(day + _DAY, None, at)
    if op == ">=":
        return Published(day, None, at)
    if op == "<":
        return Published(None, day, at)
    if op == "<=":
        return Published(None, day + _DAY, at)
    return Published(day, day + _DAY, at)


def _date(text: str, column: int) -> date:
    if not _DATE.fullmatch(text):
        raise QueryError(f"published: needs {_DATE_EXAMPLE}, as in published:>2026-03-01, "
                         f"not {text!r}", column)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise QueryError(f"{text!r} is not a day of the calendar", column) from None


def language_of(code: str | None) -> str:
    """The 2-letter base of an article's language code, ``""`` when it has none."""
    return (code or "").strip().replace("_", "-").split("-")[0].lower()


def article_day(published: datetime | None) -> date | None:
    """The UTC day of a publication time (a naive one is taken as UTC)."""
    if published is None:
        return None
    if published.tzinfo is not None:
        published = published.astimezone(UTC)
    return published.date()


def lang_true(node: Lang, language: str | None) -> bool:
    """Whether an article of ``language`` passes ``node``."""
    return language_of(language) in node.codes


def published_true(node: Published, published: datetime | None) -> bool:
    """Whether an article published at ``published`` passes ``node``."""
    day = article_day(published)
    return day is not None and (node.after is None or day >= node.after) and (
        node.before is None or day < node.before)
