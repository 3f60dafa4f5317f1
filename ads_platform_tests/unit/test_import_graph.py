"""No import cycle: every module imports on its own, and the import graph has no loop."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import ads_platform
from ads_platform_tests.unit.test_imports import LIBRARIES, platform_modules

PACKAGE = Path(ads_platform.__file__).resolve().parent
ROOT = PACKAGE.parent


def module_files() -> dict[str, Path]:
    files = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        files[name] = path
    return files


def _ancestors(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def import_graph(files: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the platform modules it imports, at the top or inside functions.

    ``from pkg import sub`` is an edge to ``pkg.sub`` (and to ``pkg``, which Python
    initializes first, unless ``pkg`` is the importer's own package).
    """

    def resolve(target: str) -> str | None:
        while target and target not in files:
            target = target.rpartition(".")[0]
        return target or None

    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    kept = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*kept, base] if base else kept)
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in files]
                targets.update(subs or [base])
        edges = set()
        for target in targets:
            found = resolve(target)
            if found is None:
                continue
            edges.add(found)
            edges.update(p for p in _ancestors(found) if p in files)
        graph[name] = {e for e in edges if e != name and e not in _ancestors(name)}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_platform_import_graph_has_no_cycle() -> None:
    graph = import_graph(module_files())
    assert "ads_platform.definitions" in graph["ads_platform.demo"]  # deferred imports count
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle_through_a_deferred_import() -> None:
    graph = import_graph(module_files())
    graph["ads_platform.partitions"] = {*graph["ads_platform.partitions"], "ads_platform.demo"}
    assert any("ads_platform.partitions" in c for c in cycles(graph))


def test_no_platform_module_imports_dagster_test_utilities() -> None:
    offenders = [
        name
        for name, path in module_files().items()
        if "dagster._core.test_utils" in path.read_text()
    ]
    assert offenders == []


_ISOLATED = textwrap.dedent(
    """
    import importlib, json, sys

    for library in json.loads(sys.argv[2]):
        importlib.import_module(library)
    failed = {}
    for name in json.loads(sys.argv[1]):
        for loaded in [m for m in sys.modules if m.split(".")[0] == "ads_platform"]:
            del sys.modules[loaded]
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(failed))
    """
)


def test_every_module_imports_first_in_a_fresh_interpreter(tmp_path: Path) -> None:
    """Each module imported first, before any other platform module was loaded: an
    import cycle shows as a partially initialized module."""
    done = subprocess.run(
        [sys.executable, "-c", _ISOLATED, json.dumps(platform_modules()), json.dumps(LIBRARIES)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ADS_PLATFORM_HOME": str(tmp_path)},
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {}
