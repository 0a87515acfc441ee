"""``load_config``: read the TOML file and its includes, validate, return a Config."""

from __future__ import annotations

import glob
import os
import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import Any

from monitor.config.settings import Config
from monitor.config.validate import QueryChecker, Validator
from monitor.errors import ConfigError


def load_config(path: str | Path, query_checker: QueryChecker | None = None,
                environ: dict[str, str] | None = None, *,
                source_kinds: Collection[str] | None = None) -> Config:
    """Read, merge includes, validate; raise ConfigError listing every problem.

    Queries are checked with ``query_checker`` and feeds' ``kind`` against ``source_kinds``
    when given (the daemon passes both; they live in layers above this package).
    """
    label = str(path)
    path = Path(os.path.abspath(path))  # relative paths inside resolve against its folder
    data = _read_toml(path, label)
    problems: list[str] = []
    documents = [(path, "", data)]
    for pattern in _as_list(data.get("include", [])):
        matched = sorted(glob.glob(str(path.parent / str(pattern))))
        if not matched and not glob.has_magic(str(pattern)):
            problems.append(f"include: no file matches {pattern!r}")
        for name in matched:
            try:
                documents.append((Path(name), f"{Path(name).name}: ", _read_toml(Path(name), name)))
            except ConfigError as e:
                problems.extend(e.problems)
    validator = Validator(query_checker, os.environ if environ is None else environ, problems,
                          source_kinds)
    return validator.build(documents, label)


def _read_toml(path: Path, label: str) -> dict[str, Any]:
    try:  # a UTF-8 byte-order mark (Windows Notepad writes one) is not a TOML statement
        return tomllib.loads(path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode())
    except FileNotFoundError:
        raise ConfigError(f"{label}: no such file") from None
    except OSError as e:
        raise ConfigError(f"{label}: cannot read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{label}: invalid TOML: {e}") from None
    except UnicodeDecodeError as e:  # TOML is UTF-8; a file saved in Latin-1, or not text
        line = e.object[:e.start].count(b"\n") + 1
        raise ConfigError(f"{label}: not UTF-8 text (byte 0x{e.object[e.start]:02x} on line "
                          f"{line}); TOML files are UTF-8") from None


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [value]
