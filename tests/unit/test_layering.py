"""The package's layers, read from its own imports (top-level and inside functions alike):
runtime code never imports the local development stack, and no two modules import each other,
directly or around a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "include" / "sdk_campaigns"
DEV = "sdk_campaigns.dev"
# The command line is the door to everything, the local stack included (`local up`, `demo`).
DEV_CALLERS = {"sdk_campaigns.cli"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE_DIR.rglob("*.py")}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `path` imports; `from pkg import name` counts `pkg.name` when
    that is a module, else `pkg`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in modules else node.module)
    return {name for name in found if name in modules}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = package_modules()
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def test_the_graph_sees_the_imports(graph):
    # A parser that found nothing would make the tests below pass vacuously.
    assert "sdk_campaigns.campaign.plan" in graph["sdk_campaigns.tasks"]
    assert "sdk_campaigns.dev.local_stack" in graph["sdk_campaigns.dev.stack"]
    assert len(graph) > 40


def test_runtime_code_never_imports_the_dev_stack(graph):
    offenders = {
        module: sorted(i for i in imported if i == DEV or i.startswith(DEV + "."))
        for module, imported in graph.items()
        if not (module == DEV or module.startswith(DEV + ".")) and module not in DEV_CALLERS
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def test_no_import_cycles(graph):
    cycles = []
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = "open"
        stack.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                cycles.append(stack[stack.index(imported) :] + [imported])
            elif imported not in state:
                visit(imported)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == []
