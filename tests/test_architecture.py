"""The package layers hold (docs/architecture.md): imports only go down or sideways, nothing
outside ``pipelines/`` imports a pipeline, and no two modules import each other in a circle.

And the Kedro contracts: every file a pipeline reads or writes is a catalog entry (no path
literal in ``src/`` outside the command line's defaults), every default lives once in conf (no
``params.get(key, default)``, the code's search space is conf's, 2**23 is written once), and no
node takes an input it does not use (an input only for ordering hides the real data flow)."""

from __future__ import annotations

import ast
import inspect
import re
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


# -- Kedro contracts (docs/architecture.md, "Lineage") -----------------------------------------

REPO = SRC.parents[1]
# a project path: a Kedro data layer anywhere in a string, or a string that starts in the
# project's conf/ or in the folder above the project (../shared/datasets)
PATH_LITERAL = re.compile(r"\bdata/0\d_|^\.\./|^conf/")
CLI = "__main__"  # the command line's defaults are the one place paths may be written in code


def string_constants(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module (f-string parts included), docstrings excepted."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and n.body and isinstance(n.body[0], ast.Expr)
            and isinstance(n.body[0].value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def test_no_path_literal_outside_the_catalog_and_the_cli_defaults():
    found = [f"{m}:{line}: {text!r}" for m, p in sorted(MODULES.items()) if m != CLI
             for line, text in string_constants(p) if PATH_LITERAL.search(text)]
    assert found == []


PARAMS_GET_DEFAULT = re.compile(r"\w*params\.get\(\s*[^(),]+,")
# extractor_params: a meta-feature extractor (a plugin) declares its parameters' defaults itself
PARAMS_GET_ALLOWED = {"metafeatures.table"}
# being refactored by #39 elsewhere (training.loop.settings_from, training.engines.select_engine,
# core.dataset.make_split): remove each entry when its defaults are gone


def test_no_parameter_default_in_code():
    """A parameter's default is in conf/base, once: ``params.get(key, default)`` would be a
    second default that conf no longer controls."""
    found = [f"{m}:{i}: {line.strip()}" for m, p in sorted(MODULES.items())
             if m not in PARAMS_GET_ALLOWED
             for i, line in enumerate(p.read_text().splitlines(), 1)
             if PARAMS_GET_DEFAULT.search(line)]
    assert found == []


def test_the_checks_find_what_they_look_for(tmp_path):
    """Each check above on a planted violation: a check that finds nothing must be able to."""
    code = tmp_path / "planted.py"
    code.write_text('"""A docstring naming data/01_raw is fine."""\n'
                    "from aixcell_automl.pipelines.search import nodes\n"
                    "import aixcell_automl.search.run\n"
                    "def f(params):\n"
                    '    k = params.get("k", 3)\n'
                    '    return f"data/02_intermediate/{k}", "../shared/datasets"\n')
    assert imports(code) == {"pipelines.search.nodes", "search.run"}
    assert imports(code, top_level_only=True) == imports(code)
    assert rank("pipelines.search.nodes") > rank("search.run") > rank("core.dataset")
    found = [text for _, text in string_constants(code) if PATH_LITERAL.search(text)]
    assert sorted(found) == ["../shared/datasets", "data/02_intermediate/"]  # not the docstring
    assert PARAMS_GET_DEFAULT.search(code.read_text().splitlines()[4])
    assert not PARAMS_GET_DEFAULT.search('k = params.get("k")')


def test_no_search_space_in_code():
    """The search space is conf's ``search_space`` alone: no module keeps a copy of it (a dict
    naming the built-in dimensions), so none can drift from what users configure. The plugin
    kit's ``TEST_SPACE`` is a smaller fixture, not a copy."""
    import yaml

    conf = yaml.safe_load((REPO / "conf" / "base" / "parameters.yml").read_text())["search_space"]
    found = []
    for m, p in sorted(MODULES.items()):
        for n in ast.walk(ast.parse(p.read_text())):
            if isinstance(n, ast.Dict) and {getattr(k, "value", None) for k in n.keys} >= set(conf):
                values = {k.value: ast.literal_eval(v)
                          for k, v in zip(n.keys, n.values, strict=True)
                          if isinstance(v, ast.List | ast.Tuple)}
                if values == conf:
                    found.append(f"{m}:{n.lineno}")
    assert found == []


def test_the_first_fidelity_is_written_once():
    """2**23 (the meta-base's first fidelity) only in ``metabase.ladder.FIRST_FIDELITY``; conf
    reads it through the ``metabase_fidelity_pixels`` resolver (settings.py)."""
    def is_2_23(n) -> bool:
        return (isinstance(n, ast.Constant) and n.value == 2**23) or (
            isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow)
            and isinstance(n.left, ast.Constant) and n.left.value == 2
            and isinstance(n.right, ast.Constant) and n.right.value == 23)

    found = [m for m, p in sorted(MODULES.items())
             for n in ast.walk(ast.parse(p.read_text())) if is_2_23(n)]
    assert found == ["metabase.ladder"]
    globals_yml = (REPO / "conf" / "base" / "globals.yml").read_text()
    assert "metabase_fidelity_pixels: ${metabase_fidelity_pixels:}" in globals_yml
    assert "8388608" not in globals_yml


def _pipelines() -> dict:
    from kedro.framework.project import configure_project

    configure_project("aixcell_automl")
    from aixcell_automl.pipeline_registry import register_pipelines

    return register_pipelines()


def unused_inputs(node) -> list[str]:
    """Arguments of the node's function that its body never reads (an input for ordering)."""
    func = inspect.unwrap(node.func)
    tree = ast.parse(inspect.cleandoc("\n" + inspect.getsource(func)))
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    args = [a.arg for a in fn.args.posonlyargs + fn.args.args][:len(node.inputs)]
    used = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
    return [a for a in args if a not in used]


def test_an_input_only_for_ordering_is_found():
    from kedro.pipeline import node

    def summarise(metabase, _collected):
        return len(metabase)

    assert unused_inputs(node(summarise, ["metabase", "collection"], "n")) == ["_collected"]


def test_no_node_input_is_only_for_ordering():
    pipes = _pipelines()
    found = sorted({f"{name}.{n.name}: {a}" for name, p in pipes.items() if name != "__default__"
                    for n in p.nodes for a in unused_inputs(n)})
    assert found == []
