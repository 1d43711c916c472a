"""The package layers hold (docs/architecture.md): imports only go down or sideways, nothing
outside ``pipelines/`` imports a pipeline, and no two modules import each other in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "aixcell_automl"

# lowest first; a module may import from its own layer and the ones below
LAYERS = [
    {"_env", "core", "plugins.api"},
    {"training", "metafeatures"},
    {"metabase"},
    {"search"},
    {"metalearning"},
    {"report", "export"},
    {"plugins.builtin", "plugins.testing", "pipelines", "kedro_hooks", "kedro_datasets",
     "settings", "pipeline_registry", "__main__", "__init__"},
]
PLUGIN_API = {"hookspecs", "specs", "kinds", "manager", "registry", "__init__"}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(SRC).with_suffix("").parts)


def area(module: str) -> str:
    """The layer entry a module belongs to."""
    parts = module.split(".")
    if parts[0] == "plugins":
        if len(parts) == 1:
            return "plugins.api"
        return "plugins.api" if parts[1] in PLUGIN_API else f"plugins.{parts[1]}"
    return parts[0]


def rank(module: str) -> int:
    a = area(module)
    return next(i for i, layer in enumerate(LAYERS) if a in layer)


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Modules of this package that ``path`` imports (``from x import y`` counts ``x.y`` when
    that is a module)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    out = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "aixcell_automl"):
            base = node.module.removeprefix("aixcell_automl").lstrip(".")
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                out.add(sub if _exists(sub) else base)
        elif isinstance(node, ast.Import):
            out |= {a.name.removeprefix("aixcell_automl.") for a in node.names
                    if a.name.startswith("aixcell_automl.")}
    return {m for m in out if m}


def _exists(module: str) -> bool:
    p = SRC.joinpath(*module.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith("pipelines")))
def test_no_module_outside_pipelines_imports_a_pipeline(module):
    assert not [m for m in imports(MODULES[module]) if m.startswith("pipelines")]


def test_imports_go_down_the_layers():
    upward = [f"{m} -> {i}" for m, p in MODULES.items() for i in imports(p)
              if rank(i.removesuffix(".__init__")) > rank(m)]
    assert upward == []


def test_no_import_circle_at_module_level():
    graph = {m.removesuffix(".__init__"): imports(p, top_level_only=True)
             for m, p in MODULES.items()}
    seen, stack, circles = set(), [], []

    def visit(m):
        if m in stack:
            circles.append(stack[stack.index(m):] + [m])
            return
        if m in seen:
            return
        seen.add(m)
        stack.append(m)
        for n in graph.get(m, ()):
            visit(n)
        stack.pop()

    for m in sorted(graph):
        visit(m)
    assert circles == []


def test_layers_name_every_module():
    unplaced = [m for m in MODULES if not any(area(m) in layer for layer in LAYERS)]
    assert unplaced == []
