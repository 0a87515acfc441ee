"""Imports point one way (STYLE.md): entry -> wiring -> orchestration -> stages -> base.

Stages never import each other; each module may import only its own group or lower layers.
Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "monitor"

# group -> layer; a module's group is its first dotted part below `monitor`
LAYERS = {
    "__init__": 0,
    "errors": 1, "models": 1, "retryafter": 1,
    "jsonshape": 1.5,  # one JSON shape per model: the CLI, the API and the webhook
    "config": 2, "configschema": 2, "log": 2, "sdnotify": 2,
    "dedup": 2.5,  # pure hashes and canonical forms; the store keys its rows by them
    "fetch": 3, "netguard": 3, "feeds": 3, "extract": 3, "rules": 3,
    "store": 3, "alerts": 3, "schedule": 3, "health": 3, "opml": 3,
    "metrics": 3.5,  # reads the store at scrape time; counted by the orchestration
    "pipeline": 4, "outbox": 4, "discover": 4,
    "backtest": 4,  # a query over stored articles: the CLI's and the search box's
    "web": 4.5,  # the daemon serves it
    "daemon": 5,
    "demo": 5.5,  # runs the daemon against local servers
    "cli": 6, "__main__": 7,
}
SAME_GROUP = {"netguard": "fetch", "configschema": "config"}


def group_of(module: str) -> str:
    parts = module.split(".")[1:] or ["__init__"]
    if parts[0] == "__version__":
        return "__init__"
    if parts[:2] == ["alerts", "outbox"]:
        return "outbox"
    return parts[0]


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "monitor":
            found.update(f"monitor.{a.name}" for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m == "monitor" or m.startswith("monitor.")}


def test_imports_point_down() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = "monitor." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        mine = group_of(module)
        assert mine in LAYERS, f"{module}: add its group to LAYERS"
        for target in imports(path):
            theirs = group_of(target)
            if theirs == mine or SAME_GROUP.get(theirs) == mine or SAME_GROUP.get(mine) == theirs:
                continue
            if LAYERS[theirs] >= LAYERS[mine] and not (mine == "outbox" and theirs == "alerts"):
                problems.append(f"{module} imports {target}")
    assert not problems, "\n".join(problems)


STORE = PACKAGE / "store"
TEST_MAY_IMPORT = {"monitor.store.schema"}  # migration tests build old schemas with it


def store_internals(path: Path) -> set[str]:
    """The modules of monitor/store/ that ``path`` imports, however it spells it
    (``import monitor.store.db``, ``from monitor.store.db import X``,
    ``from monitor.store import schema``)."""
    modules = {f"monitor.store.{p.stem}" for p in STORE.glob("*.py") if p.stem != "__init__"}
    modules |= {f"monitor.store.{p.name}" for p in STORE.iterdir() if p.is_dir()}
    found = {m for m in imports(path) if m.startswith("monitor.store.")}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "monitor.store":
            found.update(f"monitor.store.{a.name}" for a in node.names
                         if f"monitor.store.{a.name}" in modules)
    return found


def test_nothing_outside_store_imports_its_internals() -> None:
    """Only ``monitor.store`` itself (its __init__ names) is imported from outside store/;
    tests may also use ``monitor.store.schema`` to build and inspect old databases."""
    root = PACKAGE.parent
    problems = []
    for path in sorted([*PACKAGE.rglob("*.py"), *(root / "tests").rglob("*.py"),
                        *(root / "bench").rglob("*.py")]):
        if path.is_relative_to(STORE):
            continue
        allowed = TEST_MAY_IMPORT if path.is_relative_to(root / "tests") else set()
        problems += [f"{path.relative_to(root)} imports {target}"
                     for target in sorted(store_internals(path) - allowed)]
    assert not problems, "\n".join(problems)
