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
    "timeutil": 0.5, "errors": 1, "models": 1, "retryafter": 1,
    "config": 2, "configschema": 2, "log": 2, "sdnotify": 2,
    "fetch": 3, "netguard": 3, "feeds": 3, "extract": 3, "rules": 3, "dedup": 3,
    "store": 3, "alerts": 3, "schedule": 3, "health": 3, "opml": 3,
    "metrics": 3.5,  # reads the store at scrape time; counted by the orchestration
    "pipeline": 4, "outbox": 4, "discover": 4,
    "web": 4.5,  # the daemon serves it
    "daemon": 5,
    "demo": 5.5,  # runs the daemon against local servers
    "testing": 5.4,  # local servers for the demo and the tests
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
