"""Imports point one way, from the bottom up, in the layers STYLE.md "Shape" draws.

LAYERS below is that drawing: each layer, numbered and named as STYLE.md names it, with the
groups in it (a module's group is its first dotted part below ``monitor``; ``alerts.outbox``
is orchestration, and so is ``alerts.notices``; the rest of ``alerts/`` are channels and their
pure routing; ``sources.probe``, discovery that fetches, is orchestration too, in the group
``discover``; ``sources.follow``, what a poll's document leads to, fetched, is in the
pipeline's group). A module may import its own group and any lower layer. Inside one layer
groups stay apart (stages never import each other), except for the few pairs SIDEWAYS
names with the reason. Nothing imports upward, and no module imports one that imports it
back, however long the way round. Imports inside functions and under ``TYPE_CHECKING``
count: they are dependencies all the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "monitor"

LAYERS: dict[int, tuple[str, set[str]]] = {
    1: ("errors, models: import nothing from monitor",
        {"__init__", "errors", "models", "timeutil", "retryafter"}),
    2: ("config, log: layer 1 only",
        {"config", "log", "sdnotify", "jsonshape"}),
    3: ("stages: fetch, sources, extract, rules, dedup, store, alerts channels",
        {"fetch", "netguard", "sources", "extract", "language", "rules",
         "dedup", "store", "alerts", "schedule", "health", "metrics"}),
    4: ("orchestration: pipeline, alerts/outbox",
        {"pipeline", "outbox", "notices", "discover", "backtest", "retention", "spikes"}),
    5: ("wiring: daemon, web", {"daemon", "web"}),
    6: ("entry: cli/ (one module per command family), __main__ (and the demo, with its "
        "test-support servers)",
        {"cli", "__main__", "demo", "testing"}),
}
SIDEWAYS = {  # (importer, imported) inside one layer -> why
    ("retryafter", "timeutil"): "a Retry-After date is compared in UTC",
    ("metrics", "store"): "the metrics read the store at scrape time",
    ("store", "dedup"): "the store keys its rows by dedup's pure hashes",
    ("daemon", "web"): "the daemon serves the dashboard",
    ("__main__", "cli"): "python -m monitor is the CLI",
    ("cli", "demo"): "monitor demo",
    ("demo", "testing"): "the demo runs the tests' local servers",
}
SAME_GROUP = {"netguard": "fetch", "fetcherrors": "fetch", "fetchhosts": "fetch",
              "fetchrequest": "fetch",
              "extractpool": "extract",
              "extractprelude": "extract",
              "hardpages": "extract", "browser": "fetch", "collaborators": "pipeline",
              "liverules": "pipeline", "daemonsetup": "daemon"}


def layer_of(group: str) -> int:
    found = [n for n, (_, groups) in LAYERS.items() if group in groups]
    assert len(found) == 1, f"{group}: name its group in exactly one of LAYERS"
    return found[0]


def group_of(module: str) -> str:
    parts = module.split(".")[1:] or ["__init__"]
    if parts[0] == "__version__":
        return "__init__"
    if parts[:2] in (["alerts", "outbox"], ["alerts", "notices"]):
        return parts[1]
    if parts[:2] == ["sources", "probe"]:
        return "discover"
    if parts[:2] == ["sources", "follow"]:
        return "pipeline"
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
    assert all(layer_of(a) == layer_of(b) for a, b in SIDEWAYS), "SIDEWAYS is for one layer"
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = "monitor." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        mine = SAME_GROUP.get(group_of(module), group_of(module))
        for target in imports(path):
            theirs = SAME_GROUP.get(group_of(target), group_of(target))
            if theirs == mine or (mine, theirs) in SIDEWAYS:
                continue
            if layer_of(theirs) > layer_of(mine):
                problems.append(f"{module} imports {target}: upward, "
                                f"layer {layer_of(mine)} -> {layer_of(theirs)}")
            elif layer_of(theirs) == layer_of(mine):
                problems.append(f"{module} imports {target}: sideways in layer {layer_of(mine)}"
                                " (name the pair in SIDEWAYS, with why, if it must)")
    assert not problems, "\n".join(problems)


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package).with_suffix("").parts
    return ".".join(("monitor", *parts)).removesuffix(".__init__")


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the monitor modules it imports, anywhere in it (functions, TYPE_CHECKING).

    ``from monitor.store import schema`` is an edge to ``monitor.store.schema`` when that is a
    module, else to ``monitor.store`` (the package's ``__init__``), as Python resolves it.
    """
    paths = {module_name(p, package): p for p in sorted(package.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's package, up level-1 more
                    anchor = module.split(".")[: len(module.split(".")) - node.level
                                                + (1 if is_package else 0)]
                    base = ".".join([*anchor, *([base] if base else [])])
                edges |= {f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base
                          for a in node.names}
            elif isinstance(node, ast.Import):
                edges |= {a.name for a in node.names}
        graph[module] = {_known(e, paths) for e in edges if _known(e, paths)} - {module}
    return graph


def _known(name: str, modules: dict[str, Path]) -> str:
    """``name``, or the nearest package above it that is a monitor module; "" if none."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a -> ... -> a) through each strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while (top := stack.pop()) != node:
                group.append(top)
            groups.append([node, *group])

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_loop(sorted(g), graph) for g in groups if len(g) > 1]


def _loop(group: list[str], graph: dict[str, set[str]]) -> list[str]:
    """The shortest way from group[0] back to itself inside the group."""
    start, inside = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        node = frontier.pop(0)
        for nxt in sorted(graph[node] & inside):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                frontier.append(nxt)
    raise AssertionError(f"no loop through {group}")


def test_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_cycle_check_sees_a_cycle_through_a_function_import(tmp_path: Path) -> None:
    """a -> b at the top, b -> c, and c -> a only inside a function: still a cycle."""
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "a.py").write_text("from monitor import b\n")
    (tmp_path / "b.py").write_text("from monitor.c import thing\n")
    (tmp_path / "c.py").write_text("def thing() -> None:\n    from monitor.a import x\n")
    (tmp_path / "d.py").write_text("from . import a\nimport monitor.b\n")
    graph = import_graph(tmp_path)
    assert graph["monitor.d"] == {"monitor.a", "monitor.b"}
    assert cycles(graph) == [["monitor.a", "monitor.b", "monitor.c", "monitor.a"]]


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
