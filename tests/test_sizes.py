"""Modules stay small: none in monitor/ over 400 lines, the store's base under 200.

Issue 12's bound. A module that grows past it is split by area (a table, a channel, a
command family), as STYLE.md "Size" says.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "monitor"
MAX_LINES = 400
SMALLER = {"store/base.py": 200}  # the engine, transactions, migrate: the rest is by area


def oversized(package: Path = PACKAGE) -> list[str]:
    """``path: N lines (over M)`` for each module of ``package`` over its bound."""
    found = []
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(package).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        bound = SMALLER.get(name, MAX_LINES)
        if lines > bound:
            found.append(f"monitor/{name}: {lines} lines (over {bound})")
    return found


def test_no_module_is_over_its_bound() -> None:
    assert oversized() == [], "split these by area"


def test_the_bound_is_seen(tmp_path: Path) -> None:
    """At the bound passes; one line over fails, and the store base has the lower bound."""
    (tmp_path / "store").mkdir()
    (tmp_path / "ok.py").write_text("x = 1\n" * MAX_LINES)
    (tmp_path / "big.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "store" / "base.py").write_text("x = 1\n" * 201)
    (tmp_path / "store" / "db.py").write_text("x = 1\n" * 201)
    assert oversized(tmp_path) == ["monitor/big.py: 401 lines (over 400)",
                                   "monitor/store/base.py: 201 lines (over 200)"]
