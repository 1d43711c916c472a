import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXPECTED = {"search", "train", "predict", "metabase", "meta_features", "meta_learning", "pretrain",
            "transfer_experiment", "evaluate", "export", "replay"}


def _pipelines():
    from kedro.framework.project import configure_project

    configure_project("aixcell_automl")
    from aixcell_automl.pipeline_registry import register_pipelines

    return register_pipelines()


def test_every_pipeline_is_registered_and_the_default_is_their_sum():
    pipes = _pipelines()
    assert set(pipes) >= EXPECTED
    search_nodes = {n.name for n in pipes["search"].nodes}
    assert {"rank_configurations", "run_strategy", "write_report"} <= search_nodes
    whole = pipes["__default__"]
    parts = [p for name, p in pipes.items() if name != "__default__"]
    assert len(whole.nodes) == sum(len(p.nodes) for p in parts)
    # train and search both install a model: each in its namespace, the rest shared
    assert {"train.installed_model", "search.installed_model"} <= whole.all_outputs()
    assert {"train.plan_dataset", "search.plan_dataset", "search.export_model",
            "export.export_model"} <= {n.name for n in whole.nodes}
    # one graph: what meta_features writes, the search reads; what export writes, predict reads
    assert "meta_features" in whole.all_outputs() and "meta_features" not in whole.inputs()
    assert "onnx_model" not in whole.inputs()


def test_whole_project_runs_from_the_catalog_alone():
    """Every free input of the whole graph is a catalog entry (no node reads a file the
    catalog does not name)."""
    import yaml

    catalog = {}
    for f in sorted((REPO / "conf" / "base").glob("catalog*.yml")):
        catalog |= yaml.safe_load(f.read_text())
    free = {i for i in _pipelines()["__default__"].inputs()
            if not i.startswith("params:") and i != "parameters"}
    assert free - set(catalog) == set()


@pytest.mark.slow
def test_kedro_viz_build_writes_a_static_site(tmp_path):
    """Built in a copy of the project frame (``kedro viz build`` writes ``build/`` into the
    working directory and has no option for another place), so the repository stays clean."""
    import os

    (tmp_path / "src").mkdir()  # the package itself is installed (editable)
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    (tmp_path / "conf").symlink_to(REPO / "conf")
    kedro = Path(sys.executable).with_name("kedro")
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    subprocess.run([str(kedro), "viz", "build"], cwd=tmp_path, check=True, capture_output=True,
                   timeout=600, env=env)
    assert (tmp_path / "build" / "index.html").exists()
    main = json.loads((tmp_path / "build" / "api" / "main").read_text())
    names = {p["id"] for p in main["pipelines"]}
    assert names >= EXPECTED
