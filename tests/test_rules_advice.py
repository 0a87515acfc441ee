"""Queries that parse but are probably not meant: lowercase operators; where ``?`` is a
wildcard and where it is punctuation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.errors import QueryError
from monitor.rules import check_query, query_warnings

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "ap-2026-02-26-anthropic-pentagon.txt"


@pytest.mark.parametrize(("query", "expected"), [
    ("tariffs or sanctions", [("or", "OR", 9)]),
    ("Anthropic and Pentagon", [("and", "AND", 11)]),
    ("tariffs not steel", [("not", "NOT", 9)]),
    ("not steel", [("not", "NOT", 1)]),
    ("(a b) Or (c d)", [("Or", "OR", 7)]),
    ("a or b and c", [("or", "OR", 3), ("and", "AND", 8)]),
    ('"war and peace"', []),
    ('tariffs "or" sanctions', []),
    ("title:or sanctions", []),
    ("a OR b AND NOT c", []),
    ("or", []),
    ("tariffs or", []),
    ("orange ordnance", []),
], ids=["or", "and", "not", "leading-not", "groups", "two", "phrase", "quoted", "field",
        "capitals", "alone", "trailing", "prefix-of-word"])
def test_lowercase_operators_are_flagged(query: str,
                                         expected: list[tuple[str, str, int]]) -> None:
    warnings = query_warnings(query)
    assert len(warnings) == len(expected)
    for line, (word, operator, column) in zip(warnings, expected, strict=True):
        assert line.startswith(f"column {column}: {word!r} is searched as a word")
        assert f"did you mean {operator}?" in line and f'"{word}"' in line


def test_a_query_that_does_not_parse_gets_no_advice() -> None:
    assert query_warnings('tariffs or "sanctions') == []


@pytest.mark.parametrize(("query", "column", "message"), [
    ("a?b", 1, "a word with ? needs at least 3 other characters"),
    ('"supply c?n risk"', 9, "a word with ? needs at least 3 other characters"),
    ("defen?e*", 1, "a word cannot hold both ? and *"),
], ids=["short", "short-in-phrase", "with-prefix"])
def test_question_mark_wildcard_needs_enough_letters(query: str, column: int,
                                                    message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)) as e:
        check_query(query)
    assert e.value.column == column


@pytest.mark.parametrize("query", ["defen?e", "title:colo?r", '"supply cha?n risk"', "colo??r"])
def test_question_mark_inside_a_word_is_a_wildcard(query: str) -> None:
    check_query(query)


@pytest.mark.parametrize("query", ["what?", '"who is next?"', "tariffs? sanctions"])
def test_question_mark_as_punctuation_is_accepted(query: str) -> None:
    check_query(query)


def monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_match_warns_on_stderr_and_still_runs() -> None:
    result = monitor("match", "-q", "Anthropic or Pentagon", str(SEED))
    assert result.returncode == 0  # the seed holds all three words, "or" included
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("monitor: warning: query column 11: 'or' is searched as a word")


def test_match_takes_a_question_mark_as_one_character() -> None:
    result = monitor("match", "-q", "defen?e", str(SEED))
    assert result.returncode == 0 and result.stderr == ""
    assert '"term": "defen?e"' in result.stdout


def test_match_refuses_a_short_wildcard_word_with_exit_2() -> None:
    result = monitor("match", "-q", "a?b", str(SEED))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == ("monitor: a word with ? needs at least 3 other "
                                     "characters, as in defen?e at column 1")


def test_check_warns_naming_the_rule(tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text(f"""
[monitor]
database = "sqlite:///{tmp_path / 'm.db'}"

[[feeds]]
name = "wire"
url = "http://127.0.0.1:9/feed.xml"

[[watch]]
name = "trade"
query = 'tariffs or sanctions'
channels = ["hook"]

[channels.hook]
type = "webhook"
url = "http://127.0.0.1:9/hook"
secret_env = "HOOK_SECRET"
""")
    result = subprocess.run([sys.executable, "-m", "monitor", "check", "-c", str(config)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PATH": "", "HOOK_SECRET": "x"})
    assert result.returncode == 0, result.stderr
    assert ("monitor: warning: rule 'trade': query column 9: 'or' is searched as a word; "
            "did you mean OR?") in result.stderr
