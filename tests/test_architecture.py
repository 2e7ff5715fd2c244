"""The package graph of docs/ARCHITECTURE.md holds: read from the AST of every module.

Top-level packages import only downward (no cycle); g2g_sdk imports nothing of
g2g; adapters never import each other; and nothing outside an adapter imports
it by module name (adapters are found through entry points).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO

PACKAGES = {"g2g_sdk": REPO / "sdk" / "g2g_sdk", "broker": REPO / "broker",
            "agency_adapters": REPO / "agency_adapters", "g2g_cli": REPO / "g2g_cli",
            "g2g_harness": REPO / "g2g_harness"}
ALLOWED = {
    "g2g_sdk": set(),
    "broker": {"g2g_sdk"},
    "agency_adapters": {"g2g_sdk"},
    "g2g_harness": {"g2g_sdk", "broker", "agency_adapters"},
    "g2g_cli": {"g2g_sdk", "broker", "agency_adapters", "g2g_harness"},
}
ADAPTERS = ("immigration", "interpol", "consular")


def _modules(package: str) -> Iterator[tuple[str, Path]]:
    root = PACKAGES[package]
    for path in sorted(root.rglob("*.py")):
        if "_gen" in path.relative_to(root).parts:
            continue
        parts = path.relative_to(root).with_suffix("").parts
        yield ".".join((package, *parts)).removesuffix(".__init__"), path


def _imports(module: str, path: Path) -> Iterator[str]:
    """Every module `path` imports, at any depth of the file (lazy imports too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside the importing package, never across
                base = module.split(".")[: max(1, module.count(".") + 1 - node.level)]
                yield ".".join([*base, *([node.module] if node.module else [])])
            elif node.module:
                yield node.module
                yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _graph() -> dict[str, dict[str, set[str]]]:
    """{package: {imported top-level package: {importing modules}}}."""
    graph: dict[str, dict[str, set[str]]] = {p: {} for p in PACKAGES}
    for package in PACKAGES:
        for module, path in _modules(package):
            for imported in _imports(module, path):
                top = imported.split(".")[0]
                if top in PACKAGES and top != package:
                    graph[package].setdefault(top, set()).add(module)
    return graph


def test_top_level_packages_import_only_down_the_documented_graph() -> None:
    graph = _graph()
    wrong = {package: {top: sorted(mods) for top, mods in uses.items()
                       if top not in ALLOWED[package]}
             for package, uses in graph.items()}
    assert {p: w for p, w in wrong.items() if w} == {}
    assert graph["g2g_sdk"] == {}


def test_the_package_graph_has_no_cycle() -> None:
    graph = {package: set(uses) for package, uses in _graph().items()}
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in graph[node]:
            assert state.get(nxt) != "open", " -> ".join([*path, node, nxt])
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = "done"

    for package in graph:
        if package not in state:
            visit(package, [])


def test_adapters_never_import_each_other_and_nobody_imports_them_by_name() -> None:
    offenders = []
    for package in PACKAGES:
        for module, path in _modules(package):
            own = next((a for a in ADAPTERS
                        if module.startswith(f"agency_adapters.{a}")), None)
            for imported in _imports(module, path):
                for adapter in ADAPTERS:
                    if imported.startswith(f"agency_adapters.{adapter}") and adapter != own:
                        offenders.append(f"{module} imports {imported}")
    assert offenders == []
