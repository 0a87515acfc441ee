"""The exception tree is drawn once, in monitor/errors.py, and the drawing is true.

Every class deriving from ``MonitorError`` is defined in errors.py and drawn in its
docstring under its real parent; any other exception class in monitor/ is one of the few
internal ones that docstring names.
"""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

from monitor import errors

PACKAGE = Path(__file__).resolve().parent.parent / "monitor"
BRANCH = re.compile(r"^ {4}(?P<rails>(?:│ {3}| {4})*)[├└]── (?P<name>\w+)")
ROOT = re.compile(r"^ {4}(?P<name>MonitorError)\b")


def class_defs(package: Path = PACKAGE) -> dict[str, tuple[str, list[str]]]:
    """``module.Class`` -> (class name, the last dotted part of each base) for a package."""
    found: dict[str, tuple[str, list[str]]] = {}
    for path in sorted(package.rglob("*.py")):
        module = ".".join(("monitor", *path.relative_to(package).with_suffix("").parts))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
                found[f"{module.removesuffix('.__init__')}.{node.name}"] = (node.name, bases)
    return found


def descendants(roots: set[str], defs: dict[str, tuple[str, list[str]]]) -> set[str]:
    """The qualified names of the classes deriving, at any depth, from a class named in roots."""
    names, found = set(roots), set[str]()
    while True:
        new = {q for q, (name, bases) in defs.items() if q not in found and names & set(bases)}
        if not new:
            return found
        found |= new
        names |= {defs[q][0] for q in new}


def drawing() -> dict[str, str | None]:
    """Class -> parent, as the tree in the errors.py docstring draws it."""
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        if root := ROOT.match(line):
            parents[root["name"]], stack = None, [root["name"]]
        elif stack and (branch := BRANCH.match(line)):
            depth = len(branch["rails"]) // 4 + 1
            del stack[depth:]
            parents[branch["name"]] = stack[-1]
            stack.append(branch["name"])
    return parents


def defined_outside(package: Path = PACKAGE) -> list[str]:
    """MonitorError subclasses defined anywhere but errors.py."""
    return sorted(q for q in descendants({"MonitorError"}, class_defs(package))
                  if not q.startswith("monitor.errors."))


def test_every_monitor_error_is_defined_in_errors_py() -> None:
    outside = defined_outside()
    assert not outside, f"define these in monitor/errors.py and draw them: {outside}"


def test_the_drawing_matches_the_classes() -> None:
    drawn = drawing()
    real = {name: cls.__bases__[0].__name__ if cls is not errors.MonitorError else None
            for name, cls in vars(errors).items()
            if isinstance(cls, type) and issubclass(cls, errors.MonitorError)}
    assert drawn == real


def test_other_exception_classes_are_the_internal_ones_errors_py_names() -> None:
    defs = class_defs()
    base = {n for n, v in vars(builtins).items()
            if isinstance(v, type) and issubclass(v, BaseException)}
    others = sorted(q for q in descendants(base, defs) if not q.startswith("monitor.errors."))
    named = set(re.findall(r"``(monitor\.[\w.]+)``", errors.__doc__ or ""))
    assert others and set(others) <= named, \
        f"convert these to errors.py classes, or name them in its docstring: {others}"


def test_the_walk_finds_a_subclass_defined_elsewhere(tmp_path: Path) -> None:
    """A grandchild of MonitorError in another module, even inside a function, is found."""
    (tmp_path / "errors.py").write_text("class MonitorError(Exception): ...\n"
                                        "class FetchError(MonitorError): ...\n")
    (tmp_path / "stage").mkdir()
    (tmp_path / "stage" / "feeds.py").write_text(
        "from monitor import errors\n"
        "def f() -> None:\n    class Stale(errors.FetchError): ...\n")
    assert defined_outside(tmp_path) == ["monitor.stage.feeds.Stale"]

