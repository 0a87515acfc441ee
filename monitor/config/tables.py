"""Reading TOML tables: each value checked against its key's kind, every problem kept.

``TableReader`` collects problems as ``key.path: message`` lines and never raises, so a
config with ten mistakes reports ten lines. Pure apart from reading secrets.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from monitor.config.durations import check_cron, parse_age, parse_duration
from monitor.config.keys import AGE, CRON, DURATION, SPIKE
from monitor.config.secrets import Secret
from monitor.config.spikes import parse_spike
from monitor.errors import ConfigError

TOP_KEYS = {"monitor", "feeds", "watch", "watchlist", "channels", "include", "users"}
_SECRET_KEYS = {"password", "secret", "token", "urls", "cookies"}


class TableReader:
    """Checks tables against the keys they accept, collecting problems."""

    def __init__(self, environ: Mapping[str, str], problems: list[str]) -> None:
        self.environ = environ
        self.problems = problems

    def typed(self, table: object, spec: Mapping[str, object], path: str) -> dict[str, Any]:
        """The values of ``table`` that ``spec`` (key -> kind) accepts, converted."""
        if not isinstance(table, dict):
            self.problem(path, "must be a table")
            return {}
        self.unknown(table, set(spec), path)
        out: dict[str, Any] = {}
        for key, value in table.items():
            if key in spec and (converted := self.convert(value, spec[key], f"{path}.{key}")):
                out[key] = converted[0]
        return out

    def convert(self, value: object, kind: object, path: str) -> tuple[object] | None:
        """``(value as kind,)``, or None and a problem when it is not one."""
        try:
            if kind == DURATION:
                return (parse_duration(value),)
            if kind == AGE:
                return (parse_age(value),)
            if kind == CRON:
                return (check_cron(value),)
            if kind == SPIKE:
                return (parse_spike(value),)
            if kind is int and isinstance(value, int) and not isinstance(value, bool):
                if value < 0:
                    raise ValueError("must not be negative")
                return (value,)
            if isinstance(kind, type) and kind is not int and isinstance(value, kind):
                return (value,)
            raise ValueError(f"expected {_kind_name(kind)}, got {type(value).__name__}")
        except ValueError as e:
            self.problem(path, str(e))
            return None

    def unknown(self, table: dict[str, Any], allowed: set[str], path: str) -> None:
        """A problem for each key not in ``allowed``: an inline secret, or a likely typo."""
        for key in table:
            if key in allowed:
                continue
            where = f"{path}{key}" if not path or path.endswith(": ") else f"{path}.{key}"
            if key.split("_")[0] in _SECRET_KEYS or key in _SECRET_KEYS:
                self.problem(where, f"secrets are never inline: use {key}_file or {key}_env")
            elif path.endswith(": ") and key in TOP_KEYS:
                self.problem(where, "allowed only in the main config file")
            else:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                self.problem(where, "unknown key" + (f" (did you mean {close[0]}?)"
                                                     if close else ""))

    def read_now(self, secret: Secret, path: str) -> str | None:
        """The secret's value now; a problem naming its key when it cannot be read."""
        try:
            return secret.read(self.environ)
        except ConfigError as e:
            self.problems.extend(f"{path}.{p}" for p in e.problems)
            return None

    def required(self, v: dict[str, Any], keys: tuple[str, ...], path: str) -> bool:
        """Whether every key in ``keys`` is written; a problem for each one that is not."""
        for key in keys:
            if key not in v:
                self.problem(f"{path}.{key}", "is required")
        return all(key in v for key in keys)

    def items(self, data: dict[str, Any], key: str, prefix: str,
              make: Callable[[dict[str, Any], str], Any]) -> list[tuple[str, Any]]:
        """``(key path, make(table, key path))`` for each table of the array ``key``."""
        out = []
        for i, table in enumerate(self.tables(data, key, prefix)):
            out.append((f"{prefix}{key}[{i}]", make(table, f"{prefix}{key}[{i}]")))
        return out

    def tables(self, data: dict[str, Any], key: str, prefix: str) -> list[dict[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            self.problem(f"{prefix}{key}", f"must be an array of tables ([[{key}]])")
            return []
        return value

    def mapping(self, data: dict[str, Any], key: str, prefix: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.problem(f"{prefix}{key}", "must be a table")
            return {}
        return value

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")


def _kind_name(kind: object) -> str:
    names: dict[object, str] = {str: "a string", int: "an integer", bool: "true or false",
                                list: "an array", dict: "a table"}
    return names.get(kind, str(kind))
