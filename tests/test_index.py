"""tests/README.md indexes the tests by module, and the index stays true."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
INDEX = TESTS / "README.md"
ROW = re.compile(r"^\| `(?P<module>monitor/[\w/]+\.py)` \|.*\| (?P<tests>[^|]+) \|$")
TEST_FILE = re.compile(r"`(test_\w+\.py)`")


def rows(text: str) -> dict[str, list[str]]:
    """Module path -> the test files its row names."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if match := ROW.match(line):
            assert match["module"] not in found, f"{match['module']}: two rows"
            found[match["module"]] = TEST_FILE.findall(match["tests"])
    return found


def test_every_module_has_a_row_naming_its_tests() -> None:
    index = rows(INDEX.read_text(encoding="utf-8"))
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "monitor").rglob("*.py")}
    assert sorted(modules - set(index)) == [], "add these to tests/README.md"
    assert sorted(set(index) - modules) == [], "these rows name no module: remove them"
    empty = sorted(m for m, tests in index.items() if not tests)
    assert not empty, f"rows naming no test file: {empty}"


def test_every_named_test_file_exists_and_every_test_file_is_named() -> None:
    text = INDEX.read_text(encoding="utf-8")
    named = set(TEST_FILE.findall(text))
    files = {p.name for p in TESTS.glob("test_*.py")}
    assert sorted(named - files) == [], "tests/README.md names test files that do not exist"
    assert sorted(files - named) == [], "name these test files in tests/README.md"


def test_a_row_is_read_as_its_module_and_tests() -> None:
    line = "| `monitor/rules/lexer.py` | query lexing | `test_rules_parse.py`, `test_x.py` |"
    assert rows(f"intro\n{line}\n") == {"monitor/rules/lexer.py":
                                         ["test_rules_parse.py", "test_x.py"]}
