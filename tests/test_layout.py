"""The layout holds: no import cycles in the SDK or the collector, imports run one way between the
collector's stages, and no hand-written module grows past about 500 lines.

Imports are read from the source (``ast``), including those inside functions, so a lazy import that closes a
loop counts too; imports under ``if TYPE_CHECKING:`` do not run and are left out.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"plaudit": ROOT / "sdk" / "plaudit", "plaudit_collector": ROOT / "collector" / "plaudit_collector"}
MAX_LINES = 520
GENERATED = ("migrations/versions/",)

# stage -> stages it must never import (module-name prefixes)
FORBIDDEN = {
    "plaudit_collector.ingest": (
        "plaudit_collector.store",
        "plaudit_collector.api",
        "plaudit_collector.analytics",
        "plaudit_collector.cli",
        "plaudit_collector.web",
        "plaudit_collector.pipeline",
        "plaudit_collector.app",
        "sqlalchemy",
        "sqlmodel",
        "fastapi",
    ),
    "plaudit_collector.store": (
        "plaudit_collector.api",
        "plaudit_collector.analytics",
        "plaudit_collector.cli",
        "plaudit_collector.web",
        "plaudit_collector.pipeline",
        "plaudit_collector.app",
        "fastapi",
    ),
    "plaudit_collector.analytics": (
        "plaudit_collector.api",
        "plaudit_collector.cli",
        "plaudit_collector.web",
        "plaudit_collector.pipeline",
        "plaudit_collector.app",
        "fastapi",
    ),
    "plaudit_collector.errors": ("fastapi", "starlette"),
    "plaudit": ("plaudit_collector", "fastapi", "sqlmodel", "sqlalchemy"),
}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, base in PACKAGES.items():
        for path in base.rglob("*.py"):
            rel = path.relative_to(base).with_suffix("")
            parts = [package, *rel.parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(name: str, path: Path) -> Iterator[str]:
    """Every module ``name`` imports (absolute names; relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield candidate if candidate in MODULES else base


def _graph() -> dict[str, set[str]]:
    return {
        name: {dep for dep in _imports(name, path) if dep in MODULES and dep != name} for name, path in MODULES.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(graph[node]):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_the_graph_is_read() -> None:
    graph = _graph()
    assert "plaudit_collector.store.db" in graph["plaudit_collector.store.spans"]
    assert "plaudit_collector.ingest.decode" in graph["plaudit_collector.pipeline"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


@pytest.mark.parametrize("stage", sorted(FORBIDDEN))
def test_imports_run_one_way(stage: str) -> None:
    offending = []
    for name, path in MODULES.items():
        if name != stage and not name.startswith(stage + "."):
            continue
        for dep in _imports(name, path):
            if any(dep == bad or dep.startswith(bad + ".") for bad in FORBIDDEN[stage]):
                offending.append(f"{name} imports {dep}")
    assert offending == []


def test_no_module_past_its_size() -> None:
    too_long = []
    for path in MODULES.values():
        rel = path.relative_to(ROOT).as_posix()
        if any(part in rel for part in GENERATED):
            continue
        lines = path.read_text(encoding="utf-8").count("\n")
        if lines > MAX_LINES:
            too_long.append(f"{rel}: {lines} lines")
    assert too_long == []
