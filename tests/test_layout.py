"""The house rules of issue 11, checked on the source: small modules, no import cycles, and no
module importing back up from the package that contains it (shared things live in leaf modules)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hf_interaction"
MAX_LINES = 450


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name → (file, is a package __init__)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """The hf_interaction modules ``name`` imports anywhere in its body (lazy imports included)."""
    path, is_pkg = MODULES[name]
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = ".".join(here[:len(here) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else node.module
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in MODULES and m != name}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_450_lines(name):
    lines = len(MODULES[name][0].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by job"


def test_no_module_imports_the_package_that_contains_it():
    upward = []
    for name, (_, is_pkg) in MODULES.items():
        if is_pkg or name.endswith("__main__"):
            continue
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        upward += [f"{name} -> {target}" for target in _imports(name) if target in ancestors]
    assert upward == [], "import from a leaf module instead of the package __init__: " + "; ".join(upward)


def test_there_are_no_import_cycles():
    graph = {name: _imports(name) for name in MODULES}
    # A package's __init__ that re-exports its own modules is not a cycle with them.
    for name, (_, is_pkg) in MODULES.items():
        if is_pkg:
            graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            assert cycle is None, " -> ".join(cycle)


def test_the_package_root_holds_only_the_entry_points():
    root = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert root == ["__init__", "__main__", "api", "cli", "errors", "version"], (
        "put new modules in the package of their part (README: Layout)")
