"""Rules as data: a rule written in the browser or the API checked into ``WatchSettings``,
the settings a database row keeps, and ``[[watch]]`` TOML for ``monitor rules export``.

The keys and their kinds are ``[[watch]]``'s (``monitor.config.keys``), so a rule made
through the API can say exactly what a TOML rule says, and is checked the same way. Pure:
the query is checked by a ``checker`` passed in (``monitor.rules.check_query``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from monitor.config.keys import build, keys_of, written
from monitor.config.settings import MATCH_MODES, WatchSettings
from monitor.config.tables import TableReader
from monitor.errors import QueryError

__all__ = ["RULE_KEYS", "RuleProblem", "check_rule", "rule_settings", "rule_toml",
           "stored_rule"]

RULE_KEYS = {k: v for k, v in keys_of(WatchSettings).items() if k != "id"}
"""What a rule written through the API may say: ``[[watch]]``'s keys but ``id``."""
NAME_MAX = 500  # the rules table's column


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One thing wrong with a written rule: the key, one line, and a query's column."""

    key: str
    message: str
    column: int = 0


def check_rule(fields: object, checker: Callable[[str, bool], None], *,
               channels: Collection[str], feeds: Collection[str]
               ) -> tuple[WatchSettings | None, list[RuleProblem]]:
    """``fields`` (a JSON object) as a rule, or every problem with it. ``channels`` and
    ``feeds`` (names and tags) are the ones the running config defines."""
    if not isinstance(fields, dict):
        return None, [RuleProblem("", "expected a JSON object of rule fields")]
    problems: list[RuleProblem] = []
    lines: list[str] = []
    reader = TableReader({}, lines)
    values: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in RULE_KEYS:
            problems.append(RuleProblem(str(key), "unknown key"))
        elif (converted := reader.convert(value, RULE_KEYS[key], key)) is not None:
            if isinstance(converted[0], list) and not all(isinstance(v, str)
                                                          for v in converted[0]):
                problems.append(RuleProblem(key, "expected an array of strings"))
            else:
                values[key] = converted[0]
    for line in lines:  # "key: message", as the TOML reader words them
        key, _, message = line.partition(": ")
        problems.append(RuleProblem(key, message))
    name, query = str(values.get("name", "")).strip(), str(values.get("query", ""))
    if not name or len(name) > NAME_MAX or not name.isprintable():
        problems.append(RuleProblem("name", f"is required: 1 to {NAME_MAX} printable "
                                            "characters"))
    if not query.strip():
        problems.append(RuleProblem("query", "is required"))
    if values.get("match", MATCH_MODES[0]) not in MATCH_MODES:
        problems.append(RuleProblem("match", f"must be one of {', '.join(MATCH_MODES)}"))
    rule = build(WatchSettings, values, name=name, query=query)
    rule = replace(rule, languages=tuple(dict.fromkeys(c.lower() for c in rule.languages)))
    problems += [RuleProblem("channels", f"unknown channel {c!r}")
                 for c in rule.channels if c not in channels]
    problems += [RuleProblem("feeds", f"no feed or tag named {f!r}")
                 for f in rule.feeds if f not in feeds]
    problems += [RuleProblem("languages", f"{c!r} is not a 2-letter language code")
                 for c in rule.languages if not (len(c) == 2 and c.isascii() and c.isalpha())]
    if query.strip():
        try:
            checker(query, rule.case_sensitive)
        except QueryError as e:
            problems.append(RuleProblem("query", e.message, e.column))
    return (None if problems else rule), problems


def rule_settings(rule: WatchSettings) -> dict[str, Any]:
    """What the database keeps of a rule beyond its name and query (keys at defaults
    left out)."""
    return {k: v for k, v in written(rule).items() if k not in ("name", "query", "id")}


def stored_rule(rule_id: int, name: str, query: str, settings: Mapping[str, Any]
                ) -> WatchSettings:
    """A database rule as the matcher takes it (its id its row's)."""
    known = {k: v for k, v in settings.items() if k in RULE_KEYS}
    return build(WatchSettings, known, name=name, query=query, id=rule_id)


def rule_toml(rules: Sequence[WatchSettings]) -> str:
    """``[[watch]]`` tables for ``rules``, each with its id (``monitor check`` loads them)."""
    out = []
    for rule in rules:
        lines = ["[[watch]]"]
        table = {"id": rule.id, "name": rule.name, "query": rule.query,
                 "channels": list(rule.channels), **rule_settings(rule)}
        for key, value in table.items():
            if value is not None:
                lines.append(f"{key} = {_toml(value)}")
        out.append("\n".join(lines))
    return "\n\n".join(out) + ("\n" if out else "")


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table (spike)
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    text = str(value)
    escaped = "".join(_ESCAPES.get(ch) or (f"\\u{ord(ch):04x}" if ord(ch) < 0x20 or ch == "\x7f"
                                           else ch) for ch in text)
    return f'"{escaped}"'


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
