"""The checks of a ``[[feeds]]`` table's source options (``SourceOptions``), by its kind.

Each kind accepts the options ``KIND_OPTIONS`` lists for it; one written for another kind
is one problem naming the key and the kinds it belongs to. Regexes compile under RE2 (the
linear-time engine the rules use) and CSS selectors under cssselect, so a bad one is
reported at load, not at the first poll. Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import re2  # type: ignore[import-untyped]
from cssselect import GenericTranslator, SelectorError

from monitor.config.keys import build, keys_of
from monitor.config.settings import JSON_PRESETS, KIND_OPTIONS, SourceOptions
from monitor.errors import ConfigError

OPTION_KEYS = tuple(keys_of(SourceOptions))
COMMON_OPTIONS = ("resolve_redirects",)


def source_problems(kind: str, written: Collection[str], options: SourceOptions
                    ) -> list[tuple[str, str]]:
    """``(key, message)`` for each problem with the source options of a feed of ``kind``
    whose table wrote the keys ``written`` (an unknown kind is the caller's problem: nothing
    is said about it here)."""
    if kind not in KIND_OPTIONS:
        return []
    allowed = set(KIND_OPTIONS[kind]) | set(COMMON_OPTIONS)
    out = [(k, _misplaced(k, kind)) for k in OPTION_KEYS if k in written and k not in allowed]
    if kind == "google-news" and "url" not in written and not options.query.strip():
        out.append(("query", 'is required for kind = "google-news" without a url (the '
                             "search)"))
    if kind == "page":
        out += _page_problems(options)
    if kind == "json":
        out += _json_problems(options)
    return out


def _misplaced(key: str, kind: str) -> str:
    owners = [k for k, keys in KIND_OPTIONS.items() if key in keys]
    return (f"not an option of kind = {kind!r} (only of kind = "
            + " or ".join(repr(k) for k in owners) + ")")


def _page_problems(options: SourceOptions) -> list[tuple[str, str]]:
    out = []
    if options.url_pattern:
        try:
            re2.compile(options.url_pattern)
        except re2.error as e:
            out.append(("url_pattern", f"not a regex RE2 accepts: {e}"))
    if options.links:
        try:
            GenericTranslator().css_to_xpath(options.links)
        except SelectorError as e:
            out.append(("links", f"not a CSS selector: {e}"))
    return out


def _json_problems(options: SourceOptions) -> list[tuple[str, str]]:
    if options.preset and options.preset not in JSON_PRESETS:
        return [("preset", f"unknown preset {options.preset!r} "
                           f"(known: {', '.join(JSON_PRESETS)})")]
    paths = {**JSON_PRESETS.get(options.preset, {}),
             **{k: getattr(options, k) for k in ("items", "title", "link") if getattr(options, k)}}
    if not paths.get("link") and not paths.get("title"):
        return [("link", 'kind = "json" needs a preset, or link or title (the item paths)')]
    return []


def options_from_pairs(kind: str, pairs: Sequence[str]) -> SourceOptions:
    """The options ``KEY=VALUE`` (as ``monitor parse --option`` takes them) of a source of
    ``kind``, checked as a ``[[feeds]]`` table's are; ConfigError naming each bad one."""
    values: dict[str, object] = {}
    problems = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        kinds = keys_of(SourceOptions)
        if not sep or key not in kinds:
            problems.append(f"--option {pair}: expected KEY=VALUE with KEY one of "
                            f"{', '.join(OPTION_KEYS)}")
        elif kinds[key] is bool:
            values[key] = value.lower() in ("true", "1", "yes")
        else:
            values[key] = value
    options = build(SourceOptions, values)
    problems += [f"--option {k}: {m}" for k, m in source_problems(kind, values, options)
                 if k in values]  # a document at hand needs no query to find it
    if kind not in KIND_OPTIONS:
        problems.append(f"--kind: unknown source kind {kind!r} (known kinds: "
                        f"{', '.join(KIND_OPTIONS)})")
    if problems:
        raise ConfigError(problems)
    return options
