"""A copy of the project frame (pyproject.toml, conf/) in a temp folder and ``kedro run`` in it
through a KedroSession, in this process (so fixtures such as ``fake_clock`` and
``plugin_manager_with(TinyBackbone())`` reach the nodes). Every relative path of the catalog
and the parameters then lands in the copy: the repository's data/ stays untouched."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def copy_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "pyproject.toml", root)
    shutil.copytree(REPO / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    (root / "src").mkdir()  # the package itself is installed
    return root


def run(project: Path, pipeline: str, params: dict, node_names: list[str] | None = None
        ) -> None:
    """``kedro run --pipeline=<pipeline> [--nodes=...] --params "<dotted key>=<value>,..."`` in
    ``project``
    (the caller has chdir'ed there: relative catalog paths resolve against the working
    directory)."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    assert Path.cwd().resolve() == project.resolve(), "chdir into the project copy first"
    nested: dict = {}
    for key, value in params.items():  # the CLI turns "a.b=1" into {"a": {"b": 1}}
        *parents, leaf = key.split(".")
        node = nested
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=nested) as session:
        session.run(pipeline_names=[pipeline], node_names=node_names)
